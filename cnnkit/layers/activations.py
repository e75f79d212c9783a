"""Activation layers: ReLU, LeakyReLU, Softmax, ELU and PReLU, as Keras 3's ``keras.layers``.

Each applies one function of ``cnnkit.activations`` (``keras.activations``) with the layer's
settings, keeps the input shape, and has Keras's arguments, defaults and checks:

- ``ReLU(max_value=None, negative_slope=0.0, threshold=0.0)``: ``keras.activations.relu``;
- ``LeakyReLU(negative_slope=0.3)``: note the layer's default slope, 0.3, differs from the
  function ``leaky_relu``'s 0.2, as in Keras (Keras's old ``alpha=`` is accepted too);
- ``Softmax(axis=-1)``, whose call takes an optional ``mask`` (1 keeps, 0 masks an entry);
- ``ELU(alpha=1.0)``;
- ``PReLU(alpha_initializer='Zeros', ...)``: ``max(x, 0) - alpha * max(-x, 0)`` with a learned
  ``alpha`` per input entry (``shared_axes`` share it along axes, e.g. ``[1, 2]`` for one slope
  per channel of an image).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import activations
from ..autograd import Tensor
from .base import (
    InputSpec,
    Layer,
    add_weight_with_settings,
    resolve_weight_settings,
    standardize_shape,
    weight_setting_names,
    weight_settings_config,
)

__all__ = ["ReLU", "LeakyReLU", "Softmax", "ELU", "PReLU"]

# Keras's Softmax adds (1 - mask) times this to the masked logits (-3e4 for float16, which cnnkit lacks).
MASKED_LOGIT = -1e9


def _is_real(value) -> bool:
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def _non_negative(value, name: str, layer: str, allow_none: bool = False):
    """``value`` unchanged if it is a number >= 0 (or None when allowed); a clear error otherwise."""
    if value is None and allow_none:
        return None
    expected = "a float >= 0" + (" or None" if allow_none else "")
    if not _is_real(value):
        raise TypeError(f"`{name}` of a {layer} layer must be {expected}. Received: {name}={value!r}")
    if not value >= 0:  # also refuses NaN
        raise ValueError(
            f"`{name}` of a {layer} layer cannot be a negative value: expected {expected}. Received: {name}={value!r}"
        )
    return value


class ReLU(Layer):
    """Rectified linear unit with Keras's optional ceiling, leak and threshold (``keras.layers.ReLU``).

    ``f(x) = max_value`` for ``x >= max_value``; ``x`` for ``threshold < x < max_value``;
    ``negative_slope * (x - threshold)`` otherwise.

    Args:
        max_value: the largest output (float >= 0), or None (default) for none.
        negative_slope: slope below the threshold (float >= 0, default 0.0).
        threshold: inputs at or below it are damped (float >= 0, default 0.0).

    Shape:
        Output shape equals input shape.

    Example:
        >>> ReLU(max_value=10, negative_slope=0.5)(np.array([-10.0, -5.0, 0.0, 5.0, 10.0])).numpy()
        array([-5. , -2.5,  0. ,  5. , 10. ], dtype=float32)
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative(max_value, "max_value", "ReLU", allow_none=True)
        self.negative_slope = _non_negative(negative_slope, "negative_slope", "ReLU")
        self.threshold = _non_negative(threshold, "threshold", "ReLU")

    def call(self, inputs):
        return activations.relu(
            inputs, negative_slope=self.negative_slope, max_value=self.max_value, threshold=self.threshold
        )

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"max_value": self.max_value, "negative_slope": self.negative_slope, "threshold": self.threshold}
        )
        return config


class LeakyReLU(Layer):
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise (``keras.layers.LeakyReLU``).

    Args:
        negative_slope: float >= 0, default 0.3 (Keras's layer default; the function
            ``leaky_relu`` defaults to 0.2). The deprecated Keras name ``alpha=`` is accepted.

    Shape:
        Output shape equals input shape.

    Example:
        >>> LeakyReLU()(np.array([-10.0, 0.0, 5.0])).numpy()
        array([-3.,  0.,  5.], dtype=float32)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2's name for the slope
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(negative_slope, "negative_slope", "LeakyReLU")

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class Softmax(Layer):
    """Softmax along ``axis`` (``keras.layers.Softmax``): ``exp(x - max) / sum(exp(x - max))``.

    Args:
        axis: an int or a list/tuple of ints (normalised together), default -1.

    Call arguments:
        inputs: the logits.
        mask: optional array of the inputs' shape (or broadcastable to it): 1 keeps an entry, 0
            masks it (Keras adds ``(1 - mask) * -1e9`` to the logits, so masked entries get ~0).

    Shape:
        Output shape equals input shape.

    Example:
        >>> Softmax()(np.array([[1.0, 2.0, 1.0]])).numpy().round(4)
        array([[0.2119, 0.5761, 0.2119]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, (numbers.Integral, np.integer)) and not isinstance(a, bool) for a in axes):
            raise TypeError(f"`axis` must be an int or a list of ints. Received: axis={axis!r}")
        self.axis = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            try:
                np.broadcast_shapes(mask.shape, tuple(inputs.shape))
            except ValueError:
                raise ValueError(
                    f"Layer '{self.name}': `mask` must have the inputs' shape {tuple(inputs.shape)} (or broadcast "
                    f"to it). Received: mask with shape {mask.shape}"
                ) from None
            inputs = inputs + (1.0 - mask.astype(inputs.dtype)) * inputs.dtype.type(MASKED_LOGIT)
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        return activations.softmax(inputs, axis=axis)

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class ELU(Layer):
    """Exponential linear unit (``keras.layers.ELU``): ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: scale of the negative part, default 1.0 (stored in the config, so it survives saving).

    Shape:
        Output shape equals input shape.

    Example:
        >>> ELU(alpha=2.0)(np.array([-1.0, 3.0])).numpy().round(4)
        array([-1.2642,  3.    ], dtype=float32)
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if not _is_real(alpha):
            raise TypeError(f"`alpha` of an ELU layer must be a float. Received: alpha={alpha!r}")
        self.alpha = alpha

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class PReLU(Layer):
    """Parametric ReLU (``keras.layers.PReLU``): ``max(x, 0) - alpha * max(-x, 0)``, ``alpha`` learned.

    Args:
        alpha_initializer: default ``'Zeros'`` (Keras's; the layer starts as a ReLU).
        alpha_regularizer, alpha_constraint: optional.
        shared_axes: axes (batch axis = 0 excluded) along which one ``alpha`` is shared, e.g.
            ``[1, 2]`` for one slope per channel of ``(batch, height, width, channels)`` images.

    Weights: ``alpha`` of shape ``input_shape[1:]`` with the shared axes set to 1.

    Shape:
        Output shape equals input shape.

    Example:
        >>> layer = PReLU(alpha_initializer="ones", shared_axes=[1, 2])
        >>> layer(np.full((1, 2, 2, 3), -2.0, dtype="float32")).shape, layer.alpha.shape
        ((1, 2, 2, 3), (1, 1, 3))
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        resolve_weight_settings(
            self,
            alpha_initializer=alpha_initializer,
            alpha_regularizer=alpha_regularizer,
            alpha_constraint=alpha_constraint,
        )
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(isinstance(a, (numbers.Integral, np.integer)) and not isinstance(a, bool) for a in axes):
                raise TypeError(f"`shared_axes` must be an int or a list of ints. Received: shared_axes={shared_axes!r}")
            if any(a < 1 for a in axes):
                raise ValueError(
                    "`shared_axes` name axes after the batch axis (1, 2, ...). "
                    f"Received: shared_axes={shared_axes!r}"
                )
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(
                f"Layer '{self.name}' needs inputs with a batch axis and at least one more axis. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        parameter_shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if axis >= rank:
                raise ValueError(
                    f"Layer '{self.name}': `shared_axes` {self.shared_axes} name an axis beyond the inputs' rank "
                    f"{rank}. Received: input_shape={tuple(input_shape)}"
                )
            parameter_shape[axis - 1] = 1
        if any(size is None for size in parameter_shape):
            raise ValueError(
                f"Layer '{self.name}': every axis that is not shared must have a known size. "
                f"Received: input_shape={tuple(input_shape)}, shared_axes={self.shared_axes}"
            )
        self.alpha = add_weight_with_settings(self, "alpha", tuple(parameter_shape))
        axes = {axis: input_shape[axis] for axis in range(1, rank) if axis not in (self.shared_axes or ())}
        self.input_spec = InputSpec(ndim=rank, axes=axes)

    def call(self, inputs):
        return activations.relu(inputs) - self.alpha * activations.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                **weight_settings_config(self, weight_setting_names(("alpha",), activity_regularizer=False)),
                "shared_axes": self.shared_axes,
            }
        )
        return config
