"""``Variable``: a layer's state (kernel, bias, moving statistics) as a Tensor that lives on.

A Variable is a leaf ``Tensor`` whose array is updated in place: optimizers write into
``variable.data`` (or call ``assign``), ``set_weights`` copies into it, and BatchNormalization moves
its statistics with ``assign``. Because the array object never changes, anything holding a
reference to it (an optimizer's flat buffer, a saved graph) sees the new values.

``trainable`` is the same flag as the Tensor's ``requires_grad``: a frozen variable collects no
gradient. Each Variable also carries the ``regularizer`` (its penalty joins the layer's ``losses``)
and the ``constraint`` (the optimizer applies it after every step) given to ``Layer.add_weight``.
"""
from __future__ import annotations

import numpy as np

from .autograd import Tensor
from .backend import floatx, get_array_module

__all__ = ["Variable"]


class Variable(Tensor):
    """A named, trainable (or not) Tensor holding one piece of layer state.

    Args:
        initializer: the initial value (an array, nested list or number) or a callable
            ``initializer(shape, dtype=dtype)`` returning one (a ``cnnkit.initializers`` object).
        shape: the variable's shape; needed when ``initializer`` is a callable, checked otherwise.
        dtype: the dtype; defaults to the value's float dtype, or ``floatx()`` for callables.
        trainable: whether optimizers update it; the same flag as ``requires_grad``.
        name: short name, e.g. ``'kernel'``.
        path: full name, e.g. ``'conv2d/kernel'`` (defaults to ``name``).
        regularizer: optional callable ``regularizer(variable) -> scalar Tensor``.
        constraint: optional callable ``constraint(array) -> array`` applied after each update.

    Example:
        >>> v = Variable(np.zeros((2, 3)), name="bias")
        >>> v.assign(np.ones((2, 3)))
        >>> float(v.numpy().sum())
        6.0
    """

    __slots__ = ("path", "regularizer", "constraint")

    def __init__(
        self,
        initializer,
        shape=None,
        dtype=None,
        trainable: bool = True,
        name: str | None = None,
        path: str | None = None,
        regularizer=None,
        constraint=None,
    ):
        if not isinstance(trainable, (bool, np.bool_)):
            raise ValueError(f"`trainable` must be a boolean. Received: trainable={trainable!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}")
        if callable(initializer) and not isinstance(initializer, (np.ndarray, Tensor)):
            if shape is None:
                raise ValueError(
                    "A Variable made from an initializer needs its `shape`. "
                    f"Received: shape=None with initializer={initializer!r}"
                )
            dtype = np.dtype(dtype or floatx())
            value = initializer(tuple(int(s) for s in shape), dtype=dtype)
        else:
            value = initializer.data if isinstance(initializer, Tensor) else initializer
        xp = get_array_module(value)
        value = xp.asarray(value)
        if dtype is None:
            dtype = value.dtype if np.issubdtype(value.dtype, np.floating) else np.dtype(floatx())
        # Always a private, writable, contiguous copy: in-place updates must not alias user arrays.
        array = xp.array(value, dtype=dtype, copy=True, order="C")
        if shape is not None and tuple(array.shape) != tuple(int(s) for s in shape):
            raise ValueError(
                f"Variable '{name}' was given a value of shape {tuple(array.shape)}, "
                f"but its shape is {tuple(shape)}."
            )
        super().__init__(array, requires_grad=bool(trainable), name=name)
        self.path = path if path is not None else name
        self.regularizer = regularizer
        self.constraint = constraint

    @property
    def trainable(self) -> bool:
        """Whether optimizers update this variable (and backward fills its ``grad``)."""
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"`trainable` must be a boolean. Received: trainable={value!r}")
        self.requires_grad = bool(value)

    @property
    def value(self):
        """The current array (shared, not copied), as Keras's ``variable.value``."""
        return self.data

    def numpy(self) -> np.ndarray:
        """A copy of the current value as a NumPy array (later updates do not change it)."""
        data = self.data
        if type(data).__module__.startswith("cupy"):
            return data.get()
        return np.array(data, copy=True)

    def assign(self, value) -> None:
        """Copy ``value`` into this variable's array in place (the array object stays the same).

        Raises:
            ValueError: ``value`` does not have this variable's shape.
        """
        array = value.data if isinstance(value, Tensor) else value
        xp = get_array_module(self.data)
        array = xp.asarray(array)
        if tuple(array.shape) != tuple(self.data.shape):
            raise ValueError(
                f"Cannot assign a value of shape {tuple(array.shape)} to variable '{self.path}' "
                f"of shape {tuple(self.data.shape)}."
            )
        self.data[...] = array

    def assign_add(self, value) -> None:
        """``variable += value`` in place."""
        array = value.data if isinstance(value, Tensor) else value
        self.assign(self.data + array)

    def assign_sub(self, value) -> None:
        """``variable -= value`` in place."""
        array = value.data if isinstance(value, Tensor) else value
        self.assign(self.data - array)

    def apply_constraint(self) -> None:
        """Project the value with ``constraint`` in place (optimizers call this after each step)."""
        if self.constraint is not None:
            self.assign(self.constraint(self.data))

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path}, shape={tuple(self.shape)}, dtype={self.dtype}, "
            f"trainable={self.trainable}, value={np.array2string(np.asarray(self.data), threshold=6)}>"
        )
