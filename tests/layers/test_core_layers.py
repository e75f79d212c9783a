"""Dense, Flatten, Dropout, Activation, Input/InputLayer, Reshape, ZeroPadding1D/2D: against PyTorch
or by hand, the harness, and bad constructor arguments."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.random
from cnnkit import Tensor
from cnnkit.layers import (
    LAYER_REGISTRY,
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    Reshape,
    ZeroPadding1D,
    ZeroPadding2D,
)
from harness import compare_layer_with_torch, run_layer_test


# ----- Dense ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation, torch_activation", [(None, lambda t: t), ("tanh", torch.tanh),
                                                          ("softmax", lambda t: torch.softmax(t, -1))])
def test_dense_matches_torch(activation, torch_activation):
    x = np.random.default_rng(0).standard_normal((4, 7)).astype("float32")
    compare_layer_with_torch(Dense(5, activation=activation), x,
                             lambda x, kernel, bias: torch_activation(F.linear(x, kernel.T, bias)))


def test_dense_on_three_dimensional_input_acts_on_the_last_axis():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype("float32")
    layer = Dense(6, use_bias=False)
    compare_layer_with_torch(layer, x, lambda x, kernel: x @ kernel)
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 6)


def test_dense_keras_weights_by_hand():
    layer = Dense(2)
    layer.build((None, 3))
    layer.set_weights([np.array([[1, 0], [0, 1], [1, 1]], dtype="float32"), np.array([10, 20], dtype="float32")])
    np.testing.assert_array_equal(layer(np.array([[1, 2, 3]], dtype="float32")).numpy(), [[14, 25]])


def test_lenet_dense_parameter_counts():
    counts = []
    for units, features in ((120, 256), (84, 120), (10, 84)):
        layer = Dense(units)
        layer.build((None, features))
        counts.append(layer.count_params())
    assert counts == [30840, 10164, 850]
    assert 156 + 2416 + sum(counts) == 44426


def test_dense_wrong_features_names_shapes():
    layer = Dense(3)
    layer(np.zeros((1, 4), dtype="float32"))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape.*value 4.*\(2, 5\)"):
        layer(np.zeros((2, 5), dtype="float32"))
    with pytest.raises(ValueError, match="min_ndim=2"):
        Dense(3)(np.zeros(4, dtype="float32"))


# ----- Flatten, Reshape, ZeroPadding ---------------------------------------------------------------------
def test_flatten_channels_last_and_channels_first_order():
    x = np.arange(2 * 3 * 2 * 2, dtype="float32").reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(Flatten()(x).numpy(), x.reshape(2, -1))
    # channels_first: channels are moved last before flattening (Keras's rule).
    np.testing.assert_array_equal(Flatten(data_format="channels_first")(x).numpy(),
                                  x.transpose(0, 2, 3, 1).reshape(2, -1))
    assert Flatten().compute_output_shape((None, 4, 4, 16)) == (None, 256)
    assert Flatten().compute_output_shape((None, None, 4)) == (None, None)
    compare_layer_with_torch(Flatten(), x, lambda t: torch.flatten(t, 1))


def test_reshape_by_hand_and_against_torch():
    x = np.random.default_rng(2).standard_normal((2, 12)).astype("float32")
    compare_layer_with_torch(Reshape((3, -1)), x, lambda t: t.reshape(2, 3, 4))
    assert Reshape((3, -1)).compute_output_shape((None, 12)) == (None, 3, 4)
    with pytest.raises(ValueError, match="multiple"):
        Reshape((5, -1)).compute_output_shape((None, 12))
    with pytest.raises(ValueError, match="unchanged"):
        Reshape((5, 2))(x)


@pytest.mark.parametrize("padding, torch_pad", [(1, (1, 1, 1, 1)), ((2, 1), (1, 1, 2, 2)),
                                                (((1, 0), (2, 3)), (2, 3, 1, 0))])
def test_zero_padding_2d_matches_torch(padding, torch_pad):
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 2)).astype("float32")
    output = compare_layer_with_torch(ZeroPadding2D(padding), x,
                                      lambda t: F.pad(t.permute(0, 3, 1, 2), torch_pad).permute(0, 2, 3, 1))
    assert output.shape[1:] == ZeroPadding2D(padding).compute_output_shape((None, 3, 4, 2))[1:]


def test_zero_padding_channels_first_and_1d():
    x = np.random.default_rng(4).standard_normal((1, 2, 3, 3)).astype("float32")
    compare_layer_with_torch(ZeroPadding2D(((0, 1), (1, 0)), data_format="channels_first"), x,
                             lambda t: F.pad(t, (1, 0, 0, 1)))
    sequence = np.random.default_rng(5).standard_normal((2, 4, 3)).astype("float32")
    compare_layer_with_torch(ZeroPadding1D((2, 1)), sequence,
                             lambda t: F.pad(t.permute(0, 2, 1), (2, 1)).permute(0, 2, 1))


# ----- Dropout -----------------------------------------------------------------------------------------
def test_dropout_is_identity_unless_training():
    x = np.random.default_rng(6).standard_normal((8, 10)).astype("float32")
    layer = Dropout(0.5)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).numpy(), x)


def test_dropout_in_training_drops_rate_and_scales_the_rest():
    x = np.ones((200, 100), dtype="float32")
    output = Dropout(0.3)(x, training=True).numpy()
    kept = output != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.02)
    np.testing.assert_allclose(output[kept], 1 / 0.7, rtol=1e-6)


def test_dropout_noise_shape_seed_and_shared_generator():
    x = np.ones((4, 3, 3, 5), dtype="float32")
    output = Dropout(0.5, noise_shape=(None, 1, 1, 5))(x, training=True).numpy()
    assert (output == output[:, :1, :1, :]).all()  # whole feature maps kept or dropped
    first = Dropout(0.5, seed=3)
    second = Dropout(0.5, seed=3)
    a1, a2 = first(x, training=True).numpy(), first(x, training=True).numpy()
    np.testing.assert_array_equal(a1, second(x, training=True).numpy())
    assert not np.array_equal(a1, a2)  # the layer's generator moves on between calls
    cnnkit.random.set_seed(5)
    b1 = Dropout(0.5)(x, training=True).numpy()
    cnnkit.random.set_seed(5)
    np.testing.assert_array_equal(Dropout(0.5)(x, training=True).numpy(), b1)


def test_dropout_gradient_uses_the_same_mask():
    x = Tensor(np.ones((50, 4), dtype="float32"), requires_grad=True)
    output = Dropout(0.5)(x, training=True)
    output.backward(np.ones(output.shape, dtype="float32"))
    np.testing.assert_array_equal(x.grad, output.numpy())


# ----- Activation ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, torch_function", [("relu", torch.relu), ("sigmoid", torch.sigmoid),
                                                  ("softmax", lambda t: torch.softmax(t, -1)),
                                                  ("elu", F.elu), ("softplus", F.softplus)])
def test_activation_matches_torch(name, torch_function):
    x = np.random.default_rng(7).standard_normal((3, 5)).astype("float32")
    compare_layer_with_torch(Activation(name), x, torch_function)


# ----- Input / InputLayer ------------------------------------------------------------------------------------
def test_input_and_input_layer():
    layer = Input(shape=(28, 28, 1))
    assert isinstance(layer, InputLayer) and layer.built
    assert layer.shape == (None, 28, 28, 1) and layer._input_shape_arg == (28, 28, 1)
    assert layer.compute_output_shape((None, 28, 28, 1)) == (None, 28, 28, 1)
    x = np.zeros((2, 28, 28, 1), dtype="float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)
    with pytest.raises(ValueError, match=r"\(3, 28, 28\)"):
        layer(np.zeros((3, 28, 28), dtype="float32"))
    with pytest.raises(ValueError, match=r"axis 1.*value 28.*\(2, 27, 28, 1\)"):
        layer(np.zeros((2, 27, 28, 1), dtype="float32"))
    assert InputLayer(batch_shape=(8, 4)).batch_shape == (8, 4)
    assert Input(shape=(4,), batch_size=8).shape == (8, 4)
    config = layer.get_config()
    assert InputLayer.from_config(config).batch_shape == (None, 28, 28, 1)


@pytest.mark.parametrize(
    "make, match",
    [(lambda: InputLayer(), "shape"), (lambda: InputLayer(shape=(2,), batch_shape=(None, 2)), "both"),
     (lambda: InputLayer(batch_size=2, batch_shape=(2, 2)), "both"),
     (lambda: InputLayer(shape=(2,), sparse=True), "sparse"),
     (lambda: InputLayer(shape=(2.5,)), "shape"), (lambda: InputLayer(shape=(2,), batch_size=0), "batch_size")],
)
def test_bad_input_layer_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# ----- harness ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layer_class, kwargs, input_shape, output_shape, trainable, training",
    [
        (Dense, {"units": 4, "activation": "relu", "kernel_regularizer": "l1_l2", "bias_constraint": "non_neg"},
         (3, 5), (3, 4), 2, False),
        (Dense, {"units": 2, "use_bias": False, "kernel_initializer": "he_normal"}, (2, 3, 4), (2, 3, 2), 1, False),
        (Flatten, {}, (2, 3, 4, 5), (2, 60), 0, False),
        (Flatten, {"data_format": "channels_first"}, (2, 3, 4, 5), (2, 60), 0, False),
        (Dropout, {"rate": 0.3, "noise_shape": [None, 1], "seed": 2}, (4, 6), (4, 6), 0, True),
        (Activation, {"activation": "softmax"}, (2, 5), (2, 5), 0, False),
        (Reshape, {"target_shape": (2, -1)}, (3, 8), (3, 2, 4), 0, False),
        (ZeroPadding2D, {"padding": ((1, 2), (0, 1))}, (1, 3, 3, 2), (1, 6, 4, 2), 0, False),
        (ZeroPadding1D, {"padding": 2, "data_format": "channels_first"}, (1, 2, 3), (1, 2, 7), 0, False),
        (InputLayer, {"shape": (3, 2)}, (2, 3, 2), (2, 3, 2), 0, False),
    ],
)
def test_core_layers_pass_the_harness(layer_class, kwargs, input_shape, output_shape, trainable, training):
    run_layer_test(layer_class, kwargs, input_shape, expected_output_shape=output_shape,
                   expected_num_trainable_weights=trainable, expected_num_non_trainable_weights=0, training=training,
                   built_at_init=layer_class is InputLayer)


def test_registry_resolves_all_keras_names():
    for name in ("Conv2D", "MaxPool2D", "AvgPool2D", "MaxPooling2D", "Dense", "Flatten", "Dropout", "Activation",
                 "BatchNormalization", "ZeroPadding2D", "Reshape", "InputLayer", "Rescaling", "Normalization",
                 "RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom", "Conv2DTranspose",
                 "DepthwiseConv2D", "SeparableConv2D", "GlobalAveragePooling2D", "Conv1D", "Conv1DTranspose"):
        assert name in LAYER_REGISTRY
    assert "Layer" not in LAYER_REGISTRY and "Input" not in LAYER_REGISTRY


# ----- bad constructor arguments -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Dense(0), ValueError, "Received: units=0"),
        (lambda: Dense(-3), ValueError, "Received: units=-3"),
        (lambda: Dense(2.5), TypeError, "Received: units=2.5"),
        (lambda: Dense("10"), TypeError, "units"),
        (lambda: Dense(3, activation="tanhh"), ValueError, "tanhh"),
        (lambda: Dense(3, use_bias=1), TypeError, "use_bias"),
        (lambda: Dense(3, kernel_initializer="zero_s"), ValueError, "zero_s"),
        (lambda: Dense(3, kernel_regularizer={"class_name": "L2", "config": {"l2": -1}}), ValueError, "l2"),
        (lambda: Dense(3, kernel_constraint="maxnorm"), ValueError, "maxnorm"),
        (lambda: Dense(3, bias_regularizer=0.1), ValueError, "regularizer"),
        (lambda: Dense(3, activity_regularizer="l4"), ValueError, "l4"),
        (lambda: Dense(3, bias_constraint=[1]), ValueError, "constraint"),
        (lambda: Dense(3, bias_initializer=1.0), ValueError, "initializer"),
        (lambda: Dense(3, input_shape="28"), TypeError, "input_shape"),
        (lambda: Dropout(1.5), ValueError, "Received: rate=1.5"),
        (lambda: Dropout(-0.1), ValueError, "Received: rate=-0.1"),
        (lambda: Dropout("half"), TypeError, "rate"),
        (lambda: Dropout(0.5, seed=-1), ValueError, "seed"),
        (lambda: Dropout(0.5, noise_shape=5), TypeError, "noise_shape"),
        (lambda: Activation("nope"), ValueError, "nope"),
        (lambda: Flatten(data_format="last"), ValueError, "data_format"),
        (lambda: Reshape((2, -1, -1)), ValueError, "more than one"),
        (lambda: Reshape((0, 2)), ValueError, "target_shape"),
        (lambda: Reshape("2x2"), TypeError, "target_shape"),
        (lambda: ZeroPadding2D(-1), ValueError, "padding"),
        (lambda: ZeroPadding2D((1, 2, 3)), ValueError, "padding"),
        (lambda: ZeroPadding2D(((1, 2, 3), (0, 0))), ValueError, "padding"),
        (lambda: ZeroPadding2D(1.5), ValueError, "padding"),
        (lambda: ZeroPadding1D((1, 2, 3)), ValueError, "padding"),
        (lambda: ZeroPadding1D(data_format="NWC"), ValueError, "data_format"),
    ],
)
def test_bad_constructor_arguments_raise_in_init(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_dropout_noise_shape_of_wrong_rank_names_shapes():
    with pytest.raises(ValueError, match=r"noise_shape.*\(4, 6\)"):
        Dropout(0.5, noise_shape=(1, 1, 1))(np.ones((4, 6), dtype="float32"), training=True)
