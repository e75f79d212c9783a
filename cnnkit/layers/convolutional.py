"""Convolution layers: Conv1D/2D/3D, Conv1D/2DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D.

Each layer follows Keras 3: ``__init__`` checks and stores the arguments (Keras's names and
defaults), ``build`` creates the weights in Keras's layouts, ``call`` is one functional op (bias
fused) followed by the activation. Output shapes come from ``cnnkit.shapes``.

Weight layouts (``k`` = ``kernel_size``, ``C`` = input channels):

==================  ===========================================  ======================
layer               weights                                      bias
==================  ===========================================  ======================
Conv               kernel ``(*k, C // groups, filters)``        ``(filters,)``
ConvTranspose      kernel ``(*k, filters, C)``                  ``(filters,)``
DepthwiseConv      kernel ``(*k, C, depth_multiplier)``         ``(C * depth_multiplier,)``
SeparableConv      depthwise_kernel ``(*k, C, depth_multiplier)``,  ``(filters,)``
                    pointwise_kernel ``(1.., C * depth_multiplier, filters)``
==================  ===========================================  ======================

Shape (per spatial axis of size ``n``, kernel ``k``, stride ``s``, dilation ``d``):
    'valid': ``floor((n - d (k - 1) - 1) / s) + 1``;  'same': ``ceil(n / s)``;
    'causal' (1-D): ``n`` for stride 1 (all padding before).
    Transposed, Keras's rule: 'valid' ``n s + max(d (k - 1) + 1 - s, 0)``, 'same' ``n s``; with
    ``output_padding`` ``(n - 1) s + d (k - 1) + 1 - 2 p + output_padding`` where ``p`` is
    ``(d (k - 1) + 1) // 2`` for 'same' and 0 for 'valid'.
"""
from __future__ import annotations

from .. import functional, shapes
from ..functional.arguments import normalize_data_format, standardize_tuple
from ..functional.fused import activate_layer_output
from .base import (
    InputSpec,
    Layer,
    activation_config,
    add_weight_with_settings,
    check_bool,
    check_padding,
    check_positive_int,
    resolve_activation,
    resolve_weight_settings,
    weight_setting_names,
    weight_settings_config,
)

__all__ = [
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "conv_output_spatial",
    "conv_transpose_output_spatial",
]

_AXES = {1: "steps", 2: "height, width", 3: "depth, height, width"}


def describe_axes(rank: int, data_format: str) -> str:
    """``'(batch, height, width, channels)'`` and the like, for error messages."""
    spatial = _AXES[rank]
    if data_format == "channels_last":
        return f"(batch, {spatial}, channels)"
    return f"(batch, channels, {spatial})"


def split_channels(input_shape, data_format: str):
    """``(spatial sizes, channels)`` of a shape with batch axis."""
    if data_format == "channels_last":
        return tuple(input_shape[1:-1]), input_shape[-1]
    return tuple(input_shape[2:]), input_shape[1]


def join_channels(batch, spatial, channels, data_format: str) -> tuple:
    if data_format == "channels_last":
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def conv_output_spatial(spatial, kernel_size, strides, padding, dilation_rate) -> tuple:
    """Output sizes of a convolution or pooling over ``spatial`` (None stays None).

    Example:
        >>> conv_output_spatial((28, 28), (5, 5), (1, 1), "valid", (1, 1))
        (24, 24)
    """
    sizes = []
    for size, kernel, stride, dilation in zip(spatial, kernel_size, strides, dilation_rate):
        if size is None:
            sizes.append(None)
            continue
        if padding == "same":
            before, after = shapes.same_padding(size, kernel, stride, dilation)
        elif padding == "causal":
            before, after = shapes.causal_padding(kernel, dilation)
        else:
            before, after = 0, 0
        sizes.append(shapes.conv_output_size(size, kernel, stride, dilation, before, after))
    return tuple(sizes)


def conv_transpose_output_spatial(spatial, kernel_size, strides, padding, output_padding, dilation_rate) -> tuple:
    """Output sizes of a transposed convolution, Keras's rule (see the module docstring).

    Example:
        >>> conv_transpose_output_spatial((7,), (3,), (2,), "same", None, (1,))
        (14,)
    """
    sizes = []
    for axis, (size, kernel, stride, dilation) in enumerate(zip(spatial, kernel_size, strides, dilation_rate)):
        if size is None:
            sizes.append(None)
            continue
        span = shapes.effective_kernel_size(kernel, dilation)
        if output_padding is None:
            if padding == "same":
                before, after = shapes.same_padding(size * stride, kernel, stride, dilation)
                extra = size * stride - shapes.transpose_output_size(size, kernel, stride, dilation, before, after)
            else:
                before, after, extra = 0, 0, max(stride - span, 0)
        else:
            before = after = span // 2 if padding == "same" else 0
            extra = output_padding[axis]
        sizes.append(shapes.transpose_output_size(size, kernel, stride, dilation, before, after, extra))
    return tuple(sizes)


class _ConvBase(Layer):
    """What every convolution layer shares: spatial arguments, activation, bias, input checks, and
    the build/call/compute_output_shape sequence.

    A subclass supplies its kernels (``_add_kernels``), its functional op (``_convolve``) and, where
    they differ from a plain convolution's, its output size rule (``_output_spatial``) and output
    channel count (``_output_channels``, also the bias length).
    """

    rank = 2

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.compute_output_shape(input_shape)
        self._add_kernels(channels)
        self.bias = None
        if self.use_bias:
            self.bias = add_weight_with_settings(self, "bias", (self._output_channels(input_shape),))
        self._fix_channels(channels)

    def call(self, inputs):
        outputs = self._convolve(
            inputs,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            bias=self.bias,
        )
        return self._activate(outputs)

    def compute_output_shape(self, input_shape):
        out_channels = self._output_channels(input_shape)
        shape = self._check_input_shape(input_shape)
        spatial, _ = split_channels(shape, self.data_format)
        out_spatial = self._output_spatial(spatial)
        self._check_output_spatial(shape, out_spatial)
        return join_channels(shape[0], out_spatial, out_channels, self.data_format)

    def _add_kernels(self, channels: int) -> None:
        raise NotImplementedError

    def _convolve(self, inputs, **options):
        raise NotImplementedError

    def _output_spatial(self, spatial) -> tuple:
        return conv_output_spatial(spatial, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def _output_channels(self, input_shape):
        return self.filters

    def _init_spatial(self, kernel_size, strides, padding, data_format, dilation_rate, allow_causal=False):
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = standardize_tuple(strides, self.rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = check_padding(padding, allow_causal=allow_causal)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2, description=describe_axes(self.rank, self.data_format))

    def _init_activation(self, activation, use_bias):
        self.activation, self._activation_name = resolve_activation(activation)
        self.use_bias = check_bool(use_bias, "use_bias")

    def _activate(self, outputs):
        if self._activation_name == "linear":
            return outputs
        return activate_layer_output(outputs, self._activation_name, self.activation)

    def _input_channels(self, input_shape) -> int:
        shape = self._check_input_shape(input_shape)
        _, channels = split_channels(shape, self.data_format)
        if channels is None:
            raise ValueError(
                f"The channel dimension of the inputs to layer '{self.name}' should be defined. "
                f"Expected {describe_axes(self.rank, self.data_format)}. Received: input_shape={shape}"
            )
        return channels

    def _fix_channels(self, channels: int) -> None:
        axis = -1 if self.data_format == "channels_last" else 1
        self.input_spec = InputSpec(
            ndim=self.rank + 2, axes={axis: channels}, description=describe_axes(self.rank, self.data_format)
        )

    def _check_output_spatial(self, input_shape, spatial) -> None:
        if any(size is not None and size <= 0 for size in spatial):
            raise ValueError(
                f"Layer '{self.name}': the kernel (kernel_size={self.kernel_size}, "
                f"dilation_rate={self.dilation_rate}) does not fit the input with padding='{self.padding}': "
                f"the output would have spatial size {spatial}. Received: input_shape={tuple(input_shape)}. "
                "Use a larger input, a smaller kernel or padding='same'."
            )

    def _spatial_config(self) -> dict:
        return {
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activation_config(self.activation, self._activation_name),
            "use_bias": self.use_bias,
        }


class _Conv(_ConvBase):
    """N-d convolution layer (Keras's BaseConv)."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = check_positive_int(filters, "filters")
        self.groups = check_positive_int(groups, "groups")
        if self.filters % self.groups != 0:
            raise ValueError(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={self.groups}, filters={self.filters}"
            )
        self._init_spatial(kernel_size, strides, padding, data_format, dilation_rate, allow_causal=self.rank == 1)
        self._init_activation(activation, use_bias)
        resolve_weight_settings(
            self,
            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        )

    def _input_channels(self, input_shape) -> int:
        channels = super()._input_channels(input_shape)
        if channels % self.groups != 0:
            raise ValueError(
                f"The number of input channels must be evenly divisible by the number of groups. Received "
                f"groups={self.groups}, but the input has {channels} channels "
                f"(full input shape is {tuple(input_shape)})."
            )
        return channels

    def _add_kernels(self, channels: int) -> None:
        kernel_shape = self.kernel_size + (channels // self.groups, self.filters)
        self.kernel = add_weight_with_settings(self, "kernel", kernel_shape)

    def _convolve(self, inputs, **options):
        return functional.conv(inputs, self.kernel, **options)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, **self._spatial_config(), "groups": self.groups})
        config.update(weight_settings_config(self, weight_setting_names(("kernel", "bias"))))
        return config


class Conv1D(_Conv):
    """1-D convolution (temporal), Keras's ``Conv1D``.

    Args:
        filters: number of output channels (positive int).
        kernel_size: int or 1-tuple, the window length.
        strides: int or 1-tuple (default 1).
        padding: 'valid' (default), 'same' (output length ``ceil(n / strides)``) or 'causal'
            (all padding at the start: output t sees inputs up to t only).
        data_format: 'channels_last' (default, ``(batch, steps, channels)``) or 'channels_first'.
        dilation_rate: int or 1-tuple (default 1).
        groups: split the channels into this many independent groups (divides both channel counts).
        activation: name or callable applied to the output (None: linear).
        use_bias: add a learned bias per filter (default True).
        kernel_initializer, bias_initializer: default 'glorot_uniform' and 'zeros'.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        kernel_constraint, bias_constraint: optional projections after each optimizer step.

    Shape:
        Input ``(batch, steps, channels)``, output ``(batch, new_steps, filters)``;
        ``new_steps = floor((steps + pad - dilation * (kernel_size - 1) - 1) / strides) + 1``.

    Example:
        >>> import numpy as np
        >>> layer = Conv1D(2, 3, padding="causal")
        >>> layer(np.ones((1, 5, 1), dtype="float32")).shape
        (1, 5, 2)
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2D(_Conv):
    """2-D convolution (spatial), Keras's ``Conv2D``: one cross-correlation per filter, plus bias.

    Args:
        filters: number of output channels (positive int).
        kernel_size: int or (height, width).
        strides: int or (height, width) (default (1, 1)).
        padding: 'valid' (default, no padding) or 'same' (TensorFlow's rule: output
            ``ceil(n / strides)``, the odd extra pad at the bottom/right).
        data_format: 'channels_last' (default, ``(batch, height, width, channels)``) or
            'channels_first' (``(batch, channels, height, width)``).
        dilation_rate: int or (height, width) (default (1, 1)); works with any stride.
        groups: independent channel groups (divides input channels and ``filters``).
        activation: name (``'relu'``, ``'tanh'``, ...) or callable; None means linear.
        use_bias: add a learned bias per filter (default True).
        kernel_initializer, bias_initializer: default 'glorot_uniform' and 'zeros'.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        kernel_constraint, bias_constraint: optional projections after each optimizer step.

    Weights: ``kernel`` of shape ``(kh, kw, channels // groups, filters)``, ``bias`` ``(filters,)``.

    Shape:
        Input ``(batch, height, width, channels)``, output ``(batch, out_h, out_w, filters)`` with
        ``out = floor((n + pad_before + pad_after - dilation * (kernel - 1) - 1) / stride) + 1``.

    Example:
        >>> import numpy as np
        >>> layer = Conv2D(6, kernel_size=(5, 5), activation="tanh")
        >>> layer(np.zeros((2, 28, 28, 1), dtype="float32")).shape
        (2, 24, 24, 6)
        >>> layer.count_params()
        156
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3D(_Conv):
    """3-D convolution, Keras's ``Conv3D`` (the same implementation as Conv1D/Conv2D).

    Shape:
        Input ``(batch, depth, height, width, channels)``; each spatial axis as in Conv2D.

    Example:
        >>> import numpy as np
        >>> Conv3D(2, 3)(np.zeros((1, 4, 4, 4, 1), dtype="float32")).shape
        (1, 2, 2, 2, 2)
    """

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class _ConvTranspose(_ConvBase):
    """N-d transposed convolution layer (Keras's BaseConvTranspose)."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = check_positive_int(filters, "filters")
        self._init_spatial(kernel_size, strides, padding, data_format, dilation_rate)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = standardize_tuple(output_padding, self.rank, "output_padding", allow_zero=True)
            if any(pad >= stride for pad, stride in zip(self.output_padding, self.strides)):
                raise ValueError(
                    f"`output_padding` must be smaller than `strides` on every axis. "
                    f"Received: output_padding={self.output_padding}, strides={self.strides}"
                )
        self._init_activation(activation, use_bias)
        resolve_weight_settings(
            self,
            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        )

    def _add_kernels(self, channels: int) -> None:
        self.kernel = add_weight_with_settings(self, "kernel", self.kernel_size + (self.filters, channels))

    def _convolve(self, inputs, **options):
        return functional.conv_transpose(inputs, self.kernel, output_padding=self.output_padding, **options)

    def _output_spatial(self, spatial) -> tuple:
        return conv_transpose_output_spatial(
            spatial, self.kernel_size, self.strides, self.padding, self.output_padding, self.dilation_rate
        )

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, **self._spatial_config(), "output_padding": self.output_padding})
        config.update(weight_settings_config(self, weight_setting_names(("kernel", "bias"))))
        return config


class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution ("deconvolution"), Keras's ``Conv1DTranspose``.

    Arguments as Conv1D (no groups), plus ``output_padding`` (int or 1-tuple, each smaller than
    the stride, or None for Keras's default size). Weights: ``kernel`` ``(k, filters, channels)``.

    Shape:
        'valid': ``steps * strides + max(dilation * (k - 1) + 1 - strides, 0)``; 'same':
        ``steps * strides``; with output_padding: ``(steps - 1) * strides + dilation * (k - 1) + 1
        - 2 * pad + output_padding``.

    Example:
        >>> import numpy as np
        >>> Conv1DTranspose(2, 3, strides=2)(np.zeros((1, 4, 1), dtype="float32")).shape
        (1, 9, 2)
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution, Keras's ``Conv2DTranspose``: the gradient of Conv2D, used to upsample.

    Arguments as Conv2D (no groups), plus ``output_padding`` (int or pair, each smaller than the
    stride; None for Keras's default size). Weights: ``kernel`` ``(kh, kw, filters, channels)``
    (Keras's layout: output channels before input channels), ``bias`` ``(filters,)``.

    Shape:
        per axis, 'valid': ``n * stride + max(dilation * (k - 1) + 1 - stride, 0)``; 'same':
        ``n * stride``; with output_padding: ``(n - 1) * stride + dilation * (k - 1) + 1 - 2 * pad
        + output_padding`` (pad ``(dilation * (k - 1) + 1) // 2`` for 'same', 0 for 'valid').

    Example:
        >>> import numpy as np
        >>> Conv2DTranspose(4, 3, strides=2, padding="same")(np.zeros((1, 7, 7, 2), dtype="float32")).shape
        (1, 14, 14, 4)
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class _DepthwiseConv(_ConvBase):
    """N-d depthwise convolution layer (Keras's BaseDepthwiseConv)."""

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier")
        self._init_spatial(kernel_size, strides, padding, data_format, dilation_rate)
        self._init_activation(activation, use_bias)
        resolve_weight_settings(
            self,
            depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
            depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint,
        )

    def _add_kernels(self, channels: int) -> None:
        self.kernel = add_weight_with_settings(
            self, "kernel", self.kernel_size + (channels, self.depth_multiplier), settings="depthwise"
        )

    def _convolve(self, inputs, **options):
        return functional.depthwise_conv(inputs, self.kernel, **options)

    def _output_channels(self, input_shape):
        return self._input_channels(input_shape) * self.depth_multiplier

    def get_config(self):
        config = super().get_config()
        config.update({"depth_multiplier": self.depth_multiplier, **self._spatial_config()})
        config.update(weight_settings_config(self, weight_setting_names(("depthwise", "bias"))))
        return config


class DepthwiseConv1D(_DepthwiseConv):
    """1-D depthwise convolution, Keras's ``DepthwiseConv1D``: each channel convolved on its own.

    Weights: ``kernel`` ``(k, channels, depth_multiplier)``, ``bias`` ``(channels * depth_multiplier,)``.

    Example:
        >>> import numpy as np
        >>> DepthwiseConv1D(3, depth_multiplier=2)(np.zeros((1, 5, 3), dtype="float32")).shape
        (1, 3, 6)
    """

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class DepthwiseConv2D(_DepthwiseConv):
    """2-D depthwise convolution, Keras's ``DepthwiseConv2D``: each input channel has its own
    ``depth_multiplier`` filters (groups equal to the channel count).

    Args:
        kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias: as Conv2D.
        depth_multiplier: output channels per input channel (default 1).
        depthwise_initializer, depthwise_regularizer, depthwise_constraint: for the kernel.

    Weights: ``kernel`` ``(kh, kw, channels, depth_multiplier)``; ``bias``
    ``(channels * depth_multiplier,)``; output channel ``c * depth_multiplier + m`` comes from
    input channel ``c``.

    Shape:
        Output ``(batch, out_h, out_w, channels * depth_multiplier)``, sizes as Conv2D.

    Example:
        >>> import numpy as np
        >>> DepthwiseConv2D(3, depth_multiplier=2)(np.zeros((1, 5, 5, 3), dtype="float32")).shape
        (1, 3, 3, 6)
    """

    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class _SeparableConv(_ConvBase):
    """N-d separable convolution layer (Keras's BaseSeparableConv): depthwise then pointwise."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = check_positive_int(filters, "filters")
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier")
        self._init_spatial(kernel_size, strides, padding, data_format, dilation_rate)
        self._init_activation(activation, use_bias)
        resolve_weight_settings(
            self,
            depthwise_initializer=depthwise_initializer, pointwise_initializer=pointwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer, pointwise_regularizer=pointwise_regularizer,
            bias_regularizer=bias_regularizer,
            depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
            bias_constraint=bias_constraint,
        )

    def _add_kernels(self, channels: int) -> None:
        self.depthwise_kernel = add_weight_with_settings(
            self, "depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier), settings="depthwise"
        )
        self.pointwise_kernel = add_weight_with_settings(
            self, "pointwise_kernel", (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            settings="pointwise",
        )

    def _convolve(self, inputs, **options):
        return functional.separable_conv(inputs, self.depthwise_kernel, self.pointwise_kernel, **options)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, **self._spatial_config(), "depth_multiplier": self.depth_multiplier})
        config.update(weight_settings_config(self, weight_setting_names(("depthwise", "pointwise", "bias"))))
        return config


class SeparableConv1D(_SeparableConv):
    """1-D separable convolution, Keras's ``SeparableConv1D``.

    Example:
        >>> import numpy as np
        >>> SeparableConv1D(4, 3)(np.zeros((1, 6, 2), dtype="float32")).shape
        (1, 4, 4)
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class SeparableConv2D(_SeparableConv):
    """2-D separable convolution, Keras's ``SeparableConv2D``: a depthwise convolution, then a 1x1
    convolution mixing the channels (far fewer weights than a full Conv2D).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias:
            as Conv2D.
        depth_multiplier: depthwise outputs per input channel (default 1).
        depthwise_* / pointwise_* / bias_*: initializer, regularizer and constraint of each weight.

    Weights: ``depthwise_kernel`` ``(kh, kw, channels, depth_multiplier)``, ``pointwise_kernel``
    ``(1, 1, channels * depth_multiplier, filters)``, ``bias`` ``(filters,)``.

    Shape:
        Output ``(batch, out_h, out_w, filters)``, sizes as Conv2D.

    Example:
        >>> import numpy as np
        >>> layer = SeparableConv2D(8, 3)
        >>> layer(np.zeros((1, 5, 5, 4), dtype="float32")).shape
        (1, 3, 3, 8)
        >>> layer.count_params()  # 3*3*4 + 4*8 + 8
        76
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)
