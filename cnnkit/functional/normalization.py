"""Batch normalisation: ``batch_normalization`` with given statistics (``keras.ops``'s op, what the
BatchNormalization layer does at inference) and ``batch_norm_train``, which normalises with the
batch's own statistics in one fused Function and returns those statistics for the layer's moving
averages.

Statistics: the batch variance is the biased one (divided by the number of reduced elements ``M``),
used both to normalise and, in Keras, to update ``moving_variance``. PyTorch normalises with the
same biased variance but updates its running variance with the unbiased one (``M / (M - 1)``
times larger); cnnkit's layer follows Keras.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor, sqrt
from ..kernels import normalization as kernels
from .arguments import ensure_float_tensor

__all__ = ["batch_normalization", "batch_norm_train"]


def _feature_axes(axis, ndim: int) -> tuple:
    axes = (axis,) if isinstance(axis, (numbers.Integral, np.integer)) and not isinstance(axis, bool) else axis
    try:
        axes = tuple(axes)
    except TypeError:
        raise TypeError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}") from None
    normalized = []
    for item in axes:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (numbers.Integral, np.integer)):
            raise TypeError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}")
        if not -ndim <= item < ndim:
            raise ValueError(f"`axis` is out of range for inputs with {ndim} dimensions. Received: axis={axis!r}")
        normalized.append(int(item) % ndim)
    if not normalized or len(set(normalized)) != len(normalized):
        raise ValueError(f"`axis` must name distinct axes. Received: axis={axis!r}")
    return tuple(sorted(normalized))


def _epsilon(epsilon) -> float:
    if isinstance(epsilon, (bool, np.bool_)) or not isinstance(epsilon, numbers.Real) or not epsilon >= 0:
        raise ValueError(f"`epsilon` must be a non-negative number. Received: epsilon={epsilon!r}")
    return float(epsilon)


def _parameter(value, name: str, feature_shape: tuple, inputs_shape: tuple, axis) -> Tensor | None:
    if value is None:
        return None
    tensor = ensure_float_tensor(value, name)
    if tuple(tensor.shape) != feature_shape:
        raise ValueError(
            f"`{name}` must have one entry per feature, shape {feature_shape} for inputs of shape "
            f"{inputs_shape} and axis={axis!r}. Received: {name}.shape={tuple(tensor.shape)}"
        )
    return tensor


def batch_normalization(inputs, mean, variance, axis=-1, offset=None, scale=None, epsilon=1e-3):
    """Normalise with given statistics: ``(inputs - mean) / sqrt(variance + epsilon) * scale + offset``.

    The statistics and parameters hold one value per feature along ``axis`` and broadcast over the
    other axes. Differentiable in every argument (a composition of autograd primitives).

    Args:
        inputs: floats, e.g. ``(batch, height, width, channels)``.
        mean, variance: ``(features,)`` (the shape of ``inputs`` along ``axis``).
        axis: the feature axis (an int, or a tuple of ints for several feature axes).
        offset: ``beta``, or None for 0.  scale: ``gamma``, or None for 1.
        epsilon: added to the variance.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 2.0], [3.0, 6.0]], "float32")
        >>> batch_normalization(x, mean=np.array([2.0, 4.0]), variance=np.array([1.0, 4.0]), epsilon=0.0).numpy()
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
    """
    inputs = ensure_float_tensor(inputs, "inputs")
    axes = _feature_axes(axis, inputs.ndim)
    epsilon = _epsilon(epsilon)
    feature_shape = tuple(inputs.shape[a] for a in axes)
    broadcast_shape = tuple(inputs.shape[a] if a in axes else 1 for a in range(inputs.ndim))

    def prepared(value, name):
        tensor = _parameter(value, name, feature_shape, tuple(inputs.shape), axis)
        if tensor is None:
            return None
        if tensor.dtype != inputs.dtype:
            tensor = tensor.astype(inputs.dtype)
        return tensor.reshape(broadcast_shape)

    mean = prepared(mean, "mean")
    variance = prepared(variance, "variance")
    if mean is None or variance is None:
        raise ValueError("`mean` and `variance` are required (use batch_norm_train for batch statistics).")
    offset, scale = prepared(offset, "offset"), prepared(scale, "scale")
    inverse_std = 1.0 / sqrt(variance + epsilon)
    if scale is not None:
        inverse_std = inverse_std * scale
    shift = -mean * inverse_std if offset is None else offset - mean * inverse_std
    return inputs * inverse_std + shift


class BatchNormTrain(Function):
    """Normalise with the batch's statistics; backward through the statistics too (fused)."""

    def forward(self, inputs, *parameters, mean, variance, axes, epsilon, has_gamma, has_beta, broadcast_shape):
        parameters = [p.astype(inputs.dtype, copy=False).reshape(broadcast_shape) for p in parameters]
        gamma = parameters[0] if has_gamma else None
        beta = parameters[-1] if has_beta else None
        self.axes, self.gamma, self.has_gamma, self.has_beta = axes, gamma, has_gamma, has_beta
        self.feature_shape = tuple(size for i, size in enumerate(inputs.shape) if i not in axes)
        output, self.normalized, self.inverse_std = kernels.batch_norm_forward(
            inputs, mean, variance, gamma, beta, epsilon
        )
        return output

    def backward(self, grad):
        grad_input, grad_gamma, grad_beta = kernels.batch_norm_backward(
            grad, self.normalized, self.inverse_std, self.gamma, self.axes, need_input=self.needs_input_grad[0]
        )
        grads = [grad_input]
        if self.has_gamma:
            grads.append(grad_gamma.reshape(self.feature_shape))
        if self.has_beta:
            grads.append(grad_beta.reshape(self.feature_shape))
        return tuple(grads)


def batch_norm_train(inputs, gamma, beta, axis=-1, epsilon=1e-3):
    """Batch normalisation in training: normalise with this batch's mean and (biased) variance.

    ``output = (inputs - mean) / sqrt(variance + epsilon) * gamma + beta``, with ``mean`` and
    ``variance`` taken over every axis except ``axis``. The backward is fused and includes the
    gradient through the batch statistics.

    Args:
        inputs: floats, e.g. ``(batch, height, width, channels)``.
        gamma, beta: ``(features,)`` scale and offset, or None (1 and 0: Keras's ``scale=False`` and
            ``center=False``).
        axis: the feature axis (an int, or a tuple of ints).
        epsilon: added to the variance.

    Returns:
        ``(output, batch_mean, batch_variance)``: the normalised Tensor, and the statistics as
        Tensors of shape ``(features,)`` outside the graph. The variance is the biased one, which
        Keras's BatchNormalization folds into ``moving_variance``
        (``moving = moving * momentum + batch * (1 - momentum)``).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0], [3.0]], "float32")
        >>> output, mean, variance = batch_norm_train(x, None, None, epsilon=0.0)
        >>> output.numpy().ravel().tolist(), mean.numpy().tolist(), variance.numpy().tolist()
        ([-1.0, 1.0], [2.0], [1.0])
    """
    inputs = ensure_float_tensor(inputs, "inputs")
    axes = _feature_axes(axis, inputs.ndim)
    epsilon = _epsilon(epsilon)
    feature_shape = tuple(inputs.shape[a] for a in axes)
    gamma = _parameter(gamma, "gamma", feature_shape, tuple(inputs.shape), axis)
    beta = _parameter(beta, "beta", feature_shape, tuple(inputs.shape), axis)
    reduced_axes = tuple(a for a in range(inputs.ndim) if a not in axes)
    if any(inputs.shape[a] == 0 for a in reduced_axes):
        raise ValueError(f"`inputs` must not be empty along the reduced axes. Received: inputs.shape={inputs.shape}")
    broadcast_shape = tuple(inputs.shape[a] if a in axes else 1 for a in range(inputs.ndim))
    mean, variance = kernels.batch_moments(inputs.data, reduced_axes)
    parameters = [p for p in (gamma, beta) if p is not None]
    output = BatchNormTrain.apply(
        inputs,
        *parameters,
        mean=mean,
        variance=variance,
        axes=reduced_axes,
        epsilon=epsilon,
        has_gamma=gamma is not None,
        has_beta=beta is not None,
        broadcast_shape=broadcast_shape,
    )
    return output, Tensor(mean.reshape(feature_shape)), Tensor(variance.reshape(feature_shape))
