"""Argument checking and normalisation shared by every functional op.

Checks happen once, here at the functional layer, so that an error names the user's own argument
and value; the kernels below trust what they are given. Messages follow one pattern: what was
expected, then ``Received: name=value``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Tensor

DATA_FORMATS = ("channels_last", "channels_first")


def standardize_tuple(value, length: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """Turn an int or a sequence of ints into a tuple of ``length`` positive ints.

    Args:
        value: an int (repeated ``length`` times) or a sequence of ``length`` ints.
        length: the number of spatial axes.
        name: the argument's name, for the error message.
        allow_zero: accept 0 (for paddings and output paddings).

    Raises:
        TypeError: a value that is not an int or a sequence of ints.
        ValueError: a sequence of the wrong length, or a value below 1 (below 0 with allow_zero).

    Example:
        >>> standardize_tuple(3, 2, "kernel_size")
        (3, 3)
    """
    # Fast path for the common, already-standard argument (a layer passes its own validated tuple
    # on every call): a tuple of `length` plain ints in range is returned as it is. `type(...) is
    # int` (not isinstance) keeps bools, floats and NumPy integers on the full path below.
    if type(value) is tuple and len(value) == length:
        lowest = 0 if allow_zero else 1
        for item in value:
            if type(item) is not int or item < lowest:
                break
        else:
            return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an int or a tuple of {length} ints. Received: {name}={value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        values = (int(value),) * length
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise TypeError(
                f"`{name}` must be an int or a tuple of {length} ints. Received: {name}={value!r}"
            ) from None
        if len(values) != length:
            raise ValueError(
                f"`{name}` must be an int or a tuple of {length} ints (one per spatial axis). "
                f"Received: {name}={value!r}"
            )
        for item in values:
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, (numbers.Integral, np.integer)):
                raise TypeError(
                    f"`{name}` must hold ints only. Received: {name}={value!r} "
                    f"(with an item of type {type(item).__name__})"
                )
        values = tuple(int(item) for item in values)
    lowest = 0 if allow_zero else 1
    if any(item < lowest for item in values):
        expectation = "non-negative" if allow_zero else "positive"
        raise ValueError(f"`{name}` must be {expectation}. Received: {name}={value!r}")
    return values


def normalize_data_format(data_format) -> str:
    """``None`` means Keras's default ``'channels_last'``; anything else must be one of the two names."""
    if data_format is None:
        return "channels_last"
    if type(data_format) is str and data_format in DATA_FORMATS:  # already normalised (a layer's own setting): no lower() needed
        return data_format
    if isinstance(data_format, str) and data_format.lower() in DATA_FORMATS:
        return data_format.lower()
    raise ValueError(
        f"`data_format` must be 'channels_last' or 'channels_first'. Received: data_format={data_format!r}"
    )


def ensure_float_tensor(value, name: str) -> Tensor:
    """Return ``value`` as a floating-point Tensor, or raise a TypeError that names it.

    Integer, boolean, complex and object data are refused: convolution and pooling need floats.
    """
    # Fast path: a float Tensor (a layer's input or weight) is returned at once. The dtype's kind
    # letter 'f' is exactly NumPy's floating types, and reading it costs far less than
    # np.issubdtype, which matters because every op checks its inputs on every call.
    if isinstance(value, Tensor) and value.data.dtype.kind == "f":
        return value
    tensor = value if isinstance(value, Tensor) else None
    if tensor is None and (value is None or isinstance(value, (str, bytes))):
        raise TypeError(f"`{name}` must be an array of floats. Received: {name}={value!r}")
    if tensor is None:
        try:
            tensor = Tensor(value)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"`{name}` must be an array of floats. Received: {name} of type {type(value).__name__} ({error})"
            ) from None
    if tensor.dtype.kind != "f":
        raise TypeError(
            f"`{name}` must hold floating-point numbers (float32 or float64). Received: {name} with dtype "
            f"{tensor.dtype}. Convert it first, e.g. {name}.astype('float32')."
        )
    return tensor


def check_rank(tensor: Tensor, expected_ranks, name: str, description: str) -> None:
    """Raise a ValueError naming ``name`` when ``tensor.ndim`` is not in ``expected_ranks``.

    Args:
        description: what the axes mean, e.g. ``"(batch, height, width, channels)"``.
    """
    if tensor.ndim not in tuple(expected_ranks):
        ranks = " or ".join(f"{rank}-D" for rank in expected_ranks)
        raise ValueError(
            f"`{name}` must be {ranks} {description}. Received: {name} with shape {tuple(tensor.shape)}"
        )
