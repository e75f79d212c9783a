"""Reshaping layers: ZeroPadding1D, ZeroPadding2D and Reshape (Keras 3's arguments and defaults).

ZeroPadding adds rows and columns of zeros around the spatial axes; Reshape gives every sample a
new shape (the batch axis is kept; one entry may be -1).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import functional
from ..functional.arguments import normalize_data_format
from .base import InputSpec, Layer
from .convolutional import describe_axes, join_channels, split_channels

__all__ = ["ZeroPadding1D", "ZeroPadding2D", "Reshape"]


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _padding_pair(value, name: str, padding) -> tuple:
    """An int (both sides) or a (before, after) pair of non-negative ints."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(
            f"The {name} of `padding` must be an int or a tuple of 2 ints (before, after). "
            f"Received: padding={padding!r}"
        )
    if min(pair) < 0:
        raise ValueError(f"`padding` must be non-negative. Received: padding={padding!r}")
    return pair


class _ZeroPadding(Layer):
    """Zeros around ``rank`` spatial axes."""

    rank = 2

    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = self._standardize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2, description=describe_axes(self.rank, self.data_format))

    def _standardize_padding(self, padding) -> tuple:
        if self.rank == 1:
            return _padding_pair(padding, "value", padding)
        if _is_int(padding):
            return (_padding_pair(padding, "value", padding),) * self.rank
        if not isinstance(padding, (tuple, list)) or len(padding) != self.rank:
            raise ValueError(
                f"`padding` should be an int, a tuple of {self.rank} ints (symmetric per axis), or a tuple of "
                f"{self.rank} tuples of 2 ints ((top, bottom), (left, right)). Received: padding={padding!r}"
            )
        return tuple(_padding_pair(entry, f"entry {i} ", padding) for i, entry in enumerate(padding))

    def _pairs(self) -> tuple:
        return (self.padding,) if self.rank == 1 else self.padding

    def call(self, inputs):
        return functional.zero_padding(inputs, self._pairs(), data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        shape = self._check_input_shape(input_shape)
        spatial, channels = split_channels(shape, self.data_format)
        padded = tuple(None if size is None else size + before + after
                       for size, (before, after) in zip(spatial, self._pairs()))
        return join_channels(shape[0], padded, channels, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config


class ZeroPadding1D(_ZeroPadding):
    """Zeros at the start and end of the steps axis, Keras's ``ZeroPadding1D``.

    Args:
        padding: int (both ends, default 1) or ``(left, right)``.
        data_format: 'channels_last' (default, ``(batch, steps, channels)``) or 'channels_first'.

    Shape:
        ``(batch, steps, channels)`` -> ``(batch, steps + left + right, channels)``.

    Example:
        >>> ZeroPadding1D((1, 2))(np.ones((1, 3, 1), dtype="float32")).numpy().ravel().tolist()
        [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Rows and columns of zeros around each image, Keras's ``ZeroPadding2D``.

    Args:
        padding: int (every side), ``(symmetric_height, symmetric_width)`` or
            ``((top, bottom), (left, right))``; default ``(1, 1)``.
        data_format: 'channels_last' (default) or 'channels_first'.

    Shape:
        ``(batch, h, w, channels)`` -> ``(batch, h + top + bottom, w + left + right, channels)``.

    Example:
        >>> ZeroPadding2D(((1, 0), (2, 1)))(np.ones((1, 2, 2, 1), dtype="float32")).shape
        (1, 3, 5, 1)
    """

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class Reshape(Layer):
    """Give each sample a new shape, Keras's ``Reshape`` (the batch axis is kept).

    Args:
        target_shape: the new per-sample shape; one entry may be -1 (inferred).

    Shape:
        ``(batch, ...)`` -> ``(batch, *target_shape)``.

    Example:
        >>> Reshape((4, 4, 16))(np.zeros((2, 256), dtype="float32")).shape
        (2, 4, 4, 16)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if _is_int(target_shape):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (tuple, list)) or not all(_is_int(v) for v in target_shape):
            raise TypeError(f"`target_shape` must be a tuple of ints. Received: target_shape={target_shape!r}")
        target_shape = tuple(int(v) for v in target_shape)
        if target_shape.count(-1) > 1:
            raise ValueError(
                "The `target_shape` argument must not contain more than one `-1` value. "
                f"Received: target_shape={target_shape}"
            )
        if any(v < -1 or v == 0 for v in target_shape):
            raise ValueError(
                f"`target_shape` must hold positive sizes (and at most one -1). Received: target_shape={target_shape}"
            )
        self.target_shape = target_shape
        self.input_spec = InputSpec(min_ndim=1, description="(batch, ...)")

    def _resolved(self, input_shape) -> tuple:
        rest = input_shape[1:]
        if any(size is None for size in rest):
            return tuple(None if v == -1 else v for v in self.target_shape)
        total = math.prod(rest)
        known = math.prod(v for v in self.target_shape if v != -1)
        if -1 in self.target_shape:
            if total % known:
                raise ValueError(
                    f"Layer '{self.name}': cannot reshape inputs of shape {tuple(input_shape)} ({total} values per "
                    f"sample) to target_shape={self.target_shape}: {total} is not a multiple of {known}."
                )
            return tuple(total // known if v == -1 else v for v in self.target_shape)
        if known != total:
            raise ValueError(
                f"Layer '{self.name}': total size of the new array must be unchanged: inputs of shape "
                f"{tuple(input_shape)} have {total} values per sample, target_shape={self.target_shape} has {known}."
            )
        return self.target_shape

    def call(self, inputs):
        target = self._resolved((None,) + tuple(inputs.shape[1:]))
        return functional.reshape(inputs, (inputs.shape[0],) + target)

    def compute_output_shape(self, input_shape):
        shape = self._check_input_shape(input_shape)
        return (shape[0],) + self._resolved(shape)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config
