"""BatchNormalization, Keras 3's layer, defaults and moving-statistics rule.

In training (``training=True`` and the layer trainable) each feature is normalised with the
batch's mean and (biased) variance, and the moving statistics move towards them:

    moving_mean     = moving_mean * momentum + batch_mean * (1 - momentum)
    moving_variance = moving_variance * momentum + batch_variance * (1 - momentum)

(Keras's momentum 0.99 is PyTorch's momentum 0.01; Keras keeps the biased batch variance where
PyTorch stores the unbiased one.) At inference, or when the layer is frozen, the moving
statistics are used. The output is ``gamma * (x - mean) / sqrt(variance + epsilon) + beta``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import functional
from ..autograd import Tensor
from .base import (
    InputSpec,
    Layer,
    add_weight_with_settings,
    check_bool,
    resolve_weight_settings,
    weight_settings_config,
)

__all__ = ["BatchNormalization"]

# The weight settings in Keras's config order (the moving statistics are not trained, so they
# have no regularizer or constraint).
_SETTING_NAMES = (
    "beta_initializer",
    "gamma_initializer",
    "moving_mean_initializer",
    "moving_variance_initializer",
    "beta_regularizer",
    "gamma_regularizer",
    "beta_constraint",
    "gamma_constraint",
)


def _check_real(value, name: str, low: float, high: float, low_inclusive: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")
    too_low = value < low if low_inclusive else value <= low
    if too_low or value > high:
        bracket = "[" if low_inclusive else "("
        raise ValueError(f"`{name}` must be in {bracket}{low}, {high}]. Received: {name}={value!r}")
    return float(value)


class BatchNormalization(Layer):
    """Normalise each feature with batch statistics in training and moving statistics otherwise.

    Args:
        axis: the feature axis (default -1, the channels of channels-last data; 1 for channels-first).
        momentum: weight of the old moving statistics in each update (default 0.99).
        epsilon: added to the variance before the square root (default 1e-3).
        center: learn an offset ``beta`` (default True).
        scale: learn a factor ``gamma`` (default True).
        beta_initializer, gamma_initializer: default 'zeros' and 'ones'.
        moving_mean_initializer, moving_variance_initializer: default 'zeros' and 'ones'.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: optional.
        synchronized: accepted for Keras compatibility (one device: no effect).

    Weights (in order): ``gamma`` (if scale), ``beta`` (if center), ``moving_mean``,
    ``moving_variance`` (the last two not trainable), each of shape ``(features,)``.

    Shape:
        Output shape equals input shape.

    Example:
        >>> layer = BatchNormalization()
        >>> x = np.random.default_rng(0).normal(size=(8, 4, 4, 3)).astype("float32")
        >>> y = layer(x, training=True)
        >>> bool(abs(y.numpy().mean()) < 1e-5)
        True
        >>> [w.shape for w in layer.get_weights()]
        [(3,), (3,), (3,), (3,)]
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (numbers.Integral, np.integer)):
            raise TypeError(f"`axis` must be an int. Received: axis={axis!r}")
        self.axis = int(axis)
        self.momentum = _check_real(momentum, "momentum", 0.0, 1.0)
        self.epsilon = _check_real(epsilon, "epsilon", 0.0, float("inf"), low_inclusive=False)
        self.center = check_bool(center, "center")
        self.scale = check_bool(scale, "scale")
        self.synchronized = check_bool(synchronized, "synchronized")
        resolve_weight_settings(
            self,
            beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
            moving_mean_initializer=moving_mean_initializer, moving_variance_initializer=moving_variance_initializer,
            beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
        )
        self.gamma = self.beta = None

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Layer '{self.name}': `axis` {self.axis} is out of range for inputs of rank {rank}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self._feature_axis = self.axis % rank
        features = input_shape[self._feature_axis]
        if features is None:
            raise ValueError(
                f"Layer '{self.name}': the normalised axis {self.axis} must have a known size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        shape = (features,)
        if self.scale:
            self.gamma = add_weight_with_settings(self, "gamma", shape)
        if self.center:
            self.beta = add_weight_with_settings(self, "beta", shape)
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer,
                                           name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape=shape, initializer=self.moving_variance_initializer,
                                               name="moving_variance", trainable=False)
        self.input_spec = InputSpec(ndim=rank, axes={self._feature_axis: features})

    def _scale_and_offset(self):
        gamma = self.gamma if self.gamma is not None else Tensor(np.ones(self.moving_mean.shape, dtype=self.dtype))
        beta = self.beta if self.beta is not None else Tensor(np.zeros(self.moving_mean.shape, dtype=self.dtype))
        return gamma, beta

    def call(self, inputs, training=False):
        gamma, beta = self._scale_and_offset()
        empty = any(size == 0 for axis, size in enumerate(inputs.shape) if axis != self._feature_axis)
        if training and self.trainable and not empty:  # an empty batch has no statistics: as PyTorch, an
            # empty output and unchanged moving statistics (via the inference path below)
            outputs, batch_mean, batch_variance = functional.batch_norm_train(
                inputs, gamma, beta, axis=self._feature_axis, epsilon=self.epsilon
            )
            batch_mean = batch_mean.data if isinstance(batch_mean, Tensor) else batch_mean
            batch_variance = batch_variance.data if isinstance(batch_variance, Tensor) else batch_variance
            keep = self.momentum
            self.moving_mean.assign(self.moving_mean.data * keep + batch_mean * (1.0 - keep))
            self.moving_variance.assign(self.moving_variance.data * keep + batch_variance * (1.0 - keep))
            return outputs
        return functional.batch_normalization(
            inputs, self.moving_mean, self.moving_variance, axis=self._feature_axis, offset=beta, scale=gamma,
            epsilon=self.epsilon,
        )

    def compute_output_shape(self, input_shape):
        return self._check_input_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "axis": self.axis,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "center": self.center,
                "scale": self.scale,
                **weight_settings_config(self, _SETTING_NAMES),
                "synchronized": self.synchronized,
            }
        )
        return config
