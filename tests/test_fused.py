"""The fused layer tails (``cnnkit.functional.fused``) and the whole-row average-pooling road
(channels_last, windows that tile the input exactly): forward and every gradient against PyTorch
(float32) and float64 central differences, and the in-place rules (what is and is not overwritten).
"""
import numpy as np
import pytest
import torch

from cnnkit import functional, layers
from cnnkit.autograd import Tensor, no_grad
from cnnkit.functional.activations import relu, tanh
from cnnkit.functional.fused import IN_PLACE_ACTIVATIONS, activate_in_place, activate_layer_output
from oracle import check_finite_differences, compare_with_torch

ACTIVATIONS = {"tanh": (tanh, torch.tanh), "relu": (relu, torch.relu)}


def _random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _conv_nhwc(x, kernel, bias):
    """torch reference of a channels_last convolution with a Keras-layout kernel."""
    out = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1), bias)
    return out.permute(0, 2, 3, 1)


@pytest.mark.parametrize("name", sorted(IN_PLACE_ACTIVATIONS))
def test_conv_activation_in_place_matches_torch(name):
    ours, theirs = ACTIVATIONS[name]
    compare_with_torch(
        lambda x, k, b: activate_layer_output(functional.conv(x, k, bias=b), name, ours),
        lambda x, k, b: theirs(_conv_nhwc(x, k, b)),
        [_random((3, 10, 9, 2)), _random((5, 5, 2, 6), 1) * 0.3, _random((6,), 2)],
    )


@pytest.mark.parametrize("name", sorted(IN_PLACE_ACTIVATIONS))
def test_dense_activation_in_place_matches_torch(name):
    ours, theirs = ACTIVATIONS[name]
    compare_with_torch(
        lambda x, k, b: activate_layer_output(functional.dense(x, k, b), name, ours),
        lambda x, k, b: theirs(x @ k + b),
        [_random((7, 12)), _random((12, 5), 1) * 0.4, _random((5,), 2)],
    )


@pytest.mark.parametrize("name", sorted(IN_PLACE_ACTIVATIONS))
def test_fused_tails_finite_differences(name):
    ours, _ = ACTIVATIONS[name]
    check_finite_differences(
        lambda x, k, b: activate_layer_output(functional.conv(x, k, bias=b), name, ours),
        [_random((2, 6, 5, 2), 3, np.float64), _random((3, 3, 2, 3), 4, np.float64) * 0.5, _random((3,), 5, np.float64)],
    )
    check_finite_differences(
        lambda x, k, b: activate_layer_output(functional.dense(x, k, b), name, ours),
        [_random((3, 4), 6, np.float64), _random((4, 3), 7, np.float64), _random((3,), 8, np.float64)],
    )


def test_conv2d_layer_with_average_pooling_matches_torch():
    """LeNet's block, Conv2D(tanh) -> AveragePooling2D, through the layers (fused tail, row pooling)."""
    x, kernel, bias = _random((4, 12, 12, 1)), _random((5, 5, 1, 6), 1) * 0.3, _random((6,), 2)
    conv = layers.Conv2D(6, 5, activation="tanh")
    pool = layers.AveragePooling2D(2)
    conv.build(x.shape)
    conv.set_weights([kernel, bias])

    def ours(inputs, k, b):
        conv.kernel, conv.bias = k, b  # the Tensors under test, so their gradients are recorded
        return pool(conv(inputs))

    def theirs(inputs, k, b):
        out = torch.tanh(_conv_nhwc(inputs, k, b))
        return torch.nn.functional.avg_pool2d(out.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)

    compare_with_torch(ours, theirs, [x, kernel, bias])


@pytest.mark.parametrize("pool_size", [(2, 2), (2, 3), (3, 1), (1, 2)])
def test_average_pool_whole_rows_matches_torch(pool_size):
    height, width = 3 * pool_size[0], 2 * pool_size[1]
    compare_with_torch(
        lambda x: functional.average_pool(x, pool_size),
        lambda x: torch.nn.functional.avg_pool2d(x.permute(0, 3, 1, 2), pool_size).permute(0, 2, 3, 1),
        [_random((3, height, width, 5))],
    )


def test_average_pool_whole_rows_finite_differences():
    check_finite_differences(lambda x: functional.average_pool(x, (2, 3)), [_random((2, 4, 6, 3), 9, np.float64)])


def test_average_pool_whole_rows_keeps_float32():
    x = Tensor(_random((2, 4, 4, 6)), requires_grad=True)
    out = functional.average_pool(x, 2)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


def test_in_place_overwrites_only_the_private_pre_activation():
    x = _random((2, 3))
    kernel = _random((3, 4), 1)
    x_copy, kernel_copy = x.copy(), kernel.copy()
    pre_activation = functional.dense(Tensor(x, requires_grad=True), kernel)
    out = activate_layer_output(pre_activation, "tanh", tanh)
    assert out.data is pre_activation.data  # shared memory: no second array
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(kernel, kernel_copy)
    np.testing.assert_allclose(out.numpy(), np.tanh(x_copy @ kernel_copy), rtol=1e-6)


def test_user_tensor_is_never_overwritten():
    """A tensor that did not come from a convolution or dense product takes the plain call."""
    user = Tensor(_random((2, 3)), requires_grad=True)
    before = user.data.copy()
    doubled = user * 2.0
    out = activate_layer_output(doubled, "tanh", tanh)
    assert out.data is not doubled.data
    np.testing.assert_array_equal(doubled.numpy(), before * 2.0)
    np.testing.assert_array_equal(user.numpy(), before)


def test_in_place_under_no_grad_matches_recorded_forward():
    x, kernel, bias = _random((2, 8, 8, 1)), _random((3, 3, 1, 4), 1), _random((4,), 2)
    recorded = activate_layer_output(functional.conv(Tensor(x, requires_grad=True), kernel, bias=bias), "tanh", tanh)
    with no_grad():
        plain = activate_layer_output(functional.conv(x, kernel, bias=bias), "tanh", tanh)
    np.testing.assert_array_equal(plain.numpy(), recorded.numpy())


def test_activate_in_place_rejects_unknown_name():
    with pytest.raises(ValueError, match="name='gelu'"):
        activate_in_place(Tensor(np.zeros(3, np.float32)), "gelu")
