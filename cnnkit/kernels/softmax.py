"""Softmax and log-softmax along any axes, forward and backward.

Pure array code (no Tensors, no checks). Both forwards subtract the maximum first, so no ``exp``
ever overflows; log-softmax is computed as ``x - max - log(sum(exp(x - max)))`` rather than as the
log of a softmax, so it stays finite (and exact) where a probability underflows to 0.
"""
from __future__ import annotations

from ..backend import get_array_module

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward"]


def softmax(x, axis):
    """``exp(x) / sum(exp(x), axis)``, shifted by the maximum along ``axis`` (an int or a tuple).

    Example:
        >>> import numpy as np
        >>> softmax(np.array([[1000.0, 1000.0]]), axis=-1)
        array([[0.5, 0.5]])
    """
    xp = get_array_module(x)
    if x.size == 0:  # nothing to normalise (an empty batch or an empty axis): an empty result, as PyTorch
        return x.copy()
    shifted = x - x.max(axis=axis, keepdims=True)
    exponentials = xp.exp(shifted, out=shifted)
    exponentials /= exponentials.sum(axis=axis, keepdims=True)
    return exponentials


def softmax_backward(output, grad, axis):
    """Vector-Jacobian product of softmax: ``s * (g - sum(g * s, axis))`` with ``s`` the output."""
    weighted = grad * output
    weighted -= output * weighted.sum(axis=axis, keepdims=True)
    return weighted


def log_softmax(x, axis):
    """``x - logsumexp(x, axis)``, computed with the maximum subtracted first.

    Example:
        >>> import numpy as np
        >>> log_softmax(np.array([[0.0, -1000.0]]), axis=-1)
        array([[    0., -1000.]])
    """
    xp = get_array_module(x)
    if x.size == 0:  # an empty batch or an empty axis: an empty result, as PyTorch
        return x.copy()
    shifted = x - x.max(axis=axis, keepdims=True)
    log_normalizer = xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    shifted -= log_normalizer
    return shifted


def log_softmax_backward(output, grad, axis):
    """Vector-Jacobian product of log-softmax: ``g - exp(output) * sum(g, axis)``."""
    xp = get_array_module(output)
    return grad - xp.exp(output) * grad.sum(axis=axis, keepdims=True)
