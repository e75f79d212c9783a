"""LeNet-sized convolution paths for the bias, against PyTorch (forward, input, kernel and bias
gradients) and float64 central differences: on the row-Toeplitz route the bias is folded into the
product (a ones column in the row matrix, a bias row in the banded kernel); on the im2col route it
is added row-wise (last spatial axis * filters per row, the bias tiled). Every case asserts which
of the two ran.
"""
import numpy as np
import pytest

from cnnkit import functional as F
from cnnkit.kernels import conv as conv_kernels
from oracle import check_finite_differences, compare_with_torch
from test_conv import make_torch_conv, random_case


@pytest.fixture
def row_bias_calls(monkeypatch):
    """Records the row width of every ``add_bias`` call that took the row-wise add."""
    calls = []
    width_of = conv_kernels._bias_row_width

    def spy(shape):
        width = width_of(shape)
        if width is not None:
            calls.append(width)
        return width

    monkeypatch.setattr(conv_kernels, "_bias_row_width", spy)
    return calls


@pytest.fixture
def folded_bias_calls(monkeypatch):
    """Records every banded kernel built with the bias folded in (its row count)."""
    calls = []
    build = conv_kernels._row_toeplitz_kernel

    def spy(kernel, block_used, block_out, stride, dilation, bias=None):
        matrix = build(kernel, block_used, block_out, stride, dilation, bias)
        if bias is not None:
            calls.append(matrix.shape[0])
        return matrix

    monkeypatch.setattr(conv_kernels, "_row_toeplitz_kernel", spy)
    return calls


# (batch, spatial, channels, filters, kernel_size, padding, row-Toeplitz route)
CASES = [
    (3, (28, 28), 1, 6, (5, 5), [(0, 0), (0, 0)], True),  # LeNet conv1
    (3, (12, 12), 6, 16, (5, 5), [(0, 0), (0, 0)], True),  # LeNet conv2
    (2, (40, 41), 2, 5, (3, 3), [(1, 1), (1, 1)], False),  # too wide for the band, odd width: im2col
]


@pytest.mark.parametrize("batch, spatial, channels, filters, kernel_size, pads, toeplitz", CASES)
def test_bias_conv_matches_torch(row_bias_calls, folded_bias_calls, batch, spatial, channels, filters, kernel_size,
                                 pads, toeplitz):
    geometry = conv_kernels._row_toeplitz_geometry(spatial, (*kernel_size, channels, filters), (1, 1), (1, 1), pads, 1)
    assert (geometry is not None) == toeplitz
    rng = np.random.default_rng(sum(spatial) + filters)
    x, kernel, bias = random_case(rng, batch, spatial, channels, kernel_size, channels, filters, False)
    padding = "valid" if pads[0] == (0, 0) else 1
    output = compare_with_torch(
        lambda x, kernel, bias: F.conv(x, kernel, padding=padding, bias=bias),
        make_torch_conv((1, 1), (1, 1), pads, 1, False), [x, kernel, bias],
    )
    assert output.dtype == np.float32
    if toeplitz:  # the banded kernel has one row per (tap row, used column, channel) and the bias row
        assert row_bias_calls == [] and folded_bias_calls
        block_used = geometry[2]
        assert set(folded_bias_calls) == {kernel_size[0] * block_used * channels + 1}
    else:
        assert folded_bias_calls == []
        assert row_bias_calls and all(width == output.shape[-2] * filters for width in row_bias_calls)


@pytest.mark.parametrize("length, folded", [(20, True), (21, False)])
def test_bias_conv1d_matches_torch(row_bias_calls, folded_bias_calls, length, folded):
    """A 1-D convolution: an even output length takes the row-Toeplitz route in blocks of two (bias
    folded in, 3 + 1 taps * 4 channels + the bias row); an odd one im2col, the bias added over rows
    of L * F floats."""
    import torch

    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, length, 4)).astype(np.float32)
    kernel = rng.standard_normal((3, 4, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)

    def theirs(x, kernel, bias):
        return torch.nn.functional.conv1d(x.transpose(1, 2), kernel.permute(2, 1, 0), bias).transpose(1, 2)

    compare_with_torch(lambda x, kernel, bias: F.conv(x, kernel, bias=bias), theirs, [x, kernel, bias])
    if folded:
        assert row_bias_calls == [] and set(folded_bias_calls) == {(3 + 1) * 4 + 1}
    else:
        assert folded_bias_calls == [] and row_bias_calls == [(length - 2) * 5]


@pytest.mark.parametrize("spatial, channels, kernel_size, toeplitz", [
    ((14, 14), 1, (5, 5), True), ((14, 18), 2, (3, 3), True), ((5, 31), 2, (3, 3), False),
])
def test_bias_finite_differences_float64(row_bias_calls, folded_bias_calls, spatial, channels, kernel_size, toeplitz):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, *spatial, channels))
    kernel = rng.standard_normal((*kernel_size, channels, 3))
    bias = rng.standard_normal(3)
    check_finite_differences(lambda x, k, b: F.conv(x, k, bias=b), [x, kernel, bias])
    assert bool(folded_bias_calls) == toeplitz and bool(row_bias_calls) != toeplitz


def test_many_filters_keep_the_broadcast_add(row_bias_calls):
    rng = np.random.default_rng(6)
    x, kernel, bias = random_case(rng, 2, (6, 6), 2, (3, 3), 2, 40, False)
    compare_with_torch(
        lambda x, kernel, bias: F.conv(x, kernel, bias=bias),
        make_torch_conv((1, 1), (1, 1), [(0, 0), (0, 0)], 1, False), [x, kernel, bias],
    )
    assert row_bias_calls == []
