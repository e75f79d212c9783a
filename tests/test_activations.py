"""Activations (cnnkit.functional.activations) against torch.nn.functional, float64 central
differences, Keras's documented examples, large-input stability, and cnnkit.activations.get/serialize."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.functional as cf
from cnnkit import Tensor, activations

from oracle import check_finite_differences, compare_with_torch

rng = np.random.default_rng(7)


def away_from_kinks(shape, scale=3.0, dtype=np.float32):
    """Random values that stay clear of every activation's kink (0, +-3, 6)."""
    values = rng.uniform(-scale, scale, shape)
    for kink in (0.0, 3.0, -3.0, 6.0):
        close = np.abs(values - kink) < 0.05
        values[close] += 0.1
    return values.astype(dtype)


TORCH_EQUIVALENTS = {
    "relu": (cf.relu, F.relu),
    "relu6": (cf.relu6, F.relu6),
    "leaky_relu": (cf.leaky_relu, lambda x: F.leaky_relu(x, 0.2)),
    "leaky_relu_0.01": (lambda x: cf.leaky_relu(x, negative_slope=0.01), lambda x: F.leaky_relu(x, 0.01)),
    "relu_negative_slope": (lambda x: cf.relu(x, negative_slope=0.3), lambda x: F.leaky_relu(x, 0.3)),
    "elu": (cf.elu, F.elu),
    "elu_alpha": (lambda x: cf.elu(x, alpha=0.7), lambda x: F.elu(x, alpha=0.7)),
    "selu": (cf.selu, F.selu),
    "gelu": (lambda x: cf.gelu(x, approximate=False), lambda x: F.gelu(x, approximate="none")),
    "gelu_activation": (activations.gelu, lambda x: F.gelu(x, approximate="none")),
    "gelu_tanh": (cf.gelu, lambda x: F.gelu(x, approximate="tanh")),
    "sigmoid": (cf.sigmoid, torch.sigmoid),
    "hard_sigmoid": (cf.hard_sigmoid, F.hardsigmoid),
    "tanh": (cf.tanh, torch.tanh),
    "softplus": (cf.softplus, F.softplus),
    "softsign": (cf.softsign, F.softsign),
    "silu": (cf.silu, F.silu),
    "swish": (cf.swish, F.silu),
    "exponential": (cf.exponential, torch.exp),
    "hard_silu": (cf.hard_silu, F.hardswish),
    "mish": (cf.mish, F.mish),
    "linear": (cf.linear, lambda x: x * 1.0),
    "softmax": (cf.softmax, lambda x: F.softmax(x, dim=-1)),
    "log_softmax": (cf.log_softmax, lambda x: F.log_softmax(x, dim=-1)),
}


@pytest.mark.parametrize("name", sorted(TORCH_EQUIVALENTS))
def test_activation_matches_torch_forward_and_gradient(name):
    ours, theirs = TORCH_EQUIVALENTS[name]
    scale = 8.0 if name in ("relu6", "hard_sigmoid", "hard_silu") else 3.0
    compare_with_torch(ours, theirs, [away_from_kinks((4, 6), scale=scale)])


@pytest.mark.parametrize("name", sorted(set(TORCH_EQUIVALENTS) - {"linear"}))
def test_activation_gradient_matches_float64_central_differences(name):
    ours, _ = TORCH_EQUIVALENTS[name]
    check_finite_differences(ours, [away_from_kinks((2, 5), dtype=np.float64)])


@pytest.mark.parametrize("axis, shape", [(0, (3, 4)), (1, (2, 3, 4)), (-2, (2, 3, 4)), (2, (2, 3, 4))])
def test_softmax_and_log_softmax_along_any_axis_match_torch(axis, shape):
    data = rng.standard_normal(shape).astype(np.float32) * 3
    compare_with_torch(lambda x: cf.softmax(x, axis=axis), lambda x: F.softmax(x, dim=axis), [data])
    compare_with_torch(lambda x: cf.log_softmax(x, axis=axis), lambda x: F.log_softmax(x, dim=axis), [data])


def test_softmax_over_several_axes_equals_softmax_of_the_merged_axes():
    data = rng.standard_normal((2, 3, 4)).astype(np.float32)
    compare_with_torch(lambda x: cf.softmax(x, axis=(1, 2)),
                       lambda x: F.softmax(x.reshape(2, 12), dim=1).reshape(2, 3, 4), [data])
    compare_with_torch(lambda x: cf.log_softmax(x, axis=(-1, 1)),
                       lambda x: F.log_softmax(x.reshape(2, 12), dim=1).reshape(2, 3, 4), [data])


LARGE = np.array([[-1e4, -500.0, -88.8, -30.0, 0.5, 30.0, 88.8, 500.0, 1e4]], np.float32)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "softmax", "log_softmax", "elu", "selu", "gelu",
                                  "gelu_tanh", "silu", "mish", "softsign", "tanh", "hard_sigmoid"])
def test_activation_is_finite_and_exact_for_large_inputs(name):
    ours, theirs = TORCH_EQUIVALENTS[name]
    x = Tensor(LARGE.copy(), requires_grad=True)
    output = ours(x)
    output.backward(np.ones(output.shape, np.float32))
    assert np.all(np.isfinite(output.numpy())) and np.all(np.isfinite(x.grad))
    reference_input = torch.tensor(LARGE.astype(np.float64), requires_grad=True)
    reference = theirs(reference_input)
    reference.backward(torch.ones_like(reference))
    # float32 results against a float64 reference: relative accuracy, down to float32's resolution
    np.testing.assert_allclose(output.numpy(), reference.detach().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(x.grad, reference_input.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_log_softmax_stays_exact_where_softmax_underflows():
    logits = np.array([[0.0, -200.0, -1000.0]], np.float32)
    np.testing.assert_allclose(cf.log_softmax(logits).numpy(), [[0.0, -200.0, -1000.0]], rtol=1e-6)
    np.testing.assert_allclose(cf.softmax(logits).numpy(), [[1.0, 0.0, 0.0]])


def test_gelu_exact_form_keeps_relative_precision_in_float64_tails():
    # x * Phi(x) = x * erfc(-x / sqrt(2)) / 2 with Python's math.erfc as the reference (F.gelu and
    # torch.special.ndtr form 1 + erf(...) and lose the left tail).
    x = np.linspace(-30, 12, 421)
    reference = np.array([value * 0.5 * math.erfc(-value / math.sqrt(2.0)) for value in x])
    np.testing.assert_allclose(cf.gelu(x, approximate=False).numpy(), reference, rtol=1e-12, atol=0)
    np.testing.assert_allclose(activations.gelu(x).numpy(), reference, rtol=1e-12, atol=0)
    check_finite_differences(lambda t: cf.gelu(t, approximate=False), [np.linspace(-9, 9, 37)])


def test_elu_and_softsign_gradients_keep_relative_precision_for_large_inputs():
    x = Tensor(np.array([-30.0, 1e4], np.float32), requires_grad=True)
    cf.elu(x).sum().backward()
    np.testing.assert_allclose(x.grad, [np.exp(-30.0), 1.0], rtol=1e-6)
    x.zero_grad()
    cf.softsign(x).sum().backward()
    np.testing.assert_allclose(x.grad, 1.0 / (1.0 + np.abs([-30.0, 1e4])) ** 2, rtol=1e-6)


# ----- Keras semantics --------------------------------------------------------------------------------
KERAS_RELU_INPUT = [-10.0, -5.0, 0.0, 5.0, 10.0]


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ({}, [0.0, 0.0, 0.0, 5.0, 10.0]),
        ({"negative_slope": 0.5}, [-5.0, -2.5, 0.0, 5.0, 10.0]),
        ({"max_value": 5.0}, [0.0, 0.0, 0.0, 5.0, 5.0]),
        ({"threshold": 5.0}, [0.0, 0.0, 0.0, 0.0, 10.0]),
    ],
)
def test_relu_reproduces_the_keras_docstring_examples(arguments, expected):
    np.testing.assert_array_equal(cf.relu(KERAS_RELU_INPUT, **arguments).numpy(), expected)


def keras_relu_reference(x, negative_slope, max_value, threshold):
    """keras.activations.relu as documented: pass x > threshold, cap at max_value (clip to
    [0, max_value]), and below the threshold subtract negative_slope * relu(threshold - x)."""
    output = np.where(x > threshold, x, 0.0) if threshold != 0 else np.maximum(x, 0.0)
    if max_value is not None:
        output = np.clip(output, 0.0, max_value)
    if negative_slope != 0:
        output = output - negative_slope * np.maximum(threshold - x, 0.0)
    return output


@pytest.mark.parametrize("negative_slope", [0.0, 0.1])
@pytest.mark.parametrize("max_value", [None, 2.5, 6.0])
@pytest.mark.parametrize("threshold", [0.0, 0.5, -1.0])
def test_relu_with_slope_cap_and_threshold_follows_keras(negative_slope, max_value, threshold):
    x = np.linspace(-4.05, 8.05, 25)
    expected = keras_relu_reference(x, negative_slope, max_value, threshold)
    np.testing.assert_allclose(cf.relu(x, negative_slope, max_value, threshold).numpy(), expected, rtol=1e-12)
    check_finite_differences(lambda t: cf.relu(t, negative_slope, max_value, threshold), [x])


def test_hard_sigmoid_is_the_keras_3_definition():
    np.testing.assert_allclose(cf.hard_sigmoid([-3.5, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0]).numpy(),
                               [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0], rtol=1e-6)


def test_gelu_defaults_follow_keras_activations_and_keras_ops():
    # keras.activations.gelu(x, approximate=False) (the 'gelu' activation) is exact by default;
    # keras.ops.gelu(x, approximate=True) (cnnkit.functional) is the tanh approximation by default.
    x = np.array([-1.0, 0.5, 2.0])
    exact = F.gelu(torch.tensor(x), approximate="none").numpy()
    approximate = F.gelu(torch.tensor(x), approximate="tanh").numpy()
    np.testing.assert_allclose(activations.gelu(x).numpy(), exact, rtol=1e-12)
    np.testing.assert_allclose(activations.get("gelu")(x).numpy(), exact, rtol=1e-12)
    assert not np.allclose(activations.gelu(x).numpy(), approximate, rtol=1e-6, atol=0)
    np.testing.assert_allclose(cf.gelu(x).numpy(), approximate, rtol=1e-12)
    assert not np.allclose(cf.gelu(x).numpy(), exact, rtol=1e-6, atol=0)


def test_selu_constants_match_the_paper():
    assert cf.selu(np.array([1.0])).numpy()[0] == pytest.approx(1.0507009873554805, rel=1e-15)
    assert cf.selu(np.array([-50.0])).numpy()[0] == pytest.approx(-1.0507009873554805 * 1.6732632423543772, rel=1e-12)


@pytest.mark.parametrize("name", sorted(TORCH_EQUIVALENTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_keeps_the_input_dtype(name, dtype):
    ours, _ = TORCH_EQUIVALENTS[name]
    x = Tensor(away_from_kinks((2, 3), dtype=dtype), requires_grad=True)
    output = ours(x)
    assert output.dtype == dtype
    if output.requires_grad:
        output.sum().backward()
        assert x.grad.dtype == dtype


# ----- errors ----------------------------------------------------------------------------------------------
def test_integer_input_raises_type_error_naming_x():
    with pytest.raises(TypeError, match="`x`.*int64"):
        cf.relu(np.arange(3))
    with pytest.raises(TypeError, match="`x`"):
        cf.softmax(np.arange(3))


def test_bad_arguments_raise_with_the_value():
    with pytest.raises(ValueError, match="axis=3"):
        cf.softmax(np.zeros((2, 3), np.float32), axis=3)
    with pytest.raises(ValueError, match="repeats"):
        cf.softmax(np.zeros((2, 3), np.float32), axis=(1, -1))
    with pytest.raises(TypeError, match="axis='last'"):
        cf.log_softmax(np.zeros((2, 3), np.float32), axis="last")
    with pytest.raises(ValueError, match="max_value=-1"):
        cf.relu(np.zeros(2, np.float32), max_value=-1)
    with pytest.raises(ValueError, match="negative_slope=-0.1"):
        cf.relu(np.zeros(2, np.float32), negative_slope=-0.1)
    with pytest.raises(TypeError, match="threshold=None"):
        cf.relu(np.zeros(2, np.float32), threshold=None)
    with pytest.raises(TypeError, match="approximate='tanh'"):
        cf.gelu(np.zeros(2, np.float32), approximate="tanh")


# ----- cnnkit.activations: get and serialize ---------------------------------------------------------------
KERAS_NAMES = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh",
               "softplus", "softsign", "silu", "swish", "softmax", "log_softmax", "linear", "exponential",
               "hard_silu", "hard_swish", "mish"]


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_get_resolves_every_keras_name_and_serialize_round_trips(name):
    function = activations.get(name)
    assert callable(function)
    assert activations.get(activations.serialize(function)) is function
    assert activations.get({"module": "keras.activations", "class_name": "function", "config": name,
                            "registered_name": name}) is function


def test_get_none_callable_and_aliases():
    assert activations.get(None) is cf.linear
    assert activations.get("swish") is cf.silu
    assert activations.serialize(activations.get("swish")) == "silu"
    assert activations.serialize(cf.hard_swish) == "hard_silu"
    custom = lambda x: x * 2.0  # noqa: E731
    assert activations.get(custom) is custom
    np.testing.assert_array_equal(activations.get("relu")([-1.0, 2.0]).numpy(), [0.0, 2.0])


def test_get_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"'rellu'.*relu.*softmax"):
        activations.get("rellu")
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.get({"class_name": "function", "config": "os.system"})
    with pytest.raises(TypeError, match="int"):
        activations.get(3)


def test_serialize_refuses_unknown_functions():
    with pytest.raises(ValueError, match="built-in"):
        activations.serialize(lambda x: x)
    assert activations.serialize(None) == "linear"
