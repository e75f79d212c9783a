"""Depthwise and separable convolution, padding modes, and the classic-vision pair
convolve2d / correlate2d: against PyTorch (values and gradients), scipy.signal (values) and the
naive full correlation of tests/reference.py; float64 central differences."""
import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as torch_functional

from cnnkit import Tensor
from cnnkit import functional as F
from oracle import check_finite_differences, compare_with_torch
from reference import naive_correlate2d, tf_same_pads

TORCH_CONV = {1: torch_functional.conv1d, 2: torch_functional.conv2d}


def torch_pad_arg(pads):
    flat = []
    for before, after in reversed(pads):
        flat += [before, after]
    return flat


def torch_depthwise_weight(kernel):
    """Keras depthwise kernel (*k, C, m) -> PyTorch grouped weight (C * m, 1, *k)."""
    num_spatial = kernel.ndim - 2
    channels, multiplier = kernel.shape[-2], kernel.shape[-1]
    weight = kernel.reshape(*kernel.shape[:-2], channels * multiplier)
    return weight.permute(num_spatial, *range(num_spatial)).unsqueeze(1).contiguous()


# ----- depthwise and separable -----------------------------------------------------------------
# (spatial, channels, multiplier, kernel_size, strides, padding, dilation, data_format)
DEPTHWISE_CASES = [
    ((7, 8), 3, 1, (3, 3), (1, 1), "valid", (1, 1), "channels_last"),
    ((8, 9), 4, 2, (3, 2), (2, 1), "same", (1, 1), "channels_first"),
    ((10, 9), 2, 3, (2, 3), (1, 2), "same", (2, 1), "channels_last"),
    ((11,), 3, 2, (5,), (2,), "same", (1,), "channels_last"),
    ((12,), 2, 1, (3,), (1,), "causal", (2,), "channels_first"),
]


@pytest.mark.parametrize("spatial, channels, multiplier, kernel_size, strides, padding, dilation, data_format", DEPTHWISE_CASES)
def test_depthwise_conv_matches_torch(spatial, channels, multiplier, kernel_size, strides, padding, dilation, data_format):
    rng = np.random.default_rng(sum(spatial) + channels)
    channels_first = data_format == "channels_first"
    x = rng.standard_normal((2, channels, *spatial) if channels_first else (2, *spatial, channels)).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, channels, multiplier)).astype(np.float32)
    bias = rng.standard_normal(channels * multiplier).astype(np.float32)
    if padding == "same":
        pads = [tf_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel_size, strides, dilation)]
    elif padding == "causal":
        pads = [(dilation[0] * (kernel_size[0] - 1), 0)]
    else:
        pads = [(0, 0)] * len(spatial)

    def theirs(x, kernel, bias):
        if not channels_first:
            x = torch.movedim(x, -1, 1)
        x = torch_functional.pad(x, torch_pad_arg(pads))
        y = TORCH_CONV[len(spatial)](x, torch_depthwise_weight(kernel), bias, stride=strides, dilation=dilation, groups=channels)
        return y if channels_first else torch.movedim(y, 1, -1)

    def ours(x, kernel, bias):
        return F.depthwise_conv(x, kernel, strides, padding, data_format, dilation, bias=bias)

    compare_with_torch(ours, theirs, [x, kernel, bias])


@pytest.mark.parametrize(
    "spatial, channels, multiplier, filters, kernel_size, strides, padding, data_format",
    [
        ((8, 7), 3, 2, 4, (3, 3), (1, 1), "same", "channels_last"),
        ((9, 9), 2, 1, 3, (2, 3), (2, 2), "valid", "channels_first"),
        ((10,), 3, 2, 2, (4,), (1,), "same", "channels_last"),
    ],
)
def test_separable_conv_matches_torch(spatial, channels, multiplier, filters, kernel_size, strides, padding, data_format):
    rng = np.random.default_rng(sum(spatial) * 3 + filters)
    num_spatial = len(spatial)
    channels_first = data_format == "channels_first"
    x = rng.standard_normal((2, channels, *spatial) if channels_first else (2, *spatial, channels)).astype(np.float32)
    depthwise = rng.standard_normal((*kernel_size, channels, multiplier)).astype(np.float32)
    pointwise = rng.standard_normal((*(1,) * num_spatial, channels * multiplier, filters)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)
    pads = (
        [tf_same_pads(n, k, s, 1) for n, k, s in zip(spatial, kernel_size, strides)]
        if padding == "same"
        else [(0, 0)] * num_spatial
    )

    def theirs(x, depthwise, pointwise, bias):
        if not channels_first:
            x = torch.movedim(x, -1, 1)
        x = torch_functional.pad(x, torch_pad_arg(pads))
        y = TORCH_CONV[num_spatial](x, torch_depthwise_weight(depthwise), stride=strides, groups=channels)
        weight = pointwise.permute(num_spatial + 1, num_spatial, *range(num_spatial)).contiguous()
        y = TORCH_CONV[num_spatial](y, weight, bias)
        return y if channels_first else torch.movedim(y, 1, -1)

    def ours(x, depthwise, pointwise, bias):
        return F.separable_conv(x, depthwise, pointwise, strides, padding, data_format, bias=bias)

    compare_with_torch(ours, theirs, [x, depthwise, pointwise, bias])


def test_depthwise_and_separable_finite_differences():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((1, 4, 5, 2))
    depthwise = rng.standard_normal((2, 3, 2, 2))
    pointwise = rng.standard_normal((1, 1, 4, 3))
    check_finite_differences(lambda x, k: F.depthwise_conv(x, k, strides=(2, 1), padding="same"), [x, depthwise])
    check_finite_differences(
        lambda x, d, p, b: F.separable_conv(x, d, p, padding="same", bias=b), [x, depthwise, pointwise, rng.standard_normal(3)]
    )


@pytest.mark.parametrize(
    "function, kwargs, error, fragment",
    [
        ("depthwise_conv", dict(kernel=np.zeros((3, 3, 2, 2), np.float32)), ValueError, "kernel.shape=(3, 3, 2, 2)"),
        ("depthwise_conv", dict(kernel=np.zeros((3, 3, 3), np.float32)), ValueError, "kernel.shape=(3, 3, 3)"),
        ("depthwise_conv", dict(bias=np.zeros(5, np.float32)), ValueError, "bias.shape=(5,)"),
        ("separable_conv", dict(pointwise_kernel=np.zeros((1, 1, 5, 2), np.float32)), ValueError, "pointwise_kernel.shape=(1, 1, 5, 2)"),
        ("separable_conv", dict(pointwise_kernel=np.zeros((3, 3, 6, 2), np.float32)), ValueError, "pointwise_kernel.shape=(3, 3, 6, 2)"),
        ("separable_conv", dict(pointwise_kernel=np.zeros((1, 1, 6, 2), np.int32)), TypeError, "pointwise_kernel"),
    ],
)
def test_depthwise_and_separable_errors(function, kwargs, error, fragment):
    x = np.zeros((1, 6, 6, 3), np.float32)
    if function == "depthwise_conv":
        arguments = dict(inputs=x, kernel=np.zeros((3, 3, 3, 2), np.float32))
    else:
        arguments = dict(
            inputs=x, depthwise_kernel=np.zeros((3, 3, 3, 2), np.float32), pointwise_kernel=np.zeros((1, 1, 6, 2), np.float32)
        )
    arguments.update(kwargs)
    with pytest.raises(error) as info:
        getattr(F, function)(**arguments)
    assert fragment in str(info.value)


# ----- padding modes ----------------------------------------------------------------------------
@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "spatial, kernel_size, strides, padding, data_format",
    [
        ((7, 8), (3, 3), (1, 1), "same", "channels_last"),
        ((6, 9), (4, 2), (2, 1), ((2, 1), (0, 1)), "channels_first"),
        ((9,), (3,), (1,), "causal", "channels_last"),
    ],
)
def test_padding_modes_match_torch(padding_mode, spatial, kernel_size, strides, padding, data_format):
    rng = np.random.default_rng(sum(spatial) + len(padding_mode))
    num_spatial = len(spatial)
    channels_first = data_format == "channels_first"
    x = rng.standard_normal((2, 3, *spatial) if channels_first else (2, *spatial, 3)).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(2).astype(np.float32)
    if padding == "same":
        pads = [tf_same_pads(n, k, s, 1) for n, k, s in zip(spatial, kernel_size, strides)]
    elif padding == "causal":
        pads = [(kernel_size[0] - 1, 0)]
    else:
        pads = list(padding)

    def theirs(x, kernel, bias):
        if not channels_first:
            x = torch.movedim(x, -1, 1)
        x = torch_functional.pad(x, torch_pad_arg(pads), mode=padding_mode)
        weight = kernel.permute(num_spatial + 1, num_spatial, *range(num_spatial)).contiguous()
        y = TORCH_CONV[num_spatial](x, weight, bias, stride=strides)
        return y if channels_first else torch.movedim(y, 1, -1)

    def ours(x, kernel, bias):
        return F.conv(x, kernel, strides, padding, data_format, bias=bias, padding_mode=padding_mode)

    compare_with_torch(ours, theirs, [x, kernel, bias])


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_padding_mode_finite_differences(padding_mode):
    rng = np.random.default_rng(31)
    x = rng.standard_normal((1, 4, 5, 2))
    kernel = rng.standard_normal((3, 2, 2, 2))
    check_finite_differences(
        lambda x, k: F.conv(x, k, padding=((2, 1), (1, 3)), padding_mode=padding_mode), [x, kernel]
    )


def test_circular_padding_may_equal_the_input_size():
    """PyTorch allows circular pads up to the input size (reflect: strictly smaller)."""
    x = np.arange(3, dtype=np.float32).reshape(1, 3, 1)
    kernel = np.ones((1, 1, 1), np.float32)
    out = F.conv(x, kernel, padding=3, padding_mode="circular").numpy()[0, :, 0]
    np.testing.assert_array_equal(out, [0, 1, 2, 0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="padding_mode='reflect'"):
        F.conv(x, kernel, padding=3, padding_mode="reflect")


# ----- convolve2d / correlate2d -----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("image_shape, kernel_shape", [((7, 6), (3, 3)), ((6, 8), (2, 4)), ((5, 5), (4, 1)), ((4, 6), (1, 1))])
def test_convolve2d_and_correlate2d_match_scipy(mode, image_shape, kernel_shape):
    rng = np.random.default_rng(image_shape[0] * 10 + kernel_shape[1])
    image = rng.standard_normal(image_shape)
    kernel = rng.standard_normal(kernel_shape)
    np.testing.assert_allclose(F.convolve2d(image, kernel, mode).numpy(), scipy.signal.convolve2d(image, kernel, mode), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.correlate2d(image, kernel, mode).numpy(), scipy.signal.correlate2d(image, kernel, mode), rtol=1e-12, atol=1e-12)


def test_correlate2d_full_matches_the_naive_sum():
    rng = np.random.default_rng(41)
    image, kernel = rng.standard_normal((5, 4)), rng.standard_normal((3, 2))
    np.testing.assert_allclose(F.correlate2d(image, kernel).numpy(), naive_correlate2d(image, kernel), rtol=1e-12)


@pytest.mark.parametrize("flip", [False, True])
def test_convolve2d_and_correlate2d_gradients_match_torch(flip):
    """Gradients through torch's conv2d (a correlation) with the kernel flipped for convolve2d."""
    rng = np.random.default_rng(42)
    image = rng.standard_normal((6, 7)).astype(np.float32)
    kernel = rng.standard_normal((3, 2)).astype(np.float32)

    def theirs(image, kernel):
        weight = torch.flip(kernel, (0, 1)) if flip else kernel
        return torch_functional.conv2d(image[None, None], weight[None, None], padding=(2, 1))[0, 0]

    ours = F.convolve2d if flip else F.correlate2d
    compare_with_torch(lambda image, kernel: ours(image, kernel, "full"), theirs, [image, kernel])


def test_convolve2d_finite_differences():
    rng = np.random.default_rng(43)
    check_finite_differences(lambda i, k: F.convolve2d(i, k, "same"), [rng.standard_normal((4, 5)), rng.standard_normal((2, 3))])


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(image=np.zeros((1, 5, 5), np.float32)), ValueError, "image with shape (1, 5, 5)"),
        (dict(kernel=np.zeros((3, 3, 1), np.float32)), ValueError, "kernel with shape (3, 3, 1)"),
        (dict(mode="circular"), ValueError, "mode='circular'"),
        (dict(kernel=np.zeros((6, 2), np.float32), mode="valid"), ValueError, "kernel.shape=(6, 2)"),
        (dict(image=np.zeros((5, 5), np.uint8)), TypeError, "dtype uint8"),
        (dict(kernel=np.zeros((3, 3), np.float64)), TypeError, "kernel.dtype=float64"),
    ],
)
def test_classic_2d_errors(kwargs, error, fragment):
    arguments = dict(image=np.zeros((5, 5), np.float32), kernel=np.zeros((3, 3), np.float32))
    arguments.update(kwargs)
    with pytest.raises(error) as info:
        F.convolve2d(**arguments)
    assert fragment in str(info.value)


def test_every_variant_keeps_float32():
    rng = np.random.default_rng(51)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    depthwise = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    pointwise = rng.standard_normal((1, 1, 6, 4)).astype(np.float32)
    transpose_kernel = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    runs = [
        lambda t: F.depthwise_conv(t, depthwise, strides=2, padding="same"),
        lambda t: F.depthwise_conv(t, depthwise, padding="same"),
        lambda t: F.separable_conv(t, depthwise, pointwise),
        lambda t: F.conv_transpose(t, transpose_kernel, strides=2, padding="same"),
        lambda t: F.conv(t, depthwise.reshape(3, 3, 1, 6), padding=1, padding_mode="reflect"),
    ]
    for run in runs:
        inputs = Tensor(x, requires_grad=True)
        output = run(inputs)
        assert output.dtype == np.float32
        output.backward(np.ones(output.shape, np.float32))
        assert inputs.grad.dtype == np.float32
    image = F.convolve2d(x[0, :, :, 0], depthwise[:, :, 0, 0], "same")
    assert image.dtype == np.float32
