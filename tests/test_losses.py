"""Losses: the per-sample functions (cnnkit.functional.losses) against torch (cross_entropy,
nll_loss, binary_cross_entropy[_with_logits], mse/l1/huber_loss) and float64 central differences;
Keras's epsilon clipping against NumPy expressions of Keras's documented formulas; Keras's
docstring values; the Loss classes (reductions, sample weights, configs) and losses.get."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.functional as cf
from cnnkit import Tensor, losses

from oracle import check_finite_differences, compare_with_torch

rng = np.random.default_rng(11)
EPSILON = 1e-7


def logits(*shape, scale=2.0, dtype=np.float32):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def probabilities(*shape, axis=-1, dtype=np.float32):
    values = rng.uniform(0.05, 1.0, shape)
    return (values / values.sum(axis=axis, keepdims=True)).astype(dtype)


def one_hot(labels, num_classes, dtype=np.float32):
    return np.eye(num_classes, dtype=dtype)[labels]


# ----- categorical ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("soft_targets", [False, True])
def test_categorical_from_logits_matches_torch_cross_entropy(label_smoothing, soft_targets):
    targets = probabilities(6, 5) if soft_targets else one_hot(rng.integers(0, 5, 6), 5)
    compare_with_torch(
        lambda z: cf.categorical_crossentropy(targets, z, from_logits=True, label_smoothing=label_smoothing),
        lambda z: F.cross_entropy(z, torch.tensor(targets), reduction="none", label_smoothing=label_smoothing),
        [logits(6, 5)],
    )


def test_categorical_from_logits_along_the_channel_axis_of_images():
    labels = rng.integers(0, 4, (2, 3, 5))
    targets = np.moveaxis(one_hot(labels, 4), -1, 1)  # (N, C, H, W)
    compare_with_torch(
        lambda z: cf.categorical_crossentropy(targets, z, from_logits=True, axis=1),
        lambda z: F.cross_entropy(z, torch.tensor(labels), reduction="none"),
        [logits(2, 4, 3, 5)],
    )


def keras_categorical_from_probabilities(target, output, axis=-1):
    """Keras (every backend): renormalise along axis, clip to [eps, 1 - eps], -sum(target * log)."""
    output = output / output.sum(axis, keepdim=True)
    return -(target * torch.log(output.clamp(EPSILON, 1 - EPSILON))).sum(axis)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_categorical_from_probabilities_follows_keras_renormalise_and_clip(label_smoothing):
    targets = one_hot(rng.integers(0, 4, 5), 4)
    smoothed = targets * (1 - label_smoothing) + label_smoothing / 4
    unnormalised = rng.uniform(0.05, 2.0, (5, 4)).astype(np.float32)  # rows do not sum to 1
    compare_with_torch(
        lambda p: cf.categorical_crossentropy(targets, p, label_smoothing=label_smoothing),
        lambda p: keras_categorical_from_probabilities(torch.tensor(smoothed), p),
        [unnormalised],
    )


def test_categorical_from_probabilities_clips_zeros_and_ones():
    targets = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    predictions = np.array([[0.0, 1.0, 0.0], [0.0, 0.5, 0.5]], np.float32)
    x = Tensor(predictions, requires_grad=True)
    loss = cf.categorical_crossentropy(targets, x)
    expected = [-np.log(np.float32(1 - EPSILON)), -np.log(EPSILON)]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5)
    loss.backward(np.ones(2, np.float32))
    assert np.all(np.isfinite(x.grad))
    # Row 2: the label's probability is clipped, so nothing flows back (as through any clip).
    np.testing.assert_array_equal(x.grad[1], [0.0, 0.0, 0.0])


def test_categorical_from_probabilities_along_axis_one():
    targets = np.moveaxis(one_hot(rng.integers(0, 3, (2, 4)), 3), -1, 1)
    compare_with_torch(lambda p: cf.categorical_crossentropy(targets, p, axis=1),
                       lambda p: keras_categorical_from_probabilities(torch.tensor(targets), p, axis=1),
                       [probabilities(2, 3, 4, axis=1)])


# ----- sparse -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label_shape", ["flat", "column", "float"])
def test_sparse_from_logits_matches_torch_cross_entropy(label_shape):
    labels = rng.integers(0, 5, 7)
    given = {"flat": labels, "column": labels[:, None], "float": labels.astype(np.float32)}[label_shape]
    compare_with_torch(lambda z: cf.sparse_categorical_crossentropy(given, z, from_logits=True),
                       lambda z: F.cross_entropy(z, torch.tensor(labels), reduction="none"), [logits(7, 5)])


def test_sparse_from_probabilities_matches_nll_of_keras_clipped_log():
    labels = rng.integers(0, 4, 6)
    unnormalised = rng.uniform(0.05, 2.0, (6, 4)).astype(np.float32)
    compare_with_torch(
        lambda p: cf.sparse_categorical_crossentropy(labels, p),
        lambda p: F.nll_loss(torch.log((p / p.sum(-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)),
                             torch.tensor(labels), reduction="none"),
        [unnormalised],
    )


@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_equals_categorical_on_one_hot_labels(from_logits):
    labels = rng.integers(0, 5, 8)
    predictions = logits(8, 5) if from_logits else probabilities(8, 5)
    sparse = cf.sparse_categorical_crossentropy(labels, predictions, from_logits=from_logits).numpy()
    dense = cf.categorical_crossentropy(one_hot(labels, 5), predictions, from_logits=from_logits).numpy()
    np.testing.assert_allclose(sparse, dense, rtol=1e-6)


def test_sparse_along_the_channel_axis_of_images_matches_torch():
    labels = rng.integers(0, 3, (2, 4, 5))
    compare_with_torch(lambda z: cf.sparse_categorical_crossentropy(labels, z, from_logits=True, axis=1),
                       lambda z: F.cross_entropy(z, torch.tensor(labels), reduction="none"), [logits(2, 3, 4, 5)])


@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_ignore_class_gives_zero_loss_and_gradient_like_torch_ignore_index(from_logits):
    labels = np.array([0, -1, 2, 1, -1, 3])
    predictions = logits(6, 4) if from_logits else probabilities(6, 4)

    def theirs(p):
        log_probabilities = F.log_softmax(p, -1) if from_logits else torch.log(p / p.sum(-1, keepdim=True))
        return F.nll_loss(log_probabilities, torch.tensor(labels), reduction="none", ignore_index=-1)

    output = compare_with_torch(
        lambda p: cf.sparse_categorical_crossentropy(labels, p, from_logits=from_logits, ignore_class=-1),
        theirs, [predictions])
    assert output[1] == 0.0 and output[4] == 0.0
    # The Loss class averages over the entries that count, as torch's mean with ignore_index.
    compare_with_torch(
        lambda p: losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=-1)(labels, p),
        lambda p: theirs(p).sum() / 4.0, [predictions])


# ----- binary -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_binary_from_logits_matches_torch(label_smoothing):
    targets = rng.integers(0, 2, (4, 6)).astype(np.float32)
    smoothed = targets * (1 - label_smoothing) + 0.5 * label_smoothing
    compare_with_torch(
        lambda z: cf.binary_crossentropy(targets, z, from_logits=True, label_smoothing=label_smoothing),
        lambda z: F.binary_cross_entropy_with_logits(z, torch.tensor(smoothed), reduction="none").mean(-1),
        [logits(4, 6, scale=4.0)],
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_binary_from_probabilities_matches_torch(label_smoothing):
    targets = rng.uniform(0, 1, (4, 6)).astype(np.float32)  # soft targets too
    smoothed = targets * (1 - label_smoothing) + 0.5 * label_smoothing
    compare_with_torch(
        lambda p: cf.binary_crossentropy(targets, p, label_smoothing=label_smoothing),
        lambda p: F.binary_cross_entropy(p, torch.tensor(smoothed), reduction="none").mean(-1),
        [rng.uniform(0.05, 0.95, (4, 6)).astype(np.float32)],
    )


def test_binary_from_probabilities_clips_to_keras_epsilon():
    targets = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    predictions = np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)
    x = Tensor(predictions, requires_grad=True)
    loss = cf.binary_crossentropy(targets, x)
    # Keras's formula evaluated in float32, as Keras does for float32 predictions (1 - 1e-7 rounds
    # to 1 - 2**-23 there, so log(1 - p) at the upper bound is log(1.19e-7), not log(1e-7)).
    clipped = np.clip(predictions, EPSILON, 1 - EPSILON)
    expected = np.mean(-(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped)), axis=-1)
    assert clipped.dtype == np.float32
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    loss.backward(np.ones(1, np.float32))
    np.testing.assert_array_equal(x.grad, np.zeros((1, 4)))  # every entry sits on a clip bound


def test_binary_on_one_dimensional_inputs_averages_to_one_value():
    targets, z = np.array([0, 1, 0, 0]), np.array([-18.6, 0.51, 2.94, -12.8], np.float32)
    value = cf.binary_crossentropy(targets, z, from_logits=True)
    assert value.shape == ()
    assert float(value) == pytest.approx(0.865458, abs=1e-5)  # Keras's docstring: 0.8654


# ----- regression losses ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (6,)])
def test_mean_squared_and_absolute_error_match_torch(shape):
    targets = logits(*shape)
    compare_with_torch(lambda p: cf.mean_squared_error(targets, p),
                       lambda p: F.mse_loss(p, torch.tensor(targets), reduction="none").mean(-1), [logits(*shape)])
    compare_with_torch(lambda p: cf.mean_absolute_error(targets, p),
                       lambda p: F.l1_loss(p, torch.tensor(targets), reduction="none").mean(-1), [logits(*shape)])


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
def test_huber_matches_torch(delta):
    targets = logits(5, 4)
    compare_with_torch(lambda p: cf.huber(targets, p, delta=delta),
                       lambda p: F.huber_loss(p, torch.tensor(targets), reduction="none", delta=delta).mean(-1),
                       [logits(5, 4)])


def test_regression_losses_squeeze_a_trailing_unit_axis_as_keras():
    targets, predictions = logits(6), logits(6, 1)
    np.testing.assert_allclose(cf.mean_squared_error(targets, predictions).numpy(),
                               (targets - predictions[:, 0]) ** 2, rtol=1e-6)
    assert cf.mean_squared_error(targets[:, None], predictions).shape == (6,)


# ----- float64 central differences --------------------------------------------------------------------------
FINITE_DIFFERENCE_CASES = {
    "categorical-logits": lambda p: cf.categorical_crossentropy(np.eye(3)[[0, 2, 1, 2]], p, from_logits=True,
                                                                label_smoothing=0.1),
    "categorical-probabilities": lambda p: cf.categorical_crossentropy(np.eye(3)[[0, 2, 1, 2]], p * p + 0.1),
    "sparse-logits": lambda p: cf.sparse_categorical_crossentropy([0, 2, 1, 2], p, from_logits=True),
    "sparse-probabilities": lambda p: cf.sparse_categorical_crossentropy([0, 2, 1, 2], p * p + 0.1),
    "sparse-ignore": lambda p: cf.sparse_categorical_crossentropy([0, 5, 1, 2], p, from_logits=True, ignore_class=5),
    "binary-logits": lambda p: cf.binary_crossentropy(np.array([[0, 1, 0.3]] * 4), p, from_logits=True),
    "binary-probabilities": lambda p: cf.binary_crossentropy(np.array([[0, 1, 0.3]] * 4), 0.1 + 0.8 / (1 + p * p)),
    "mse": lambda p: cf.mean_squared_error(np.ones((4, 3)), p),
    "mae": lambda p: cf.mean_absolute_error(np.full((4, 3), 3.0), p),
    "huber": lambda p: cf.huber(np.full((4, 3), 0.3), p, delta=0.7),
}


@pytest.mark.parametrize("name", sorted(FINITE_DIFFERENCE_CASES))
def test_loss_gradients_match_float64_central_differences(name):
    check_finite_differences(FINITE_DIFFERENCE_CASES[name], [rng.standard_normal((4, 3))])


# ----- numerics and dtypes ----------------------------------------------------------------------------------
def test_cross_entropies_from_huge_logits_stay_finite_and_exact():
    z = np.array([[1e4, -1e4, 0.0], [-5e3, 5e3, 5e3]], np.float32)
    labels = np.array([1, 0])
    for ours, theirs in (
        (lambda t: cf.sparse_categorical_crossentropy(labels, t, from_logits=True),
         lambda t: F.cross_entropy(t, torch.tensor(labels), reduction="none")),
        (lambda t: cf.categorical_crossentropy(one_hot(labels, 3), t, from_logits=True),
         lambda t: F.cross_entropy(t, torch.tensor(one_hot(labels, 3)), reduction="none")),
        (lambda t: cf.binary_crossentropy(np.array([[1, 0, 1], [0, 1, 1]]), t, from_logits=True),
         lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor([[1.0, 0, 1], [0, 1, 1]]),
                                                      reduction="none").mean(-1)),
    ):
        output = compare_with_torch(ours, theirs, [z])
        assert np.all(np.isfinite(output))


def test_float64_labels_do_not_upcast_float32_predictions():
    labels64 = np.eye(4)[[0, 3, 1]]  # float64 one-hot
    for function in (cf.categorical_crossentropy, cf.binary_crossentropy, cf.mean_squared_error,
                     cf.mean_absolute_error, cf.huber):
        predictions = Tensor(probabilities(3, 4), requires_grad=True)
        loss = function(labels64, predictions)
        assert loss.dtype == np.float32, function.__name__
        loss.sum().backward()
        assert predictions.grad.dtype == np.float32
    x = Tensor(logits(3, 4), requires_grad=True)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([0.0, 3.0, 1.0]), x)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_y_true_tensor_is_a_constant():
    targets = Tensor(one_hot(np.array([0, 1]), 2), requires_grad=True)
    predictions = Tensor(logits(2, 2), requires_grad=True)
    cf.categorical_crossentropy(targets, predictions, from_logits=True).sum().backward()
    assert targets.grad is None and predictions.grad is not None


# ----- errors -------------------------------------------------------------------------------------------
def test_labels_out_of_range_raise_with_both_shapes():
    with pytest.raises(ValueError, match=r"\[0, 3\).*\[3\].*y_true.shape=\(2,\).*y_pred.shape=\(2, 3\)"):
        cf.sparse_categorical_crossentropy([0, 3], probabilities(2, 3))
    with pytest.raises(ValueError, match=r"\[-1\]"):
        cf.sparse_categorical_crossentropy([0, -1], logits(2, 3), from_logits=True)


def test_labels_of_the_wrong_shape_raise_with_both_shapes():
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 3\).*y_pred.shape=\(4, 3\)") as error:
        cf.sparse_categorical_crossentropy(one_hot(np.array([0, 1, 2, 0]), 3), probabilities(4, 3))
    assert "categorical_crossentropy" in str(error.value)
    with pytest.raises(ValueError, match=r"y_true.shape=\(5,\).*y_pred.shape=\(4, 3\)"):
        cf.sparse_categorical_crossentropy(np.zeros(5, int), probabilities(4, 3))


def test_incompatible_shapes_raise_with_both_shapes():
    cases = [
        (cf.categorical_crossentropy, np.array([0, 1, 2, 1]), probabilities(4, 3)),
        (cf.binary_crossentropy, np.zeros((4, 2)), probabilities(4, 3)),
        (cf.mean_squared_error, np.zeros((4, 1)), logits(4, 3)),  # no silent broadcasting
        (cf.mean_absolute_error, np.zeros((3, 4)), logits(4, 3)),
        (cf.huber, np.zeros(5), logits(4)),
    ]
    for function, targets, predictions in cases:
        with pytest.raises(ValueError, match=rf"y_true.shape={tuple(targets.shape)}.*y_pred.shape={tuple(predictions.shape)}".replace("(", r"\(").replace(")", r"\)")):
            function(targets, predictions)


def test_non_integer_labels_and_bad_arguments_raise():
    with pytest.raises(ValueError, match="whole-number"):
        cf.sparse_categorical_crossentropy([0.5, 1.0], probabilities(2, 3))
    with pytest.raises(TypeError, match="y_pred.*int64"):
        cf.mean_squared_error([1.0, 2.0], np.array([1, 2]))
    with pytest.raises(ValueError, match="label_smoothing=1.5"):
        cf.categorical_crossentropy(one_hot(np.array([0]), 2), probabilities(1, 2), label_smoothing=1.5)
    with pytest.raises(ValueError, match="axis=2"):
        cf.categorical_crossentropy(one_hot(np.array([0]), 2), probabilities(1, 2), axis=2)
    with pytest.raises(TypeError, match="axis=True"):
        cf.binary_crossentropy(np.zeros((1, 2)), probabilities(1, 2), axis=True)
    with pytest.raises(ValueError, match="delta=0"):
        cf.huber(np.zeros(2), logits(2), delta=0)
    with pytest.raises(TypeError, match="from_logits='yes'"):
        cf.binary_crossentropy(np.zeros(2), logits(2), from_logits="yes")
    with pytest.raises(TypeError, match="ignore_class=1.5"):
        cf.sparse_categorical_crossentropy([0], probabilities(1, 2), ignore_class=1.5)


# ----- Keras's documented values ----------------------------------------------------------------------------
KERAS_Y_TRUE = np.array([[0, 1, 0], [0, 0, 1]])
KERAS_Y_PRED = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], np.float32)


def test_keras_docstring_values_for_categorical_crossentropies():
    np.testing.assert_allclose(cf.categorical_crossentropy(KERAS_Y_TRUE, KERAS_Y_PRED).numpy(), [0.0513, 2.303], atol=1e-3)
    np.testing.assert_allclose(cf.sparse_categorical_crossentropy([1, 2], KERAS_Y_PRED).numpy(), [0.0513, 2.303], atol=1e-3)
    for loss in (losses.CategoricalCrossentropy(), losses.SparseCategoricalCrossentropy()):
        y_true = KERAS_Y_TRUE if isinstance(loss, losses.CategoricalCrossentropy) else np.array([1, 2])
        assert float(loss(y_true, KERAS_Y_PRED)) == pytest.approx(1.177, abs=1e-3)
        assert float(loss(y_true, KERAS_Y_PRED, sample_weight=np.array([0.3, 0.7]))) == pytest.approx(0.814, abs=1e-3)
    assert float(losses.CategoricalCrossentropy(reduction="sum")(KERAS_Y_TRUE, KERAS_Y_PRED)) == pytest.approx(2.354, abs=1e-3)
    per_sample = losses.CategoricalCrossentropy(reduction=None)(KERAS_Y_TRUE, KERAS_Y_PRED).numpy()
    np.testing.assert_allclose(per_sample, [0.0513, 2.303], atol=1e-3)


def test_keras_docstring_values_for_binary_crossentropy_and_huber():
    y_true, y_pred = np.array([[0, 1], [0, 0]]), np.array([[-18.6, 0.51], [2.94, -12.8]], np.float32)
    loss = losses.BinaryCrossentropy(from_logits=True)
    assert float(loss(y_true, y_pred)) == pytest.approx(0.8654, abs=1e-3)
    assert float(loss(y_true, y_pred, sample_weight=[0.8, 0.2])) == pytest.approx(0.243, abs=1e-3)
    assert float(losses.BinaryCrossentropy(from_logits=True, reduction="sum")(y_true, y_pred)) == pytest.approx(1.730, abs=1e-3)
    per_sample = losses.BinaryCrossentropy(from_logits=True, reduction=None)(y_true, y_pred).numpy()
    np.testing.assert_allclose(per_sample, [0.235, 1.496], atol=1e-3)
    probabilities_pred = np.array([[0.6, 0.4], [0.4, 0.6]], np.float32)
    np.testing.assert_allclose(cf.binary_crossentropy(y_true, probabilities_pred).numpy(), [0.916, 0.714], atol=1e-3)
    assert float(losses.Huber()(y_true, probabilities_pred)) == pytest.approx(0.155, abs=1e-3)


# ----- Loss classes ------------------------------------------------------------------------------------------
def test_loss_objects_reduce_and_backpropagate_like_torch_means():
    labels = rng.integers(0, 5, 6)
    targets = one_hot(labels, 5)
    z = logits(6, 5)
    cases = [
        (losses.CategoricalCrossentropy(from_logits=True), targets,
         lambda t: F.cross_entropy(t, torch.tensor(labels))),
        (losses.SparseCategoricalCrossentropy(from_logits=True), labels,
         lambda t: F.cross_entropy(t, torch.tensor(labels))),
        (losses.BinaryCrossentropy(from_logits=True), targets,
         lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(targets))),
        (losses.MeanSquaredError(), targets, lambda t: F.mse_loss(t, torch.tensor(targets))),
        (losses.MeanAbsoluteError(), targets, lambda t: F.l1_loss(t, torch.tensor(targets))),
        (losses.Huber(delta=0.8), targets, lambda t: F.huber_loss(t, torch.tensor(targets), delta=0.8)),
    ]
    for loss, y_true, theirs in cases:
        compare_with_torch(lambda t: loss(y_true, t), theirs, [z])


def test_reductions_and_sample_weights():
    values = cf.mean_squared_error(np.zeros((4, 2)), np.array([[1, 1], [2, 2], [3, 3], [4, 4]], np.float32)).numpy()
    weights = np.array([1.0, 0.0, 2.0, 0.5])
    prediction = np.array([[1, 1], [2, 2], [3, 3], [4, 4]], np.float32)

    def mse(**kwargs):
        return losses.MeanSquaredError(**kwargs)

    assert float(mse()(np.zeros((4, 2)), prediction)) == pytest.approx(values.mean())
    assert float(mse(reduction="mean")(np.zeros((4, 2)), prediction)) == pytest.approx(values.mean())
    assert float(mse(reduction="sum")(np.zeros((4, 2)), prediction)) == pytest.approx(values.sum())
    np.testing.assert_allclose(mse(reduction="none")(np.zeros((4, 2)), prediction).numpy(), values)
    weighted = mse()(np.zeros((4, 2)), prediction, sample_weight=weights)
    assert float(weighted) == pytest.approx((values * weights).sum() / 4)
    by_weight = mse(reduction="mean_with_sample_weight")(np.zeros((4, 2)), prediction, sample_weight=weights)
    assert float(by_weight) == pytest.approx((values * weights).sum() / weights.sum())
    column = mse()(np.zeros((4, 2)), prediction, sample_weight=weights[:, None])  # (batch, 1) weights squeeze
    assert float(column) == pytest.approx(float(weighted))
    elementwise = losses.BinaryCrossentropy(reduction=None, axis=0)  # values of shape (2,)
    assert elementwise(np.zeros((4, 2)), np.full((4, 2), 0.5, np.float32)).shape == (2,)
    with pytest.raises(ValueError, match=r"sample_weight.shape=\(3,\).*\(4,\)"):
        mse()(np.zeros((4, 2)), prediction, sample_weight=np.ones(3))


def test_per_sample_weights_broadcast_over_extra_axes():
    targets = np.zeros((2, 3, 4))
    predictions = rng.standard_normal((2, 3, 4)).astype(np.float32)
    values = ((predictions - targets) ** 2).mean(-1)  # (2, 3)
    weighted = losses.MeanSquaredError()(targets, predictions, sample_weight=np.array([1.0, 3.0]))
    assert float(weighted) == pytest.approx(float((values * np.array([[1.0], [3.0]])).sum() / 6), rel=1e-6)


ALL_CLASSES = [
    losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, axis=1, reduction="sum", name="cce"),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
    losses.BinaryCrossentropy(label_smoothing=0.2),
    losses.MeanSquaredError(reduction=None),
    losses.MeanAbsoluteError(name="l1"),
    losses.Huber(delta=2.0),
]


@pytest.mark.parametrize("loss", ALL_CLASSES, ids=lambda loss: type(loss).__name__)
def test_config_round_trips(loss):
    config = loss.get_config()
    assert config["name"] == loss.name and config["reduction"] == loss.reduction
    rebuilt = type(loss).from_config(config)
    assert rebuilt.get_config() == config
    assert losses.deserialize(losses.serialize(loss)).get_config() == config
    assert losses.get({"class_name": type(loss).__name__, "config": config}).get_config() == config


def test_keras_default_names_and_configs():
    assert losses.CategoricalCrossentropy().get_config() == {
        "name": "categorical_crossentropy", "reduction": "sum_over_batch_size",
        "from_logits": False, "label_smoothing": 0.0, "axis": -1}
    assert losses.SparseCategoricalCrossentropy().get_config() == {
        "name": "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size",
        "from_logits": False, "ignore_class": None}
    assert losses.Huber().get_config() == {"name": "huber_loss", "reduction": "sum_over_batch_size", "delta": 1.0}
    assert losses.MeanSquaredError().name == "mean_squared_error"
    assert losses.MeanAbsoluteError().name == "mean_absolute_error"
    assert losses.BinaryCrossentropy().name == "binary_crossentropy"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("categorical_crossentropy", cf.categorical_crossentropy),
        ("sparse_categorical_crossentropy", cf.sparse_categorical_crossentropy),
        ("binary_crossentropy", cf.binary_crossentropy),
        ("mean_squared_error", cf.mean_squared_error),
        ("mean_absolute_error", cf.mean_absolute_error),
        ("huber", cf.huber),
        ("mse", cf.mean_squared_error),
        ("MSE", cf.mean_squared_error),
        ("mae", cf.mean_absolute_error),
        ("MAE", cf.mean_absolute_error),
        ("bce", cf.binary_crossentropy),
        ("BCE", cf.binary_crossentropy),
    ],
)
def test_get_resolves_function_names_to_functions(name, expected):
    assert losses.get(name) is expected
    assert isinstance(losses.as_loss(name), losses.Loss)


@pytest.mark.parametrize("name", ["CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy",
                                  "MeanSquaredError", "MeanAbsoluteError", "Huber"])
def test_get_resolves_class_names_to_instances(name):
    resolved = losses.get(name)
    assert type(resolved).__name__ == name
    assert losses.as_loss(name) is not resolved and type(losses.as_loss(name)).__name__ == name


def test_get_passes_objects_and_callables_through():
    loss = losses.Huber()
    assert losses.get(loss) is loss and losses.as_loss(loss) is loss
    assert isinstance(losses.get(losses.MeanSquaredError), losses.MeanSquaredError)
    custom = lambda y_true, y_pred: y_pred.mean(axis=-1)  # noqa: E731
    assert losses.get(custom) is custom
    wrapped = losses.as_loss(custom)
    assert float(wrapped(np.zeros((2, 2)), np.ones((2, 2), np.float32))) == 1.0
    assert losses.get(None) is None
    assert losses.get({"class_name": "function", "config": "mean_squared_error"}) is cf.mean_squared_error
    assert isinstance(losses.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}),
                      losses.CategoricalCrossentropy)


def test_as_loss_wraps_functions_with_their_name_and_reduces():
    loss = losses.as_loss("sparse_categorical_crossentropy")
    assert loss.name == "sparse_categorical_crossentropy"
    assert float(loss(np.array([1, 2]), KERAS_Y_PRED)) == pytest.approx(1.177, abs=1e-3)
    assert losses.LossFunctionWrapper.from_config(loss.get_config()).fn is cf.sparse_categorical_crossentropy


def test_get_unknown_identifiers_raise_and_list_the_known_names():
    with pytest.raises(ValueError, match=r"'crossentropy'.*categorical_crossentropy.*mse"):
        losses.get("crossentropy")
    with pytest.raises(ValueError, match="Could not interpret"):
        losses.get({"class_name": "os.system", "config": {}})
    with pytest.raises(ValueError, match="Invalid config"):
        losses.get({"class_name": "Huber", "config": {"delta": 1.0, "unknown": 3}})
    with pytest.raises(TypeError, match="int"):
        losses.get(42)
    with pytest.raises(ValueError, match="only cnnkit"):
        losses.serialize(lambda a, b: a)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: losses.MeanSquaredError(reduction="average"), "reduction='average'"),
        (lambda: losses.CategoricalCrossentropy(from_logits=1), "from_logits=1"),
        (lambda: losses.CategoricalCrossentropy(label_smoothing=-0.1), "label_smoothing=-0.1"),
        (lambda: losses.BinaryCrossentropy(label_smoothing="a"), "label_smoothing='a'"),
        (lambda: losses.BinaryCrossentropy(axis=1.0), "axis=1.0"),
        (lambda: losses.SparseCategoricalCrossentropy(ignore_class="void"), "ignore_class='void'"),
        (lambda: losses.Huber(delta=-1.0), "delta=-1.0"),
        (lambda: losses.MeanAbsoluteError(name=3), "name=3"),
        (lambda: losses.MeanAbsoluteError(dtype="int32"), "dtype='int32'"),
    ],
)
def test_bad_constructor_arguments_raise_naming_the_argument(build, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(").replace(".", r"\.")):
        build()


def test_loss_dtype_casts_predictions():
    loss = losses.MeanSquaredError(dtype="float64")
    x = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    value = loss(np.zeros((2, 2)), x)
    assert value.dtype == np.float64
    value.backward()
    assert x.grad.dtype == np.float32
