"""Keras's loss classes and loss resolution (``keras.losses``).

A ``Loss`` object computes per-sample values with a function of ``cnnkit.functional.losses`` and
reduces them to the scalar a model minimises. Reductions, as Keras 3:

- ``'sum_over_batch_size'`` (default) and ``'mean'``: the sum of the (weighted) values divided by
  their number (for ``SparseCategoricalCrossentropy(ignore_class=...)``: by the number of entries
  not ignored);
- ``'sum'``: the sum; ``'mean_with_sample_weight'``: the sum divided by the sum of the sample
  weights; ``None`` or ``'none'``: the per-sample values themselves.

``get`` resolves what users pass to ``compile(loss=...)``: a Keras name (``'mse'``,
``'categorical_crossentropy'``, ``'CategoricalCrossentropy'``, ...), a config dict, a Loss object
or class, or a callable. As in Keras, a function's name gives the function (per-sample values) and a
class name gives an instance; ``as_loss`` always gives a Loss object (functions are wrapped).

Example:
    >>> import numpy as np
    >>> from cnnkit import losses
    >>> loss = losses.get("CategoricalCrossentropy")
    >>> float(loss(np.array([[0, 1, 0], [0, 0, 1]]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], "float32")))
    1.1769392490386963
"""
from __future__ import annotations

import inspect
import numbers

import numpy as np

from .autograd import Tensor
from .functional.arguments import ensure_float_tensor
from .functional.losses import (
    binary_crossentropy,
    categorical_crossentropy,
    huber,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_crossentropy,
    squeeze_or_expand_to_same_rank,
)
from .serialization import ConfigurableObject

__all__ = [
    "Loss",
    "LossFunctionWrapper",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "BinaryCrossentropy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "get",
    "as_loss",
    "serialize",
    "deserialize",
    "ALL_OBJECTS_DICT",
]

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"`reduction` must be one of {list(REDUCTIONS)}. Received: reduction={reduction!r}"
        )
    return reduction


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


def _check_fraction(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1]. Received: {name}={value!r}")
    return float(value)


def _check_axis(value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"`axis` must be an int. Received: axis={value!r}")
    return int(value)


class Loss(ConfigurableObject):
    """Base class: subclasses define ``call(y_true, y_pred)`` returning per-sample values.

    Args:
        name: the loss's name (defaults to the class's snake-case default).
        reduction: see the module docstring; ``'sum_over_batch_size'`` by default.
        dtype: compute dtype for ``y_pred`` (e.g. ``'float32'``), or None to keep ``y_pred``'s own
            floating dtype (so float64 gradient checks stay float64).

    Example:
        >>> import numpy as np
        >>> class MeanFourthPower(Loss):
        ...     def call(self, y_true, y_pred):
        ...         error = y_pred - np.asarray(y_true, y_pred.dtype)
        ...         return (error * error * error * error).mean(axis=-1)
        >>> float(MeanFourthPower()(np.zeros((2, 2)), np.ones((2, 2), "float32")))
        1.0
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string or None. Received: name={name!r}")
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self.dtype = None if dtype is None else np.dtype(dtype)
        if self.dtype is not None and not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"`dtype` must be a floating dtype or None. Received: dtype={dtype!r}")

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        """Per-sample values of ``call``, weighted by ``sample_weight`` and reduced.

        Args:
            y_true: targets (a constant: no gradient flows into it).
            y_pred: predictions, a Tensor (gradients flow) or an array.
            sample_weight: None, or weights broadcastable to the per-sample values (e.g. ``(batch,)``).

        Returns:
            A scalar Tensor (or the per-sample values for ``reduction=None``).
        """
        y_pred = ensure_float_tensor(y_pred, "y_pred")
        if self.dtype is not None and y_pred.dtype != self.dtype:
            y_pred = y_pred.astype(self.dtype)
        values = self.call(y_true, y_pred)
        mask = self._mask(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred).")

    def _mask(self, y_true, y_pred):
        """Entries that count in the reduction (None: all)."""
        return None

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}


def _snake_case(name: str) -> str:
    characters = []
    for index, character in enumerate(name):
        if character.isupper() and index and not name[index - 1].isupper():
            characters.append("_")
        characters.append(character.lower())
    return "".join(characters)


def reduce_weighted_values(values: Tensor, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Weight per-sample ``values`` and reduce them as Keras's ``reduce_weighted_values`` does."""
    reduction = standardize_reduction(reduction)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight)
        if not (np.issubdtype(weights.dtype, np.number) or weights.dtype == np.bool_):
            raise TypeError(f"`sample_weight` must hold numbers. Received: dtype {weights.dtype}")
        weights = weights.astype(values.dtype, copy=False)
        values_for_shape, weights = squeeze_or_expand_to_same_rank(values.data, weights)
        if values_for_shape.shape != values.shape:  # the values were squeezed: do the same to the Tensor
            values = values.reshape(values_for_shape.shape)
        if weights.ndim < values.ndim and weights.shape == values.shape[: weights.ndim]:
            weights = weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim))
        try:
            broadcast = np.broadcast_shapes(values.shape, weights.shape)
        except ValueError:
            broadcast = None
        if broadcast != values.shape:
            raise ValueError(
                "`sample_weight` must broadcast to the per-sample losses. Received: "
                f"sample_weight.shape={np.shape(sample_weight)}, per-sample loss shape={values.shape}"
            )
        values = values * weights
    if mask is not None:
        mask = mask.astype(values.dtype)
        values = values * mask
    if reduction in (None, "none") or values.shape == ():
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weights is not None:
        merged = np.broadcast_to(weights, values.shape)
        divisor = float((merged * mask).sum() if mask is not None else merged.sum())
    elif mask is not None:
        divisor = float(mask.sum())  # Keras's mask: the mean over the entries that count
    else:
        divisor = float(values.size)
    return total * (1.0 / divisor) if divisor else total * 0.0  # 0, not NaN, when nothing counts


class LossFunctionWrapper(Loss):
    """A Loss around a per-sample function ``fn(y_true, y_pred, **kwargs)``, as Keras's.

    Example:
        >>> import numpy as np
        >>> loss = LossFunctionWrapper(mean_absolute_error, name="mae")
        >>> float(loss(np.zeros((2, 2)), np.ones((2, 2), "float32")))
        1.0
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"`fn` must be a callable. Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        name = _FUNCTION_NAMES.get(self.fn)
        if name is None:
            raise ValueError(
                f"Cannot serialize a loss wrapping {self.fn!r}: only cnnkit's loss functions can be stored by name."
            )
        config.update({"fn": name, **self._fn_kwargs})
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        fn = config.pop("fn", None)
        if not isinstance(fn, str) or fn not in _FUNCTIONS:
            raise ValueError(f"Unknown loss function {fn!r} in config. Known: {', '.join(sorted(_FUNCTIONS))}")
        return cls(_FUNCTIONS[fn], **config)


class _BuiltinLoss(LossFunctionWrapper):
    """A built-in loss class: the class fixes the function, so the config holds the base Loss's
    entries and the class's own arguments (``CONFIG_ARGUMENTS``), and the class rebuilds from it."""

    CONFIG_ARGUMENTS: tuple = ()

    def get_config(self) -> dict:
        config = Loss.get_config(self)
        config.update({argument: getattr(self, argument) for argument in self.CONFIG_ARGUMENTS})
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class CategoricalCrossentropy(_BuiltinLoss):
    """Cross-entropy with one-hot targets (see ``functional.categorical_crossentropy``).

    Example:
        >>> import numpy as np
        >>> y_true = np.array([[0, 1, 0], [0, 0, 1]])
        >>> y_pred = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], "float32")
        >>> round(float(CategoricalCrossentropy()(y_true, y_pred, sample_weight=np.array([0.3, 0.7]))), 3)
        0.814
    """

    CONFIG_ARGUMENTS = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        self.from_logits = _check_flag(from_logits, "from_logits")
        self.label_smoothing = _check_fraction(label_smoothing, "label_smoothing")
        self.axis = _check_axis(axis)
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=self.from_logits, label_smoothing=self.label_smoothing, axis=self.axis)


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Cross-entropy with integer labels (see ``functional.sparse_categorical_crossentropy``). With
    ``ignore_class``, the mean runs over the entries that are not ignored (as Keras's mask does).

    Example:
        >>> import numpy as np
        >>> y_pred = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], "float32")
        >>> round(float(SparseCategoricalCrossentropy()(np.array([1, 2]), y_pred)), 3)
        1.177
    """

    CONFIG_ARGUMENTS = ("from_logits", "ignore_class")

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        self.from_logits = _check_flag(from_logits, "from_logits")
        if ignore_class is not None and (
            isinstance(ignore_class, (bool, np.bool_)) or not isinstance(ignore_class, (numbers.Integral, np.integer))
        ):
            raise TypeError(f"`ignore_class` must be an int or None. Received: ignore_class={ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=self.from_logits, ignore_class=self.ignore_class)

    def _mask(self, y_true, y_pred):
        if self.ignore_class is None:
            return None
        labels = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
        if labels.ndim == y_pred.ndim and labels.ndim > 0 and labels.shape[-1] == 1:
            labels = labels.reshape(labels.shape[:-1])
        return labels != self.ignore_class


class BinaryCrossentropy(_BuiltinLoss):
    """Binary cross-entropy (see ``functional.binary_crossentropy``).

    Example:
        >>> import numpy as np
        >>> loss = BinaryCrossentropy(from_logits=True)
        >>> round(float(loss(np.array([0, 1, 0, 0]), np.array([-18.6, 0.51, 2.94, -12.8], "float32"))), 3)
        0.865
    """

    CONFIG_ARGUMENTS = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        self.from_logits = _check_flag(from_logits, "from_logits")
        self.label_smoothing = _check_fraction(label_smoothing, "label_smoothing")
        self.axis = _check_axis(axis)
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=self.from_logits, label_smoothing=self.label_smoothing, axis=self.axis)


class MeanSquaredError(_BuiltinLoss):
    """Mean of squared errors over the last axis, reduced over the batch.

    Example:
        >>> import numpy as np
        >>> float(MeanSquaredError()(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]], "float32")))
        0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """Mean of absolute errors over the last axis, reduced over the batch.

    Example:
        >>> import numpy as np
        >>> float(MeanAbsoluteError()(np.array([[0.0, 1.0]]), np.array([[1.0, 3.0]], "float32")))
        1.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class Huber(_BuiltinLoss):
    """Huber loss (quadratic up to ``delta``, linear beyond), reduced over the batch.

    Example:
        >>> import numpy as np
        >>> round(float(Huber()(np.array([[0, 1], [0, 0]]), np.array([[0.6, 0.4], [0.4, 0.6]], "float32"))), 3)
        0.155
    """

    CONFIG_ARGUMENTS = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        if isinstance(delta, (bool, np.bool_)) or not isinstance(delta, numbers.Real) or not delta > 0:
            raise ValueError(f"`delta` must be a positive number. Received: delta={delta!r}")
        self.delta = float(delta)
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=self.delta)


# ----- resolution --------------------------------------------------------------------------------
_FUNCTIONS = {
    function.__name__: function
    for function in (
        categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy,
        mean_squared_error, mean_absolute_error, huber,
    )
}
_FUNCTION_NAMES = {function: name for name, function in _FUNCTIONS.items()}
_CLASSES = {
    cls.__name__: cls
    for cls in (
        CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy,
        MeanSquaredError, MeanAbsoluteError, Huber, LossFunctionWrapper,
    )
}
# Keras's names: classes and functions under their own names, and the short aliases.
ALL_OBJECTS_DICT = {**_CLASSES, **_FUNCTIONS}
for _alias, _function in {"mse": mean_squared_error, "MSE": mean_squared_error, "mae": mean_absolute_error,
                          "MAE": mean_absolute_error, "bce": binary_crossentropy, "BCE": binary_crossentropy}.items():
    ALL_OBJECTS_DICT[_alias] = _function


def _known_names() -> str:
    return ", ".join(sorted(name for name in ALL_OBJECTS_DICT if name != "LossFunctionWrapper"))


def get(identifier):
    """Resolve a loss identifier as ``keras.losses.get`` does.

    Args:
        identifier: None; a name (a function's, like ``'categorical_crossentropy'`` or ``'mse'``,
            gives the per-sample function; a class's, like ``'CategoricalCrossentropy'``, gives an
            instance); a config dict ``{'class_name': ..., 'config': {...}}``; a Loss object; a Loss
            class (instantiated); or any callable ``(y_true, y_pred)``.

    Returns:
        None, a Loss object, or a function.

    Raises:
        ValueError: an unknown name or config, listing the known names.
        TypeError: an identifier of another type.

    Example:
        >>> get("mse").__name__, type(get("Huber")).__name__
        ('mean_squared_error', 'Huber')
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        found = ALL_OBJECTS_DICT.get(identifier)
        if found is None or found is LossFunctionWrapper:
            raise ValueError(f"Unknown loss {identifier!r}. Known losses: {_known_names()}. Received: loss={identifier!r}")
        return found() if inspect.isclass(found) else found
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(
        f"A loss must be a name, a config dict, a Loss or a callable. Received: loss={identifier!r} "
        f"of type {type(identifier).__name__}"
    )


def as_loss(identifier) -> Loss:
    """Like ``get``, but always a Loss object: functions are wrapped in ``LossFunctionWrapper``
    (named after the function), which is what ``compile`` needs to reduce per-sample values.

    Example:
        >>> as_loss("mse").name
        'mean_squared_error'
    """
    resolved = get(identifier)
    if resolved is None:
        raise ValueError("A loss is required. Received: loss=None")
    if isinstance(resolved, Loss):
        return resolved
    return LossFunctionWrapper(resolved, name=getattr(resolved, "__name__", None))


def serialize(loss) -> dict:
    """A Keras-style config dict for a Loss object or one of the loss functions."""
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__, "config": loss.get_config(),
                "registered_name": None}
    name = _FUNCTION_NAMES.get(loss)
    if name is not None:
        return {"module": "keras.losses", "class_name": "function", "config": name, "registered_name": name}
    raise ValueError(f"Cannot serialize loss {loss!r}: only cnnkit's losses can be stored by name.")


def deserialize(config):
    """The Loss object or function a config dict names; only the known classes resolve (nothing
    named in a config is imported)."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict):
        raise TypeError(f"A loss config must be a dict. Received: {config!r}")
    class_name, inner = config.get("class_name"), config.get("config")
    if class_name == "function" and isinstance(inner, str) and inner in _FUNCTIONS:
        return _FUNCTIONS[inner]
    if isinstance(class_name, str) and class_name in _CLASSES:
        if inner is None:
            inner = {}
        if not isinstance(inner, dict):
            raise ValueError(f"The config of loss {class_name!r} must be a dict. Received: {inner!r}")
        try:
            return _CLASSES[class_name].from_config(inner)
        except TypeError as error:
            raise ValueError(f"Invalid config for loss {class_name!r}: {error}") from None
    raise ValueError(f"Could not interpret loss config {config!r}. Known losses: {_known_names()}.")
