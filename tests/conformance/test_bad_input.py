"""Bad input everywhere in the functional ops and layers: every case raises ValueError or TypeError
(never IndexError, AttributeError, ZeroDivisionError or a NumPy message from inside) whose message
names the argument and the value received, plus what was expected.

Also: a batch of zero samples is valid input wherever PyTorch accepts it, with PyTorch's output shape.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.functional as cf
from cnnkit import layers as L
from cnnkit.autograd import Tensor

x4 = np.random.default_rng(0).random((2, 5, 5, 3)).astype(np.float32)
x2 = np.random.default_rng(1).random((2, 4)).astype(np.float32)
probabilities = np.full((2, 4), 0.25, np.float32)

# (id, call, fragments the message must contain: the argument's name and the value received)
FUNCTIONAL_CASES = [
    ("max_pool inputs None", lambda: cf.max_pool(None, 2), ["inputs", "None"]),
    ("max_pool inputs str", lambda: cf.max_pool("pixels", 2), ["inputs", "'pixels'"]),
    ("max_pool int inputs", lambda: cf.max_pool(np.ones((1, 4, 4, 1), np.int64), 2), ["inputs", "int64"]),
    ("max_pool rank 2", lambda: cf.max_pool(np.ones((4, 4), np.float32), 2), ["inputs", "(4, 4)"]),
    ("max_pool pool 0", lambda: cf.max_pool(x4, 0), ["pool_size", "pool_size=0"]),
    ("max_pool pool -2", lambda: cf.max_pool(x4, -2), ["pool_size", "pool_size=-2"]),
    ("max_pool pool float", lambda: cf.max_pool(x4, 2.0), ["pool_size", "pool_size=2.0"]),
    ("max_pool pool str", lambda: cf.max_pool(x4, "2"), ["pool_size", "pool_size='2'"]),
    ("max_pool pool None", lambda: cf.max_pool(x4, None), ["pool_size", "pool_size=None"]),
    ("max_pool pool 3-tuple", lambda: cf.max_pool(x4, (2, 2, 2)), ["pool_size", "(2, 2, 2)"]),
    ("max_pool strides 0", lambda: cf.max_pool(x4, 2, strides=0), ["strides", "strides=0"]),
    ("max_pool padding", lambda: cf.max_pool(x4, 2, padding="full"), ["padding", "'full'"]),
    ("max_pool padding -1", lambda: cf.max_pool(x4, 2, padding=-1), ["padding", "padding=-1"]),
    ("max_pool padding > half", lambda: cf.max_pool(x4, 2, padding=2), ["padding", "padding=2"]),
    ("max_pool data_format", lambda: cf.max_pool(x4, 2, data_format="NHWC"), ["data_format", "'NHWC'"]),
    ("max_pool pool > input", lambda: cf.max_pool(x4, 6), ["pool_size", "(6, 6)", "(5, 5)"]),
    ("max_pool ceil_mode", lambda: cf.max_pool(x4, 2, ceil_mode="yes"), ["ceil_mode", "'yes'"]),
    ("average_pool pool > input", lambda: cf.average_pool(x4, (2, 7)), ["pool_size", "(2, 7)"]),
    ("average_pool count_include_pad", lambda: cf.average_pool(x4, 2, count_include_pad=1),
     ["count_include_pad", "count_include_pad=1"]),
    ("average_pool empty spatial", lambda: cf.average_pool(np.zeros((1, 0, 4, 1), np.float32), 2),
     ["pool_size", "(0, 4)"]),
    ("global_average_pool empty spatial", lambda: cf.global_average_pool(np.zeros((1, 0, 4, 1), np.float32)),
     ["inputs", "(1, 0, 4, 1)"]),
    ("global_max_pool empty spatial", lambda: cf.global_max_pool(np.zeros((1, 4, 0, 1), np.float32)),
     ["inputs", "(1, 4, 0, 1)"]),
    ("global_max_pool keepdims", lambda: cf.global_max_pool(x4, keepdims="no"), ["keepdims", "'no'"]),
    ("adaptive output 0", lambda: cf.adaptive_average_pool(x4, 0), ["output_size", "output_size=0"]),
    ("adaptive output 3-tuple", lambda: cf.adaptive_max_pool(x4, (1, 1, 1)), ["output_size", "(1, 1, 1)"]),
    ("lp_pool norm str", lambda: cf.lp_pool(x4, "2", 2), ["norm_type", "'2'"]),
    ("lp_pool norm 0", lambda: cf.lp_pool(x4, 0, 2), ["norm_type", "0"]),
    ("max_unpool float indices", lambda: cf.max_unpool(x4, x4, 2), ["indices", "float32"]),
    ("relu None", lambda: cf.relu(None), ["x", "None"]),
    ("relu int", lambda: cf.relu(np.arange(3)), ["x", "int64"]),
    ("relu max_value", lambda: cf.relu(x2, max_value=-1.0), ["max_value", "-1"]),
    ("relu threshold", lambda: cf.relu(x2, threshold="1"), ["threshold", "'1'"]),
    ("leaky_relu slope", lambda: cf.leaky_relu(x2, negative_slope=None), ["negative_slope", "None"]),
    ("elu alpha", lambda: cf.elu(x2, alpha="1"), ["alpha", "'1'"]),
    ("gelu approximate", lambda: cf.gelu(x2, approximate="tanh"), ["approximate", "'tanh'"]),
    ("softmax axis", lambda: cf.softmax(x2, axis=2), ["axis", "axis=2"]),
    ("softmax axis str", lambda: cf.softmax(x2, axis="-1"), ["axis", "'-1'"]),
    ("softmax str", lambda: cf.softmax("logits"), ["x", "'logits'"]),
    ("log_softmax axis", lambda: cf.log_softmax(x2, axis=-3), ["axis", "axis=-3"]),
    ("dense inputs None", lambda: cf.dense(None, np.ones((3, 2), np.float32)), ["inputs", "None"]),
    ("dense features", lambda: cf.dense(x2, np.ones((3, 2), np.float32)), ["kernel", "(2, 4)", "(3, 2)"]),
    ("dense kernel rank", lambda: cf.dense(x2, np.ones(4, np.float32)), ["kernel", "(4,)"]),
    ("dense bias", lambda: cf.dense(x2, np.ones((4, 2), np.float32), bias=np.ones(3, np.float32)),
     ["bias", "(3,)"]),
    ("dropout rate -0.1", lambda: cf.dropout(x2, -0.1), ["rate", "-0.1"]),
    ("dropout rate 1.5", lambda: cf.dropout(x2, 1.5), ["rate", "1.5"]),
    ("dropout rate str", lambda: cf.dropout(x2, "0.5"), ["rate", "'0.5'"]),
    ("dropout rate None", lambda: cf.dropout(x2, None), ["rate", "None"]),
    ("dropout rate nan", lambda: cf.dropout(x2, float("nan")), ["rate", "nan"]),
    ("dropout seed", lambda: cf.dropout(x2, 0.5, seed=-1), ["seed", "-1"]),
    ("dropout noise_shape", lambda: cf.dropout(x2, 0.5, noise_shape=(2, 3)), ["noise_shape", "(2, 3)"]),
    ("dropout int inputs", lambda: cf.dropout(np.ones(3, np.int32), 0.5), ["inputs", "int32"]),
    ("flatten None", lambda: cf.flatten(None), ["inputs", "None"]),
    ("flatten str", lambda: cf.flatten("abc"), ["inputs", "'abc'"]),
    ("flatten scalar", lambda: cf.flatten(np.float32(1.0)), ["inputs", "()"]),
    ("flatten data_format", lambda: cf.flatten(x4, data_format="last"), ["data_format", "'last'"]),
    ("reshape None", lambda: cf.reshape(None, (2,)), ["inputs", "None"]),
    ("reshape size", lambda: cf.reshape(x2, (3, 3)), ["shape", "(3, 3)", "(2, 4)"]),
    ("reshape two -1", lambda: cf.reshape(x2, (-1, -1)), ["shape", "(-1, -1)"]),
    ("reshape shape str", lambda: cf.reshape(x2, "2x4"), ["shape", "'2x4'"]),
    ("zero_padding None", lambda: cf.zero_padding(None, 1), ["inputs", "None"]),
    ("zero_padding negative", lambda: cf.zero_padding(x4, -1), ["padding", "padding=-1"]),
    ("zero_padding 3 pairs", lambda: cf.zero_padding(x4, ((1, 1), (1, 1), (1, 1))), ["padding", "((1, 1)"]),
    ("zero_padding rank 2", lambda: cf.zero_padding(x2, 1), ["inputs", "(2, 4)"]),
    ("batch_normalization None", lambda: cf.batch_normalization(None, np.zeros(3), np.ones(3)), ["inputs", "None"]),
    ("batch_normalization mean", lambda: cf.batch_normalization(x4, np.zeros(4), np.ones(3)), ["mean", "(4,)"]),
    ("batch_normalization epsilon", lambda: cf.batch_normalization(x4, np.zeros(3), np.ones(3), epsilon=-1.0),
     ["epsilon", "-1"]),
    ("batch_normalization axis", lambda: cf.batch_normalization(x4, np.zeros(3), np.ones(3), axis=4),
     ["axis", "axis=4"]),
    ("batch_norm_train empty", lambda: cf.batch_norm_train(np.zeros((0, 3), np.float32), None, None),
     ["inputs", "(0, 3)"]),
    ("batch_norm_train gamma", lambda: cf.batch_norm_train(x2, np.ones(3, np.float32), None), ["gamma", "(3,)"]),
    ("categorical_crossentropy y_true None", lambda: cf.categorical_crossentropy(None, probabilities),
     ["y_true", "None"]),
    ("categorical_crossentropy y_pred str", lambda: cf.categorical_crossentropy(probabilities, "p"),
     ["y_pred", "'p'"]),
    ("categorical_crossentropy shapes", lambda: cf.categorical_crossentropy(np.ones((2, 3)), probabilities),
     ["y_true", "(2, 3)", "(2, 4)"]),
    ("categorical_crossentropy smoothing", lambda: cf.categorical_crossentropy(probabilities, probabilities,
                                                                              label_smoothing=1.5),
     ["label_smoothing", "1.5"]),
    ("categorical_crossentropy axis", lambda: cf.categorical_crossentropy(probabilities, probabilities, axis=3),
     ["axis", "3"]),
    ("sparse labels out of range", lambda: cf.sparse_categorical_crossentropy(np.array([0, 4]), probabilities),
     ["y_true", "[4]", "4 classes"]),
    ("sparse labels negative", lambda: cf.sparse_categorical_crossentropy(np.array([0, -1]), probabilities),
     ["y_true", "[-1]"]),
    ("sparse labels fractional", lambda: cf.sparse_categorical_crossentropy(np.array([0.5, 1.0]), probabilities),
     ["y_true", "0.5"]),
    ("sparse labels shape", lambda: cf.sparse_categorical_crossentropy(np.array([0, 1, 2]), probabilities),
     ["y_true", "(3,)", "(2, 4)"]),
    ("sparse labels None", lambda: cf.sparse_categorical_crossentropy(None, probabilities), ["y_true", "None"]),
    ("binary_crossentropy shapes", lambda: cf.binary_crossentropy(np.ones((2, 3)), probabilities),
     ["y_true", "(2, 3)"]),
    ("binary_crossentropy from_logits", lambda: cf.binary_crossentropy(probabilities, probabilities,
                                                                      from_logits="yes"),
     ["from_logits", "'yes'"]),
    ("mean_squared_error shapes", lambda: cf.mean_squared_error(np.ones((2, 5)), probabilities),
     ["y_true", "(2, 5)"]),
    ("mean_absolute_error y_pred None", lambda: cf.mean_absolute_error(probabilities, None), ["y_pred", "None"]),
    ("huber delta", lambda: cf.huber(probabilities, probabilities, delta=-1.0), ["delta", "-1"]),
    ("huber delta str", lambda: cf.huber(probabilities, probabilities, delta="1"), ["delta", "'1'"]),
]


def _check(call, fragments):
    try:
        call()
    except (ValueError, TypeError) as error:
        message = str(error)
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} missing from: {message}"
        assert type(error).__module__ != "numpy" and "operands could not be broadcast" not in message
        return error
    except Exception as error:  # noqa: BLE001 - the point: nothing else may escape
        pytest.fail(f"raised {type(error).__name__} instead of ValueError/TypeError: {error}")
    pytest.fail("no error raised")


@pytest.mark.parametrize("call, fragments", [case[1:] for case in FUNCTIONAL_CASES],
                         ids=[case[0] for case in FUNCTIONAL_CASES])
def test_functional_ops_refuse_bad_input_naming_argument_and_value(call, fragments):
    _check(call, fragments)


def _built(layer, shape):
    layer.build(shape)
    return layer


LAYER_CASES = [
    ("Conv2D filters 0", lambda: L.Conv2D(0, 3), ["filters", "filters=0"]),
    ("Conv2D filters str", lambda: L.Conv2D("8", 3), ["filters", "'8'"]),
    ("Conv2D filters float", lambda: L.Conv2D(8.0, 3), ["filters", "8.0"]),
    ("Conv2D kernel_size None", lambda: L.Conv2D(4, None), ["kernel_size", "None"]),
    ("Conv2D kernel_size 0", lambda: L.Conv2D(4, 0), ["kernel_size", "kernel_size=0"]),
    ("Conv2D kernel_size 3-tuple", lambda: L.Conv2D(4, (3, 3, 3)), ["kernel_size", "(3, 3, 3)"]),
    ("Conv2D strides -1", lambda: L.Conv2D(4, 3, strides=-1), ["strides", "strides=-1"]),
    ("Conv2D padding causal", lambda: L.Conv2D(4, 3, padding="causal"), ["padding", "'causal'"]),
    ("Conv2D data_format", lambda: L.Conv2D(4, 3, data_format="NCHW"), ["data_format", "'NCHW'"]),
    ("Conv2D dilation 0", lambda: L.Conv2D(4, 3, dilation_rate=0), ["dilation_rate", "dilation_rate=0"]),
    ("Conv2D groups 0", lambda: L.Conv2D(4, 3, groups=0), ["groups", "groups=0"]),
    ("Conv2D groups vs filters", lambda: L.Conv2D(4, 3, groups=3), ["groups=3", "filters=4"]),
    ("Conv2D groups vs channels", lambda: L.Conv2D(4, 3, groups=2)(x4), ["groups=2", "3 channels"]),
    ("Conv2D activation", lambda: L.Conv2D(4, 3, activation="relux"), ["activation", "'relux'"]),
    ("Conv2D activation int", lambda: L.Conv2D(4, 3, activation=3), ["activation", "3"]),
    ("Conv2D initializer", lambda: L.Conv2D(4, 3, kernel_initializer="glorot"), ["'glorot'"]),
    ("Conv2D regularizer", lambda: L.Conv2D(4, 3, kernel_regularizer="l3"), ["'l3'"]),
    ("Conv2D constraint", lambda: L.Conv2D(4, 3, bias_constraint="positive"), ["'positive'"]),
    ("Conv2D use_bias", lambda: L.Conv2D(4, 3, use_bias="yes"), ["use_bias", "'yes'"]),
    ("Conv2D name", lambda: L.Conv2D(4, 3, name="a/b"), ["name", "'a/b'"]),
    ("Conv2D dtype", lambda: L.Conv2D(4, 3, dtype="float33"), ["dtype", "'float33'"]),
    ("Conv2D trainable", lambda: L.Conv2D(4, 3, trainable="no"), ["trainable", "'no'"]),
    ("Conv2D unknown keyword", lambda: L.Conv2D(4, 3, kernal_size=3), ["kernal_size"]),
    ("Conv2D input rank", lambda: L.Conv2D(4, 3)(np.ones((5, 5, 3), np.float32)), ["ndim=4", "(5, 5, 3)"]),
    ("Conv2D input channels", lambda: _built(L.Conv2D(4, 3), (None, 5, 5, 3))(np.ones((1, 5, 5, 2), np.float32)),
     ["value 3", "(1, 5, 5, 2)"]),
    ("Conv2D input None", lambda: L.Conv2D(4, 3)(None), ["inputs=None"]),
    ("Dense input str", lambda: L.Dense(4)("data"), ["inputs='data'"]),
    ("Dense input object", lambda: L.Dense(4)(np.array([{}, {}])), ["dtype object"]),
    ("Conv2D input too small", lambda: L.Conv2D(4, 7)(x4), ["kernel_size=(7, 7)", "(None, 5, 5, 3)"]),
    ("Conv1D causal stride", lambda: L.Conv1D(2, 3, padding="full"), ["padding", "'full'"]),
    ("Conv2DTranspose output_padding", lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=2),
     ["output_padding", "(2, 2)"]),
    ("DepthwiseConv2D depth_multiplier", lambda: L.DepthwiseConv2D(3, depth_multiplier=0),
     ["depth_multiplier", "depth_multiplier=0"]),
    ("SeparableConv2D filters", lambda: L.SeparableConv2D(-1, 3), ["filters", "filters=-1"]),
    ("Dense units 0", lambda: L.Dense(0), ["units", "units=0"]),
    ("Dense units None", lambda: L.Dense(None), ["units", "units=None"]),
    ("Dense units float", lambda: L.Dense(2.5), ["units", "units=2.5"]),
    ("Dense input rank", lambda: L.Dense(3)(np.ones(4, np.float32)), ["min_ndim=2", "(4,)"]),
    ("Dense input features", lambda: _built(L.Dense(3), (None, 4))(np.ones((2, 5), np.float32)),
     ["value 4", "(2, 5)"]),
    ("MaxPooling2D pool 0", lambda: L.MaxPooling2D(0), ["pool_size", "pool_size=0"]),
    ("MaxPooling2D pool str", lambda: L.MaxPooling2D("2"), ["pool_size", "'2'"]),
    ("MaxPooling2D strides 0", lambda: L.MaxPooling2D(2, strides=0), ["strides", "strides=0"]),
    ("MaxPooling2D padding", lambda: L.MaxPooling2D(padding="full"), ["padding", "'full'"]),
    ("MaxPooling2D pool > input", lambda: L.MaxPooling2D(6)(x4), ["pool_size", "(6, 6)"]),
    ("MaxPooling2D input rank", lambda: L.MaxPooling2D()(np.ones((4, 4, 1), np.float32)), ["ndim=4", "(4, 4, 1)"]),
    ("AveragePooling1D pool tuple", lambda: L.AveragePooling1D((2, 2)), ["pool_size", "(2, 2)"]),
    ("GlobalAveragePooling2D keepdims", lambda: L.GlobalAveragePooling2D(keepdims="y"), ["keepdims", "'y'"]),
    ("GlobalMaxPooling1D input rank", lambda: L.GlobalMaxPooling1D()(x4), ["ndim=3", "(2, 5, 5, 3)"]),
    ("Dropout rate -0.1", lambda: L.Dropout(-0.1), ["rate", "rate=-0.1"]),
    ("Dropout rate 1.5", lambda: L.Dropout(1.5), ["rate", "rate=1.5"]),
    ("Dropout rate str", lambda: L.Dropout("0.5"), ["rate", "rate='0.5'"]),
    ("Dropout rate None", lambda: L.Dropout(None), ["rate", "rate=None"]),
    ("Dropout seed", lambda: L.Dropout(0.5, seed="a"), ["seed", "'a'"]),
    ("Dropout noise_shape 0", lambda: L.Dropout(0.5, noise_shape=(0, 4)), ["noise_shape", "(0, 4)"]),
    ("Dropout noise_shape int", lambda: L.Dropout(0.5, noise_shape=5), ["noise_shape", "5"]),
    ("Dropout noise_shape rank", lambda: L.Dropout(0.5, noise_shape=(1, 1, 1))(x2, training=True),
     ["noise_shape", "(1, 1, 1)"]),
    ("BatchNormalization axis", lambda: L.BatchNormalization(axis=5)(x4), ["axis", "5", "(None, 5, 5, 3)"]),
    ("BatchNormalization axis str", lambda: L.BatchNormalization(axis="c"), ["axis", "'c'"]),
    ("BatchNormalization momentum", lambda: L.BatchNormalization(momentum=1.5), ["momentum", "1.5"]),
    ("BatchNormalization epsilon", lambda: L.BatchNormalization(epsilon=0), ["epsilon", "epsilon=0"]),
    ("BatchNormalization center", lambda: L.BatchNormalization(center=1), ["center", "center=1"]),
    ("Flatten data_format", lambda: L.Flatten(data_format="NHWC"), ["data_format", "'NHWC'"]),
    ("Flatten scalar input", lambda: L.Flatten()(np.float32(1.0)), ["min_ndim=1", "()"]),
    ("Reshape target None", lambda: L.Reshape(None), ["target_shape", "None"]),
    ("Reshape two -1", lambda: L.Reshape((-1, -1)), ["target_shape", "(-1, -1)"]),
    ("Reshape sizes", lambda: L.Reshape((7,))(x4), ["target_shape=(7,)", "75"]),
    ("ZeroPadding2D negative", lambda: L.ZeroPadding2D(-1), ["padding", "padding=-1"]),
    ("ZeroPadding2D str", lambda: L.ZeroPadding2D("1"), ["padding", "'1'"]),
    ("ZeroPadding1D triple", lambda: L.ZeroPadding1D((1, 2, 3)), ["padding", "(1, 2, 3)"]),
    ("Rescaling scale None", lambda: L.Rescaling(None), ["scale", "None"]),
    ("Rescaling offset str", lambda: L.Rescaling(1.0, offset="0"), ["offset", "'0'"]),
    ("Normalization mean only", lambda: L.Normalization(mean=1.0), ["mean=1.0", "variance=None"]),
    ("Normalization variance < 0", lambda: L.Normalization(mean=0.0, variance=-1.0), ["variance", "-1.0"]),
    ("Normalization axis str", lambda: L.Normalization(axis="c"), ["axis", "'c'"]),
    ("Normalization axis range", lambda: L.Normalization(axis=3)(x2), ["axis", "3"]),
    ("Normalization invert", lambda: L.Normalization(invert="yes"), ["invert", "'yes'"]),
    ("RandomFlip mode", lambda: L.RandomFlip("diagonal"), ["mode", "'diagonal'"]),
    ("RandomFlip input rank", lambda: L.RandomFlip()(x2, training=True), ["ndim=2", "(2, 4)"]),
    ("RandomRotation factor 2", lambda: L.RandomRotation(2.0), ["factor", "2.0"]),
    ("RandomRotation factor None", lambda: L.RandomRotation(None), ["factor", "None"]),
    ("RandomRotation factor triple", lambda: L.RandomRotation((0.1, 0.2, 0.3)), ["factor", "(0.1, 0.2, 0.3)"]),
    ("RandomZoom width", lambda: L.RandomZoom(0.1, width_factor=-1.5), ["width_factor", "-1.5"]),
    ("RandomZoom height nan", lambda: L.RandomZoom(float("nan")), ["height_factor", "nan"]),
    ("RandomTranslation pair nan", lambda: L.RandomTranslation((0.0, float("nan")), 0.1), ["height_factor", "nan"]),
    ("RandomTranslation fill_mode", lambda: L.RandomTranslation(0.1, 0.1, fill_mode="mirror"),
     ["fill_mode", "'mirror'"]),
    ("RandomTranslation interpolation", lambda: L.RandomTranslation(0.1, 0.1, interpolation="bicubic"),
     ["interpolation", "'bicubic'"]),
    ("RandomTranslation fill_value", lambda: L.RandomTranslation(0.1, 0.1, fill_value="0"),
     ["fill_value", "'0'"]),
    ("RandomTranslation seed", lambda: L.RandomTranslation(0.1, 0.1, seed=-3), ["seed", "-3"]),
    ("Activation name", lambda: L.Activation("sigmoidal"), ["activation", "'sigmoidal'"]),
    ("Input shape str", lambda: L.Input(shape="28x28"), ["shape", "'28x28'"]),
    ("Input shape negative", lambda: L.Input(shape=(-1, 3)), ["shape", "(-1, 3)"]),
    ("Input shape float", lambda: L.Input(shape=(2.5,)), ["shape", "(2.5,)"]),
    ("Input batch_size", lambda: L.Input(shape=(3,), batch_size=0), ["batch_size", "batch_size=0"]),
    ("Input both shapes", lambda: L.Input(shape=(3,), batch_shape=(None, 3)), ["shape=(3,)", "(None, 3)"]),
    ("Input sparse", lambda: L.Input(shape=(3,), sparse=True), ["sparse", "True"]),
    ("Input ragged", lambda: L.Input(shape=(3,), ragged=True), ["ragged", "True"]),
    ("InputLayer wrong input", lambda: L.InputLayer(shape=(3,))(np.ones((2, 4), np.float32)), ["(2, 4)"]),
    ("set_weights count", lambda: _built(L.Dense(2), (None, 3)).set_weights([np.ones((3, 2))]), ["length 1", "2"]),
    ("set_weights shape", lambda: _built(L.Dense(2), (None, 3)).set_weights([np.ones((2, 2)), np.ones(2)]),
     ["(3, 2)", "(2, 2)"]),
    ("set_weights unbuilt", lambda: L.Dense(2).set_weights([]), ["not built"]),
    ("count_params unbuilt", lambda: L.Dense(2).count_params(), ["isn't built"]),
    ("build shape str", lambda: L.Dense(2).build("(None, 3)"), ["input_shape", "'(None, 3)'"]),
]


@pytest.mark.parametrize("call, fragments", [case[1:] for case in LAYER_CASES], ids=[case[0] for case in LAYER_CASES])
def test_layers_refuse_bad_input_naming_argument_and_value(call, fragments):
    _check(call, fragments)


# ----- empty batches: valid input, PyTorch's shapes -------------------------------------------------
EMPTY = np.zeros((0, 3, 6, 6), np.float32)  # channels_first, as PyTorch


@pytest.mark.parametrize("ours, theirs", [
    (lambda x: cf.max_pool(x, 2, data_format="channels_first"), lambda t: F.max_pool2d(t, 2)),
    (lambda x: cf.average_pool(x, 3, strides=2, padding=1, data_format="channels_first", count_include_pad=True),
     lambda t: F.avg_pool2d(t, 3, 2, 1)),
    (lambda x: cf.lp_pool(x, 2, 2, data_format="channels_first"), lambda t: F.lp_pool2d(t, 2, 2)),
    (lambda x: cf.adaptive_average_pool(x, 4, data_format="channels_first"), lambda t: F.adaptive_avg_pool2d(t, 4)),
    (lambda x: cf.adaptive_max_pool(x, 4, data_format="channels_first"), lambda t: F.adaptive_max_pool2d(t, 4)),
    (lambda x: cf.global_max_pool(x, data_format="channels_first"), lambda t: t.amax(dim=(2, 3))),
    (lambda x: cf.global_average_pool(x, data_format="channels_first"), lambda t: t.mean(dim=(2, 3))),
    (lambda x: cf.softmax(x, axis=1), lambda t: F.softmax(t, dim=1)),
    (lambda x: cf.log_softmax(x, axis=1), lambda t: F.log_softmax(t, dim=1)),
    (lambda x: cf.relu(x), F.relu),
    (lambda x: cf.gelu(x), lambda t: F.gelu(t, approximate="tanh")),
    (lambda x: cf.dropout(x, 0.5), lambda t: F.dropout(t, 0.5)),
    (lambda x: cf.flatten(x), lambda t: t.flatten(1)),
    (lambda x: cf.zero_padding(x, 1, data_format="channels_first"), lambda t: F.pad(t, (1, 1, 1, 1))),
    (lambda x: cf.dense(x, np.ones((6, 2), np.float32)), lambda t: t @ torch.ones(6, 2)),
    (lambda x: cf.batch_normalization(x, np.zeros(3), np.ones(3), axis=1),
     lambda t: F.batch_norm(t, torch.zeros(3), torch.ones(3))),
])
def test_empty_batch_gives_torchs_empty_output(ours, theirs):
    expected = tuple(theirs(torch.tensor(EMPTY)).shape)
    output = ours(EMPTY)
    assert tuple(output.shape) == expected


@pytest.mark.parametrize("ours, theirs, kernel", [
    (lambda x, k: cf.conv(x, k, data_format="channels_first"), lambda t, k: F.conv2d(t, k), (3, 3, 3, 4)),
    (lambda x, k: cf.conv(x, k, strides=2, padding="same", data_format="channels_first"),
     lambda t, k: F.conv2d(t, k, stride=2, padding=1), (3, 3, 3, 4)),
    (lambda x, k: cf.conv(x, k, data_format="channels_first"), lambda t, k: F.conv2d(t, k), (5, 5, 3, 2)),  # LeNet-like
    (lambda x, k: cf.depthwise_conv(x, k, data_format="channels_first"), lambda t, k: F.conv2d(t, k, groups=3),
     (3, 3, 3, 1)),
    (lambda x, k: cf.conv_transpose(x, k, strides=2, data_format="channels_first"),
     lambda t, k: F.conv_transpose2d(t, k, stride=2), (2, 2, 4, 3)),
])
def test_empty_batch_convolutions_give_torchs_empty_output_and_gradients(ours, theirs, kernel):
    """An empty batch is valid input (PyTorch returns an empty output); the kernel gradient is zero."""
    kernel = np.ones(kernel, np.float32)
    x = Tensor(EMPTY, requires_grad=True)
    w = Tensor(kernel, requires_grad=True)
    output = ours(x, w)
    assert tuple(output.shape) == tuple(theirs(torch.tensor(EMPTY), _torch_kernel(theirs, kernel)).shape)
    output.sum().backward()
    assert x.grad.shape == EMPTY.shape and w.grad.shape == kernel.shape and not w.grad.any()


def _torch_kernel(theirs, kernel):
    """A Keras-layout kernel in the layout of the torch function ``theirs`` calls."""
    if "conv_transpose2d" in theirs.__code__.co_names:  # (kh, kw, out, in) -> (in, out, kh, kw)
        return torch.tensor(kernel.transpose(3, 2, 0, 1).copy())
    if kernel.shape[3] == 1:  # depthwise (kh, kw, C, 1) -> (C, 1, kh, kw)
        return torch.tensor(kernel.transpose(2, 3, 0, 1).copy())
    return torch.tensor(kernel.transpose(3, 2, 0, 1).copy())  # (kh, kw, in, out) -> (out, in, kh, kw)


def test_softmax_over_an_empty_axis_is_empty_as_in_torch():
    logits = np.zeros((3, 0), np.float32)
    assert tuple(F.softmax(torch.tensor(logits), dim=-1).shape) == (3, 0)
    assert cf.softmax(logits).shape == (3, 0)
    assert cf.log_softmax(logits).shape == (3, 0)


def test_empty_batch_losses_are_empty_per_sample():
    assert cf.categorical_crossentropy(np.zeros((0, 3)), np.zeros((0, 3), np.float32)).shape == (0,)
    assert cf.sparse_categorical_crossentropy(np.zeros(0, np.int64), np.zeros((0, 3), np.float32)).shape == (0,)
    assert cf.mean_squared_error(np.zeros((0, 3)), np.zeros((0, 3), np.float32)).shape == (0,)
