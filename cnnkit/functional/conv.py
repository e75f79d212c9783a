"""Convolution operations users call: conv, conv_transpose, depthwise_conv, separable_conv,
and the classic-vision pair convolve2d / correlate2d.

This module owns the argument checking and padding arithmetic of every convolution, and the
autograd Functions that wrap the kernels in ``cnnkit.kernels.conv``. Signatures follow Keras 3's
``keras.ops`` (kernel in Keras's layout, groups read from the kernel shape, ``data_format``
defaulting to ``'channels_last'``); keyword extras offer what PyTorch offers on top (``bias=``,
``padding_mode=``, explicit and asymmetric ``padding``). Internally every convolution runs
channels-last; ``channels_first`` tensors are viewed, not copied, into that layout.

Shape (per spatial axis, input length ``L_in``, kernel ``k``, stride ``s``, dilation ``d``,
padding ``before + after``; ``k_eff = d * (k - 1) + 1``):

- ``conv``: ``L_out = floor((L_in + before + after - k_eff) / s) + 1``; with ``'same'``
  (TensorFlow's rule) ``L_out = ceil(L_in / s)`` and the odd cell of padding goes at the end.
- ``conv_transpose``: ``L_out = (L_in - 1) * s + k_eff - before - after + output_padding``
  (explicit padding, PyTorch's rule); ``'valid'``: ``(L_in - 1) * s + max(k_eff, s)`` and
  ``'same'``: ``L_in * s`` when ``output_padding`` is None (Keras's rule, see conv_transpose).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..backend import get_array_module
from ..kernels.conv import (
    conv_backward_bias,
    conv_backward_depthwise,
    conv_backward_input,
    conv_backward_kernel,
    conv_backward_kernel_and_bias,
    conv_forward,
    conv_transpose_backward,
    is_depthwise,
    release_workspace,
)
from ..shapes import causal_padding, effective_kernel_size, same_padding, transpose_output_size
from .arguments import check_rank, ensure_float_tensor, normalize_data_format, standardize_tuple

__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv", "convolve2d", "correlate2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
_AXES_DESCRIPTION = {
    1: "(batch, length, channels)",
    2: "(batch, height, width, channels)",
    3: "(batch, depth, height, width, channels)",
}


# ----- autograd Functions --------------------------------------------------------------------
def _to_channels_last(array, channels_first):
    return get_array_module(array).moveaxis(array, 1, -1) if channels_first else array


def _to_channels_first(array, channels_first):
    return get_array_module(array).moveaxis(array, -1, 1) if channels_first else array


class Convolution(Function):
    """N-d convolution with a fused bias: ``conv(x, kernel) + bias``.

    Forward keeps the column matrix only when the kernel needs a gradient, and the kernel only
    when the input needs one; backward computes only the gradients asked for. The input gradient
    is a transposed convolution (``conv_backward_input``), the kernel gradient ``columns^T @ grad``
    and the bias gradient a sum. When the Function is dropped its column buffer goes back to the
    kernels' workspace for the next convolution.
    """

    def forward(self, x, kernel, bias=None, *, strides, dilation, padding, groups, channels_first):
        self.strides, self.dilation, self.padding = strides, dilation, padding
        self.groups, self.channels_first = groups, channels_first
        self.kernel_shape = kernel.shape
        x = _to_channels_last(x, channels_first)
        self.input_size = x.shape[1:-1]
        recording = is_grad_enabled()
        self.kernel = kernel if recording and self.needs_input_grad[0] else None
        if recording and self.needs_input_grad[1]:
            output, self.columns, self.columns_owned = conv_forward(
                x, kernel, strides, dilation, padding, groups, bias=bias, keep_columns=True
            )
        else:
            output = conv_forward(x, kernel, strides, dilation, padding, groups, bias=bias)
        return _to_channels_first(output, channels_first)

    def backward(self, grad):
        grad = _to_channels_last(grad, self.channels_first)
        grad_x = grad_kernel = grad_bias = None
        needs_bias = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        together = conv_backward_depthwise(  # all three in one sweep over grad (compiled depthwise only)
            grad, self.kernel, self.__dict__.get("columns"), self.kernel_shape, self.groups, self.input_size,
            self.strides, self.dilation, self.padding, self.needs_input_grad[0], self.needs_input_grad[1], needs_bias,
        ) if is_depthwise(self.kernel_shape, self.groups) else None
        if together is not None:
            grad_x, grad_kernel, grad_bias = together
            if grad_x is not None:
                grad_x = _to_channels_first(grad_x, self.channels_first)
            return (grad_x, grad_kernel, grad_bias)[: len(self.needs_input_grad)]
        if self.needs_input_grad[0]:
            grad_x = conv_backward_input(
                grad, self.kernel, self.input_size, self.strides, self.dilation, self.padding, self.groups
            )
            grad_x = _to_channels_first(grad_x, self.channels_first)
        if self.needs_input_grad[1] and needs_bias:  # one product for both where the forward folded the bias in
            grad_kernel, grad_bias = conv_backward_kernel_and_bias(
                grad, self.columns, self.kernel_shape, self.groups, self.strides, self.dilation
            )
        elif self.needs_input_grad[1]:
            grad_kernel = conv_backward_kernel(
                grad, self.columns, self.kernel_shape, self.groups, self.strides, self.dilation
            )
        elif needs_bias:
            grad_bias = conv_backward_bias(grad, use_blas=not is_depthwise(self.kernel_shape, self.groups))
        return (grad_x, grad_kernel, grad_bias)[: len(self.needs_input_grad)]

    def __del__(self):
        columns = self.__dict__.get("columns")
        if columns is not None and self.__dict__.get("columns_owned"):
            try:
                release_workspace(columns)
            except Exception:  # interpreter shutdown: nothing left to recycle into
                pass


class TransposedConvolution(Function):
    """Transposed convolution with a fused bias: the input gradient of a convolution, run forwards.

    ``kernel`` is in Keras's transposed layout ``(*k, filters, in_channels)``, which is exactly the
    layout of the convolution it transposes (from ``filters`` channels to ``in_channels``).
    Backward: the input gradient is that convolution applied to ``grad``, the kernel gradient
    ``columns(grad)^T @ x``, the bias gradient a sum.
    """

    def forward(self, x, kernel, bias=None, *, strides, dilation, padding, output_size, channels_first):
        self.strides, self.dilation, self.padding = strides, dilation, padding
        self.channels_first, self.kernel_shape = channels_first, kernel.shape
        x = _to_channels_last(x, channels_first)
        recording = is_grad_enabled()
        self.kernel = kernel if recording and self.needs_input_grad[0] else None
        self.x = x if recording and self.needs_input_grad[1] else None
        output = conv_backward_input(x, kernel, output_size, strides, dilation, padding)
        if bias is not None:
            output += bias  # conv_backward_input always returns a new array: no fresh copy needed
        return _to_channels_first(output, channels_first)

    def backward(self, grad):
        grad = _to_channels_last(grad, self.channels_first)
        grad_x, grad_kernel = conv_transpose_backward(
            grad, self.x, self.kernel, self.kernel_shape, self.strides, self.dilation, self.padding,
            need_input=self.needs_input_grad[0], need_kernel=self.needs_input_grad[1],
        )
        if grad_x is not None:
            grad_x = _to_channels_first(grad_x, self.channels_first)
        grad_bias = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            grad_bias = conv_backward_bias(grad)
        return (grad_x, grad_kernel, grad_bias)[: len(self.needs_input_grad)]


class PadWithMode(Function):
    """Padding by reflection, replication or wrap-around (PyTorch's padding modes).

    The backward adds each padded cell's gradient back to the cell it copied: per axis, the
    interior passes through, a reflected or wrapped border adds onto distinct source cells, and a
    replicated border sums onto the edge cell.
    """

    def forward(self, x, pad_width, mode):
        self.pad_width, self.mode = pad_width, mode
        return get_array_module(x).pad(x, pad_width, mode=_NUMPY_PAD_MODES[mode])

    def backward(self, grad):
        xp = get_array_module(grad)
        result = grad
        for axis, (before, after) in enumerate(self.pad_width):
            if before == 0 and after == 0:
                continue
            size = result.shape[axis] - before - after
            lead = (slice(None),) * axis
            summed = result[lead + (slice(before, before + size),)].copy()
            sources = xp.pad(xp.arange(size), (before, after), mode=_NUMPY_PAD_MODES[self.mode])
            for start, stop in ((0, before), (before + size, before + size + after)):
                if start == stop:
                    continue
                region = result[lead + (slice(start, stop),)]
                if self.mode == "replicate":
                    edge = int(sources[start])
                    summed[lead + (slice(edge, edge + 1),)] += region.sum(axis=axis, keepdims=True)
                else:  # reflect / circular: the sources of one border are distinct cells
                    summed[lead + (sources[start:stop],)] += region
            result = summed
        return (result,)


# ----- argument checks -----------------------------------------------------------------------
def _check_inputs_and_kernel(inputs, kernel, op_name, kernel_description):
    """Float tensors, inputs of rank 3-5, kernel of the same rank, same dtype, no empty axis."""
    x = ensure_float_tensor(inputs, "inputs")
    kernel = ensure_float_tensor(kernel, "kernel")
    check_rank(x, (3, 4, 5), "inputs", "(batch, *spatial, channels) or (batch, channels, *spatial)")
    num_spatial = x.ndim - 2
    if kernel.ndim != x.ndim:
        hint = " If `inputs` lacks its batch axis, add one, e.g. x[None]." if kernel.ndim == x.ndim + 1 else ""
        raise ValueError(
            f"`kernel` of {op_name} on {x.ndim}-D inputs {_AXES_DESCRIPTION[num_spatial]} must be "
            f"{x.ndim}-D {kernel_description}.{hint} Received: kernel.shape={tuple(kernel.shape)}, "
            f"inputs.shape={tuple(x.shape)}"
        )
    if kernel.dtype != x.dtype:
        raise TypeError(
            f"`kernel` and `inputs` of {op_name} must have the same dtype; convert one, e.g. "
            f"kernel.astype({str(x.dtype)!r}). Received: inputs.dtype={x.dtype}, kernel.dtype={kernel.dtype}"
        )
    # an empty batch is fine (an empty result, as in PyTorch); an empty image or kernel axis is not
    for name, tensor, axes in (("inputs", x, x.shape[1:]), ("kernel", kernel, kernel.shape)):
        if 0 in axes:
            raise ValueError(
                f"`{name}` of {op_name} must not have an empty {'spatial or channel ' if name == 'inputs' else ''}axis. "
                f"Received: {name}.shape={tuple(tensor.shape)}"
            )
    return x, kernel, num_spatial


def _check_bias(bias, size, dtype, op_name):
    if bias is None:
        return None
    bias = ensure_float_tensor(bias, "bias")
    if tuple(bias.shape) != (size,):
        raise ValueError(
            f"`bias` of {op_name} must have shape ({size},), one value per output channel. "
            f"Received: bias.shape={tuple(bias.shape)}"
        )
    if bias.dtype != dtype:
        raise TypeError(
            f"`bias` of {op_name} must have the dtype of `inputs` ({dtype}). Received: bias.dtype={bias.dtype}"
        )
    return bias


def _explicit_padding(padding, num_spatial):
    """An int, one int per axis, or one ``(before, after)`` pair per axis -> list of pairs.

    For 1-D, a bare pair ``(before, after)`` is also accepted.
    """
    expected = (
        f"`padding` must be 'valid', 'same', 'causal' (1-D only), a non-negative int, a tuple of "
        f"{num_spatial} non-negative ints or a tuple of {num_spatial} (before, after) pairs."
    )

    def is_int(value):
        return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))

    if is_int(padding):
        pairs = [(int(padding), int(padding))] * num_spatial
    else:
        try:
            items = tuple(padding)
        except TypeError:
            raise TypeError(f"{expected} Received: padding={padding!r}") from None
        if num_spatial == 1 and len(items) == 2 and all(is_int(item) for item in items):
            items = (items,)
        if len(items) != num_spatial:
            raise ValueError(f"{expected} Received: padding={padding!r}")
        pairs = []
        for item in items:
            if is_int(item):
                pairs.append((int(item), int(item)))
                continue
            try:
                pair = tuple(item)
            except TypeError:
                raise TypeError(f"{expected} Received: padding={padding!r}") from None
            if len(pair) != 2 or not all(is_int(value) for value in pair):
                raise TypeError(f"{expected} Received: padding={padding!r}")
            pairs.append((int(pair[0]), int(pair[1])))
    if any(before < 0 or after < 0 for before, after in pairs):
        raise ValueError(f"{expected} Received: padding={padding!r}")
    return pairs


def _conv_padding(padding, num_spatial, input_size, kernel_size, strides, dilation):
    """Resolve ``padding`` of a convolution into one ``(before, after)`` pair per spatial axis."""
    if isinstance(padding, str):
        name = padding.lower()
        if name == "valid":
            return [(0, 0)] * num_spatial
        if name == "same":
            return [same_padding(n, k, s, d) for n, k, s, d in zip(input_size, kernel_size, strides, dilation)]
        if name == "causal":
            if num_spatial != 1:
                raise ValueError(
                    f"`padding='causal'` is only defined for 1-D convolution (it pads the start of a "
                    f"sequence); use 'same', 'valid' or explicit pairs. Received: padding={padding!r} "
                    f"with {num_spatial}-D inputs"
                )
            return [causal_padding(kernel_size[0], dilation[0])]
        raise ValueError(
            "`padding` must be 'valid', 'same', 'causal' (1-D only), an int, a tuple of ints or a "
            f"tuple of (before, after) pairs. Received: padding={padding!r}"
        )
    return _explicit_padding(padding, num_spatial)


def _check_kernel_fits(input_size, kernel_size, dilation, pads, op_name, shapes_note):
    """``shapes_note``: the "Received: ..." text, or a function returning it (formatted only for an
    error: this check runs on every call)."""
    for axis, (size, k, d, (before, after)) in enumerate(zip(input_size, kernel_size, dilation, pads)):
        span = effective_kernel_size(k, d)
        if size + before + after < span:
            raise ValueError(
                f"The kernel of {op_name} is larger than the padded input along spatial axis {axis}: it "
                f"spans {span} cells (kernel size {k}, dilation {d}) but the input has {size} + "
                f"{before} + {after} (padding) = {size + before + after}. Use a smaller kernel or "
                f"dilation, or more padding ('same'). Received: "
                f"{shapes_note() if callable(shapes_note) else shapes_note}"
            )


def _check_padding_mode(padding_mode, pads, input_size):
    if not isinstance(padding_mode, str) or padding_mode.lower() not in PADDING_MODES:
        raise ValueError(
            f"`padding_mode` must be one of {', '.join(repr(m) for m in PADDING_MODES)}. "
            f"Received: padding_mode={padding_mode!r}"
        )
    mode = padding_mode.lower()
    for axis, (size, (before, after)) in enumerate(zip(input_size, pads)):
        if mode == "reflect" and max(before, after) >= size:
            raise ValueError(
                f"`padding_mode='reflect'` needs each padding width smaller than the input along that "
                f"axis (spatial axis {axis} has {size} cells). Received: padding=({before}, {after})"
            )
        if mode == "circular" and max(before, after) > size:
            raise ValueError(
                f"`padding_mode='circular'` needs each padding width at most the input size along that "
                f"axis (spatial axis {axis} has {size} cells). Received: padding=({before}, {after})"
            )
    return mode


def _spatial_shape(x, channels_first):
    return tuple(x.shape[2:]) if channels_first else tuple(x.shape[1:-1])


def _channels(x, channels_first):
    return x.shape[1] if channels_first else x.shape[-1]


# ----- public operations ---------------------------------------------------------------------
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1, *, bias=None, padding_mode="zeros"):
    """N-d convolution (cross-correlation, as in every deep-learning library), Keras's ``ops.conv``.

    One implementation serves 1-D, 2-D and 3-D inputs; the number of spatial axes comes from the
    rank of ``inputs``. Groups come from the kernel: ``groups = in_channels // kernel.shape[-2]``
    (a kernel with one input channel per group on a multi-channel input is a depthwise conv).

    Args:
        inputs: ``(batch, *spatial, in_channels)`` (channels_last) or
            ``(batch, in_channels, *spatial)`` (channels_first); float32 or float64.
        kernel: ``(*kernel_size, in_channels // groups, filters)``.
        strides: an int or one int per spatial axis.
        padding: ``'valid'`` (none), ``'same'`` (TensorFlow's rule: output ``ceil(L / stride)``,
            the odd extra cell of padding at the end; works with any stride and dilation),
            ``'causal'`` (1-D only: all padding at the start), an int, one int per axis, or one
            ``(before, after)`` pair per axis.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.
        dilation_rate: an int or one int per spatial axis.
        bias: optional ``(filters,)`` tensor, added inside the same Function.
        padding_mode: how padded cells are filled: ``'zeros'``, ``'reflect'``, ``'replicate'``
            or ``'circular'`` (as PyTorch's ``Conv2d``).

    Returns:
        A Tensor ``(batch, *out_spatial, filters)`` (or channels first).

    Shape:
        Per spatial axis: ``out = floor((L + before + after - dilation * (k - 1) - 1) / stride) + 1``.

    Raises:
        ValueError: wrong rank, channels not divisible by ``kernel.shape[-2]``, filters not
            divisible by the groups, a kernel larger than the padded input, an empty axis, an
            unknown padding, data_format or padding_mode, 'causal' on 2-D or 3-D inputs, a bias
            of the wrong shape.
        TypeError: integer, boolean or object data; dtypes that differ.

    Example:
        >>> import numpy as np
        >>> from cnnkit.functional import conv
        >>> x = np.ones((1, 5, 5, 1), dtype="float32")
        >>> w = np.ones((3, 3, 1, 2), dtype="float32")
        >>> conv(x, w, padding="same").shape
        (1, 5, 5, 2)
    """
    x, kernel, num_spatial = _check_inputs_and_kernel(
        inputs, kernel, "conv", "(*kernel_size, in_channels // groups, filters)"
    )
    channels_first = normalize_data_format(data_format) == "channels_first"
    channels = _channels(x, channels_first)
    group_channels, filters = kernel.shape[-2], kernel.shape[-1]
    def shapes_note():  # for error messages only
        return f"inputs.shape={tuple(x.shape)}, kernel.shape={tuple(kernel.shape)}, data_format={data_format!r}"

    if channels % group_channels != 0:
        raise ValueError(
            f"The input of conv has {channels} channels, which is not a multiple of the kernel's "
            f"input-channel axis kernel.shape[-2]={group_channels} (groups = in_channels // "
            f"kernel.shape[-2] must be a whole number). Check data_format and the kernel layout "
            f"(*kernel_size, in_channels // groups, filters). Received: {shapes_note()}"
        )
    groups = channels // group_channels
    if filters % groups != 0:
        raise ValueError(
            f"conv with {groups} groups needs a number of filters divisible by {groups}. "
            f"Received: filters={filters} (kernel.shape={tuple(kernel.shape)})"
        )
    strides = standardize_tuple(strides, num_spatial, "strides")
    dilation = standardize_tuple(dilation_rate, num_spatial, "dilation_rate")
    input_size = _spatial_shape(x, channels_first)
    kernel_size = tuple(kernel.shape[:-2])
    pads = _conv_padding(padding, num_spatial, input_size, kernel_size, strides, dilation)
    mode = _check_padding_mode(padding_mode, pads, input_size)
    _check_kernel_fits(input_size, kernel_size, dilation, pads, "conv", shapes_note)
    bias = _check_bias(bias, filters, x.dtype, "conv")
    if mode != "zeros" and any(before or after for before, after in pads):
        pad_width = ((0, 0),) + ((0, 0),) * channels_first + tuple(pads) + ((0, 0),) * (not channels_first)
        x = PadWithMode.apply(x, pad_width=pad_width, mode=mode)
        pads = [(0, 0)] * num_spatial
    operands = (x, kernel) if bias is None else (x, kernel, bias)
    return Convolution.apply(
        *operands, strides=strides, dilation=dilation, padding=tuple(pads), groups=groups, channels_first=channels_first
    )


def _keras_transpose_padding(padding, kernel_span, stride, output_padding):
    """Keras's rule for 'valid'/'same' transposed convolutions, as padding of the forward conv.

    Keras describes the transposed conv as a convolution of the stride-dilated input padded by
    ``(left, right)``; the equivalent forward convolution pads ``k_eff - 1 - left`` before and
    ``k_eff - 1 - right`` after (the after width may be negative: cells no window reads).
    """
    if padding == "valid":
        extra = max(kernel_span, stride) - kernel_span if output_padding is None else output_padding
        left, right = kernel_span - 1, kernel_span - 1 + extra
    else:
        if output_padding is None:
            total = stride + kernel_span - 2
        else:
            total = kernel_span + kernel_span % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, kernel_span - 1)
        right = total - left
    return kernel_span - 1 - left, kernel_span - 1 - right


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None, dilation_rate=1, *, bias=None):
    """Transposed convolution ("deconvolution"), Keras's ``ops.conv_transpose``.

    It is the input gradient of the convolution that maps its output back to its input, computed
    by the same machinery as ``conv``'s backward pass.

    Args:
        inputs: ``(batch, *spatial, in_channels)`` (or channels first).
        kernel: ``(*kernel_size, filters, in_channels)`` (Keras's transposed layout).
        strides, dilation_rate: an int or one int per spatial axis.
        padding: ``'valid'`` or ``'same'`` (Keras's output-length rule), or explicit padding as
            PyTorch's ``ConvTranspose``: an int, one int per axis, or one ``(before, after)`` pair
            per axis, removed from the full output.
        output_padding: None, an int or one int per axis: extra cells at the end of the output
            (each smaller than ``max(stride, dilation)``, as PyTorch requires).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.
        bias: optional ``(filters,)`` tensor.

    Returns:
        A Tensor ``(batch, *out_spatial, filters)`` (or channels first).

    Shape:
        With ``k_eff = dilation * (k - 1) + 1``, per spatial axis:
        explicit padding: ``out = (L - 1) * stride + k_eff - before - after + output_padding``;
        ``'valid'``: ``(L - 1) * stride + max(k_eff, stride)``, or
        ``(L - 1) * stride + k_eff + output_padding`` when given;
        ``'same'``: ``L * stride``, or ``(L - 1) * stride + k_eff % 2 + output_padding`` when given.

    Example:
        >>> import numpy as np
        >>> from cnnkit.functional import conv_transpose
        >>> x = np.ones((1, 28, 28, 3), dtype="float32")
        >>> w = np.ones((4, 4, 8, 3), dtype="float32")
        >>> conv_transpose(x, w, strides=2, padding="same").shape
        (1, 56, 56, 8)
    """
    x, kernel, num_spatial = _check_inputs_and_kernel(
        inputs, kernel, "conv_transpose", "(*kernel_size, filters, in_channels)"
    )
    channels_first = normalize_data_format(data_format) == "channels_first"
    channels = _channels(x, channels_first)
    filters = kernel.shape[-2]
    if kernel.shape[-1] != channels:
        raise ValueError(
            f"The kernel of conv_transpose must have kernel.shape[-1] equal to the input's {channels} "
            f"channels (layout (*kernel_size, filters, in_channels)). Received: "
            f"inputs.shape={tuple(x.shape)}, kernel.shape={tuple(kernel.shape)}, data_format={data_format!r}"
        )
    strides = standardize_tuple(strides, num_spatial, "strides")
    dilation = standardize_tuple(dilation_rate, num_spatial, "dilation_rate")
    if output_padding is not None:
        output_padding = standardize_tuple(output_padding, num_spatial, "output_padding", allow_zero=True)
        for op, s, d in zip(output_padding, strides, dilation):
            if op >= max(s, d):
                raise ValueError(
                    "`output_padding` must be smaller than the stride or the dilation along each axis "
                    f"(strides={strides}, dilation_rate={dilation}). Received: output_padding={output_padding}"
                )
    input_size = _spatial_shape(x, channels_first)
    kernel_size = tuple(kernel.shape[:-2])
    spans = [effective_kernel_size(k, d) for k, d in zip(kernel_size, dilation)]
    if isinstance(padding, str):
        name = padding.lower()
        if name not in ("valid", "same"):
            raise ValueError(
                "`padding` of conv_transpose must be 'valid', 'same', an int, a tuple of ints or a tuple "
                f"of (before, after) pairs. Received: padding={padding!r}"
            )
        pads = [
            _keras_transpose_padding(name, span, s, None if output_padding is None else op)
            for span, s, op in zip(spans, strides, output_padding or (None,) * num_spatial)
        ]
        extras = (0,) * num_spatial
    else:
        pads = _explicit_padding(padding, num_spatial)
        extras = output_padding or (0,) * num_spatial
        pads = [(before, after - extra) for (before, after), extra in zip(pads, extras)]
    output_size = tuple(
        transpose_output_size(n, k, stride=s, dilation=d, pad_before=before, pad_after=after)
        for n, k, s, d, (before, after) in zip(input_size, kernel_size, strides, dilation, pads)
    )
    if any(size < 1 for size in output_size):
        raise ValueError(
            f"conv_transpose would produce an empty output {output_size}: the padding removes more than "
            f"the full output. Received: padding={padding!r}, inputs.shape={tuple(x.shape)}, "
            f"kernel.shape={tuple(kernel.shape)}"
        )
    bias = _check_bias(bias, filters, x.dtype, "conv_transpose")
    operands = (x, kernel) if bias is None else (x, kernel, bias)
    return TransposedConvolution.apply(
        *operands, strides=strides, dilation=dilation, padding=tuple(pads), output_size=output_size,
        channels_first=channels_first,
    )


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1, *, bias=None):
    """Depthwise convolution, Keras's ``ops.depthwise_conv``: every input channel is convolved with
    its own ``depth_multiplier`` filters; output channel ``c * depth_multiplier + j``.

    It is ``conv`` with ``groups = in_channels`` and the kernel viewed as
    ``(*kernel_size, 1, in_channels * depth_multiplier)``.

    Args:
        inputs: ``(batch, *spatial, in_channels)`` (or channels first).
        kernel: ``(*kernel_size, in_channels, depth_multiplier)``.
        strides, padding, data_format, dilation_rate, bias: as ``conv`` (bias has
            ``in_channels * depth_multiplier`` values).

    Shape:
        As ``conv``, with ``in_channels * depth_multiplier`` output channels.

    Example:
        >>> import numpy as np
        >>> from cnnkit.functional import depthwise_conv
        >>> x = np.ones((2, 8, 8, 3), dtype="float32")
        >>> depthwise_conv(x, np.ones((3, 3, 3, 2), dtype="float32"), padding="same").shape
        (2, 8, 8, 6)
    """
    x, kernel, num_spatial = _check_inputs_and_kernel(
        inputs, kernel, "depthwise_conv", "(*kernel_size, in_channels, depth_multiplier)"
    )
    channels = _channels(x, normalize_data_format(data_format) == "channels_first")
    if kernel.shape[-2] != channels:
        raise ValueError(
            f"The kernel of depthwise_conv must have kernel.shape[-2] equal to the input's {channels} "
            f"channels (layout (*kernel_size, in_channels, depth_multiplier)). Received: "
            f"inputs.shape={tuple(x.shape)}, kernel.shape={tuple(kernel.shape)}, data_format={data_format!r}"
        )
    grouped = kernel.reshape(tuple(kernel.shape[:-2]) + (1, channels * kernel.shape[-1]))
    return conv(x, grouped, strides, padding, data_format, dilation_rate, bias=bias)


def separable_conv(
    inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None, dilation_rate=1, *, bias=None
):
    """Depthwise-separable convolution, Keras's ``ops.separable_conv``: a depthwise convolution
    followed by a 1x1 (pointwise) convolution that mixes the channels.

    Args:
        inputs: ``(batch, *spatial, in_channels)`` (or channels first).
        depthwise_kernel: ``(*kernel_size, in_channels, depth_multiplier)``.
        pointwise_kernel: ``(*(1,) * num_spatial, in_channels * depth_multiplier, filters)``.
        strides, padding, dilation_rate: of the depthwise step (the pointwise step has stride 1).
        bias: optional ``(filters,)``, added after the pointwise step.

    Shape:
        As ``conv`` with the depthwise kernel's size, ``filters`` output channels.

    Example:
        >>> import numpy as np
        >>> from cnnkit.functional import separable_conv
        >>> x = np.ones((2, 8, 8, 3), dtype="float32")
        >>> dw, pw = np.ones((3, 3, 3, 2), "float32"), np.ones((1, 1, 6, 4), "float32")
        >>> separable_conv(x, dw, pw).shape
        (2, 6, 6, 4)
    """
    x = ensure_float_tensor(inputs, "inputs")
    pointwise = ensure_float_tensor(pointwise_kernel, "pointwise_kernel")
    depthwise_output = depthwise_conv(x, depthwise_kernel, strides, padding, data_format, dilation_rate)
    mixed_channels = _channels(depthwise_output, normalize_data_format(data_format) == "channels_first")
    expected = (1,) * (x.ndim - 2) + (mixed_channels,)
    if pointwise.ndim != x.ndim or tuple(pointwise.shape[:-1]) != expected:
        raise ValueError(
            f"`pointwise_kernel` of separable_conv must have shape {expected + ('filters',)} (1x1, one row per "
            f"depthwise output channel). Received: pointwise_kernel.shape={tuple(pointwise.shape)}"
        )
    return conv(depthwise_output, pointwise, 1, "valid", data_format, 1, bias=bias)


def _classic_2d(image, kernel, mode, op_name, flip):
    image = ensure_float_tensor(image, "image")
    kernel = ensure_float_tensor(kernel, "kernel")
    check_rank(image, (2,), "image", "(height, width): one single-channel image")
    check_rank(kernel, (2,), "kernel", "(kernel_height, kernel_width)")
    if kernel.dtype != image.dtype:
        raise TypeError(
            f"`kernel` and `image` of {op_name} must have the same dtype. Received: image.dtype={image.dtype}, "
            f"kernel.dtype={kernel.dtype}"
        )
    if not isinstance(mode, str) or mode.lower() not in ("full", "valid", "same"):
        raise ValueError(f"`mode` of {op_name} must be 'full', 'valid' or 'same'. Received: mode={mode!r}")
    mode = mode.lower()
    for name, tensor in (("image", image), ("kernel", kernel)):
        if 0 in tensor.shape:
            raise ValueError(f"`{name}` of {op_name} must not be empty. Received: {name}.shape={tuple(tensor.shape)}")
    if mode == "valid" and any(k > n for k, n in zip(kernel.shape, image.shape)):
        raise ValueError(
            f"{op_name} with mode='valid' needs a kernel no larger than the image in each axis. "
            f"Received: image.shape={tuple(image.shape)}, kernel.shape={tuple(kernel.shape)}"
        )
    if mode == "full":
        pads = [(k - 1, k - 1) for k in kernel.shape]
    elif mode == "same":
        # scipy.signal centres 'same' in the full output: correlation starts at k // 2, true
        # convolution at (k - 1) // 2; as padding of a correlation these are the pairs below.
        pads = [(k // 2, (k - 1) // 2) if flip else ((k - 1) // 2, k // 2) for k in kernel.shape]
    else:
        pads = [(0, 0), (0, 0)]
    if flip:
        kernel = kernel[::-1, ::-1]
    height, width = image.shape
    output = conv(image.reshape(1, height, width, 1), kernel.reshape(kernel.shape + (1, 1)), padding=pads)
    return output.reshape(output.shape[1], output.shape[2])


def convolve2d(image, kernel, mode="full"):
    """True 2-D convolution of one image, as ``scipy.signal.convolve2d``: the kernel is flipped,
    ``out(i, j) = sum_p sum_q kernel[p, q] * image[i - p, j - q]`` (zeros outside the image).

    This is classic computer vision's convolution (the Sobel operator is written for it); a
    Conv2D layer computes ``correlate2d`` instead.

    Args:
        image: ``(height, width)`` floats.
        kernel: ``(kernel_height, kernel_width)`` floats.
        mode: ``'full'`` (every overlap), ``'valid'`` (kernel wholly inside) or ``'same'``
            (the image's size, centred on the full output as scipy does).

    Shape:
        full ``(H + kh - 1, W + kw - 1)``; valid ``(H - kh + 1, W - kw + 1)``; same ``(H, W)``.

    Example:
        >>> import numpy as np
        >>> from cnnkit.functional import convolve2d
        >>> convolve2d(np.eye(3), np.array([[1.0, 2.0]]), mode="valid").numpy()
        array([[2., 0.],
               [1., 2.],
               [0., 1.]])
    """
    return _classic_2d(image, kernel, mode, "convolve2d", flip=True)


def correlate2d(image, kernel, mode="full"):
    """2-D cross-correlation of one image, as ``scipy.signal.correlate2d``: the kernel slides
    unflipped, ``out(i, j) = sum_p sum_q kernel[p, q] * image[i + p, j + q]`` (what Conv2D computes).

    Args:
        image: ``(height, width)`` floats.
        kernel: ``(kernel_height, kernel_width)`` floats.
        mode: ``'full'``, ``'valid'`` or ``'same'`` (centred as scipy does).

    Shape:
        full ``(H + kh - 1, W + kw - 1)``; valid ``(H - kh + 1, W - kw + 1)``; same ``(H, W)``.

    Example:
        >>> import numpy as np
        >>> from cnnkit.functional import correlate2d
        >>> correlate2d(np.eye(3), np.array([[1.0, 2.0]]), mode="valid").numpy()
        array([[1., 0.],
               [2., 1.],
               [0., 2.]])
    """
    return _classic_2d(image, kernel, mode, "correlate2d", flip=False)
