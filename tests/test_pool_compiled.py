"""The compiled route of 2-D channels_last pooling whose windows tile the input exactly.

``cnnkit.kernels.pool`` runs average pooling (forward, backward) and the fused tanh + average pool
backward through numba-compiled loops when the windows tile a channels_last 2-D input exactly.
Checked through the public API (``cnnkit.functional`` and the layers) against PyTorch (float32,
rel 1e-4) and float64 central differences over a grid of pool sizes (square and not), channel
counts and odd batches; every test asserts the compiled loops ran. Also: the same bits for 1 and
2 threads, and ``import cnnkit`` never imports numba.
"""
import subprocess
import sys

import numpy as np
import pytest
import torch

from oracle import check_finite_differences, compare_with_torch

import cnnkit
import cnnkit.functional as F
from cnnkit import backend
from cnnkit.functional import pooling as functional_pooling
from cnnkit.kernels import conv as conv_kernels
from cnnkit.kernels import pool as pool_kernels

LOOPS = ("_average_rows_forward_loops", "_average_rows_backward_loops", "_average_tanh_backward_loops")


@pytest.fixture
def calls(monkeypatch):
    """Count the calls of each compiled loop (the spies call through to the real loops)."""
    counts = dict.fromkeys(LOOPS, 0)
    for name in LOOPS:
        loop = getattr(pool_kernels, name)

        def spy(*arguments, _loop=loop, _name=name):
            counts[_name] += 1
            return _loop(*arguments)

        monkeypatch.setattr(pool_kernels, name, spy)
    return counts


# (batch, out_h, out_w, channels, pool): every pool size 1-4 appears, square and not; channels 1,
# 6, 16 and 33; odd batches; input sizes are out * pool (exact tiling).
GRID = [
    (3, 3, 2, 6, (2, 2)),
    (1, 2, 3, 1, (1, 1)),
    (5, 2, 2, 16, (3, 3)),
    (3, 1, 2, 33, (4, 4)),
    (3, 2, 3, 6, (2, 3)),
    (1, 3, 2, 16, (1, 2)),
    (3, 2, 1, 1, (4, 1)),
    (5, 1, 2, 33, (3, 2)),
]
SMALL_GRID = [  # float64 finite differences perturb every element: small inputs
    (1, 2, 2, 1, (2, 2)),
    (3, 1, 2, 2, (2, 3)),
    (1, 2, 1, 3, (3, 1)),
    (1, 1, 1, 2, (4, 4)),
    (1, 2, 2, 1, (1, 1)),
]


def _input(batch, out_h, out_w, channels, pool, seed=0, dtype=np.float32):
    shape = (batch, out_h * pool[0], out_w * pool[1], channels)
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _torch_average(pool):
    def fn(x):
        return torch.nn.functional.avg_pool2d(x.permute(0, 3, 1, 2), pool, pool).permute(0, 2, 3, 1)
    return fn


def _torch_tanh_average(pool):
    def fn(x):
        return torch.nn.functional.avg_pool2d(torch.tanh(x * 1.5).permute(0, 3, 1, 2), pool, pool).permute(0, 2, 3, 1)
    return fn


def _tanh_average(pool):
    def fn(x):
        output = F.average_pool(F.tanh(x * 1.5), pool, pool)
        if output.requires_grad:
            assert isinstance(output.creator, functional_pooling._TanhAveragePool)
        return output
    return fn


@pytest.mark.parametrize("case", GRID)
def test_average_pool_matches_torch(case, calls):
    pool = case[-1]
    compare_with_torch(lambda x: F.average_pool(x, pool, pool), _torch_average(pool), [_input(*case)])
    assert calls["_average_rows_forward_loops"] >= 1 and calls["_average_rows_backward_loops"] == 1


@pytest.mark.parametrize("case", GRID[:4])
def test_average_pool_float64_matches_torch(case, calls):
    pool = case[-1]
    output = compare_with_torch(
        lambda x: F.average_pool(x, pool, pool), _torch_average(pool), [_input(*case, dtype=np.float64)]
    )
    assert output.dtype == np.float64
    assert calls["_average_rows_forward_loops"] >= 1 and calls["_average_rows_backward_loops"] == 1


@pytest.mark.parametrize("case", SMALL_GRID)
def test_average_pool_finite_differences(case, calls):
    pool = case[-1]
    check_finite_differences(lambda x: F.average_pool(x, pool, pool), [_input(*case, seed=1, dtype=np.float64)])
    assert calls["_average_rows_forward_loops"] >= 1 and calls["_average_rows_backward_loops"] >= 1


@pytest.mark.parametrize("case", GRID)
def test_tanh_average_pool_matches_torch(case, calls):
    pool = case[-1]
    compare_with_torch(_tanh_average(pool), _torch_tanh_average(pool), [_input(*case, seed=2)])
    assert calls["_average_rows_forward_loops"] >= 1 and calls["_average_tanh_backward_loops"] == 1
    assert calls["_average_rows_backward_loops"] == 0


@pytest.mark.parametrize("case", SMALL_GRID)
def test_tanh_average_pool_finite_differences(case, calls):
    pool = case[-1]
    check_finite_differences(_tanh_average(pool), [_input(*case, seed=3, dtype=np.float64)])
    assert calls["_average_tanh_backward_loops"] >= 1


@pytest.mark.parametrize("pool,channels", [((2, 2), 6), ((2, 3), 16), ((3, 1), 1)])
def test_conv_tanh_then_average_pooling_layer_matches_torch(pool, channels, calls):
    cnnkit.random.set_seed(0)
    conv = cnnkit.layers.Conv2D(channels, 3, activation="tanh")
    layer = cnnkit.layers.AveragePooling2D(pool)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 2 * pool[0] + 2, 3 * pool[1] + 2, 2)).astype(np.float32)
    conv.build(x.shape)
    kernel = conv.kernel.data.copy()
    bias = rng.normal(size=channels).astype(np.float32)
    conv.bias.data[...] = bias

    def torch_fn(x):
        weight = torch.tensor(kernel).permute(3, 2, 0, 1)
        z = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), weight, torch.tensor(bias))
        return torch.nn.functional.avg_pool2d(torch.tanh(z), pool, pool).permute(0, 2, 3, 1)

    compare_with_torch(lambda x: layer(conv(x)), torch_fn, [x])
    assert calls["_average_rows_forward_loops"] >= 1 and calls["_average_tanh_backward_loops"] == 1


def test_non_contiguous_input_takes_compiled_route(calls):
    """A channels_first array viewed as channels_last (not contiguous) is copied, then pooled."""
    x = np.random.default_rng(5).normal(size=(3, 6, 4, 6)).astype(np.float32)  # (N, C, H, W)

    def fn(x):
        viewed = x.transpose((0, 2, 3, 1))
        assert not viewed.data.flags.c_contiguous
        return F.average_pool(viewed, 2, 2)

    def torch_fn(x):
        return torch.nn.functional.avg_pool2d(x, 2, 2).permute(0, 2, 3, 1)

    compare_with_torch(fn, torch_fn, [x])
    assert calls["_average_rows_forward_loops"] >= 1 and calls["_average_rows_backward_loops"] == 1


def test_nan_and_inf_propagate_as_in_torch(calls):
    x = _input(1, 2, 2, 3, (2, 2), seed=6)
    x[0, 0, 1, 0] = np.nan
    x[0, 3, 3, 2] = np.inf
    ours = F.average_pool(x, 2, 2).numpy()
    theirs = _torch_average((2, 2))(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)
    assert np.isnan(ours[0, 0, 0, 0]) and np.isposinf(ours[0, 1, 1, 2]) and np.isfinite(ours[0, 1, 0]).all()
    assert calls["_average_rows_forward_loops"] == 1


def test_float32_stays_float32(calls):
    x = cnnkit.Tensor(_input(3, 2, 2, 6, (2, 2), seed=7), requires_grad=True)
    output = F.average_pool(F.tanh(x), 2, 2)
    output.sum().backward()
    plain = cnnkit.Tensor(x.data.copy(), requires_grad=True)
    pooled = F.average_pool(plain, (2, 2), (2, 2))
    pooled.sum().backward()
    assert output.dtype == pooled.dtype == np.float32
    assert x.grad.dtype == plain.grad.dtype == np.float32
    assert all(count >= 1 for count in calls.values())


@pytest.fixture
def restore_threads():
    original = backend.get_num_threads()
    yield
    cnnkit.set_num_threads(original)
    conv_kernels._THREAD_COUNT[0] = None


def _run_all(x, grad):
    tensor = cnnkit.Tensor(x, requires_grad=True)
    output = F.average_pool(tensor, (2, 3), (2, 3))
    output.backward(grad)
    fused_input = cnnkit.Tensor(x, requires_grad=True)
    fused = F.average_pool(F.tanh(fused_input), (2, 3), (2, 3))
    fused.backward(grad)
    return output.numpy(), tensor.grad, fused_input.grad


def test_same_bits_for_one_and_two_threads(restore_threads, calls, monkeypatch):
    monkeypatch.setattr(pool_kernels, "_PARALLEL_MIN_CELLS", 0)  # split even this small input
    x = _input(7, 12, 8, 6, (2, 3), seed=8)
    grad = np.random.default_rng(9).normal(size=(7, 12, 8, 6)).astype(np.float32)
    results = []
    for threads in (1, 2):
        cnnkit.set_num_threads(threads)
        conv_kernels._THREAD_COUNT[0] = None  # re-read the thread count now (it is cached for 1 s)
        before = dict(calls)
        results.append(_run_all(x, grad))
        # one loop call per batch chunk, one chunk per thread (two forwards: plain and fused)
        assert calls["_average_rows_forward_loops"] - before["_average_rows_forward_loops"] == 2 * threads
        assert calls["_average_rows_backward_loops"] - before["_average_rows_backward_loops"] == threads
        assert calls["_average_tanh_backward_loops"] - before["_average_tanh_backward_loops"] == threads
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
        assert one.dtype == np.float32


def test_import_cnnkit_does_not_import_numba():
    code = (
        "import sys, cnnkit, cnnkit.functional, cnnkit.layers, cnnkit.kernels.pool\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
