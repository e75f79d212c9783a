"""Pooling ops on Tensors: max, average, LP, global, adaptive, argmax and unpooling.

This module owns the user-facing pooling functions: it checks and normalises every argument once
(so an error names the user's argument and value), turns ``padding`` into explicit ``(before,
after)`` pairs and ``data_format`` into the kernels' ``spatial_axis``, and wires the kernels of
``cnnkit.kernels.pool`` into autograd Functions. Signatures follow Keras 3's ops
(``keras.ops.max_pool(inputs, pool_size, strides=None, padding='valid', data_format=None)``); what
PyTorch offers beyond Keras comes as keyword extras (``ceil_mode``, ``count_include_pad``).

Semantics, pinned by tests against PyTorch (and a naive reference for TensorFlow's 'same'):

- ``padding='same'`` is TensorFlow's rule (output ``ceil(n / stride)``, an odd extra pad at the
  end); max pooling ignores the pads, average pooling divides by the real cells of each window.
- Explicit padding (an int, one int per axis, or ``(before, after)`` pairs) may be at most half the
  pool on each side (PyTorch's rule). Average pooling then divides by the real cells only
  (``count_include_pad=False``, the default, matching Keras/TensorFlow and PyTorch's
  ``count_include_pad=False``) or by the cells inside the padded input (``count_include_pad=True``,
  PyTorch's default); cnnkit defaults to False so that 'same' and explicit padding agree.
- ``ceil_mode=True`` keeps a last, partial window when it starts inside the input or the leading
  padding (PyTorch's rule); its missing cells never count.
- Max pooling's gradient goes to the first maximum of each window in row-major order (PyTorch's
  choice on ties). With NaN in a window the output is NaN as in PyTorch, but the gradient of that
  window is dropped (PyTorch sends it to the NaN).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function, Tanh, Tensor, is_grad_enabled
from ..backend import get_array_module
from ..kernels import pool as kernels
from ..shapes import conv_output_size, same_padding, transpose_output_size
from .arguments import check_rank, ensure_float_tensor, normalize_data_format, standardize_tuple

__all__ = [
    "max_pool",
    "average_pool",
    "lp_pool",
    "max_pool_with_argmax",
    "max_unpool",
    "global_average_pool",
    "global_max_pool",
    "adaptive_average_pool",
    "adaptive_max_pool",
]

_LAYOUTS = {
    "channels_last": "(batch, *spatial, channels)",
    "channels_first": "(batch, channels, *spatial)",
}


# ----- argument handling --------------------------------------------------------------------------
def _prepare_input(inputs, data_format, name: str = "inputs"):
    """A float Tensor of rank 3, 4 or 5 (1-D, 2-D or 3-D pooling), its layout and spatial axis."""
    data_format = normalize_data_format(data_format)
    tensor = ensure_float_tensor(inputs, name)
    if tensor.ndim not in (3, 4, 5):  # test first: the message is only formatted for an error
        check_rank(tensor, (3, 4, 5), name, f"{_LAYOUTS[data_format]} for 1-D, 2-D or 3-D pooling ({data_format})")
    spatial_axis = 1 if data_format == "channels_last" else 2
    return tensor, data_format, spatial_axis


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


def _normalize_padding(padding, rank: int):
    """'valid', 'same', or a tuple of ``rank`` ``(before, after)`` pairs of non-negative ints."""
    if isinstance(padding, str) and padding.lower() in ("valid", "same"):
        return padding.lower()  # the common case, before the error message below is formatted
    expected = (
        f"`padding` must be 'valid', 'same', a non-negative int, a tuple of {rank} ints or a tuple of "
        f"{rank} (before, after) pairs."
    )
    if isinstance(padding, str):
        lowered = padding.lower()
        if lowered in ("valid", "same"):
            return lowered
        raise ValueError(f"{expected} Received: padding={padding!r}")
    if isinstance(padding, (bool, np.bool_)):
        raise TypeError(f"{expected} Received: padding={padding!r}")
    if isinstance(padding, (numbers.Integral, np.integer)):
        if padding < 0:
            raise ValueError(f"{expected} Received: padding={padding!r}")
        return ((int(padding), int(padding)),) * rank
    try:
        items = list(padding)
    except TypeError:
        raise TypeError(f"{expected} Received: padding={padding!r}") from None
    if len(items) != rank:
        raise ValueError(f"{expected} Received: padding={padding!r}")
    pairs = []
    for item in items:
        if isinstance(item, (numbers.Integral, np.integer)) and not isinstance(item, (bool, np.bool_)):
            pair = (int(item), int(item))
        else:
            try:
                pair = tuple(item)
            except TypeError:
                raise TypeError(f"{expected} Received: padding={padding!r}") from None
            if len(pair) != 2 or any(
                isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)) for v in pair
            ):
                raise TypeError(f"{expected} Received: padding={padding!r}")
            pair = (int(pair[0]), int(pair[1]))
        if min(pair) < 0:
            raise ValueError(f"{expected} Received: padding={padding!r}")
        pairs.append(pair)
    return tuple(pairs)


# Geometries already derived, keyed by the checked, normalised arguments and the input's spatial
# size. A layer pools inputs of the same shape on every step; deriving pads and output sizes again
# each time is pure overhead. Only a geometry that passed every check is stored, and the key holds
# the normalised values (plain ints, a padding name or int pairs), so an invalid argument never
# reaches a stored entry: it still raises in the checks before the lookup, or below on a miss.
# PoolGeometry is an immutable NamedTuple, so sharing one between calls is safe.
_GEOMETRY_CACHE: dict = {}
_GEOMETRY_CACHE_SIZE = 256  # a handful per layer and input shape; cleared when full


def _pool_geometry(input_size, spatial_axis, pool_size, strides, padding, ceil_mode) -> kernels.PoolGeometry:
    """Check the window arguments against the input and compute pads and output sizes."""
    rank = len(input_size)
    pool_size = standardize_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else standardize_tuple(strides, rank, "strides")
    ceil_mode = _check_flag(ceil_mode, "ceil_mode")
    normalized = _normalize_padding(padding, rank)
    key = (tuple(input_size), spatial_axis, pool_size, strides, normalized, ceil_mode)
    geometry = _GEOMETRY_CACHE.get(key)
    if geometry is None:
        geometry = _derive_pool_geometry(input_size, spatial_axis, pool_size, strides, padding, normalized, ceil_mode)
        if len(_GEOMETRY_CACHE) >= _GEOMETRY_CACHE_SIZE:
            _GEOMETRY_CACHE.clear()
        _GEOMETRY_CACHE[key] = geometry
    return geometry


def _derive_pool_geometry(input_size, spatial_axis, pool_size, strides, padding, normalized, ceil_mode):
    """Pads and output sizes for checked window arguments (``normalized`` is the padding after
    ``_normalize_padding``; ``padding`` the user's value, for the error messages)."""
    rank = len(input_size)
    if normalized == "valid":
        pads = ((0, 0),) * rank
    elif normalized == "same":
        pads = tuple(same_padding(size, pool, stride) for size, pool, stride in zip(input_size, pool_size, strides))
    else:
        pads = normalized
        for pool, pair in zip(pool_size, pads):
            if 2 * max(pair) > pool:
                raise ValueError(
                    "`padding` may be at most half of `pool_size` on each side (PyTorch's rule: every "
                    f"window keeps a real cell); pool_size={pool_size} allows at most "
                    f"{tuple(p // 2 for p in pool_size)}. Received: padding={padding!r}"
                )
    output_size = []
    for axis, (size, pool, stride, (before, after)) in enumerate(zip(input_size, pool_size, strides, pads)):
        if size + before + after < pool:
            raise ValueError(
                f"`pool_size` is larger than the padded input along spatial axis {axis} (input size {size}, "
                f"padding ({before}, {after})); use a smaller pool or more padding. "
                f"Received: pool_size={pool_size} for spatial shape {tuple(input_size)}"
            )
        output_size.append(conv_output_size(size, pool, stride, 1, before, after, ceil_mode=ceil_mode))
    return kernels.PoolGeometry(spatial_axis, tuple(input_size), pool_size, strides, pads, tuple(output_size))


def _windowed(inputs, pool_size, strides, padding, data_format, ceil_mode):
    tensor, data_format, spatial_axis = _prepare_input(inputs, data_format)
    rank = tensor.ndim - 2
    input_size = tuple(tensor.shape[spatial_axis:spatial_axis + rank])
    geometry = _pool_geometry(input_size, spatial_axis, pool_size, strides, padding, ceil_mode)
    return tensor, geometry


def _normalize_output_size(output_size, input_size, name: str = "output_size"):
    """Adaptive output sizes: an int or one entry per spatial axis; None keeps that axis's size."""
    rank = len(input_size)
    message = f"`{name}` must be a positive int or a tuple of {rank} positive ints (None keeps an axis)."
    if isinstance(output_size, (bool, np.bool_)):
        raise TypeError(f"{message} Received: {name}={output_size!r}")
    if output_size is None or isinstance(output_size, (numbers.Integral, np.integer)):
        values = [output_size] * rank
    else:
        try:
            values = list(output_size)
        except TypeError:
            raise TypeError(f"{message} Received: {name}={output_size!r}") from None
        if len(values) != rank:
            raise ValueError(f"{message} Received: {name}={output_size!r}")
    result = []
    for value, size in zip(values, input_size):
        if value is None:
            result.append(int(size))
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
            raise TypeError(f"{message} Received: {name}={output_size!r}")
        if value < 1:
            raise ValueError(f"{message} Received: {name}={output_size!r}")
        result.append(int(value))
    if any(size < 1 for size in input_size):
        raise ValueError(
            f"Adaptive pooling needs non-empty spatial axes. Received: inputs with spatial shape {input_size}"
        )
    return tuple(result)


# ----- Functions (forward/backward pairs over the kernels) ------------------------------------------
class _MaxPool(Function):
    """Windowed max; keeps the route of each maximum only when a gradient (or the indices) is wanted."""

    def forward(self, x, geometry, indices_sink=None):
        keep_route = indices_sink is not None or (self.needs_input_grad[0] and is_grad_enabled())
        output, self.route = kernels.max_pool_forward(x, geometry, keep_route)
        self.geometry, self.input_shape = geometry, x.shape
        if indices_sink is not None:
            indices_sink.append(kernels.max_pool_argmax_indices(self.route, geometry, output.shape))
        return output

    def backward(self, grad):
        return (kernels.max_pool_backward(grad, self.route, self.input_shape, self.geometry),)


class _AveragePool(Function):
    """Windowed mean; the backward spreads each gradient evenly over its window's counted cells."""

    def forward(self, x, geometry, count_include_pad):
        self.geometry, self.count_include_pad, self.input_shape = geometry, count_include_pad, x.shape
        return kernels.average_pool_forward(x, geometry, count_include_pad)

    def backward(self, grad):
        return (kernels.average_pool_backward(grad, self.input_shape, self.geometry, self.count_include_pad),)


class _TanhAveragePool(Function):
    """``average_pool(tanh(z))`` recorded against ``z``: the forward pools the tanh output that its
    own ``Tanh`` already computed; the backward is ``kernels.average_pool_tanh_backward`` (the
    pool's spread and tanh's derivative in one pass). The tanh output's own node stays in the
    graph, so any other use of it still backpropagates through ``Tanh``; gradients meet in ``z``.
    """

    def forward(self, pre_activation, tanh_output, geometry):
        self.tanh_output, self.geometry = tanh_output, geometry
        return kernels.average_pool_forward(tanh_output, geometry, False)

    def backward(self, grad):
        return (kernels.average_pool_tanh_backward(grad, self.tanh_output, self.geometry),)


def _tanh_average_pool(tensor, geometry):
    """The fused pool when ``tensor`` is a recorded tanh output the fused kernel serves, else None."""
    creator = tensor.creator if isinstance(tensor, Tensor) else None
    if (
        isinstance(creator, Tanh)
        and len(creator.parents) == 1
        and creator.parents[0].requires_grad
        and creator.out is tensor.data
        and kernels.tanh_average_pool_applies(tensor.data, geometry)
    ):
        return _TanhAveragePool.apply(creator.parents[0], tanh_output=tensor.data, geometry=geometry)
    return None


class _LpRoot(Function):
    """``(scale * s) ** exponent`` with PyTorch's LP-pool gradient: zero where ``s`` is zero."""

    def forward(self, s, scale, exponent):
        xp = get_array_module(s)
        self.exponent = exponent
        self.value = s * s.dtype.type(scale)
        self.scale = scale
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.power(self.value, s.dtype.type(exponent))

    def backward(self, grad):
        xp = get_array_module(grad)
        dtype = grad.dtype.type
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = xp.power(self.value, dtype(self.exponent - 1)) * dtype(self.exponent * self.scale)
        return (xp.where(self.value == 0, dtype(0), grad * slope),)


class _AdaptiveAveragePool(Function):
    """Mean over PyTorch's adaptive bins (only for sizes that do not divide evenly)."""

    def forward(self, x, spatial_axis, output_size):
        self.spatial_axis = spatial_axis
        self.input_size = x.shape[spatial_axis:spatial_axis + len(output_size)]
        return kernels.adaptive_average_pool_forward(x, spatial_axis, output_size)

    def backward(self, grad):
        return (kernels.adaptive_average_pool_backward(grad, self.spatial_axis, self.input_size),)


class _AdaptiveMaxPool(Function):
    """Max over PyTorch's adaptive bins (only for sizes that do not divide evenly)."""

    def forward(self, x, spatial_axis, output_size):
        self.spatial_axis, self.input_shape = spatial_axis, x.shape
        output, self.flat_index = kernels.adaptive_max_pool_forward(x, spatial_axis, output_size)
        return output

    def backward(self, grad):
        return (kernels.scatter_to_planes(grad, self.flat_index, self.input_shape, self.spatial_axis),)


class _GlobalMaxPool(Function):
    """Max over all spatial cells; the gradient goes to the first maximum."""

    def forward(self, x, spatial_axis, keepdims):
        rank = x.ndim - 2
        self.spatial_axis, self.rank, self.input_shape = spatial_axis, rank, x.shape
        output, self.index = kernels.global_max_pool_forward(x, spatial_axis, rank)
        self.reduced_shape = output.shape
        if keepdims:
            output = output.reshape(output.shape[:spatial_axis] + (1,) * rank + output.shape[spatial_axis:])
        return output

    def backward(self, grad):
        grad = grad.reshape(self.reduced_shape)
        return (kernels.global_max_pool_backward(grad, self.index, self.input_shape, self.spatial_axis, self.rank),)


class _MaxUnpool(Function):
    """Scatter to flat plane indices; the backward gathers."""

    def forward(self, x, flat_index, output_shape, spatial_axis):
        self.flat_index, self.spatial_axis, self.rank = flat_index, spatial_axis, x.ndim - 2
        return kernels.max_unpool_forward(x, flat_index, output_shape, spatial_axis, self.rank)

    def backward(self, grad):
        return (kernels.max_unpool_backward(grad, self.flat_index, self.spatial_axis, self.rank),)


# ----- public ops ---------------------------------------------------------------------------------
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None, *, ceil_mode=False):
    """Max pooling over 1-D, 2-D or 3-D windows (Keras's ``ops.max_pool``; PyTorch's ``max_pool*d``).

    Args:
        inputs: ``(batch, *spatial, channels)`` (channels_last, default) or ``(batch, channels,
            *spatial)``; rank 3, 4 or 5 selects 1-D, 2-D or 3-D pooling.
        pool_size: window size, an int or one int per spatial axis.
        strides: step, an int or one per axis; None (default) means ``pool_size``.
        padding: 'valid', 'same' (TensorFlow's rule), or explicit: an int, one int per axis, or
            ``(before, after)`` pairs, each at most half the pool. Pads never win the maximum.
        data_format: 'channels_last' or 'channels_first' (None: channels_last).
        ceil_mode: keep a last, partial window (PyTorch's ``ceil_mode``).

    Returns:
        A Tensor; its gradient goes to the first maximum of each window (as PyTorch).

    Shape:
        Per spatial axis of size ``n``: ``'same'``: ``ceil(n / stride)``; otherwise
        ``floor((n + pad_before + pad_after - pool) / stride) + 1`` (``ceil`` instead of ``floor``
        with ``ceil_mode``, dropping a last window that would start in the trailing padding).

    Raises:
        ValueError: wrong rank, non-positive sizes, unknown padding or data_format, padding over half
            the pool, a pool larger than the padded input. TypeError: integer or non-numeric input.

    Example:
        >>> import numpy as np
        >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
        >>> max_pool(x, 2).numpy()[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """
    tensor, geometry = _windowed(inputs, pool_size, strides, padding, data_format, ceil_mode)
    return _MaxPool.apply(tensor, geometry=geometry)


def max_pool_with_argmax(inputs, pool_size, strides=None, padding="valid", data_format=None, *, ceil_mode=False):
    """``max_pool`` that also returns where each maximum came from (PyTorch's ``return_indices``).

    Args:
        As ``max_pool``.

    Returns:
        ``(output, indices)``: ``output`` as ``max_pool``; ``indices`` an int64 Tensor of the same
        shape holding, for each output, the flat index of its winning cell within that channel's
        spatial plane of the input (``h * width + w`` in 2-D), the input to ``max_unpool``.

    Shape:
        As ``max_pool``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1.0], [3.0], [2.0], [0.0]]], dtype="float32")   # (1, 4, 1)
        >>> output, indices = max_pool_with_argmax(x, 2)
        >>> output.numpy().ravel(), indices.numpy().ravel()
        (array([3., 2.], dtype=float32), array([1, 2]))
    """
    tensor, geometry = _windowed(inputs, pool_size, strides, padding, data_format, ceil_mode)
    sink = []
    output = _MaxPool.apply(tensor, geometry=geometry, indices_sink=sink)
    return output, Tensor(sink[0])


def average_pool(
    inputs, pool_size, strides=None, padding="valid", data_format=None, *, ceil_mode=False, count_include_pad=False
):
    """Average pooling over 1-D, 2-D or 3-D windows (Keras's ``ops.average_pool``; PyTorch's ``avg_pool*d``).

    Args:
        inputs, pool_size, strides, padding, data_format, ceil_mode: as ``max_pool``.
        count_include_pad: with explicit (or 'same') padding, divide by the cells inside the padded
            input, as PyTorch's default ``True``; cnnkit's default ``False`` divides by the real
            input cells only, as Keras/TensorFlow do for 'same'. Cells that ``ceil_mode`` adds beyond
            the padded input never count.

    Returns:
        A Tensor.

    Shape:
        As ``max_pool``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
        >>> average_pool(x, 2, padding="same").numpy()[0, :, :, 0]    # the edges average 2 or 1 cells
        array([[2. , 3.5],
               [6.5, 8. ]], dtype=float32)
    """
    count_include_pad = _check_flag(count_include_pad, "count_include_pad")
    tensor, geometry = _windowed(inputs, pool_size, strides, padding, data_format, ceil_mode)
    if is_grad_enabled():
        # tanh then exact-tiling pool (LeNet-5): one Function whose backward fuses both derivatives
        fused = _tanh_average_pool(tensor, geometry)
        if fused is not None:
            return fused
    return _AveragePool.apply(tensor, geometry=geometry, count_include_pad=count_include_pad)


def lp_pool(inputs, norm_type, pool_size, strides=None, padding="valid", data_format=None, *, ceil_mode=False):
    """Power-average (LP) pooling, computed exactly as PyTorch's ``lp_pool*d``.

    ``(sum over the window of x ** p) ** (1 / p)``, computed as PyTorch does: an average pool of
    ``x ** p`` that counts padding, times ``prod(pool_size)``, to the power ``1 / p``. So, like
    PyTorch: a window whose power sum is zero has a zero gradient; a partial ``ceil_mode`` window is
    scaled by ``prod(pool_size) / cells``; negative inputs with a fractional ``p`` give NaN;
    ``p = inf`` is max pooling of ``|x|`` (``-inf``: its minimum).

    Args:
        inputs, pool_size, strides, padding, data_format, ceil_mode: as ``max_pool`` (PyTorch has
            no padding here; with padding the pads add nothing to the sum).
        norm_type: ``p``, a non-zero number or ``±inf``.

    Returns:
        A Tensor.

    Shape:
        As ``max_pool``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[3.0], [4.0]]], dtype="float32")          # (1, 2, 1)
        >>> lp_pool(x, 2, 2).numpy().ravel()
        array([5.], dtype=float32)
    """
    if isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"`norm_type` must be a number (the p of the p-norm). Received: norm_type={norm_type!r}")
    norm_type = float(norm_type)
    if norm_type == 0 or math.isnan(norm_type):
        raise ValueError(f"`norm_type` must be a non-zero number or +-inf. Received: norm_type={norm_type!r}")
    tensor, geometry = _windowed(inputs, pool_size, strides, padding, data_format, ceil_mode)
    if math.isinf(norm_type):
        if norm_type > 0:
            return _MaxPool.apply(abs(tensor), geometry=geometry)
        return -_MaxPool.apply(-abs(tensor), geometry=geometry)
    exponent = int(norm_type) if norm_type.is_integer() else norm_type
    powered = tensor**exponent
    pooled = _AveragePool.apply(powered, geometry=geometry, count_include_pad=True)
    return _LpRoot.apply(pooled, scale=int(np.prod(geometry.pool_size)), exponent=1.0 / norm_type)


def global_average_pool(inputs, data_format=None, keepdims=False):
    """Mean over all spatial axes (Keras's ``GlobalAveragePooling*D``).

    Args:
        inputs: ``(batch, *spatial, channels)`` or channels_first; rank 3, 4 or 5.
        data_format: 'channels_last' or 'channels_first' (None: channels_last).
        keepdims: keep the spatial axes with size 1.

    Returns:
        A Tensor.

    Shape:
        ``(batch, channels)``, or with ``keepdims`` ``(batch, 1, ..., 1, channels)`` (channels_first:
        ``(batch, channels, 1, ..., 1)``).

    Example:
        >>> import numpy as np
        >>> x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
        >>> global_average_pool(x).numpy()
        array([[3., 4.]], dtype=float32)
    """
    keepdims = _check_flag(keepdims, "keepdims")
    tensor, data_format, spatial_axis = _prepare_input(inputs, data_format)
    axes = tuple(range(spatial_axis, spatial_axis + tensor.ndim - 2))
    if any(tensor.shape[axis] == 0 for axis in axes):
        raise ValueError(
            f"global_average_pool needs non-empty spatial axes. Received: inputs with shape {tensor.shape}"
        )
    return tensor.mean(axis=axes, keepdims=keepdims)


def global_max_pool(inputs, data_format=None, keepdims=False):
    """Maximum over all spatial axes (Keras's ``GlobalMaxPooling*D``); the gradient goes to the
    first maximum in row-major order, as ``max_pool`` (and PyTorch's ``adaptive_max_pool`` to 1).

    Args:
        As ``global_average_pool``.

    Returns:
        A Tensor.

    Shape:
        As ``global_average_pool``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
        >>> global_max_pool(x, keepdims=True).shape
        (1, 1, 1, 2)
    """
    keepdims = _check_flag(keepdims, "keepdims")
    tensor, data_format, spatial_axis = _prepare_input(inputs, data_format)
    if any(size == 0 for size in tensor.shape[spatial_axis:spatial_axis + tensor.ndim - 2]):
        raise ValueError(f"global_max_pool needs non-empty spatial axes. Received: inputs with shape {tensor.shape}")
    return _GlobalMaxPool.apply(tensor, spatial_axis=spatial_axis, keepdims=keepdims)


def _adaptive_as_windows(input_size, output_size, spatial_axis):
    """When every axis divides evenly, adaptive bins are plain windows (pool = stride = n / out)."""
    if any(size % out for size, out in zip(input_size, output_size)):
        return None
    pool = tuple(size // out for size, out in zip(input_size, output_size))
    return kernels.PoolGeometry(spatial_axis, tuple(input_size), pool, pool, ((0, 0),) * len(pool), tuple(output_size))


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a given output size, with PyTorch's bins (``adaptive_avg_pool*d``).

    Output cell ``i`` along an axis of size ``n`` averages input cells ``floor(i * n / out)`` up to
    ``ceil((i + 1) * n / out)`` (exclusive); bins may overlap when ``n`` is not a multiple of ``out``.

    Args:
        inputs: ``(batch, *spatial, channels)`` or channels_first; rank 3, 4 or 5.
        output_size: an int or one per spatial axis (None keeps that axis).
        data_format: 'channels_last' or 'channels_first' (None: channels_last).

    Returns:
        A Tensor.

    Shape:
        Spatial sizes become ``output_size``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(5, dtype="float32").reshape(1, 5, 1)
        >>> adaptive_average_pool(x, 3).numpy().ravel()          # bins [0,2) [1,4) [3,5)
        array([0.5, 2. , 3.5], dtype=float32)
    """
    tensor, data_format, spatial_axis = _prepare_input(inputs, data_format)
    input_size = tuple(tensor.shape[spatial_axis:])[: tensor.ndim - 2]
    output_size = _normalize_output_size(output_size, input_size)
    geometry = _adaptive_as_windows(input_size, output_size, spatial_axis)
    if geometry is not None:
        return _AveragePool.apply(tensor, geometry=geometry, count_include_pad=False)
    return _AdaptiveAveragePool.apply(tensor, spatial_axis=spatial_axis, output_size=output_size)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a given output size, with PyTorch's bins (``adaptive_max_pool*d``).

    Bins as ``adaptive_average_pool``; the gradient goes to the first maximum of each bin.

    Args:
        As ``adaptive_average_pool``.

    Returns:
        A Tensor.

    Shape:
        Spatial sizes become ``output_size``.

    Example:
        >>> import numpy as np
        >>> x = np.array([1, 5, 2, 4, 3], dtype="float32").reshape(1, 5, 1)
        >>> adaptive_max_pool(x, 3).numpy().ravel()               # bins [0,2) [1,4) [3,5)
        array([5., 5., 4.], dtype=float32)
    """
    tensor, data_format, spatial_axis = _prepare_input(inputs, data_format)
    input_size = tuple(tensor.shape[spatial_axis:])[: tensor.ndim - 2]
    output_size = _normalize_output_size(output_size, input_size)
    geometry = _adaptive_as_windows(input_size, output_size, spatial_axis)
    if geometry is not None:
        return _MaxPool.apply(tensor, geometry=geometry)
    return _AdaptiveMaxPool.apply(tensor, spatial_axis=spatial_axis, output_size=output_size)


def max_unpool(inputs, indices, pool_size, strides=None, padding="valid", output_size=None, data_format=None):
    """Partial inverse of ``max_pool_with_argmax`` (PyTorch's ``max_unpool*d``): every value goes
    back to the cell its index names; all other cells are zero.

    Args:
        inputs: pooled values, ``(batch, *spatial, channels)`` or channels_first.
        indices: integers of the same shape, as returned by ``max_pool_with_argmax``: flat indices
            into each channel's output plane.
        pool_size, strides: the pooling's window and step (strides default to ``pool_size``).
        padding: the pooling's padding: 'valid', an int, one int per axis or ``(before, after)``
            pairs; 'same' makes the default output ``n * stride``.
        output_size: spatial output sizes, to undo a pooling whose input size is ambiguous (any size
            strictly within ``stride`` of the default, as PyTorch allows).
        data_format: 'channels_last' or 'channels_first' (None: channels_last).

    Returns:
        A Tensor; its gradient gathers the output gradient at each index.

    Shape:
        Default spatial size per axis: ``(n - 1) * stride + pool - pad_before - pad_after``.

    Raises:
        ValueError: indices of another shape, indices outside the output plane, an output_size out of
            range, plus the checks of ``max_pool``. TypeError: non-integer indices.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1.0], [3.0], [2.0], [0.0]]], dtype="float32")
        >>> output, indices = max_pool_with_argmax(x, 2)
        >>> max_unpool(output, indices, 2).numpy().ravel()
        array([0., 3., 2., 0.], dtype=float32)
    """
    tensor, data_format, spatial_axis = _prepare_input(inputs, data_format)
    rank = tensor.ndim - 2
    index_array = indices.data if isinstance(indices, Tensor) else indices
    if not hasattr(index_array, "dtype"):
        index_array = np.asarray(index_array)
    if not np.issubdtype(index_array.dtype, np.integer):
        raise TypeError(
            "`indices` must hold integers (as returned by max_pool_with_argmax). "
            f"Received: indices with dtype {index_array.dtype}"
        )
    if tuple(index_array.shape) != tuple(tensor.shape):
        raise ValueError(
            f"`indices` must have the shape of `inputs` {tuple(tensor.shape)}. Received: indices with shape "
            f"{tuple(index_array.shape)}"
        )
    pool_size = standardize_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else standardize_tuple(strides, rank, "strides")
    normalized = _normalize_padding(padding, rank)
    input_size = tuple(tensor.shape[spatial_axis:spatial_axis + rank])
    if normalized == "same":
        default = tuple(size * stride for size, stride in zip(input_size, strides))
    else:
        pads = ((0, 0),) * rank if normalized == "valid" else normalized
        default = tuple(
            transpose_output_size(size, pool, stride, 1, before, after)
            for size, pool, stride, (before, after) in zip(input_size, pool_size, strides, pads)
        )
    if output_size is None:
        spatial = default
        if any(size < 1 for size in spatial):
            raise ValueError(
                f"max_unpool's default output size {spatial} is empty; check pool_size, strides and padding. "
                f"Received: padding={padding!r}"
            )
    else:
        spatial = standardize_tuple(output_size, rank, "output_size")
        for size, expected, stride in zip(spatial, default, strides):
            if not expected - stride < size < expected + stride:
                raise ValueError(
                    f"`output_size` must lie strictly within `strides` of the default size {default} on every "
                    f"axis. Received: output_size={output_size!r}"
                )
    plane = int(np.prod(spatial))
    if index_array.size and (int(index_array.min()) < 0 or int(index_array.max()) >= plane):
        raise ValueError(
            f"`indices` must lie in [0, {plane}) (the output plane {spatial}). Received: indices from "
            f"{int(index_array.min())} to {int(index_array.max())}"
        )
    first = tuple(tensor.shape[:spatial_axis])
    output_shape = first + spatial + tuple(tensor.shape[spatial_axis + rank:])
    return _MaxUnpool.apply(
        tensor,
        flat_index=index_array.astype(np.int64, copy=False),
        output_shape=output_shape,
        spatial_axis=spatial_axis,
    )
