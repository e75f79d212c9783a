"""Pooling layers: MaxPooling1D/2D, AveragePooling1D/2D, GlobalAverage/GlobalMaxPooling1D/2D.

Keras 3's names, arguments and defaults (``MaxPool2D``, ``AvgPool2D`` and the like are aliases
of the same classes, exported from ``cnnkit.layers``). Pooling has no weights; ``call`` is one
functional op. Average pooling with ``padding='same'`` averages over the real cells of each
window only, as Keras does.

Shape (per spatial axis of size ``n``, pool ``p``, stride ``s``; stride defaults to the pool):
    'valid': ``floor((n - p) / s) + 1``;   'same': ``ceil(n / s)``.
"""
from __future__ import annotations

import numpy as np

from .. import functional
from ..autograd import Tensor
from ..functional.arguments import normalize_data_format, standardize_tuple
from .base import InputSpec, Layer, check_bool, check_padding
from .convolutional import conv_output_spatial, describe_axes, join_channels, split_channels

__all__ = [
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
]


class _Pooling(Layer):
    """Windowed max or average pooling over ``rank`` spatial axes (Keras's BasePooling)."""

    rank = 2
    pool_mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, self.rank, "strides")
        self.padding = check_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2, description=describe_axes(self.rank, self.data_format))

    def call(self, inputs):
        pool = functional.max_pool if self.pool_mode == "max" else functional.average_pool
        return pool(inputs, self.pool_size, strides=self.strides, padding=self.padding, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        shape = self._check_input_shape(input_shape)
        spatial, channels = split_channels(shape, self.data_format)
        out_spatial = conv_output_spatial(spatial, self.pool_size, self.strides, self.padding, (1,) * self.rank)
        if any(size is not None and size <= 0 for size in out_spatial):
            raise ValueError(
                f"Layer '{self.name}': pool_size={self.pool_size} does not fit the input with padding="
                f"'{self.padding}'. Received: input_shape={shape}. Use a smaller pool or padding='same'."
            )
        return join_channels(shape[0], out_spatial, channels, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
             "data_format": self.data_format}
        )
        return config


class MaxPooling1D(_Pooling):
    """1-D max pooling, Keras's ``MaxPooling1D`` (alias ``MaxPool1D``).

    Args:
        pool_size: int (default 2), the window length.
        strides: int or None (default: ``pool_size``).
        padding: 'valid' (default) or 'same'.
        data_format: 'channels_last' (default, ``(batch, steps, channels)``) or 'channels_first'.

    Shape:
        'valid': ``floor((steps - pool_size) / strides) + 1``; 'same': ``ceil(steps / strides)``.

    Example:
        >>> import numpy as np
        >>> MaxPooling1D()(np.arange(4, dtype="float32").reshape(1, 4, 1)).numpy().ravel().tolist()
        [1.0, 3.0]
    """

    rank = 1
    pool_mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class MaxPooling2D(_Pooling):
    """2-D max pooling, Keras's ``MaxPooling2D`` (alias ``MaxPool2D``): the largest value of each window.

    Args:
        pool_size: int or (height, width) (default (2, 2)).
        strides: int, pair or None (default: ``pool_size``).
        padding: 'valid' (default) or 'same'.
        data_format: 'channels_last' (default) or 'channels_first'.

    Shape:
        per axis, 'valid': ``floor((n - pool) / stride) + 1``; 'same': ``ceil(n / stride)``.

    Example:
        >>> import numpy as np
        >>> MaxPooling2D()(np.zeros((1, 28, 28, 6), dtype="float32")).shape
        (1, 14, 14, 6)
    """

    rank = 2
    pool_mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling1D(_Pooling):
    """1-D average pooling, Keras's ``AveragePooling1D`` (alias ``AvgPool1D``).

    Arguments and Shape as MaxPooling1D; 'same' windows average over real cells only.

    Example:
        >>> import numpy as np
        >>> AveragePooling1D()(np.arange(4, dtype="float32").reshape(1, 4, 1)).numpy().ravel().tolist()
        [0.5, 2.5]
    """

    rank = 1
    pool_mode = "average"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling2D(_Pooling):
    """2-D average pooling, Keras's ``AveragePooling2D`` (alias ``AvgPool2D``): each window's mean.

    Arguments and Shape as MaxPooling2D; with 'same' the windows that overlap the padding average
    over their real cells only (Keras's rule).

    Example:
        >>> import numpy as np
        >>> AveragePooling2D(pool_size=(2, 2), strides=(2, 2))(np.zeros((1, 24, 24, 6), dtype="float32")).shape
        (1, 12, 12, 6)
    """

    rank = 2
    pool_mode = "average"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class _GlobalPooling(Layer):
    """Mean or maximum over all spatial axes (Keras's BaseGlobalPooling)."""

    rank = 2
    pool_mode = "average"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = check_bool(keepdims, "keepdims")
        self.input_spec = InputSpec(ndim=self.rank + 2, description=describe_axes(self.rank, self.data_format))

    def call(self, inputs):
        pool = functional.global_average_pool if self.pool_mode == "average" else functional.global_max_pool
        return pool(inputs, data_format=self.data_format, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        shape = self._check_input_shape(input_shape)
        spatial, channels = split_channels(shape, self.data_format)
        if self.keepdims:
            return join_channels(shape[0], (1,) * len(spatial), channels, self.data_format)
        return (shape[0], channels)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis, Keras's ``GlobalAveragePooling1D`` (alias ``GlobalAvgPool1D``).

    Call arguments:
        inputs: ``(batch, steps, channels)`` (channels_first: ``(batch, channels, steps)``).
        mask: optional ``(batch, steps)`` array, 1 for the steps to average and 0 for padding
            steps (Keras's rule: ``sum(inputs * mask) / sum(mask)`` over the steps).

    Shape:
        ``(batch, steps, channels)`` -> ``(batch, channels)``, or ``(batch, 1, channels)`` with keepdims.

    Example:
        >>> import numpy as np
        >>> GlobalAveragePooling1D()(np.ones((2, 5, 3), dtype="float32")).shape
        (2, 3)
        >>> x = np.arange(3, dtype="float32").reshape(1, 3, 1)
        >>> GlobalAveragePooling1D()(x, mask=np.array([[1, 1, 0]])).numpy().tolist()
        [[0.5]]
    """

    rank = 1
    pool_mode = "average"

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        batch, steps = inputs.shape[0], inputs.shape[1 if self.data_format == "channels_last" else 2]
        if mask.shape != (batch, steps):
            raise ValueError(
                f"Layer '{self.name}': `mask` must have shape (batch, steps) = {(batch, steps)}. "
                f"Received: mask with shape {mask.shape}"
            )
        steps_axis = 1 if self.data_format == "channels_last" else 2
        weights = np.expand_dims(mask.astype(inputs.dtype), 2 if self.data_format == "channels_last" else 1)
        total = (inputs * weights).sum(axis=steps_axis, keepdims=self.keepdims)
        return total / weights.sum(axis=steps_axis, keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width, Keras's ``GlobalAveragePooling2D`` (alias ``GlobalAvgPool2D``).

    Args:
        data_format: 'channels_last' (default) or 'channels_first'.
        keepdims: keep the spatial axes with size 1 (default False).

    Shape:
        ``(batch, h, w, channels)`` -> ``(batch, channels)``, or ``(batch, 1, 1, channels)`` with keepdims.

    Example:
        >>> import numpy as np
        >>> GlobalAveragePooling2D(keepdims=True)(np.ones((2, 4, 4, 3), dtype="float32")).shape
        (2, 1, 1, 3)
    """

    rank = 2
    pool_mode = "average"


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the steps axis, Keras's ``GlobalMaxPooling1D`` (alias ``GlobalMaxPool1D``).

    Example:
        >>> import numpy as np
        >>> GlobalMaxPooling1D()(np.ones((2, 5, 3), dtype="float32")).shape
        (2, 3)
    """

    rank = 1
    pool_mode = "max"


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over height and width, Keras's ``GlobalMaxPooling2D`` (alias ``GlobalMaxPool2D``).

    Example:
        >>> import numpy as np
        >>> GlobalMaxPooling2D()(np.ones((2, 4, 4, 3), dtype="float32")).shape
        (2, 3)
    """

    rank = 2
    pool_mode = "max"
