"""Convolution layers against PyTorch (same weights, moved to torch's layout by torch ops), Keras
results by hand for Keras-layout weights, the layer harness, and every bad constructor argument."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit.layers import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from cnnkit import Tensor
from harness import compare_layer_with_torch, run_layer_test
from oracle import check_finite_differences

ACTIVATIONS = {None: lambda t: t, "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def tf_same_pads(size, kernel, stride, dilation):
    """TensorFlow's 'same' padding, written out here from its definition (output ceil(n / s))."""
    span = dilation * (kernel - 1) + 1
    total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def torch_pad_spatial(x_channels_first, kernel_size, strides, dilation, padding):
    """Pad a (N, C, *spatial) torch tensor the way Keras's padding name asks."""
    spatial = x_channels_first.shape[2:]
    pairs = []
    for size, kernel, stride, rate in zip(spatial, kernel_size, strides, dilation):
        if padding == "same":
            pairs.append(tf_same_pads(size, kernel, stride, rate))
        elif padding == "causal":
            pairs.append((rate * (kernel - 1), 0))
        else:
            pairs.append((0, 0))
    flat = [amount for pair in reversed(pairs) for amount in pair]  # F.pad wants the last axis first
    return F.pad(x_channels_first, flat)


def to_channels_first(x, data_format):
    if data_format == "channels_first":
        return x
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def from_channels_first(y, data_format):
    if data_format == "channels_first":
        return y
    return y.permute(0, *range(2, y.ndim), 1)


def torch_conv(rank):
    return {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]


def keras_kernel_to_torch(kernel):
    """(*k, in, out) -> (out, in, *k) with a torch permute (so gradients flow back in Keras's layout)."""
    rank = kernel.ndim - 2
    return kernel.permute(rank + 1, rank, *range(rank))


# ----- Conv1D / Conv2D / Conv3D ---------------------------------------------------------------------
CONV2D_CASES = [
    # kernel, strides, padding, dilation, groups, data_format, activation, input (N, H, W, C), filters
    ((3, 3), (1, 1), "valid", (1, 1), 1, "channels_last", None, (2, 7, 7, 3), 4),
    ((5, 5), (1, 1), "valid", (1, 1), 1, "channels_last", "tanh", (2, 12, 12, 1), 6),
    ((2, 5), (2, 1), "same", (1, 1), 1, "channels_last", "relu", (1, 8, 9, 2), 3),
    ((3, 3), (2, 2), "same", (1, 1), 1, "channels_first", None, (2, 3, 8, 7), 4),
    ((3, 2), (1, 1), "same", (2, 3), 1, "channels_last", "sigmoid", (1, 9, 8, 2), 2),
    ((4, 4), (3, 3), "same", (1, 1), 1, "channels_last", None, (2, 10, 11, 2), 5),
    ((3, 3), (1, 1), "valid", (1, 1), 2, "channels_last", "relu", (2, 6, 6, 4), 6),
    ((1, 1), (1, 1), "valid", (1, 1), 3, "channels_first", None, (1, 6, 5, 5), 3),
    ((3, 3), (2, 2), "valid", (2, 2), 1, "channels_last", None, (1, 11, 11, 2), 2),
]


@pytest.mark.parametrize("kernel_size, strides, padding, dilation, groups, data_format, activation, shape, filters",
                         CONV2D_CASES)
def test_conv2d_matches_torch(kernel_size, strides, padding, dilation, groups, data_format, activation, shape,
                              filters):
    layer = Conv2D(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                   dilation_rate=dilation, groups=groups, activation=activation)
    x = np.random.default_rng(1).standard_normal(shape).astype("float32")

    def torch_forward(x, kernel, bias):
        x = torch_pad_spatial(to_channels_first(x, data_format), kernel_size, strides, dilation, padding)
        y = F.conv2d(x, keras_kernel_to_torch(kernel), bias, stride=strides, dilation=dilation, groups=groups)
        return from_channels_first(ACTIVATIONS[activation](y), data_format)

    output = compare_layer_with_torch(layer, x, torch_forward)
    assert output.shape[1:] == layer.compute_output_shape((None,) + shape[1:])[1:]


@pytest.mark.parametrize(
    "kernel_size, strides, padding, dilation, data_format",
    [(3, 1, "valid", 1, "channels_last"), (3, 1, "causal", 2, "channels_last"), (4, 2, "same", 1, "channels_first"),
     (2, 3, "causal", 1, "channels_last")],
)
def test_conv1d_matches_torch(kernel_size, strides, padding, dilation, data_format):
    layer = Conv1D(3, kernel_size, strides=strides, padding=padding, data_format=data_format, dilation_rate=dilation,
                   use_bias=False)
    shape = (2, 9, 2) if data_format == "channels_last" else (2, 2, 9)
    x = np.random.default_rng(2).standard_normal(shape).astype("float32")

    def torch_forward(x, kernel):
        x = torch_pad_spatial(to_channels_first(x, data_format), (kernel_size,), (strides,), (dilation,), padding)
        return from_channels_first(F.conv1d(x, keras_kernel_to_torch(kernel), stride=strides, dilation=dilation),
                                   data_format)

    compare_layer_with_torch(layer, x, torch_forward)


def test_conv3d_matches_torch():
    layer = Conv3D(2, (2, 3, 2), strides=(1, 2, 1), padding="same")
    x = np.random.default_rng(3).standard_normal((1, 4, 5, 4, 2)).astype("float32")

    def torch_forward(x, kernel, bias):
        x = torch_pad_spatial(to_channels_first(x, "channels_last"), (2, 3, 2), (1, 2, 1), (1, 1, 1), "same")
        return from_channels_first(F.conv3d(x, keras_kernel_to_torch(kernel), bias, stride=(1, 2, 1)), "channels_last")

    compare_layer_with_torch(layer, x, torch_forward)


# ----- transposed convolutions ------------------------------------------------------------------------
def keras_transpose_length(size, kernel, stride, dilation, padding, output_padding):
    """Keras's deconv_output_length, written out from its definition."""
    span = dilation * (kernel - 1) + 1
    if output_padding is None:
        return size * stride + max(span - stride, 0) if padding == "valid" else size * stride
    pad = span // 2 if padding == "same" else 0
    return (size - 1) * stride + span - 2 * pad + output_padding


def crop_full_transpose(full, sizes, kernel_size, strides, dilation, padding, output_padding):
    """Keras's output from torch's full (unpadded) transposed convolution: TensorFlow's rule puts
    half of the removed cells (rounded down) at the start; cells past the full output are zeros."""
    result = full
    for axis, (size, kernel, stride, rate) in enumerate(zip(sizes, kernel_size, strides, dilation)):
        length = keras_transpose_length(size, kernel, stride, rate, padding,
                                        None if output_padding is None else output_padding[axis])
        span = rate * (kernel - 1) + 1
        removed = (size - 1) * stride + span - length
        start = max(removed, 0) // 2
        dim = 2 + axis
        result = result.narrow(dim, start, min(length, result.shape[dim] - start))
        missing = length - result.shape[dim]
        if missing > 0:
            pad = [0, 0] * (result.ndim - dim - 1) + [0, missing]
            result = F.pad(result, pad)
    return result


TRANSPOSE_CASES = [
    # kernel, strides, padding, output_padding, dilation, data_format, shape (N, H, W, C), filters
    ((3, 3), (2, 2), "same", None, (1, 1), "channels_last", (2, 4, 5, 3), 4),
    ((4, 4), (2, 2), "same", None, (1, 1), "channels_last", (1, 5, 5, 2), 3),
    ((3, 2), (1, 1), "valid", None, (1, 1), "channels_first", (2, 3, 4, 5), 2),
    ((2, 2), (3, 3), "valid", None, (1, 1), "channels_last", (1, 3, 4, 2), 2),  # kernel smaller than stride
    ((3, 3), (2, 2), "same", (1, 1), (1, 1), "channels_last", (1, 4, 4, 2), 3),
    ((5, 3), (3, 2), "valid", (2, 1), (1, 1), "channels_last", (1, 3, 3, 1), 2),
    ((3, 3), (1, 1), "same", None, (2, 2), "channels_last", (1, 6, 6, 2), 2),
]


@pytest.mark.parametrize("kernel_size, strides, padding, output_padding, dilation, data_format, shape, filters",
                         TRANSPOSE_CASES)
def test_conv2d_transpose_matches_torch(kernel_size, strides, padding, output_padding, dilation, data_format, shape,
                                        filters):
    layer = Conv2DTranspose(filters, kernel_size, strides=strides, padding=padding, output_padding=output_padding,
                            data_format=data_format, dilation_rate=dilation)
    x = np.random.default_rng(4).standard_normal(shape).astype("float32")
    spatial = shape[1:3] if data_format == "channels_last" else shape[2:]

    def torch_forward(x, kernel, bias):
        weight = kernel.permute(3, 2, 0, 1).contiguous()  # Keras (kh, kw, filters, in) -> torch (in, filters, kh, kw)
        full = F.conv_transpose2d(to_channels_first(x, data_format), weight, stride=strides, dilation=dilation)
        cropped = crop_full_transpose(full, spatial, kernel_size, strides, dilation, padding, output_padding)
        return from_channels_first(cropped + bias[None, :, None, None], data_format)

    compare_layer_with_torch(layer, x, torch_forward)


def test_conv1d_transpose_matches_torch():
    layer = Conv1DTranspose(3, 4, strides=2, padding="same")
    x = np.random.default_rng(5).standard_normal((2, 5, 2)).astype("float32")

    def torch_forward(x, kernel, bias):
        full = F.conv_transpose1d(x.permute(0, 2, 1), kernel.permute(2, 1, 0).contiguous(), stride=2)
        cropped = crop_full_transpose(full, (5,), (4,), (2,), (1,), "same", None)
        return (cropped + bias[None, :, None]).permute(0, 2, 1)

    compare_layer_with_torch(layer, x, torch_forward)


def test_conv1d_transpose_keras_result_by_hand():
    # Each input value stamps the (unflipped) kernel at stride 2: [1, 10, 100] and 2 * [1, 10, 100].
    layer = Conv1DTranspose(1, 3, strides=2, use_bias=False)
    layer.build((None, 2, 1))
    layer.set_weights([np.array([1.0, 10.0, 100.0], dtype="float32").reshape(3, 1, 1)])
    output = layer(np.array([1.0, 2.0], dtype="float32").reshape(1, 2, 1))
    np.testing.assert_array_equal(output.numpy().ravel(), [1.0, 10.0, 102.0, 20.0, 200.0])


# ----- depthwise and separable ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kernel_size, strides, padding, multiplier, dilation, data_format",
    [((3, 3), (1, 1), "valid", 1, (1, 1), "channels_last"), ((3, 2), (2, 2), "same", 2, (1, 1), "channels_last"),
     ((3, 3), (1, 1), "same", 3, (2, 2), "channels_first")],
)
def test_depthwise_conv2d_matches_torch(kernel_size, strides, padding, multiplier, dilation, data_format):
    layer = DepthwiseConv2D(kernel_size, strides=strides, padding=padding, depth_multiplier=multiplier,
                            data_format=data_format, dilation_rate=dilation, activation="relu")
    shape = (2, 7, 6, 3) if data_format == "channels_last" else (2, 3, 7, 6)
    x = np.random.default_rng(6).standard_normal(shape).astype("float32")

    def torch_forward(x, kernel, bias):
        channels = kernel.shape[2]
        # (kh, kw, C, m) -> (C * m, 1, kh, kw): output channel c * m + j.
        weight = kernel.reshape(kernel.shape[0], kernel.shape[1], 1, channels * multiplier).permute(3, 2, 0, 1)
        padded = torch_pad_spatial(to_channels_first(x, data_format), kernel_size, strides, dilation, padding)
        y = F.conv2d(padded, weight, bias, stride=strides, dilation=dilation, groups=channels)
        return from_channels_first(torch.relu(y), data_format)

    compare_layer_with_torch(layer, x, torch_forward)


def test_depthwise_channel_order_keras_result_by_hand():
    layer = DepthwiseConv2D(1, depth_multiplier=2, use_bias=False)
    layer.build((None, 1, 1, 2))
    kernel = np.array([[1.0, 2.0], [11.0, 12.0]], dtype="float32").reshape(1, 1, 2, 2)  # [channel, multiplier]
    layer.set_weights([kernel])
    x = np.array([1.0, 2.0], dtype="float32").reshape(1, 1, 1, 2)
    np.testing.assert_array_equal(layer(x).numpy().ravel(), [1.0, 2.0, 22.0, 24.0])


def test_depthwise_conv1d_matches_torch():
    layer = DepthwiseConv1D(3, depth_multiplier=2, padding="same")
    x = np.random.default_rng(7).standard_normal((2, 6, 2)).astype("float32")

    def torch_forward(x, kernel, bias):
        weight = kernel.reshape(3, 1, 4).permute(2, 1, 0)
        padded = torch_pad_spatial(x.permute(0, 2, 1), (3,), (1,), (1,), "same")
        return (F.conv1d(padded, weight, bias, groups=2)).permute(0, 2, 1)

    compare_layer_with_torch(layer, x, torch_forward)


@pytest.mark.parametrize("strides, padding, multiplier", [((1, 1), "valid", 1), ((2, 2), "same", 2)])
def test_separable_conv2d_matches_torch(strides, padding, multiplier):
    layer = SeparableConv2D(4, (3, 3), strides=strides, padding=padding, depth_multiplier=multiplier)
    x = np.random.default_rng(8).standard_normal((2, 7, 7, 3)).astype("float32")

    def torch_forward(x, depthwise, pointwise, bias):
        channels = depthwise.shape[2]
        depthwise_weight = depthwise.reshape(3, 3, 1, channels * multiplier).permute(3, 2, 0, 1)
        padded = torch_pad_spatial(x.permute(0, 3, 1, 2), (3, 3), strides, (1, 1), padding)
        middle = F.conv2d(padded, depthwise_weight, stride=strides, groups=channels)
        y = F.conv2d(middle, keras_kernel_to_torch(pointwise), bias)
        return y.permute(0, 2, 3, 1)

    compare_layer_with_torch(layer, x, torch_forward)


def test_separable_conv1d_matches_torch():
    layer = SeparableConv1D(3, 2, use_bias=False)
    x = np.random.default_rng(9).standard_normal((1, 5, 2)).astype("float32")

    def torch_forward(x, depthwise, pointwise):
        middle = F.conv1d(x.permute(0, 2, 1), depthwise.reshape(2, 1, 2).permute(2, 1, 0), groups=2)
        return F.conv1d(middle, keras_kernel_to_torch(pointwise)).permute(0, 2, 1)

    compare_layer_with_torch(layer, x, torch_forward)


# ----- Keras results for Keras-layout weights, by hand ---------------------------------------------------
IMAGE_A = np.array(
    [[1, 6, 2, 8, 1, 2, 7], [1, 6, 2, 8, 1, 2, 5], [0, 5, 8, 1, 5, 7, 1], [1, 7, 1, 3, 5, 8, 0],
     [5, 2, 4, 4, 5, 8, 4], [8, 2, 3, 7, 3, 8, 2], [1, 2, 3, 6, 5, 9, 6]], dtype="float32"
)


def test_lecture_golden_case_through_conv2d_set_weights():
    layer = Conv2D(1, 3, strides=2, use_bias=False)
    layer.build((None, 7, 7, 1))
    layer.set_weights([np.ones((3, 3, 1, 1), dtype="float32")])
    output = layer(IMAGE_A.reshape(1, 7, 7, 1)).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(output, [[31, 36, 31], [33, 36, 43], [30, 40, 50]])
    same = Conv2D(1, 3, padding="same", use_bias=False)
    same.build((None, 7, 7, 1))
    same.set_weights([np.ones((3, 3, 1, 1), dtype="float32")])
    corner = same(IMAGE_A.reshape(1, 7, 7, 1)).numpy()[0, :, :, 0]
    assert corner[0, 0] == 14 and corner[6, 6] == 25 and corner[1, 1] == 31


def test_keras_kernel_axes_are_height_width_in_out_by_hand():
    # kernel[row 0, column 2, in 1, out 0] = 1: output (i, j) reads input channel 1 at (i, j + 2);
    # out 1 gets bias 5 only. A layout mix-up (rows/columns or in/out) would give other numbers.
    layer = Conv2D(2, (2, 3))
    layer.build((None, 4, 5, 2))
    kernel = np.zeros((2, 3, 2, 2), dtype="float32")
    kernel[0, 2, 1, 0] = 1.0
    layer.set_weights([kernel, np.array([0.0, 5.0], dtype="float32")])
    x = np.arange(40, dtype="float32").reshape(1, 4, 5, 2)
    output = layer(x).numpy()[0]
    np.testing.assert_array_equal(output[..., 0], x[0, :3, 2:, 1])
    np.testing.assert_array_equal(output[..., 1], np.full((3, 3), 5.0))


def test_groups_keep_channel_groups_apart_by_hand():
    layer = Conv2D(2, 1, groups=2, use_bias=False)
    layer.build((None, 1, 1, 4))
    layer.set_weights([np.array([[1.0, 10.0], [100.0, 1000.0]], dtype="float32").reshape(1, 1, 2, 2)])
    x = np.array([1.0, 2.0, 3.0, 4.0], dtype="float32").reshape(1, 1, 1, 4)
    # filter 0 sees channels 0, 1 (weights 1, 100); filter 1 sees channels 2, 3 (weights 10, 1000).
    np.testing.assert_array_equal(layer(x).numpy().ravel(), [1 + 200, 30 + 4000])


# ----- harness ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layer_class, kwargs, input_shape, output_shape, trainable",
    [
        (Conv2D, {"filters": 6, "kernel_size": (5, 5), "activation": "tanh"}, (2, 12, 12, 1), (2, 8, 8, 6), 2),
        (Conv2D, {"filters": 4, "kernel_size": 3, "use_bias": False, "padding": "same", "groups": 2,
                  "kernel_regularizer": "l2", "kernel_constraint": "max_norm", "bias_initializer": "ones",
                  "activity_regularizer": {"class_name": "L1", "config": {"l1": 0.1}}}, (1, 5, 5, 2), (1, 5, 5, 4), 1),
        (Conv2D, {"filters": 3, "kernel_size": 3, "data_format": "channels_first", "strides": 2}, (1, 2, 7, 7),
         (1, 3, 3, 3), 2),
        (Conv1D, {"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 6, 3), (2, 6, 2), 2),
        (Conv3D, {"filters": 2, "kernel_size": 2}, (1, 3, 3, 3, 1), (1, 2, 2, 2, 2), 2),
        (Conv2DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 1},
         (1, 4, 4, 2), (1, 8, 8, 3), 2),
        (Conv1DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2}, (2, 4, 1), (2, 9, 2), 2),
        (DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 2, "depthwise_regularizer": "l1"}, (1, 5, 5, 3),
         (1, 3, 3, 6), 2),
        (DepthwiseConv1D, {"kernel_size": 2}, (1, 4, 2), (1, 3, 2), 2),
        (SeparableConv2D, {"filters": 4, "kernel_size": 3, "pointwise_constraint": "unit_norm"}, (1, 5, 5, 2),
         (1, 3, 3, 4), 3),
        (SeparableConv1D, {"filters": 4, "kernel_size": 3, "use_bias": False}, (1, 5, 2), (1, 3, 4), 2),
    ],
)
def test_conv_layers_pass_the_harness(layer_class, kwargs, input_shape, output_shape, trainable):
    run_layer_test(layer_class, kwargs, input_shape, expected_output_shape=output_shape,
                   expected_num_trainable_weights=trainable, expected_num_non_trainable_weights=0)


def test_lenet_parameter_counts_and_shapes():
    conv1 = Conv2D(6, kernel_size=(5, 5), strides=(1, 1), activation="tanh", input_shape=(28, 28, 1), padding="valid")
    conv2 = Conv2D(16, kernel_size=(5, 5), strides=(1, 1), activation="tanh", padding="valid")
    assert conv1.compute_output_shape((None, 28, 28, 1)) == (None, 24, 24, 6)
    conv1.build((None, 28, 28, 1))
    conv2.build((None, 12, 12, 6))
    assert (conv1.count_params(), conv2.count_params()) == (156, 2416)
    assert conv2.compute_output_shape((None, 12, 12, 6)) == (None, 8, 8, 16)


def test_keras_default_arguments_and_weight_layouts():
    layer = Conv2D(8, 3)
    assert (layer.strides, layer.padding, layer.data_format, layer.dilation_rate, layer.groups, layer.use_bias) == (
        (1, 1), "valid", "channels_last", (1, 1), 1, True)
    config = layer.get_config()
    # Keras 3's serialized form (module and registered_name included)
    assert config["kernel_initializer"] == {"module": "keras.initializers", "class_name": "GlorotUniform",
                                            "config": {"seed": None}, "registered_name": None}
    assert config["bias_initializer"] == {"module": "keras.initializers", "class_name": "Zeros", "config": {},
                                          "registered_name": None}
    assert config["activation"] == "linear"
    layer.build((None, 9, 9, 4))
    assert layer.kernel.shape == (3, 3, 4, 8) and layer.bias.shape == (8,)
    transpose = Conv2DTranspose(8, (3, 2))
    transpose.build((None, 5, 5, 4))
    assert transpose.kernel.shape == (3, 2, 8, 4)
    separable = SeparableConv2D(8, 3, depth_multiplier=2)
    separable.build((None, 5, 5, 4))
    assert [w.name for w in separable.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert separable.pointwise_kernel.shape == (1, 1, 8, 8)


def test_unbatched_or_mismatched_input_errors_name_shapes():
    layer = Conv2D(2, 3)
    with pytest.raises(ValueError, match=r"expected ndim=4 \(batch, height, width, channels\).*\(28, 28, 1\)"):
        layer(np.zeros((28, 28, 1), dtype="float32"))
    with pytest.raises(ValueError, match=r"kernel.*does not fit.*\(None, 2, 2, 1\)"):
        layer.build((None, 2, 2, 1))
    grouped = Conv2D(4, 3, groups=2)
    with pytest.raises(ValueError, match="groups=2, but the input has 3 channels"):
        grouped(np.zeros((1, 5, 5, 3), dtype="float32"))
    with pytest.raises(ValueError, match="channel dimension"):
        Conv2D(2, 3).build((None, 5, 5, None))


# ----- bad constructor arguments ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Conv2D(0, 3), ValueError, "Received: filters=0"),
        (lambda: Conv2D(-2, 3), ValueError, "Received: filters=-2"),
        (lambda: Conv2D(2.5, 3), TypeError, "Received: filters=2.5"),
        (lambda: Conv2D(True, 3), TypeError, "filters"),
        (lambda: Conv2D(4, 0), ValueError, "kernel_size"),
        (lambda: Conv2D(4, (3,)), ValueError, "kernel_size"),
        (lambda: Conv2D(4, 3.5), TypeError, "kernel_size"),
        (lambda: Conv2D(4, 3, strides=0), ValueError, "strides"),
        (lambda: Conv2D(4, 3, strides=(1, 2, 3)), ValueError, "strides"),
        (lambda: Conv2D(4, 3, padding="full"), ValueError, "Received: padding='full'"),
        (lambda: Conv2D(4, 3, padding="causal"), ValueError, "padding"),
        (lambda: Conv2D(4, 3, padding=1), ValueError, "padding"),
        (lambda: Conv2D(4, 3, data_format="NHWC"), ValueError, "data_format"),
        (lambda: Conv2D(4, 3, dilation_rate=0), ValueError, "dilation_rate"),
        (lambda: Conv2D(4, 3, groups=0), ValueError, "Received: groups=0"),
        (lambda: Conv2D(6, 3, groups=4), ValueError, "groups=4, filters=6"),
        (lambda: Conv2D(4, 3, activation="relux"), ValueError, "relux"),
        (lambda: Conv2D(4, 3, use_bias="yes"), TypeError, "use_bias"),
        (lambda: Conv2D(4, 3, kernel_initializer="glorot"), ValueError, "glorot"),
        (lambda: Conv2D(4, 3, bias_initializer=5), ValueError, "initializer"),
        (lambda: Conv2D(4, 3, kernel_regularizer="l3"), ValueError, "l3"),
        (lambda: Conv2D(4, 3, bias_regularizer=1.5), ValueError, "regularizer"),
        (lambda: Conv2D(4, 3, activity_regularizer="l0"), ValueError, "l0"),
        (lambda: Conv2D(4, 3, kernel_constraint="positive"), ValueError, "positive"),
        (lambda: Conv2D(4, 3, bias_constraint=3), ValueError, "constraint"),
        (lambda: Conv2D(4, 3, kernel_sise=3), TypeError, "kernel_sise"),
        (lambda: Conv1D(4, 3, padding="full"), ValueError, "padding"),
        (lambda: Conv2DTranspose(4, 3, strides=2, output_padding=2), ValueError, "output_padding"),
        (lambda: Conv2DTranspose(4, 3, output_padding=-1), ValueError, "output_padding"),
        (lambda: Conv2DTranspose(0, 3), ValueError, "Received: filters=0"),
        (lambda: Conv2DTranspose(4, 3, padding="causal"), ValueError, "padding"),
        (lambda: DepthwiseConv2D(3, depth_multiplier=0), ValueError, "Received: depth_multiplier=0"),
        (lambda: DepthwiseConv2D(3, depthwise_initializer="nope"), ValueError, "nope"),
        (lambda: SeparableConv2D(0, 3), ValueError, "Received: filters=0"),
        (lambda: SeparableConv2D(4, 3, depth_multiplier=1.5), TypeError, "depth_multiplier"),
        (lambda: SeparableConv2D(4, 3, pointwise_regularizer="x"), ValueError, "regularizer"),
    ],
)
def test_bad_constructor_arguments_raise_in_init(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_custom_callables_work_but_cannot_be_serialized():
    layer = Conv2D(2, 3, kernel_initializer=lambda shape, dtype=None: np.ones(shape, dtype=dtype))
    layer.build((None, 4, 4, 1))
    assert layer.kernel.numpy().sum() == 18
    with pytest.raises(TypeError, match="kernel_initializer"):
        layer.get_config()


@pytest.mark.parametrize("layer", [
    Conv2D(2, (2, 3), strides=(2, 1), padding="same", activation="tanh", dtype="float64"),
    Conv2DTranspose(2, 3, strides=2, dtype="float64"),
    SeparableConv2D(2, 2, depth_multiplier=2, dtype="float64"),
])
def test_float64_layer_input_gradients_match_central_differences(layer):
    x = np.random.default_rng(10).standard_normal((1, 4, 3, 2))
    layer.build((None, 4, 3, 2))
    assert layer.weights[0].dtype == np.float64
    check_finite_differences(lambda t: layer(t), [x])


def test_float32_stays_float32_through_every_conv_layer():
    x = np.random.default_rng(11).standard_normal((1, 6, 6, 2)).astype("float32")
    for layer in (Conv2D(2, 3), Conv2DTranspose(2, 3), DepthwiseConv2D(3), SeparableConv2D(2, 3)):
        inputs = Tensor(x, requires_grad=True)
        output = layer(inputs, training=True)
        output.backward(np.ones(output.shape, dtype="float32"))
        assert output.dtype == np.float32 and inputs.grad.dtype == np.float32
        assert all(w.grad.dtype == np.float32 for w in layer.trainable_weights)
