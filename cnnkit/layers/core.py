"""Core layers: Dense, Flatten, Dropout, Activation, InputLayer and ``Input``.

Keras 3's names, arguments and defaults. ``Dense`` holds a kernel ``(in_features, units)`` and a
bias ``(units,)`` and acts on the last axis; ``Dropout`` drops only when called with
``training=True``; ``Input(shape=...)`` returns an ``InputLayer`` (cnnkit has no symbolic
tensors), which a ``Sequential`` model accepts as its first entry to fix the input shape.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import functional
from ..functional.arguments import normalize_data_format
from ..functional.fused import activate_layer_output
from .base import (
    InputSpec,
    Layer,
    activation_config,
    add_weight_with_settings,
    check_bool,
    check_positive_int,
    resolve_activation,
    resolve_weight_settings,
    standardize_shape,
    weight_setting_names,
    weight_settings_config,
)

__all__ = ["Dense", "Flatten", "Dropout", "Activation", "InputLayer", "Input"]


class Dense(Layer):
    """Fully connected layer, Keras's ``Dense``: ``activation(inputs @ kernel + bias)``.

    Args:
        units: output features (positive int).
        activation: name or callable; None means linear.
        use_bias: add a learned bias (default True).
        kernel_initializer, bias_initializer: default 'glorot_uniform' and 'zeros'.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        kernel_constraint, bias_constraint: optional projections after each optimizer step.
        lora_rank, lora_alpha, quantization_config: Keras 3's, accepted only as None (cnnkit has
            neither LoRA nor quantization).

    Weights: ``kernel`` ``(in_features, units)``, ``bias`` ``(units,)``.

    Shape:
        ``(batch, ..., in_features)`` -> ``(batch, ..., units)``.

    Example:
        >>> layer = Dense(120, activation="tanh")
        >>> layer(np.zeros((2, 256), dtype="float32")).shape
        (2, 120)
        >>> layer.count_params()
        30840
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, lora_rank=lora_rank, lora_alpha=lora_alpha,
                         quantization_config=quantization_config, **kwargs)
        message = f"Received an invalid value for `units`, expected a positive integer. Received: units={units!r}"
        if isinstance(units, (bool, np.bool_)) or not isinstance(units, (numbers.Integral, np.integer)):
            raise TypeError(message)
        if units < 1:
            raise ValueError(message)
        self.units = int(units)
        self.activation, self._activation_name = resolve_activation(activation)
        self.use_bias = check_bool(use_bias, "use_bias")
        resolve_weight_settings(
            self,
            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        )
        self.input_spec = InputSpec(min_ndim=2, description="(batch, ..., features)")

    def build(self, input_shape):
        shape = self._check_input_shape(input_shape)
        features = shape[-1]
        if features is None:
            raise ValueError(
                f"The last dimension of the inputs to layer '{self.name}' should be defined. "
                f"Received: input_shape={shape}"
            )
        self.kernel = add_weight_with_settings(self, "kernel", (features, self.units))
        self.bias = None
        if self.use_bias:
            self.bias = add_weight_with_settings(self, "bias", (self.units,))
        self.input_spec = InputSpec(min_ndim=2, axes={-1: features}, description="(batch, ..., features)")

    def call(self, inputs):
        outputs = functional.dense(inputs, self.kernel, self.bias)
        if self._activation_name == "linear":
            return outputs
        return activate_layer_output(outputs, self._activation_name, self.activation)

    def compute_output_shape(self, input_shape):
        shape = self._check_input_shape(input_shape)
        return shape[:-1] + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": activation_config(self.activation, self._activation_name),
                "use_bias": self.use_bias,
                **weight_settings_config(self, weight_setting_names(("kernel", "bias"))),
            }
        )
        return config


class Flatten(Layer):
    """Flatten every axis but the batch axis, Keras's ``Flatten``.

    With ``data_format='channels_first'`` the channels are moved last first, so the order of the
    features matches a channels-last model (Keras's rule).

    Shape:
        ``(batch, d1, d2, ...)`` -> ``(batch, d1 * d2 * ...)``.

    Example:
        >>> Flatten()(np.zeros((2, 4, 4, 16), dtype="float32")).shape
        (2, 256)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1, description="(batch, ...)")

    def call(self, inputs):
        return functional.flatten(inputs, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        shape = self._check_input_shape(input_shape)
        rest = shape[1:]
        if any(size is None for size in rest):
            return (shape[0], None)
        return (shape[0], int(np.prod(rest, dtype=np.int64)))

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Dropout(Layer):
    """Randomly zero a fraction ``rate`` of the inputs in training, scaling the rest by ``1 / (1 - rate)``.

    Keras's ``Dropout``: active only when called with ``training=True``; at inference it is the
    identity.

    Args:
        rate: fraction to drop, in [0, 1].
        noise_shape: shape of the keep/drop mask, broadcast against the input (None entries take
            the input's size), e.g. ``(batch, 1, 1, channels)`` drops whole feature maps.
        seed: int for a layer-owned, repeatable sequence of masks; None draws from
            ``cnnkit.random.get_rng()``.

    Example:
        >>> layer = Dropout(0.5)
        >>> x = np.ones((2, 4), dtype="float32")
        >>> bool((layer(x).numpy() == x).all())    # inference: identity
        True
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        message = (
            "Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
            f"Received: rate={rate!r}"
        )
        if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (numbers.Real, np.floating, np.integer)):
            raise TypeError(message)
        if not 0 <= rate <= 1:
            raise ValueError(message)
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else standardize_shape(noise_shape, "noise_shape")
        if self.noise_shape is not None and 0 in self.noise_shape:
            raise ValueError(
                "Invalid value received for argument `noise_shape`. Expected positive sizes or None. "
                f"Received: noise_shape={noise_shape!r}"
            )
        if seed is not None and (
            isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral, np.integer)) or seed < 0
        ):
            raise ValueError(f"`seed` must be a non-negative int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._seed_generator = None if seed is None else np.random.default_rng(self.seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        noise_shape = None
        if self.noise_shape is not None:
            if len(self.noise_shape) != inputs.ndim:
                raise ValueError(
                    f"Layer '{self.name}': `noise_shape` must have one entry per input axis. "
                    f"Received: noise_shape={self.noise_shape} for input shape {tuple(inputs.shape)}"
                )
            noise_shape = tuple(size if size is not None else inputs.shape[axis]
                                for axis, size in enumerate(self.noise_shape))
        call_seed = None
        if self._seed_generator is not None:
            call_seed = int(self._seed_generator.integers(0, 2**31 - 1))
        return functional.dropout(inputs, self.rate, noise_shape=noise_shape, seed=call_seed)

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return config


class Activation(Layer):
    """Apply an activation function, Keras's ``Activation``.

    Args:
        activation: a name (``'relu'``, ``'softmax'``, ...) or a callable.

    Example:
        >>> Activation("relu")(np.array([[-1.0, 2.0]], dtype="float32")).numpy().tolist()
        [[0.0, 2.0]]
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation, self._activation_name = resolve_activation(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activation_config(self.activation, self._activation_name)
        return config


class InputLayer(Layer):
    """The input of a model: fixes the input shape (and passes data through unchanged).

    Keras's ``InputLayer``. Give ``shape`` (without the batch axis) and optionally
    ``batch_size``, or the full ``batch_shape``.

    Args:
        shape: input shape without the batch axis, e.g. ``(28, 28, 1)``.
        batch_size: optional fixed batch size.
        dtype: input dtype (default ``floatx()``).
        sparse, ragged: accepted as Keras's (cnnkit has neither: only False/None).
        batch_shape: full shape with the batch axis (instead of shape and batch_size).
        input_tensor: not supported (cnnkit has no symbolic tensors): only None.
        optional: not supported: only False.
        name: layer name (default ``input_layer``, ``input_layer_1``, ...).

    Keras's deprecated spellings ``input_shape=`` (for ``shape``) and ``batch_input_shape=``
    (for ``batch_shape``) are accepted too.

    Example:
        >>> layer = InputLayer(shape=(28, 28, 1))
        >>> layer.batch_shape
        (None, 28, 28, 1)
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:  # Keras: deprecated alias of `shape`
            legacy_shape = kwargs.pop("input_shape")
            if shape is not None:
                raise ValueError(
                    "Pass the input shape once, as `shape`. "
                    f"Received: shape={shape!r}, input_shape={legacy_shape!r}"
                )
            shape = legacy_shape
        if "batch_input_shape" in kwargs:  # Keras: alias of `batch_shape`
            legacy_batch_shape = kwargs.pop("batch_input_shape")
            if batch_shape is not None:
                raise ValueError(
                    "Pass the batch shape once, as `batch_shape`. "
                    f"Received: batch_shape={batch_shape!r}, batch_input_shape={legacy_batch_shape!r}"
                )
            batch_shape = legacy_batch_shape
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise ValueError(f"cnnkit has no sparse tensors. Received: sparse={sparse!r}")
        if ragged:
            raise ValueError(f"cnnkit has no ragged tensors. Received: ragged={ragged!r}")
        if input_tensor is not None:
            raise ValueError("cnnkit's InputLayer takes a shape, not a tensor. Received: input_tensor=...")
        if optional:
            raise ValueError(f"cnnkit has no optional inputs. Received: optional={optional!r}")
        if shape is not None and batch_shape is not None:
            raise ValueError(
                "You cannot pass both `shape` and `batch_shape` at the same time. "
                f"Received: shape={shape!r}, batch_shape={batch_shape!r}"
            )
        if batch_size is not None and batch_shape is not None:
            raise ValueError(
                "You cannot pass both `batch_size` and `batch_shape` at the same time. "
                f"Received: batch_size={batch_size!r}, batch_shape={batch_shape!r}"
            )
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument, e.g. InputLayer(shape=(28, 28, 1)).")
        if batch_size is not None:
            batch_size = check_positive_int(batch_size, "batch_size")
        if shape is not None:
            batch_shape = (batch_size,) + standardize_shape(shape, "shape")
        else:
            batch_shape = standardize_shape(batch_shape, "batch_shape")
            if not batch_shape:
                raise ValueError(f"`batch_shape` must include the batch axis. Received: batch_shape={batch_shape!r}")
        self.batch_shape = batch_shape
        self.sparse = False
        self.ragged = False
        self.optional = False
        self._input_shape_arg = batch_shape[1:]
        axes = {axis: size for axis, size in enumerate(batch_shape) if size is not None}
        self.input_spec = InputSpec(ndim=len(batch_shape), axes=axes, description=f"{batch_shape}")
        self.build(batch_shape)

    @property
    def shape(self) -> tuple:
        """The input shape with the batch axis (as Keras's ``Input(...).shape``)."""
        return self.batch_shape

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape=None):
        return self.batch_shape

    def get_config(self):
        """Keras's InputLayer config: batch_shape, dtype, sparse, ragged, name, optional (and trainable)."""
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": self.sparse, "ragged": self.ragged,
                "name": self.name, "optional": self.optional, "trainable": self.trainable}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """Keras's ``Input``: here it returns an ``InputLayer`` (cnnkit has no symbolic tensors).

    Use it as the first entry of a Sequential model: ``Sequential([Input(shape=(28, 28, 1)), ...])``.
    Arguments as Keras 3's ``keras.Input`` (``sparse``, ``ragged``, ``tensor`` and ``optional``
    only in their default, off state).

    Example:
        >>> Input(shape=(28, 28, 1)).shape
        (None, 28, 28, 1)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                      batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name)
