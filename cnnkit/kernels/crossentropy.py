"""Cross-entropy numerics: categorical (one-hot or soft targets), sparse (integer labels) and binary,
each from logits or from probabilities, forward and fused backward.

Pure array code (no Tensors, no checks): ``axis`` is a non-negative int (the class axis), labels
are valid integer arrays, targets already have the predictions' dtype. Per-sample losses come back
with the class axis removed (binary: elementwise).

From logits, the loss is ``-sum(target * log_softmax(logits))`` and its gradient the familiar
``softmax * sum(target) - target``: no probability is ever formed, so nothing underflows. From
probabilities, Keras's rule applies: predictions are renormalised to sum to 1 along the class axis
and clipped to ``[epsilon, 1 - epsilon]`` (``epsilon = 1e-7``) before the log; the gradient is zero
where the clip is active, as for any clip.
"""
from __future__ import annotations

from ..backend import get_array_module
from . import activations, softmax

__all__ = [
    "categorical_from_logits",
    "categorical_from_logits_backward",
    "categorical_from_probabilities",
    "categorical_from_probabilities_backward",
    "sparse_from_logits",
    "sparse_from_logits_backward",
    "sparse_from_probabilities",
    "sparse_from_probabilities_backward",
    "binary_from_logits",
    "binary_from_logits_backward",
    "binary_from_probabilities",
    "binary_from_probabilities_backward",
]


def _one_hot_mask(labels, num_classes, axis):
    """Boolean array, True where the class index along ``axis`` equals the label."""
    xp = get_array_module(labels)
    shape = [1] * (labels.ndim + 1)
    shape[axis] = num_classes
    classes = xp.arange(num_classes).reshape(shape)
    return classes == xp.expand_dims(labels, axis)


# ----- categorical -------------------------------------------------------------------------------
def categorical_from_logits(logits, target, axis):
    """Returns ``(loss, log_probabilities)``; the second is what the backward needs."""
    log_probabilities = softmax.log_softmax(logits, axis)
    loss = -(target * log_probabilities).sum(axis=axis)
    return loss, log_probabilities


def categorical_from_logits_backward(grad, log_probabilities, target, axis):
    """d loss / d logits = ``softmax * sum(target) - target``, times the upstream gradient."""
    xp = get_array_module(grad)
    grad = xp.expand_dims(grad, axis)
    probabilities = xp.exp(log_probabilities)
    probabilities *= target.sum(axis=axis, keepdims=True)
    probabilities -= target
    probabilities *= grad
    return probabilities


def categorical_from_probabilities(probabilities, target, axis, epsilon):
    """Returns ``(loss, normalized, total)``: Keras's renormalise-clip-log cross-entropy."""
    xp = get_array_module(probabilities)
    total = probabilities.sum(axis=axis, keepdims=True)
    normalized = probabilities / total
    clipped = xp.clip(normalized, epsilon, 1.0 - epsilon)
    loss = -(target * xp.log(clipped)).sum(axis=axis)
    return loss, normalized, total


def categorical_from_probabilities_backward(grad, normalized, total, target, axis, epsilon):
    """Chain rule through log, the clip (zero outside) and the renormalisation ``q = p / sum(p)``."""
    xp = get_array_module(grad)
    grad = xp.expand_dims(grad, axis)
    clipped = xp.clip(normalized, epsilon, 1.0 - epsilon)
    inside = (normalized >= epsilon) & (normalized <= 1.0 - epsilon)
    grad_normalized = -(grad * target) / clipped
    grad_normalized *= inside
    # q = p / T with T = sum(p): dL/dp_j = (dL/dq_j - sum_k dL/dq_k q_k) / T.
    grad_normalized -= (grad_normalized * normalized).sum(axis=axis, keepdims=True)
    grad_normalized /= total
    return grad_normalized


# ----- sparse ------------------------------------------------------------------------------------
def sparse_from_logits(logits, labels, axis):
    """Returns ``(loss, log_probabilities)``: ``-log_softmax(logits)[label]`` per sample."""
    xp = get_array_module(logits)
    log_probabilities = softmax.log_softmax(logits, axis)
    picked = xp.take_along_axis(log_probabilities, xp.expand_dims(labels, axis), axis=axis)
    return -picked.squeeze(axis), log_probabilities


def sparse_from_logits_backward(grad, log_probabilities, labels, axis):
    """d loss / d logits = ``softmax - one_hot(label)``, times the upstream gradient."""
    xp = get_array_module(grad)
    grad = xp.expand_dims(grad, axis)
    result = xp.exp(log_probabilities)
    result *= grad
    result -= _one_hot_mask(labels, log_probabilities.shape[axis], axis) * grad
    return result


def sparse_from_probabilities(probabilities, labels, axis, epsilon):
    """Returns ``(loss, picked_normalized, total)``: ``-log(clip(p[label] / sum(p)))`` per sample."""
    xp = get_array_module(probabilities)
    total = probabilities.sum(axis=axis, keepdims=True)
    picked = xp.take_along_axis(probabilities, xp.expand_dims(labels, axis), axis=axis)
    picked_normalized = (picked / total).squeeze(axis)
    loss = -xp.log(xp.clip(picked_normalized, epsilon, 1.0 - epsilon))
    return loss, picked_normalized, total


def sparse_from_probabilities_backward(grad, picked_normalized, total, labels, num_classes, axis, epsilon):
    """Only the label's normalised probability enters the loss: with ``q_l = p_l / T``,
    ``dL/dp_j = dL/dq_l * (onehot_j - q_l) / T``."""
    xp = get_array_module(grad)
    clipped = xp.clip(picked_normalized, epsilon, 1.0 - epsilon)
    inside = (picked_normalized >= epsilon) & (picked_normalized <= 1.0 - epsilon)
    grad_picked = -(grad / clipped) * inside
    scale = xp.expand_dims(grad_picked, axis) / total
    one_hot = _one_hot_mask(labels, num_classes, axis)
    return (one_hot - xp.expand_dims(picked_normalized, axis)) * scale


# ----- binary ------------------------------------------------------------------------------------
def binary_from_logits(logits, target):
    """Elementwise ``-t log(sigmoid(z)) - (1 - t) log(1 - sigmoid(z))`` as
    ``max(z, 0) - z t + log1p(exp(-|z|))``: finite for any logit."""
    xp = get_array_module(logits)
    return xp.maximum(logits, 0.0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))


def binary_from_logits_backward(grad, logits, target):
    """d loss / d z = ``sigmoid(z) - t``, times the upstream gradient."""
    return (activations.sigmoid(logits) - target) * grad


def binary_from_probabilities(probabilities, target, epsilon):
    """Elementwise ``-(t log(p) + (1 - t) log(1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]``."""
    xp = get_array_module(probabilities)
    clipped = xp.clip(probabilities, epsilon, 1.0 - epsilon)
    return -(target * xp.log(clipped) + (1.0 - target) * xp.log(1.0 - clipped))


def binary_from_probabilities_backward(grad, probabilities, target, epsilon):
    """``((1 - t) / (1 - p) - t / p)`` where the clip is inactive, 0 where it clips."""
    xp = get_array_module(grad)
    clipped = xp.clip(probabilities, epsilon, 1.0 - epsilon)
    inside = (probabilities >= epsilon) & (probabilities <= 1.0 - epsilon)
    return ((1.0 - target) / (1.0 - clipped) - target / clipped) * (grad * inside)
