"""Pooling numerics: pure array functions, forward and backward, for every pooling cnnkit offers.

This module owns the arithmetic of max, average (and so LP), adaptive and global pooling, of the
argmax indices PyTorch's ``return_indices`` gives, and of max unpooling. It owns no checks: the
functional layer (``cnnkit.functional.pooling``) validates and normalises every argument and hands
over a ``PoolGeometry`` whose numbers these functions trust.

Layout: every kernel takes ``spatial_axis``, the position of the first spatial axis in the array (1
for channels_last ``(batch, *spatial, channels)``, 2 for channels_first ``(batch, channels,
*spatial)``), so one implementation serves both layouts and 1-D, 2-D and 3-D alike.

Speed: no Python loop runs over pixels or batch items. Windowed pooling loops over the cells of
the window (``prod(pool_size)`` offsets), each step one vectorised operation on a strided slice.
Windows that tile the input without overlap (stride >= pool size, no padding: the common 2x2
stride-2 case) take a faster road: the input is viewed as ``(..., out, pool, ...)`` per axis, reduced
one window axis at a time starting with the outermost one (whose slices are the longest contiguous
runs), and max pooling's backward is one broadcast multiply of the output gradient by a one-hot mask
of the winning cells. Average pooling is built from pairwise adds, never ``reshape(...).mean``
(20x slower, PERF-NOTES.md). Average pooling over channels_last 2-D windows that tile the input
exactly (LeNet's 2x2 pools, few channels) runs as compiled loops (``cnnkit.kernels.jit``, numba,
imported on first use): one pass, large inputs split into batch chunks over cnnkit's threads
(``_compiled_rows_apply``). Arrays come from ``get_array_module`` so CuPy data runs the same code
(the compiled road takes NumPy arrays only).

Ties in max pooling go to the first maximum of the window in row-major order, as in PyTorch.
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from ..backend import get_array_module
from .jit import compiled, prange

__all__ = [
    "PoolGeometry",
    "MaxPoolRoute",
    "max_pool_forward",
    "max_pool_backward",
    "max_pool_argmax_indices",
    "average_pool_forward",
    "average_pool_backward",
    "tanh_average_pool_applies",
    "average_pool_tanh_backward",
    "adaptive_bins",
    "adaptive_average_pool_forward",
    "adaptive_average_pool_backward",
    "adaptive_max_pool_forward",
    "scatter_to_planes",
    "global_max_pool_forward",
    "global_max_pool_backward",
    "max_unpool_forward",
    "max_unpool_backward",
]


class PoolGeometry(NamedTuple):
    """Everything a windowed pooling kernel needs, already checked by the functional layer.

    Attributes:
        spatial_axis: position of the first spatial axis (1 channels_last, 2 channels_first).
        input_size: spatial sizes of the input, one per axis.
        pool_size: window size per spatial axis.
        strides: step per spatial axis.
        pads: ``(before, after)`` padding per spatial axis; for average pooling with
            ``count_include_pad`` the padded extent bounds the divisor.
        output_size: spatial sizes of the output (``cnnkit.shapes.conv_output_size``; with
            ``ceil_mode`` the last window may run past the padded input and is clipped).
    """

    spatial_axis: int
    input_size: tuple
    pool_size: tuple
    strides: tuple
    pads: tuple
    output_size: tuple

    @property
    def rank(self) -> int:
        """Number of spatial axes."""
        return len(self.pool_size)

    def output_shape(self, input_shape) -> tuple:
        """Full output shape for an input of ``input_shape`` (batch and channel axes kept)."""
        first = self.spatial_axis
        return tuple(input_shape[:first]) + tuple(self.output_size) + tuple(input_shape[first + self.rank:])

    def tiles_without_overlap(self) -> bool:
        """Windows are disjoint, unpadded and inside the input: the reshape-based fast road applies."""
        return all(
            before == 0 and after == 0 and stride >= pool and out * stride <= size
            for (before, after), stride, pool, out, size in zip(
                self.pads, self.strides, self.pool_size, self.output_size, self.input_size
            )
        )

    def tiles_exactly(self) -> bool:
        """Windows are disjoint and cover every input cell (stride == pool, sizes divisible)."""
        return self.tiles_without_overlap() and all(
            stride == pool and out * stride == size
            for stride, pool, out, size in zip(self.strides, self.pool_size, self.output_size, self.input_size)
        )


# ----- index helpers ------------------------------------------------------------------------------
def _window_offsets(pool_size) -> list:
    """Every cell of a window as a tuple of per-axis offsets, in row-major (PyTorch's scan) order."""
    return list(itertools.product(*(range(size) for size in pool_size)))


def _offset_slices(geometry: PoolGeometry, offset, ndim: int):
    """For one window offset: the output cells whose window cell at ``offset`` is a real input cell.

    Output cell ``i`` reads input cell ``i * stride + offset - pad_before``; along each axis the
    valid ``i`` form one contiguous run, so the pairing is a pair of (strided) slices.

    Returns:
        ``(output_index, input_index)`` tuples of slices over all ``ndim`` axes, or None when no
        output cell reads a real input cell at this offset.
    """
    output_index = [slice(None)] * ndim
    input_index = [slice(None)] * ndim
    for axis, (cell, size, stride, (before, _), out) in enumerate(
        zip(offset, geometry.input_size, geometry.strides, geometry.pads, geometry.output_size)
    ):
        shift = cell - before  # input position read by output cell 0
        first = 0 if shift >= 0 else (-shift + stride - 1) // stride  # smallest i: i*stride + shift >= 0
        last = min(out - 1, (size - 1 - shift) // stride)  # largest i with i*stride + shift <= size - 1
        if last < first:
            return None
        start = first * stride + shift
        position = geometry.spatial_axis + axis
        output_index[position] = slice(first, last + 1)
        input_index[position] = slice(start, start + (last - first) * stride + 1, stride)
    return tuple(output_index), tuple(input_index)


def _at(array, axis: int, index):
    """``array`` indexed along one axis (an int drops the axis, a slice keeps it)."""
    return array[(slice(None),) * axis + (index,)]


def _window_view(array, geometry: PoolGeometry):
    """View ``array`` as ``(..., out_1, pool_1, ..., out_d, pool_d, ...)`` for disjoint windows.

    Only valid when ``geometry.tiles_without_overlap()``. Each spatial axis of size ``n`` is cut to
    ``out * stride`` cells, split into ``(out, stride)`` and the window part ``[:pool]`` kept.
    Splitting an axis never copies, so writes into the view reach ``array``.
    """
    first = geometry.spatial_axis
    trim = [slice(None)] * array.ndim
    shape = list(array.shape[:first])
    window = [slice(None)] * first
    for axis, (stride, pool, out) in enumerate(zip(geometry.strides, geometry.pool_size, geometry.output_size)):
        trim[first + axis] = slice(0, out * stride)
        shape += [out, stride]
        window += [slice(None), slice(0, pool)]
    tail = array.shape[first + geometry.rank:]
    view = array[tuple(trim)].reshape(tuple(shape) + tuple(tail))
    return view[tuple(window)]


def _window_axes(geometry: PoolGeometry) -> list:
    """Positions of the window axes in ``_window_view``'s result."""
    return [geometry.spatial_axis + 2 * axis + 1 for axis in range(geometry.rank)]


def _expand_output(array, geometry: PoolGeometry):
    """Insert a size-1 axis after every spatial output axis, to broadcast against the window view."""
    first = geometry.spatial_axis
    shape = list(array.shape[:first])
    for out in geometry.output_size:
        shape += [out, 1]
    return array.reshape(tuple(shape) + tuple(array.shape[first + geometry.rank:]))


def _spread_over_windows(array, geometry: PoolGeometry):
    """``array`` (output-shaped) made to broadcast against the window view, laid out for speed.

    Usually ``_expand_output``. When the last spatial axis is also the array's last axis
    (channels_first) and its windows touch (stride == pool), the values are first repeated along
    that axis (one copy per window cell), so an operation with the window view runs along whole
    rows instead of along windows of a few cells (NumPy's inner loop would otherwise be ``pool``
    elements long: measured 1.4x slower for 2x2 max-pool backward).
    """
    last = geometry.spatial_axis + geometry.rank - 1
    pool, stride = geometry.pool_size[-1], geometry.strides[-1]
    if last != array.ndim - 1 or pool == 1 or stride != pool:
        return _expand_output(array, geometry)
    xp = get_array_module(array)
    expanded = _expand_output(array, geometry)
    spread = xp.empty(expanded.shape[:-1] + (pool,), dtype=array.dtype)
    for cell in range(pool):  # one strided copy per window cell: faster than xp.repeat here
        spread[..., cell:cell + 1] = expanded
    return spread


def _reduce_window_axes(view, geometry: PoolGeometry, combine):
    """Combine (``xp.maximum`` or ``xp.add``) the cells of every window, one window axis at a time.

    The outermost window axis goes first: its two slices are the longest contiguous runs, so the
    biggest pass (over the whole input) is the fastest one; later passes work on smaller arrays.
    Returns a new array (never a view of the input).
    """
    result, owned = view, False
    for axis in range(geometry.rank):
        position = geometry.spatial_axis + axis + 1  # earlier window axes have been removed
        pool = result.shape[position]
        if pool == 1:
            result = _at(result, position, 0)
            continue
        combined = combine(_at(result, position, 0), _at(result, position, 1))
        for cell in range(2, pool):
            combine(combined, _at(result, position, cell), out=combined)
        result, owned = combined, True
    if not owned:
        result = result.copy()
    return result


def _keep_first_true(mask, window_axes) -> None:
    """Clear every True of ``mask`` but the first in each window (row-major order), in place.

    ``mask`` has the window view's shape. Working from the innermost window axis outwards: along
    one axis, a cell is cleared when an earlier cell along that axis already holds a True anywhere in
    its inner sub-window. For booleans ``a > b`` is ``a and not b``, which does the clearing in one
    operation per window cell.
    """
    xp = get_array_module(mask)
    reduced = mask  # mask OR-reduced over the inner window axes handled so far (kept as size 1)
    for step, axis in enumerate(reversed(window_axes)):
        pool = mask.shape[axis]
        outermost = step == len(window_axes) - 1
        if pool > 1:
            seen = _at(reduced, axis, slice(0, 1))
            for cell in range(1, pool):
                target = _at(mask, axis, slice(cell, cell + 1))
                xp.greater(target, seen, out=target)
                if cell < pool - 1:
                    seen = xp.logical_or(seen, _at(reduced, axis, slice(cell, cell + 1)))
        if not outermost:
            if pool > 1:
                folded = xp.logical_or(_at(reduced, axis, slice(0, 1)), _at(reduced, axis, slice(1, 2)))
                for cell in range(2, pool):
                    xp.logical_or(folded, _at(reduced, axis, slice(cell, cell + 1)), out=folded)
                reduced = folded


# ----- max pooling --------------------------------------------------------------------------------
class MaxPoolRoute:
    """Where each output's maximum came from, kept by the forward pass for the backward pass.

    One of two forms: ``mask``, a boolean array of the window view's shape with exactly one True
    per window (disjoint windows), or ``offset``, the row-major number of the winning window cell
    per output cell (any geometry).
    """

    __slots__ = ("mask", "offset")

    def __init__(self, mask=None, offset=None):
        self.mask, self.offset = mask, offset


def _offset_dtype(xp, count: int):
    """The smallest integer type that numbers ``count`` window cells."""
    return xp.uint8 if count <= 255 else xp.int32


def max_pool_forward(x, geometry: PoolGeometry, keep_route: bool):
    """Maximum over each window; with ``keep_route`` also where it came from.

    Shape: input ``(batch, *spatial, channels)`` (or channels_first), output with spatial sizes
    ``geometry.output_size``; padded and clipped cells never win (they act as -inf).

    Returns:
        ``(output, route)``; ``route`` is a ``MaxPoolRoute`` or None without ``keep_route``.
    """
    xp = get_array_module(x)
    if geometry.tiles_without_overlap():
        view = _window_view(x, geometry)
        output = _reduce_window_axes(view, geometry, xp.maximum)
        if not keep_route:
            return output, None
        mask = xp.equal(view, _spread_over_windows(output, geometry))
        if int(xp.count_nonzero(mask)) != output.size:  # ties (or NaN): keep PyTorch's first maximum
            nan_windows = xp.isnan(output)
            if nan_windows.any():
                # A window holding NaN has a NaN maximum, which equals nothing: PyTorch routes its
                # gradient to the window's last NaN (the first one counted from the end).
                last_nan = xp.isnan(view) & _spread_over_windows(nan_windows, geometry)
                axes = _window_axes(geometry)
                _keep_first_true(last_nan[tuple(slice(None, None, -1) if axis in axes else slice(None)
                                                for axis in range(last_nan.ndim))], axes)
                mask |= last_nan
            _keep_first_true(mask, _window_axes(geometry))
        return output, MaxPoolRoute(mask=mask)

    output = xp.full(geometry.output_shape(x.shape), -xp.inf, dtype=x.dtype)
    offsets = _window_offsets(geometry.pool_size)
    winner = xp.zeros(output.shape, dtype=_offset_dtype(xp, len(offsets))) if keep_route else None
    # Last cell first with ">=": the final winner is the first maximum of the window, and a window
    # whose real cells are all -inf still points at its first real cell (as PyTorch does).
    for number in reversed(range(len(offsets))):
        slices = _offset_slices(geometry, offsets[number], x.ndim)
        if slices is None:
            continue
        output_index, input_index = slices
        candidate = x[input_index]
        current = output[output_index]
        if keep_route:
            # winner = number where the candidate wins, as arithmetic: a masked copy (copyto with
            # where=) branches on every cell and is 20x slower on random data.
            takes = xp.greater_equal(candidate, current).view(xp.uint8)
            target = winner[output_index]
            change = xp.subtract(winner.dtype.type(number), target)  # wraps around for uint8: fine
            change *= takes
            target += change
        xp.maximum(current, candidate, out=current)
    if keep_route and xp.isnan(output).any():
        # PyTorch routes a NaN window's gradient to its last NaN cell: set those winners (last cell
        # first, so the first NaN met is the last in window order)
        settled = xp.zeros(output.shape, dtype=bool)
        for number in reversed(range(len(offsets))):
            slices = _offset_slices(geometry, offsets[number], x.ndim)
            if slices is None:
                continue
            output_index, input_index = slices
            takes = xp.isnan(x[input_index]) & ~settled[output_index]
            winner[output_index][takes] = number
            settled[output_index] |= takes
    return output, (MaxPoolRoute(offset=winner) if keep_route else None)


def max_pool_backward(grad, route: MaxPoolRoute, input_shape, geometry: PoolGeometry):
    """Route each output gradient to its window's winning input cell (overlaps accumulate).

    Shape: ``grad`` has the output's shape; the result has ``input_shape``.
    """
    xp = get_array_module(grad)
    if route.mask is not None:
        exact = geometry.tiles_exactly()
        grad_input = (xp.empty if exact else xp.zeros)(input_shape, dtype=grad.dtype)
        xp.multiply(_spread_over_windows(grad, geometry), route.mask, out=_window_view(grad_input, geometry))
        return grad_input
    grad_input = xp.zeros(input_shape, dtype=grad.dtype)
    for number, offset in enumerate(_window_offsets(geometry.pool_size)):
        slices = _offset_slices(geometry, offset, grad.ndim)
        if slices is None:
            continue
        output_index, input_index = slices
        chosen = route.offset[output_index] == number
        target = grad_input[input_index]
        target += grad[output_index] * chosen
    return grad_input


def max_pool_argmax_indices(route: MaxPoolRoute, geometry: PoolGeometry, output_shape):
    """PyTorch's ``return_indices`` convention: the flat index of each output's winning cell within
    its own channel's spatial plane of the (unpadded) input, as int64.

    Shape: ``output_shape``.
    """
    xp = get_array_module(route.mask if route.mask is not None else route.offset)
    offset = _route_offsets(route, geometry)
    first = geometry.spatial_axis
    ndim = len(output_shape)
    flat = xp.zeros(output_shape, dtype=xp.int64)
    remaining = offset.astype(xp.int64)
    cells = []
    for pool in reversed(geometry.pool_size):  # row-major number -> per-axis window cell
        cells.append(remaining % pool)
        remaining = remaining // pool
    cells.reverse()
    for axis, (cell, stride, (before, _), out, size) in enumerate(
        zip(cells, geometry.strides, geometry.pads, geometry.output_size, geometry.input_size)
    ):
        shape = [1] * ndim
        shape[first + axis] = out
        start = (xp.arange(out, dtype=xp.int64) * stride - before).reshape(shape)
        flat = flat * size + start + cell
    return flat


def _route_offsets(route: MaxPoolRoute, geometry: PoolGeometry):
    """The winning window cell's row-major number per output cell, from either form of route."""
    if route.offset is not None:
        return route.offset
    xp = get_array_module(route.mask)
    offsets = _window_offsets(geometry.pool_size)
    window_axes = _window_axes(geometry)
    number_dtype = _offset_dtype(xp, len(offsets))
    result = None
    for number, offset in enumerate(offsets):
        index = [slice(None)] * route.mask.ndim
        for axis, cell in zip(window_axes, offset):
            index[axis] = cell
        cell_mask = route.mask[tuple(index)]
        if result is None:
            result = xp.zeros(cell_mask.shape, dtype=number_dtype)
        if number:
            result += cell_mask.view(xp.uint8) * number_dtype(number)  # one True per window
    return result


# ----- average pooling ----------------------------------------------------------------------------
def _average_divisor(geometry: PoolGeometry, count_include_pad: bool, ndim: int, dtype, xp):
    """How many cells each output averages: a scalar when all windows count the same, else an array
    that broadcasts against the output (a product of one count vector per axis).

    With ``count_include_pad`` a window counts its cells inside the padded extent (input plus both
    pads: PyTorch's rule, which leaves out only what ``ceil_mode`` adds beyond it); without it only
    real input cells count (Keras/TensorFlow's 'same', PyTorch's ``count_include_pad=False``).
    """
    counts = []
    for size, pool, stride, (before, after), out in zip(
        geometry.input_size, geometry.pool_size, geometry.strides, geometry.pads, geometry.output_size
    ):
        start = np.arange(out) * stride - before
        if count_include_pad:
            count = np.minimum(start + pool, size + after) - start
        else:
            count = np.minimum(start + pool, size) - np.maximum(start, 0)
        counts.append(count)
    if all(int(count.min()) == int(count.max()) for count in counts):
        return int(np.prod([int(count[0]) for count in counts]))
    divisor = np.ones((1,) * ndim, dtype=np.float64)
    for axis, count in enumerate(counts):
        shape = [1] * ndim
        shape[geometry.spatial_axis + axis] = len(count)
        divisor = divisor * count.reshape(shape)
    return xp.asarray(divisor.astype(dtype))


# ----- channels-last 2-D windows that tile the input exactly: compiled loops ---------------------
# LeNet's 2x2 average pooling over (N, 24, 24, 6): the window view's innermost run is only C floats,
# NumPy's per-run overhead dominates and every pass runs on one core (the best NumPy version needed
# several passes: rows added, an einsum along W, a division). The loops below make one pass over
# (image, output row) bands; large inputs are split into batch chunks, one per thread
# (``_over_batch_chunks``). Each output cell (forward) and each input cell (backward) is written by
# exactly one iteration, so the result is the same for any thread count. Sums run over the window in
# row-major order starting from zero and are divided once by the cell count, as PyTorch's
# channels-last kernel does; the backward
# divides each output gradient by the count and copies it to the window's cells, as PyTorch does.
# Typed scalars (``divisor``, ``one``) come from the caller in the array's dtype: float32 stays
# float32 inside the loops (an untyped ``1`` would make numba compute in float64).
def _compiled_rows_apply(x, geometry: PoolGeometry) -> bool:
    """True when the compiled road below applies: NumPy float32/float64 data, 2-D channels_last,
    windows that tile the input exactly (any pool size with stride == pool size). Non-contiguous
    arrays are made contiguous first (``_contiguous``)."""
    return (
        isinstance(x, np.ndarray) and x.ndim == 4 and x.dtype in (np.float32, np.float64)
        and geometry.rank == 2 and geometry.spatial_axis == 1 and geometry.tiles_exactly()
    )


# Below this many input cells one thread is as fast: measured, 2 threads, (256, 24, 24, 6) (1.1M
# cells) ran no faster in two chunks (a thread pool hand-off costs tens of us, the passes are
# memory-bound).
_PARALLEL_MIN_CELLS = 2**21


def _over_batch_chunks(loop, cells, arrays, scalars):
    """``loop(*chunk_arrays, *scalars)`` for contiguous batch chunks, one per thread, on cnnkit's
    thread pool (the compiled loops release the GIL). Every array is sliced along its batch axis,
    so each call writes its own output cells: the result does not depend on the thread count."""
    from .conv import _batch_chunks, _run_chunks

    chunks = _batch_chunks(arrays[0].shape[0], cells, _PARALLEL_MIN_CELLS)
    _run_chunks(lambda chunk: loop(*(array[chunk] for array in arrays), *scalars), chunks)


def _contiguous(array):
    """``array`` itself when C-contiguous, else a C-contiguous copy (the loops compile for one layout)."""
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


@compiled
def _average_rows_forward_loops(x, output, pool_h, pool_w, divisor):
    """``output[n, i, j, c] = sum(x[n, i*pool_h + a, j*pool_w + b, c] over a, b) / divisor``."""
    batch, out_h, out_w, channels = output.shape
    if pool_h == 2 and pool_w == 2:
        # the common 2x2 window spelled out: four loads and one store per output, in the general
        # loop's order (measured (256, 24, 24, 6), 1 thread: 0.22 ms against the general loop's 0.56)
        zero = divisor - divisor
        for band in prange(batch * out_h):
            item = band // out_h
            row = band - item * out_h
            upper, lower, target = x[item, 2 * row], x[item, 2 * row + 1], output[item, row]
            for column in range(out_w):
                left = 2 * column
                for channel in range(channels):
                    total = zero + upper[left, channel] + upper[left + 1, channel]
                    total = total + lower[left, channel] + lower[left + 1, channel]
                    target[column, channel] = total / divisor
        return
    for band in prange(batch * out_h):
        item = band // out_h
        row = band - item * out_h
        target = output[item, row]
        for column in range(out_w):
            for channel in range(channels):
                target[column, channel] = 0
        for cell_y in range(pool_h):
            source = x[item, row * pool_h + cell_y]
            for column in range(out_w):
                for cell_x in range(pool_w):
                    start = column * pool_w + cell_x
                    for channel in range(channels):
                        target[column, channel] += source[start, channel]
        for column in range(out_w):
            for channel in range(channels):
                target[column, channel] /= divisor


@compiled
def _average_rows_backward_loops(grad, grad_input, pool_h, pool_w, divisor):
    """``grad_input[n, i*pool_h + a, j*pool_w + b, c] = grad[n, i, j, c] / divisor``: the first row
    of each band is written, the band's other rows copy it."""
    batch, out_h, out_w, channels = grad.shape
    for band in prange(batch * out_h):
        item = band // out_h
        row = band - item * out_h
        source = grad[item, row]
        first = grad_input[item, row * pool_h]
        for column in range(out_w):
            for cell_x in range(pool_w):
                start = column * pool_w + cell_x
                for channel in range(channels):
                    first[start, channel] = source[column, channel] / divisor
        for cell_y in range(1, pool_h):
            grad_input[item, row * pool_h + cell_y] = first


@compiled
def _average_tanh_backward_loops(grad, tanh_output, grad_input, pool_h, pool_w, divisor, one):
    """``grad_input[n, y, x, c] = (grad[n, y // pool_h, x // pool_w, c] / divisor) * (one - t * t)``
    with ``t = tanh_output[n, y, x, c]``: the pool's spread, then tanh's derivative."""
    batch, out_h, out_w, channels = grad.shape
    for band in prange(batch * out_h):
        item = band // out_h
        row = band - item * out_h
        source = grad[item, row]
        for cell_y in range(pool_h):
            values = tanh_output[item, row * pool_h + cell_y]
            target = grad_input[item, row * pool_h + cell_y]
            for column in range(out_w):
                for cell_x in range(pool_w):
                    start = column * pool_w + cell_x
                    for channel in range(channels):
                        value = values[start, channel]
                        target[start, channel] = (source[column, channel] / divisor) * (one - value * value)


def _average_rows_forward(x, geometry: PoolGeometry):
    """Window means for ``_compiled_rows_apply`` inputs (``_average_rows_forward_loops``)."""
    x = _contiguous(x)
    batch, _, _, channels = x.shape
    (pool_h, pool_w), (out_h, out_w) = geometry.pool_size, geometry.output_size
    output = np.empty((batch, out_h, out_w, channels), dtype=x.dtype)
    _over_batch_chunks(_average_rows_forward_loops, x.size, (x, output), (pool_h, pool_w, x.dtype.type(pool_h * pool_w)))
    return output


def _average_rows_backward(grad, input_shape, geometry: PoolGeometry):
    """Spread for ``_compiled_rows_apply`` gradients (``_average_rows_backward_loops``)."""
    grad = _contiguous(grad)
    pool_h, pool_w = geometry.pool_size
    grad_input = np.empty(input_shape, dtype=grad.dtype)
    divisor = grad.dtype.type(pool_h * pool_w)
    _over_batch_chunks(_average_rows_backward_loops, grad_input.size, (grad, grad_input), (pool_h, pool_w, divisor))
    return grad_input


def tanh_average_pool_applies(x, geometry: PoolGeometry) -> bool:
    """True when ``average_pool_tanh_backward`` can serve an average pool over ``x`` (a tanh
    output): NumPy float32/float64, 2-D channels_last windows that tile ``x`` exactly."""
    return _compiled_rows_apply(x, geometry)


def average_pool_tanh_backward(grad, tanh_output, geometry: PoolGeometry):
    """Gradient with respect to ``z`` of ``average_pool(tanh(z))``, given ``tanh_output = tanh(z)``.

    The pool's spread and tanh's derivative in one compiled pass over the large array
    (``_average_tanh_backward_loops``): each cell is ``(grad / count) * (1 - t * t)``, the same
    operations as the pool backward followed by ``autograd.Tanh``'s backward, without writing the
    spread gradient out. Measured on (256, 24, 24, 6), 2 threads: 0.87 ms (NumPy, three passes)
    -> 0.3-0.7 ms (the lower figure on a quiet machine).

    Shape: ``grad`` has the pool's output shape ``(N, H // pool_h, W // pool_w, C)``;
    ``tanh_output`` and the result have ``(N, H, W, C)`` (see ``tanh_average_pool_applies``).

    Example:
        >>> import numpy as np
        >>> geometry = PoolGeometry(1, (2, 2), (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
        >>> t = np.zeros((1, 2, 2, 1), np.float32)
        >>> average_pool_tanh_backward(np.ones((1, 1, 1, 1), np.float32), t, geometry).ravel()
        array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """
    grad, tanh_output = _contiguous(grad), _contiguous(tanh_output)
    pool_h, pool_w = geometry.pool_size
    dtype = tanh_output.dtype.type
    grad = grad.astype(tanh_output.dtype, copy=False)
    grad_input = np.empty(tanh_output.shape, dtype=tanh_output.dtype)
    _over_batch_chunks(
        _average_tanh_backward_loops, grad_input.size, (grad, tanh_output, grad_input), (pool_h, pool_w, dtype(pool_h * pool_w), dtype(1))
    )
    return grad_input


def average_pool_forward(x, geometry: PoolGeometry, count_include_pad: bool):
    """Mean over each window (see ``_average_divisor`` for what a window counts).

    Shape: as ``max_pool_forward``.
    """
    xp = get_array_module(x)
    if _compiled_rows_apply(x, geometry):  # no padding: every window counts prod(pool_size) cells
        return _average_rows_forward(x, geometry)
    divisor = _average_divisor(geometry, count_include_pad, x.ndim, x.dtype, xp)
    if geometry.tiles_without_overlap():
        output = _reduce_window_axes(_window_view(x, geometry), geometry, xp.add)
    else:
        output = xp.zeros(geometry.output_shape(x.shape), dtype=x.dtype)
        for offset in _window_offsets(geometry.pool_size):
            slices = _offset_slices(geometry, offset, x.ndim)
            if slices is not None:
                output_index, input_index = slices
                target = output[output_index]
                target += x[input_index]
    if not (isinstance(divisor, int) and divisor == 1):
        xp.divide(output, divisor, out=output)
    return output


def average_pool_backward(grad, input_shape, geometry: PoolGeometry, count_include_pad: bool):
    """Spread each output gradient evenly over the cells its window averaged.

    Shape: ``grad`` has the output's shape; the result has ``input_shape``.
    """
    xp = get_array_module(grad)
    if _compiled_rows_apply(grad, geometry):
        return _average_rows_backward(grad, input_shape, geometry)
    divisor = _average_divisor(geometry, count_include_pad, grad.ndim, grad.dtype, xp)
    if geometry.tiles_without_overlap():
        grad_input = (xp.empty if geometry.tiles_exactly() else xp.zeros)(input_shape, dtype=grad.dtype)
        xp.divide(_spread_over_windows(grad, geometry), divisor, out=_window_view(grad_input, geometry))
        return grad_input
    share = grad / divisor
    grad_input = xp.zeros(input_shape, dtype=grad.dtype)
    for offset in _window_offsets(geometry.pool_size):
        slices = _offset_slices(geometry, offset, grad.ndim)
        if slices is not None:
            output_index, input_index = slices
            target = grad_input[input_index]
            target += share[output_index]
    return grad_input


# ----- adaptive pooling ---------------------------------------------------------------------------
def adaptive_bins(input_size: int, output_size: int):
    """PyTorch's adaptive bins along one axis: bin ``i`` covers ``[floor(i*L/out), ceil((i+1)*L/out))``.

    Example:
        >>> adaptive_bins(5, 3)
        (array([0, 1, 3]), array([2, 4, 5]))
    """
    index = np.arange(output_size)
    starts = (index * input_size) // output_size
    ends = -((-(index + 1) * input_size) // output_size)
    return starts, ends


def _bin_matrix(input_size: int, output_size: int, dtype, xp):
    """``(output_size, input_size)`` matrix whose row ``i`` averages bin ``i``."""
    starts, ends = adaptive_bins(input_size, output_size)
    cells = np.arange(input_size)
    inside = (cells >= starts[:, None]) & (cells < ends[:, None])
    return xp.asarray((inside / (ends - starts)[:, None]).astype(dtype))


def _contract_axis(array, matrix, axis: int):
    """Apply ``matrix`` (``(new, old)``) along ``axis``: ``out[..., i, ...] = sum_j m[i, j] a[..., j, ...]``."""
    xp = get_array_module(array)
    moved = xp.moveaxis(array, axis, -1)
    result = moved @ matrix.T
    return xp.ascontiguousarray(xp.moveaxis(result, -1, axis))


def adaptive_average_pool_forward(x, spatial_axis: int, output_size):
    """Average over PyTorch's adaptive bins: one averaging matrix per spatial axis (bins are
    rectangular, so the mean over a bin is the mean along each axis in turn).

    Shape: spatial sizes become ``output_size``.
    """
    xp = get_array_module(x)
    result = x
    for axis, out in enumerate(output_size):
        position = spatial_axis + axis
        if result.shape[position] != out:
            result = _contract_axis(result, _bin_matrix(result.shape[position], out, x.dtype, xp), position)
    return result if result is not x else x.copy()


def adaptive_average_pool_backward(grad, spatial_axis: int, input_size):
    """Transpose of the forward: each axis's averaging matrix, transposed, in reverse order."""
    xp = get_array_module(grad)
    result = grad
    for axis in reversed(range(len(input_size))):
        position = spatial_axis + axis
        out = result.shape[position]
        if out != input_size[axis]:
            result = _contract_axis(result, _bin_matrix(input_size[axis], out, grad.dtype, xp).T, position)
    return result if result is not grad else grad.copy()


def _adaptive_max_along(x, axis: int, output_size: int):
    """Maximum over adaptive bins along one axis, and the (first) winning position along it.

    Loops over the cells of the longest bin; a shorter bin repeats its last cell, which can never
    beat its own first occurrence under the strict ``>`` that keeps the first maximum.
    """
    xp = get_array_module(x)
    starts, ends = adaptive_bins(x.shape[axis], output_size)
    longest = int((ends - starts).max())
    shape = [1] * x.ndim
    shape[axis] = output_size
    best = position = None
    for cell in range(longest):
        cells = np.minimum(starts + cell, ends - 1)
        candidate = xp.take(x, xp.asarray(cells), axis=axis)
        cells = xp.asarray(cells).reshape(shape)
        if best is None:
            best = candidate
            position = xp.broadcast_to(cells, candidate.shape).copy()
            continue
        better = xp.greater(candidate, best)
        xp.maximum(best, candidate, out=best)  # also carries NaN
        xp.copyto(position, xp.broadcast_to(cells, candidate.shape), where=better)
    return best, position


def adaptive_max_pool_forward(x, spatial_axis: int, output_size):
    """Maximum over PyTorch's adaptive bins, and each winner's flat index in its channel's plane.

    Bins are rectangular, so the maximum is taken along the innermost spatial axis first, then
    outwards; keeping the first maximum at each step gives the row-major first maximum of the bin.

    Returns:
        ``(output, flat_index)``; ``flat_index`` (int64, output's shape) follows PyTorch's
        ``return_indices`` convention.
    """
    xp = get_array_module(x)
    rank = len(output_size)
    result = x
    positions = {}  # axis -> winning index along that axis, for the current (partly reduced) array
    for axis in reversed(range(rank)):
        result, position = _adaptive_max_along(result, spatial_axis + axis, output_size[axis])
        for inner in positions:  # pick the inner winners at the rows this step chose
            positions[inner] = xp.take_along_axis(positions[inner], position, axis=spatial_axis + axis)
        positions[axis] = position
    input_size = x.shape[spatial_axis:spatial_axis + rank]
    flat = xp.zeros(result.shape, dtype=xp.int64)
    for axis in range(rank):
        flat = flat * input_size[axis] + positions[axis]
    return result, flat


def scatter_to_planes(grad, flat_index, input_shape, spatial_axis: int):
    """Add each output gradient to the input cell its flat plane index names (overlaps accumulate).

    Shape: ``grad`` and ``flat_index`` share a shape; the result has ``input_shape``. One weighted
    ``bincount`` over global positions does the whole scatter.
    """
    xp = get_array_module(grad)
    rank = len(input_shape) - 2
    plane = int(np.prod(input_shape[spatial_axis:spatial_axis + rank]))
    batch = xp.arange(input_shape[0], dtype=xp.int64).reshape((-1,) + (1,) * (grad.ndim - 1))
    channel_axis = 1 if spatial_axis == 2 else grad.ndim - 1
    channels = input_shape[channel_axis]
    channel_shape = [1] * grad.ndim
    channel_shape[channel_axis] = channels
    channel = xp.arange(channels, dtype=xp.int64).reshape(channel_shape)
    if spatial_axis == 2:  # (batch, channels, plane)
        position = (batch * channels + channel) * plane + flat_index
    else:  # (batch, plane, channels)
        position = (batch * plane + flat_index) * channels + channel
    total = int(np.prod(input_shape))
    summed = xp.bincount(position.ravel(), weights=grad.ravel(), minlength=total)
    return summed.astype(grad.dtype, copy=False).reshape(input_shape)


# ----- global max pooling -------------------------------------------------------------------------
def _plane_view(x, spatial_axis: int, rank: int):
    """``x`` with its spatial axes merged into one (copies only when the layout needs it)."""
    # The merged size is spelled out: ``-1`` cannot be inferred when another axis (an empty batch) is 0.
    merged = int(np.prod(x.shape[spatial_axis:spatial_axis + rank], dtype=np.int64))
    shape = x.shape[:spatial_axis] + (merged,) + x.shape[spatial_axis + rank:]
    return x.reshape(shape)


def global_max_pool_forward(x, spatial_axis: int, rank: int):
    """Maximum over all spatial cells and the (first) winning flat index.

    Shape: ``(batch, *spatial, channels)`` -> ``(batch, channels)`` (or channels_first alike);
    the index has the same shape.
    """
    xp = get_array_module(x)
    planes = _plane_view(x, spatial_axis, rank)
    index = xp.argmax(planes, axis=spatial_axis)
    output = xp.take_along_axis(planes, xp.expand_dims(index, spatial_axis), axis=spatial_axis)
    return xp.squeeze(output, axis=spatial_axis), index


def global_max_pool_backward(grad, index, input_shape, spatial_axis: int, rank: int):
    """Each gradient to its channel's winning cell; every other cell gets zero."""
    xp = get_array_module(grad)
    plane_shape = input_shape[:spatial_axis] + (int(np.prod(input_shape[spatial_axis:spatial_axis + rank])),)
    plane_shape += tuple(input_shape[spatial_axis + rank:])
    grad_input = xp.zeros(plane_shape, dtype=grad.dtype)
    xp.put_along_axis(
        grad_input, xp.expand_dims(index, spatial_axis), xp.expand_dims(grad, spatial_axis), axis=spatial_axis
    )
    return grad_input.reshape(input_shape)


# ----- max unpooling ------------------------------------------------------------------------------
def max_unpool_forward(x, flat_index, output_shape, spatial_axis: int, rank: int):
    """Place every input value at the flat plane index it carries; all other cells are zero.

    Shape: ``x`` and ``flat_index`` share ``(batch, *in_spatial, channels)``; the result has
    ``output_shape``. When two values carry the same index, one of them stays (unspecified which,
    as in PyTorch; overlapping max-pool windows repeat an index only with the same value).
    """
    xp = get_array_module(x)
    plane = int(np.prod(output_shape[spatial_axis:spatial_axis + rank]))
    plane_shape = tuple(output_shape[:spatial_axis]) + (plane,) + tuple(output_shape[spatial_axis + rank:])
    output = xp.zeros(plane_shape, dtype=x.dtype)
    xp.put_along_axis(
        output,
        _plane_view(flat_index, spatial_axis, rank),
        _plane_view(x, spatial_axis, rank),
        axis=spatial_axis,
    )
    return output.reshape(output_shape)


def max_unpool_backward(grad, flat_index, spatial_axis: int, rank: int):
    """Gather the output gradient at each input's flat index (the adjoint of the placement)."""
    xp = get_array_module(grad)
    planes = _plane_view(grad, spatial_axis, rank)
    gathered = xp.take_along_axis(planes, _plane_view(flat_index, spatial_axis, rank), axis=spatial_axis)
    return gathered.reshape(flat_index.shape)
