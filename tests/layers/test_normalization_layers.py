"""BatchNormalization against PyTorch (training and inference), Keras's moving-statistics rule by
hand, Keras-layout weights, freezing, the harness and bad arguments."""
import numpy as np
import pytest
import torch.nn.functional as F

from cnnkit.layers import BatchNormalization
from harness import compare_layer_with_torch, run_layer_test
from oracle import check_finite_differences


def moving_after(batches, axes, momentum=0.99):
    """Keras's rule by hand: start at mean 0 / variance 1, move by (1 - momentum) towards the biased batch stats."""
    mean, variance = 0.0, 1.0
    for batch in batches:
        batch = batch.astype(np.float64)
        mean = mean * momentum + batch.mean(axis=axes) * (1 - momentum)
        variance = variance * momentum + batch.var(axis=axes) * (1 - momentum)
    return mean, variance


def identity(t):
    return t


@pytest.mark.parametrize("shape, axis, to_torch, from_torch", [
    ((4, 5, 5, 3), -1, lambda t: t.permute(0, 3, 1, 2), lambda t: t.permute(0, 2, 3, 1)),
    ((4, 3, 5, 5), 1, identity, identity),
    ((6, 4), -1, identity, identity),
])
def test_training_mode_matches_torch_and_moves_statistics_by_keras_rule(shape, axis, to_torch, from_torch):
    x = (np.random.default_rng(0).standard_normal(shape) * 3 + 1).astype("float32")
    layer = BatchNormalization(axis=axis)
    rng = np.random.default_rng(1)
    features = shape[axis]
    weights = [rng.standard_normal(features).astype("float32"), rng.standard_normal(features).astype("float32"),
               np.zeros(features, "float32"), np.ones(features, "float32")]

    def torch_forward(x, gamma, beta, moving_mean, moving_variance):
        y = F.batch_norm(to_torch(x), None, None, gamma, beta, training=True, eps=1e-3)
        return from_torch(y)

    compare_layer_with_torch(layer, x, torch_forward, weights=weights, training=True)
    axes = tuple(i for i in range(len(shape)) if i != axis % len(shape))
    mean, variance = moving_after([x], axes)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer.moving_variance.numpy(), variance, rtol=1e-5)


def test_moving_statistics_over_several_batches_and_inference_matches_torch():
    rng = np.random.default_rng(2)
    batches = [(rng.standard_normal((8, 4, 4, 2)) * (i + 1) + i).astype("float32") for i in range(3)]
    layer = BatchNormalization(momentum=0.9)
    for batch in batches:
        layer(batch, training=True)
    mean, variance = moving_after(batches, (0, 1, 2), momentum=0.9)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), variance, rtol=1e-5)

    weights = layer.get_weights()
    test = rng.standard_normal((3, 4, 4, 2)).astype("float32")

    def torch_inference(x, gamma, beta, moving_mean, moving_variance):
        y = F.batch_norm(x.permute(0, 3, 1, 2), moving_mean.detach(), moving_variance.detach(), gamma, beta,
                         training=False, eps=1e-3)
        return y.permute(0, 2, 3, 1)

    compare_layer_with_torch(layer, test, torch_inference, weights=weights, training=False)
    np.testing.assert_allclose(layer.moving_mean.numpy(), weights[2])  # inference leaves them alone


def test_keras_layout_weights_give_keras_result_by_hand():
    layer = BatchNormalization(epsilon=0.25)
    layer.build((None, 2))
    # gamma, beta, moving_mean, moving_variance, in Keras's order
    layer.set_weights([np.array([2.0, 1.0], "float32"), np.array([0.5, -1.0], "float32"),
                       np.array([1.0, 0.0], "float32"), np.array([0.75, 3.75], "float32")])
    output = layer(np.array([[3.0, 4.0]], dtype="float32")).numpy()
    # (3 - 1) / sqrt(0.75 + 0.25) * 2 + 0.5 = 4.5 ;  (4 - 0) / sqrt(3.75 + 0.25) * 1 - 1 = 1.0
    np.testing.assert_allclose(output, [[4.5, 1.0]], rtol=1e-6)


def test_frozen_layer_uses_moving_statistics_even_in_training():
    layer = BatchNormalization()
    x = np.random.default_rng(3).standard_normal((8, 3)).astype("float32") + 5
    layer.build((None, 3))
    layer.trainable = False
    before = layer.get_weights()
    output = layer(x, training=True).numpy()
    np.testing.assert_allclose(output, x / np.sqrt(1 + 1e-3), rtol=1e-6)
    for old, new in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_center_and_scale_off():
    layer = BatchNormalization(center=False, scale=False)
    x = np.random.default_rng(4).standard_normal((6, 3)).astype("float32")
    output = layer(x, training=True).numpy()
    assert [w.name for w in layer.weights] == ["moving_mean", "moving_variance"]
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)


def test_defaults_weights_and_config():
    layer = BatchNormalization()
    assert (layer.axis, layer.momentum, layer.epsilon, layer.center, layer.scale) == (-1, 0.99, 1e-3, True, True)
    layer.build((None, 5, 5, 4))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    np.testing.assert_array_equal(layer.gamma.numpy(), np.ones(4))
    np.testing.assert_array_equal(layer.moving_variance.numpy(), np.ones(4))
    assert layer.get_config()["axis"] == -1
    assert layer.count_params() == 16


def test_wrong_channels_and_axis_errors():
    layer = BatchNormalization()
    layer(np.zeros((2, 3), dtype="float32"))
    with pytest.raises(ValueError, match=r"axis 1 of input shape.*value 3.*\(2, 4\)"):
        layer(np.zeros((2, 4), dtype="float32"))
    with pytest.raises(ValueError, match="out of range"):
        BatchNormalization(axis=3).build((None, 4))


@pytest.mark.parametrize("kwargs, training", [({}, True), ({"axis": 1, "center": False}, True),
                                              ({"gamma_regularizer": "l2", "beta_constraint": "non_neg"}, False)])
def test_batch_normalization_passes_the_harness(kwargs, training):
    trainable = 1 if kwargs.get("center") is False else 2
    run_layer_test(BatchNormalization, kwargs, (4, 3, 3, 2), expected_output_shape=(4, 3, 3, 2),
                   expected_num_trainable_weights=trainable, expected_num_non_trainable_weights=2, training=training)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: BatchNormalization(momentum=1.5), ValueError, "Received: momentum=1.5"),
        (lambda: BatchNormalization(momentum="fast"), TypeError, "momentum"),
        (lambda: BatchNormalization(epsilon=0.0), ValueError, "Received: epsilon=0.0"),
        (lambda: BatchNormalization(epsilon=-1e-3), ValueError, "epsilon"),
        (lambda: BatchNormalization(axis=1.5), TypeError, "Received: axis=1.5"),
        (lambda: BatchNormalization(center="yes"), TypeError, "center"),
        (lambda: BatchNormalization(scale=None), TypeError, "scale"),
        (lambda: BatchNormalization(gamma_initializer="onez"), ValueError, "onez"),
        (lambda: BatchNormalization(beta_regularizer="l5"), ValueError, "l5"),
        (lambda: BatchNormalization(gamma_constraint="unit"), ValueError, "unit"),
        (lambda: BatchNormalization(moving_mean_initializer=3), ValueError, "initializer"),
        (lambda: BatchNormalization(renorm=True), TypeError, "renorm"),
    ],
)
def test_bad_constructor_arguments_raise_in_init(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_float64_training_input_gradient_matches_central_differences():
    layer = BatchNormalization(dtype="float64")
    layer.build((None, 3, 2))
    layer.set_weights([np.array([1.5, -0.5]), np.array([0.2, 0.1]), np.zeros(2), np.ones(2)])
    x = np.random.default_rng(5).standard_normal((3, 3, 2))
    check_finite_differences(lambda t: layer(t, training=True), [x])
