"""batch_normalization (given statistics) and batch_norm_train (batch statistics, fused backward)
against torch.nn.functional.batch_norm in eval and training mode, float64 central differences, and
the statistics the BatchNormalization layer folds into its moving averages."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.functional as cf
from cnnkit import Tensor

from oracle import check_finite_differences, compare_with_torch

rng = np.random.default_rng(3)


def randn(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def positive(*shape, dtype=np.float32):
    return rng.uniform(0.5, 2.0, shape).astype(dtype)


def to_channels_first(x):
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def to_channels_last(x):
    return x.permute(0, *range(2, x.ndim), 1)


# ----- batch_normalization: given statistics ----------------------------------------------------------------
@pytest.mark.parametrize("input_shape", [(4, 3), (2, 5, 3), (2, 4, 5, 3)])
def test_batch_normalization_channels_last_matches_torch_eval_mode(input_shape):
    mean, variance, offset, scale = randn(3), positive(3), randn(3), randn(3)

    def theirs(x, beta, gamma):
        return to_channels_last(F.batch_norm(to_channels_first(x), torch.tensor(mean), torch.tensor(variance),
                                             weight=gamma, bias=beta, training=False, eps=1e-3))

    compare_with_torch(lambda x, beta, gamma: cf.batch_normalization(x, mean, variance, axis=-1, offset=beta, scale=gamma),
                       theirs, [randn(*input_shape), offset, scale])


def test_batch_normalization_channels_first_axis_one():
    mean, variance = randn(4), positive(4)
    compare_with_torch(
        lambda x: cf.batch_normalization(x, mean, variance, axis=1, epsilon=1e-5),
        lambda x: F.batch_norm(x, torch.tensor(mean), torch.tensor(variance), training=False, eps=1e-5),
        [randn(2, 4, 3, 3)])


def test_batch_normalization_gradients_reach_the_statistics():
    def theirs(x, mean, variance, offset, scale):
        shape = (1, 1, 3)
        return (x - mean.reshape(shape)) / torch.sqrt(variance.reshape(shape) + 1e-3) * scale.reshape(shape) + offset.reshape(shape)

    compare_with_torch(
        lambda x, mean, variance, offset, scale: cf.batch_normalization(x, mean, variance, -1, offset, scale),
        theirs, [randn(2, 4, 3), randn(3), positive(3), randn(3), randn(3)])
    check_finite_differences(
        lambda x, mean, variance: cf.batch_normalization(x, mean, variance * variance + 0.5, axis=1),
        [randn(3, 2, 2, dtype=np.float64), randn(2, dtype=np.float64), randn(2, dtype=np.float64)])


# ----- batch_norm_train: batch statistics ------------------------------------------------------------------------
@pytest.mark.parametrize("input_shape", [(6, 3), (4, 5, 3), (3, 4, 5, 3)])
def test_batch_norm_train_channels_last_matches_torch_training_mode(input_shape):
    def theirs(x, gamma, beta):
        return to_channels_last(F.batch_norm(to_channels_first(x), None, None, weight=gamma, bias=beta,
                                             training=True, eps=1e-3))

    compare_with_torch(lambda x, gamma, beta: cf.batch_norm_train(x, gamma, beta)[0], theirs,
                       [randn(*input_shape) * 3 + 2, randn(3), randn(3)])


def test_batch_norm_train_channels_first_matches_torch():
    compare_with_torch(
        lambda x, gamma, beta: cf.batch_norm_train(x, gamma, beta, axis=1, epsilon=1e-5)[0],
        lambda x, gamma, beta: F.batch_norm(x, None, None, weight=gamma, bias=beta, training=True, eps=1e-5),
        [randn(4, 3, 5, 5), randn(3), randn(3)])


def test_batch_norm_train_without_gamma_or_beta():
    compare_with_torch(
        lambda x: cf.batch_norm_train(x, None, None, axis=1)[0],
        lambda x: F.batch_norm(x, None, None, training=True, eps=1e-3), [randn(5, 2, 3)])
    compare_with_torch(
        lambda x, beta: cf.batch_norm_train(x, None, beta, axis=1)[0],
        lambda x, beta: F.batch_norm(x, None, None, bias=beta, training=True, eps=1e-3), [randn(5, 2, 3), randn(2)])


def test_batch_norm_train_returns_biased_statistics_and_relation_to_torch_running_var():
    data = randn(4, 6, 6, 3) * 2 + 1
    output, batch_mean, batch_variance = cf.batch_norm_train(data, None, None)
    assert batch_mean.shape == (3,) and batch_variance.shape == (3,)
    assert not batch_mean.requires_grad and not batch_variance.requires_grad
    reference = torch.tensor(data).permute(3, 0, 1, 2).reshape(3, -1)
    np.testing.assert_allclose(batch_mean.numpy(), reference.mean(1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(batch_variance.numpy(), reference.var(1, unbiased=False).numpy(), rtol=1e-5)
    # PyTorch's running_var takes the unbiased variance instead: M / (M - 1) times larger.
    running_mean, running_var = torch.zeros(3), torch.ones(3)
    F.batch_norm(torch.tensor(data).permute(0, 3, 1, 2), running_mean, running_var, training=True, momentum=1.0)
    count = 4 * 6 * 6
    np.testing.assert_allclose(running_var.numpy(), batch_variance.numpy() * count / (count - 1), rtol=1e-5)


def test_batch_norm_train_over_several_feature_axes():
    data = randn(5, 2, 3)
    gamma, beta = randn(2, 3), randn(2, 3)

    def theirs(x, g, b):
        mean = x.mean(0, keepdim=True)
        variance = x.var(0, unbiased=False, keepdim=True)
        return (x - mean) / torch.sqrt(variance + 1e-3) * g + b

    compare_with_torch(lambda x, g, b: cf.batch_norm_train(x, g, b, axis=(1, 2))[0], theirs, [data, gamma, beta])


def test_batch_norm_train_variance_is_accurate_for_a_large_mean():
    data = (1000.0 + randn(64, 4)).astype(np.float32)
    _, _, variance = cf.batch_norm_train(data, None, None)
    reference = data.astype(np.float64).var(axis=0)
    np.testing.assert_allclose(variance.numpy(), reference, rtol=1e-3)


@pytest.mark.parametrize("axis, shape", [(-1, (4, 3)), (1, (3, 2, 2)), ((1, 2), (3, 2, 2))])
def test_batch_norm_train_float64_central_differences(axis, shape):
    feature_shape = tuple(shape[a] for a in ((axis,) if isinstance(axis, int) else axis))
    check_finite_differences(lambda x, g, b: cf.batch_norm_train(x, g, b, axis=axis)[0],
                             [randn(*shape, dtype=np.float64), randn(*feature_shape, dtype=np.float64),
                              randn(*feature_shape, dtype=np.float64)])


def test_batch_norm_train_gradient_of_parameters_only():
    x = Tensor(randn(6, 3))
    gamma, beta = Tensor(randn(3), requires_grad=True), Tensor(randn(3), requires_grad=True)
    output, _, _ = cf.batch_norm_train(x, gamma, beta)
    output.sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(beta.grad, [6.0, 6.0, 6.0])
    np.testing.assert_allclose(gamma.grad, 0.0, atol=1e-5)  # sum of normalised values is 0


def test_float32_stays_float32():
    x, gamma, beta = (Tensor(a, requires_grad=True) for a in (randn(4, 3), randn(3), randn(3)))
    output, mean, variance = cf.batch_norm_train(x, gamma, beta)
    output.sum().backward()
    assert {output.dtype, mean.dtype, variance.dtype, x.grad.dtype, gamma.grad.dtype} == {np.dtype(np.float32)}
    inference = cf.batch_normalization(x, np.zeros(3), np.ones(3))  # float64 statistics, float32 inputs
    assert inference.dtype == np.float32


# ----- errors ---------------------------------------------------------------------------------------------
def test_errors_name_the_argument_and_shapes():
    with pytest.raises(ValueError, match=r"gamma.shape=\(4,\)"):
        cf.batch_norm_train(randn(2, 3), randn(4), randn(3))
    with pytest.raises(ValueError, match=r"mean.shape=\(2,\)"):
        cf.batch_normalization(randn(2, 3), randn(2), positive(3))
    with pytest.raises(ValueError, match="axis=3"):
        cf.batch_norm_train(randn(2, 3), None, None, axis=3)
    with pytest.raises(ValueError, match="epsilon=-1"):
        cf.batch_norm_train(randn(2, 3), None, None, epsilon=-1)
    with pytest.raises(TypeError, match="`inputs`.*int64"):
        cf.batch_norm_train(np.ones((2, 3), int), None, None)
    with pytest.raises(ValueError, match="required"):
        cf.batch_normalization(randn(2, 3), None, positive(3))
    with pytest.raises(ValueError, match="empty"):
        cf.batch_norm_train(np.zeros((0, 3), np.float32), None, None)
