"""Pooling layers against PyTorch, the lecture's golden case, the harness and bad arguments."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit import layers
from cnnkit.layers import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from harness import compare_layer_with_torch, run_layer_test


def same_pairs(spatial, pool_size, strides):
    """TensorFlow's 'same' pads, written out from the definition (output ceil(n / s))."""
    pairs = []
    for size, pool, stride in zip(spatial, pool_size, strides):
        total = max((math.ceil(size / stride) - 1) * stride + pool - size, 0)
        pairs.append((total // 2, total - total // 2))
    return [amount for pair in reversed(pairs) for amount in pair]


def torch_pool(x, mode, pool_size, strides, padding):
    """Keras's pooling in torch on (N, C, *spatial): max pads with -inf, average divides by real cells."""
    rank = x.ndim - 2
    pool_function = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d,
                      ("average", 1): F.avg_pool1d, ("average", 2): F.avg_pool2d}[(mode, rank)]
    if padding == "valid":
        return pool_function(x, pool_size, strides)
    pads = same_pairs(x.shape[2:], pool_size, strides)
    if mode == "max":
        return pool_function(F.pad(x, pads, value=-math.inf), pool_size, strides)
    sums = pool_function(F.pad(x, pads), pool_size, strides)
    counts = pool_function(F.pad(torch.ones_like(x), pads), pool_size, strides)
    return sums / counts


def channels_first(x, data_format):
    return x if data_format == "channels_first" else x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def channels_last(y, data_format):
    return y if data_format == "channels_first" else y.permute(0, *range(2, y.ndim), 1)


POOL2D_CASES = [
    # mode, pool, strides, padding, data_format, shape
    ("max", (2, 2), None, "valid", "channels_last", (2, 6, 6, 3)),
    ("max", (3, 3), (2, 2), "same", "channels_last", (1, 7, 8, 2)),
    ("max", (2, 3), (1, 2), "valid", "channels_first", (2, 2, 5, 7)),
    ("average", (2, 2), (2, 2), "valid", "channels_last", (2, 24, 24, 6)),
    ("average", (3, 3), (2, 2), "same", "channels_last", (1, 7, 7, 2)),
    ("average", (2, 3), None, "same", "channels_first", (1, 3, 5, 7)),
]


@pytest.mark.parametrize("mode, pool_size, strides, padding, data_format, shape", POOL2D_CASES)
def test_pool2d_matches_torch(mode, pool_size, strides, padding, data_format, shape):
    layer_class = MaxPooling2D if mode == "max" else AveragePooling2D
    layer = layer_class(pool_size, strides=strides, padding=padding, data_format=data_format)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    effective_strides = strides or pool_size

    def torch_forward(x):
        pooled = torch_pool(channels_first(x, data_format), mode, pool_size, effective_strides, padding)
        return channels_last(pooled, data_format)

    output = compare_layer_with_torch(layer, x, torch_forward)
    assert output.shape[1:] == layer.compute_output_shape((None,) + shape[1:])[1:]


@pytest.mark.parametrize("mode, padding", [("max", "valid"), ("max", "same"), ("average", "same")])
def test_pool1d_matches_torch(mode, padding):
    layer_class = MaxPooling1D if mode == "max" else AveragePooling1D
    layer = layer_class(3, strides=2, padding=padding)
    x = np.random.default_rng(1).standard_normal((2, 8, 3)).astype("float32")

    def torch_forward(x):
        return torch_pool(x.permute(0, 2, 1), mode, (3,), (2,), padding).permute(0, 2, 1)

    compare_layer_with_torch(layer, x, torch_forward)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_2d_matches_torch(data_format, keepdims):
    x = np.random.default_rng(2).standard_normal((2, 5, 4, 3)).astype("float32")
    axes = (1, 2) if data_format == "channels_last" else (2, 3)
    compare_layer_with_torch(GlobalAveragePooling2D(data_format=data_format, keepdims=keepdims), x,
                             lambda t: t.mean(dim=axes, keepdim=keepdims))
    compare_layer_with_torch(GlobalMaxPooling2D(data_format=data_format, keepdims=keepdims), x,
                             lambda t: t.amax(dim=axes, keepdim=keepdims))


def test_global_pooling_1d_matches_torch():
    x = np.random.default_rng(3).standard_normal((2, 6, 3)).astype("float32")
    compare_layer_with_torch(GlobalAveragePooling1D(), x, lambda t: t.mean(dim=1))
    compare_layer_with_torch(GlobalMaxPooling1D(keepdims=True), x, lambda t: t.amax(dim=1, keepdim=True))


def test_lecture_max_pool_golden_case():
    image = np.array(
        [[1, 6, 2, 8, 1, 2, 7], [1, 6, 2, 8, 1, 2, 5], [0, 5, 8, 1, 5, 7, 1], [1, 7, 1, 3, 5, 8, 0],
         [5, 2, 4, 4, 5, 8, 4], [8, 2, 3, 7, 3, 8, 2], [1, 2, 3, 6, 5, 9, 6]], dtype="float32").reshape(1, 7, 7, 1)
    output = MaxPooling2D(pool_size=(2, 2), strides=2, padding="valid")(image).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(output, [[6, 8, 2], [7, 8, 8], [8, 7, 8]])


def test_same_average_pooling_counts_real_cells_only_by_hand():
    x = np.arange(1, 5, dtype="float32").reshape(1, 2, 2, 1)  # [[1, 2], [3, 4]]
    output = AveragePooling2D(pool_size=2, strides=1, padding="same")(x).numpy()[0, :, :, 0]
    # The last row/column windows see 2 and 1 real cells: (2 + 4) / 2, (3 + 4) / 2, 4 / 1.
    np.testing.assert_allclose(output, [[2.5, 3.0], [3.5, 4.0]])


@pytest.mark.parametrize(
    "layer_class, kwargs, input_shape, output_shape",
    [
        (MaxPooling2D, {}, (2, 6, 6, 3), (2, 3, 3, 3)),
        (MaxPooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}, (1, 7, 7, 2), (1, 4, 4, 2)),
        (AveragePooling2D, {"pool_size": (2, 2), "strides": (2, 2), "padding": "valid"}, (2, 24, 24, 6),
         (2, 12, 12, 6)),
        (AveragePooling2D, {"data_format": "channels_first"}, (1, 3, 5, 5), (1, 3, 2, 2)),
        (MaxPooling1D, {"pool_size": 2}, (2, 7, 3), (2, 3, 3)),
        (AveragePooling1D, {"padding": "same"}, (2, 7, 3), (2, 4, 3)),
        (GlobalAveragePooling2D, {}, (2, 4, 4, 3), (2, 3)),
        (GlobalMaxPooling2D, {"keepdims": True}, (2, 4, 4, 3), (2, 1, 1, 3)),
        (GlobalAveragePooling1D, {"data_format": "channels_first"}, (2, 3, 5), (2, 3)),
        (GlobalMaxPooling1D, {}, (2, 5, 3), (2, 3)),
    ],
)
def test_pooling_layers_pass_the_harness(layer_class, kwargs, input_shape, output_shape):
    run_layer_test(layer_class, kwargs, input_shape, expected_output_shape=output_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0)


def test_keras_defaults_and_aliases():
    layer = MaxPooling2D()
    assert (layer.pool_size, layer.strides, layer.padding, layer.data_format) == ((2, 2), (2, 2), "valid",
                                                                                 "channels_last")
    assert MaxPooling1D().pool_size == (2,) and AveragePooling2D(3).strides == (3, 3)
    assert layers.MaxPool2D is MaxPooling2D and layers.AvgPool2D is AveragePooling2D
    assert layers.MaxPool1D is MaxPooling1D and layers.AvgPool1D is AveragePooling1D
    assert layers.GlobalAvgPool2D is GlobalAveragePooling2D and layers.GlobalMaxPool1D is GlobalMaxPooling1D
    assert MaxPooling2D().get_config()["strides"] == (2, 2)


def test_wrong_rank_and_too_small_input():
    with pytest.raises(ValueError, match=r"expected ndim=4.*found ndim=3.*\(6, 6, 3\)"):
        MaxPooling2D()(np.zeros((6, 6, 3), dtype="float32"))
    with pytest.raises(ValueError, match="pool_size"):
        MaxPooling2D(pool_size=4).compute_output_shape((None, 3, 3, 1))
    with pytest.raises(ValueError, match="ndim=3"):
        GlobalAveragePooling1D()(np.zeros((2, 4, 4, 3), dtype="float32"))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: MaxPooling2D(pool_size=0), ValueError, "pool_size"),
        (lambda: MaxPooling2D(pool_size=(2, 2, 2)), ValueError, "pool_size"),
        (lambda: MaxPooling2D(pool_size=2.0), TypeError, "pool_size"),
        (lambda: AveragePooling2D(strides=0), ValueError, "strides"),
        (lambda: AveragePooling2D(padding="causal"), ValueError, "Received: padding='causal'"),
        (lambda: MaxPooling1D(data_format="NWC"), ValueError, "data_format"),
        (lambda: AveragePooling1D(pool_size=-1), ValueError, "pool_size"),
        (lambda: GlobalAveragePooling2D(keepdims="yes"), TypeError, "keepdims"),
        (lambda: GlobalMaxPooling2D(data_format="channels_middle"), ValueError, "data_format"),
        (lambda: MaxPooling2D(poolsize=2), TypeError, "poolsize"),
    ],
)
def test_bad_constructor_arguments_raise_in_init(make, error, match):
    with pytest.raises(error, match=match):
        make()
