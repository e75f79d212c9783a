"""Metrics: Keras 3's stateful metric objects, their functions, and a confusion matrix.

This module owns what ``fit``/``evaluate`` report besides the loss. A metric is stateful:
``update_state(y_true, y_pred, sample_weight=None)`` accumulates a batch, ``result()`` returns
the value over everything seen (a Python float), ``reset_state()`` starts again; calling a
metric does both update and result. Metrics work on NumPy arrays (Tensors are accepted) and
never enter the autograd graph.

- Mean-of-per-sample metrics (``MeanMetricWrapper``): ``Accuracy``, ``BinaryAccuracy``,
  ``CategoricalAccuracy``, ``SparseCategoricalAccuracy``, ``TopKCategoricalAccuracy``,
  ``SparseTopKCategoricalAccuracy``, ``MeanSquaredError``, ``MeanAbsoluteError``; the
  per-sample functions have Keras's names (``categorical_accuracy``, ...).
- Confusion-based: ``Precision``, ``Recall`` (thresholds, ``top_k``, ``class_id``).
- ``confusion_matrix(y_true, y_pred, num_classes)``.

``get(identifier)`` resolves names as Keras does (class names, their snake case, ``'mse'``...);
``get_compiled_metric(identifier, y_true, y_pred)`` is what ``compile(metrics=[...])``
uses: ``'accuracy'``/``'acc'`` becomes the binary, sparse categorical or categorical variant,
chosen from the shapes of the labels and the predictions as Keras 3 does.

Example:
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]])
    >>> m.result()
    0.5
"""
from __future__ import annotations

import inspect
import numbers

import numpy as np

from .layers.base import _unique_name
from .serialization import snake_case

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper",
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "Precision", "Recall",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "confusion_matrix", "get", "serialize", "deserialize", "get_compiled_metric", "check_identifier",
]


def _array(value) -> np.ndarray:
    return np.asarray(getattr(value, "data", value))


def _same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank: drop or add a trailing axis of size 1."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_pred = y_pred[..., 0]
    return y_true, y_pred


# ----- per-sample functions (Keras's formulas) ------------------------------------------------
def accuracy(y_true, y_pred):
    """Per sample: the fraction of entries where ``y_true == y_pred`` (mean over the last axis)."""
    y_pred = _array(y_pred)
    y_true, y_pred = _same_rank(_array(y_true), y_pred)
    return np.mean(np.equal(y_true, y_pred), axis=-1, dtype=np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per sample: the fraction of entries where ``y_pred > threshold`` equals the 0/1 label."""
    y_true, y_pred = _same_rank(_array(y_true), _array(y_pred))
    return np.mean(np.equal(y_true, (y_pred > threshold).astype(y_true.dtype)), axis=-1, dtype=np.float32)


def categorical_accuracy(y_true, y_pred):
    """Per sample: 1.0 where ``argmax(y_true) == argmax(y_pred)`` (one-hot labels)."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """Per sample: 1.0 where the integer label equals ``argmax(y_pred)``; labels (N,) or (N, 1)."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)


def _in_top_k(targets, predictions, k):
    """True where the target's score is at least the k-th largest score (ties count as in)."""
    predictions = predictions.reshape(-1, predictions.shape[-1])
    targets = targets.reshape(-1).astype(np.intp)
    target_scores = np.take_along_axis(predictions, targets[:, None], axis=-1)
    return np.sum(predictions > target_scores, axis=-1) < k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1.0 where the one-hot label's class is among the ``k`` highest scores."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    labels = np.argmax(y_true, axis=-1)
    return _in_top_k(labels, y_pred, k).astype(np.float32).reshape(labels.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1.0 where the integer label's class is among the ``k`` highest scores."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return _in_top_k(y_true, y_pred, k).astype(np.float32).reshape(y_true.shape)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _same_rank(_array(y_true), _array(y_pred))
    return np.mean(np.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _same_rank(_array(y_true), _array(y_pred))
    return np.mean(np.abs(y_pred - y_true), axis=-1)


# ----- metric objects ----------------------------------------------------------------------------
class Metric:
    """Base class: accumulate with ``update_state``, read with ``result``, clear with ``reset_state``.

    Args:
        name: the name used in logs (default: the class name in snake case).
        dtype: kept for Keras compatibility (results are Python floats).
    """

    _direction = "up"

    def __init__(self, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}")
        # As Keras's auto_name: without a name, the class name in snake case made unique in the
        # session (``precision``, ``precision_1``, ...; ``cnnkit.layers.clear_session()`` restarts).
        self.name = name or _unique_name(type(self).__name__)
        self.dtype = dtype or "float32"

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Update with one batch and return the result so far."""
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    @property
    def variables(self) -> list:
        """The accumulated state as arrays."""
        return []

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Sum(Metric):
    """The (weighted) sum of all values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        values = _array(values).astype(np.float64)
        if sample_weight is not None:
            values = values * np.broadcast_to(_array(sample_weight), values.shape)
        self.total += float(np.sum(values))

    def result(self) -> float:
        return self.total

    @property
    def variables(self) -> list:
        return [np.array(self.total)]


class Mean(Metric):
    """The (weighted) mean of all values seen; values with extra axes are averaged per sample first."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values = _array(values).astype(np.float64)
        if values.ndim > 1:
            values = values.reshape(values.shape[0], -1).mean(axis=1)
        if sample_weight is None:
            self.total += float(np.sum(values))
            self.count += float(values.size)
            return
        weights = _array(sample_weight).astype(np.float64)
        if weights.ndim > values.ndim:
            weights = weights.reshape(weights.shape[0], -1).mean(axis=1)
        weights = np.broadcast_to(weights, values.shape)
        self.total += float(np.sum(values * weights))
        self.count += float(np.sum(weights))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def variables(self) -> list:
        return [np.array(self.total), np.array(self.count)]


class MeanMetricWrapper(Mean):
    """The mean over samples of ``fn(y_true, y_pred, **kwargs)`` (Keras's wrapper).

    Args:
        fn: a per-sample function ``fn(y_true, y_pred) -> values of shape (batch,)``.
        name: the log name (default: ``fn.__name__``).
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper expects a function. Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        try:
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        except (ValueError, IndexError) as error:
            raise ValueError(
                f"Metric '{self.name}' cannot compare y_true of shape {np.shape(_array(y_true))} with y_pred of shape "
                f"{np.shape(_array(y_pred))}: {error}. Check that the metric fits the labels (e.g. "
                "'sparse_categorical_accuracy' for integer labels, 'categorical_accuracy' for one-hot ones)."
            ) from None
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly.

    Example:
        >>> m = Accuracy()
        >>> m([[1], [2], [3], [4]], [[0], [2], [3], [4]])
        0.75
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches 0/1 labels.

    Example:
        >>> BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
        0.75
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold is not None and (not isinstance(threshold, numbers.Real) or not 0 < threshold < 1):
            raise ValueError(
                f"Invalid value for argument `threshold`. Expected a value in interval (0, 1). Received: threshold={threshold}"
            )
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` matches one-hot labels.

    Example:
        >>> CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        0.5
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` matches integer labels.

    Example:
        >>> SparseCategoricalAccuracy()([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
        0.5
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"`k` must be a positive int. Received: k={k!r}")
    return int(k)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is among the ``k`` highest scores (default k=5).

    Example:
        >>> TopKCategoricalAccuracy(k=1)([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        0.5
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=_check_k(k))
        self.k = int(k)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest scores (default k=5).

    Example:
        >>> SparseTopKCategoricalAccuracy(k=1)([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        0.5
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=_check_k(k))
        self.k = int(k)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class MeanSquaredError(MeanMetricWrapper):
    """The mean of ``(y_pred - y_true)**2``."""

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of ``|y_pred - y_true|``."""

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class _ConfusionMetric(Metric):
    """Counts true/false positives and negatives at thresholds (Keras's confusion metrics)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if top_k is not None:
            top_k = _check_k(top_k)
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, numbers.Integral) or class_id < 0):
            raise ValueError(f"`class_id` must be a non-negative int. Received: class_id={class_id!r}")
        default = 0.5 if top_k is None else -np.inf
        self._single_threshold = thresholds is None or isinstance(thresholds, numbers.Real)
        values = [default] if thresholds is None else ([thresholds] if isinstance(thresholds, numbers.Real) else list(thresholds))
        for value in values:
            if not isinstance(value, numbers.Real) or (value != default and not 0 <= value <= 1):
                raise ValueError(f"Threshold values must be in [0, 1]. Received: thresholds={thresholds!r}")
        self.init_thresholds = thresholds
        self.thresholds = np.asarray(values, dtype=np.float64)
        self.top_k = top_k
        self.class_id = class_id
        self.reset_state()

    def reset_state(self) -> None:
        size = len(self.thresholds)
        self.true_positives = np.zeros(size)
        self.false_positives = np.zeros(size)
        self.false_negatives = np.zeros(size)
        self.true_negatives = np.zeros(size)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _same_rank(_array(y_true).astype(np.float64), _array(y_pred).astype(np.float64))
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__} expects y_true and y_pred of the same shape. "
                f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
            )
        if self.top_k is not None and y_pred.ndim >= 1:
            # Keep exactly k scores per row; among ties the lower index wins (as Keras's top_k).
            order = np.argsort(-y_pred, axis=-1, kind="stable")[..., : self.top_k]
            kept = np.full(y_pred.shape, -np.inf)
            np.put_along_axis(kept, order, np.take_along_axis(y_pred, order, axis=-1), axis=-1)
            y_pred = kept
        weights = None
        if sample_weight is not None:
            weights = _array(sample_weight).astype(np.float64)
            weights = weights.reshape(weights.shape + (1,) * max(0, y_true.ndim - weights.ndim))
            weights = np.broadcast_to(weights, y_true.shape)
        if self.class_id is not None:
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
            weights = None if weights is None else weights[..., self.class_id]
        label = y_true.reshape(-1) != 0
        predicted = y_pred.reshape(-1)[:, None] > self.thresholds[None, :]
        weight = np.ones(label.shape) if weights is None else weights.reshape(-1)
        positive = (label * weight)[:, None]
        negative = ((~label) * weight)[:, None]
        self.true_positives += np.sum(positive * predicted, axis=0)
        self.false_negatives += np.sum(positive * ~predicted, axis=0)
        self.false_positives += np.sum(negative * predicted, axis=0)
        self.true_negatives += np.sum(negative * ~predicted, axis=0)

    def _finish(self, numerator, denominator):
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)
        return float(values[0]) if self._single_threshold else [float(v) for v in values]

    @property
    def variables(self) -> list:
        return [self.true_positives, self.false_positives, self.false_negatives, self.true_negatives]

    def get_config(self) -> dict:
        return {"thresholds": self.init_thresholds, "top_k": self.top_k, "class_id": self.class_id,
                "name": self.name, "dtype": self.dtype}


class Precision(_ConfusionMetric):
    """``true_positives / (true_positives + false_positives)``; a prediction is positive where it
    exceeds the threshold (default 0.5), among the ``top_k`` scores if given, for ``class_id`` if given.

    Example:
        >>> Precision()([0, 1, 1, 1], [1, 0, 1, 1])
        0.6666666666666666
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        return self._finish(self.true_positives, self.true_positives + self.false_positives)


class Recall(_ConfusionMetric):
    """``true_positives / (true_positives + false_negatives)`` (same arguments as ``Precision``).

    Example:
        >>> Recall()([0, 1, 1, 1], [1, 0, 1, 1])
        0.6666666666666666
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        return self._finish(self.true_positives, self.true_positives + self.false_negatives)


# ----- confusion matrix ---------------------------------------------------------------------------
def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts of (true class, predicted class) pairs, rows true and columns predicted.

    Args:
        y_true: integer labels ``(N,)`` (or one-hot ``(N, C)``).
        y_pred: integer predictions ``(N,)`` or scores ``(N, C)`` (argmax is taken).
        num_classes: the number of classes; default one more than the largest label seen.

    Returns:
        An int64 array ``(num_classes, num_classes)``.

    Raises:
        ValueError: lengths differ, labels are not integers, or a label is outside [0, num_classes).

    Example:
        >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], num_classes=3)
        array([[1, 0, 0],
               [0, 1, 1],
               [0, 0, 1]])
    """
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        y_true = np.argmax(y_true, axis=1)
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        y_pred = np.argmax(y_pred, axis=1)
    y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"confusion_matrix needs as many predictions as labels. Received: y_true with {y_true.size} "
            f"labels, y_pred with {y_pred.size}."
        )
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and not np.all(np.equal(np.mod(values, 1), 0)):
            raise ValueError(f"confusion_matrix expects integer class labels in `{name}`. Received dtype {values.dtype}.")
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive int. Received: num_classes={num_classes!r}")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"`{name}` holds labels outside [0, {num_classes}): received values from {values.min()} to "
                f"{values.max()} with num_classes={num_classes}."
            )
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


# ----- resolution ------------------------------------------------------------------------------------
_CLASSES = [Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
            SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, Precision, Recall, Mean, Sum]
_REGISTRY = {cls.__name__: cls for cls in _CLASSES}
_REGISTRY.update({snake_case(cls.__name__): cls for cls in _CLASSES})
_REGISTRY.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError})


def serialize(metric: Metric) -> dict:
    """``{'class_name': ..., 'config': ...}`` for a built-in metric."""
    if type(metric).__name__ not in _REGISTRY or not isinstance(metric, Metric):
        raise ValueError(f"Only cnnkit's built-in metrics can be serialized. Received: {metric!r}")
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict) -> Metric:
    """A metric from ``serialize``'s dict; only the built-in metric classes are known."""
    if not isinstance(config, dict) or config.get("class_name") not in _REGISTRY:
        raise ValueError(f"Could not interpret metric identifier: {config!r}. Known metrics: {sorted(_REGISTRY)}.")
    arguments = config.get("config", {}) or {}
    if not isinstance(arguments, dict):
        raise ValueError(f"The 'config' of a metric must be a dict. Received: {arguments!r}")
    return _REGISTRY[config["class_name"]].from_config(arguments)


def get(identifier):
    """Resolve a metric as Keras's ``metrics.get``: a name, a config dict, a class, an instance or a
    function (returned as is).

    Raises:
        ValueError: an unknown name or an object that is not a metric.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier)
        if cls is None:
            raise ValueError(
                f"Could not interpret metric identifier: {identifier!r}. Known names: 'accuracy', 'acc', "
                f"{', '.join(repr(name) for name in sorted(_REGISTRY))}."
            )
        return cls()
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def check_identifier(identifier) -> None:
    """Raise now (ValueError) for what ``get`` could not resolve, without making a metric (so no
    auto-generated name is used up).
    """
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc") or identifier in _REGISTRY:
            return
    elif isinstance(identifier, Metric) or (inspect.isclass(identifier) and issubclass(identifier, Metric)):
        return
    elif callable(identifier) and not inspect.isclass(identifier):
        return
    get(identifier)  # raises the error naming what was received


def _loss_kind(loss) -> str | None:
    """'binary', 'sparse' or 'categorical' when ``loss`` names a cross-entropy, else None."""
    if loss is None:
        return None
    name = loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)
    name = snake_case(name).lower()
    if "sparse_categorical_crossentropy" in name:
        return "sparse"
    if "categorical_crossentropy" in name:
        return "categorical"
    if "binary_crossentropy" in name or name in ("bce",):
        return "binary"
    return None


def get_compiled_metric(identifier, y_true, y_pred, loss=None) -> Metric:
    """The metric object ``compile(metrics=[identifier])`` uses, named as Keras 3 names it.

    ``'accuracy'`` and ``'acc'`` (any case) become ``BinaryAccuracy``, ``SparseCategoricalAccuracy``
    or ``CategoricalAccuracy`` named after the identifier, chosen from the shapes alone as Keras 3
    does (``compile_utils.get_metric``): binary when ``y_pred``'s last axis is 1; else sparse when
    ``y_true`` has a lower rank than ``y_pred``, or a last axis of 1 against more classes; else
    categorical. The loss plays no part (``loss`` is accepted for compatibility and ignored), so a
    multi-label model trained with ``binary_crossentropy`` gets ``CategoricalAccuracy`` as in
    Keras 3: pass ``metrics=['binary_accuracy']`` there.
    Strings name the metric after themselves (``'mse'`` is logged as ``mse``); plain functions are
    wrapped in ``MeanMetricWrapper`` and named after themselves.
    """
    del loss  # Keras 3 chooses from the shapes only
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
        true_last = true_shape[-1] if true_shape else 1
        pred_last = pred_shape[-1] if pred_shape else 1
        if pred_last == 1:
            cls = BinaryAccuracy
        elif len(true_shape) < len(pred_shape) or (true_last == 1 and pred_last > 1):
            cls = SparseCategoricalAccuracy
        else:
            cls = CategoricalAccuracy
        return cls(name=identifier)
    metric = get(identifier)
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric, name=identifier if isinstance(identifier, str) else None)
    elif isinstance(identifier, str):
        metric.name = identifier
    return metric
