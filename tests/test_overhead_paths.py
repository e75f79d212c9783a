"""The per-step fast paths (autograd, argument checks, caches) give the same results and keep every check.

Each fast path in cnnkit's hot loop (cached pooling geometry, the standardised-tuple shortcut, dtype
tests by kind, the Function.apply shortcut for Tensor inputs, the small-sum gradient, the optimizer's
prepared views) is checked here two ways: the results are right (against an independent reference),
and bad input still raises the error that names the argument, also after the same layer or op has
already succeeded once (so nothing cached can let it through).
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from cnnkit import functional, layers, optimizers
from cnnkit.autograd import Tensor, as_tensor, is_grad_enabled, no_grad
from cnnkit.functional import pooling as functional_pooling
from cnnkit.functional.arguments import ensure_float_tensor, normalize_data_format, standardize_tuple
from cnnkit.functional.losses import sparse_categorical_crossentropy


def _mean_pool_reference(x, pool):
    """2x2-style average pooling by reshaping (channels last, windows that tile exactly)."""
    n, h, w, c = x.shape
    return x.reshape(n, h // pool, pool, w // pool, pool, c).mean(axis=(2, 4))


# ----- cached pooling geometry --------------------------------------------------------------------
def test_pool_geometry_is_derived_again_for_a_new_input_shape():
    rng = np.random.default_rng(0)
    small = rng.standard_normal((2, 4, 4, 3)).astype("float32")
    large = rng.standard_normal((2, 8, 6, 3)).astype("float32")
    for x in (small, large, small):
        output = functional.average_pool(x, 2)
        assert output.shape == (x.shape[0], x.shape[1] // 2, x.shape[2] // 2, 3)
        np.testing.assert_allclose(output.numpy(), _mean_pool_reference(x.astype("float64"), 2), rtol=1e-5, atol=1e-6)
    keys = [key for key in functional_pooling._GEOMETRY_CACHE if key[2] == (2, 2) and key[4] == "valid"]
    assert {key[0] for key in keys} >= {(4, 4), (8, 6)}


def test_pool_layer_follows_a_change_of_input_size():
    layer = layers.MaxPooling2D(pool_size=(2, 2))
    for size in (6, 10, 6):
        x = np.arange(size * size, dtype="float32").reshape(1, size, size, 1)
        expected = x.reshape(1, size // 2, 2, size // 2, 2, 1).max(axis=(2, 4))
        np.testing.assert_array_equal(layer(x).numpy(), expected)


@pytest.mark.parametrize(
    "arguments, error, name",
    [
        ({"pool_size": 2.0}, TypeError, "pool_size"),
        ({"pool_size": (2, True)}, TypeError, "pool_size"),
        ({"pool_size": (2, 2.0)}, TypeError, "pool_size"),
        ({"pool_size": 2, "strides": 0}, ValueError, "strides"),
        ({"pool_size": 2, "strides": (1, 1, 1)}, ValueError, "strides"),
        ({"pool_size": 2, "padding": "full"}, ValueError, "padding"),
        ({"pool_size": 2, "padding": ((2, 2), (0, 0))}, ValueError, "padding"),
        ({"pool_size": 2, "ceil_mode": 1}, TypeError, "ceil_mode"),
        ({"pool_size": 2, "data_format": "nhwc"}, ValueError, "data_format"),
        ({"pool_size": 5}, ValueError, "pool_size"),
    ],
)
def test_bad_pool_arguments_raise_after_a_cached_success(arguments, error, name):
    x = np.zeros((1, 4, 4, 2), dtype="float32")
    functional.max_pool(x, 2)  # caches the geometry of the valid arguments first
    functional.max_pool(x, (2, 2), strides=(2, 2), padding="valid")
    with pytest.raises(error, match=name):
        functional.max_pool(x, **arguments)


# ----- argument helpers -----------------------------------------------------------------------------
def test_standardize_tuple_fast_path_and_full_checks():
    assert standardize_tuple((2, 3), 2, "strides") == (2, 3)
    assert standardize_tuple((np.int64(2), 3), 2, "strides") == (2, 3)
    assert all(type(item) is int for item in standardize_tuple((np.int64(2), 3), 2, "strides"))
    assert standardize_tuple((0, 1), 2, "padding", allow_zero=True) == (0, 1)
    with pytest.raises(TypeError, match="strides"):
        standardize_tuple((True, 2), 2, "strides")
    with pytest.raises(ValueError, match="Received: strides=\\(0, 2\\)"):
        standardize_tuple((0, 2), 2, "strides")
    with pytest.raises(ValueError, match="kernel_size"):
        standardize_tuple((3, 3, 3), 2, "kernel_size")


def test_normalize_data_format_keeps_its_checks():
    assert normalize_data_format("channels_first") == "channels_first"
    assert normalize_data_format("Channels_Last") == "channels_last"
    with pytest.raises(ValueError, match="data_format"):
        normalize_data_format(np.array(["channels_last", "channels_first"]))
    with pytest.raises(ValueError, match="data_format"):
        normalize_data_format("channels_middle")


def test_ensure_float_tensor_accepts_floats_and_refuses_the_rest():
    tensor = Tensor(np.ones(3, dtype="float16"))
    assert ensure_float_tensor(tensor, "x") is tensor
    for data in (np.ones(3, dtype="int32"), np.ones(3, dtype=bool), np.ones(3, dtype="complex64")):
        with pytest.raises(TypeError, match="`x` must hold floating-point"):
            ensure_float_tensor(Tensor(data), "x")


# ----- layer input checks ---------------------------------------------------------------------------
def test_layer_input_checks_still_raise_after_successful_calls():
    layer = layers.Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 3), dtype="float32"))
    layer(np.zeros((2, 6, 6, 3), dtype="float32"))
    with pytest.raises(ValueError, match="expected axis -1 of input shape"):
        layer(np.zeros((1, 5, 5, 4), dtype="float32"))
    with pytest.raises(ValueError, match="expected ndim=4"):
        layer(np.zeros((5, 5, 3), dtype="float32"))


def test_layer_casts_inputs_of_another_dtype_or_byte_order():
    layer = layers.Dense(2, kernel_initializer="ones")
    for dtype in ("float64", ">f4", "int32"):
        output = layer(np.ones((1, 3), dtype=dtype))
        assert output.dtype == np.dtype("float32") and output.dtype.isnative
        np.testing.assert_array_equal(output.numpy(), np.full((1, 2), 3.0, dtype="float32"))


# ----- autograd fast paths ----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [4, 5000])
def test_sum_gradient_is_ones_for_small_and_large_inputs(size):
    x = Tensor(np.arange(size, dtype="float32"), requires_grad=True)
    (x.sum() * 2.0).backward()
    np.testing.assert_array_equal(x.grad, np.full(size, 2.0, dtype="float32"))
    assert x.grad.dtype == np.float32 and x.grad.flags.writeable
    x.grad += 1.0  # a leaf's gradient is its own array


def test_mixed_tensor_and_array_inputs_keep_dtype():
    x = Tensor(np.array([1.0, 2.0], dtype="float32"), requires_grad=True)
    y = x * 0.5 + np.array([1.0, 1.0], dtype="float32")
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), np.array([1.5, 2.0], dtype="float32"))
    assert as_tensor(np.float64(0.5), like=x).dtype == np.float32
    assert as_tensor(True, like=x).dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.array([0.5, 0.5], dtype="float32"))


def test_grad_mode_is_per_thread_and_starts_enabled():
    seen = []
    with no_grad():
        assert not is_grad_enabled()
        worker = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        worker.start()
        worker.join()
    assert seen == [True] and is_grad_enabled()


# ----- losses and optimizer -----------------------------------------------------------------------------
def test_sparse_crossentropy_label_range_check_catches_both_ends():
    probabilities = np.full((2, 3), 1.0 / 3.0, dtype="float32")
    for labels in ([0, 3], [-1, 0], [0, np.iinfo(np.int64).min]):
        with pytest.raises(ValueError, match=r"must be in \[0, 3\)"):
            sparse_categorical_crossentropy(np.array(labels, dtype=np.int64), probabilities)
    loss = sparse_categorical_crossentropy(np.array([-1, 2]), probabilities, ignore_class=-1)
    np.testing.assert_allclose(loss.numpy(), [0.0, np.log(3.0)], rtol=1e-6)
    with pytest.raises(ValueError, match="whole-number"):
        sparse_categorical_crossentropy(np.array([0.5, 1.0]), probabilities)


def _adam_reference(weights, grads, steps, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras's Adam in float64: alpha = lr sqrt(1 - b2^t) / (1 - b1^t), epsilon after the correction."""
    weights = [w.astype("float64") for w in weights]
    momenta = [np.zeros_like(w) for w in weights]
    velocities = [np.zeros_like(w) for w in weights]
    for t in range(1, steps + 1):
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for w, g, m, v in zip(weights, grads, momenta, velocities):
            m += (g - m) * (1 - beta_1)
            v += (g * g - v) * (1 - beta_2)
            w -= alpha * m / (np.sqrt(v) + epsilon)
    return weights


def _sgd_momentum_reference(weights, grads, steps, lr=0.1, momentum=0.9):
    """Keras's SGD with momentum: velocity = momentum * velocity - lr * g; w += velocity."""
    weights = [w.astype("float64") for w in weights]
    velocities = [np.zeros_like(w) for w in weights]
    for _ in range(steps):
        for w, g, velocity in zip(weights, grads, velocities):
            velocity *= momentum
            velocity -= lr * g
            w += velocity
    return weights


@pytest.mark.parametrize(
    "optimizer, reference",
    [(optimizers.Adam(learning_rate=0.1), _adam_reference), (optimizers.SGD(0.1, momentum=0.9), _sgd_momentum_reference)],
)
def test_optimizer_updates_every_variable_from_the_flat_buffers(optimizer, reference):
    from cnnkit.variables import Variable

    rng = np.random.default_rng(1)
    initial = [rng.standard_normal((2, 3)).astype("float32"), rng.standard_normal(4).astype("float32")]
    grads = [rng.standard_normal((2, 3)).astype("float32"), rng.standard_normal(4).astype("float32")]
    variables = [Variable(value) for value in initial]
    for _ in range(3):
        optimizer.apply(grads, variables)
    expected = reference(initial, [g.astype("float64") for g in grads], 3)
    for variable, want in zip(variables, expected):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-4, atol=1e-5)  # float32 against float64
