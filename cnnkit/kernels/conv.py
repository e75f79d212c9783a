"""Convolution numerics: the N-d forward pass, its input and kernel gradients, and col2im.

This module owns the arithmetic of every convolution in cnnkit. It holds pure array functions:
no Tensors, no argument checks (``cnnkit.functional.conv`` checks and normalises everything
before calling here). One implementation serves 1-D, 2-D and 3-D convolution, grouped and
depthwise convolution, and the transposed convolution, which *is* the input gradient of a
convolution run forwards (one machinery, two directions).

Conventions (channels-last, Keras's kernel layout):

- ``x``: ``(batch, *spatial, channels)``.
- ``kernel``: ``(*kernel_size, channels // groups, filters)``; input channel ``c`` of group
  ``g`` is ``g * (channels // groups) + c``, output channel ``f`` of group ``g`` is
  ``g * (filters // groups) + f`` (the same grouping as Keras and PyTorch).
- ``padding``: one ``(before, after)`` pair of zero-padding widths per spatial axis; a negative
  width crops instead (the transposed convolution needs that for ``output_padding``).

Method: the padded input is seen through ``sliding_window_view`` (strided and dilated by
slicing the view, so nothing is copied), copied once into a contiguous column matrix
``(batch * prod(output_size), prod(kernel_size) * channels)`` and multiplied with the kernel in ONE
GEMM (a batched matmul over groups). A 1x1, stride-1 convolution needs no columns: the input
already is the column matrix. Small 2-D images (LeNet-sized: the padded width at most 6 kernel
widths) take the row-Toeplitz route instead: the width axis folded into a banded kernel matrix, so
every copy moves whole image rows (see the section "small images"). A single input channel gets its column matrix filled transposed
(whole output rows per copy). A depthwise convolution (one input channel per group) has no
channel reduction for a GEMM to do: it is one einsum over the window view, with the last spatial
axis merged into the channels and the batch split over threads. A strided input gradient is
computed by sub-pixel decomposition (one stride-1 convolution per stride phase), and so is the
backward of a strided transposed convolution (through the same frame as its forward). Column buffers are
recycled through a small workspace, because touching fresh memory (page faults and zeroing)
costs as much as the im2col copy itself.

Every array function takes its array module from its inputs (``get_array_module``) and uses only
what NumPy and CuPy share.
"""
from __future__ import annotations

import functools
import itertools
import math
import threading

from ..backend import get_array_module
from . import depthwise
from .jit import compiled, prange
from ..shapes import conv_output_size, effective_kernel_size

__all__ = [
    "pad_spatial",
    "im2col",
    "conv_columns",
    "col2im",
    "conv_forward",
    "conv_backward_input",
    "conv_backward_kernel",
    "conv_backward_kernel_and_bias",
    "conv_backward_bias",
    "add_bias",
    "conv_transpose_backward",
    "is_depthwise",
    "swap_kernel_in_out",
    "release_workspace",
]


# ----- workspace: recycled column buffers ----------------------------------------------------
class _Workspace:
    """A small pool of large scratch arrays, keyed by shape and dtype.

    ``take`` returns a pooled array of the exact shape and dtype, or a new one; ``give`` hands an
    array back once nobody reads it any more. Reusing a column buffer avoids the page faults of
    fresh memory (about 17 ms for 231 MB on the reference machine, as long as the im2col copy).
    At most ``max_bytes`` are kept (the oldest are dropped first); arrays smaller than
    ``min_bytes`` are not worth pooling.
    """

    def __init__(self, max_bytes: int = 768 * 2**20, min_bytes: int = 2**20):
        self.max_bytes = max_bytes
        self.min_bytes = min_bytes
        self._free: list = []  # (key, array), oldest first
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, xp, shape, dtype):
        key = (xp.__name__, tuple(shape), str(dtype))
        with self._lock:
            for index in range(len(self._free) - 1, -1, -1):
                if self._free[index][0] == key:
                    array = self._free.pop(index)[1]
                    self._bytes -= array.nbytes
                    return array
        return xp.empty(shape, dtype=dtype)

    def give(self, array) -> None:
        if array is None or array.nbytes < self.min_bytes or array.nbytes > self.max_bytes:
            return
        key = (type(array).__module__.split(".")[0], array.shape, str(array.dtype))
        with self._lock:
            while self._free and self._bytes + array.nbytes > self.max_bytes:
                self._bytes -= self._free.pop(0)[1].nbytes
            self._free.append((key, array))
            self._bytes += array.nbytes

    def clear(self) -> None:
        with self._lock:
            self._free.clear()
            self._bytes = 0


_WORKSPACE = _Workspace()


def release_workspace(columns) -> None:
    """Hand a column matrix that ``im2col`` made (``owned`` True) back to the workspace.

    Only call this when nothing reads it any more (e.g. the Function that saved it is gone).
    """
    if isinstance(columns, RowColumns):
        _WORKSPACE.give(columns.buffer)
        return
    _WORKSPACE.give(columns.base if columns.base is not None else columns)


# ----- bias ----------------------------------------------------------------------------------
# ``output += bias`` broadcasts a (F,) vector over the last axis; for few filters NumPy's inner
# loop then runs only F floats at a time, and the add costs more than the GEMM (LeNet conv1,
# (128, 24, 24, 6): 0.37 ms, vs 0.09 ms for the same add over rows of W * F floats with the bias
# tiled W times). So a contiguous output with few filters gets its bias row-wise.
_BIAS_ROWS_MAX_FILTERS = 32
_BIAS_ROWS_MAX_WIDTH = 4096


def _bias_row_width(output_shape):
    """Floats per row when ``add_bias`` adds the bias row-wise (last spatial axis * F), else None."""
    filters = output_shape[-1]
    if len(output_shape) < 3 or filters >= _BIAS_ROWS_MAX_FILTERS:
        return None
    width = output_shape[-2] * filters
    return width if width <= _BIAS_ROWS_MAX_WIDTH else None


def add_bias(output, bias):
    """Add ``bias`` ``(F,)`` to every position of ``output`` ``(N, *L_out, F)``, in place.

    Few filters: over rows of ``L_out[-1] * F`` floats with the bias tiled (see the note above).
    """
    xp = get_array_module(output)
    width = _bias_row_width(output.shape) if output.flags.c_contiguous else None
    if width is None:
        output += bias
        return output
    rows = output.reshape(-1, width)
    xp.add(rows, xp.tile(bias.astype(output.dtype, copy=False), width // output.shape[-1]), out=rows)
    return output


# ----- padding -------------------------------------------------------------------------------
def pad_spatial(x, padding):
    """Zero-pad (or, for negative widths, crop) the spatial axes of a channels-last array.

    Args:
        x: ``(batch, *spatial, channels)``.
        padding: one ``(before, after)`` pair per spatial axis.

    Returns:
        ``x`` itself when every width is 0, else a new array
        ``(batch, *(spatial + before + after), channels)``.

    Example:
        >>> import numpy as np
        >>> pad_spatial(np.ones((1, 2, 1)), [(1, 0)])[0, :, 0]
        array([0., 1., 1.])
    """
    if all(before == 0 and after == 0 for before, after in padding):
        return x
    spatial = x.shape[1:-1]
    if any(before < 0 or after < 0 for before, after in padding):
        crop = tuple(slice(max(-before, 0), size - max(-after, 0)) for (before, after), size in zip(padding, spatial))
        x = x[(slice(None),) + crop + (slice(None),)]
        padding = [(max(before, 0), max(after, 0)) for before, after in padding]
        spatial = x.shape[1:-1]
        if all(before == 0 and after == 0 for before, after in padding):
            return x
    xp = get_array_module(x)
    padded_shape = (x.shape[0],) + tuple(size + before + after for size, (before, after) in zip(spatial, padding))
    padded = xp.zeros(padded_shape + (x.shape[-1],), dtype=x.dtype)
    interior = tuple(slice(before, before + size) for size, (before, _) in zip(spatial, padding))
    padded[(slice(None),) + interior + (slice(None),)] = x
    return padded


# ----- im2col / col2im -----------------------------------------------------------------------
def _window_view(padded, kernel_size, strides, dilation, output_size):
    """A view ``(batch, *output_size, *kernel_size, channels)`` of the padded input:
    ``view[n, o..., k..., c] = padded[n, o * stride + k * dilation, c]``. Nothing is copied."""
    xp = get_array_module(padded)
    num_spatial = len(kernel_size)
    if all(size == 1 for size in kernel_size):
        picked = padded[
            (slice(None),)
            + tuple(slice(0, (out - 1) * stride + 1, stride) for out, stride in zip(output_size, strides))
            + (slice(None),)
        ]
        return picked.reshape(picked.shape[:-1] + (1,) * num_spatial + picked.shape[-1:])
    spans = tuple(effective_kernel_size(k, d) for k, d in zip(kernel_size, dilation))
    windows = xp.lib.stride_tricks.sliding_window_view(padded, spans, axis=tuple(range(1, num_spatial + 1)))
    # windows: (batch, *positions, channels, *spans); keep every stride-th position and every
    # dilation-th tap of each window.
    windows = windows[
        (slice(None),)
        + tuple(slice(0, (out - 1) * stride + 1, stride) for out, stride in zip(output_size, strides))
        + (slice(None),)
        + tuple(slice(None, None, d) for d in dilation)
    ]
    order = (0,) + tuple(range(1, num_spatial + 1)) + tuple(range(num_spatial + 2, 2 * num_spatial + 2)) + (num_spatial + 1,)
    return windows.transpose(order)


def im2col(padded, kernel_size, strides, dilation, output_size, groups=1):
    """The column matrix of a convolution: one row per output position, one column per tap.

    Args:
        padded: the already padded input ``(batch, *spatial, channels)``.
        kernel_size, strides, dilation, output_size: one int per spatial axis.
        groups: split the channels into this many groups (group-major result).

    Returns:
        ``(columns, owned)``: ``columns`` has shape
        ``(groups, batch * prod(output_size), prod(kernel_size) * channels // groups)``, row
        ``(n, o...)``, column ``(k..., c)``; ``owned`` is True when ``columns`` is a buffer from
        the workspace (hand it back with ``release_workspace`` once done), False when it is a view
        of ``padded`` (a 1x1 stride-1 convolution needs no copy).

    Example:
        >>> import numpy as np
        >>> x = np.arange(4.0).reshape(1, 4, 1)
        >>> im2col(x, (2,), (1,), (1,), (3,))[0][0]
        array([[0., 1.],
               [1., 2.],
               [2., 3.]])
    """
    xp = get_array_module(padded)
    batch, channels = padded.shape[0], padded.shape[-1]
    group_channels = channels // groups
    rows = batch * math.prod(output_size)
    width = math.prod(kernel_size) * group_channels
    view = _window_view(padded, kernel_size, strides, dilation, output_size)
    # (batch, *out, *k, groups, group_channels) -> (groups, batch, *out, *k, group_channels)
    view = view.reshape(view.shape[:-1] + (groups, group_channels))
    view = xp.moveaxis(view, -2, 0)
    if groups == 1 and padded.flags.c_contiguous and all(k == 1 for k in kernel_size) and all(s == 1 for s in strides):
        return padded.reshape(1, rows, width), False
    if all(k == 1 for k in kernel_size) and all(s == 1 for s in strides) and padded.flags.c_contiguous:
        # grouped 1x1: a strided view per group, no copy (matmul reads the strides directly)
        return view.reshape(groups, rows, width), False
    if groups == 1 and channels == 1:
        # One input channel: a row-major copy would move only kernel_width floats at a time, so
        # fill the transposed (taps, rows) matrix instead, a whole output row per copy, and hand
        # out its transpose (BLAS reads either orientation without copying).
        tap_major = xp.moveaxis(view[0], tuple(range(1 + len(output_size), view.ndim - 1)), tuple(range(len(kernel_size) + 1)))
        buffer = _WORKSPACE.take(xp, tap_major.shape, padded.dtype)
        xp.copyto(buffer, tap_major)
        return buffer.reshape(width, rows).T[None], True
    columns = _WORKSPACE.take(xp, view.shape, padded.dtype)
    xp.copyto(columns, view)
    return columns.reshape(groups, rows, width), True


def col2im(columns, padded_shape, kernel_size, strides, dilation, output_size, groups=1):
    """Scatter-add column gradients back onto the padded input: the adjoint of ``im2col``.

    A loop over kernel offsets (never over pixels): each offset adds one strided slab.

    Args:
        columns: ``(groups, batch * prod(output_size), prod(kernel_size) * channels // groups)``.
        padded_shape: ``(batch, *padded_spatial, channels)``; it may be longer than the span the
            windows cover (those cells get zero).

    Returns:
        An array of ``padded_shape``.
    """
    xp = get_array_module(columns)
    num_spatial = len(kernel_size)
    batch, channels = padded_shape[0], padded_shape[-1]
    group_channels = channels // groups
    padded = xp.zeros(padded_shape, dtype=columns.dtype)
    # target view (batch, *padded_spatial, groups, group_channels); source (groups, batch, *out, *k, cg)
    target = padded.reshape(padded_shape[:-1] + (groups, group_channels))
    source = columns.reshape((groups, batch) + tuple(output_size) + tuple(kernel_size) + (group_channels,))
    source = xp.moveaxis(source, 0, -2)  # (batch, *out, *k, groups, cg)
    for offset in itertools.product(*(range(k) for k in kernel_size)):
        region = (slice(None),) + tuple(
            slice(o * d, o * d + (out - 1) * s + 1, s) for o, d, s, out in zip(offset, dilation, strides, output_size)
        )
        target[region] += source[(slice(None),) * (1 + num_spatial) + offset]
    return padded


# ----- kernel layout helpers -----------------------------------------------------------------
def _grouped_kernel(kernel, groups):
    """``(*k, cg, filters)`` -> ``(groups, prod(k) * cg, filters // groups)`` (a view when groups == 1)."""
    xp = get_array_module(kernel)
    *kernel_size, group_channels, filters = kernel.shape
    taps = math.prod(kernel_size) * group_channels
    if groups == 1:
        return kernel.reshape(1, taps, filters)
    split = kernel.reshape(taps, groups, filters // groups)
    return xp.ascontiguousarray(split.transpose(1, 0, 2))


def swap_kernel_in_out(kernel, groups=1):
    """The kernel of the transposed convolution: spatially flipped, input and output swapped.

    ``(*k, channels // groups, filters)`` -> ``(*k, filters // groups, channels)``, keeping groups.
    """
    xp = get_array_module(kernel)
    num_spatial = kernel.ndim - 2
    *kernel_size, group_channels, filters = kernel.shape
    flipped = kernel[(slice(None, None, -1),) * num_spatial]
    split = flipped.reshape(tuple(kernel_size) + (group_channels, groups, filters // groups))
    swapped = xp.moveaxis(split, num_spatial, -1)  # (*k, groups, filters/g, cg)
    swapped = xp.moveaxis(swapped, num_spatial, num_spatial + 1)  # (*k, filters/g, groups, cg)
    return xp.ascontiguousarray(swapped).reshape(tuple(kernel_size) + (filters // groups, groups * group_channels))


def _grouped_matmul(columns, kernel_groups, output_shape):
    """``(g, rows, taps) @ (g, taps, f)`` written straight into a new channels-last array of
    ``output_shape`` = ``(batch, *spatial, g * f)`` (which owns its data: no reshape view)."""
    xp = get_array_module(columns)
    groups, rows, _ = columns.shape
    group_filters = kernel_groups.shape[-1]
    result = xp.empty(output_shape, dtype=columns.dtype)
    if groups == 1:
        xp.matmul(columns[0], kernel_groups[0], out=result.reshape(rows, group_filters))
    else:
        xp.matmul(columns, kernel_groups, out=result.reshape(rows, groups, group_filters).transpose(1, 0, 2))
    return result


# ----- depthwise: one input channel per group ------------------------------------------------
# A depthwise convolution mixes no channels, so there is no reduction over channels to hand to a
# GEMM: a batched matmul over hundreds of one-channel groups (a gather into group-major columns
# and hundreds of skinny products) measured 18x slower than PyTorch, and the best NumPy version
# (one einsum per pass over a strided window view) 1.9x slower: every NumPy pass over the tensor
# costs at least 0.9 ms on the reference machine. So 1-D and 2-D depthwise convolutions of NumPy
# float arrays run compiled loops (cnnkit.kernels.depthwise, numba): one sweep forward, one sweep
# for all three gradients. Anything else (3-D, CuPy arrays) takes the general grouped route below
# (im2col + a grouped GEMM), which is correct for any group size.


def is_depthwise(kernel_shape, groups) -> bool:
    """Several groups of one input channel each (Keras's depthwise_conv, or groups == channels)."""
    return groups > 1 and kernel_shape[-2] == 1


def _depthwise_compiled(array, kernel_shape, groups) -> bool:
    """Whether a convolution takes the compiled depthwise kernels (``cnnkit.kernels.depthwise``)."""
    return is_depthwise(kernel_shape, groups) and depthwise.depthwise_supported(array, kernel_shape)


def conv_backward_depthwise(grad, kernel, columns, kernel_shape, groups, input_size, strides, dilation, padding,
                            need_input=True, need_kernel=True, need_bias=True):
    """All requested gradients of a compiled depthwise convolution from ONE sweep over ``grad``,
    or None when the convolution does not take the compiled route (then use the separate entries).

    ``columns`` is what ``conv_forward(keep_columns=True)`` returned (may be None without
    ``need_kernel``); ``kernel`` may be None without ``need_input``. Separate calls
    (``conv_backward_input``, then ``conv_backward_kernel_and_bias``) read ``grad`` twice.

    Shape: grad ``(N, *L_out, C * m)``, kernel_shape ``(*k, 1, C * m)``, groups ``C`` ->
    ``(grad_x (N, *input_size, C) or None, grad_kernel kernel_shape or None, grad_bias (C * m,) or None)``.
    """
    saved = isinstance(columns, depthwise.DepthwiseSaved)
    if not _depthwise_compiled(grad, kernel_shape, groups) or (need_kernel and not saved):
        return None
    x = columns.x if need_kernel else None
    return depthwise.depthwise_backward(grad, x, kernel, kernel_shape, input_size, groups, strides, dilation, padding,
                                        need_input, need_kernel, need_bias)


# NumPy's ufunc loops run on one core, but they release the GIL: so a large copy or add is split
# into one contiguous batch chunk per BLAS thread (not a loop over batch items: at most
# get_num_threads() chunks), each writing its own slice of the result.
_PARALLEL_MIN_WORK = 2**20  # output cells * taps below which one thread is as fast
_EXECUTOR = None
_EXECUTOR_LOCK = threading.Lock()


_THREAD_COUNT = [None, -1.0]  # (count, time read): threadpoolctl's query costs about 0.2 ms


def _thread_count():
    """The BLAS thread count (``cnnkit.set_num_threads``), re-read at most once a second."""
    import time

    from .. import backend

    now = time.monotonic()
    if _THREAD_COUNT[0] is None or now - _THREAD_COUNT[1] > 1.0:
        _THREAD_COUNT[:] = [backend.get_num_threads(), now]
    return _THREAD_COUNT[0]


def _batch_chunks(batch, work, min_work=None):
    """Contiguous slices of ``range(batch)``, one per thread, when ``work`` is worth splitting (at
    least ``min_work``; default ``_PARALLEL_MIN_WORK``); else one slice. Every threaded kernel of
    cnnkit (here, in ``pool`` and in ``depthwise``) splits its work with this."""
    if work < (_PARALLEL_MIN_WORK if min_work is None else min_work) or batch < 2:
        return [slice(0, batch)]
    count = min(_thread_count(), batch)
    if count < 2:
        return [slice(0, batch)]
    bounds = [batch * index // count for index in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


def _run_chunks(task, chunks):
    """``[task(chunk) for chunk in chunks]``, the chunks on a thread pool when there are several."""
    global _EXECUTOR
    if len(chunks) <= 1:  # one chunk (or none: an empty batch) runs here
        return [task(chunk) for chunk in chunks]
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None or _EXECUTOR._max_workers < len(chunks):
            import concurrent.futures

            _EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="cnnkit-conv")
        executor = _EXECUTOR
    futures = [executor.submit(task, chunk) for chunk in chunks[1:]]
    results = [task(chunks[0])]
    return results + [future.result() for future in futures]


def _pad_in_chunks(x, padding, chunks):
    """``pad_spatial`` into a workspace buffer, one batch chunk per thread (zeroing only the border).

    Returns ``(padded, owned)``: ``owned`` is False when no padding was needed (``padded`` is ``x``).
    """
    if all(before == 0 and after == 0 for before, after in padding) or any(
        before < 0 or after < 0 for before, after in padding
    ):
        padded = pad_spatial(x, padding)
        return padded, False
    xp = get_array_module(x)
    spatial = x.shape[1:-1]
    padded_shape = (x.shape[0],) + tuple(size + before + after for size, (before, after) in zip(spatial, padding)) + x.shape[-1:]
    padded = _WORKSPACE.take(xp, padded_shape, x.dtype)
    interior = tuple(slice(before, before + size) for size, (before, _) in zip(spatial, padding))

    def task(chunk):
        target = padded[chunk]
        for axis, ((before, after), size) in enumerate(zip(padding, spatial)):
            lead = (slice(None),) * (1 + axis)
            target[lead + (slice(0, before),)] = 0
            target[lead + (slice(before + size, None),)] = 0
        target[(slice(None),) + interior] = x[chunk]

    _run_chunks(task, chunks)
    return padded, True


# ----- small images: the width axis folded into the GEMM (row-Toeplitz) ---------------------
# For LeNet-sized layers (a 12-28 pixel wide image, a few channels) the im2col route moves only
# kernel_width * channels floats per copy (30 for LeNet's conv2, 5 for conv1) and its input
# gradient scatters 25 slabs with 6-float inner runs: copies and scatter-adds dominate. Folding the
# width axis into the kernel removes both. The output width is cut into ``blocks`` equal blocks of
# ``block_out`` columns; row (n, oh, block) of the row matrix holds the kernel_height padded input
# rows that block reads, each a contiguous run of ``block_used * C`` floats, and the kernel becomes
# one banded (Toeplitz) matrix ``T[(a, iw, c), (ow, f)] = w[a, b, c, f]`` with ``iw = ow * s + b * d``
# (iw, ow counted within the block), so
#   forward:         Y (N*H_out*blocks, block_out*F) = X_rows @ T   (already channels-last)
#   input gradient:  X_rows' = G @ T^T, added back by kh * blocks slab adds (runs of block_used * C)
#   kernel gradient: M = X_rows^T @ G, then w'[a, b] = sum over ow of the band M[a, iw, :, ow, :]
# The GEMMs do block_used / kernel_width times the multiply-adds of im2col's, which pays while that
# ratio is small; narrower blocks waste fewer, until the product gets too narrow for BLAS to run it
# well. So the width is cut into the narrowest blocks (at least 4 columns, dividing the width
# evenly) whose product is still _ROW_TOEPLITZ_MIN_PRODUCT_WIDTH (block_out * F) wide. Measured
# (2 threads, N=128, against im2col): LeNet conv2 forward+backward 6.0 -> 2.05 ms, conv1 (no input
# gradient) 3.26 -> 1.79 ms; against the previous rule (blocks until the band is 3.5x lean), conv2
# in blocks of 4 columns (64 wide) instead of 8: forward+backward 1.50 -> 1.26 ms (1 thread: 2.23 ->
# 1.85 ms), while conv1 keeps 12 (72 wide; 8 columns, 48 wide, measured slower: 1.11 -> 1.16 ms).
_ROW_TOEPLITZ_MAX_EXPANSION = 6.0  # whole-width band: take the route at all
_ROW_TOEPLITZ_MIN_PRODUCT_WIDTH = 64
_ROW_TOEPLITZ_MAX_RUN = 1024


def _row_toeplitz_geometry(input_size, kernel_shape, strides, dilation, padding, groups):
    """``(block_out, blocks, block_used, output_size)`` when a 2-D convolution should take the
    row-Toeplitz route, else None. ``block_used``: padded input columns one block of ``block_out``
    output columns reads, ``(block_out - 1) * s + k_eff``."""
    if len(kernel_shape) != 4 or groups != 1:
        return None
    (kernel_height, kernel_width, channels, filters) = kernel_shape
    output_size = tuple(
        conv_output_size(size + before + after, k, stride=s, dilation=d)
        for size, (before, after), k, s, d in zip(input_size, padding, kernel_shape[:2], strides, dilation)
    )
    if min(output_size) < 1 or kernel_width == 1:
        return None
    span = effective_kernel_size(kernel_width, dilation[1])
    output_width = output_size[1]
    used_width = (output_width - 1) * strides[1] + span
    if (
        used_width > _ROW_TOEPLITZ_MAX_EXPANSION * kernel_width
        or used_width * channels > _ROW_TOEPLITZ_MAX_RUN
        or output_width * filters > _ROW_TOEPLITZ_MAX_RUN
    ):
        return None
    block_out = output_width  # blocks of at least 4 columns: shorter runs would cost more copying
    for blocks in range(2, output_width // 4 + 1):
        narrower = output_width // blocks
        if output_width % blocks == 0 and narrower * filters >= _ROW_TOEPLITZ_MIN_PRODUCT_WIDTH:
            block_out = narrower
    blocks = output_width // block_out
    return block_out, blocks, (block_out - 1) * strides[1] + span, output_size


# 1-D convolutions run on the same route as height-1 images, in blocks of two outputs: the row of
# block b is the contiguous input run [2b, 2b + k] (k + 1 positions * C floats), the product is 2F
# wide, and it does (k + 1) / k times im2col's multiply-adds. For up to 128 filters the wider
# product runs enough faster to pay (im2col's is only F wide), and the row matrix is (k + 1) / (2k)
# the size of im2col's. Measured (2 threads, stride 1, forward + both gradients): N=64, L=1024,
# 128 -> 128, k=5: 196 -> 172 ms; 64 -> 64, k=3: 54 -> 39 ms; 32 -> 32, k=5 (L=512): 13.8 -> 8.8 ms;
# 256 -> 256, k=3: 371 -> 403 ms (slower: im2col's product is already 256 wide, so not taken).
_ROW_TOEPLITZ_1D_MAX_FILTERS = 128
# The same blocks of two pay on large 2-D images with few channels (the row of block (n, oh, b) is
# kh runs of (k + 1) * C floats). Measured (2 threads, stride 1, 3x3 'same' unless noted, forward +
# both gradients, against im2col): N=32, 56x56, 64 -> 64: 179 -> 140 ms; 28x28, 64 -> 64: 43.6 ->
# 36.0; 28x28, 64 -> 128: 64.5 -> 57.3; N=16, 56x56, 32 -> 32: 36.2 -> 26.3; N=16, 32x32, 5x5,
# 64 -> 64: 69.2 -> 54.0. Not taken where it measured no faster: 128 input channels (28x28,
# 128 -> 64: 70.3 vs 70.2; 128 -> 128: 112 vs 117), stride 2 (51.5 vs 49.7) or dilation 2 (190 vs 211:
# the band then spans twice the taps).
_ROW_TOEPLITZ_PAIRS_MAX_CHANNELS = 64
_ROW_TOEPLITZ_PAIRS_MAX_FILTERS = 128


def _row_toeplitz_plan(input_size, kernel_shape, strides, dilation, padding, groups):
    """``(geometry, one_d)`` when the convolution takes the row-Toeplitz route, else None.

    ``geometry`` is ``_row_toeplitz_geometry``'s tuple in 2-D terms: small images as that function
    decides; larger ones with few channels (``_ROW_TOEPLITZ_PAIRS_MAX_*``, stride and dilation 1, an
    even output width) in blocks of two output columns. ``one_d`` says that a 1-D convolution runs
    as a height-1 2-D one (see ``_height_one``): stride and dilation 1, up to
    ``_ROW_TOEPLITZ_1D_MAX_FILTERS`` filters, an even output length (blocks of two).
    """
    if len(kernel_shape) == 4:
        geometry = _row_toeplitz_geometry(input_size, kernel_shape, strides, dilation, padding, groups)
        if geometry is not None:
            return geometry, False
        kernel_height, kernel_width, channels, filters = kernel_shape
        if (
            groups != 1 or kernel_width == 1 or any(s != 1 for s in strides) or any(d != 1 for d in dilation)
            or channels > _ROW_TOEPLITZ_PAIRS_MAX_CHANNELS or filters > _ROW_TOEPLITZ_PAIRS_MAX_FILTERS
        ):
            return None
        output_size = tuple(
            conv_output_size(size + before + after, k) for size, (before, after), k in zip(input_size, padding, kernel_shape[:2])
        )
        if min(output_size) < 1 or output_size[1] % 2:
            return None
        return (2, output_size[1] // 2, kernel_width + 1, output_size), False
    if len(kernel_shape) != 3 or groups != 1 or strides[0] != 1 or dilation[0] != 1:
        return None
    kernel_size, _, filters = kernel_shape
    if kernel_size == 1 or filters > _ROW_TOEPLITZ_1D_MAX_FILTERS:
        return None
    (before, after), = padding
    length = conv_output_size(input_size[0] + before + after, kernel_size)
    if length < 2 or length % 2:
        return None
    return (2, length // 2, kernel_size + 1, (1, length)), True


def _height_one(strides, dilation, padding):
    """A 1-D convolution's per-axis arguments as those of a height-1 2-D one (the arrays get a
    size-1 axis: ``x[:, None]``, ``kernel[None]``, ``grad[:, None]``)."""
    return (1,) + tuple(strides), (1,) + tuple(dilation), [(0, 0)] + [tuple(pair) for pair in padding]


@functools.lru_cache(maxsize=64)
def _band_indices(kernel_width, output_width, stride, dilation):
    """Index arrays ``(iw, ow)``, each ``(kernel_width, output_width)``: tap b of output column ow
    reads padded column ``iw = ow * stride + b * dilation``."""
    import numpy as np

    output_columns = np.arange(output_width)[None, :]
    taps = np.arange(kernel_width)[:, None]
    input_columns = output_columns * stride + taps * dilation
    return input_columns, np.broadcast_to(output_columns, input_columns.shape).copy()


def _row_toeplitz_kernel(kernel, block_used, block_out, stride, dilation, bias=None):
    """The banded matrix ``(kh * block_used * C, block_out * F)`` of a 2-D kernel ``(kh, kw, C, F)``;
    with ``bias`` ``(F,)`` one more row, the bias tiled ``block_out`` times."""
    xp = get_array_module(kernel)
    kernel_height, kernel_width, channels, filters = kernel.shape
    input_columns, output_columns = _band_indices(kernel_width, block_out, stride, dilation)
    taps = kernel_height * block_used * channels
    matrix = xp.zeros((taps + int(bias is not None), block_out * filters), dtype=kernel.dtype)
    band = matrix[:taps].reshape(kernel_height, block_used, channels, block_out, filters)
    # advanced indices split by a slice: the (kw, block_out) axes come first in the indexed view
    band[:, input_columns, :, output_columns, :] = kernel.transpose(1, 0, 2, 3)[:, None]
    if bias is not None:
        matrix[taps].reshape(block_out, filters)[...] = bias
    return matrix


class RowColumns:
    """What the row-Toeplitz forward keeps for the kernel gradient: its row matrix and geometry.

    ``rows`` is ``(N * H_out * blocks, kh * block_used * C [+ 1])``; ``buffer`` the workspace array
    behind it. With ``bias_column`` the last column is all ones (see ``_row_toeplitz_forward``), so
    the kernel-gradient product yields the bias gradient as its last row.
    """

    def __init__(self, rows, buffer, block_out, block_used, strides, dilation, bias_column=False):
        self.rows, self.buffer = rows, buffer
        self.block_out, self.block_used = block_out, block_used
        self.strides, self.dilation = strides, dilation
        self.bias_column = bias_column


def _row_columns(x, kernel_height, strides, dilation, padding, block_out, blocks, block_used, output_size,
                 bias_column=False):
    """The row matrix ``(N * H_out * blocks, kh * block_used * C)`` of a channels-last 2-D input:
    row ``(n, oh, block)`` holds, for each tap row ``a``, padded input row ``oh * s + a * d`` from
    column ``block * block_out * s`` on, ``block_used`` columns: one contiguous run per copy.
    With ``bias_column`` one more column of ones follows (the bias's row in the banded kernel)."""
    xp = get_array_module(x)
    padded = xp.ascontiguousarray(pad_spatial(x, padding))
    batch, height, width, channels = padded.shape
    # strides from the shape, not padded.strides: a size-1 axis may carry any stride (x[..., None]
    # gives 0), while the C-contiguous layout is what the view relies on
    item = padded.dtype.itemsize
    stride_w = channels * item
    stride_h, stride_n = width * stride_w, height * width * stride_w
    view = xp.lib.stride_tricks.as_strided(
        padded,
        shape=(batch, output_size[0], blocks, kernel_height, block_used * channels),
        strides=(stride_n, stride_h * strides[0], stride_w * block_out * strides[1], stride_h * dilation[0], item),
        writeable=False,
    )
    row_count, row_length = batch * output_size[0] * blocks, kernel_height * block_used * channels
    buffer = _WORKSPACE.take(xp, (row_count, row_length + int(bias_column)), x.dtype)
    xp.copyto(buffer[:, :row_length].reshape(view.shape), view)
    if bias_column:
        buffer[:, row_length] = 1
    return buffer, buffer


# Bias folded into the product: with a column of ones appended to the row matrix and the bias (tiled
# over the block's output columns) appended to the banded kernel as one more row, the forward GEMM
# adds the bias itself, and the kernel-gradient GEMM returns the bias gradient (summed over the
# block's columns) as its last row: two passes over the output fewer. Measured (2 threads, LeNet-5
# epoch, batch 128): add_bias and the bias-gradient sum cost 0.3 ms of a 5.2 ms step.
def _row_toeplitz_forward(x, kernel, strides, dilation, padding, block_out, blocks, block_used, output_size, bias,
                          keep_columns):
    xp = get_array_module(x)
    batch, filters = x.shape[0], kernel.shape[-1]
    with_bias = bias is not None
    rows, buffer = _row_columns(x, kernel.shape[0], strides, dilation, padding, block_out, blocks, block_used,
                                output_size, bias_column=with_bias)
    band = _row_toeplitz_kernel(kernel, block_used, block_out, strides[1], dilation[1], bias)
    output = xp.empty((batch,) + tuple(output_size) + (filters,), dtype=x.dtype)
    xp.matmul(rows, band, out=output.reshape(rows.shape[0], band.shape[1]))
    if keep_columns:
        return output, RowColumns(rows, buffer, block_out, block_used, strides, dilation, with_bias), True
    _WORKSPACE.give(buffer)
    return output


def _row_toeplitz_backward_input(grad, kernel, input_size, strides, dilation, padding, block_out, blocks, block_used):
    xp = get_array_module(grad)
    batch, output_size = grad.shape[0], grad.shape[1:-1]
    kernel_height, _, channels, filters = kernel.shape
    band = _row_toeplitz_kernel(kernel, block_used, block_out, strides[1], dilation[1])
    grad_rows = grad.reshape(batch * output_size[0] * blocks, block_out * filters)
    row_grad = _WORKSPACE.take(xp, (batch, output_size[0], blocks, kernel_height, block_used, channels), grad.dtype)
    xp.matmul(grad_rows, band.T, out=row_grad.reshape(grad_rows.shape[0], band.shape[0]))
    result = xp.empty((batch,) + tuple(input_size) + (channels,), dtype=grad.dtype)
    _add_back_row_gradients(
        row_grad.reshape(batch, output_size[0], blocks, kernel_height, block_used * channels),
        result.reshape(batch, input_size[0], input_size[1] * channels),
        channels, padding[0][0], padding[1][0], strides[0], strides[1], dilation[0], block_out,
    )
    _WORKSPACE.give(row_grad)
    return result


# The row gradients go back to the input in one compiled pass (kernels/jit.py): each row (n, oh,
# block) adds kh runs of block_used * C floats to the input rows it was copied from, straight into
# the unpadded result (cells in the padding are skipped). The NumPy version zeroed a padded array
# and made kh * blocks strided slab adds, then sliced the padding off. Measured (LeNet conv2, N=128,
# one thread): 0.26 -> 0.xx ms.
@compiled
def _add_back_row_gradients(row_grad, result, channels, pad_top, pad_left, stride_h, stride_w, dilation_h,
                            block_out):
    """``result`` ``(N, H, W * C)`` = the sum of ``row_grad`` ``(N, H_out, blocks, kh, block_used * C)``
    over the cells each run was read from (the adjoint of ``_row_columns``)."""
    batch, output_height, blocks, kernel_height, run = row_grad.shape
    height, row_length = result.shape[1], result.shape[2]
    for n in prange(batch):
        result[n] = 0
        for oh in range(output_height):
            for block in range(blocks):
                left = (block * block_out * stride_w - pad_left) * channels
                first = max(0, -left)
                last = min(run, row_length - left)
                for a in range(kernel_height):
                    ih = oh * stride_h + a * dilation_h - pad_top
                    if ih < 0 or ih >= height:
                        continue
                    # contiguous 1-D runs, indexed from 0 up: the loop vectorises
                    target = result[n, ih, left + first : left + last]
                    source = row_grad[n, oh, block, a, first:last]
                    for i in range(target.shape[0]):
                        target[i] += source[i]


def _row_toeplitz_backward_kernel(grad, columns, kernel_shape):
    """``(kernel gradient, bias gradient or None)``: one product, the bias's from the ones column.
    A 1-D ``kernel_shape`` ``(k, C, F)`` is that of a height-1 2-D kernel (see ``_row_toeplitz_plan``)."""
    kernel_height, kernel_width, channels, filters = kernel_shape if len(kernel_shape) == 4 else (1,) + tuple(kernel_shape)
    block_out = columns.block_out
    band_grad = columns.rows.T @ grad.reshape(columns.rows.shape[0], block_out * filters)
    bias_grad = band_grad[-1].reshape(block_out, filters).sum(axis=0) if columns.bias_column else None
    taps = kernel_height * columns.block_used * channels
    band_grad = band_grad[:taps].reshape(kernel_height, columns.block_used, channels, block_out, filters)
    input_columns, output_columns = _band_indices(kernel_width, block_out, columns.strides[1], columns.dilation[1])
    tap_grad = band_grad[:, input_columns, :, output_columns, :].sum(axis=1)  # (kw, kh, C, F)
    return tap_grad.transpose(1, 0, 2, 3).reshape(kernel_shape), bias_grad


# ----- forward -------------------------------------------------------------------------------
_RECYCLED_PADDING = True


def conv_columns(x, kernel_size, strides, dilation, padding, groups=1):
    """Pad ``x`` and build its column matrix (see ``im2col``).

    Returns:
        ``(columns, owned, output_size)``.
    """
    if _RECYCLED_PADDING:
        # a recycled buffer (no page faults), only the border zeroed, one batch chunk per thread:
        # 2.9 -> 1.1 ms for the VGG-like input (N=32, 56x56, 64 channels)
        padded, padded_owned = _pad_in_chunks(x, padding, _batch_chunks(x.shape[0], x.size))
    else:
        padded, padded_owned = pad_spatial(x, padding), False
    output_size = tuple(
        conv_output_size(size, k, stride=s, dilation=d)
        for size, k, s, d in zip(padded.shape[1:-1], kernel_size, strides, dilation)
    )
    columns, owned = im2col(padded, kernel_size, strides, dilation, output_size, groups)
    if padded_owned:
        if owned:  # the columns are a copy: the padded input is no longer read
            _WORKSPACE.give(padded)
        else:  # the columns are a view of the padded buffer: it must never be recycled
            padded_owned = False
    return columns, owned, output_size


def conv_forward(x, kernel, strides, dilation, padding, groups=1, bias=None, keep_columns=False):
    """Cross-correlate ``x`` with ``kernel`` (the deep-learning "convolution"), channels-last.

    Shape:
        x ``(N, *L_in, C)``, kernel ``(*k, C // groups, F)`` -> ``(N, *L_out, F)`` with, per axis,
        ``L_out = floor((L_in + before + after - dilation * (k - 1) - 1) / stride) + 1``.

    Args:
        strides, dilation: one int per spatial axis.
        padding: one ``(before, after)`` zero-padding pair per spatial axis (negative crops).
        bias: optional ``(F,)`` array added to every output position.
        keep_columns: also return what ``conv_backward_kernel`` needs: the column matrix (for a
            compiled depthwise convolution, a ``DepthwiseSaved``: the input and its padding).

    Returns:
        ``output`` or, with ``keep_columns``, ``(output, columns, owned)`` where ``owned`` says
        that ``columns`` is a workspace buffer to hand back with ``release_workspace``.

    A 1-D or 2-D depthwise convolution (groups > 1, one input channel each) runs compiled loops
    instead of a GEMM (see the note above ``is_depthwise``).

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 4, 4, 1), dtype=np.float32)
        >>> w = np.ones((3, 3, 1, 1), dtype=np.float32)
        >>> conv_forward(x, w, (1, 1), (1, 1), [(0, 0), (0, 0)])[0, :, :, 0]
        array([[9., 9.],
               [9., 9.]], dtype=float32)
    """
    batch, filters = x.shape[0], kernel.shape[-1]
    if _depthwise_compiled(x, kernel.shape, groups):
        output = depthwise.depthwise_forward(x, kernel, strides, dilation, padding, bias)
        return (output, depthwise.DepthwiseSaved(x, padding), False) if keep_columns else output
    plan = _row_toeplitz_plan(x.shape[1:-1], kernel.shape, strides, dilation, padding, groups)
    if plan is not None:
        geometry, one_d = plan
        if not one_d:
            return _row_toeplitz_forward(x, kernel, strides, dilation, padding, *geometry, bias, keep_columns)
        result = _row_toeplitz_forward(x[:, None], kernel[None], *_height_one(strides, dilation, padding), *geometry,
                                       bias, keep_columns)
        if keep_columns:
            return (result[0][:, 0],) + result[1:]
        return result[:, 0]
    columns, owned, output_size = conv_columns(x, kernel.shape[:-2], strides, dilation, padding, groups)
    output = _grouped_matmul(columns, _grouped_kernel(kernel, groups), (batch,) + output_size + (filters,))
    if bias is not None:
        add_bias(output, bias)
    if keep_columns:
        return output, columns, owned
    if owned:
        release_workspace(columns)
    return output


# ----- backward ------------------------------------------------------------------------------
# At stride 1 the full convolution's column matrix has prod(L_in) * F entries per tap and the
# GEMM-then-col2im route writes prod(L_out) * C column gradients and adds them back tap by tap
# (about twice the memory traffic per entry). Measured on the reference machine: VGG-like
# (56x56, 64 -> 64) full conv 77 ms vs 146 ms; LeNet's conv2 (12x12x6 -> 8x8x16) 7.0 ms vs 4.2 ms.
# The full convolution is used while its columns are at most this many times the column gradients.
_FULL_CONV_LIMIT = 2.5

# Why the input gradient is a transposed convolution (see "Understanding the convolution transpose
# rules" in jax/_src/lax/convolution.py, and chainer's convolution_2d backward): per axis the
# forward is y[o] = sum_k xpad[o * s + k * d] * w[k], a linear map y = A x. Its adjoint A^T sends
# each y[o] back to the cells it read: xpad[o * s + k * d] += y[o] * w[k]. For s = 1, substituting
# k -> K - 1 - k turns that into a plain (valid) cross-correlation of y, zero-padded by
# d * (K - 1) - pad_before before and d * (K - 1) - pad_after after, with the spatially flipped
# kernel whose input and output channels are swapped: one more conv_forward, one GEMM. For s > 1 and
# dilation 1 it splits into stride phases (_subpixel_backward_input); with dilation too, the
# same adjoint is a GEMM to column gradients followed by col2im (one strided add per kernel offset),
# which skips the s - 1 zeros that a dilated-gradient convolution would multiply; that route also
# serves stride 1 when the output has far fewer cells * channels than the input (_FULL_CONV_LIMIT).
# The transposed convolution layer uses exactly this function as its forward pass.
def conv_backward_input(grad, kernel, input_size, strides, dilation, padding, groups=1):
    """Gradient of ``conv_forward`` with respect to its input (= a transposed convolution).

    Shape:
        grad ``(N, *L_out, F)``, kernel ``(*k, C // groups, F)`` -> ``(N, *input_size, C)``.

    Args:
        input_size: the spatial size of the forward input (or of the transposed-conv output).
        strides, dilation, padding: as given to ``conv_forward``; an ``after`` width may be
            negative (cells past the last window, e.g. a transposed conv's ``output_padding``).

    Example:
        >>> import numpy as np
        >>> g = np.ones((1, 2, 1), dtype=np.float32)
        >>> w = np.ones((3, 1, 1), dtype=np.float32)
        >>> conv_backward_input(g, w, (4,), (1,), (1,), [(0, 0)])[0, :, 0]
        array([1., 2., 2., 1.], dtype=float32)
    """
    kernel_size = kernel.shape[:-2]
    channels = kernel.shape[-2] * groups
    output_size = grad.shape[1:-1]
    batch, filters = grad.shape[0], grad.shape[-1]
    if _depthwise_compiled(grad, kernel.shape, groups):
        return conv_backward_depthwise(grad, kernel, None, kernel.shape, groups, input_size, strides, dilation, padding,
                                       need_input=True, need_kernel=False, need_bias=False)[0]
    plan = _row_toeplitz_plan(tuple(input_size), kernel.shape, strides, dilation, padding, groups)
    if plan is not None and plan[0][-1][-len(output_size):] == tuple(output_size):
        geometry, one_d = plan
        if not one_d:
            return _row_toeplitz_backward_input(grad, kernel, input_size, strides, dilation, padding, *geometry[:-1])
        return _row_toeplitz_backward_input(grad[:, None], kernel[None], (1,) + tuple(input_size),
                                            *_height_one(strides, dilation, padding), *geometry[:-1])[:, 0]
    if any(s > 1 for s in strides) and all(d == 1 for d in dilation) and _SUBPIXEL_INPUT_GRADIENT:
        return _subpixel_backward_input(grad, kernel, input_size, strides, padding, groups)
    if all(s == 1 for s in strides) and math.prod(input_size) * filters <= _FULL_CONV_LIMIT * math.prod(output_size) * channels:
        full_padding = [
            (span - 1 - before, size - out + before)
            for span, (before, _), size, out in zip(
                (effective_kernel_size(k, d) for k, d in zip(kernel_size, dilation)), padding, input_size, output_size
            )
        ]
        return conv_forward(grad, swap_kernel_in_out(kernel, groups), strides, dilation, full_padding, groups)
    xp = get_array_module(grad)
    rows = batch * math.prod(output_size)
    grad_rows = grad.reshape(rows, groups, filters // groups).transpose(1, 0, 2)  # (g, rows, f)
    kernel_groups = _grouped_kernel(kernel, groups)  # (g, taps, f)
    column_grad = _WORKSPACE.take(xp, (groups, rows, kernel_groups.shape[1]), grad.dtype)
    xp.matmul(grad_rows, kernel_groups.transpose(0, 2, 1), out=column_grad)
    covered = [(out - 1) * s + effective_kernel_size(k, d) for out, s, k, d in zip(output_size, strides, kernel_size, dilation)]
    padded_spatial = tuple(
        max(span, before + size) for span, size, (before, _) in zip(covered, input_size, padding)
    )
    padded = col2im(column_grad, (batch,) + padded_spatial + (channels,), kernel_size, strides, dilation, output_size, groups)
    _WORKSPACE.give(column_grad)
    interior = tuple(slice(before, before + size) for size, (before, _) in zip(input_size, padding))
    return padded[(slice(None),) + interior + (slice(None),)]


# Sub-pixel decomposition of a strided input gradient (and so of every strided transposed
# convolution). Per axis, padded input cell P = s * m + r receives g[o] * w[a] from every tap a with
# o * s + a = P, i.e. a = r + s * t and o = m - t: for one residue (phase) r, that is a stride-1
# correlation of g with the sub-kernel w[r::s] flipped. So the input gradient splits into prod(s)
# stride-1 convolutions (one GEMM each, together exactly the multiply-adds of the one big GEMM) whose
# outputs interleave: phase r fills input cells r - before, r - before + s, ... with one strided
# copy. This replaces the column-gradient matrix (prod(k) * C floats per output cell) and its
# prod(k) strided scatter-adds. Measured (2 threads, alternated in one process): transposed
# 64->64, 4x4, s2, 28->56, N=32 (all four phases in one GEMM, see _subpixel_shared_gemm) 57 -> 24
# ms; the input gradient of the strided 3x3 s2 56x56 64->64 conv (four GEMMs) 33 -> 23 ms.
# Dilated strided convolutions keep the col2im route below.
_SUBPIXEL_INPUT_GRADIENT = True


def _subpixel_backward_input(grad, kernel, input_size, strides, padding, groups):
    """``conv_backward_input`` for strides > 1 and dilation 1, one stride phase at a time.

    Shape: grad ``(N, *L_out, F)``, kernel ``(*k, C // groups, F)`` -> ``(N, *input_size, C)``;
    phase ``r`` (one residue per axis) fills the input cells ``i`` with ``(i + before) % s == r``.
    """
    xp = get_array_module(grad)
    kernel_size = kernel.shape[:-2]
    num_spatial = len(kernel_size)
    channels = kernel.shape[-2] * groups
    batch, output_size = grad.shape[0], grad.shape[1:-1]
    result = xp.empty((batch,) + tuple(input_size) + (channels,), dtype=grad.dtype)
    shared = groups == 1 and all(k % s == 0 for k, s in zip(kernel_size, strides))
    pending = []  # shared columns: (target, sub_kernel, sub_padding) of every phase, one GEMM at the end
    for phase in itertools.product(*(range(s) for s in strides)):
        # per axis: taps r, r + s, ... (T of them); phase cells m_low..m_high of the padded input
        taps = [len(range(r, k, s)) for r, k, s in zip(phase, kernel_size, strides)]
        lows = [-((r - before) // s) for r, s, (before, _) in zip(phase, strides, padding)]  # ceil((before - r) / s)
        highs = [(before + size - 1 - r) // s for r, s, size, (before, _) in zip(phase, strides, input_size, padding)]
        counts = [high - low + 1 for low, high in zip(lows, highs)]
        if min(counts) < 1:
            continue
        target = (slice(None),) + tuple(
            slice(s * low + r - before, s * low + r - before + s * (count - 1) + 1, s)
            for s, low, r, (before, _), count in zip(strides, lows, phase, padding, counts)
        )
        if min(taps) < 1:  # no tap reaches this phase: its cells get no gradient
            result[target] = 0
            continue
        sub_kernel = kernel[tuple(slice(r, None, s) for r, s in zip(phase, strides))]
        sub_padding = [
            (t - 1 - low, count - out - (t - 1 - low) + t - 1)
            for t, low, count, out in zip(taps, lows, counts, output_size)
        ]
        if shared:
            pending.append((target, sub_kernel, sub_padding))
            continue
        result[target] = conv_forward(
            grad, swap_kernel_in_out(sub_kernel, groups), (1,) * num_spatial, (1,) * num_spatial, sub_padding, groups
        )
    if pending:
        _subpixel_shared_gemm(grad, pending, result, kernel_size, strides)
    return result


def _subpixel_shared_gemm(grad, pending, result, kernel_size, strides):
    """All phases of ``_subpixel_backward_input`` in one GEMM (every axis has k % s == 0).

    Every phase then has the same k / s taps per axis: one stride-1 convolution over a common
    frame (padded by the largest "before" of any phase), with the phases' kernels side by side
    along the output channels, computes all of them in one GEMM ``prod(s)`` times wider; phase p
    reads its cells from its own offset in that frame. ``pending``: ``(target, sub_kernel,
    sub_padding)`` per phase; ``result`` ``(N, *input_size, C)`` is filled in place.
    """
    xp = get_array_module(grad)
    num_spatial = len(kernel_size)
    input_size, output_size, channels = result.shape[1:-1], grad.shape[1:-1], result.shape[-1]
    before = [max(pads[axis][0] for _, _, pads in pending) for axis in range(num_spatial)]
    frame = [
        max(len(range(*target[1 + axis].indices(input_size[axis]))) + before[axis] - pads[axis][0] for target, _, pads in pending)
        for axis in range(num_spatial)
    ]
    taps = [k // s for k, s in zip(kernel_size, strides)]
    frame_padding = [(b, f - out - b + t - 1) for b, f, out, t in zip(before, frame, output_size, taps)]
    combined = xp.concatenate([swap_kernel_in_out(sub_kernel) for _, sub_kernel, _ in pending], axis=-1)
    frame_output = conv_forward(grad, combined, (1,) * num_spatial, (1,) * num_spatial, frame_padding)
    for index, (target, _, pads) in enumerate(pending):
        source = (slice(None),) + tuple(
            slice(b - pad[0], b - pad[0] + len(range(*t.indices(size))))
            for b, pad, t, size in zip(before, pads, target[1:], input_size)
        ) + (slice(index * channels, (index + 1) * channels),)
        result[target] = frame_output[source]


_KERNEL_GRAD_TRANSPOSED = True


def conv_backward_kernel(grad, columns, kernel_shape, groups=1, strides=None, dilation=None):
    """Gradient of ``conv_forward`` with respect to the kernel: ``columns^T @ grad`` per group.

    Shape:
        grad ``(N, *L_out, F)``, columns ``(groups, N * prod(L_out), prod(k) * C // groups)``
        -> ``kernel_shape`` = ``(*k, C // groups, F)``. For a compiled depthwise convolution
        ``columns`` is a ``DepthwiseSaved`` and ``strides``, ``dilation`` are needed to see its windows.
    """
    if isinstance(columns, depthwise.DepthwiseSaved):
        return _depthwise_kernel_gradients(grad, columns, kernel_shape, groups, strides, dilation, need_bias=False)[0]
    if isinstance(columns, RowColumns):
        return _row_toeplitz_backward_kernel(grad, columns, kernel_shape)[0]
    xp = get_array_module(grad)
    filters = grad.shape[-1]
    rows = columns.shape[1]
    grad_rows = grad.reshape(rows, groups, filters // groups)
    if groups == 1:
        if columns.shape[2] < filters and _KERNEL_GRAD_TRANSPOSED:
            # fewer taps than filters (an expanding 1x1): OpenBLAS runs grad^T @ columns faster
            # (N=32, 28x28, 128 -> 256: 8.9 -> 7.5 ms; the other orientation wins otherwise)
            return xp.ascontiguousarray((grad_rows[:, 0, :].T @ columns[0]).T).reshape(kernel_shape)
        return (columns[0].T @ grad_rows[:, 0, :]).reshape(kernel_shape)
    per_group = xp.matmul(columns.transpose(0, 2, 1), grad_rows.transpose(1, 0, 2))  # (g, taps, f)
    return xp.ascontiguousarray(per_group.transpose(1, 0, 2)).reshape(kernel_shape)


def conv_backward_kernel_and_bias(grad, columns, kernel_shape, groups=1, strides=None, dilation=None):
    """``(conv_backward_kernel(...), conv_backward_bias(grad))`` in one call: where the forward
    folded the bias into its product (the row-Toeplitz route), both come from one product.

    Shape: as ``conv_backward_kernel``; the bias gradient is ``(F,)``.
    """
    if isinstance(columns, RowColumns) and columns.bias_column:
        return _row_toeplitz_backward_kernel(grad, columns, kernel_shape)
    if isinstance(columns, depthwise.DepthwiseSaved):  # both from one sweep over grad
        return _depthwise_kernel_gradients(grad, columns, kernel_shape, groups, strides, dilation, need_bias=True)
    grad_kernel = conv_backward_kernel(grad, columns, kernel_shape, groups, strides, dilation)
    return grad_kernel, conv_backward_bias(grad, use_blas=not is_depthwise(kernel_shape, groups))


def _depthwise_kernel_gradients(grad, saved, kernel_shape, groups, strides, dilation, need_bias):
    """``(kernel gradient, bias gradient or None)`` of a compiled depthwise convolution whose forward
    kept ``saved`` (a ``DepthwiseSaved``): ``conv_backward_depthwise`` without the input gradient."""
    _, grad_kernel, grad_bias = conv_backward_depthwise(
        grad, None, saved, kernel_shape, groups, saved.x.shape[1:-1], strides, dilation, saved.padding,
        need_input=False, need_kernel=True, need_bias=need_bias,
    )
    return grad_kernel, grad_bias


def conv_transpose_backward(grad, x, kernel, kernel_shape, strides, dilation, padding, need_input=True, need_kernel=True):
    """Both gradients of a transposed convolution ``y = conv_backward_input(x, kernel, ...)``.

    The transpose of a transposed convolution is the convolution itself, so the upstream gradient
    ``grad`` (shaped like ``y``) is turned into columns once and serves both products:
    input gradient ``columns @ kernel`` (a forward convolution of ``grad``) and kernel gradient
    ``columns^T @ x``. ``kernel`` may be None when only the kernel gradient is needed, ``x``
    when only the input gradient is. A strided transposed convolution whose kernel is a multiple
    of its stride (dilation 1) takes the sub-pixel frame instead (``_subpixel_transpose_backward``).

    Shape:
        grad ``(N, *L_out, F)``, x ``(N, *L_in, C)``, kernel ``(*k, F, C)`` ->
        ``(grad_x (N, *L_in, C) or None, grad_kernel (*k, F, C) or None)``.
    """
    if not (need_input or need_kernel):
        return None, None
    if _subpixel_transpose_applies(kernel_shape, strides, dilation):
        return _subpixel_transpose_backward(grad, x, kernel, kernel_shape, strides, padding, need_input, need_kernel)
    batch, channels = grad.shape[0], kernel_shape[-1]
    columns, owned, output_size = conv_columns(grad, kernel_shape[:-2], strides, dilation, padding)
    grad_x = grad_kernel = None
    if need_input:
        grad_x = _grouped_matmul(columns, _grouped_kernel(kernel, 1), (batch,) + output_size + (channels,))
    if need_kernel:
        grad_kernel = conv_backward_kernel(x, columns, kernel_shape)
    if owned:
        release_workspace(columns)
    return grad_x, grad_kernel


# The backward of a strided transposed convolution by the same sub-pixel frame as its forward
# (_subpixel_shared_gemm): the forward is y[phase cells] = frame_output[phase block] with
# frame_output = conv(x, combined) a stride-1 convolution with prod(k / s) taps and prod(s) * C_out
# filters. So the upstream gradient is gathered back into that frame (one strided copy per phase,
# zero where no output cell reads a frame cell), and both gradients are those of the stride-1 frame
# convolution: kernel gradient columns(x)^T @ frame_grad (then split into the phases' sub-kernels),
# input gradient frame_grad @ combined^T followed by prod(k / s) shifted adds (_frame_input_gradient).
# Instead of the column matrix of the strided convolution of grad (prod(k) * C_out floats per input
# cell, 103 MB for N=32, 28 -> 56, 64 channels, 4x4 s2) and two 64-wide products, this builds the
# frame gradient and the input's columns (prod(s) * C_out and prod(k / s) * C_in floats per frame
# cell, 27.5 MB each) and runs two products prod(s) times wider. Measured on that shape (2 threads,
# alternated in one process): both gradients 44.8 -> 39.8 ms (GEMMs 13 + 11 ms, gather 5.5, shifted
# adds 5.5, input columns 3.6); kernel gradient alone 54 -> 21 ms.
_SUBPIXEL_TRANSPOSE_BACKWARD = True


def _subpixel_transpose_applies(kernel_shape, strides, dilation):
    """Whether ``conv_transpose_backward`` takes the sub-pixel frame route (stride > 1 on some
    axis, dilation 1, every kernel size a multiple of its stride: the forward's shared GEMM)."""
    kernel_size = kernel_shape[:-2]
    return (
        _SUBPIXEL_TRANSPOSE_BACKWARD
        and any(s > 1 for s in strides)
        and all(d == 1 for d in dilation)
        and all(k % s == 0 for k, s in zip(kernel_size, strides))
    )


def _subpixel_frame_geometry(kernel_size, strides, padding, result_size, source_size):
    """The frame of ``_subpixel_shared_gemm`` for a transposed convolution from ``source_size``
    to ``result_size``: ``(phases, frame_padding, frame)``, where ``phases`` lists, for every stride phase
    that owns at least one result cell (in the order of ``_subpixel_backward_input``),
    ``(phase, result_slices, frame_slices)``: the phase's result cells and the frame cells (of the
    stride-1 convolution of the source padded by ``frame_padding``, spatial size ``frame``) that
    hold them."""
    num_spatial = len(kernel_size)
    taps = [k // s for k, s in zip(kernel_size, strides)]
    phases = []
    for phase in itertools.product(*(range(s) for s in strides)):
        lows = [-((r - before) // s) for r, s, (before, _) in zip(phase, strides, padding)]
        highs = [(before + size - 1 - r) // s for r, s, size, (before, _) in zip(phase, strides, result_size, padding)]
        counts = [high - low + 1 for low, high in zip(lows, highs)]
        if min(counts) < 1:
            continue
        result_slices = tuple(
            slice(s * low + r - before, s * low + r - before + s * (count - 1) + 1, s)
            for s, low, r, (before, _), count in zip(strides, lows, phase, padding, counts)
        )
        phases.append((phase, result_slices, [t - 1 - low for t, low in zip(taps, lows)], counts))
    frame_before = [max(entry[2][axis] for entry in phases) for axis in range(num_spatial)]
    frame = [
        max(counts[axis] + frame_before[axis] - pads[axis] for _, _, pads, counts in phases) for axis in range(num_spatial)
    ]
    frame_padding = [(b, f - n - b + t - 1) for b, f, n, t in zip(frame_before, frame, source_size, taps)]
    located = [
        (phase, result_slices, tuple(slice(b - p, b - p + c) for b, p, c in zip(frame_before, pads, counts)))
        for phase, result_slices, pads, counts in phases
    ]
    return located, frame_padding, tuple(frame)


def _subpixel_transpose_backward(grad, x, kernel, kernel_shape, strides, padding, need_input, need_kernel):
    """``conv_transpose_backward`` through the sub-pixel frame (see the note above).

    Shape: grad ``(N, *L_out, F)``, x ``(N, *L_in, C)``, kernel ``(*k, F, C)`` ->
    ``(grad_x (N, *L_in, C) or None, grad_kernel (*k, F, C) or None)``.
    """
    xp = get_array_module(grad)
    kernel_size = tuple(kernel_shape[:-2])
    num_spatial = len(kernel_size)
    filters, channels = kernel_shape[-2], kernel_shape[-1]
    source_size = x.shape[1:-1] if x is not None else None
    if source_size is None:
        source_size = tuple(
            conv_output_size(size, k, stride=s, pad_before=before, pad_after=after)
            for size, k, s, (before, after) in zip(grad.shape[1:-1], kernel_size, strides, padding)
        )
    phases, frame_padding, frame = _subpixel_frame_geometry(kernel_size, strides, padding, grad.shape[1:-1], source_size)
    batch = grad.shape[0]
    blocks = len(phases)
    frame_grad = _WORKSPACE.take(xp, (batch,) + frame + (blocks * filters,), grad.dtype)

    def gather(chunk):  # one batch chunk per thread (the strided copies release the GIL)
        for index, (_, result_slices, frame_slices) in enumerate(phases):
            block = frame_grad[chunk, ..., index * filters:(index + 1) * filters]
            for axis, (cells, size) in enumerate(zip(frame_slices, frame)):  # zero the uncovered border
                lead = (slice(None),) * (1 + axis)
                if cells.start > 0:
                    block[lead + (slice(0, cells.start),)] = 0
                if cells.stop < size:
                    block[lead + (slice(cells.stop, size),)] = 0
            block[(slice(None),) + frame_slices] = grad[(chunk,) + result_slices]

    _run_chunks(gather, _batch_chunks(batch, frame_grad.size))
    unit = (1,) * num_spatial
    taps = tuple(k // s for k, s in zip(kernel_size, strides))
    grad_x = grad_kernel = None
    if need_kernel:
        columns, owned, _ = conv_columns(x, taps, unit, unit, frame_padding)
        combined_grad = conv_backward_kernel(frame_grad, columns, taps + (channels, blocks * filters))
        if owned:
            release_workspace(columns)
        grad_kernel = xp.zeros(kernel_shape, dtype=grad.dtype)
        for index, (phase, _, _) in enumerate(phases):
            sub_grad = combined_grad[..., index * filters:(index + 1) * filters]
            grad_kernel[tuple(slice(r, None, s) for r, s in zip(phase, strides))] = swap_kernel_in_out(sub_grad)
    if need_input:
        combined = xp.concatenate(
            [swap_kernel_in_out(kernel[tuple(slice(r, None, s) for r, s in zip(phase, strides))]) for phase, _, _ in phases],
            axis=-1,
        )
        grad_x = _frame_input_gradient(frame_grad, combined, source_size, frame_padding)
    _WORKSPACE.give(frame_grad)
    return grad_x, grad_kernel


def _frame_input_gradient(frame_grad, combined, source_size, frame_padding):
    """The input gradient of the stride-1 frame convolution ``conv(x, combined, frame_padding)``.

    One GEMM ``frame_grad @ combined^T`` gives every frame cell's contribution to each of its
    ``prod(taps)`` source cells; the source cell ``i`` then sums tap ``a``'s share from frame cell
    ``i + before - a``: ``prod(taps)`` shifted views added straight into the (contiguous) result, with
    no zeroed padded buffer and no cropping copy.

    Shape: frame_grad ``(N, *frame, B)``, combined ``(*taps, C, B)`` -> ``(N, *source_size, C)``.
    """
    xp = get_array_module(frame_grad)
    taps = combined.shape[:-2]
    channels, width = combined.shape[-2], combined.shape[-1]
    batch, frame = frame_grad.shape[0], frame_grad.shape[1:-1]
    rows = batch * math.prod(frame)
    tap_count = math.prod(taps)
    products = _WORKSPACE.take(xp, (batch,) + tuple(frame) + (tap_count, channels), frame_grad.dtype)
    xp.matmul(frame_grad.reshape(rows, width), combined.reshape(tap_count * channels, width).T,
              out=products.reshape(rows, tap_count * channels))
    result = xp.empty((batch,) + tuple(source_size) + (channels,), dtype=frame_grad.dtype)
    terms = []
    for index, offset in enumerate(itertools.product(*(range(t) for t in taps))):
        # source cell i is read by frame cell o at tap a when o + a = i + before
        starts = [before - a for a, (before, _) in zip(offset, frame_padding)]
        lows = [max(0, -start) for start in starts]
        highs = [min(size, f - start) for size, f, start in zip(source_size, frame, starts)]
        if any(high <= low for low, high in zip(lows, highs)):
            continue
        target = (slice(None),) + tuple(slice(low, high) for low, high in zip(lows, highs))
        source = (slice(None),) + tuple(slice(low + start, high + start) for low, high, start in zip(lows, highs, starts)) + (index,)
        terms.append((target, source, all(low == 0 and high == size for low, high, size in zip(lows, highs, source_size))))
    full = [term for term in terms if term[2]]
    partial = [term for term in terms if not term[2]]

    def accumulate(chunk):  # one batch chunk per thread (the adds release the GIL)
        part = result[chunk]
        pick = lambda source: products[(chunk,) + source[1:]]
        if len(full) >= 2:
            xp.add(pick(full[0][1]), pick(full[1][1]), out=part)
            rest = full[2:] + partial
        elif full:
            part[...] = pick(full[0][1])
            rest = partial
        else:
            part[...] = 0
            rest = terms
        for target, source, _ in rest:
            part[target] += pick(source)

    _run_chunks(accumulate, _batch_chunks(batch, result.size))
    _WORKSPACE.give(products)
    return result


def conv_backward_bias(grad, use_blas=True):
    """Gradient with respect to the bias: the sum of ``grad`` over every axis but the last,
    as one matrix-vector product with a vector of ones.

    ``use_blas=False`` sums with ``add.reduce`` instead, one batch chunk per thread: for a depthwise
    convolution, whose other passes are multi-threaded einsums, a BLAS call would leave OpenBLAS's
    worker threads spinning (about 0.1 s) on the cores the next einsum needs.

    Shape: ``(N, *L_out, F)`` -> ``(F,)``.
    """
    xp = get_array_module(grad)
    filters = grad.shape[-1]
    if not use_blas:
        partial = _run_chunks(
            lambda chunk: xp.add.reduce(grad[chunk].reshape(-1, filters), axis=0), _batch_chunks(grad.shape[0], grad.size)
        )
        total = partial[0]
        for term in partial[1:]:
            total += term
        return total
    # A product with only F columns runs at a fraction of BLAS speed (6 columns: 5x slower than a
    # 144-column one on LeNet's conv1); so sum rows of (last spatial axis * F) values, then fold.
    width = grad.shape[-2] * filters if grad.ndim >= 3 and grad.flags.c_contiguous else filters
    rows = grad.size // width
    sums = xp.ones(rows, dtype=grad.dtype) @ grad.reshape(rows, width)
    return sums.reshape(-1, filters).sum(axis=0) if width != filters else sums
