"""Global, adaptive and LP pooling, max pooling with argmax indices and max unpooling, against
PyTorch and float64 central differences; their argument errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit import Tensor
from cnnkit.functional import (
    adaptive_average_pool,
    adaptive_max_pool,
    global_average_pool,
    global_max_pool,
    lp_pool,
    max_pool,
    max_pool_with_argmax,
    max_unpool,
)
from oracle import check_finite_differences, compare_with_torch
from reference_pool import pool_reference, tensorflow_same_pads
from test_pooling import distinct_values, in_torch_layout, input_shape

TORCH_ADAPTIVE_AVERAGE = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
TORCH_ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
TORCH_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
TORCH_UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}
TORCH_LP = {1: F.lp_pool1d, 2: F.lp_pool2d}
FORMATS = ["channels_last", "channels_first"]


def relu_like(shape, seed=0):
    """Many zeros and repeated values: most windows hold ties."""
    values = np.random.default_rng(seed).standard_normal(shape) * 1.5
    return np.maximum(np.round(values), 0).astype(np.float32)


# ----- global pooling ------------------------------------------------------------------------------
@pytest.mark.parametrize("spatial", [(7,), (5, 6), (3, 4, 2)])
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_torch(spatial, data_format, keepdims):
    rank = len(spatial)
    axes = tuple(range(1, rank + 1)) if data_format == "channels_last" else tuple(range(2, rank + 2))
    shape = input_shape(2, spatial, 3, data_format)

    def torch_global_max(t):
        pooled = in_torch_layout(lambda u: TORCH_ADAPTIVE_MAX[rank](u, 1), data_format, rank)(t)
        return pooled if keepdims else pooled.flatten(1)

    for x in (distinct_values(shape, seed=1), relu_like(shape, seed=1)):
        compare_with_torch(
            lambda t: global_max_pool(t, data_format, keepdims), torch_global_max, [x], rtol=1e-6, atol=0.0
        )
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    compare_with_torch(
        lambda t: global_average_pool(t, data_format, keepdims), lambda t: t.mean(dim=axes, keepdim=keepdims), [x]
    )


@pytest.mark.parametrize("op", [global_max_pool, global_average_pool])
def test_global_pooling_gradients_match_central_differences(op):
    x = distinct_values((2, 3, 4, 2), dtype=np.float64)
    check_finite_differences(lambda t: op(t, "channels_first", True), [x])
    check_finite_differences(lambda t: op(t), [x])


# ----- adaptive pooling ----------------------------------------------------------------------------
ADAPTIVE_CASES = [
    ((7, 10), (3, 4)),
    ((7, 10), (7, 5)),  # one axis divides evenly, the other keeps its size
    ((7, 10), 1),
    ((7, 10), (9, 12)),  # larger than the input: bins repeat cells
    ((6, 8), (3, 2)),  # divisible: plain windows
    ((5, 6), (None, 4)),
    ((7,), 3),
    ((8,), 5),
    ((5,), 7),
    ((4, 5, 6), (3, 2, 4)),
]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("spatial, output_size", ADAPTIVE_CASES)
def test_adaptive_pooling_matches_torch(spatial, output_size, data_format):
    rank = len(spatial)
    shape = input_shape(2, spatial, 3, data_format)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    compare_with_torch(
        lambda t: adaptive_average_pool(t, output_size, data_format),
        in_torch_layout(lambda u: TORCH_ADAPTIVE_AVERAGE[rank](u, output_size), data_format, rank),
        [x],
    )
    for values in (distinct_values(shape, seed=3), relu_like(shape, seed=3)):
        compare_with_torch(
            lambda t: adaptive_max_pool(t, output_size, data_format),
            in_torch_layout(lambda u: TORCH_ADAPTIVE_MAX[rank](u, output_size), data_format, rank),
            [values],
            rtol=1e-6,
            atol=0.0,
        )


@pytest.mark.parametrize("output_size", [(3, 2), (2, 3), (4, 4)])
@pytest.mark.parametrize("op", [adaptive_average_pool, adaptive_max_pool])
def test_adaptive_gradients_match_central_differences(op, output_size):
    x = distinct_values((1, 5, 4, 2), seed=4, dtype=np.float64)
    check_finite_differences(lambda t: op(t, output_size), [x])


# ----- LP pooling ----------------------------------------------------------------------------------
LP_CASES = [
    (norm_type, pool, stride, ceil_mode, data_format, rank)
    for number, (norm_type, (pool, stride, ceil_mode, rank)) in enumerate(
        itertools.product(
            [1, 2, 3, 1.5, float("inf"), -float("inf")],
            [(2, None, False, 2), (3, 2, True, 2), ((2, 3), 1, False, 2), (3, 2, True, 1), (2, 1, False, 1)],
        )
    )
    for data_format in [FORMATS[number % 2]]
]


@pytest.mark.parametrize("norm_type, pool, stride, ceil_mode, data_format, rank", LP_CASES)
def test_lp_pool_matches_torch(norm_type, pool, stride, ceil_mode, data_format, rank):
    spatial = (7, 6)[:rank] if rank == 2 else (9,)
    shape = input_shape(2, spatial, 3, data_format)
    x = np.abs(distinct_values(shape, seed=5)) + 0.05  # positive: fractional powers stay real
    compare_with_torch(
        lambda t: lp_pool(t, norm_type, pool, stride, data_format=data_format, ceil_mode=ceil_mode),
        in_torch_layout(lambda u: TORCH_LP[rank](u, norm_type, pool, stride, ceil_mode=ceil_mode), data_format, rank),
        [x],
    )


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # NumPy warns where PyTorch silently gives NaN
def test_lp_pool_follows_torch_on_zero_windows_negative_inputs_and_partial_windows():
    x = np.array([[[0.0], [0.0], [1.0], [2.0], [-1.0], [-2.0], [5.0]]], dtype=np.float32)  # (1, 7, 1)
    for norm_type in (2, 3.0, 1.5):
        ours = Tensor(x, requires_grad=True)
        output = lp_pool(ours, norm_type, 2, ceil_mode=True)
        output.backward(np.ones(output.shape, np.float32))
        theirs = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)
        expected = F.lp_pool1d(theirs, norm_type, 2, ceil_mode=True)
        expected.backward(torch.ones_like(expected))
        # Same values and NaN pattern (negative power sums under a fractional root), a zero gradient
        # for the all-zero window, and the partial last window scaled by pool / cells as PyTorch does.
        np.testing.assert_allclose(output.numpy()[0, :, 0], expected.detach().numpy()[0, 0], rtol=1e-5)
        np.testing.assert_allclose(ours.grad[0, :, 0], theirs.grad.numpy()[0, 0], rtol=1e-5)
        assert ours.grad[0, 0, 0] == 0.0 and ours.grad[0, 1, 0] == 0.0


@pytest.mark.parametrize("norm_type, pool, stride", [(2, 3, 2), (3, (2, 3), 1), (1.5, 2, 3)])
def test_lp_pool_same_padding_is_the_p_norm_of_the_real_cells(norm_type, pool, stride):
    x = np.abs(distinct_values((2, 5, 7, 2), seed=6)) + 0.05
    pools = (pool, pool) if isinstance(pool, int) else pool
    pads = [tensorflow_same_pads(size, window, stride) for size, window in zip((5, 7), pools)]
    power_sum = pool_reference(x**norm_type, pools, (stride, stride), pads, "average", count_include_pad=True)
    expected = (power_sum * np.prod(pools)) ** (1.0 / norm_type)  # every 'same' window spans pool cells
    np.testing.assert_allclose(lp_pool(x, norm_type, pool, stride, "same").numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("norm_type", [2, 3, 1.5])
def test_lp_pool_gradient_matches_central_differences(norm_type):
    x = np.abs(distinct_values((1, 5, 4, 2), seed=6, dtype=np.float64)) + 0.1
    check_finite_differences(lambda t: lp_pool(t, norm_type, (2, 3), 1, padding="same"), [x])
    check_finite_differences(lambda t: lp_pool(t, norm_type, 3, 2, ceil_mode=True), [x])


# ----- max pooling with argmax indices -------------------------------------------------------------
ARGMAX_CASES = [
    (2, None, 0, False, (8, 9)),
    (3, 2, 1, True, (7, 6)),
    ((2, 3), 1, 0, False, (5, 6)),
    (3, 3, 1, True, (8, 7)),
    (2, 2, 0, False, (9,)),
    (3, 2, 1, True, (10,)),
    (2, (1, 2, 2), 1, False, (3, 4, 5)),
]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("pool, stride, padding, ceil_mode, spatial", ARGMAX_CASES)
def test_max_pool_with_argmax_matches_torch_return_indices(pool, stride, padding, ceil_mode, spatial, data_format):
    rank = len(spatial)
    shape = input_shape(2, spatial, 3, data_format)
    for x in (distinct_values(shape, seed=7), relu_like(shape, seed=7)):
        output, indices = max_pool_with_argmax(x, pool, stride, padding, data_format, ceil_mode=ceil_mode)
        expected_output, expected_indices = in_torch_layout(
            lambda u: TORCH_MAX[rank](u, pool, stride, padding, ceil_mode=ceil_mode, return_indices=True)[0],
            data_format,
            rank,
        ), in_torch_layout(
            lambda u: TORCH_MAX[rank](u, pool, stride, padding, ceil_mode=ceil_mode, return_indices=True)[1],
            data_format,
            rank,
        )
        np.testing.assert_array_equal(output.numpy(), expected_output(torch.tensor(x)).numpy())
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(indices.numpy(), expected_indices(torch.tensor(x)).numpy())
    compare_with_torch(
        lambda t: max_pool_with_argmax(t, pool, stride, padding, data_format, ceil_mode=ceil_mode)[0],
        in_torch_layout(
            lambda u: TORCH_MAX[rank](u, pool, stride, padding, ceil_mode=ceil_mode, return_indices=True)[0],
            data_format,
            rank,
        ),
        [x],
        rtol=1e-6,
        atol=0.0,
    )


# ----- max unpooling -------------------------------------------------------------------------------
UNPOOL_CASES = [
    (2, None, 0, (8, 6), None),
    (2, None, 0, (9, 7), (9, 7)),  # odd sizes need output_size
    (3, 2, 1, (7, 7), None),
    (3, 2, 1, (8, 8), (8, 8)),
    (2, 2, 0, (9,), (9,)),
    (3, 1, 1, (6,), None),
    (2, 2, 0, (4, 4, 6), None),
]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("pool, stride, padding, spatial, output_size", UNPOOL_CASES)
def test_max_unpool_matches_torch(pool, stride, padding, spatial, output_size, data_format):
    rank = len(spatial)
    channels_first = distinct_values((2, 3, *spatial), seed=8)
    # PyTorch's own pooling makes the indices, so the unpooling is checked on its own.
    pooled, torch_indices = TORCH_MAX[rank](torch.tensor(channels_first), pool, stride, padding, return_indices=True)
    pooled, indices = pooled.numpy(), torch_indices.numpy()
    if data_format == "channels_last":
        pooled, indices = np.moveaxis(pooled, 1, -1), np.moveaxis(indices, 1, -1)
    compare_with_torch(
        lambda t: max_unpool(t, indices, pool, stride, padding, output_size, data_format),
        in_torch_layout(
            lambda u: TORCH_UNPOOL[rank](u, torch_indices, pool, stride, padding, output_size), data_format, rank
        ),
        [np.ascontiguousarray(pooled)],
    )


def test_max_unpool_gradient_matches_central_differences_and_round_trip():
    x = distinct_values((2, 5, 6, 2), seed=9, dtype=np.float64)
    output, indices = max_pool_with_argmax(x, 2, padding="valid")
    check_finite_differences(lambda t: max_unpool(t, indices, 2, output_size=(5, 6)), [output.numpy()])
    restored = max_unpool(output, indices, 2, output_size=(5, 6)).numpy()
    kept = restored != 0
    np.testing.assert_array_equal(restored[kept], x[kept])  # maxima back at their cells, zeros elsewhere
    assert kept.sum() == output.size


# ----- argument errors -----------------------------------------------------------------------------
IMAGE = np.zeros((1, 4, 4, 2), np.float32)
POOLED = np.zeros((1, 2, 2, 2), np.float32)
INDICES = np.zeros((1, 2, 2, 2), np.int64)


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda: adaptive_average_pool(IMAGE, 0), ValueError, "output_size=0"),
        (lambda: adaptive_max_pool(IMAGE, (2, -1)), ValueError, "output_size=(2, -1)"),
        (lambda: adaptive_max_pool(IMAGE, (2, 2, 2)), ValueError, "output_size=(2, 2, 2)"),
        (lambda: adaptive_average_pool(IMAGE, 2.5), TypeError, "output_size=2.5"),
        (lambda: adaptive_average_pool(IMAGE[0, 0], 2), ValueError, "inputs"),
        (lambda: adaptive_max_pool(IMAGE.astype(np.int64), 2), TypeError, "int64"),
        (lambda: global_max_pool(IMAGE[0, 0]), ValueError, "inputs"),
        (lambda: global_average_pool(IMAGE, "NCHW"), ValueError, "data_format='NCHW'"),
        (lambda: global_max_pool(IMAGE, keepdims="no"), TypeError, "keepdims='no'"),
        (lambda: global_average_pool(IMAGE.astype(np.int32)), TypeError, "int32"),
        (lambda: lp_pool(IMAGE, 0, 2), ValueError, "norm_type=0"),
        (lambda: lp_pool(IMAGE, "2", 2), TypeError, "norm_type='2'"),
        (lambda: lp_pool(IMAGE, 2, 5), ValueError, "pool_size=(5, 5)"),
        (lambda: max_pool_with_argmax(IMAGE, 0), ValueError, "pool_size=0"),
        (lambda: max_pool_with_argmax(IMAGE, 2, padding="middle"), ValueError, "padding='middle'"),
        (lambda: max_unpool(POOLED, INDICES[:, :1], 2), ValueError, "indices with shape (1, 1, 2, 2)"),
        (lambda: max_unpool(POOLED, INDICES.astype(np.float32), 2), TypeError, "float32"),
        (lambda: max_unpool(POOLED, INDICES + 16, 2), ValueError, "16"),
        (lambda: max_unpool(POOLED, INDICES - 1, 2), ValueError, "-1"),
        (lambda: max_unpool(POOLED, INDICES, 2, output_size=(6, 4)), ValueError, "output_size=(6, 4)"),
        (lambda: max_unpool(POOLED, INDICES, 2, output_size=(4, 4, 4)), ValueError, "output_size=(4, 4, 4)"),
        (lambda: max_unpool(POOLED, INDICES, 0), ValueError, "pool_size=0"),
        (lambda: max_unpool(POOLED, INDICES, 2, padding="full"), ValueError, "padding='full'"),
        (lambda: max_unpool(POOLED.astype(np.int32), INDICES, 2), TypeError, "int32"),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(call, error, fragment):
    with pytest.raises(error) as raised:
        call()
    assert fragment in str(raised.value)


def test_max_pool_with_argmax_output_still_has_max_pool_gradient():
    x = Tensor(distinct_values((1, 4, 4, 1)), requires_grad=True)
    output, indices = max_pool_with_argmax(x, 2)
    output.sum().backward()
    expected = Tensor(x.numpy(), requires_grad=True)
    max_pool(expected, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, expected.grad)
    assert not indices.requires_grad


@pytest.mark.parametrize(
    "op",
    [
        lambda t: global_max_pool(t),
        lambda t: global_average_pool(t, keepdims=True),
        lambda t: adaptive_average_pool(t, (3, 2)),
        lambda t: adaptive_max_pool(t, (3, 2)),
        lambda t: lp_pool(t, 2, 2),
        lambda t: lp_pool(t, 1.5, 3, 2, ceil_mode=True),
        lambda t: max_pool_with_argmax(t, 3, 2, 1)[0],
        lambda t: max_unpool(t, np.zeros(t.shape, np.int64), 2),
    ],
)
def test_float32_stays_float32_forward_and_backward(op):
    x = Tensor(np.abs(distinct_values((2, 5, 4, 3))) + 0.1, requires_grad=True)
    output = op(x)
    output.backward(np.ones(output.shape, np.float32))
    assert output.dtype == np.float32 and x.grad.dtype == np.float32
