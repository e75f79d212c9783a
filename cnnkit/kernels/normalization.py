"""Batch normalisation numerics: batch statistics, the normalising forward and its fused backward.

Pure array code (no Tensors, no checks). ``axes`` are the reduced axes (every axis but the feature
axes); parameters and statistics arrive with keepdims shapes, so they broadcast against the input.

The backward is the closed form for a normalisation whose statistics come from the same batch
(Ioffe and Szegedy 2015, section 3): with ``xhat = (x - mean) / sqrt(var + eps)`` and ``M`` the
number of reduced elements per feature,

    dbeta  = sum(g)
    dgamma = sum(g * xhat)
    dx     = gamma / sqrt(var + eps) * (g - dbeta / M - xhat * dgamma / M)

which is the gradient through the mean and the biased variance as well as through ``x`` itself.
"""
from __future__ import annotations

import math

from ..backend import get_array_module

__all__ = ["batch_moments", "batch_norm_forward", "batch_norm_backward"]


def _sum(x, axes, weights=None):
    """``sum(x * weights, axes, keepdims=True)`` (``weights`` optional, same shape as ``x``).

    When the reduced axes are the leading ones (channels-last data), the sum runs as
    ``einsum('ij->j')`` over a ``(rows, features)`` view: several times faster than NumPy's
    reduction over axis 0 of a tall, narrow array, and with the product fused (no temporary).
    """
    xp = get_array_module(x)
    if axes == tuple(range(len(axes))):
        rows = math.prod(x.shape[: len(axes)])
        kept_shape = (1,) * len(axes) + x.shape[len(axes):]
        if weights is None:
            total = xp.einsum("ij->j", x.reshape(rows, -1))
        else:
            total = xp.einsum("ij,ij->j", x.reshape(rows, -1), weights.reshape(rows, -1))
        return total.reshape(kept_shape)
    product = x if weights is None else x * weights
    return product.sum(axis=axes, keepdims=True)


def batch_moments(x, axes):
    """Mean and biased variance over ``axes`` (keepdims), the variance computed from centred values
    (two passes), which stays accurate when the mean is large compared with the spread."""
    count = math.prod(x.shape[axis] for axis in axes)
    mean = _sum(x, axes) / count
    centred = x - mean
    variance = _sum(centred, axes, centred) / count
    return mean, variance


def batch_norm_forward(x, mean, variance, gamma, beta, epsilon):
    """Returns ``(output, normalized, inverse_std)``; ``gamma``/``beta`` may be None (1 and 0)."""
    xp = get_array_module(x)
    inverse_std = 1.0 / xp.sqrt(variance + epsilon)
    normalized = x - mean
    normalized *= inverse_std
    output = normalized * gamma if gamma is not None else normalized.copy()
    if beta is not None:
        output += beta
    return output, normalized, inverse_std


def batch_norm_backward(grad, normalized, inverse_std, gamma, axes, need_input=True):
    """Returns ``(grad_input, grad_gamma, grad_beta)`` (keepdims shapes for the parameters)."""
    count = math.prod(grad.shape[axis] for axis in axes)
    grad_beta = _sum(grad, axes)
    grad_gamma = _sum(grad, axes, normalized)
    grad_input = None
    if need_input:
        scale = inverse_std if gamma is None else gamma * inverse_std
        grad_input = normalized * (-grad_gamma / count)
        grad_input += grad
        grad_input -= grad_beta / count
        grad_input *= scale
    return grad_input, grad_gamma, grad_beta
