"""The compiled depthwise kernels (cnnkit.kernels.depthwise) against PyTorch and float64 central differences.

A grid over 1-D and 2-D depthwise convolutions (kernel sizes 1-5, non-square, strides 1-3,
dilation 1-3, 'valid' / 'same' / explicit / 'causal' padding, depth multiplier 1-3, odd and even
sizes, batch 1 and 3, with and without bias) through ``cnnkit.functional.depthwise_conv``, every
case first checking that the compiled route ran. Also: determinism (the same bits on every run and
for 1 and 2 threads), float64 stays float64 and float32 stays float32, 3-D depthwise takes the
general grouped route, and ``import cnnkit`` does not import numba.
"""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_functional

import cnnkit
from cnnkit import functional as F
from cnnkit.kernels import conv as conv_kernels
from cnnkit.kernels import depthwise as depthwise_kernels
from oracle import check_finite_differences, compare_with_torch

TORCH_CONV = {1: torch_functional.conv1d, 2: torch_functional.conv2d, 3: torch_functional.conv3d}


@pytest.fixture
def compiled_calls(monkeypatch):
    """Record which compiled entry points run (the route check of every case)."""
    calls = []
    for name in ("depthwise_forward", "depthwise_backward"):
        original = getattr(depthwise_kernels, name)

        def wrapper(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(depthwise_kernels, name, wrapper)
    return calls


def _pads(padding, spatial, kernel_size, strides, dilation):
    """The (before, after) zero padding per axis, computed here from Keras's rules (not cnnkit's)."""
    spans = [d * (k - 1) + 1 for k, d in zip(kernel_size, dilation)]
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    if padding == "causal":
        return [(span - 1, 0) for span in spans]
    if padding == "same":
        pads = []
        for size, span, s in zip(spatial, spans, strides):
            total = max((math.ceil(size / s) - 1) * s + span - size, 0)
            pads.append((total // 2, total - total // 2))
        return pads
    return [tuple(pair) for pair in padding]


def _torch_depthwise(pads, strides, dilation, channels, with_bias):
    def run(x, kernel, *bias):
        num_spatial = kernel.ndim - 2
        x = torch.movedim(x, -1, 1)
        flat = [width for pair in reversed(pads) for width in pair]
        x = torch_functional.pad(x, flat)
        # (*k, C, m) -> (C * m, 1, *k): output channel c * m + j
        weight = kernel.reshape(*kernel.shape[:num_spatial], 1, -1)
        weight = torch.movedim(torch.movedim(weight, -1, 0), -1, 1)
        y = TORCH_CONV[num_spatial](x, weight, bias[0] if with_bias else None, stride=strides, dilation=dilation,
                                    groups=channels)
        return torch.movedim(y, 1, -1)

    return run


# (batch, spatial, channels, multiplier, kernel_size, strides, dilation, padding, bias)
CASES = [
    (3, (7, 8), 3, 1, (3, 3), (1, 1), (1, 1), "same", True),
    (1, (8, 7), 4, 1, (1, 1), (1, 1), (1, 1), "valid", False),
    (3, (9, 10), 2, 2, (2, 3), (1, 2), (1, 1), "same", True),
    (1, (10, 9), 3, 3, (5, 5), (1, 1), (1, 1), "same", False),
    (3, (12, 11), 2, 1, (4, 2), (3, 3), (1, 1), "valid", True),
    (1, (11, 12), 5, 1, (3, 3), (1, 1), (3, 2), "same", True),
    (3, (13, 14), 3, 2, (2, 4), (2, 1), (2, 3), "valid", False),
    (1, (9, 9), 4, 1, (3, 1), (2, 3), (1, 2), [(2, 0), (1, 3)], True),  # asymmetric explicit
    (3, (6, 7), 2, 3, (5, 3), (1, 1), (1, 1), [(4, 4), (3, 3)], True),  # pads larger than the kernel reach
    (1, (16, 15), 6, 1, (5, 2), (2, 3), (2, 3), "same", False),
    (3, (5, 6), 2, 1, (3, 3), (3, 2), (1, 1), "same", True),  # stride larger than some outputs
    (1, (8, 8), 3, 2, (4, 4), (1, 1), (1, 1), "same", True),  # even kernel: odd padding cell at the end
    # 1-D
    (3, (11,), 4, 1, (3,), (1,), (1,), "same", True),
    (1, (12,), 3, 2, (5,), (2,), (1,), "valid", False),
    (3, (13,), 2, 3, (4,), (1,), (2,), "causal", True),
    (1, (10,), 5, 1, (2,), (3,), (3,), "causal", False),
    (3, (9,), 3, 1, (1,), (2,), (1,), [(2, 1)], True),
    (1, (14,), 2, 2, (3,), (1,), (3,), "same", True),
]


@pytest.mark.parametrize("batch, spatial, channels, multiplier, kernel_size, strides, dilation, padding, with_bias", CASES)
def test_depthwise_matches_torch(compiled_calls, batch, spatial, channels, multiplier, kernel_size, strides, dilation,
                                 padding, with_bias):
    rng = np.random.default_rng(len(spatial) * 1000 + channels * 10 + multiplier)
    x = rng.standard_normal((batch, *spatial, channels)).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, channels, multiplier)).astype(np.float32)
    inputs = [x, kernel] + ([rng.standard_normal(channels * multiplier).astype(np.float32)] if with_bias else [])
    pads = _pads(padding, spatial, kernel_size, strides, dilation)

    def ours(x, kernel, *bias):
        return F.depthwise_conv(x, kernel, strides, padding, "channels_last", dilation, bias=bias[0] if bias else None)

    output = compare_with_torch(ours, _torch_depthwise(pads, strides, dilation, channels, with_bias), inputs)
    assert output.dtype == np.float32
    # one forward sweep, and one backward sweep for the input, kernel and bias gradients together
    assert compiled_calls.count("depthwise_forward") == 1 and compiled_calls.count("depthwise_backward") == 1


def test_depthwise_channels_first_matches_torch(compiled_calls):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    kernel = rng.standard_normal((3, 2, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    pads = _pads("same", (7, 6), (3, 2), (2, 1), (1, 2))
    torch_run = _torch_depthwise(pads, (2, 1), (1, 2), 3, True)

    def ours(x, kernel, bias):
        return F.depthwise_conv(x, kernel, (2, 1), "same", "channels_first", (1, 2), bias=bias)

    compare_with_torch(ours, lambda x, k, b: torch.movedim(torch_run(torch.movedim(x, 1, -1), k, b), -1, 1), [x, kernel, bias])
    assert "depthwise_forward" in compiled_calls


@pytest.mark.parametrize("spatial, kernel_size, strides, dilation, padding, multiplier", [
    ((5, 6), (3, 2), (1, 1), (1, 2), [(1, 1), (0, 1)], 2),
    ((7, 5), (2, 3), (2, 3), (1, 1), "same", 1),
    ((9,), (3,), (1,), (2,), "causal", 3),
    ((8,), (4,), (3,), (1,), "valid", 1),
])
def test_depthwise_finite_differences(compiled_calls, spatial, kernel_size, strides, dilation, padding, multiplier):
    rng = np.random.default_rng(7)
    channels = 2
    x = rng.standard_normal((3, *spatial, channels))
    kernel = rng.standard_normal((*kernel_size, channels, multiplier))
    bias = rng.standard_normal(channels * multiplier)
    check_finite_differences(
        lambda x, kernel, bias: F.depthwise_conv(x, kernel, strides, padding, dilation_rate=dilation, bias=bias),
        [x, kernel, bias],
    )
    assert "depthwise_backward" in compiled_calls
    with cnnkit.no_grad():
        output = F.depthwise_conv(cnnkit.Tensor(x), cnnkit.Tensor(kernel), strides, padding, dilation_rate=dilation)
    assert output.dtype == np.float64  # float64 runs its own compiled signature: no downcast


def test_depthwise_3d_takes_the_grouped_route(compiled_calls):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 5, 6, 3)).astype(np.float32)
    kernel = rng.standard_normal((2, 3, 3, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    pads = _pads("same", (4, 5, 6), (2, 3, 3), (1, 2, 1), (1, 1, 2))

    def ours(x, kernel, bias):
        return F.depthwise_conv(x, kernel, (1, 2, 1), "same", dilation_rate=(1, 1, 2), bias=bias)

    compare_with_torch(ours, _torch_depthwise(pads, (1, 2, 1), (1, 1, 2), 3, True), [x, kernel, bias])
    assert compiled_calls == []


def _gradients(x, kernel, bias):
    tensors = [cnnkit.Tensor(array.copy(), requires_grad=True) for array in (x, kernel, bias)]
    output = F.depthwise_conv(*tensors[:2], (1, 2), "same", bias=tensors[2])
    output.backward(np.ones(output.shape, dtype=np.float32))
    return [output.numpy()] + [tensor.grad for tensor in tensors]


def test_depthwise_is_deterministic_across_runs_and_thread_counts():
    rng = np.random.default_rng(11)
    # large enough that every gradient partition holds rows and the loops run on several threads
    x = rng.standard_normal((5, 20, 19, 24)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 24, 1)).astype(np.float32)
    bias = rng.standard_normal(24).astype(np.float32)
    first = _gradients(x, kernel, bias)
    second = _gradients(x, kernel, bias)
    try:
        cnnkit.set_num_threads(1)
        conv_kernels._THREAD_COUNT[0] = None  # re-read the thread count now
        single = _gradients(x, kernel, bias)
        cnnkit.set_num_threads(2)
        conv_kernels._THREAD_COUNT[0] = None
        double = _gradients(x, kernel, bias)
    finally:
        conv_kernels._THREAD_COUNT[0] = None
    for a, b, c, d in zip(first, second, single, double):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(a, d)


def test_import_cnnkit_does_not_import_numba():
    code = "import sys, cnnkit, cnnkit.functional, cnnkit.layers; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def _check_combined_backward(x, kernel, bias, kernel_size, strides, dilation, pads, needs, rng):
    """Forward with ``keep_columns``, then ``conv_backward_depthwise`` (all gradients from one
    sweep) for the ``needs`` subset, against PyTorch's autograd; returns nothing, asserts."""
    channels, multiplier, spatial = x.shape[-1], kernel.shape[-1] // x.shape[-1], x.shape[1:-1]
    output, saved, _ = conv_kernels.conv_forward(x, kernel, strides, dilation, pads, channels, bias=bias, keep_columns=True)
    upstream = rng.standard_normal(output.shape).astype(np.float32)
    grads = conv_kernels.conv_backward_depthwise(upstream, kernel, saved, kernel.shape, channels, spatial, strides,
                                                 dilation, pads, *needs)
    leaves = [torch.tensor(array, requires_grad=True) for array in (x, kernel.reshape(*kernel_size, channels, multiplier), bias)]
    expected = _torch_depthwise(pads, strides, dilation, channels, True)(*leaves)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(output, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    for need, ours, leaf in zip(needs, grads, leaves):
        if not need:
            assert ours is None
            continue
        theirs = leaf.grad.numpy()
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours.reshape(theirs.shape), theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


@pytest.mark.parametrize("spatial, multiplier, needs", [((9, 8), 1, (True, True, True)), ((11,), 2, (True, False, True)),
                                                          ((7, 6), 2, (False, True, False))])
def test_combined_backward_entry_matches_torch(spatial, multiplier, needs):
    """``conv_backward_depthwise`` (all gradients from one sweep) against PyTorch's autograd."""
    rng = np.random.default_rng(13)
    channels, num_spatial = 3, len(spatial)
    kernel_size, strides, dilation = (3, 2)[:num_spatial], (1, 2)[:num_spatial], (2, 1)[:num_spatial]
    pads = _pads("same", spatial, kernel_size, strides, dilation)
    x = rng.standard_normal((2, *spatial, channels)).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, 1, channels * multiplier)).astype(np.float32)
    bias = rng.standard_normal(channels * multiplier).astype(np.float32)
    _check_combined_backward(x, kernel, bias, kernel_size, strides, dilation, pads, needs, rng)


@pytest.mark.parametrize("spatial, kernel_size, strides, dilation, padding, needs", [
    ((9, 8), (3, 3), (1, 1), (1, 1), "same", (True, True, True)),
    ((7, 10), (2, 3), (2, 1), (1, 2), "same", (True, True, True)),
    ((6, 2), (3, 3), (1, 1), (1, 1), "same", (True, True, False)),  # narrower than the kernel: edges only
    ((8, 9), (5, 3), (3, 1), (2, 3), ((2, 1), (0, 4)), (True, False, True)),
    ((5, 7), (1, 3), (1, 1), (1, 1), "valid", (False, True, True)),
    ((12,), (3,), (1,), (2,), "causal", (True, True, True)),
])
def test_specialised_backward_matches_torch(spatial, kernel_size, strides, dilation, padding, needs):
    """The specialised backward loops (multiplier 1, 3 columns wide, column stride 1) against PyTorch:
    edges, dilation, row strides, explicit and causal padding, every gradient subset."""
    rng = np.random.default_rng(17)
    channels = 5
    pads = _pads(padding, spatial, kernel_size, strides, dilation)
    x = rng.standard_normal((3, *spatial, channels)).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, 1, channels)).astype(np.float32)
    bias = rng.standard_normal(channels).astype(np.float32)
    assert depthwise_kernels._specialised_backward(channels, channels, kernel_size[-1], strides[-1])
    _check_combined_backward(x, kernel, bias, kernel_size, strides, dilation, pads, needs, rng)


@pytest.mark.parametrize("spatial, padding, needs", [
    ((9, 13), "same", (True, True, True)),  # interior blocks of 4, a leftover column, borders
    ((7, 6), "valid", (True, True, True)),  # no padding: every column interior
    ((3, 2), "same", (True, True, True)),  # narrower than a block: edges only
    ((10, 11), ((2, 0), (0, 3)), (True, False, True)),  # asymmetric explicit padding
    ((8, 9), ((0, 2), (2, 1)), (False, True, True)),
    ((6, 12), "same", (True, True, False)),
])
def test_register_blocked_3x3_matches_torch(spatial, padding, needs):
    """The register-blocked 3x3 stride-1 loops (forward ``_forward_rows_3x3``, backward
    ``_input_row_3x3`` / ``_kernel_row_3x3``) against PyTorch: borders, leftovers, padding subsets."""
    rng = np.random.default_rng(19)
    channels = 11  # not a multiple of the vector width: the loops' scalar tails run too
    pads = _pads(padding, spatial, (3, 3), (1, 1), (1, 1))
    x = rng.standard_normal((3, *spatial, channels)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 1, channels)).astype(np.float32)
    bias = rng.standard_normal(channels).astype(np.float32)
    assert depthwise_kernels._specialised_forward(channels, channels, 3, 3, 1, 1, 1, 1)
    assert depthwise_kernels._specialised_backward(channels, channels, 3, 1)
    assert depthwise_kernels._blocked_backward(3, 1, 1, 1)
    _check_combined_backward(x, kernel, bias, (3, 3), (1, 1), (1, 1), pads, needs, rng)


def test_register_blocked_paths_are_not_taken_elsewhere():
    assert not depthwise_kernels._specialised_forward(4, 8, 3, 3, 1, 1, 1, 1)  # multiplier 2
    assert not depthwise_kernels._specialised_forward(4, 4, 3, 3, 2, 1, 1, 1)  # row stride 2
    assert not depthwise_kernels._specialised_forward(4, 4, 3, 3, 1, 1, 1, 2)  # dilated
    assert not depthwise_kernels._specialised_forward(4, 4, 1, 3, 1, 1, 1, 1)  # 1-D (height-1 kernel)
    assert not depthwise_kernels._blocked_backward(3, 2, 1, 1)
    assert not depthwise_kernels._blocked_backward(3, 1, 1, 2)


def test_register_blocked_3x3_propagates_nan():
    rng = np.random.default_rng(23)
    x = rng.standard_normal((2, 8, 9, 5)).astype(np.float32)
    x[1, 4, 5, 2] = np.nan
    kernel = rng.standard_normal((3, 3, 5, 1)).astype(np.float32)
    tensors = [cnnkit.Tensor(x, requires_grad=True), cnnkit.Tensor(kernel, requires_grad=True)]
    output = F.depthwise_conv(*tensors, 1, "same")
    upstream = np.ones(output.shape, dtype=np.float32)
    upstream[0, 3, 4, 1] = np.nan  # reaches the input gradient (which does not read x)
    output.backward(upstream)
    leaves = [torch.tensor(x, requires_grad=True), torch.tensor(kernel, requires_grad=True)]
    expected = _torch_depthwise(_pads("same", (8, 9), (3, 3), (1, 1), (1, 1)), (1, 1), (1, 1), 5, False)(*leaves)
    expected.backward(torch.tensor(upstream))
    for ours, theirs in ((output.numpy(), expected.detach().numpy()), (tensors[0].grad, leaves[0].grad.numpy()),
                         (tensors[1].grad, leaves[1].grad.numpy().reshape(tensors[1].grad.shape))):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        assert np.isnan(ours).any()
        np.testing.assert_allclose(ours[~np.isnan(ours)], theirs[~np.isnan(theirs)], rtol=1e-4, atol=1e-4)
