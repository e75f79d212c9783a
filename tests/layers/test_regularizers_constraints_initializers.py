"""Initializers (fan rules, variance formulas, statistics), regularizers and constraints."""
import json
import math

import numpy as np
import pytest
import torch

import cnnkit.random
from cnnkit import Tensor, constraints, initializers, regularizers
from cnnkit.layers import Conv2D, Dense

# ----- initializers: fans -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, expected",
    [((), (1, 1)), ((7,), (7, 7)), ((3, 4), (3, 4)), ((5, 5, 6, 16), (150, 400)), ((3, 2, 4), (6, 12)),
     ((3, 3, 3, 2, 5), (54, 135))],
)
def test_compute_fans_follows_keras(shape, expected):
    assert initializers.compute_fans(shape) == expected


@pytest.mark.parametrize("keras_shape", [(5, 5, 6, 16), (3, 1, 4), (3, 3, 64, 32), (4, 7)])
def test_fans_of_keras_layout_equal_torchs_fans_of_torch_layout(keras_shape):
    # Keras (*kernel, in, out) is torch's (out, in, *kernel): the same fans, computed independently.
    torch_shape = (keras_shape[-1], keras_shape[-2], *keras_shape[:-2])
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(torch_shape))
    assert initializers.compute_fans(keras_shape) == (fan_in, fan_out)


# ----- initializers: statistics --------------------------------------------------------------------
SHAPE = (3, 3, 64, 128)  # fan_in 576, fan_out 1152; 73,728 draws
FAN_IN, FAN_OUT = 576, 1152


@pytest.mark.parametrize(
    "name, variance, bounded_uniform",
    [
        ("glorot_uniform", 2.0 / (FAN_IN + FAN_OUT), True),
        ("glorot_normal", 2.0 / (FAN_IN + FAN_OUT), False),
        ("he_uniform", 2.0 / FAN_IN, True),
        ("he_normal", 2.0 / FAN_IN, False),
        ("lecun_uniform", 1.0 / FAN_IN, True),
        ("lecun_normal", 1.0 / FAN_IN, False),
    ],
)
def test_variance_scaling_family_has_keras_variance_and_bounds(name, variance, bounded_uniform):
    values = initializers.get(name)(SHAPE)
    assert values.shape == SHAPE and values.dtype == np.float32
    assert abs(values.mean()) < 0.02 * math.sqrt(variance)
    assert values.var() == pytest.approx(variance, rel=0.03)
    if bounded_uniform:
        limit = math.sqrt(3 * variance)
        assert np.abs(values).max() <= limit * (1 + 1e-6)
        assert np.abs(values).max() > 0.99 * limit
    else:  # truncated at two of the *uncorrected* standard deviations
        stddev = math.sqrt(variance) / initializers.TRUNCATED_NORMAL_STDDEV
        assert np.abs(values).max() <= 2 * stddev * (1 + 1e-6)
        assert np.abs(values).max() > 1.95 * stddev


def test_truncated_normal_correction_constant_is_the_truncated_unit_normals_stddev():
    # Variance of N(0, 1) truncated to [-2, 2]: 1 - 2 * 2 * phi(2) / (Phi(2) - Phi(-2)).
    phi = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert math.sqrt(1 - 4 * phi / mass) == pytest.approx(initializers.TRUNCATED_NORMAL_STDDEV, rel=1e-12)


def test_variance_scaling_modes_and_untruncated_normal():
    shape = (64, 256)
    for mode, fan in (("fan_in", 64), ("fan_out", 256), ("fan_avg", 160)):
        values = initializers.VarianceScaling(scale=3.0, mode=mode, distribution="untruncated_normal")(shape)
        assert values.var() == pytest.approx(3.0 / fan, rel=0.04)
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"


def test_random_normal_uniform_truncated_defaults_and_statistics():
    normal = initializers.RandomNormal()((200, 200))
    assert normal.std() == pytest.approx(0.05, rel=0.02) and abs(normal.mean()) < 1e-3
    uniform = initializers.RandomUniform(minval=1.0, maxval=3.0)((200, 200))
    assert uniform.min() >= 1.0 and uniform.max() < 3.0 and uniform.mean() == pytest.approx(2.0, abs=0.01)
    truncated = initializers.TruncatedNormal(mean=1.0, stddev=0.5)((200, 200))
    assert np.abs(truncated - 1.0).max() <= 1.0
    assert truncated.std() == pytest.approx(0.5 * initializers.TRUNCATED_NORMAL_STDDEV, rel=0.02)
    assert initializers.RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert initializers.RandomUniform().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}


def test_constant_initializers():
    np.testing.assert_array_equal(initializers.Zeros()((2, 2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(initializers.Ones()((3,), dtype="float64"), np.ones(3))
    assert initializers.Ones()((3,), dtype="float64").dtype == np.float64
    np.testing.assert_array_equal(initializers.Constant(0.5)((2,)), [0.5, 0.5])
    np.testing.assert_array_equal(initializers.Identity(2.0)((2, 3)), [[2, 0, 0], [0, 2, 0]])
    with pytest.raises(ValueError, match="2-D"):
        initializers.Identity()((2, 2, 2))


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4), (3, 3, 4, 8)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    values = initializers.Orthogonal(gain=2.0, seed=3)(shape).astype(np.float64)
    matrix = values.reshape(-1, shape[-1])
    if matrix.shape[0] < matrix.shape[1]:
        np.testing.assert_allclose(matrix @ matrix.T, 4.0 * np.eye(matrix.shape[0]), atol=1e-5)
    else:
        np.testing.assert_allclose(matrix.T @ matrix, 4.0 * np.eye(matrix.shape[1]), atol=1e-5)
    with pytest.raises(ValueError, match="two-dimensional"):
        initializers.Orthogonal()((5,))


def test_seeds_repeat_and_the_shared_generator_follows_set_seed():
    np.testing.assert_array_equal(initializers.HeNormal(seed=7)((4, 4)), initializers.HeNormal(seed=7)((4, 4)))
    assert not np.array_equal(initializers.HeNormal(seed=7)((4, 4)), initializers.HeNormal(seed=8)((4, 4)))
    cnnkit.random.set_seed(11)
    first = Conv2D(3, 3)
    first.build((None, 5, 5, 2))
    cnnkit.random.set_seed(11)
    second = Conv2D(3, 3)
    second.build((None, 5, 5, 2))
    np.testing.assert_array_equal(first.kernel.numpy(), second.kernel.numpy())


def test_conv_and_dense_default_initializers_use_keras_fans():
    layer = Conv2D(16, 5)
    layer.build((None, 32, 32, 6))
    assert np.abs(layer.kernel.numpy()).max() <= math.sqrt(6.0 / (150 + 400)) * (1 + 1e-6)
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(16))
    dense = Dense(10, kernel_initializer="he_uniform")
    dense.build((None, 40))
    assert np.abs(dense.kernel.numpy()).max() <= math.sqrt(6.0 / 40) * (1 + 1e-6)


def test_initializer_get_and_serialization():
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("orthogonal"), initializers.Orthogonal)
    assert isinstance(initializers.get("normal"), initializers.RandomNormal)
    assert isinstance(initializers.get(initializers.HeNormal), initializers.HeNormal)
    instance = initializers.Constant(3.0)
    assert initializers.get(instance) is instance
    assert initializers.get(None) is None

    def custom(shape, dtype=None):
        return np.zeros(shape)

    assert initializers.get(custom) is custom
    for initializer in (initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=1), initializers.Constant(2.0),
                        initializers.Orthogonal(0.5, seed=2), initializers.HeUniform(seed=4)):
        config = json.loads(json.dumps(initializers.serialize(initializer)))
        rebuilt = initializers.get(config)
        assert type(rebuilt) is type(initializer) and rebuilt.get_config() == initializer.get_config()
    with pytest.raises(ValueError, match="Unknown initializer: 'glorot_uniformm'"):
        initializers.get("glorot_uniformm")
    with pytest.raises(ValueError, match="Unknown initializer"):
        initializers.get({"class_name": "os.system", "config": {}})
    with pytest.raises(ValueError, match="interpret"):
        initializers.get(3)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: initializers.VarianceScaling(scale=0.0), ValueError, "Received: scale=0.0"),
        (lambda: initializers.VarianceScaling(mode="fan"), ValueError, "Received: mode='fan'"),
        (lambda: initializers.VarianceScaling(distribution="cauchy"), ValueError, "Received: distribution='cauchy'"),
        (lambda: initializers.RandomNormal(stddev=-1.0), ValueError, "stddev"),
        (lambda: initializers.RandomUniform(minval=1.0, maxval=0.0), ValueError, "maxval"),
        (lambda: initializers.GlorotUniform(seed=-1), ValueError, "seed"),
        (lambda: initializers.Constant("a"), TypeError, "value"),
    ],
)
def test_bad_initializer_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ----- regularizers -------------------------------------------------------------------------------
W = np.array([[1.0, -2.0], [3.0, -4.0]], dtype="float32")


def test_regularizer_values_and_keras_defaults():
    assert float(regularizers.L1()(W)) == pytest.approx(0.01 * 10)
    assert float(regularizers.L2()(W)) == pytest.approx(0.01 * 30)
    assert float(regularizers.L1L2(l1=0.1, l2=0.2)(W)) == pytest.approx(0.1 * 10 + 0.2 * 30)
    assert float(regularizers.L1L2()(W)) == 0.0
    both = regularizers.get("l1_l2")
    assert (both.l1, both.l2) == (0.01, 0.01)
    assert regularizers.get("l2").get_config() == {"l2": 0.01}
    assert regularizers.L1(0.3)(W).dtype == np.float32


def test_regularizer_gradients_reach_the_weight():
    weight = Tensor(W.copy(), requires_grad=True)
    regularizers.L1L2(l1=0.1, l2=0.2)(weight).backward()
    np.testing.assert_allclose(weight.grad, 0.1 * np.sign(W) + 0.4 * W, rtol=1e-6)


def test_orthogonal_regularizer_by_hand():
    identity = np.eye(3, dtype="float32")
    assert float(regularizers.OrthogonalRegularizer(factor=1.0)(identity)) == pytest.approx(0.0, abs=1e-6)
    rows = np.array([[1.0, 0.0], [1.0, 1.0]], dtype="float32")  # normalised rows meet at cos = 1/sqrt(2)
    expected = 1.0 * 0.5 * (2 / math.sqrt(2)) / 1.0
    assert float(regularizers.OrthogonalRegularizer(factor=1.0)(rows)) == pytest.approx(expected, rel=1e-5)
    columns = regularizers.OrthogonalRegularizer(factor=1.0, mode="columns")(rows.T.copy())
    assert float(columns) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones(3, dtype="float32"))


@pytest.mark.parametrize(
    "make, match",
    [(lambda: regularizers.L1(-0.1), "Received: l1=-0.1"), (lambda: regularizers.L2(float("nan")), "l2"),
     (lambda: regularizers.L1L2(l2="x"), "l2"), (lambda: regularizers.OrthogonalRegularizer(mode="diag"), "mode")],
)
def test_bad_regularizer_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_regularizer_get_and_serialization():
    config = json.loads(json.dumps(regularizers.serialize(regularizers.L1L2(l1=0.5, l2=0.25))))
    assert config == {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.25},
                      "registered_name": None}
    assert regularizers.get(config).get_config() == {"l1": 0.5, "l2": 0.25}
    assert isinstance(regularizers.get("L1"), regularizers.L1)
    with pytest.raises(ValueError, match="Unknown regularizer"):
        regularizers.get("l3")


# ----- constraints --------------------------------------------------------------------------------
EPSILON = 1e-7


def test_max_norm_by_hand_default_axis_zero():
    weight = np.array([[3.0, 0.0], [4.0, 1.0]], dtype="float32")  # column norms 5 and 1
    result = constraints.MaxNorm()(weight)
    expected = np.array([[3.0 * 2 / (5 + EPSILON), 0.0], [4.0 * 2 / (5 + EPSILON), 1.0 / (1 + EPSILON)]])
    np.testing.assert_allclose(result, expected, rtol=1e-6)
    assert result.dtype == np.float32
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}


def test_max_norm_per_conv_filter():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 4, 5)).astype("float32") * 3
    result = constraints.MaxNorm(max_value=1.0, axis=[0, 1, 2])(kernel)
    norms = np.sqrt((result.astype(np.float64) ** 2).sum(axis=(0, 1, 2)))
    np.testing.assert_allclose(norms, np.ones(5), rtol=1e-5)


def test_non_neg_unit_norm_min_max_norm():
    np.testing.assert_array_equal(constraints.NonNeg()(np.array([-1.0, 0.0, 2.0], dtype="float32")), [0, 0, 2])
    unit = constraints.UnitNorm(axis=1)(np.array([[3.0, 4.0]], dtype="float32"))
    np.testing.assert_allclose(unit, [[0.6, 0.8]], rtol=1e-6)
    weight = np.array([[0.3], [0.4]], dtype="float32")  # norm 0.5
    half = constraints.MinMaxNorm(min_value=1.0, max_value=2.0, rate=0.5)(weight)
    np.testing.assert_allclose(half, weight * (0.5 * 1.0 + 0.5 * 0.5) / (0.5 + EPSILON), rtol=1e-6)
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}


def test_constraint_applied_by_variable_after_an_update():
    layer = Dense(2, kernel_constraint="non_neg", bias_constraint=constraints.MaxNorm(1.0))
    layer.build((None, 2))
    layer.kernel.assign(np.array([[-1.0, 1.0], [2.0, -3.0]]))
    layer.bias.assign(np.array([3.0, 4.0]))
    for variable in layer.trainable_weights:
        variable.apply_constraint()
    np.testing.assert_array_equal(layer.kernel.numpy(), [[0.0, 1.0], [2.0, 0.0]])
    np.testing.assert_allclose(layer.bias.numpy(), [0.6, 0.8], rtol=1e-6)


@pytest.mark.parametrize(
    "make, error, match",
    [(lambda: constraints.MaxNorm(max_value=-1), ValueError, "max_value"),
     (lambda: constraints.MaxNorm(axis="rows"), TypeError, "axis"),
     (lambda: constraints.MinMaxNorm(min_value=2.0, max_value=1.0), ValueError, "max_value"),
     (lambda: constraints.MinMaxNorm(rate=-1.0), ValueError, "rate"),
     (lambda: constraints.UnitNorm(axis=[0, 1.5]), TypeError, "axis")],
)
def test_bad_constraint_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_constraint_get_and_serialization():
    config = json.loads(json.dumps(constraints.serialize(constraints.MaxNorm(3, axis=[0, 1, 2]))))
    assert constraints.get(config).get_config() == {"max_value": 3, "axis": [0, 1, 2]}
    assert isinstance(constraints.get("unit_norm"), constraints.UnitNorm)
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.get("positive")
