"""Weight and activity regularizers with Keras 3's names, formulas and defaults.

A regularizer is a callable ``regularizer(x) -> scalar Tensor``: the penalty a layer adds to its
``losses`` for a weight (``kernel_regularizer=``) or for its output (``activity_regularizer=``).
The penalty is built from autograd operations, so its gradient reaches the weight.

- ``L1(l1=0.01)``: ``l1 * sum(|x|)``
- ``L2(l2=0.01)``: ``l2 * sum(x**2)``  (no factor 1/2, as in Keras)
- ``L1L2(l1=0.0, l2=0.0)``: both; the name ``'l1_l2'`` gives ``l1=l2=0.01`` as in Keras.
- ``OrthogonalRegularizer(factor=0.01, mode='rows')``

``get(identifier)`` resolves names (``'l2'``, ``'L2'``), config dicts, instances and callables.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .autograd import Tensor
from .serialization import ConfigurableObject, deserialize_builtin, resolve_identifier, serialize_builtin

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]


def _validate_factor(value, name: str) -> float:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (numbers.Real, np.floating, np.integer))
        or math.isinf(value)
        or math.isnan(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float. Received: {name}={value!r}"
        )
    return float(value)


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class Regularizer(ConfigurableObject):
    """Base class: ``regularizer(x)`` returns a scalar penalty Tensor."""

    def __call__(self, x):
        return Tensor(np.zeros((), dtype=_as_tensor(x).dtype))

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    Example:
        >>> float(L1(0.5)(np.array([1.0, -2.0], dtype="float32")))
        1.5
    """

    def __init__(self, l1=0.01):
        self.l1 = _validate_factor(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        return abs(_as_tensor(x)).sum() * self.l1

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x ** 2)``.

    Example:
        >>> float(L2(2.0)(np.ones((5, 5), dtype="float32")))
        50.0
    """

    def __init__(self, l2=0.01):
        self.l2 = _validate_factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = _as_tensor(x)
        return (x * x).sum() * self.l2

    def get_config(self) -> dict:
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)``; each factor defaults to 0.0 (the name ``'l1_l2'``: 0.01).

    Example:
        >>> float(L1L2(l1=1.0, l2=1.0)(np.array([-2.0], dtype="float32")))
        6.0
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validate_factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _validate_factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = _as_tensor(x)
        penalty = Tensor(np.zeros((), dtype=x.dtype))
        if self.l1:
            penalty = penalty + abs(x).sum() * self.l1
        if self.l2:
            penalty = penalty + (x * x).sum() * self.l2
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalise non-orthogonal rows (or columns) of a 2-D weight.

    ``factor * 0.5 * sum(|offdiag(N N^T)|) / (n (n - 1) / 2)`` where ``N`` holds the
    L2-normalised rows (``mode='rows'``) or columns (``mode='columns'``).

    Example:
        >>> float(OrthogonalRegularizer(factor=1.0)(np.eye(3, dtype="float32")))
        0.0
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _validate_factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(
                f'Invalid value for argument `mode`. Expected one of {{"rows", "columns"}}. Received: mode={mode!r}'
            )
        self.mode = mode

    def __call__(self, x):
        x = _as_tensor(x)
        if x.ndim != 2:
            raise ValueError(
                f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={tuple(x.shape)}"
            )
        if self.mode == "columns":
            x = x.transpose()
        squares = (x * x).sum(axis=1, keepdims=True)
        normalized = x / (squares + 1e-12) ** 0.5
        product = normalized @ normalized.transpose()
        size = x.shape[0]
        off_diagonal = 1.0 - np.eye(size, dtype=x.dtype)
        pairs = size * (size - 1) / 2.0
        return abs(product * off_diagonal).sum() * (self.factor * 0.5 / pairs)

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

REGISTRY = {
    "L1": L1, "l1": L1,
    "L2": L2, "l2": L2,
    "L1L2": L1L2, "l1l2": L1L2, "l1_l2": L1L2,
    "OrthogonalRegularizer": OrthogonalRegularizer, "orthogonal_regularizer": OrthogonalRegularizer,
}


def serialize(regularizer) -> dict:
    """Keras 3's config dict of a regularizer of this module:
    ``{'module': 'keras.regularizers', 'class_name': ..., 'config': {...}, 'registered_name': None}``
    (``get``/``deserialize`` accept it, and the short ``{'class_name', 'config'}`` form)."""
    return serialize_builtin(regularizer, Regularizer, "regularizer", "keras.regularizers")


def deserialize(config: dict) -> Regularizer:
    """The regularizer described by ``{'class_name': ..., 'config': {...}}`` (known names only)."""
    return deserialize_builtin(config, REGISTRY, "regularizer")


def get(identifier):
    """Resolve a regularizer identifier (Keras's ``regularizers.get``).

    Args:
        identifier: None, a name (``'l1'``, ``'l2'``, ``'l1_l2'``, class names), a config dict, a
            Regularizer instance or class, or a callable ``f(x) -> scalar``.

    Example:
        >>> get("l2")
        L2(l2=0.01)
    """
    if isinstance(identifier, str) and identifier in ("l1_l2", "l1l2"):  # the name alone: both 0.01, as in Keras
        return L1L2(l1=0.01, l2=0.01)
    return resolve_identifier(identifier, Regularizer, "regularizer", deserialize)
