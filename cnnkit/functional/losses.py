"""Loss functions with Keras 3's names and semantics (``keras.losses.<function>``): each returns one
value per sample (the class or last axis reduced), not a batch mean; ``cnnkit.losses`` wraps them
in Keras's Loss classes, which reduce.

``y_true`` is a constant: it is read as an array (a Tensor's data), cast to ``y_pred``'s dtype
(a float64 one-hot never upcasts a float32 network) and receives no gradient. ``y_pred`` is a Tensor
or an array of floats. Shapes are checked here, so a wrong label shape fails with both shapes in the
message rather than broadcasting silently; as in Keras, a trailing axis of size 1 on one side is
squeezed (or added) when the ranks differ by one.

From probabilities, cross-entropies follow Keras: predictions are clipped to
``[EPSILON, 1 - EPSILON]`` (``EPSILON = 1e-7``, ``keras.backend.epsilon()``); categorical ones are first
renormalised to sum to 1. From logits they are computed exactly (log-softmax, or the
``max(z, 0) - z t + log1p(exp(-|z|))`` form for the binary case, as Keras's TensorFlow and PyTorch
backends do), with fused backwards.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor, as_array, where
from ..kernels import crossentropy as kernels
from .arguments import ensure_float_tensor

__all__ = [
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
]

EPSILON = 1e-7  # keras.backend.epsilon()


# ----- fused Functions ---------------------------------------------------------------------------
class CategoricalCrossentropyFromLogits(Function):
    def forward(self, logits, target, axis):
        self.target, self.axis = target, axis
        loss, self.log_probabilities = kernels.categorical_from_logits(logits, target, axis)
        return loss

    def backward(self, grad):
        return (kernels.categorical_from_logits_backward(grad, self.log_probabilities, self.target, self.axis),)


class CategoricalCrossentropyFromProbabilities(Function):
    def forward(self, probabilities, target, axis):
        self.target, self.axis = target, axis
        loss, self.normalized, self.total = kernels.categorical_from_probabilities(
            probabilities, target, axis, EPSILON
        )
        return loss

    def backward(self, grad):
        return (
            kernels.categorical_from_probabilities_backward(
                grad, self.normalized, self.total, self.target, self.axis, EPSILON
            ),
        )


class SparseCrossentropy(Function):
    """Integer labels; entries where ``valid`` is False (``ignore_class``) give 0 loss and 0 gradient."""

    def forward(self, predictions, labels, valid, axis, from_logits):
        self.labels, self.valid, self.axis, self.from_logits = labels, valid, axis, from_logits
        self.num_classes = predictions.shape[axis]
        if from_logits:
            loss, self.log_probabilities = kernels.sparse_from_logits(predictions, labels, axis)
        else:
            loss, self.picked, self.total = kernels.sparse_from_probabilities(predictions, labels, axis, EPSILON)
        if valid is not None:
            loss = loss * valid
        return loss

    def backward(self, grad):
        if self.valid is not None:
            grad = grad * self.valid
        if self.from_logits:
            return (kernels.sparse_from_logits_backward(grad, self.log_probabilities, self.labels, self.axis),)
        return (
            kernels.sparse_from_probabilities_backward(
                grad, self.picked, self.total, self.labels, self.num_classes, self.axis, EPSILON
            ),
        )


class BinaryCrossentropyElementwise(Function):
    def forward(self, predictions, target, from_logits):
        self.predictions, self.target, self.from_logits = predictions, target, from_logits
        if from_logits:
            return kernels.binary_from_logits(predictions, target)
        return kernels.binary_from_probabilities(predictions, target, EPSILON)

    def backward(self, grad):
        if self.from_logits:
            return (kernels.binary_from_logits_backward(grad, self.predictions, self.target),)
        return (kernels.binary_from_probabilities_backward(grad, self.predictions, self.target, EPSILON),)


# ----- argument handling -------------------------------------------------------------------------
def squeeze_or_expand_to_same_rank(first, second):
    """Keras's rule for ranks that differ by one: when the longer one ends in an axis of size 1,
    that axis is squeezed, or (when the shorter one is 1-D) the shorter one gets a trailing axis.

    Works on arrays and Tensors alike; returns the pair.
    """
    first_rank, second_rank = len(first.shape), len(second.shape)
    if first_rank == second_rank + 1 and first.shape[-1] == 1:
        if second_rank == 1:
            second = second.reshape(tuple(second.shape) + (1,))
        else:
            first = first.reshape(tuple(first.shape[:-1]))
    elif second_rank == first_rank + 1 and second.shape[-1] == 1:
        if first_rank == 1:
            first = first.reshape(tuple(first.shape) + (1,))
        else:
            second = second.reshape(tuple(second.shape[:-1]))
    return first, second


def _targets(y_true, y_pred: Tensor, function_name: str):
    """``y_true`` as an array of ``y_pred``'s dtype, after Keras's rank adjustment; shapes must match."""
    target = _label_array(y_true)
    if not (np.issubdtype(target.dtype, np.number) or target.dtype == np.bool_):
        raise TypeError(f"{function_name}: `y_true` must hold numbers. Received: y_true with dtype {target.dtype}")
    original_shape = tuple(target.shape)
    target, predictions = squeeze_or_expand_to_same_rank(target, y_pred)
    if target.shape != predictions.shape:
        raise ValueError(
            f"{function_name}: `y_true` and `y_pred` must have the same shape. Received: "
            f"y_true.shape={original_shape}, y_pred.shape={tuple(y_pred.shape)}"
        )
    return target.astype(predictions.dtype, copy=False), predictions


def _label_array(y_true):
    if isinstance(y_true, Tensor):
        return y_true.data
    if y_true is None or isinstance(y_true, (str, bytes)):
        raise TypeError(f"`y_true` must be an array of numbers. Received: y_true={y_true!r}")
    try:
        array = as_array(y_true)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`y_true` must be an array of numbers. Received: {type(y_true).__name__} ({error})") from None
    return array


def _predictions(y_pred, function_name: str) -> Tensor:
    predictions = ensure_float_tensor(y_pred, "y_pred")
    if predictions.ndim < 1:
        raise ValueError(
            f"{function_name}: `y_pred` must have at least one axis. Received: y_pred.shape={tuple(predictions.shape)}"
        )
    return predictions


def _class_axis(axis, ndim: int, function_name: str) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (numbers.Integral, np.integer)):
        raise TypeError(f"{function_name}: `axis` must be an int. Received: axis={axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{function_name}: `axis` is out of range for `y_pred` with {ndim} dimensions. Received: axis={axis}"
        )
    return int(axis) % ndim


def _label_smoothing(value, function_name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{function_name}: `label_smoothing` must be a float in [0, 1]. Received: label_smoothing={value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{function_name}: `label_smoothing` must be in [0, 1]. Received: label_smoothing={value}")
    return float(value)


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


# ----- cross-entropies ---------------------------------------------------------------------------

def _checked_cross_entropy_arguments(y_true, y_pred, from_logits, label_smoothing, axis, name):
    """The checks every dense-target cross-entropy makes, in one order:
    ``(target, predictions, from_logits, label_smoothing, axis)``, each validated."""
    predictions = _predictions(y_pred, name)
    from_logits = _flag(from_logits, "from_logits")
    label_smoothing = _label_smoothing(label_smoothing, name)
    target, predictions = _targets(y_true, predictions, name)
    axis = _class_axis(axis, predictions.ndim, name)
    return target, predictions, from_logits, label_smoothing, axis

def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy between one-hot (or soft) targets and predicted class scores, per sample.

    ``-sum(y_true * log(p), axis)`` where ``p`` is ``softmax(y_pred)`` (``from_logits=True``) or
    ``y_pred / sum(y_pred)`` clipped to ``[1e-7, 1 - 1e-7]`` (Keras's rule for probabilities).

    Args:
        y_true: one-hot targets, the shape of ``y_pred``.
        y_pred: class probabilities or logits, classes along ``axis``.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in [0, 1]; targets become ``y_true * (1 - s) + s / num_classes``.
        axis: the class axis.

    Returns:
        A Tensor of ``y_pred``'s shape without the class axis.

    Raises:
        ValueError: ``y_true`` and ``y_pred`` of different shapes (integer labels belong to
            ``sparse_categorical_crossentropy``), a bad ``axis`` or ``label_smoothing``.

    Example:
        >>> categorical_crossentropy([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]).numpy()
        array([0.05129331, 2.3025851 ], dtype=float32)
    """
    name = "categorical_crossentropy"
    target, predictions, from_logits, label_smoothing, axis = _checked_cross_entropy_arguments(
        y_true, y_pred, from_logits, label_smoothing, axis, name
    )
    if label_smoothing:
        num_classes = predictions.shape[axis]
        target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
    if from_logits:
        return CategoricalCrossentropyFromLogits.apply(predictions, target=target, axis=axis)
    return CategoricalCrossentropyFromProbabilities.apply(predictions, target=target, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy between integer class labels and predicted class scores, per sample.

    ``-log(p[label])`` with ``p`` as in ``categorical_crossentropy``; no one-hot array is formed.

    Args:
        y_true: integer labels (ints, or floats holding whole numbers) in ``[0, num_classes)``, of
            ``y_pred``'s shape without the class axis (a trailing axis of size 1 is accepted).
        y_pred: class probabilities or logits, classes along ``axis``.
        from_logits: whether ``y_pred`` holds logits.
        ignore_class: a label value whose entries give 0 loss and 0 gradient (e.g. -1 or 255 for
            "void" pixels), or None.
        axis: the class axis.

    Returns:
        A Tensor of ``y_pred``'s shape without the class axis.

    Raises:
        ValueError: labels out of range, not whole numbers, or of the wrong shape (the message gives
            both shapes).

    Example:
        >>> sparse_categorical_crossentropy([1, 2], [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]).numpy()
        array([0.05129331, 2.3025851 ], dtype=float32)
    """
    name = "sparse_categorical_crossentropy"
    predictions = _predictions(y_pred, name)
    from_logits = _flag(from_logits, "from_logits")
    axis = _class_axis(axis, predictions.ndim, name)
    labels = _label_array(y_true)
    label_shape = tuple(labels.shape)

    def shapes() -> str:  # the shapes for an error message, formatted only when one is raised
        return f"Received: y_true.shape={label_shape}, y_pred.shape={tuple(predictions.shape)}"

    if labels.ndim == predictions.ndim and labels.ndim > 0 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    expected_shape = predictions.shape[:axis] + predictions.shape[axis + 1:]  # without the class axis
    if tuple(labels.shape) != expected_shape:
        raise ValueError(
            f"{name}: `y_true` must hold one integer label per sample, of shape {expected_shape} "
            f"(y_pred's shape without the class axis {axis}); one-hot labels belong to "
            f"categorical_crossentropy. {shapes()}"
        )
    labels = _integer_labels(labels, name, shapes)
    valid = None
    if ignore_class is not None:
        if isinstance(ignore_class, (bool, np.bool_)) or not isinstance(ignore_class, (numbers.Integral, np.integer)):
            raise TypeError(f"{name}: `ignore_class` must be an int or None. Received: ignore_class={ignore_class!r}")
        valid_mask = labels != int(ignore_class)
        labels = np.where(valid_mask, labels, 0)
        valid = valid_mask.astype(predictions.dtype)
    num_classes = predictions.shape[axis]
    # One reduction checks both ends of [0, num_classes): read as unsigned integers of the same
    # width, negative labels become huge (2**64 - k), so a single max() finds them too.
    if labels.size and labels.view(np.uintp).max() >= num_classes:
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise ValueError(
            f"{name}: labels in `y_true` must be in [0, {num_classes}) for y_pred with {num_classes} "
            f"classes; found {np.unique(bad)[:10].tolist()}. {shapes()}"
        )
    return SparseCrossentropy.apply(
        predictions, labels=labels, valid=valid, axis=axis, from_logits=from_logits
    )


def _integer_labels(labels, function_name: str, shapes):
    """``labels`` as ``intp``; ``shapes()`` gives the shapes for an error message.

    The dtype's kind letter ('b' bool, 'i'/'u' integers, 'f' floats) decides, as np.issubdtype
    would, at a fraction of its cost (this runs on every training step)."""
    kind = labels.dtype.kind
    if kind in "biu":
        return labels.astype(np.intp, copy=False)
    if kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError(
                f"{function_name}: `y_true` must hold whole-number class labels; found non-integer values "
                f"such as {labels[labels != np.round(labels)][:5].tolist()}. {shapes()}"
            )
        return labels.astype(np.intp)
    raise TypeError(f"{function_name}: `y_true` must hold integer class labels. Received: dtype {labels.dtype}")


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy, averaged over ``axis`` (Keras: the last axis), per sample.

    Elementwise ``-(t log(p) + (1 - t) log(1 - p))`` with ``p = sigmoid(y_pred)`` from logits
    (computed exactly, without forming ``p``) or ``y_pred`` clipped to ``[1e-7, 1 - 1e-7]``.

    Args:
        y_true: targets in [0, 1], the shape of ``y_pred``.
        y_pred: probabilities or logits.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in [0, 1]; targets become ``y_true * (1 - s) + s / 2``.
        axis: the axis averaged over.

    Returns:
        A Tensor of ``y_pred``'s shape without ``axis``.

    Example:
        >>> binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).numpy().round(3)
        array([0.916, 0.714], dtype=float32)
    """
    name = "binary_crossentropy"
    target, predictions, from_logits, label_smoothing, axis = _checked_cross_entropy_arguments(
        y_true, y_pred, from_logits, label_smoothing, axis, name
    )
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    elementwise = BinaryCrossentropyElementwise.apply(predictions, target=target, from_logits=from_logits)
    return elementwise.mean(axis=axis)


# ----- regression losses -------------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred)^2, axis=-1)`` per sample.

    Example:
        >>> mean_squared_error([[0.0, 1.0]], [[1.0, 1.0]]).numpy()
        array([0.5], dtype=float32)
    """
    predictions = _predictions(y_pred, "mean_squared_error")
    target, predictions = _targets(y_true, predictions, "mean_squared_error")
    error = predictions - target
    return (error * error).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|, axis=-1)`` per sample.

    Example:
        >>> mean_absolute_error([[0.0, 1.0]], [[1.0, 3.0]]).numpy()
        array([1.5], dtype=float32)
    """
    predictions = _predictions(y_pred, "mean_absolute_error")
    target, predictions = _targets(y_true, predictions, "mean_absolute_error")
    return abs(predictions - target).mean(axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Huber loss per sample: with ``e = y_pred - y_true``, ``e^2 / 2`` where ``|e| <= delta``, else
    ``delta * |e| - delta^2 / 2``; averaged over the last axis.

    Args:
        delta: the positive point where the loss turns from quadratic to linear.

    Example:
        >>> huber([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).numpy().mean().round(3)
        np.float32(0.155)
    """
    name = "huber"
    if isinstance(delta, (bool, np.bool_)) or not isinstance(delta, numbers.Real):
        raise TypeError(f"{name}: `delta` must be a positive number. Received: delta={delta!r}")
    if not delta > 0:
        raise ValueError(f"{name}: `delta` must be positive. Received: delta={delta}")
    delta = float(delta)
    predictions = _predictions(y_pred, name)
    target, predictions = _targets(y_true, predictions, name)
    error = predictions - target
    absolute_error = abs(error)
    quadratic = absolute_error.data <= delta
    loss = where(quadratic, 0.5 * error * error, delta * absolute_error - 0.5 * delta * delta)
    return loss.mean(axis=-1)
