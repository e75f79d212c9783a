"""dense, dropout, flatten, reshape and zero_padding (cnnkit.functional.core) against torch
(F.linear, flatten, reshape, F.pad) and float64 central differences, with Keras's semantics for
Dropout (noise_shape, scaling), Flatten (channels_first) and ZeroPadding1D/2D/3D arguments."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.functional as cf
from cnnkit import Tensor
from cnnkit import random as cnnkit_random

from oracle import check_finite_differences, compare_with_torch

rng = np.random.default_rng(5)


def randn(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ----- dense ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("input_shape", [(5, 3), (2, 4, 3), (3,), (2, 2, 2, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_dense_matches_torch_linear(input_shape, with_bias):
    arrays = [randn(*input_shape), randn(3, 4)] + ([randn(4)] if with_bias else [])
    if with_bias:
        compare_with_torch(lambda x, w, b: cf.dense(x, w, b), lambda x, w, b: F.linear(x, w.T, b), arrays)
    else:
        compare_with_torch(lambda x, w: cf.dense(x, w), lambda x, w: F.linear(x, w.T), arrays)


def test_dense_on_non_contiguous_inputs():
    data = randn(3, 5).T  # (5, 3), Fortran-ordered
    compare_with_torch(lambda x, w, b: cf.dense(x.transpose(), w, b), lambda x, w, b: F.linear(x.T, w.T, b),
                       [np.ascontiguousarray(data.T), randn(3, 2), randn(2)])


def test_dense_computes_only_the_needed_gradients():
    x, kernel, bias = Tensor(randn(4, 3)), Tensor(randn(3, 2), requires_grad=True), Tensor(randn(2), requires_grad=True)
    cf.dense(x, kernel, bias).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(kernel.grad, x.numpy().sum(axis=0)[:, None].repeat(2, axis=1), rtol=1e-5)
    np.testing.assert_allclose(bias.grad, [4.0, 4.0])


def test_dense_float64_central_differences():
    check_finite_differences(lambda x, w, b: cf.dense(x, w, b), [randn(2, 3, 4, dtype=np.float64),
                                                                  randn(4, 2, dtype=np.float64), randn(2, dtype=np.float64)])


def test_dense_keeps_float32():
    x, w, b = (Tensor(a, requires_grad=True) for a in (randn(2, 3), randn(3, 4), randn(4)))
    output = cf.dense(x, w, b)
    output.sum().backward()
    assert output.dtype == np.float32 and {x.grad.dtype, w.grad.dtype, b.grad.dtype} == {np.dtype(np.float32)}


def test_dense_errors_name_the_argument_and_shapes():
    with pytest.raises(ValueError, match=r"inputs.shape=\(2, 5\), kernel.shape=\(3, 4\)"):
        cf.dense(randn(2, 5), randn(3, 4))
    with pytest.raises(ValueError, match=r"`kernel` must be 2-D.*\(3,\)"):
        cf.dense(randn(2, 3), randn(3))
    with pytest.raises(ValueError, match=r"bias.shape=\(3,\)"):
        cf.dense(randn(2, 3), randn(3, 4), randn(3))
    with pytest.raises(TypeError, match="`inputs`.*int64"):
        cf.dense(np.ones((2, 3), int), randn(3, 4))


# ----- dropout ------------------------------------------------------------------------------------------
def test_dropout_drops_at_the_rate_and_scales_the_kept_entries():
    output = cf.dropout(np.ones((200, 500), np.float32), rate=0.3, seed=3).numpy()
    kept = output != 0
    assert abs(1.0 - kept.mean() - 0.3) < 0.005  # 100,000 draws: standard error 0.0015
    np.testing.assert_allclose(output[kept], 1.0 / 0.7, rtol=1e-6)
    assert output.dtype == np.float32


def test_dropout_gradient_is_the_same_scaled_mask():
    x = Tensor(randn(20, 30), requires_grad=True)
    output = cf.dropout(x, rate=0.5, seed=1)
    output.backward(np.ones((20, 30), np.float32))
    expected = np.where(output.numpy() != 0, 2.0, 0.0)
    np.testing.assert_array_equal(x.grad, expected)


def test_dropout_is_reproducible_by_seed_and_by_cnnkit_random():
    data = np.ones((8, 9), np.float32)
    np.testing.assert_array_equal(cf.dropout(data, 0.5, seed=7).numpy(), cf.dropout(data, 0.5, seed=7).numpy())
    assert not np.array_equal(cf.dropout(data, 0.5, seed=7).numpy(), cf.dropout(data, 0.5, seed=8).numpy())
    cnnkit_random.set_seed(123)
    first = [cf.dropout(data, 0.5).numpy() for _ in range(2)]
    cnnkit_random.set_seed(123)
    second = [cf.dropout(data, 0.5).numpy() for _ in range(2)]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])  # the shared generator advances


def test_dropout_noise_shape_drops_whole_feature_maps_as_keras():
    data = np.ones((4, 5, 6, 8), np.float32)
    output = cf.dropout(data, 0.5, noise_shape=(None, 1, 1, None), seed=2).numpy()
    per_map = output.reshape(4, 30, 8)
    assert np.all(per_map == per_map[:, :1, :])  # constant over the spatial positions
    assert 0 < (per_map[:, 0, :] == 0).mean() < 1


def test_dropout_rate_zero_and_one():
    x = Tensor(randn(3, 4))
    assert cf.dropout(x, 0.0) is x
    y = Tensor(randn(3, 4), requires_grad=True)
    dropped = cf.dropout(y, 1.0)
    np.testing.assert_array_equal(dropped.numpy(), 0.0)
    dropped.sum().backward()
    np.testing.assert_array_equal(y.grad, 0.0)


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"rate": 1.5}, ValueError, "rate=1.5"),
        ({"rate": -0.1}, ValueError, "rate=-0.1"),
        ({"rate": "half"}, ValueError, "rate='half'"),
        ({"rate": 0.5, "noise_shape": (3, 1, 1)}, ValueError, "one entry per input axis"),
        ({"rate": 0.5, "noise_shape": (2, 4)}, ValueError, r"broadcast to the inputs' shape \(3, 4\)"),
        ({"rate": 0.5, "seed": -1}, ValueError, "seed=-1"),
        ({"rate": 0.5, "seed": "x"}, ValueError, "seed='x'"),
    ],
)
def test_dropout_bad_arguments(arguments, error, message):
    with pytest.raises(error, match=message):
        cf.dropout(randn(3, 4), **arguments)


# ----- flatten and reshape -----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 7), (3, 2, 2)])
def test_flatten_channels_last_matches_torch(shape):
    compare_with_torch(cf.flatten, lambda x: torch.flatten(x, 1), [randn(*shape)])


def test_flatten_channels_first_orders_features_as_channels_last_like_keras():
    channels_last = randn(2, 3, 4, 5)
    channels_first = np.ascontiguousarray(channels_last.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(cf.flatten(channels_first, data_format="channels_first").numpy(),
                                  cf.flatten(channels_last).numpy())
    compare_with_torch(lambda x: cf.flatten(x, data_format="channels_first"),
                       lambda x: torch.flatten(x.permute(0, 2, 3, 1), 1), [channels_first])


def test_flatten_one_dimensional_input_gets_a_feature_axis():
    assert cf.flatten(randn(4)).shape == (4, 1)
    assert cf.flatten(randn(4, 3), data_format="channels_first").shape == (4, 3)


def test_flatten_bad_data_format():
    with pytest.raises(ValueError, match="data_format='NCHW'"):
        cf.flatten(randn(2, 3), data_format="NCHW")


@pytest.mark.parametrize("shape", [(6, 4), (2, -1), (2, 3, 2, 2), (-1,)])
def test_reshape_matches_torch(shape):
    compare_with_torch(lambda x: cf.reshape(x, shape), lambda x: x.reshape(shape), [randn(2, 3, 4)])


def test_reshape_errors():
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\(4, 2\)"):
        cf.reshape(randn(2, 3), (4, 2))
    with pytest.raises(ValueError, match="at most one -1"):
        cf.reshape(randn(2, 3), (-1, -1))
    with pytest.raises(ValueError, match=r"shape=\(2, -2\)"):
        cf.reshape(randn(2, 3), (2, -2))
    with pytest.raises(ValueError, match=r"\(4, -1\)"):
        cf.reshape(randn(2, 3), (4, -1))
    with pytest.raises(TypeError, match="shape=None"):
        cf.reshape(randn(2, 3), None)


# ----- zero padding ----------------------------------------------------------------------------------
def torch_pad_channels_last(x, pairs):
    """F.pad takes (last-axis before, after, second-to-last ...); channels (last) are not padded."""
    widths = [0, 0]
    for before, after in reversed(pairs):
        widths += [before, after]
    return F.pad(x, widths)


def torch_pad_channels_first(x, pairs):
    widths = []
    for before, after in reversed(pairs):
        widths += [before, after]
    return F.pad(x, widths)


@pytest.mark.parametrize(
    "input_shape, padding, pairs",
    [
        ((2, 5, 3), 2, [(2, 2)]),
        ((2, 5, 3), (1, 3), [(1, 3)]),
        ((2, 5, 3), ((0, 2),), [(0, 2)]),
        ((1, 4, 5, 2), 1, [(1, 1), (1, 1)]),
        ((1, 4, 5, 2), (1, 2), [(1, 1), (2, 2)]),
        ((1, 4, 5, 2), ((1, 0), (2, 3)), [(1, 0), (2, 3)]),
        ((1, 4, 5, 2), (0, (1, 2)), [(0, 0), (1, 2)]),
        ((1, 2, 3, 4, 2), 1, [(1, 1)] * 3),
        ((1, 2, 3, 4, 2), (1, 0, 2), [(1, 1), (0, 0), (2, 2)]),
        ((1, 2, 3, 4, 2), ((1, 0), (0, 2), (3, 1)), [(1, 0), (0, 2), (3, 1)]),
    ],
)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_zero_padding_matches_torch_pad(input_shape, padding, pairs, data_format):
    if data_format == "channels_last":
        compare_with_torch(lambda x: cf.zero_padding(x, padding), lambda x: torch_pad_channels_last(x, pairs),
                           [randn(*input_shape)])
    else:
        channels_first_shape = (input_shape[0], input_shape[-1]) + input_shape[1:-1]
        compare_with_torch(lambda x: cf.zero_padding(x, padding, data_format="channels_first"),
                           lambda x: torch_pad_channels_first(x, pairs), [randn(*channels_first_shape)])


def test_zero_padding_keras_docstring_examples():
    padded = cf.zero_padding(np.arange(4).reshape(1, 1, 2, 2), 1).numpy()  # integers, as in Keras's example
    expected = np.zeros((1, 3, 4, 2), int)
    expected[0, 1, 1:3] = [[0, 1], [2, 3]]
    np.testing.assert_array_equal(padded, expected)
    assert cf.zero_padding(np.zeros((1, 1, 2, 2, 3), np.float32), 2).shape == (1, 5, 6, 6, 3)
    padded = cf.zero_padding(np.arange(12, dtype=np.float32).reshape(2, 2, 3), 2).numpy()
    assert padded.shape == (2, 6, 3)
    np.testing.assert_array_equal(padded[0, 2:4], [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(padded[:, :2], 0)


def test_zero_padding_float64_central_differences():
    check_finite_differences(lambda x: cf.zero_padding(x, ((1, 0), (0, 2))) * 3.0, [randn(1, 2, 3, 2, dtype=np.float64)])


@pytest.mark.parametrize(
    "shape, padding, message",
    [
        ((1, 4, 4, 1), -1, "non-negative"),
        ((1, 4, 4, 1), (1, 2, 3), "tuple of 2"),
        ((1, 4, 4, 1), ((1, 2, 3), (0, 0)), "padding="),
        ((1, 4, 4, 1), 1.5, "padding=1.5"),
        ((2, 5, 3), (1, 2, 3), r"\(left, right\)"),
        ((4, 4), 1, r"3-D or 4-D or 5-D.*\(4, 4\)"),
    ],
)
def test_zero_padding_bad_arguments(shape, padding, message):
    with pytest.raises(ValueError, match=message):
        cf.zero_padding(np.zeros(shape, np.float32), padding)
    with pytest.raises(TypeError, match="dtype <U1"):
        cf.zero_padding(np.full((1, 2, 2, 1), "a"), 1)
