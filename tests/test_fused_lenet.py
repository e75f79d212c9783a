"""The fused tanh + average-pool Function (LeNet-5's conv -> tanh -> 2x2 average pool).

``functional.average_pool`` on a recorded tanh output with exact 2-D channels_last tiling records
one ``_TanhAveragePool`` against the tanh's input, whose backward applies the pool's spread and
tanh's derivative in one pass. Checked against PyTorch (forward and every gradient) and float64
central differences; each test asserts the fused path was taken (or, where it must not be, not).
"""
import numpy as np
import pytest
import torch

from oracle import check_finite_differences, compare_with_torch

import cnnkit
from cnnkit import autograd
from cnnkit.functional import average_pool
from cnnkit.functional import pooling as functional_pooling


def _assert_fused(output, expected=True):
    """Recorded outputs must come from the fused Function (the oracles' unrecorded passes skip)."""
    if output.requires_grad:
        assert isinstance(output.creator, functional_pooling._TanhAveragePool) is expected
        TAKEN.append(expected)


TAKEN = []


def _tanh_pool(pool=(2, 2)):
    def fn(x):
        output = average_pool(autograd.tanh(x * 1.5), pool, pool)
        _assert_fused(output)
        return output
    return fn


def _torch_tanh_pool(pool=(2, 2)):
    def fn(x):
        pooled = torch.nn.functional.avg_pool2d(torch.tanh(x * 1.5).permute(0, 3, 1, 2), pool, pool)
        return pooled.permute(0, 2, 3, 1)
    return fn


@pytest.mark.parametrize("shape,pool", [((3, 4, 6, 5), (2, 2)), ((2, 6, 6, 3), (3, 2)), ((2, 4, 4, 2), (1, 2))])
def test_tanh_average_pool_matches_torch(shape, pool):
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    compare_with_torch(_tanh_pool(pool), _torch_tanh_pool(pool), [x])


def test_tanh_average_pool_finite_differences():
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 3))
    TAKEN.clear()
    check_finite_differences(_tanh_pool(), [x])
    assert TAKEN  # the analytic gradient came through the fused Function


def test_tanh_output_used_twice_gradients_meet():
    def fn(x):
        t = autograd.tanh(x * 1.5)
        pooled = average_pool(t, 2, 2)
        _assert_fused(pooled)
        return pooled.sum() + (t * t).sum()

    def torch_fn(x):
        t = torch.tanh(x * 1.5)
        return torch.nn.functional.avg_pool2d(t.permute(0, 3, 1, 2), 2, 2).sum() + (t * t).sum()

    x = np.random.default_rng(3).normal(size=(2, 4, 4, 3)).astype(np.float32)
    TAKEN.clear()
    compare_with_torch(fn, torch_fn, [x])
    check_finite_differences(fn, [x.astype(np.float64)])
    assert TAKEN


def test_conv_tanh_pool_layers_match_torch_and_take_fused_path():
    cnnkit.random.set_seed(0)
    conv = cnnkit.layers.Conv2D(4, 3, activation="tanh")
    pool = cnnkit.layers.AveragePooling2D(2)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 10, 10, 2)).astype(np.float32)
    conv.build(x.shape)
    kernel, bias = conv.kernel.data.copy(), rng.normal(size=4).astype(np.float32)
    conv.bias.data[...] = bias

    def fn(x):
        output = pool(conv(x))
        _assert_fused(output)
        return output

    def torch_fn(x):
        weight = torch.tensor(kernel).permute(3, 2, 0, 1)
        z = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), weight, torch.tensor(bias))
        return torch.nn.functional.avg_pool2d(torch.tanh(z), 2, 2).permute(0, 2, 3, 1)

    compare_with_torch(fn, torch_fn, [x])
    # the parameters' gradients too (cleared of what compare_with_torch's backward accumulated)
    conv.kernel.grad = conv.bias.grad = None
    output = fn(cnnkit.Tensor(x))
    upstream = rng.normal(size=output.shape).astype(np.float32)
    output.backward(upstream)
    torch_x = torch.tensor(x)
    torch_kernel = torch.tensor(kernel, requires_grad=True)
    torch_bias = torch.tensor(bias, requires_grad=True)
    z = torch.nn.functional.conv2d(torch_x.permute(0, 3, 1, 2), torch_kernel.permute(3, 2, 0, 1), torch_bias)
    reference = torch.nn.functional.avg_pool2d(torch.tanh(z), 2, 2).permute(0, 2, 3, 1)
    reference.backward(torch.tensor(upstream))
    np.testing.assert_allclose(conv.kernel.grad, torch_kernel.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(conv.bias.grad, torch_bias.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_not_fused_without_exact_tiling_or_without_grad():
    x = cnnkit.Tensor(np.ones((1, 5, 5, 2), np.float32), requires_grad=True)
    _assert_fused(average_pool(autograd.tanh(x), 2, 2), expected=False)  # 5 is not a multiple of 2
    _assert_fused(average_pool(autograd.relu(x), 2, 2, padding="valid"), expected=False)
    with autograd.no_grad():
        assert average_pool(autograd.tanh(x), 2, 2).creator is None


def test_fused_float32_stays_float32():
    x = cnnkit.Tensor(np.random.default_rng(5).normal(size=(2, 4, 4, 3)).astype(np.float32), requires_grad=True)
    output = average_pool(autograd.tanh(x), 2, 2)
    _assert_fused(output)
    output.sum().backward()
    assert output.dtype == np.float32 and x.grad.dtype == np.float32
