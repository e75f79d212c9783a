"""The sub-pixel (stride-phase) backward of strided transposed convolutions, against PyTorch and
float64 central differences.

A transposed convolution whose every kernel axis is a multiple of its stride (dilation 1) runs its
forward as one stride-1 "frame" convolution of the input with all phases' sub-kernels side by side
(``_subpixel_shared_gemm``). Its backward takes the same frame: the upstream gradient is gathered
into it, the kernel gradient is the frame convolution's (``columns(x)^T @ frame_grad``, split back
into sub-kernels) and the input gradient one GEMM plus shifted adds (``_frame_input_gradient``).
Every case records, with a spy, that this route ran (and which parts), so a change of the selection
rules cannot silently leave it untested; conv_transpose2d / conv_transpose1d give the forward and
the input, kernel and bias gradients.
"""
import numpy as np
import pytest
import torch

from cnnkit import Tensor
from cnnkit import functional as F
from cnnkit.kernels import conv as conv_kernels
from oracle import check_finite_differences, compare_with_torch
from test_conv_transpose import TORCH_CONV_TRANSPOSE, torch_transpose_weight


class Spy:
    """Wrap a function of cnnkit.kernels.conv and record the arguments of every call."""

    def __init__(self, monkeypatch, name):
        self.calls = []
        original = getattr(conv_kernels, name)

        def wrapper(*args, **kwargs):
            self.calls.append((args, kwargs))
            return original(*args, **kwargs)

        monkeypatch.setattr(conv_kernels, name, wrapper)


def _routes(monkeypatch):
    return Spy(monkeypatch, "_subpixel_transpose_backward"), Spy(monkeypatch, "_frame_input_gradient")


def _torch_transpose(strides, padding, output_padding, dilation, channels_first, num_spatial):
    def run(x, kernel, bias):
        if not channels_first:
            x = torch.movedim(x, -1, 1)
        y = TORCH_CONV_TRANSPOSE[num_spatial](
            x, torch_transpose_weight(kernel), bias, stride=strides, padding=padding,
            output_padding=output_padding or 0, dilation=dilation,
        )
        return y if channels_first else torch.movedim(y, 1, -1)

    return run


# (batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, data_format)
CASES = [
    (2, (9, 10), 3, 2, (4, 4), (2, 2), (1, 1), None, "channels_last"),  # the benchmark's geometry
    (2, (8, 7), 2, 3, (4, 4), (2, 2), (0, 0), (1, 1), "channels_first"),  # output_padding
    (1, (7, 9), 2, 2, (6, 4), (3, 2), (2, 1), (2, 0), "channels_last"),  # unequal strides
    (2, (6, 8), 3, 2, (3, 2), (3, 1), (0, 1), (1, 0), "channels_last"),  # k == s on one axis, s = 1 on the other
    (2, (7, 9), 2, 3, (4, 6), (2, 3), (3, 5), None, "channels_last"),  # wide padding: taps outside the result
    (2, (11,), 3, 4, (4,), (2,), (1,), (1,), "channels_last"),  # 1-D
]


@pytest.mark.parametrize("batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, data_format", CASES)
def test_subpixel_transpose_backward_matches_torch(monkeypatch, batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, data_format):
    backward, input_gradient = _routes(monkeypatch)
    rng = np.random.default_rng(sum(spatial) * 5 + filters)
    channels_first = data_format == "channels_first"
    shape = (batch, channels, *spatial) if channels_first else (batch, *spatial, channels)
    x = rng.standard_normal(shape).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, filters, channels)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)

    def ours(x, kernel, bias):
        return F.conv_transpose(x, kernel, strides, padding, output_padding, data_format, bias=bias)

    theirs = _torch_transpose(strides, padding, output_padding, 1, channels_first, len(spatial))
    output = compare_with_torch(ours, theirs, [x, kernel, bias])
    assert output.dtype == np.float32
    assert len(backward.calls) == 1 and len(input_gradient.calls) == 1


def test_subpixel_transpose_backward_float32_and_single_gradients(monkeypatch):
    """Only the kernel gradient, then only the input gradient: each part alone, float32 kept."""
    backward, input_gradient = _routes(monkeypatch)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 7, 3)).astype(np.float32)
    kernel = rng.standard_normal((4, 4, 2, 3)).astype(np.float32)
    upstream = rng.standard_normal((2, 12, 14, 2)).astype(np.float32)
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs_kernel = torch.tensor(kernel, requires_grad=True)
    _torch_transpose((2, 2), (1, 1), None, 1, False, 2)(theirs_x, theirs_kernel, None).backward(torch.tensor(upstream))
    for needs_x in (False, True):
        ours_x, ours_kernel = Tensor(x, requires_grad=needs_x), Tensor(kernel, requires_grad=not needs_x)
        F.conv_transpose(ours_x, ours_kernel, 2, "same").backward(upstream)
        leaf, expected = (ours_x, theirs_x) if needs_x else (ours_kernel, theirs_kernel)
        other = ours_kernel if needs_x else ours_x
        assert leaf.grad.dtype == np.float32 and other.grad is None
        np.testing.assert_allclose(leaf.grad, expected.grad.numpy(), rtol=1e-4, atol=1e-4 * np.abs(expected.grad.numpy()).max())
    assert len(backward.calls) == 2 and len(input_gradient.calls) == 1


def test_dilated_or_non_multiple_kernels_keep_the_column_route(monkeypatch):
    """Dilation, or a kernel that is not a multiple of the stride, keeps the strided-convolution route."""
    backward, _ = _routes(monkeypatch)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 7, 2)).astype(np.float32)
    for kernel_size, dilation in (((3, 3), 1), ((4, 4), 2)):
        kernel = rng.standard_normal((*kernel_size, 3, 2)).astype(np.float32)
        bias = rng.standard_normal(3).astype(np.float32)

        def ours(x, k, b, dilation=dilation):
            return F.conv_transpose(x, k, 2, ((1, 1), (0, 1)), dilation_rate=dilation, bias=b)

        def theirs(x, k, b, dilation=dilation):  # torch pads symmetrically: crop (1, 1), (0, 1) by hand
            full = _torch_transpose(2, 0, None, dilation, False, 2)(x, k, b)
            return full[:, 1:-1, :-1, :]

        compare_with_torch(ours, theirs, [x, kernel, bias])
    assert backward.calls == []


@pytest.mark.parametrize("kernel_size, strides, padding, output_padding", [
    ((4, 2), (2, 2), ((1, 1), (0, 0)), None),
    ((3, 4), (3, 2), 1, (2, 1)),
])
def test_subpixel_transpose_backward_finite_differences(monkeypatch, kernel_size, strides, padding, output_padding):
    backward, input_gradient = _routes(monkeypatch)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 4, 2))
    kernel = rng.standard_normal((*kernel_size, 2, 2))
    bias = rng.standard_normal(2)
    check_finite_differences(
        lambda x, k, b: F.conv_transpose(x, k, strides, padding, output_padding, bias=b), [x, kernel, bias]
    )
    assert len(backward.calls) >= 1 and len(input_gradient.calls) >= 1


def test_subpixel_transpose_backward_3d_matches_torch(monkeypatch):
    backward, input_gradient = _routes(monkeypatch)
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 4, 5, 2)).astype(np.float32)
    kernel = rng.standard_normal((2, 4, 3, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)

    def theirs(x, kernel, bias):
        y = torch.nn.functional.conv_transpose3d(
            torch.movedim(x, -1, 1), torch_transpose_weight(kernel), bias, stride=(2, 2, 3), padding=(0, 1, 1),
            output_padding=(1, 0, 2),
        )
        return torch.movedim(y, 1, -1)

    compare_with_torch(lambda x, k, b: F.conv_transpose(x, k, (2, 2, 3), (0, 1, 1), (1, 0, 2), bias=b), theirs, [x, kernel, bias])
    assert len(backward.calls) == 1 and len(input_gradient.calls) == 1
