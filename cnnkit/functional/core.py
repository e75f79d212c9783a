"""Core tensor operations of a network outside convolution and pooling: ``dense`` (a fused
matrix product plus bias), ``dropout``, ``flatten``, ``reshape`` and ``zero_padding``, with the
semantics of the Keras layers that use them (Dense, Dropout, Flatten, Reshape, ZeroPadding1D/2D/3D).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import autograd, random
from ..autograd import Function, Tensor
from ..backend import get_array_module
from .arguments import check_rank, ensure_float_tensor, normalize_data_format

__all__ = ["dense", "dropout", "flatten", "reshape", "zero_padding"]


class Dense(Function):
    """``inputs @ kernel (+ bias)`` over any leading axes, as one matrix product.

    Leading axes are folded into the rows, so the forward and both weight gradients are single
    BLAS calls; only the gradients that are needed are computed (none for a network's input).
    """

    def forward(self, inputs, kernel, *bias):
        self.inputs, self.kernel = inputs, kernel
        self.has_bias = bool(bias)
        rows = inputs.reshape(-1, inputs.shape[-1])
        output = rows @ kernel
        if bias:
            if bias[0].dtype == output.dtype:
                output += bias[0]
            else:
                output = output + bias[0]
        return output.reshape(inputs.shape[:-1] + (kernel.shape[1],))

    def backward(self, grad):
        grad_rows = grad.reshape(-1, grad.shape[-1])
        grad_inputs = grad_kernel = grad_bias = None
        if self.needs_input_grad[0]:
            grad_inputs = (grad_rows @ self.kernel.T).reshape(self.inputs.shape)
        if self.needs_input_grad[1]:
            grad_kernel = self.inputs.reshape(-1, self.inputs.shape[-1]).T @ grad_rows
        if self.has_bias and self.needs_input_grad[2]:
            # einsum sums a tall, narrow array several times faster than .sum(axis=0)
            grad_bias = get_array_module(grad_rows).einsum("ij->j", grad_rows)
        if self.has_bias:
            return grad_inputs, grad_kernel, grad_bias
        return grad_inputs, grad_kernel


def dense(inputs, kernel, bias=None):
    """Fully connected layer: ``inputs @ kernel + bias`` along the last axis.

    Args:
        inputs: ``(..., in_features)`` floats; any number of leading axes (at least one axis).
        kernel: ``(in_features, units)`` (Keras's Dense layout).
        bias: ``(units,)`` or None.

    Returns:
        A Tensor of shape ``(..., units)``.

    Raises:
        ValueError: a kernel that is not 2-D, ``in_features`` that differ, a bias of the wrong shape.

    Example:
        >>> import numpy as np
        >>> dense(np.ones((2, 3), "float32"), np.ones((3, 4), "float32"), bias=np.zeros(4, "float32")).shape
        (2, 4)
    """
    inputs = ensure_float_tensor(inputs, "inputs")
    kernel = ensure_float_tensor(kernel, "kernel")
    # The shapes are read once: this runs for every Dense layer on every step.
    input_shape, kernel_shape = inputs.data.shape, kernel.data.shape
    if not input_shape:
        raise ValueError(f"`inputs` must have at least one axis (features). Received: inputs.shape={input_shape}")
    if len(kernel_shape) != 2:
        check_rank(kernel, (2,), "kernel", "(in_features, units)")
    if input_shape[-1] != kernel_shape[0]:
        raise ValueError(
            f"The last axis of `inputs` ({input_shape[-1]} features) must equal kernel.shape[0] "
            f"({kernel_shape[0]}). Received: inputs.shape={input_shape}, kernel.shape={kernel_shape}"
        )
    if bias is None:
        return Dense.apply(inputs, kernel)
    bias = ensure_float_tensor(bias, "bias")
    if bias.data.shape != (kernel_shape[1],):
        raise ValueError(
            f"`bias` must have shape (units,) = ({kernel_shape[1]},). Received: bias.shape={bias.shape}"
        )
    return Dense.apply(inputs, kernel, bias)


class ScaleByMask(Function):
    """Multiply by a constant array (dropout's scaled keep-mask); the gradient is scaled likewise."""

    def forward(self, inputs, scale):
        self.scale = scale
        return inputs * scale

    def backward(self, grad):
        return (grad * self.scale,)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each entry with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    Always drops (the Dropout layer decides when: only in training), so the expected value of each
    entry is unchanged. As Keras, an entry is kept where a uniform draw is below ``1 - rate``.

    Args:
        inputs: floats of any shape.
        rate: the drop probability, in [0, 1]. 0 returns ``inputs`` untouched; 1 returns zeros.
        noise_shape: the shape of the keep-mask, broadcast against ``inputs`` (e.g.
            ``(batch, 1, 1, channels)`` drops whole feature maps); None entries take the input's size.
        seed: an int for a private generator, a ``numpy.random.Generator``, or None to draw from
            ``cnnkit.random.get_rng()`` (so ``cnnkit.random.set_seed`` makes runs repeatable).

    Example:
        >>> import numpy as np
        >>> output = dropout(np.ones((2, 1000), "float32"), rate=0.5, seed=1).numpy()
        >>> sorted(set(output.ravel().tolist()))
        [0.0, 2.0]
    """
    inputs = ensure_float_tensor(inputs, "inputs")
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Real) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"`rate` must be a number in [0, 1]. Received: rate={rate!r}")
    if seed is None:
        generator = random.get_rng()
    elif isinstance(seed, np.random.Generator):
        generator = seed
    elif isinstance(seed, (numbers.Integral, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        generator = np.random.default_rng(int(seed))
    else:
        raise ValueError(f"`seed` must be None, a non-negative int or a numpy Generator. Received: seed={seed!r}")
    mask_shape = _noise_shape(noise_shape, inputs.shape)
    if rate == 0.0:
        return inputs
    xp = get_array_module(inputs.data)
    keep_probability = 1.0 - float(rate)
    if keep_probability == 0.0:
        return ScaleByMask.apply(inputs, scale=xp.zeros(mask_shape, dtype=inputs.dtype))
    draws = generator.random(mask_shape, dtype=np.float32 if inputs.dtype == np.float32 else np.float64)
    scale = (draws < keep_probability).astype(inputs.dtype)
    scale *= 1.0 / keep_probability
    return ScaleByMask.apply(inputs, scale=xp.asarray(scale))


def _noise_shape(noise_shape, input_shape):
    if noise_shape is None:
        return tuple(input_shape)
    try:
        entries = tuple(noise_shape)
    except TypeError:
        raise TypeError(f"`noise_shape` must be a tuple of ints (or None entries). Received: noise_shape={noise_shape!r}") from None
    if len(entries) != len(input_shape):
        raise ValueError(
            f"`noise_shape` must have one entry per input axis ({len(input_shape)}). "
            f"Received: noise_shape={noise_shape!r} for inputs of shape {tuple(input_shape)}"
        )
    shape = tuple(size if entry is None else entry for entry, size in zip(entries, input_shape))
    for entry, size in zip(shape, input_shape):
        if isinstance(entry, bool) or not isinstance(entry, (numbers.Integral, np.integer)) or entry not in (1, size):
            raise ValueError(
                f"`noise_shape` must broadcast to the inputs' shape {tuple(input_shape)}: each entry 1, None "
                f"or the input's size. Received: noise_shape={noise_shape!r}"
            )
    return tuple(int(entry) for entry in shape)


def _as_tensor(inputs, name: str = "inputs") -> Tensor:
    """``inputs`` as a Tensor of numbers (any numeric dtype), or a TypeError naming the value."""
    if isinstance(inputs, Tensor):
        tensor = inputs
    elif inputs is None or isinstance(inputs, (str, bytes)):
        raise TypeError(f"`{name}` must be an array or Tensor. Received: {name}={inputs!r}")
    else:
        try:
            tensor = Tensor(inputs)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"`{name}` must be an array or Tensor. Received: {name} of type {type(inputs).__name__} ({error})"
            ) from None
    if not (np.issubdtype(tensor.dtype, np.number) or tensor.dtype == np.bool_):
        raise TypeError(f"`{name}` must hold numbers. Received: {name} with dtype {tensor.dtype}")
    return tensor


def flatten(inputs, data_format=None):
    """Flatten every axis after the batch axis: ``(batch, ...) -> (batch, prod(...))``.

    With ``data_format='channels_first'`` the channel axis is first moved last, so that the
    flattened features come in the same (channels-last) order as for the same data stored
    channels-last: Keras's Flatten does this, and it keeps Dense weights interchangeable between the
    two layouts. A 1-D input ``(batch,)`` becomes ``(batch, 1)``.

    Example:
        >>> import numpy as np
        >>> flatten(np.zeros((2, 3, 4, 5), "float32")).shape
        (2, 60)
    """
    inputs = _as_tensor(inputs)
    data_format = normalize_data_format(data_format)
    if inputs.ndim < 1:
        raise ValueError(f"`inputs` must have a batch axis. Received: inputs.shape={inputs.shape}")
    if data_format == "channels_first" and inputs.ndim > 2:
        inputs = inputs.transpose((0, *range(2, inputs.ndim), 1))
    features = math.prod(inputs.shape[1:])
    return inputs.reshape((inputs.shape[0], features))


def reshape(inputs, shape):
    """Give ``inputs`` a new shape with the same number of elements (``keras.ops.reshape``): the
    full shape, batch axis included; one entry may be -1.

    Example:
        >>> import numpy as np
        >>> reshape(np.zeros((2, 12), "float32"), (2, 3, -1)).shape
        (2, 3, 4)
    """
    inputs = _as_tensor(inputs)
    original = shape
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if isinstance(shape, (str, bytes)):
        raise TypeError(f"`shape` must be a tuple of ints. Received: shape={shape!r}")
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"`shape` must be a tuple of ints. Received: shape={shape!r}") from None
    for entry in shape:
        if isinstance(entry, bool) or not isinstance(entry, (numbers.Integral, np.integer)) or entry < -1:
            raise ValueError(
                f"`shape` must hold non-negative ints and at most one -1. Received: shape={original!r}"
            )
    if sum(1 for entry in shape if entry == -1) > 1:
        raise ValueError(f"`shape` can hold at most one -1. Received: shape={shape!r}")
    known = math.prod(int(entry) for entry in shape if entry != -1)
    if (-1 in shape and (known == 0 or inputs.size % known)) or (-1 not in shape and known != inputs.size):
        raise ValueError(
            f"Cannot reshape inputs of shape {tuple(inputs.shape)} ({inputs.size} elements) to shape "
            f"{shape}. Received: shape={shape!r}"
        )
    return inputs.reshape(tuple(int(entry) for entry in shape))


def zero_padding(inputs, padding, data_format=None):
    """Pad the spatial axes with zeros, as Keras's ZeroPadding1D/2D/3D (the rank of ``inputs``
    decides: 3-D, 4-D or 5-D including batch and channels).

    Args:
        inputs: ``(batch, *spatial, channels)`` (channels_last) or ``(batch, channels, *spatial)``, of
            any numeric dtype (as Keras, integers are padded too).
        padding: for 1-D, an int or ``(left, right)``; for 2-D and 3-D, an int (every side), a
            tuple of one int per spatial axis (symmetric on that axis), or a tuple of one
            ``(before, after)`` pair per spatial axis, e.g. ``((top, bottom), (left, right))``.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.

    Example:
        >>> import numpy as np
        >>> zero_padding(np.ones((1, 2, 2, 1), "float32"), ((1, 0), (2, 1))).shape
        (1, 3, 5, 1)
    """
    inputs = _as_tensor(inputs)
    data_format = normalize_data_format(data_format)
    check_rank(inputs, (3, 4, 5), "inputs", "(batch, *spatial, channels) with 1 to 3 spatial axes")
    spatial_rank = inputs.ndim - 2
    pads = _spatial_padding(padding, spatial_rank)
    if data_format == "channels_last":
        pad_width = ((0, 0),) + pads + ((0, 0),)
    else:
        pad_width = ((0, 0), (0, 0)) + pads
    return autograd.pad(inputs, pad_width)


def _spatial_padding(padding, spatial_rank: int):
    """Keras's ZeroPadding argument forms as a tuple of ``(before, after)`` pairs."""
    expected = (
        "an int or a tuple of 2 ints (left, right)"
        if spatial_rank == 1
        else f"an int, a tuple of {spatial_rank} ints, or a tuple of {spatial_rank} (before, after) pairs"
    )

    def as_amount(value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)) or value < 0:
            raise ValueError(f"`padding` must be {expected} of non-negative ints. Received: padding={padding!r}")
        return int(value)

    if isinstance(padding, (numbers.Integral, np.integer)) and not isinstance(padding, (bool, np.bool_)):
        amount = as_amount(padding)
        return ((amount, amount),) * spatial_rank
    try:
        entries = tuple(padding)
    except TypeError:
        raise ValueError(f"`padding` must be {expected}. Received: padding={padding!r}") from None
    if spatial_rank == 1:
        if len(entries) == 1 and not isinstance(entries[0], (numbers.Integral, np.integer)):
            entries = tuple(entries[0])  # ((left, right),)
        if len(entries) != 2:
            raise ValueError(f"`padding` must be {expected}. Received: padding={padding!r}")
        return ((as_amount(entries[0]), as_amount(entries[1])),)
    if len(entries) != spatial_rank:
        raise ValueError(f"`padding` must be {expected}. Received: padding={padding!r}")
    pairs = []
    for entry in entries:
        if isinstance(entry, (numbers.Integral, np.integer)) and not isinstance(entry, (bool, np.bool_)):
            amount = as_amount(entry)
            pairs.append((amount, amount))
            continue
        try:
            pair = tuple(entry)
        except TypeError:
            raise ValueError(f"`padding` must be {expected}. Received: padding={padding!r}") from None
        if len(pair) != 2:
            raise ValueError(f"`padding` must be {expected}. Received: padding={padding!r}")
        pairs.append((as_amount(pair[0]), as_amount(pair[1])))
    return tuple(pairs)
