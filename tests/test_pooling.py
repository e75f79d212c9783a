"""max_pool and average_pool against PyTorch, TensorFlow's 'same' (naive reference) and float64
central differences; argument errors.

Grids: pool sizes 1-4 (square and not), strides 1-3, both data formats, odd and even sizes, batch 1
and more, 1-D, 2-D and 3-D; explicit padding with ceil_mode and count_include_pad. Max-pool inputs
hold distinct values unless a test is about ties.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnkit import Tensor, no_grad
from cnnkit.functional import average_pool, max_pool
from oracle import check_finite_differences, compare_with_torch
from reference_pool import pool_reference, same_pool_reference, tensorflow_same_pads

TORCH_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
TORCH_AVERAGE = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def distinct_values(shape, seed=0, dtype=np.float32):
    """Values in [-1, 1) that are all different (no ties in any window)."""
    size = int(np.prod(shape))
    permutation = np.random.default_rng(seed).permutation(size)
    return (2.0 * permutation / size - 1.0).reshape(shape).astype(dtype)


def input_shape(batch, spatial, channels, data_format):
    if data_format == "channels_last":
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def in_torch_layout(torch_op, data_format, rank):
    """Run ``torch_op`` (channels-first) on a tensor laid out in ``data_format``."""
    if data_format == "channels_first":
        return torch_op
    to_first = (0, rank + 1, *range(1, rank + 1))
    to_last = (0, *range(2, rank + 2), 1)
    return lambda tensor: torch_op(tensor.permute(*to_first)).permute(*to_last)


def pairs_of(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


# ----- 2-D grid: pool sizes x strides x data formats -----------------------------------------------
POOLS_2D = [1, 2, 3, 4, (2, 3), (3, 1), (1, 4)]
STRIDES_2D = [None, 1, 2, 3, (1, 2)]
SIZES_2D = [(7, 8), (8, 9), (6, 6), (9, 7)]
GRID_2D = [
    (pool, stride, data_format, SIZES_2D[number % 4], 1 + 2 * (number % 2))
    for number, (pool, stride, data_format) in enumerate(
        itertools.product(POOLS_2D, STRIDES_2D, ["channels_last", "channels_first"])
    )
]


@pytest.mark.parametrize("pool, stride, data_format, spatial, batch", GRID_2D)
def test_max_pool_2d_matches_torch(pool, stride, data_format, spatial, batch):
    x = distinct_values(input_shape(batch, spatial, 3, data_format), seed=batch)
    compare_with_torch(
        lambda t: max_pool(t, pool, stride, data_format=data_format),
        in_torch_layout(lambda t: F.max_pool2d(t, pool, stride), data_format, 2),
        [x],
    )


@pytest.mark.parametrize("pool, stride, data_format, spatial, batch", GRID_2D)
def test_average_pool_2d_matches_torch(pool, stride, data_format, spatial, batch):
    x = np.random.default_rng(batch).standard_normal(input_shape(batch, spatial, 3, data_format)).astype(np.float32)
    compare_with_torch(
        lambda t: average_pool(t, pool, stride, data_format=data_format),
        in_torch_layout(lambda t: F.avg_pool2d(t, pool, stride), data_format, 2),
        [x],
    )


# ----- explicit padding, ceil_mode, count_include_pad ----------------------------------------------
PADDED_GRID = [
    (pool, stride, padding, ceil_mode, ["channels_last", "channels_first"][number % 2])
    for number, (pool, stride, padding, ceil_mode) in enumerate(
        itertools.product([2, 3, (3, 2)], [1, 2, 3], [0, 1, (1, 0)], [False, True])
    )
]


@pytest.mark.parametrize("pool, stride, padding, ceil_mode, data_format", PADDED_GRID)
def test_max_pool_padding_and_ceil_mode_match_torch(pool, stride, padding, ceil_mode, data_format):
    x = distinct_values(input_shape(2, (7, 6), 2, data_format), seed=3)
    compare_with_torch(
        lambda t: max_pool(t, pool, stride, padding, data_format, ceil_mode=ceil_mode),
        in_torch_layout(lambda t: F.max_pool2d(t, pool, stride, padding, ceil_mode=ceil_mode), data_format, 2),
        [x],
    )


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("pool, stride, padding, ceil_mode, data_format", PADDED_GRID)
def test_average_pool_padding_ceil_mode_and_count_include_pad_match_torch(
    pool, stride, padding, ceil_mode, data_format, count_include_pad
):
    x = np.random.default_rng(4).standard_normal(input_shape(2, (7, 6), 2, data_format)).astype(np.float32)
    compare_with_torch(
        lambda t: average_pool(
            t, pool, stride, padding, data_format, ceil_mode=ceil_mode, count_include_pad=count_include_pad
        ),
        in_torch_layout(
            lambda t: F.avg_pool2d(t, pool, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad),
            data_format,
            2,
        ),
        [x],
    )


def test_average_pool_count_include_pad_default_is_false_and_differs_from_torch_default():
    x = np.ones((1, 4, 4, 1), dtype=np.float32)
    ours = average_pool(x, 3, 1, 1).numpy()
    np.testing.assert_allclose(ours, np.ones_like(ours))  # real cells only: the mean of ones is one
    torch_default = F.avg_pool2d(torch.tensor(x).permute(0, 3, 1, 2), 3, 1, 1).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(average_pool(x, 3, 1, 1, count_include_pad=True).numpy(), torch_default, rtol=1e-6)
    assert torch_default[0, 0, 0, 0] == pytest.approx(4 / 9)


# ----- 1-D and 3-D ---------------------------------------------------------------------------------
GRID_1D = [
    (pool, stride, padding, ceil_mode, data_format, length)
    for number, (pool, stride, data_format) in enumerate(
        itertools.product([1, 2, 3, 4], [None, 1, 2, 3], ["channels_last", "channels_first"])
    )
    for padding, ceil_mode, length in [(0, False, 9 + number % 2), (pool // 2, True, 8 + number % 2)]
]


@pytest.mark.parametrize("pool, stride, padding, ceil_mode, data_format, length", GRID_1D)
def test_pooling_1d_matches_torch(pool, stride, padding, ceil_mode, data_format, length):
    x = distinct_values(input_shape(2, (length,), 3, data_format), seed=length)
    compare_with_torch(
        lambda t: max_pool(t, pool, stride, padding, data_format, ceil_mode=ceil_mode),
        in_torch_layout(lambda t: F.max_pool1d(t, pool, stride, padding, ceil_mode=ceil_mode), data_format, 1),
        [x],
    )
    compare_with_torch(
        lambda t: average_pool(t, pool, stride, padding, data_format, ceil_mode=ceil_mode, count_include_pad=True),
        in_torch_layout(lambda t: F.avg_pool1d(t, pool, stride, padding, ceil_mode=ceil_mode), data_format, 1),
        [x],
    )


@pytest.mark.parametrize(
    "pool, stride, padding, ceil_mode, data_format",
    [
        (2, 2, 0, False, "channels_last"),
        ((3, 2, 2), (1, 2, 2), 1, True, "channels_first"),
        ((1, 3, 2), 2, (0, 1, 1), False, "channels_last"),
    ],
)
def test_pooling_3d_matches_torch(pool, stride, padding, ceil_mode, data_format):
    x = distinct_values(input_shape(2, (4, 5, 6), 2, data_format), seed=5)
    compare_with_torch(
        lambda t: max_pool(t, pool, stride, padding, data_format, ceil_mode=ceil_mode),
        in_torch_layout(lambda t: F.max_pool3d(t, pool, stride, padding, ceil_mode=ceil_mode), data_format, 3),
        [x],
    )
    compare_with_torch(
        lambda t: average_pool(t, pool, stride, padding, data_format, ceil_mode=ceil_mode),
        in_torch_layout(
            lambda t: F.avg_pool3d(t, pool, stride, padding, ceil_mode=ceil_mode, count_include_pad=False),
            data_format,
            3,
        ),
        [x],
    )


# ----- ties: the gradient goes to the first maximum (row-major), as PyTorch ---------------------------
@pytest.mark.parametrize(
    "pool, stride, padding, data_format",
    [
        (2, 2, 0, "channels_last"),  # disjoint windows (mask route)
        (2, 2, 0, "channels_first"),
        (3, 3, 0, "channels_last"),
        ((2, 3), (3, 3), 0, "channels_first"),  # gaps between windows
        (2, 1, 0, "channels_last"),  # overlapping windows (offset route)
        (3, 2, 1, "channels_first"),
    ],
)
def test_max_pool_ties_route_gradient_like_torch(pool, stride, padding, data_format):
    rng = np.random.default_rng(6)
    # ReLU-like data: many zeros and repeated values, so most windows hold ties.
    x = np.maximum(np.round(rng.standard_normal(input_shape(3, (9, 8), 4, data_format)) * 1.5), 0).astype(np.float32)
    compare_with_torch(
        lambda t: max_pool(t, pool, stride, padding, data_format),
        in_torch_layout(lambda t: F.max_pool2d(t, pool, stride, padding), data_format, 2),
        [x],
        rtol=1e-6,
        atol=0.0,
    )


def test_max_pool_3d_ties_route_gradient_like_torch():
    x = np.zeros((1, 4, 4, 4, 2), dtype=np.float32)
    x[0, 1, 0, 1, 0] = x[0, 0, 1, 1, 0] = 1.0  # two maxima in one 2x2x2 window: (0,1,1) comes first
    compare_with_torch(
        lambda t: max_pool(t, 2),
        in_torch_layout(lambda t: F.max_pool3d(t, 2), "channels_last", 3),
        [x],
        rtol=0.0,
        atol=0.0,
    )


def test_max_pool_nan_propagates_like_torch():
    x = distinct_values((1, 4, 4, 1))
    x[0, 1, 2, 0] = np.nan
    ours = max_pool(x, 2).numpy()
    theirs = F.max_pool2d(torch.tensor(x).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(ours[~np.isnan(ours)], theirs[~np.isnan(theirs)])


# ----- TensorFlow/Keras 'same' padding against the naive reference ---------------------------------
SAME_GRID = [
    (pool, stride, data_format, spatial)
    for number, (pool, stride, data_format) in enumerate(
        itertools.product([1, 2, 3, 4, (2, 3), (4, 1)], [1, 2, 3], ["channels_last", "channels_first"])
    )
    for spatial in [[(5, 7), (6, 6), (7, 4)][number % 3]]
]


@pytest.mark.parametrize("pool, stride, data_format, spatial", SAME_GRID)
def test_same_padding_matches_tensorflow_reference(pool, stride, data_format, spatial):
    x = distinct_values((2, *spatial, 3), seed=7)  # the reference is channels_last
    arranged = x if data_format == "channels_last" else np.moveaxis(x, -1, 1)
    for op, mode in ((max_pool, "max"), (average_pool, "average")):
        output = op(arranged, pool, stride, "same", data_format).numpy()
        if data_format == "channels_first":
            output = np.moveaxis(output, 1, -1)
        expected = same_pool_reference(x, pairs_of(pool, 2), pairs_of(stride, 2), mode)
        assert output.shape == expected.shape
        np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pool, stride, length", [(2, 2, 5), (3, 1, 6), (4, 3, 7), (1, 2, 5)])
def test_same_padding_1d_matches_tensorflow_reference(pool, stride, length):
    x = distinct_values((2, length, 2), seed=8)
    for op, mode in ((max_pool, "max"), (average_pool, "average")):
        expected = same_pool_reference(x, (pool,), (stride,), mode)
        np.testing.assert_allclose(op(x, pool, stride, "same").numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pool, stride", [(2, 1), (3, 2), ((2, 3), 3)])
def test_same_padding_average_with_count_include_pad_matches_reference(pool, stride):
    x = distinct_values((2, 5, 6, 2), seed=10)
    pools = pairs_of(pool, 2)
    pads = [tensorflow_same_pads(size, window, stride) for size, window in zip((5, 6), pools)]
    expected = pool_reference(x, pools, (stride, stride), pads, "average", count_include_pad=True)
    output = average_pool(x, pool, stride, "same", count_include_pad=True).numpy()
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)


def test_same_average_counts_only_real_cells_keras_example():
    # keras.layers.AveragePooling2D(2, strides=1, padding='same') on 3x3 ones gives ones everywhere.
    x = np.ones((1, 3, 3, 1), dtype=np.float32)
    np.testing.assert_array_equal(average_pool(x, 2, 1, "same").numpy(), np.ones((1, 3, 3, 1), np.float32))


# ----- float64 central differences -----------------------------------------------------------------
FINITE_DIFFERENCE_CASES = [
    ("max", dict(pool_size=2), "channels_last", (2, 4, 5, 2)),  # disjoint, with a leftover column
    ("max", dict(pool_size=3, strides=2, padding=1, ceil_mode=True), "channels_first", (1, 2, 5, 6)),
    ("max", dict(pool_size=(2, 3), strides=1, padding="same"), "channels_last", (1, 4, 5, 2)),
    ("max", dict(pool_size=3, strides=2), "channels_last", (2, 7, 2)),
    ("average", dict(pool_size=2), "channels_first", (2, 2, 4, 4)),
    ("average", dict(pool_size=3, strides=2, padding=1, ceil_mode=True), "channels_last", (1, 5, 6, 2)),
    (
        "average",
        dict(pool_size=3, strides=2, padding=1, ceil_mode=True, count_include_pad=True),
        "channels_last",
        (1, 5, 6, 2),
    ),
    ("average", dict(pool_size=(3, 2), strides=(2, 1), padding="same"), "channels_first", (1, 2, 5, 4)),
    ("average", dict(pool_size=2, strides=1), "channels_last", (1, 3, 3, 3, 1)),
]


@pytest.mark.parametrize("mode, arguments, data_format, shape", FINITE_DIFFERENCE_CASES)
def test_gradients_match_central_differences(mode, arguments, data_format, shape):
    op = max_pool if mode == "max" else average_pool
    x = distinct_values(shape, seed=9, dtype=np.float64)
    check_finite_differences(lambda t: op(t, data_format=data_format, **arguments), [x])


# ----- dtypes, layouts and modes -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", [max_pool, average_pool])
@pytest.mark.parametrize("arguments", [dict(pool_size=2), dict(pool_size=3, strides=2, padding="same")])
def test_dtype_is_kept_forward_and_backward(dtype, op, arguments):
    x = Tensor(distinct_values((2, 6, 6, 3), dtype=dtype), requires_grad=True)
    output = op(x, **arguments)
    output.backward(np.ones(output.shape, dtype=dtype))
    assert output.dtype == dtype
    assert x.grad.dtype == dtype


def test_non_contiguous_input_and_no_grad_give_the_same_result():
    base = distinct_values((2, 3, 6, 8))  # channels_first data viewed as channels_last
    view = base.transpose(0, 2, 3, 1)
    expected = max_pool(np.ascontiguousarray(view), 2).numpy()
    np.testing.assert_array_equal(max_pool(view, 2).numpy(), expected)
    with no_grad():
        np.testing.assert_array_equal(max_pool(Tensor(view, requires_grad=True), 2).numpy(), expected)


def test_accepts_tensor_and_returns_tensor_with_keras_signature():
    x = Tensor(distinct_values((1, 4, 4, 1)))
    output = max_pool(inputs=x, pool_size=(2, 2), strides=(2, 2), padding="VALID", data_format="channels_last")
    assert isinstance(output, Tensor)
    assert output.shape == (1, 2, 2, 1)


# ----- argument errors -----------------------------------------------------------------------------
ERROR_CASES = [
    (dict(inputs=np.zeros((4, 4), np.float32), pool_size=2), ValueError, "inputs"),
    (dict(inputs=np.zeros((1, 1, 4, 4, 1, 1), np.float32), pool_size=2), ValueError, "inputs"),
    (dict(pool_size=0), ValueError, "pool_size=0"),
    (dict(pool_size=(2, -1)), ValueError, "pool_size=(2, -1)"),
    (dict(pool_size=(2, 2, 2)), ValueError, "pool_size=(2, 2, 2)"),
    (dict(pool_size=2.5), TypeError, "pool_size=2.5"),
    (dict(pool_size=2, strides=0), ValueError, "strides=0"),
    (dict(pool_size=2, strides=(1, -2)), ValueError, "strides=(1, -2)"),
    (dict(pool_size=6), ValueError, "pool_size=(6, 6)"),
    (dict(pool_size=(1, 8), padding=(0, 1)), ValueError, "pool_size=(1, 8)"),
    (dict(pool_size=3, padding=2), ValueError, "padding=2"),
    (dict(pool_size=2, padding=((0, 2), (0, 0))), ValueError, "padding=((0, 2), (0, 0))"),
    (dict(pool_size=2, padding="full"), ValueError, "padding='full'"),
    (dict(pool_size=2, padding=-1), ValueError, "padding=-1"),
    (dict(pool_size=2, padding=(1, 1, 1)), ValueError, "padding=(1, 1, 1)"),
    (dict(pool_size=2, padding=True), TypeError, "padding=True"),
    (dict(pool_size=2, data_format="NHWC"), ValueError, "data_format='NHWC'"),
    (dict(pool_size=2, ceil_mode="yes"), TypeError, "ceil_mode='yes'"),
    (dict(inputs=np.zeros((1, 4, 4, 1), np.int32), pool_size=2), TypeError, "int32"),
    (dict(inputs=np.zeros((1, 4, 4, 1), bool), pool_size=2), TypeError, "bool"),
    (dict(inputs=np.array([[["a"]]], dtype=object), pool_size=1), TypeError, "inputs"),
]


@pytest.mark.parametrize("op", [max_pool, average_pool])
@pytest.mark.parametrize("arguments, error, fragment", ERROR_CASES)
def test_bad_arguments_raise_naming_argument_and_value(op, arguments, error, fragment):
    arguments = dict(arguments)
    arguments.setdefault("inputs", np.zeros((1, 5, 5, 1), np.float32))
    with pytest.raises(error) as raised:
        op(**arguments)
    assert fragment in str(raised.value)


def test_count_include_pad_must_be_a_flag():
    with pytest.raises(TypeError, match="count_include_pad=1"):
        average_pool(np.zeros((1, 4, 4, 1), np.float32), 2, count_include_pad=1)


# ----- output-shape formula: random configurations (Hypothesis) ------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 12),
    pool=st.integers(1, 5),
    stride=st.integers(1, 4),
    pad=st.integers(0, 2),
    ceil_mode=st.booleans(),
    same=st.booleans(),
)
def test_output_shape_formula_matches_real_shape_or_documented_error(size, pool, stride, pad, ceil_mode, same):
    x = distinct_values((1, size, 2))
    if same:
        output = max_pool(x, pool, stride, "same", ceil_mode=ceil_mode)
        assert output.shape == (1, -(-size // stride), 2)  # ceil(n / stride)
        return
    if 2 * pad > pool or size + 2 * pad < pool:
        with pytest.raises(ValueError, match="pool_size|padding"):
            max_pool(x, pool, stride, pad, ceil_mode=ceil_mode)
        return
    output = max_pool(x, pool, stride, pad, ceil_mode=ceil_mode)
    expected = F.max_pool1d(torch.tensor(x).permute(0, 2, 1), pool, stride, pad, ceil_mode=ceil_mode)
    assert output.shape == tuple(expected.permute(0, 2, 1).shape)
    np.testing.assert_array_equal(output.numpy(), expected.permute(0, 2, 1).numpy())
