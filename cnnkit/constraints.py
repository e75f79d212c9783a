"""Weight constraints with Keras 3's names, formulas and defaults.

A constraint is a callable ``constraint(w) -> array``: a projection the optimizer applies to a
weight after every update (``variable.apply_constraint()``). Norms are taken over ``axis``
(default 0, as in Keras): for a Dense kernel ``(in, units)`` axis 0 constrains each unit's
incoming weights; for a Conv2D kernel ``(kh, kw, in, filters)`` use ``axis=[0, 1, 2]``.

- ``MaxNorm(max_value=2, axis=0)``: rescale where the norm exceeds ``max_value``.
- ``NonNeg()``: set negative entries to zero.
- ``UnitNorm(axis=0)``: norm 1.
- ``MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)``: norm clipped to a range,
  moved there at ``rate``.

The divisions add Keras's epsilon 1e-7 to the norm. ``get(identifier)`` resolves names,
config dicts, instances and callables.
"""
from __future__ import annotations

import numbers

import numpy as np

from .autograd import Tensor
from .backend import get_array_module
from .serialization import ConfigurableObject, deserialize_builtin, resolve_identifier, serialize_builtin

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg",
           "unit_norm", "min_max_norm", "get", "serialize", "deserialize"]

EPSILON = 1e-7


def _array(w):
    return w.data if isinstance(w, Tensor) else get_array_module(w).asarray(w)


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_axis(axis):
    """An int, or a non-empty list/tuple of ints (returned as a list, JSON-friendly)."""
    if _is_int(axis):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(_is_int(a) for a in axis):
        return [int(a) for a in axis]
    raise TypeError(f"`axis` must be an int or a list of ints. Received: axis={axis!r}")


def _check_number(value, name, minimum=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}. Received: {name}={value!r}")
    return value


def _norms(w, axis):
    xp = get_array_module(w)
    return xp.sqrt(xp.sum(w * w, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=True))


class Constraint(ConfigurableObject):
    """Base class: ``constraint(w)`` returns the projected array (same shape and dtype)."""

    def __call__(self, w):
        return _array(w)


class MaxNorm(Constraint):
    """Rescale slices whose L2 norm over ``axis`` exceeds ``max_value`` (default 2) down to it.

    Example:
        >>> MaxNorm(max_value=1.0)(np.array([[3.0], [4.0]], dtype="float32")).ravel()
        array([0.6, 0.8], dtype=float32)
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = _check_number(max_value, "max_value", minimum=0)
        self.axis = _check_axis(axis)

    def __call__(self, w):
        w = _array(w)
        xp = get_array_module(w)
        norms = _norms(w, self.axis)
        desired = xp.clip(norms, 0, self.max_value)
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Zero every negative entry.

    Example:
        >>> NonNeg()(np.array([-1.0, 2.0], dtype="float32")).tolist()
        [0.0, 2.0]
    """

    def __call__(self, w):
        w = _array(w)
        xp = get_array_module(w)
        return xp.where(w >= 0, w, xp.zeros((), dtype=w.dtype))


class UnitNorm(Constraint):
    """Divide each slice by its L2 norm over ``axis`` (default 0).

    Example:
        >>> UnitNorm()(np.array([[3.0], [4.0]], dtype="float32")).ravel()
        array([0.6, 0.8], dtype=float32)
    """

    def __init__(self, axis=0):
        self.axis = _check_axis(axis)

    def __call__(self, w):
        w = _array(w)
        return (w / (EPSILON + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's L2 norm over ``axis`` into ``[min_value, max_value]``.

    The new norm is ``rate * clip(norm, min_value, max_value) + (1 - rate) * norm``; ``rate=1``
    (default) enforces the range at once.

    Example:
        >>> weight = np.array([[3.0], [4.0]], dtype="float32")   # norm 5, brought down to 2
        >>> MinMaxNorm(min_value=1.0, max_value=2.0)(weight).ravel()
        array([1.2, 1.6], dtype=float32)
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _check_number(min_value, "min_value", minimum=0)
        self.max_value = _check_number(max_value, "max_value", minimum=0)
        if self.max_value < self.min_value:
            raise ValueError(
                f"`max_value` must not be below `min_value`. Received: min_value={min_value!r}, max_value={max_value!r}"
            )
        self.rate = _check_number(rate, "rate", minimum=0)
        self.axis = _check_axis(axis)

    def __call__(self, w):
        w = _array(w)
        xp = get_array_module(w)
        norms = _norms(w, self.axis)
        desired = self.rate * xp.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

REGISTRY = {
    "MaxNorm": MaxNorm, "max_norm": MaxNorm,
    "NonNeg": NonNeg, "non_neg": NonNeg,
    "UnitNorm": UnitNorm, "unit_norm": UnitNorm,
    "MinMaxNorm": MinMaxNorm, "min_max_norm": MinMaxNorm,
}


def serialize(constraint) -> dict:
    """Keras 3's config dict of a constraint of this module:
    ``{'module': 'keras.constraints', 'class_name': ..., 'config': {...}, 'registered_name': None}``
    (``get``/``deserialize`` accept it, and the short ``{'class_name', 'config'}`` form)."""
    return serialize_builtin(constraint, Constraint, "constraint", "keras.constraints")


def deserialize(config: dict) -> Constraint:
    """The constraint described by ``{'class_name': ..., 'config': {...}}`` (known names only)."""
    return deserialize_builtin(config, REGISTRY, "constraint")


def get(identifier):
    """Resolve a constraint identifier (Keras's ``constraints.get``).

    Example:
        >>> get("non_neg")
        NonNeg()
    """
    return resolve_identifier(identifier, Constraint, "constraint", deserialize)
