"""The fast paths of cnnkit.kernels.conv against PyTorch and float64 central differences.

- Depthwise convolution: the compiled 1-D/2-D route (cnnkit.kernels.depthwise) with its rows split
  over threads (forced here with a tiny work threshold and a fake thread count), and the general
  grouped route that 3-D depthwise convolutions take.
- Strided input gradients by sub-pixel decomposition: one stride-1 convolution per phase, or all
  phases in one GEMM when every kernel axis is a multiple of its stride; this also serves every
  strided transposed convolution.

Every case first records which route ran (a spy on the route's function), so a change of the
selection rules cannot silently leave a route untested.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as torch_functional

from cnnkit import functional as F
from cnnkit.kernels import conv as conv_kernels
from cnnkit.kernels import depthwise as depthwise_kernels
from oracle import check_finite_differences, compare_with_torch
from test_conv import make_torch_conv, random_case
from test_conv_transpose import TORCH_CONV_TRANSPOSE, torch_transpose_weight


class Spy:
    """Wrap a module function, record every call's result (or a derived value)."""

    def __init__(self, monkeypatch, name, record=lambda result, args: True, module=conv_kernels):
        self.calls = []
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            self.calls.append(record(result, args))
            return result

        monkeypatch.setattr(module, name, wrapper)


@pytest.fixture
def threaded(monkeypatch):
    """Force the batch split: every pass is worth splitting, over 3 threads."""
    monkeypatch.setattr(conv_kernels, "_PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(depthwise_kernels, "_PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(conv_kernels, "_thread_count", lambda: 3)
    return Spy(monkeypatch, "_run_chunks", record=lambda result, args: len(args[1]))


# ----- depthwise -------------------------------------------------------------------------------
def _torch_depthwise(strides, dilation, pads, channels, channels_first):
    conv = make_torch_conv(strides, dilation, pads, channels, channels_first)

    def run(x, kernel, bias):
        num_spatial = kernel.ndim - 2
        grouped = kernel.reshape(*kernel.shape[:num_spatial], 1, kernel.shape[-2] * kernel.shape[-1])
        return conv(x, grouped, bias)

    return run


# (batch, spatial, channels, multiplier, kernel_size, strides, dilation, pads, data_format, compiled)
DEPTHWISE_CASES = [
    (4, (7, 9), 5, 1, (3, 3), (1, 1), (1, 1), [(1, 1), (1, 1)], "channels_last", True),
    (3, (8, 7), 4, 2, (3, 2), (2, 1), (1, 2), [(0, 2), (1, 0)], "channels_last", True),  # stride along H only
    (4, (9, 8), 3, 1, (3, 3), (2, 2), (1, 1), [(1, 1), (0, 1)], "channels_last", True),  # stride along W
    (3, (6, 7), 4, 1, (3, 3), (1, 1), (1, 1), [(0, 0), (0, 0)], "channels_first", True),  # unpadded
    (3, (6, 7), 4, 2, (3, 3), (1, 1), (1, 1), [(1, 1), (2, 0)], "channels_first", True),  # padded
    (4, (11,), 6, 3, (4,), (1,), (2,), [(3, 2)], "channels_last", True),  # 1-D, depth multiplier 3
    (2, (4, 5, 6), 2, 1, (2, 3, 3), (1, 2, 1), (1, 1, 1), [(1, 0), (1, 1), (1, 1)], "channels_last", False),  # 3-D
]


def _route_spies(monkeypatch):
    """Records each compiled depthwise pass (its number of row ranges) and each grouped GEMM."""
    compiled = Spy(monkeypatch, "_run_ranges", record=lambda result, args: (args[0].__name__, len(args[2])),
                   module=depthwise_kernels)
    grouped = Spy(monkeypatch, "_grouped_matmul")
    return compiled, grouped


@pytest.mark.parametrize("batch, spatial, channels, multiplier, kernel_size, strides, dilation, pads, data_format, compiled", DEPTHWISE_CASES)
def test_depthwise_paths_match_torch(threaded, monkeypatch, batch, spatial, channels, multiplier, kernel_size, strides, dilation, pads, data_format, compiled):
    compiled_calls, grouped_calls = _route_spies(monkeypatch)
    rng = np.random.default_rng(len(spatial) * 100 + channels)
    channels_first = data_format == "channels_first"
    x, kernel, bias = random_case(rng, batch, spatial, channels, kernel_size, channels, multiplier, channels_first)
    bias = rng.standard_normal(channels * multiplier).astype(np.float32)

    def ours(x, kernel, bias):
        return F.depthwise_conv(x, kernel, strides, pads, data_format, dilation, bias=bias)

    output = compare_with_torch(ours, _torch_depthwise(strides, dilation, pads, channels, channels_first), [x, kernel, bias])
    assert output.dtype == np.float32
    if compiled:  # the forward and the backward sweep, each split into 3 row ranges on 3 (fake) threads
        names = [name for name, _ in compiled_calls.calls]
        assert "_forward_loops" in names and "_backward_loops" in names and grouped_calls.calls == []
        assert all(ranges == 3 for _, ranges in compiled_calls.calls)
    else:
        assert compiled_calls.calls == [] and grouped_calls.calls


def test_depthwise_finite_differences(threaded, monkeypatch):
    compiled_calls, _ = _route_spies(monkeypatch)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 5, 6, 2))
    kernel = rng.standard_normal((3, 2, 2, 2))
    bias = rng.standard_normal(4)
    check_finite_differences(
        lambda x, kernel, bias: F.depthwise_conv(x, kernel, 1, [(1, 1), (0, 1)], dilation_rate=(1, 2), bias=bias),
        [x, kernel, bias],
    )
    assert {name for name, _ in compiled_calls.calls} == {"_forward_loops", "_backward_loops"}
    assert all(ranges == 3 for _, ranges in compiled_calls.calls)


# ----- sub-pixel input gradient --------------------------------------------------------------
def _routes(monkeypatch):
    subpixel = Spy(monkeypatch, "_subpixel_backward_input")
    shared = Spy(monkeypatch, "_subpixel_shared_gemm")
    return subpixel, shared


# (batch, spatial, channels, filters, kernel_size, strides, groups, pads, data_format, shared)
STRIDED_CASES = [
    (2, (30, 29), 3, 4, (3, 3), (2, 2), 1, [(1, 1), (1, 1)], "channels_last", False),  # strided 3x3 s2
    (2, (31, 30), 2, 3, (4, 4), (2, 2), 1, [(1, 2), (0, 1)], "channels_first", True),
    (2, (29, 33), 4, 4, (3, 5), (3, 2), 2, [(2, 0), (1, 3)], "channels_last", False),  # groups, uneven
    (2, (9, 34), 2, 3, (2, 3), (4, 3), 1, [(0, 0), (0, 2)], "channels_last", False),  # stride > kernel
    (3, (40,), 3, 2, (6,), (3,), 1, [(2, 1)], "channels_last", True),  # 1-D
    (2, (7, 6, 8), 2, 2, (3, 2, 2), (2, 1, 2), 1, [(1, 0), (1, 1), (0, 1)], "channels_last", False),  # 3-D
]


@pytest.mark.parametrize("batch, spatial, channels, filters, kernel_size, strides, groups, pads, data_format, shared", STRIDED_CASES)
def test_strided_input_gradient_by_subpixel_matches_torch(monkeypatch, batch, spatial, channels, filters, kernel_size, strides, groups, pads, data_format, shared):
    subpixel, shared_gemm = _routes(monkeypatch)
    rng = np.random.default_rng(sum(spatial) + channels)
    channels_first = data_format == "channels_first"
    x, kernel, bias = random_case(rng, batch, spatial, channels, kernel_size, channels // groups, filters, channels_first)

    def ours(x, kernel, bias):
        return F.conv(x, kernel, strides, pads, data_format, 1, bias=bias)

    compare_with_torch(ours, make_torch_conv(strides, (1,) * len(spatial), pads, groups, channels_first), [x, kernel, bias])
    assert len(subpixel.calls) == 1
    assert len(shared_gemm.calls) == int(shared)


# (batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, data_format, shared)
TRANSPOSE_CASES = [
    (2, (14, 15), 3, 2, (4, 4), (2, 2), (1, 1), None, "channels_last", True),  # 28->56-style upsampling
    (2, (13, 12), 2, 3, (3, 3), (2, 2), (1, 0), (1, 1), "channels_first", False),
    (1, (12, 11), 2, 2, (2, 5), (2, 3), (0, 2), (1, 2), "channels_last", False),
    (2, (12, 13), 2, 3, (6, 4), (3, 2), (2, 1), (2, 0), "channels_last", True),  # output_padding, k % s == 0
]


@pytest.mark.parametrize("batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, data_format, shared", TRANSPOSE_CASES)
def test_strided_transposed_conv_by_subpixel_matches_torch(monkeypatch, batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, data_format, shared):
    subpixel, shared_gemm = _routes(monkeypatch)
    rng = np.random.default_rng(sum(spatial) * 7 + filters)
    channels_first = data_format == "channels_first"
    shape = (batch, channels, *spatial) if channels_first else (batch, *spatial, channels)
    x = rng.standard_normal(shape).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, filters, channels)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)

    def ours(x, kernel, bias):
        return F.conv_transpose(x, kernel, strides, padding, output_padding, data_format, bias=bias)

    def theirs(x, kernel, bias):
        if not channels_first:
            x = torch.movedim(x, -1, 1)
        y = TORCH_CONV_TRANSPOSE[2](
            x, torch_transpose_weight(kernel), bias, stride=strides, padding=padding, output_padding=output_padding or 0
        )
        return y if channels_first else torch.movedim(y, 1, -1)

    compare_with_torch(ours, theirs, [x, kernel, bias])
    assert len(subpixel.calls) == 1  # the forward pass (the backward is a strided convolution)
    assert len(shared_gemm.calls) == int(shared)


def test_keras_same_transposed_conv_by_subpixel_matches_torch(monkeypatch):
    """Keras's 'same' rule at stride 2, kernel 4 (the benchmark's shape) crops one cell per side."""
    subpixel, shared_gemm = _routes(monkeypatch)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 30, 3)).astype(np.float32)  # wide: not the row-Toeplitz route
    kernel = rng.standard_normal((4, 4, 2, 3)).astype(np.float32)
    bias = rng.standard_normal(2).astype(np.float32)

    def theirs(x, kernel, bias):
        y = torch_functional.conv_transpose2d(torch.movedim(x, -1, 1), torch_transpose_weight(kernel), bias, stride=2, padding=1)
        return torch.movedim(y, 1, -1)

    output = compare_with_torch(lambda x, k, b: F.conv_transpose(x, k, 2, "same", bias=b), theirs, [x, kernel, bias])
    assert output.shape == (2, 18, 60, 2) and output.dtype == np.float32
    assert len(subpixel.calls) == 1 and len(shared_gemm.calls) == 1


@pytest.mark.parametrize("kernel_size, strides, shared", [((3, 2), (2, 2), False), ((4, 2), (2, 2), True)])
def test_subpixel_finite_differences(monkeypatch, kernel_size, strides, shared):
    subpixel, shared_gemm = _routes(monkeypatch)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 7, 20, 2))  # wide: not the small-image (row-Toeplitz) route
    kernel = rng.standard_normal((*kernel_size, 2, 3))
    bias = rng.standard_normal(3)
    check_finite_differences(lambda x, k, b: F.conv(x, k, strides, [(1, 2), (0, 1)], bias=b), [x, kernel, bias])
    assert len(subpixel.calls) >= 1 and len(shared_gemm.calls) == (len(subpixel.calls) if shared else 0)


# ----- kernel gradient orientation ------------------------------------------------------------
@pytest.mark.parametrize("transposed", [True, False])
@pytest.mark.parametrize("kernel_size, channels, filters", [((1, 1), 3, 7), ((2, 1), 2, 9)])
def test_kernel_gradient_with_fewer_taps_than_filters_matches_torch(monkeypatch, transposed, kernel_size, channels, filters):
    """grad^T @ columns (taken when taps < filters) and columns^T @ grad agree with PyTorch."""
    monkeypatch.setattr(conv_kernels, "_KERNEL_GRAD_TRANSPOSED", transposed)
    assert kernel_size[0] * kernel_size[1] * channels < filters  # the condition of the transposed product
    rng = np.random.default_rng(5)
    x, kernel, bias = random_case(rng, 3, (6, 40), channels, kernel_size, channels, filters, False)
    compare_with_torch(
        lambda x, k, b: F.conv(x, k, 1, "valid", bias=b), make_torch_conv((1, 1), (1, 1), [(0, 0), (0, 0)], 1, False), [x, kernel, bias]
    )
    x64 = rng.standard_normal((2, 3, 4, channels))
    check_finite_differences(lambda x, k: F.conv(x, k, 1, "valid"), [x64, rng.standard_normal((*kernel_size, channels, filters))])


# ----- recycled padding buffers ----------------------------------------------------------------
class DirtyWorkspace(conv_kernels._Workspace):
    """Hands out NaN-filled buffers, as a recycled one may hold anything: every cell must be written."""

    def take(self, xp, shape, dtype):
        return np.full(shape, np.nan, dtype=dtype)


@pytest.mark.parametrize("strides, pads", [((1, 1), [(1, 1), (2, 0)]), ((2, 2), [(0, 1), (1, 1)]), ((1, 2), [(2, 2), (1, 1)])])
def test_padding_into_dirty_recycled_buffers_matches_torch(threaded, monkeypatch, strides, pads):
    monkeypatch.setattr(conv_kernels, "_WORKSPACE", DirtyWorkspace())
    monkeypatch.setattr(conv_kernels, "_ROW_TOEPLITZ_PAIRS_MAX_CHANNELS", 0)  # the im2col route under test
    padded = Spy(monkeypatch, "_pad_in_chunks", record=lambda result, args: result[1])
    rng = np.random.default_rng(13)
    x, kernel, bias = random_case(rng, 4, (9, 40), 3, (3, 3), 3, 5, False)
    compare_with_torch(lambda x, k, b: F.conv(x, k, strides, pads, bias=b), make_torch_conv(strides, (1, 1), pads, 1, False), [x, kernel, bias])
    assert padded.calls.count(True) >= 1 and max(threaded.calls) == 3  # a workspace buffer, filled by 3 threads
    dw_kernel = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    compare_with_torch(
        lambda x, k: F.depthwise_conv(x, k, strides, pads), lambda x, k: _torch_depthwise(strides, (1, 1), pads, 3, False)(x, k, None), [x, dw_kernel]
    )
