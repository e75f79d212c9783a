"""cnnkit.layers against Keras 3's layer API, written down from Keras 3's source (keras/src/layers):

- every layer's constructor: argument names, order and defaults;
- get_config as Keras produces it (Keras's serialized initializers, activation names, tuples),
  and from_config accepting a config written by Keras (dtype policy dict, lists for tuples);
- compute_output_shape on odd configurations against Keras's shape formulas (computed here
  independently), and against the real output;
- automatic names ('conv2d', 'conv2d_1', ...), the activation layers (ReLU, LeakyReLU, Softmax,
  ELU, PReLU) against PyTorch, and Keras's base-layer behaviour (unknown keyword arguments, the
  activity regularizer in the config, custom activations, empty batches).
"""
import inspect
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit import Tensor, activations
from cnnkit import layers as L
from cnnkit.layers import LAYER_REGISTRY, clear_session

from oracle import compare_with_torch

REQUIRED = inspect.Parameter.empty

_CONV_TAIL = [
    ("activation", None), ("use_bias", True), ("kernel_initializer", "glorot_uniform"),
    ("bias_initializer", "zeros"), ("kernel_regularizer", None), ("bias_regularizer", None),
    ("activity_regularizer", None), ("kernel_constraint", None), ("bias_constraint", None),
]


def _conv(ones):
    return [("filters", REQUIRED), ("kernel_size", REQUIRED), ("strides", ones), ("padding", "valid"),
            ("data_format", None), ("dilation_rate", ones), ("groups", 1), *_CONV_TAIL]


def _conv_transpose(ones):
    return [("filters", REQUIRED), ("kernel_size", REQUIRED), ("strides", ones), ("padding", "valid"),
            ("output_padding", None), ("data_format", None), ("dilation_rate", ones), *_CONV_TAIL]


def _depthwise(ones):
    return [("kernel_size", REQUIRED), ("strides", ones), ("padding", "valid"), ("depth_multiplier", 1),
            ("data_format", None), ("dilation_rate", ones), ("activation", None), ("use_bias", True),
            ("depthwise_initializer", "glorot_uniform"), ("bias_initializer", "zeros"),
            ("depthwise_regularizer", None), ("bias_regularizer", None), ("activity_regularizer", None),
            ("depthwise_constraint", None), ("bias_constraint", None)]


def _separable(ones):
    return [("filters", REQUIRED), ("kernel_size", REQUIRED), ("strides", ones), ("padding", "valid"),
            ("data_format", None), ("dilation_rate", ones), ("depth_multiplier", 1), ("activation", None),
            ("use_bias", True), ("depthwise_initializer", "glorot_uniform"),
            ("pointwise_initializer", "glorot_uniform"), ("bias_initializer", "zeros"),
            ("depthwise_regularizer", None), ("pointwise_regularizer", None), ("bias_regularizer", None),
            ("activity_regularizer", None), ("depthwise_constraint", None), ("pointwise_constraint", None),
            ("bias_constraint", None)]


def _pooling(pool):
    return [("pool_size", pool), ("strides", None), ("padding", "valid"), ("data_format", None), ("name", None)]


_GLOBAL = [("data_format", None), ("keepdims", False)]
_AFFINE_TAIL = [("fill_mode", "reflect"), ("interpolation", "bilinear"), ("seed", None), ("fill_value", 0.0),
                ("data_format", None)]

# Keras 3's constructor parameters (before **kwargs), in order, with their defaults.
KERAS_SIGNATURES = {
    L.Conv1D: _conv(1), L.Conv2D: _conv((1, 1)), L.Conv3D: _conv((1, 1, 1)),
    L.Conv1DTranspose: _conv_transpose(1), L.Conv2DTranspose: _conv_transpose((1, 1)),
    L.DepthwiseConv1D: _depthwise(1), L.DepthwiseConv2D: _depthwise((1, 1)),
    L.SeparableConv1D: _separable(1), L.SeparableConv2D: _separable((1, 1)),
    L.MaxPooling1D: _pooling(2), L.MaxPooling2D: _pooling((2, 2)),
    L.AveragePooling1D: _pooling(2), L.AveragePooling2D: _pooling((2, 2)),
    L.GlobalAveragePooling1D: _GLOBAL, L.GlobalAveragePooling2D: _GLOBAL,
    L.GlobalMaxPooling1D: _GLOBAL, L.GlobalMaxPooling2D: _GLOBAL,
    L.Dense: [("units", REQUIRED), *_CONV_TAIL, ("lora_rank", None), ("lora_alpha", None),
              ("quantization_config", None)],
    L.Flatten: [("data_format", None)],
    L.Dropout: [("rate", REQUIRED), ("noise_shape", None), ("seed", None)],
    L.Activation: [("activation", REQUIRED)],
    L.BatchNormalization: [
        ("axis", -1), ("momentum", 0.99), ("epsilon", 1e-3), ("center", True), ("scale", True),
        ("beta_initializer", "zeros"), ("gamma_initializer", "ones"), ("moving_mean_initializer", "zeros"),
        ("moving_variance_initializer", "ones"), ("beta_regularizer", None), ("gamma_regularizer", None),
        ("beta_constraint", None), ("gamma_constraint", None), ("synchronized", False)],
    L.ZeroPadding1D: [("padding", 1), ("data_format", None)],
    L.ZeroPadding2D: [("padding", (1, 1)), ("data_format", None)],
    L.Reshape: [("target_shape", REQUIRED)],
    L.Rescaling: [("scale", REQUIRED), ("offset", 0.0)],
    L.Normalization: [("axis", -1), ("mean", None), ("variance", None), ("invert", False)],
    L.RandomFlip: [("mode", "horizontal_and_vertical"), ("seed", None), ("data_format", None)],
    L.RandomTranslation: [("height_factor", REQUIRED), ("width_factor", REQUIRED), *_AFFINE_TAIL],
    L.RandomRotation: [("factor", REQUIRED), *_AFFINE_TAIL],
    L.RandomZoom: [("height_factor", REQUIRED), ("width_factor", None), *_AFFINE_TAIL],
    L.InputLayer: [("shape", None), ("batch_size", None), ("dtype", None), ("sparse", None), ("ragged", None),
                   ("batch_shape", None), ("input_tensor", None), ("optional", False), ("name", None)],
    L.Input: [("shape", None), ("batch_size", None), ("dtype", None), ("sparse", None), ("ragged", None),
              ("batch_shape", None), ("name", None), ("tensor", None), ("optional", False)],
    L.ReLU: [("max_value", None), ("negative_slope", 0.0), ("threshold", 0.0)],
    L.LeakyReLU: [("negative_slope", 0.3)],
    L.Softmax: [("axis", -1)],
    L.ELU: [("alpha", 1.0)],
    L.PReLU: [("alpha_initializer", "Zeros"), ("alpha_regularizer", None), ("alpha_constraint", None),
              ("shared_axes", None)],
}


@pytest.mark.parametrize("layer_class", list(KERAS_SIGNATURES), ids=lambda c: c.__name__)
def test_constructor_arguments_names_order_and_defaults_are_keras_3s(layer_class):
    parameters = [p for p in inspect.signature(layer_class).parameters.values()
                  if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    ours = [(p.name, p.default) for p in parameters]
    assert ours == KERAS_SIGNATURES[layer_class]


def test_every_public_layer_class_is_in_the_registry_with_keras_aliases():
    for layer_class in KERAS_SIGNATURES:
        if isinstance(layer_class, type):
            assert LAYER_REGISTRY[layer_class.__name__] is layer_class
    for alias, name in [("MaxPool2D", "MaxPooling2D"), ("AvgPool1D", "AveragePooling1D"),
                        ("GlobalAvgPool2D", "GlobalAveragePooling2D"), ("Convolution2D", "Conv2D"),
                        ("Convolution2DTranspose", "Conv2DTranspose")]:
        assert getattr(L, alias) is getattr(L, name) and LAYER_REGISTRY[alias] is getattr(L, name)


# ----- configs -------------------------------------------------------------------------------------
def _keras_initializer(class_name, config=None):
    return {"module": "keras.initializers", "class_name": class_name, "config": config or {},
            "registered_name": None}


def test_conv2d_config_is_keras_3s():
    clear_session()
    config = L.Conv2D(8, 3, activation="relu").get_config()
    expected = {
        "name": "conv2d", "trainable": True, "filters": 8, "kernel_size": (3, 3), "strides": (1, 1),
        "padding": "valid", "data_format": "channels_last", "dilation_rate": (1, 1), "groups": 1,
        "activation": "relu", "use_bias": True,
        "kernel_initializer": _keras_initializer("GlorotUniform", {"seed": None}),
        "bias_initializer": _keras_initializer("Zeros"),
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None,
    }
    assert config.pop("dtype") == "float32"  # Keras 3 writes a DTypePolicy dict here; both are read back
    assert config == expected


def test_dense_batchnorm_pooling_dropout_configs_are_keras_3s():
    dense = L.Dense(4, kernel_regularizer="l2", kernel_constraint="max_norm").get_config()
    assert dense["kernel_regularizer"] == {"module": "keras.regularizers", "class_name": "L2",
                                           "config": {"l2": 0.01}, "registered_name": None}
    assert dense["kernel_constraint"]["module"] == "keras.constraints"
    assert dense["kernel_constraint"]["class_name"] == "MaxNorm"
    assert dense["activation"] == "linear" and dense["units"] == 4
    norm = L.BatchNormalization().get_config()
    assert {key: norm[key] for key in ("axis", "momentum", "epsilon", "center", "scale", "synchronized")} == {
        "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True, "synchronized": False}
    assert norm["gamma_initializer"] == _keras_initializer("Ones")
    assert norm["moving_variance_initializer"] == _keras_initializer("Ones")
    pool = L.MaxPooling2D(3).get_config()
    assert (pool["pool_size"], pool["strides"], pool["padding"], pool["data_format"]) == (
        (3, 3), (3, 3), "valid", "channels_last")
    assert L.MaxPooling1D().get_config()["pool_size"] == (2,)
    dropout = L.Dropout(0.25, noise_shape=(None, 1), seed=3).get_config()
    assert (dropout["rate"], dropout["noise_shape"], dropout["seed"]) == (0.25, (None, 1), 3)
    padding = L.ZeroPadding2D(2).get_config()["padding"]
    assert padding == ((2, 2), (2, 2))
    assert L.ZeroPadding2D((1, 2)).get_config()["padding"] == ((1, 1), (2, 2))
    assert L.ZeroPadding1D(3).get_config()["padding"] == (3, 3)
    assert L.GlobalAveragePooling2D(keepdims=True).get_config()["keepdims"] is True


def test_input_layer_config_has_keras_3s_keys():
    layer = L.Input(shape=(28, 28, 1), name="pixels")
    config = layer.get_config()
    assert config == {"batch_shape": (None, 28, 28, 1), "dtype": "float32", "sparse": False, "ragged": False,
                      "name": "pixels", "optional": False, "trainable": True}
    rebuilt = L.InputLayer.from_config(json.loads(json.dumps(config)))
    assert rebuilt.batch_shape == (None, 28, 28, 1)
    # Keras's deprecated spellings
    assert L.InputLayer(input_shape=(3,)).batch_shape == (None, 3)
    assert L.InputLayer(batch_input_shape=(4, 3)).batch_shape == (4, 3)
    assert L.Input(shape=(3,), ragged=None, sparse=False).shape == (None, 3)


def test_from_config_accepts_configs_written_by_keras():
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    conv_config = {
        "name": "conv2d_from_keras", "trainable": True, "dtype": policy, "filters": 4, "kernel_size": [3, 3],
        "strides": [2, 2], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1],
        "groups": 1, "activation": "relu", "use_bias": True,
        "kernel_initializer": _keras_initializer("HeNormal", {"seed": 5}),
        "bias_initializer": _keras_initializer("Zeros"),
        "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.001},
                               "registered_name": None},
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None,
    }
    conv = L.Conv2D.from_config(conv_config)
    assert (conv.kernel_size, conv.strides, conv.padding, conv.dtype) == ((3, 3), (2, 2), "same", "float32")
    assert type(conv.kernel_initializer).__name__ == "HeNormal" and conv.kernel_initializer.seed == 5
    assert conv.kernel_regularizer.l2 == pytest.approx(0.001)
    assert conv(np.zeros((1, 7, 7, 2), np.float32)).shape == (1, 4, 4, 4)

    dense = L.Dense.from_config({"name": "dense_from_keras", "trainable": False, "dtype": policy, "units": 3,
                                 "activation": "softmax", "use_bias": False,
                                 "kernel_initializer": _keras_initializer("GlorotUniform", {"seed": None}),
                                 "bias_initializer": _keras_initializer("Zeros"), "kernel_regularizer": None,
                                 "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
                                 "lora_rank": None, "quantization_config": None})
    assert (dense.units, dense.use_bias, dense.trainable) == (3, False, False)
    norm = L.BatchNormalization.from_config({"name": "bn_from_keras", "trainable": True, "dtype": policy,
                                             "axis": 1, "momentum": 0.9, "epsilon": 1e-5, "center": True,
                                             "scale": False, "synchronized": False,
                                             "beta_initializer": _keras_initializer("Zeros")})
    assert (norm.axis, norm.momentum, norm.epsilon, norm.scale) == (1, 0.9, 1e-5, False)
    pool = L.MaxPooling2D.from_config({"name": "pool_from_keras", "trainable": True, "dtype": policy,
                                       "pool_size": [2, 2], "padding": "valid", "strides": [1, 1],
                                       "data_format": "channels_last"})
    assert pool.compute_output_shape((None, 5, 5, 3)) == (None, 4, 4, 3)
    # ... and the short {'class_name', 'config'} form
    short = L.Conv2D.from_config({**conv_config, "name": "conv2d_short",
                                  "kernel_initializer": {"class_name": "Ones", "config": {}}})
    assert type(short.kernel_initializer).__name__ == "Ones"


def _every_layer():
    """One instance of every registered layer class (non-default arguments where they exist)."""
    return [
        L.Conv1D(2, 3, padding="causal"), L.Conv2D(2, 3, strides=2, groups=1), L.Conv3D(2, 2),
        L.Conv1DTranspose(2, 3, strides=2, output_padding=1), L.Conv2DTranspose(2, 3, padding="same"),
        L.DepthwiseConv1D(3, depth_multiplier=2), L.DepthwiseConv2D(3), L.SeparableConv1D(3, 2),
        L.SeparableConv2D(3, 2, depth_multiplier=2), L.MaxPooling1D(3), L.MaxPooling2D((2, 3), strides=1),
        L.AveragePooling1D(padding="same"), L.AveragePooling2D(), L.GlobalAveragePooling1D(keepdims=True),
        L.GlobalAveragePooling2D(), L.GlobalMaxPooling1D(), L.GlobalMaxPooling2D(data_format="channels_first"),
        L.Dense(3, activation="gelu", kernel_regularizer="l1"), L.Flatten(), L.Dropout(0.5, seed=1),
        L.Activation("softmax"), L.BatchNormalization(momentum=0.9), L.ZeroPadding1D((1, 2)),
        L.ZeroPadding2D(((1, 0), (2, 3))), L.Reshape((-1, 2)), L.Rescaling(1 / 255, offset=-1),
        L.Normalization(mean=2.0, variance=4.0), L.RandomFlip("horizontal", seed=2),
        L.RandomTranslation(0.1, (-0.2, 0.3)), L.RandomRotation(0.2), L.RandomZoom(0.1, 0.2),
        L.InputLayer(shape=(4,)), L.ReLU(max_value=6.0, threshold=0.5), L.LeakyReLU(0.1), L.Softmax(axis=[1, 2]),
        L.ELU(alpha=0.5), L.PReLU(shared_axes=[1]),
    ]


def test_every_layer_config_round_trips_through_json():
    layers = _every_layer()
    assert {type(layer).__name__ for layer in layers} == {cls.__name__ for cls in set(LAYER_REGISTRY.values())}
    for layer in layers:
        config = json.loads(json.dumps(layer.get_config()))
        rebuilt = type(layer).from_config(config)
        assert json.loads(json.dumps(rebuilt.get_config())) == config, type(layer).__name__


def test_base_config_carries_the_activity_regularizer_as_keras():
    layer = L.Flatten(activity_regularizer="l2")
    config = layer.get_config()
    assert config["activity_regularizer"] == {"module": "keras.regularizers", "class_name": "L2",
                                              "config": {"l2": 0.01}, "registered_name": None}
    rebuilt = L.Flatten.from_config(json.loads(json.dumps(config)))
    rebuilt(np.ones((2, 3), np.float32))
    assert float(rebuilt.losses[0].numpy()) == pytest.approx(0.01 * 3)  # l2 * sum(x^2) / batch = 0.01 * 6 / 2
    assert "activity_regularizer" not in L.Flatten().get_config()


def test_custom_activation_callables_work_but_cannot_be_serialized():
    layer = L.Dense(2, activation=lambda x: x * 2.0, kernel_initializer="ones")
    np.testing.assert_allclose(layer(np.ones((1, 3), np.float32)).numpy(), [[6.0, 6.0]])
    conv = L.Conv1D(1, 1, activation=activations.relu)
    assert conv.get_config()["activation"] == "relu"
    with pytest.raises(TypeError, match="activation="):
        layer.get_config()


# ----- shapes --------------------------------------------------------------------------------------
def _keras_conv_length(n, k, s, d, padding):
    """Keras's compute_conv_output_shape for one axis."""
    if padding == "valid":
        return math.floor((n - d * (k - 1) - 1) / s) + 1
    return math.floor((n - 1) / s) + 1  # 'same' and 'causal'


def _keras_deconv_length(n, k, s, d, padding, output_padding):
    """Keras's deconv_output_length for one axis."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + output_padding


CONV_CASES = [  # (size, kernel, stride, dilation, padding)
    (7, 3, 1, 1, "valid"), (7, 3, 2, 1, "same"), (8, 3, 3, 1, "same"), (9, 2, 2, 1, "valid"),
    (10, 3, 1, 2, "same"), (11, 4, 1, 3, "valid"), (5, 5, 1, 1, "valid"), (6, 4, 3, 1, "same"),
    (1, 3, 2, 1, "same"), (13, 2, 3, 2, "valid"),
]


@pytest.mark.parametrize("size, kernel, stride, dilation, padding", CONV_CASES)
def test_conv_output_shapes_follow_keras_formula_and_real_output(size, kernel, stride, dilation, padding):
    expected = _keras_conv_length(size, kernel, stride, dilation, padding)
    layer = L.Conv2D(2, (kernel, 1), strides=(stride, 1), padding=padding, dilation_rate=(dilation, 1))
    assert layer.compute_output_shape((None, size, 3, 1)) == (None, expected, 3, 2)
    assert layer(np.zeros((1, size, 3, 1), np.float32)).shape == (1, expected, 3, 2)
    first = L.Conv2D(2, (kernel, 1), strides=(stride, 1), padding=padding, dilation_rate=(dilation, 1),
                     data_format="channels_first")
    assert first.compute_output_shape((None, 1, size, 3)) == (None, 2, expected, 3)
    if padding == "same":
        causal = L.Conv1D(2, kernel, strides=stride, padding="causal", dilation_rate=dilation)
        assert causal.compute_output_shape((None, size, 1)) == (None, expected, 2)
        assert causal(np.zeros((1, size, 1), np.float32)).shape == (1, expected, 2)
    depthwise = L.DepthwiseConv1D(kernel, strides=stride, padding=padding, dilation_rate=dilation,
                                  depth_multiplier=3)
    assert depthwise.compute_output_shape((None, size, 2)) == (None, expected, 6)
    assert depthwise(np.zeros((2, size, 2), np.float32)).shape == (2, expected, 6)


@pytest.mark.parametrize("size, kernel, stride, dilation, padding, output_padding", [
    (4, 3, 2, 1, "valid", None), (4, 3, 2, 1, "same", None), (5, 2, 3, 1, "valid", None), (5, 4, 1, 1, "same", None),
    (3, 3, 2, 2, "valid", None), (4, 3, 2, 1, "same", 1), (4, 3, 3, 1, "valid", 2), (3, 5, 2, 1, "same", 0),
])
def test_conv_transpose_output_shapes_follow_keras_deconv_length(size, kernel, stride, dilation, padding,
                                                                 output_padding):
    expected = _keras_deconv_length(size, kernel, stride, dilation, padding, output_padding)
    layer = L.Conv1DTranspose(2, kernel, strides=stride, padding=padding, dilation_rate=dilation,
                              output_padding=output_padding)
    assert layer.compute_output_shape((None, size, 3)) == (None, expected, 2)
    assert layer(np.zeros((1, size, 3), np.float32)).shape == (1, expected, 2)


def _keras_pool_length(n, p, s, padding):
    if padding == "valid":
        return math.floor((n - p) / s) + 1
    return math.floor((n - 1) / s) + 1


@pytest.mark.parametrize("size, pool, stride, padding", [
    (7, 2, None, "valid"), (7, 2, None, "same"), (7, 3, 2, "valid"), (7, 3, 2, "same"), (5, 5, 1, "valid"),
    (4, 6, None, "same"), (9, 2, 3, "same"), (10, 4, 3, "valid"), (1, 2, 1, "same"),
])
def test_pooling_output_shapes_follow_keras_rule_including_same(size, pool, stride, padding):
    expected = _keras_pool_length(size, pool, pool if stride is None else stride, padding)
    for layer_class in (L.MaxPooling2D, L.AveragePooling2D):
        layer = layer_class((pool, 1), strides=None if stride is None else (stride, 1), padding=padding)
        assert layer.compute_output_shape((None, size, 2, 3)) == (None, expected, 2, 3)
        assert layer(np.ones((2, size, 2, 3), np.float32)).shape == (2, expected, 2, 3)
    one_d = L.MaxPooling1D(pool, strides=stride, padding=padding, data_format="channels_first")
    assert one_d.compute_output_shape((None, 3, size)) == (None, 3, expected)


def test_pooling_larger_than_input_with_valid_padding_raises_as_keras():
    with pytest.raises(ValueError, match="pool_size"):
        L.MaxPooling2D(4).compute_output_shape((None, 3, 3, 1))
    with pytest.raises(ValueError, match="pool_size"):
        L.AveragePooling1D(4)(np.ones((1, 3, 1), np.float32))


def test_shape_only_layers_follow_keras_with_unknown_sizes():
    assert L.Flatten().compute_output_shape((None, 2, None, 3)) == (None, None)
    assert L.Flatten().compute_output_shape((None,)) == (None, 1)
    assert L.Flatten()(np.ones((4,), np.float32)).shape == (4, 1)
    assert L.Reshape((-1, 3)).compute_output_shape((None, 4, 6)) == (None, 8, 3)
    assert L.Reshape((-1, 3)).compute_output_shape((None, None, 6)) == (None, None, 3)
    assert L.ZeroPadding2D(((1, 2), (0, 3)), data_format="channels_first").compute_output_shape(
        (None, 3, None, 4)) == (None, 3, None, 7)
    assert L.GlobalMaxPooling2D(data_format="channels_first", keepdims=True).compute_output_shape(
        (None, 5, 7, 7)) == (None, 5, 1, 1)
    assert L.GlobalAveragePooling1D().compute_output_shape((None, None, 4)) == (None, 4)
    assert L.SeparableConv2D(5, 3, padding="same", strides=2).compute_output_shape((None, 9, 8, 2)) == (
        None, 5, 4, 5)
    assert L.Dense(6).compute_output_shape((None, 3, 4)) == (None, 3, 6)


# ----- names ---------------------------------------------------------------------------------------
def test_automatic_names_follow_keras():
    clear_session()
    names = [L.Conv2D(1, 1).name, L.Conv2D(1, 1).name, L.MaxPool2D().name, L.MaxPooling2D().name,
             L.Conv2DTranspose(1, 1).name, L.BatchNormalization().name, L.GlobalAveragePooling2D().name,
             L.Dense(1).name, L.Input(shape=(2,)).name, L.ReLU().name, L.LeakyReLU().name, L.PReLU().name,
             L.ELU().name, L.Softmax().name, L.DepthwiseConv2D(1).name, L.Conv1D(1, 1).name]
    assert names == ["conv2d", "conv2d_1", "max_pooling2d", "max_pooling2d_1", "conv2d_transpose",
                     "batch_normalization", "global_average_pooling2d", "dense", "input_layer", "re_lu",
                     "leaky_re_lu", "p_re_lu", "elu", "softmax", "depthwise_conv2d", "conv1d"]
    clear_session()
    assert L.Conv2D(1, 1).name == "conv2d"


# ----- activation layers ---------------------------------------------------------------------------
x_activation = np.random.default_rng(3).uniform(-4.0, 8.0, (3, 4, 5)).astype(np.float32)
x_activation[np.abs(x_activation) < 0.05] += 0.1  # away from the kinks
x_activation[np.abs(x_activation - 0.5) < 0.05] += 0.1
x_activation[np.abs(x_activation - 6.0) < 0.05] += 0.1


@pytest.mark.parametrize("layer, torch_fn", [
    (L.ReLU(), F.relu),
    (L.ReLU(max_value=6.0), F.relu6),
    (L.ReLU(negative_slope=0.1), lambda t: F.leaky_relu(t, 0.1)),
    (L.ReLU(threshold=0.5), lambda t: F.threshold(t, 0.5, 0.0)),
    (L.ReLU(max_value=5.0, negative_slope=0.2, threshold=0.5),
     lambda t: torch.where(t > 0.5, torch.clamp(t, max=5.0), 0.2 * (t - 0.5))),
    (L.LeakyReLU(), lambda t: F.leaky_relu(t, 0.3)),
    (L.LeakyReLU(negative_slope=0.01), lambda t: F.leaky_relu(t, 0.01)),
    (L.Softmax(), lambda t: F.softmax(t, dim=-1)),
    (L.Softmax(axis=1), lambda t: F.softmax(t, dim=1)),
    (L.Softmax(axis=[1, 2]), lambda t: F.softmax(t.reshape(3, -1), dim=-1).reshape(3, 4, 5)),
    (L.ELU(), F.elu),
    (L.ELU(alpha=0.5), lambda t: F.elu(t, alpha=0.5)),
], ids=lambda value: type(value).__name__ if isinstance(value, L.Layer) else "")
def test_activation_layers_match_torch(layer, torch_fn):
    compare_with_torch(lambda t: layer(t), torch_fn, [x_activation])


def test_relu_layer_reproduces_keras_documented_example():
    output = L.ReLU(max_value=10, negative_slope=0.5, threshold=0)(np.array([[-10, -5, 0.0, 5, 10]]))
    np.testing.assert_allclose(output.numpy(), [[-5.0, -2.5, 0.0, 5.0, 10.0]])
    output = L.LeakyReLU(negative_slope=0.5)(np.array([[-10, -5, 0.0, 5, 10]]))
    np.testing.assert_allclose(output.numpy(), [[-5.0, -2.5, 0.0, 5.0, 10.0]])
    assert L.LeakyReLU().negative_slope == 0.3  # the layer's default; keras.activations.leaky_relu's is 0.2
    assert L.LeakyReLU(alpha=0.2).negative_slope == 0.2  # Keras's deprecated spelling


def test_prelu_matches_torch_with_shared_axes_and_learns_alpha():
    layer = L.PReLU(alpha_initializer="ones", shared_axes=[1, 2])
    layer.build((None, 4, 5, 3))
    assert layer.alpha.shape == (1, 1, 3) and layer.count_params() == 3
    alpha = np.array([0.25, -0.5, 2.0], np.float32)
    layer.set_weights([alpha.reshape(1, 1, 3)])
    x = np.random.default_rng(4).standard_normal((2, 4, 5, 3)).astype(np.float32)
    compare_with_torch(
        lambda t: layer(t),
        lambda t: F.prelu(t.permute(0, 3, 1, 2), torch.tensor(alpha)).permute(0, 2, 3, 1),
        [x],
    )
    layer.alpha.zero_grad()
    layer(Tensor(x)).sum().backward()
    expected = np.minimum(x, 0).sum(axis=(0, 1, 2)).reshape(1, 1, 3)  # d/d alpha of -alpha * relu(-x)
    np.testing.assert_allclose(layer.alpha.grad, expected, rtol=1e-5)
    assert L.PReLU()(np.ones((2, 3), np.float32)).shape == (2, 3)
    assert L.PReLU().get_config()["alpha_initializer"]["class_name"] == "Zeros"


def test_softmax_layer_mask_follows_keras():
    logits = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    mask = np.array([[1, 1, 0, 1]])
    output = L.Softmax()(logits, mask=mask).numpy()
    expected = np.exp(logits + (1 - mask) * -1e9)
    np.testing.assert_allclose(output, expected / expected.sum(), rtol=1e-6)
    assert output[0, 2] == 0.0


@pytest.mark.parametrize("make, error, match", [
    (lambda: L.ReLU(max_value=-1), ValueError, "max_value=-1"),
    (lambda: L.ReLU(negative_slope=-0.1), ValueError, "negative_slope=-0.1"),
    (lambda: L.ReLU(negative_slope=None), TypeError, "negative_slope=None"),
    (lambda: L.ReLU(threshold=-0.5), ValueError, "threshold=-0.5"),
    (lambda: L.ReLU(threshold="0"), TypeError, "threshold='0'"),
    (lambda: L.LeakyReLU(negative_slope=-0.3), ValueError, "negative_slope=-0.3"),
    (lambda: L.LeakyReLU(negative_slope=None), TypeError, "negative_slope=None"),
    (lambda: L.Softmax(axis="last"), TypeError, "axis='last'"),
    (lambda: L.ELU(alpha="1"), TypeError, "alpha='1'"),
    (lambda: L.PReLU(shared_axes=[0]), ValueError, r"shared_axes=\[0\]"),
    (lambda: L.PReLU(shared_axes=["1"]), TypeError, "shared_axes"),
    (lambda: L.PReLU(shared_axes=[3])(np.ones((2, 3), np.float32)), ValueError, "shared_axes"),
    (lambda: L.Softmax()(np.ones((2, 3), np.float32), mask=np.ones((2, 4))), ValueError, r"mask.*\(2, 4\)"),
])
def test_activation_layers_refuse_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ----- base layer behaviour ------------------------------------------------------------------------
def test_unknown_keyword_argument_is_both_keras_value_error_and_python_type_error():
    for make in (lambda: L.Dense(3, kernal_initializer="ones"), lambda: L.Conv2D(3, 3, filter=2),
                 lambda: L.MaxPooling2D(poolsize=2), lambda: L.ReLU(alpha=0.1)):
        with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
            make()
        with pytest.raises(TypeError, match="Unrecognized keyword arguments"):
            make()


def test_keras_only_features_are_accepted_when_off_and_refused_when_on():
    assert L.Dense(2, lora_rank=None, lora_alpha=None, quantization_config=None).units == 2
    assert L.Conv2D(2, 3, lora_rank=None).filters == 2
    with pytest.raises(ValueError, match="lora_rank=4"):
        L.Dense(2, lora_rank=4)
    with pytest.raises(ValueError, match="quantization_config='int8'"):
        L.Conv2D(2, 3, quantization_config="int8")


def test_add_weight_accepts_keras_3_keywords():
    class Scale(L.Layer):
        def build(self, input_shape):
            self.factor = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="factor",
                                          autocast=False, aggregation="mean", overwrite_with_gradient=False)

        def call(self, inputs):
            return inputs * self.factor

    assert Scale()(np.ones((2, 3), np.float32)).shape == (2, 3)


def test_empty_batches_pass_through_layers_as_in_torch():
    empty = np.zeros((0, 6, 6, 3), np.float32)
    for layer in (L.MaxPooling2D(), L.AveragePooling2D(padding="same"), L.GlobalMaxPooling2D(),
                  L.GlobalAveragePooling2D(), L.Flatten(), L.Dense(2), L.Dropout(0.5), L.ReLU(), L.Softmax(),
                  L.ZeroPadding2D(), L.RandomFlip(), L.RandomRotation(0.1), L.RandomTranslation(0.1, 0.1),
                  L.RandomZoom(0.1), L.Rescaling(0.5), L.PReLU()):
        output = layer(empty, training=True)
        expected = layer.compute_output_shape((None,) + empty.shape[1:])
        assert output.shape == (0,) + tuple(expected[1:]), type(layer).__name__
    norm = L.BatchNormalization()
    assert norm(empty, training=True).shape == empty.shape
    np.testing.assert_array_equal(norm.moving_mean.numpy(), np.zeros(3))  # torch: running stats unchanged
    np.testing.assert_array_equal(norm.moving_variance.numpy(), np.ones(3))
    torch_norm = torch.nn.BatchNorm2d(3).train()
    assert tuple(torch_norm(torch.zeros(0, 3, 6, 6)).shape) == (0, 3, 6, 6)
    np.testing.assert_array_equal(torch_norm.running_mean.numpy(), np.zeros(3))


def test_normalization_statistics_must_fit_the_kept_axes():
    with pytest.raises(ValueError, match=r"mean.*\(3,\)"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])(np.ones((2, 3), np.float32))
    layer = L.Normalization()
    layer.adapt(np.arange(12, dtype=np.float32).reshape(4, 3))
    with pytest.raises(ValueError, match=r"axis 1.*value 3.*\(2, 4\)"):
        layer(np.ones((2, 4), np.float32))
    whole = L.Normalization(axis=None, mean=1.0, variance=4.0)
    np.testing.assert_allclose(whole(np.full((2, 4), 3.0, np.float32)).numpy(), np.ones((2, 4)))
    np.testing.assert_allclose(whole(np.full((5,), 3.0, np.float32)).numpy(), np.ones(5))


def test_global_average_pooling_1d_mask_follows_keras():
    x = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    mask = np.array([[1, 0, 1], [1, 1, 0]])
    expected = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(L.GlobalAveragePooling1D()(x, mask=mask).numpy(), expected)
    first = L.GlobalAveragePooling1D(data_format="channels_first", keepdims=True)
    np.testing.assert_allclose(first(x.transpose(0, 2, 1), mask=mask).numpy(), expected[:, :, None])
    with pytest.raises(ValueError, match=r"mask.*\(2, 3\).*\(2, 4\)"):
        L.GlobalAveragePooling1D()(x, mask=np.ones((2, 4)))
