"""cnnkit.functional against keras.ops / keras.activations / keras.losses semantics (formulas written
here from Keras 3's source and docs, independently of cnnkit) and against PyTorch where it has the op:
pooling signatures and default strides, TensorFlow's 'same' pooling, relu's leak/ceiling/threshold,
gelu's two defaults, hard_sigmoid, leaky_relu, softmax axes, dropout, flatten's channels_first
order, batch normalisation and the per-sample losses."""
import inspect
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.functional as cf
from cnnkit import Tensor, activations, keras
from cnnkit import layers as L

from oracle import compare_with_torch

rng = np.random.default_rng(11)


# ----- pooling -------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", [cf.max_pool, cf.average_pool])
def test_pooling_signature_is_keras_ops(op):
    parameters = list(inspect.signature(op).parameters.values())[:5]
    assert [(p.name, p.default) for p in parameters] == [
        ("inputs", inspect.Parameter.empty), ("pool_size", inspect.Parameter.empty), ("strides", None),
        ("padding", "valid"), ("data_format", None)]
    assert keras.ops.max_pool is cf.max_pool and keras.ops.average_pool is cf.average_pool


@pytest.mark.parametrize("pool", [2, 3, (2, 3)])
def test_default_strides_are_the_pool_size(pool):
    x = rng.standard_normal((2, 7, 8, 3)).astype(np.float32)
    kernel = pool if isinstance(pool, tuple) else (pool, pool)
    to_first = lambda t: t.permute(0, 3, 1, 2)  # noqa: E731
    to_last = lambda t: t.permute(0, 2, 3, 1)  # noqa: E731
    compare_with_torch(lambda t: cf.max_pool(t, pool), lambda t: to_last(F.max_pool2d(to_first(t), kernel)), [x])
    compare_with_torch(lambda t: cf.average_pool(t, pool), lambda t: to_last(F.avg_pool2d(to_first(t), kernel)), [x])


def _tf_same_pool_1d(row, pool, stride, mode):
    """TensorFlow's 'same' pooling of one row: output ceil(n / s), pads split with the extra one at
    the end, the pads never taking part (max ignores them, the mean divides by the real cells)."""
    n = len(row)
    out = math.ceil(n / stride)
    total = max((out - 1) * stride + pool - n, 0)
    before = total // 2
    values = []
    for i in range(out):
        start = i * stride - before
        cells = [row[j] for j in range(start, start + pool) if 0 <= j < n]
        values.append(max(cells) if mode == "max" else sum(cells) / len(cells))
    return values


@pytest.mark.parametrize("size, pool, stride", [(7, 2, 2), (7, 3, 2), (6, 4, 3), (5, 3, 1), (4, 5, 2), (9, 2, 3)])
def test_same_pooling_is_tensorflows_rule(size, pool, stride):
    x = rng.standard_normal((1, size, 2)).astype(np.float32)
    for mode, op in (("max", cf.max_pool), ("average", cf.average_pool)):
        output = op(x, pool, strides=stride, padding="same").numpy()
        for channel in range(2):
            expected = _tf_same_pool_1d(list(x[0, :, channel]), pool, stride, mode)
            np.testing.assert_allclose(output[0, :, channel], expected, rtol=1e-6)


def test_global_pooling_keepdims_follows_keras():
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(cf.global_average_pool(x).numpy(), x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(cf.global_max_pool(x, data_format="channels_first", keepdims=True).numpy(),
                               x.max(axis=(2, 3), keepdims=True))


# ----- activations ---------------------------------------------------------------------------------
def _keras_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras.activations.relu, step by step as Keras 3 computes it."""
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return np.maximum(x, negative_slope * x)
        negative_part = np.maximum(-x + threshold, 0) if threshold != 0 else np.maximum(-x, 0)
    if threshold != 0:
        output = x * (x > threshold).astype(x.dtype)
    else:
        output = np.maximum(x, 0)
    if max_value is not None:
        output = np.clip(output, 0.0, max_value)
    if negative_slope != 0.0:
        output = output - negative_slope * negative_part
    return output


RELU_GRID = [(0.0, None, 0.0), (0.0, 6.0, 0.0), (0.0, 3.0, 0.0), (0.2, None, 0.0), (0.2, 4.0, 0.0),
             (0.0, None, 1.0), (0.1, None, 1.0), (0.3, 5.0, 2.0), (0.0, 2.0, 1.0)]


@pytest.mark.parametrize("negative_slope, max_value, threshold", RELU_GRID)
def test_relu_leak_ceiling_and_threshold_are_exactly_keras(negative_slope, max_value, threshold):
    # including the ties: values exactly at 0, at the threshold and at the ceiling
    x = np.array([-10.0, -5.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0], np.float32)
    expected = _keras_relu(x, negative_slope, max_value, threshold)
    np.testing.assert_allclose(cf.relu(x, negative_slope, max_value, threshold).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(
        L.ReLU(max_value=max_value, negative_slope=negative_slope, threshold=threshold)(x[None]).numpy()[0],
        expected, rtol=1e-6)


def test_relu_keras_documented_example():
    x = np.array([-10, -5, 0.0, 5, 10], np.float32)
    np.testing.assert_allclose(cf.relu(x).numpy(), [0.0, 0.0, 0.0, 5.0, 10.0])
    np.testing.assert_allclose(cf.relu(x, negative_slope=0.5).numpy(), [-5.0, -2.5, 0.0, 5.0, 10.0])
    np.testing.assert_allclose(cf.relu(x, max_value=5.0).numpy(), [0.0, 0.0, 0.0, 5.0, 5.0])
    np.testing.assert_allclose(cf.relu(x, threshold=5.0).numpy(), [-0.0, -0.0, 0.0, 0.0, 10.0])


def test_gelu_defaults_keras_ops_approximate_keras_activations_exact():
    assert inspect.signature(cf.gelu).parameters["approximate"].default is True  # keras.ops.gelu
    assert inspect.signature(activations.gelu).parameters["approximate"].default is False  # keras.activations
    assert keras.ops.gelu is cf.gelu and keras.activations.get("gelu") is activations.gelu
    x = rng.uniform(-4, 4, (3, 5)).astype(np.float32)
    compare_with_torch(cf.gelu, lambda t: F.gelu(t, approximate="tanh"), [x])
    compare_with_torch(activations.gelu, lambda t: F.gelu(t, approximate="none"), [x])
    np.testing.assert_allclose(L.Activation("gelu")(x).numpy(), F.gelu(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_hard_sigmoid_and_hard_silu_are_keras_3s_relu6_forms():
    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.5], np.float32)
    expected = np.clip(x + 3.0, 0.0, 6.0) / 6.0  # Keras 3: relu6(x + 3) / 6
    np.testing.assert_allclose(cf.hard_sigmoid(x).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(cf.hard_silu(x).numpy(), x * expected, rtol=1e-6)
    np.testing.assert_allclose(cf.hard_sigmoid(x).numpy(), F.hardsigmoid(torch.tensor(x)).numpy(), rtol=1e-6)


def test_leaky_relu_defaults_function_0_2_layer_0_3():
    assert inspect.signature(cf.leaky_relu).parameters["negative_slope"].default == 0.2
    x = np.array([-2.0, -0.5, 0.0, 1.5], np.float32)
    np.testing.assert_allclose(cf.leaky_relu(x).numpy(), F.leaky_relu(torch.tensor(x), 0.2).numpy())
    np.testing.assert_allclose(activations.get("leaky_relu")(x).numpy(), [-0.4, -0.1, 0.0, 1.5], rtol=1e-6)
    np.testing.assert_allclose(L.LeakyReLU()(x[None]).numpy()[0], [-0.6, -0.15, 0.0, 1.5], rtol=1e-6)


@pytest.mark.parametrize("axis, torch_fn", [
    (-1, lambda t: F.softmax(t, dim=-1)),
    (1, lambda t: F.softmax(t, dim=1)),
    (0, lambda t: F.softmax(t, dim=0)),
    ((1, 2), lambda t: F.softmax(t.reshape(2, -1), dim=-1).reshape(2, 3, 4)),
])
def test_softmax_and_log_softmax_axes(axis, torch_fn):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    compare_with_torch(lambda t: cf.softmax(t, axis=axis), torch_fn, [x])
    compare_with_torch(lambda t: cf.log_softmax(t, axis=axis), lambda t: torch.log(torch_fn(t)), [x])
    assert inspect.signature(cf.softmax).parameters["axis"].default == -1


def test_elu_selu_softplus_softsign_silu_match_torch():
    x = rng.uniform(-5, 5, (4, 5)).astype(np.float32)
    compare_with_torch(lambda t: cf.elu(t, alpha=0.7), lambda t: F.elu(t, alpha=0.7), [x])
    compare_with_torch(cf.selu, F.selu, [x])
    compare_with_torch(cf.softplus, F.softplus, [x])
    compare_with_torch(cf.softsign, F.softsign, [x])
    compare_with_torch(cf.silu, F.silu, [x])
    assert cf.swish is cf.silu


# ----- dropout, flatten, batch normalisation -------------------------------------------------------
def test_dropout_keeps_with_probability_1_minus_rate_and_scales_by_its_inverse():
    x = np.ones((200, 500), np.float32)
    output = cf.dropout(x, 0.3, seed=4).numpy()
    assert set(np.unique(output).tolist()) == {0.0, np.float32(1 / 0.7)}
    kept = (output != 0).mean()
    assert abs(kept - 0.7) < 0.01  # 100,000 draws: the standard error is 0.0015
    np.testing.assert_array_equal(cf.dropout(x, 0.3, seed=4).numpy(), output)  # same seed, same mask
    np.testing.assert_array_equal(cf.dropout(x, 0.0).numpy(), x)
    np.testing.assert_array_equal(cf.dropout(x, 1.0).numpy(), np.zeros_like(x))  # as torch's p=1
    np.testing.assert_array_equal(F.dropout(torch.tensor(x[:2]), 1.0).numpy(), np.zeros((2, 500)))
    tensor = Tensor(x[:3, :4].copy(), requires_grad=True)
    dropped = cf.dropout(tensor, 0.5, seed=1)
    dropped.backward(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(tensor.grad, dropped.numpy())  # d(x * mask * 2)/dx = mask * 2, x = 1


def test_dropout_noise_shape_broadcasts_one_decision_per_feature_map():
    x = np.ones((4, 5, 5, 6), np.float32)
    output = cf.dropout(x, 0.5, noise_shape=(None, 1, 1, None), seed=3).numpy()
    assert (output == output[:, :1, :1, :]).all()
    assert 0 < (output[:, 0, 0, :] == 0).mean() < 1


def test_flatten_channels_first_puts_channels_last_first_as_keras():
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)  # (batch, channels, h, w)
    np.testing.assert_array_equal(cf.flatten(x, data_format="channels_first").numpy(),
                                  x.transpose(0, 2, 3, 1).reshape(2, -1))
    np.testing.assert_array_equal(cf.flatten(x).numpy(), x.reshape(2, -1))
    np.testing.assert_array_equal(cf.flatten(np.arange(3.0)).numpy(), [[0.0], [1.0], [2.0]])


def test_batch_normalization_op_is_keras_formula_and_torch_eval():
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    mean, variance = rng.standard_normal(3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    gamma, beta = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    output = cf.batch_normalization(x, mean, variance, axis=1, offset=beta, scale=gamma, epsilon=1e-3).numpy()
    shape = (1, 3, 1)
    expected = (x - mean.reshape(shape)) / np.sqrt(variance.reshape(shape) + 1e-3) * gamma.reshape(shape) \
        + beta.reshape(shape)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)
    theirs = F.batch_norm(torch.tensor(x), torch.tensor(mean), torch.tensor(variance), torch.tensor(gamma),
                          torch.tensor(beta), training=False, eps=1e-3)
    np.testing.assert_allclose(output, theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_normalization_layer_moving_statistics_follow_keras_not_torch():
    x = rng.standard_normal((8, 3)).astype(np.float32) * 2 + 1
    layer = L.BatchNormalization(momentum=0.9)
    output = layer(x, training=True).numpy()
    biased = x.var(axis=0)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * biased, rtol=1e-5)
    theirs = F.batch_norm(torch.tensor(x), None, None, training=True, eps=1e-3)
    np.testing.assert_allclose(output, theirs.numpy(), rtol=1e-4, atol=1e-5)
    frozen = L.BatchNormalization()
    frozen.trainable = False  # Keras: a frozen BatchNormalization runs in inference mode
    np.testing.assert_allclose(frozen(x, training=True).numpy(), x / np.sqrt(1 + 1e-3), rtol=1e-5)


# ----- losses --------------------------------------------------------------------------------------
EPSILON = 1e-7  # Keras's backend.epsilon()
probabilities = rng.uniform(0.0, 1.0, (5, 4)).astype(np.float32)
probabilities[0, 0], probabilities[1, 1] = 0.0, 1.0
labels = np.array([0, 1, 2, 3, 1])
one_hot = np.eye(4, dtype=np.float32)[labels]
binary = (rng.random((5, 4)) > 0.5).astype(np.float32)


def test_categorical_crossentropy_from_probabilities_is_keras_formula():
    # Keras: divide by the sum over the class axis, clip to [eps, 1 - eps], -sum(y log p)
    normalized = np.clip(probabilities / probabilities.sum(-1, keepdims=True), EPSILON, 1 - EPSILON)
    expected = -(one_hot * np.log(normalized)).sum(-1)
    np.testing.assert_allclose(cf.categorical_crossentropy(one_hot, probabilities).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(cf.sparse_categorical_crossentropy(labels, probabilities).numpy(), expected, rtol=1e-5)
    smoothed = one_hot * 0.8 + 0.2 / 4
    np.testing.assert_allclose(cf.categorical_crossentropy(one_hot, probabilities, label_smoothing=0.2).numpy(),
                               -(smoothed * np.log(normalized)).sum(-1), rtol=1e-5)
    transposed = cf.categorical_crossentropy(one_hot.T, probabilities.T, axis=0).numpy()
    np.testing.assert_allclose(transposed, expected, rtol=1e-5)


def test_crossentropy_from_logits_matches_torch():
    logits = rng.standard_normal((5, 4)).astype(np.float32)
    compare_with_torch(lambda t: cf.categorical_crossentropy(one_hot, t, from_logits=True),
                       lambda t: F.cross_entropy(t, torch.tensor(one_hot), reduction="none"), [logits])
    compare_with_torch(lambda t: cf.sparse_categorical_crossentropy(labels, t, from_logits=True),
                       lambda t: F.cross_entropy(t, torch.tensor(labels), reduction="none"), [logits])
    compare_with_torch(lambda t: cf.binary_crossentropy(binary, t, from_logits=True),
                       lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(binary),
                                                                    reduction="none").mean(-1), [logits])
    ignored = np.array([0, -1, 2, -1, 1])
    ours = cf.sparse_categorical_crossentropy(ignored, logits, from_logits=True, ignore_class=-1).numpy()
    theirs = F.cross_entropy(torch.tensor(logits), torch.tensor(ignored), ignore_index=-1, reduction="none")
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_binary_crossentropy_from_probabilities_is_keras_formula():
    clipped = np.clip(probabilities, EPSILON, 1 - EPSILON)
    expected = -(binary * np.log(clipped) + (1 - binary) * np.log(1 - clipped)).mean(-1)
    np.testing.assert_allclose(cf.binary_crossentropy(binary, probabilities).numpy(), expected, rtol=1e-5)
    smoothed = binary * 0.9 + 0.05
    expected = -(smoothed * np.log(clipped) + (1 - smoothed) * np.log(1 - clipped)).mean(-1)
    np.testing.assert_allclose(cf.binary_crossentropy(binary, probabilities, label_smoothing=0.1).numpy(),
                               expected, rtol=1e-5)


def test_regression_losses_are_keras_formulas():
    target = rng.standard_normal((5, 4)).astype(np.float32)
    prediction = rng.standard_normal((5, 4)).astype(np.float32) * 2
    error = prediction - target
    np.testing.assert_allclose(cf.mean_squared_error(target, prediction).numpy(), (error ** 2).mean(-1), rtol=1e-6)
    np.testing.assert_allclose(cf.mean_absolute_error(target, prediction).numpy(), np.abs(error).mean(-1), rtol=1e-6)
    for delta in (1.0, 0.5):
        absolute = np.abs(error)
        expected = np.where(absolute <= delta, 0.5 * error ** 2, delta * absolute - 0.5 * delta ** 2).mean(-1)
        np.testing.assert_allclose(cf.huber(target, prediction, delta=delta).numpy(), expected, rtol=1e-5)
        compare_with_torch(lambda t: cf.huber(target, t, delta=delta),  # noqa: B023
                           lambda t: F.huber_loss(t, torch.tensor(target), delta=delta,  # noqa: B023
                                                  reduction="none").mean(-1), [prediction])
