"""cnnkit.functional.conv_transpose against PyTorch (explicit padding, output_padding, dilation)
and against Keras's output-length rule for 'valid' and 'same' (tests/reference.py), forward and
every gradient; float64 central differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as torch_functional

from cnnkit import functional as F
from oracle import check_finite_differences, compare_with_torch
from reference import keras_transpose_crop, keras_transpose_length

TORCH_CONV_TRANSPOSE = {1: torch_functional.conv_transpose1d, 2: torch_functional.conv_transpose2d}


def torch_transpose_weight(kernel):
    """Keras transposed kernel (*k, filters, in_channels) -> PyTorch (in_channels, filters, *k)."""
    num_spatial = kernel.ndim - 2
    return kernel.permute(num_spatial + 1, num_spatial, *range(num_spatial)).contiguous()


def random_case(rng, batch, spatial, channels, kernel_size, filters, channels_first):
    shape = (batch, channels, *spatial) if channels_first else (batch, *spatial, channels)
    x = rng.standard_normal(shape).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, filters, channels)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)
    return x, kernel, bias


# (batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, dilation, data_format)
EXPLICIT_CASES = [
    (2, (5, 4), 3, 2, (3, 3), (1, 1), (0, 0), None, (1, 1), "channels_last"),
    (1, (4, 4), 2, 3, (4, 4), (2, 2), (1, 1), None, (1, 1), "channels_last"),  # 28->56-style upsampling
    (3, (3, 5), 2, 2, (3, 2), (2, 3), (1, 0), (1, 2), (1, 1), "channels_first"),
    (2, (4, 3), 3, 1, (2, 5), (3, 1), (0, 2), (2, 0), (1, 1), "channels_last"),
    (1, (5, 5), 2, 2, (3, 3), (1, 2), (2, 1), (1, 1), (2, 1), "channels_first"),  # output_padding < dilation
    (2, (4, 6), 1, 2, (1, 1), (2, 2), (0, 0), (1, 0), (1, 1), "channels_last"),  # 1x1 kernel
    (1, (3, 4), 2, 3, (2, 3), (3, 2), (0, 1), None, (3, 2), "channels_first"),
]


@pytest.mark.parametrize(
    "batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, dilation, data_format", EXPLICIT_CASES
)
def test_conv_transpose2d_matches_torch(batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, dilation, data_format):
    rng = np.random.default_rng(sum(spatial) * 13 + sum(kernel_size))
    channels_first = data_format == "channels_first"
    x, kernel, bias = random_case(rng, batch, spatial, channels, kernel_size, filters, channels_first)

    def theirs(x, kernel, bias):
        if not channels_first:
            x = torch.movedim(x, -1, 1)
        y = torch_functional.conv_transpose2d(
            x, torch_transpose_weight(kernel), bias, stride=strides, padding=padding,
            output_padding=output_padding or 0, dilation=dilation,
        )
        return y if channels_first else torch.movedim(y, 1, -1)

    def ours(x, kernel, bias):
        return F.conv_transpose(x, kernel, strides, padding, output_padding, data_format, dilation, bias=bias)

    compare_with_torch(ours, theirs, [x, kernel, bias])


def _systematic_transpose_grid():
    """Every (kernel size 1-4, stride 1-3, dilation 1-2) once; padding, output_padding, sizes
    and data format cycle."""
    cases = []
    for index, (size, stride, dilation) in enumerate((k, s, d) for k in range(1, 5) for s in range(1, 4) for d in range(1, 3)):
        kernel_size = (size, (size + index) % 4 + 1)
        padding = (index % 3, (index // 3) % 2)
        output_padding = None if index % 2 else tuple(index % max(stride, dilation) for _ in range(2))
        spatial = (3 + index % 3, 4 + index % 2)
        span = [dilation * (k - 1) + 1 for k in kernel_size]
        lengths = [(n - 1) * stride + sp - 2 * p + (output_padding[a] if output_padding else 0) for a, (n, sp, p) in enumerate(zip(spatial, span, padding))]
        if min(lengths) < 1:
            padding = (0, 0)
        data_format = ("channels_last", "channels_first")[(index // 2) % 2]
        cases.append((1 + index % 2, spatial, 2, 3, kernel_size, (stride, stride), padding, output_padding, (dilation, dilation), data_format))
    return cases


@pytest.mark.parametrize(
    "batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, dilation, data_format",
    _systematic_transpose_grid(),
)
def test_conv_transpose2d_systematic_grid(batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, dilation, data_format):
    test_conv_transpose2d_matches_torch(batch, spatial, channels, filters, kernel_size, strides, padding, output_padding, dilation, data_format)


@pytest.mark.parametrize(
    "length, kernel_size, stride, padding, output_padding, dilation",
    [(7, 3, 1, 0, None, 1), (6, 4, 2, 1, 1, 1), (5, 2, 3, 2, 2, 2), (8, 5, 1, 3, 1, 2)],
)
def test_conv_transpose1d_matches_torch(length, kernel_size, stride, padding, output_padding, dilation):
    rng = np.random.default_rng(length + 10 * kernel_size)
    x, kernel, bias = random_case(rng, 2, (length,), 3, (kernel_size,), 2, False)

    def theirs(x, kernel, bias):
        y = torch_functional.conv_transpose1d(
            torch.movedim(x, -1, 1), torch_transpose_weight(kernel), bias, stride=stride, padding=padding,
            output_padding=output_padding or 0, dilation=dilation,
        )
        return torch.movedim(y, 1, -1)

    compare_with_torch(
        lambda x, k, b: F.conv_transpose(x, k, stride, padding, output_padding, dilation_rate=dilation, bias=b),
        theirs,
        [x, kernel, bias],
    )


def test_asymmetric_explicit_padding_crops_each_side():
    """(before, after) pairs: PyTorch's full output with `before` cells cut at the start and `after` at the end."""
    rng = np.random.default_rng(2)
    x, kernel, bias = random_case(rng, 2, (4, 5), 2, (3, 3), 3, False)

    def theirs(x, kernel, bias):
        full = torch_functional.conv_transpose2d(torch.movedim(x, -1, 1), torch_transpose_weight(kernel), bias, stride=2)
        return torch.movedim(full[:, :, 1:full.shape[2] - 2, 0:full.shape[3] - 1], 1, -1)

    compare_with_torch(lambda x, k, b: F.conv_transpose(x, k, 2, ((1, 2), (0, 1)), bias=b), theirs, [x, kernel, bias])


# Keras 'valid'/'same': (spatial, kernel_size, strides, padding, output_padding, dilation)
KERAS_CASES = [
    ((5, 4), (3, 3), (2, 2), "same", None, (1, 1)),
    ((4, 4), (4, 4), (2, 2), "same", None, (1, 1)),
    ((3, 5), (2, 3), (3, 1), "valid", None, (1, 1)),  # stride > kernel: trailing cells carry only the bias
    ((4, 3), (1, 2), (2, 3), "same", None, (1, 1)),
    ((5, 5), (3, 2), (1, 2), "valid", (0, 1), (2, 1)),
    ((4, 6), (3, 4), (2, 2), "same", (1, 0), (1, 1)),
    ((3, 4), (2, 3), (2, 1), "same", None, (1, 2)),
]


@pytest.mark.parametrize("spatial, kernel_size, strides, padding, output_padding, dilation", KERAS_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_keras_valid_and_same_rules(spatial, kernel_size, strides, padding, output_padding, dilation, data_format):
    """Output length from Keras's rule; values = PyTorch's full (unpadded) output, cropped where
    Keras starts it and extended with zero cells where Keras's output is longer."""
    rng = np.random.default_rng(sum(spatial) + 7 * sum(kernel_size))
    channels_first = data_format == "channels_first"
    x, kernel, bias = random_case(rng, 2, spatial, 3, kernel_size, 2, channels_first)
    ops = output_padding or (None, None)
    lengths = [keras_transpose_length(n, k, s, padding, op, d) for n, k, s, op, d in zip(spatial, kernel_size, strides, ops, dilation)]
    starts = [keras_transpose_crop(k, s, padding, op, d) for k, s, op, d in zip(kernel_size, strides, ops, dilation)]

    def theirs(x, kernel, bias):
        if not channels_first:
            x = torch.movedim(x, -1, 1)
        full = torch_functional.conv_transpose2d(x, torch_transpose_weight(kernel), None, stride=strides, dilation=dilation)
        for axis, (start, length) in enumerate(zip(starts, lengths)):
            dim = 2 + axis
            full = full.narrow(dim, start, min(length, full.shape[dim] - start))
            missing = length - full.shape[dim]
            if missing > 0:
                zeros_shape = list(full.shape)
                zeros_shape[dim] = missing
                full = torch.cat([full, torch.zeros(zeros_shape)], dim)
        y = full + bias.reshape(1, -1, 1, 1)
        return y if channels_first else torch.movedim(y, 1, -1)

    def ours(x, kernel, bias):
        return F.conv_transpose(x, kernel, strides, padding, output_padding, data_format, dilation, bias=bias)

    output = compare_with_torch(ours, theirs, [x, kernel, bias])
    spatial_out = output.shape[2:] if channels_first else output.shape[1:-1]
    assert list(spatial_out) == lengths


def test_keras_documented_shapes():
    """Keras's Conv2DTranspose: 'same' multiplies by the stride; 'valid' gives (n-1)*s + max(k, s)."""
    x = np.zeros((1, 28, 28, 1), np.float32)
    assert F.conv_transpose(x, np.zeros((4, 4, 6, 1), np.float32), 2, "same").shape == (1, 56, 56, 6)
    assert F.conv_transpose(x, np.zeros((3, 3, 2, 1), np.float32), 2, "valid").shape == (1, 57, 57, 2)
    assert F.conv_transpose(x, np.zeros((1, 1, 2, 1), np.float32), 3, "valid").shape == (1, 84, 84, 2)


def test_transposed_conv_is_the_adjoint_of_conv():
    """<conv(y), x> == <y, conv_transpose(x)> for the same kernel, stride, dilation and padding."""
    rng = np.random.default_rng(11)
    y = rng.standard_normal((2, 9, 8, 3))
    kernel = rng.standard_normal((3, 2, 3, 4))  # conv: 3 -> 4 channels; transpose: 4 -> 3
    x = F.conv(y, kernel, strides=2, padding=1, dilation_rate=(1, 2)).numpy()
    probe = rng.standard_normal(x.shape)
    back = F.conv_transpose(probe, kernel, strides=2, padding=1, output_padding=(0, 1), dilation_rate=(1, 2)).numpy()
    assert back.shape == y.shape
    np.testing.assert_allclose(np.sum(x * probe), np.sum(y * back), rtol=1e-12)


@pytest.mark.parametrize(
    "input_shape, kernel_shape, strides, padding, output_padding, dilation, data_format",
    [
        ((1, 3, 3, 2), (3, 3, 2, 2), 2, "same", None, 1, "channels_last"),
        ((2, 3, 2, 2), (2, 3, 1, 2), (1, 2), ((1, 0), (0, 1)), (0, 1), 1, "channels_first"),
        ((1, 4, 3, 2), (2, 2, 2, 2), 1, 1, (1, 0), (2, 1), "channels_last"),
        ((2, 4, 2), (3, 2, 2), 2, "valid", None, 1, "channels_last"),
    ],
)
def test_conv_transpose_finite_differences(input_shape, kernel_shape, strides, padding, output_padding, dilation, data_format):
    rng = np.random.default_rng(len(input_shape) + kernel_shape[0])
    x = rng.standard_normal(input_shape)
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    kernel = rng.standard_normal(kernel_shape)
    bias = rng.standard_normal(kernel_shape[-2])
    check_finite_differences(
        lambda x, k, b: F.conv_transpose(x, k, strides, padding, output_padding, data_format, dilation, bias=b),
        [x, kernel, bias],
    )


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(kernel=np.zeros((3, 3, 2, 5), np.float32)), ValueError, "kernel.shape=(3, 3, 2, 5)"),
        (dict(output_padding=2, strides=2), ValueError, "output_padding=(2, 2)"),
        (dict(output_padding=-1, strides=2), ValueError, "output_padding=-1"),
        (dict(padding="causal"), ValueError, "padding='causal'"),
        (dict(padding=4), ValueError, "empty output"),
        (dict(bias=np.zeros(4, np.float32)), ValueError, "bias.shape=(4,)"),
        (dict(inputs=np.zeros((1, 4, 4, 3), np.int64)), TypeError, "dtype int64"),
        (dict(data_format="channels_middle"), ValueError, "data_format='channels_middle'"),
    ],
)
def test_conv_transpose_errors(kwargs, error, fragment):
    arguments = dict(inputs=np.zeros((1, 4, 4, 3), np.float32), kernel=np.zeros((3, 3, 2, 3), np.float32))
    arguments.update(kwargs)
    with pytest.raises(error) as info:
        F.conv_transpose(**arguments)
    assert fragment in str(info.value)
