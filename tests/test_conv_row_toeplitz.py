"""The row-Toeplitz route of 2-D convolution (small images: the width axis folded into the GEMM)
against PyTorch: forward, input, kernel and bias gradients, and the transposed convolution that
reuses its input gradient. Every case first asserts which route ``conv`` takes, so a change of
the selection thresholds cannot silently leave a route untested; the im2col route is rerun on
test_conv's 2-D cases with the row-Toeplitz route switched off.
"""
import numpy as np
import pytest

from cnnkit import functional as F
from cnnkit.kernels import conv as conv_kernels
from oracle import check_finite_differences, compare_with_torch
from reference import tf_same_pads
from test_conv import CASES_2D, make_torch_conv, random_case, test_conv2d_matches_torch


def _pads(padding, spatial, kernel_size, strides, dilation):
    if padding == "same":
        return [tf_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel_size, strides, dilation)]
    if padding == "valid":
        return [(0, 0), (0, 0)]
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


# (batch, spatial, channels, filters, kernel_size, strides, dilation, padding, data_format, blocks)
ROUTE_CASES = [
    (3, (28, 28), 1, 6, (5, 5), (1, 1), (1, 1), "valid", "channels_last", 2),  # LeNet conv1
    (3, (12, 12), 6, 16, (5, 5), (1, 1), (1, 1), "valid", "channels_last", 2),  # LeNet conv2
    (2, (9, 14), 3, 16, (3, 3), (1, 1), (1, 1), "valid", "channels_first", 3),
    (2, (11, 16), 2, 16, (3, 3), (2, 2), (1, 1), "same", "channels_last", 2),  # stride, asymmetric same
    (2, (9, 14), 3, 4, (3, 3), (1, 1), (1, 1), "valid", "channels_first", 1),  # too few filters to split
    (1, (10, 13), 3, 2, (2, 3), (1, 1), (2, 2), "same", "channels_last", 1),  # dilation
    (2, (12, 11), 2, 5, (3, 4), (2, 1), (1, 2), ((1, 2), (0, 3)), "channels_first", 1),
    (2, (7, 12), 4, 3, (4, 3), (1, 2), (1, 1), ((2, 0), (1, 1)), "channels_last", 1),
]


def _geometry(spatial, channels, filters, kernel_size, strides, dilation, pads):
    return conv_kernels._row_toeplitz_geometry(spatial, (*kernel_size, channels, filters), strides, dilation, pads, 1)


@pytest.mark.parametrize(
    "batch, spatial, channels, filters, kernel_size, strides, dilation, padding, data_format, blocks", ROUTE_CASES
)
def test_row_toeplitz_conv_matches_torch(batch, spatial, channels, filters, kernel_size, strides, dilation, padding,
                                         data_format, blocks):
    pads = _pads(padding, spatial, kernel_size, strides, dilation)
    geometry = _geometry(spatial, channels, filters, kernel_size, strides, dilation, pads)
    assert geometry is not None and geometry[1] == blocks  # the route and its blocking under test
    channels_first = data_format == "channels_first"
    rng = np.random.default_rng(sum(spatial) * 31 + channels)
    x, kernel, bias = random_case(rng, batch, spatial, channels, kernel_size, channels, filters, channels_first)

    def ours(x, kernel, bias):
        return F.conv(x, kernel, strides, padding, data_format, dilation, bias=bias)

    output = compare_with_torch(ours, make_torch_conv(strides, dilation, pads, 1, channels_first), [x, kernel, bias])
    assert output.dtype == np.float32


def test_row_toeplitz_first_layer_without_input_gradient_matches_torch():
    """A network's first conv: no input gradient is asked for (and none is computed)."""
    rng = np.random.default_rng(5)
    x, kernel, bias = random_case(rng, 2, (28, 28), 1, (5, 5), 1, 6, False)
    pads = [(0, 0), (0, 0)]
    compare_with_torch(
        lambda x, kernel, bias: F.conv(x, kernel, bias=bias),
        make_torch_conv((1, 1), (1, 1), pads, 1, False), [x, kernel, bias], grad_inputs=[1, 2],
    )


def test_row_toeplitz_single_channel_view_with_zero_stride_matches_torch():
    """Images given as ``images[..., None]``: the channel axis has stride 0 (LeNet's input)."""
    rng = np.random.default_rng(3)
    images = rng.standard_normal((3, 28, 28)).astype(np.float32)
    x = images[..., None]
    assert x.strides[-1] == 0
    kernel = rng.standard_normal((5, 5, 1, 6)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    compare_with_torch(
        lambda kernel, bias: F.conv(x, kernel, bias=bias),
        lambda kernel, bias: make_torch_conv((1, 1), (1, 1), [(0, 0), (0, 0)], 1, False)(
            __import__("torch").from_numpy(x.copy()), kernel, bias),
        [kernel, bias],
    )


def test_row_toeplitz_finite_differences_float64():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5, 16, 2))
    kernel = rng.standard_normal((3, 3, 2, 8))
    bias = rng.standard_normal(8)
    assert _geometry((5, 16), 2, 8, (3, 3), (1, 1), (1, 1), [(1, 1), (1, 1)])[1] == 2  # blocked
    check_finite_differences(lambda x, k, b: F.conv(x, k, padding=1, bias=b), [x, kernel, bias])


@pytest.mark.parametrize("strides, padding, output_padding, dilation", [
    ((1, 1), 0, None, (1, 1)), ((2, 2), 1, (1, 0), (1, 1)), ((2, 1), (0, 2), None, (1, 2)),
])
def test_row_toeplitz_transposed_conv_matches_torch(monkeypatch, strides, padding, output_padding, dilation):
    """conv_transpose runs a convolution's input gradient forwards: the row-Toeplitz one here."""
    import torch

    calls = []
    route = conv_kernels._row_toeplitz_backward_input
    monkeypatch.setattr(conv_kernels, "_row_toeplitz_backward_input", lambda *args: calls.append(1) or route(*args))
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 4, 3)).astype(np.float32)  # (*k, filters, in_channels)
    bias = rng.standard_normal(4).astype(np.float32)

    def ours(x, kernel, bias):
        return F.conv_transpose(x, kernel, strides, padding, output_padding, dilation_rate=dilation, bias=bias)

    def theirs(x, kernel, bias):
        y = torch.nn.functional.conv_transpose2d(
            torch.movedim(x, -1, 1), kernel.permute(3, 2, 0, 1), bias, stride=strides, padding=padding,
            output_padding=output_padding or 0, dilation=dilation,
        )
        return torch.movedim(y, 1, -1)

    compare_with_torch(ours, theirs, [x, kernel, bias])
    assert calls  # the forward pass took the row-Toeplitz route


@pytest.mark.parametrize("batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format", CASES_2D)
def test_im2col_route_still_matches_torch(monkeypatch, batch, spatial, channels, kernel_size, strides, dilation, groups,
                                          padding, data_format):
    """test_conv's 2-D cases with the row-Toeplitz route switched off: the general route stays verified."""
    monkeypatch.setattr(conv_kernels, "_ROW_TOEPLITZ_MAX_EXPANSION", 0.0)
    monkeypatch.setattr(conv_kernels, "_ROW_TOEPLITZ_PAIRS_MAX_CHANNELS", 0)
    test_conv2d_matches_torch(batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format)


# ----- 1-D: height-1 images in blocks of two outputs ---------------------------------------------
# (batch, length, channels, filters, kernel_size, padding, data_format)
ROUTE_CASES_1D = [
    (3, 20, 4, 5, 3, "valid", "channels_last"),
    (1, 16, 3, 8, 2, "same", "channels_last"),  # even kernel: padding (0, 1)
    (2, 16, 6, 128, 5, "same", "channels_first"),  # the most filters the route takes
    (3, 14, 2, 3, 4, "causal", "channels_last"),
    (2, 11, 5, 4, 3, ((2, 3),), "channels_last"),  # explicit, asymmetric: 11 + 5 - 2 = 14 outputs
]


def _plan_1d(length, channels, filters, kernel_size, padding, strides=1, dilation=1):
    pads = [tf_same_pads(length, kernel_size, strides, dilation)] if padding == "same" else (
        [(0, 0)] if padding == "valid" else [(dilation * (kernel_size - 1), 0)] if padding == "causal"
        else [tuple(padding[0])])
    return conv_kernels._row_toeplitz_plan((length,), (kernel_size, channels, filters), (strides,), (dilation,), pads, 1)


@pytest.mark.parametrize("batch, length, channels, filters, kernel_size, padding, data_format", ROUTE_CASES_1D)
def test_row_toeplitz_conv1d_matches_torch(batch, length, channels, filters, kernel_size, padding, data_format):
    import torch

    plan = _plan_1d(length, channels, filters, kernel_size, padding)
    assert plan is not None and plan[1] and plan[0][0] == 2  # the 1-D route, blocks of two
    channels_first = data_format == "channels_first"
    rng = np.random.default_rng(length * 7 + filters)
    x = rng.standard_normal((batch, channels, length) if channels_first else (batch, length, channels)).astype(np.float32)
    kernel = rng.standard_normal((kernel_size, channels, filters)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)
    if padding == "same":
        pads = tf_same_pads(length, kernel_size, 1, 1)
    elif padding == "valid":
        pads = (0, 0)
    elif padding == "causal":
        pads = (kernel_size - 1, 0)
    else:
        pads = tuple(padding[0])

    def theirs(x, kernel, bias):
        x = x if channels_first else x.transpose(1, 2)
        y = torch.nn.functional.conv1d(torch.nn.functional.pad(x, pads), kernel.permute(2, 1, 0), bias)
        return y if channels_first else y.transpose(1, 2)

    output = compare_with_torch(lambda x, k, b: F.conv(x, k, 1, padding, data_format, bias=b), theirs, [x, kernel, bias])
    assert output.dtype == np.float32


@pytest.mark.parametrize("length, filters, strides, dilation", [(20, 129, 1, 1), (21, 8, 1, 1), (20, 8, 2, 1), (20, 8, 1, 2)])
def test_row_toeplitz_conv1d_route_is_declined(length, filters, strides, dilation):
    """Many filters (im2col's product is wide already), an odd output length, strides, dilation."""
    assert _plan_1d(length, 4, filters, 3, "valid", strides, dilation) is None


def test_row_toeplitz_conv1d_finite_differences_float64():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 10, 3))
    kernel = rng.standard_normal((3, 3, 4))
    bias = rng.standard_normal(4)
    assert _plan_1d(10, 3, 4, 3, "same")[1]
    check_finite_differences(lambda x, k, b: F.conv(x, k, padding="same", bias=b), [x, kernel, bias])


def test_row_toeplitz_conv1d_transpose_matches_torch():
    """A stride-1 1-D transposed convolution is the route's input gradient run forwards."""
    import torch

    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 10, 4)).astype(np.float32)
    kernel = rng.standard_normal((3, 5, 4)).astype(np.float32)  # Keras: (k, filters, in_channels)
    assert _plan_1d(12, 5, 4, 3, "valid") is not None  # the convolution it transposes: 12 -> 10

    def theirs(x, kernel):
        return torch.nn.functional.conv_transpose1d(x.transpose(1, 2), kernel.permute(2, 1, 0)).transpose(1, 2)

    compare_with_torch(lambda x, k: F.conv_transpose(x, k), theirs, [x, kernel])


# ----- larger images, few channels: blocks of two output columns ----------------------------------
# (batch, spatial, channels, filters, kernel_size, padding, data_format)
PAIR_CASES = [
    (2, (20, 22), 3, 4, (3, 3), "same", "channels_last"),
    (1, (9, 40), 5, 7, (5, 5), "valid", "channels_last"),  # 36 output columns
    (2, (7, 26), 64, 8, (2, 3), ((1, 0), (1, 1)), "channels_first"),  # the most channels the rule takes
    (1, (6, 24), 2, 128, (3, 2), "same", "channels_last"),  # the most filters; even kernel width
]


def _pair_plan(spatial, channels, filters, kernel_size, padding, strides=(1, 1), dilation=(1, 1)):
    pads = _pads(padding, spatial, kernel_size, strides, dilation)
    return conv_kernels._row_toeplitz_plan(spatial, (*kernel_size, channels, filters), strides, dilation, pads, 1)


@pytest.mark.parametrize("batch, spatial, channels, filters, kernel_size, padding, data_format", PAIR_CASES)
def test_row_toeplitz_pairs_match_torch(batch, spatial, channels, filters, kernel_size, padding, data_format):
    pads = _pads(padding, spatial, kernel_size, (1, 1), (1, 1))
    assert _geometry(spatial, channels, filters, kernel_size, (1, 1), (1, 1), pads) is None  # not a small image
    plan = _pair_plan(spatial, channels, filters, kernel_size, padding)
    assert plan is not None and plan[0][0] == 2 and not plan[1]  # blocks of two output columns
    channels_first = data_format == "channels_first"
    rng = np.random.default_rng(sum(spatial) + channels * 3 + filters)
    x, kernel, bias = random_case(rng, batch, spatial, channels, kernel_size, channels, filters, channels_first)

    def ours(x, kernel, bias):
        return F.conv(x, kernel, 1, padding, data_format, bias=bias)

    output = compare_with_torch(ours, make_torch_conv((1, 1), (1, 1), pads, 1, channels_first), [x, kernel, bias])
    assert output.dtype == np.float32


@pytest.mark.parametrize("spatial, channels, filters, strides, dilation", [
    ((9, 40), 65, 4, (1, 1), (1, 1)),  # too many channels
    ((9, 40), 4, 129, (1, 1), (1, 1)),  # too many filters
    ((9, 41), 4, 4, (1, 1), (1, 1)),  # odd output width (39)
    ((9, 40), 4, 4, (1, 2), (1, 1)),  # strided
    ((9, 40), 4, 4, (1, 1), (2, 1)),  # dilated
])
def test_row_toeplitz_pairs_are_declined(spatial, channels, filters, strides, dilation):
    assert _pair_plan(spatial, channels, filters, (3, 3), "valid", strides, dilation) is None


def test_row_toeplitz_pairs_finite_differences_float64():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 4, 24, 2))
    kernel = rng.standard_normal((3, 3, 2, 3))
    bias = rng.standard_normal(3)
    assert _pair_plan((4, 24), 2, 3, (3, 3), "same")[0][0] == 2
    check_finite_differences(lambda x, k, b: F.conv(x, k, padding="same", bias=b), [x, kernel, bias])
