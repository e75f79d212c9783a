"""Preprocessing layers: Rescaling, Normalization (with ``adapt``) and the random image
augmentations RandomFlip, RandomTranslation, RandomRotation and RandomZoom.

Keras 3's names, arguments and defaults. The random layers change images only when called with
``training=True`` (otherwise they return their input unchanged, cast to the layer's dtype); they
draw from ``cnnkit.random.get_rng()`` (so ``cnnkit.random.set_seed`` makes them repeatable), or
from a generator of their own when given ``seed=``. They keep the image shape.

Translation, rotation and zoom map every output pixel ``(x, y)`` back to an input position with
an affine transform and read the input there (Keras's ``affine_transform``):
``interpolation='bilinear'`` (default) mixes the four neighbours, ``'nearest'`` takes the
closest. Positions outside the image follow ``fill_mode`` (default ``'reflect'``):

- ``'reflect'``:  ``(d c b a | a b c d | d c b a)``, reflecting about the edge of the last pixel;
- ``'wrap'``:     ``(a b c d | a b c d | a b c d)``;
- ``'nearest'``:  ``(a a a a | a b c d | d d d d)``;
- ``'constant'``: ``(k k k k | a b c d | k k k k)`` with ``k = fill_value``.

The augmentations act on the input data and pass no gradient back to it (they belong at the
start of a model).
"""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from .. import random as cnnkit_random
from ..autograd import Tensor
from ..functional.arguments import normalize_data_format
from .base import InputSpec, Layer, check_positive_int, standardize_shape

__all__ = [
    "Rescaling",
    "Normalization",
    "RandomFlip",
    "RandomTranslation",
    "RandomRotation",
    "RandomZoom",
    "affine_transform",
]

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")
NORMALIZATION_EPSILON = 1e-7  # Keras's backend.epsilon(): the smallest standard deviation divided by


def _is_number(value) -> bool:
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def _source_index(index, size: int, fill_mode: str):
    """Integer positions outside ``[0, size)`` mapped back inside by ``fill_mode`` (constant: clipped)."""
    if fill_mode == "reflect":
        period = index % (2 * size)
        return np.where(period < size, period, 2 * size - 1 - period)
    if fill_mode == "wrap":
        return index % size
    return np.clip(index, 0, size - 1)


def _lookup(index, size: int, fill_mode: str):
    """``(index inside the image, outside mask or None)`` for integer positions, through a small table.

    The positions span a short range, so mapping that range once and gathering from it is far
    cheaper than mapping every position (a modulo per pixel).
    """
    low, high = int(index.min()), int(index.max())
    if high - low > 16 * size + 64:  # far-flung positions (extreme transforms): map each directly
        outside = ((index < 0) | (index >= size)) if fill_mode == "constant" else None
        return _source_index(index, size, fill_mode), outside
    offsets = index - low
    positions = np.arange(low, high + 1)
    inside = np.take(_source_index(positions, size, fill_mode), offsets)
    if fill_mode != "constant":
        return inside, None
    return inside, np.take((positions < 0) | (positions >= size), offsets)


def _resample_rows(images, source, interpolation: str, fill_mode: str, fill):
    """Resample axis 1 of ``(batch, height, ...)`` at the positions ``source`` ``(batch, out_height)``."""
    batch, height = images.shape[:2]
    rows = images.reshape(batch * height, -1)
    image_start = (np.arange(batch) * height)[:, None]

    def read(index):
        inside, outside = _lookup(index, height, fill_mode)
        values = np.take(rows, image_start + inside, axis=0)
        if outside is not None:
            values = np.where(outside[..., None], fill, values)
        return values

    if interpolation == "nearest":
        resampled = read(np.floor(source + 0.5).astype(np.int64))
    else:
        top = np.floor(source)
        weight = (source - top).astype(images.dtype)[..., None]
        top = top.astype(np.int64)
        resampled = read(top) * (1 - weight) + read(top + 1) * weight
    return resampled.reshape((batch, source.shape[1]) + images.shape[2:]).astype(images.dtype, copy=False)


def affine_transform(images, transforms, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """Resample a batch of images with one projective transform each (Keras's convention).

    Each row ``(a0, a1, a2, b0, b1, b2, c0, c1)`` of ``transforms`` maps an output pixel
    ``(x, y)`` to the input position ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`` with
    ``k = c0 x + c1 y + 1``.

    Args:
        images: array ``(batch, height, width, channels)``.
        transforms: array ``(batch, 8)``.
        interpolation: ``'bilinear'`` or ``'nearest'``.
        fill_mode: ``'reflect'``, ``'wrap'``, ``'nearest'`` or ``'constant'``.
        fill_value: the value outside the image for ``'constant'``.

    Returns:
        Array of the images' shape and dtype.

    Example:
        >>> shift_right = np.array([[1, 0, -1, 0, 1, 0, 0, 0]], dtype="float64")
        >>> image = np.arange(3, dtype="float32").reshape(1, 1, 3, 1)
        >>> affine_transform(image, shift_right, fill_mode="constant").ravel().tolist()
        [0.0, 0.0, 1.0]
    """
    batch, height, width, channels = images.shape
    fill = np.asarray(fill_value, dtype=images.dtype)
    if not transforms[:, [1, 3, 6, 7]].any():
        # Axis-aligned (translation and zoom): rows and columns resample one after the other, which
        # is the same bilinear (or nearest) result at a fraction of the cost.
        source_y = transforms[:, 4, None] * np.arange(height) + transforms[:, 5, None]
        source_x = transforms[:, 0, None] * np.arange(width) + transforms[:, 2, None]
        resampled = _resample_rows(images, source_y, interpolation, fill_mode, fill)
        resampled = _resample_rows(resampled.transpose(0, 2, 1, 3), source_x, interpolation, fill_mode, fill)
        return np.ascontiguousarray(resampled.transpose(0, 2, 1, 3))
    rows, columns = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64),
                                indexing="ij")
    a0, a1, a2, b0, b1, b2, c0, c1 = (transforms[:, i, None, None].astype(np.float64) for i in range(8))
    scale = c0 * columns + c1 * rows + 1.0
    source_x = (a0 * columns + a1 * rows + a2) / scale  # (batch, height, width)
    source_y = (b0 * columns + b1 * rows + b2) / scale
    pixels = images.reshape(batch * height * width, channels)
    image_start = (np.arange(batch) * (height * width))[:, None, None]

    def read(y, x):
        (y_inside, y_outside), (x_inside, x_outside) = y, x
        values = np.take(pixels, image_start + y_inside * width + x_inside, axis=0)  # (batch, h, w, channels)
        if fill_mode == "constant":
            values = np.where((y_outside | x_outside)[..., None], fill, values)
        return values

    if interpolation == "nearest":
        nearest_y = _lookup(np.floor(source_y + 0.5).astype(np.int64), height, fill_mode)
        nearest_x = _lookup(np.floor(source_x + 0.5).astype(np.int64), width, fill_mode)
        return read(nearest_y, nearest_x).astype(images.dtype, copy=False)
    top = np.floor(source_y)
    left = np.floor(source_x)
    weight_y = (source_y - top).astype(images.dtype)[..., None]
    weight_x = (source_x - left).astype(images.dtype)[..., None]
    top = top.astype(np.int64)
    left = left.astype(np.int64)
    rows_above, rows_below = _lookup(top, height, fill_mode), _lookup(top + 1, height, fill_mode)
    columns_left, columns_right = _lookup(left, width, fill_mode), _lookup(left + 1, width, fill_mode)
    upper = read(rows_above, columns_left) * (1 - weight_x) + read(rows_above, columns_right) * weight_x
    lower = read(rows_below, columns_left) * (1 - weight_x) + read(rows_below, columns_right) * weight_x
    return (upper * (1 - weight_y) + lower * weight_y).astype(images.dtype, copy=False)


class _RandomImageLayer(Layer):
    """Shared life of the random image layers: data format, seed, batched or single images."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (
            not isinstance(seed, (numbers.Integral, np.integer)) or isinstance(seed, bool) or seed < 0
        ):
            raise ValueError(f"`seed` must be a non-negative int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._generator = None if seed is None else np.random.default_rng(self.seed)
        self.data_format = normalize_data_format(data_format)

    def _rng(self) -> np.random.Generator:
        return self._generator if self._generator is not None else cnnkit_random.get_rng()

    def _check_images(self, shape) -> None:
        if len(shape) not in (3, 4):
            layout = "(height, width, channels)" if self.data_format == "channels_last" else "(channels, height, width)"
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected a batch of images '
                f"(batch, {layout[1:]} or a single image {layout}, found ndim={len(shape)}. "
                f"Full shape received: {tuple(shape)}."
            )

    def __call__(self, inputs, training=None, **kwargs):
        tensor = self._convert_input(inputs)
        self._check_images(tensor.shape)
        return super().__call__(tensor, training=training, **kwargs)

    def call(self, inputs, training=False):
        if not training or inputs.size == 0:  # inference, or nothing to transform (an empty batch)
            return inputs
        images = inputs.data
        single = images.ndim == 3
        if single:
            images = images[None]
        if self.data_format == "channels_first":
            images = images.transpose(0, 2, 3, 1)
        images = self._augment(np.ascontiguousarray(images))
        if self.data_format == "channels_first":
            images = images.transpose(0, 3, 1, 2)
        if single:
            images = images[0]
        return Tensor(np.ascontiguousarray(images))

    def _augment(self, images):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        shape = standardize_shape(input_shape)
        self._check_images(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed, "data_format": self.data_format})
        return config


class _AffineImageLayer(_RandomImageLayer):
    """Random layers that resample through ``affine_transform``."""

    FACTOR_ERROR = "should be a number (or a list of two numbers) in the range [-1.0, 1.0]"

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if fill_mode not in FILL_MODES:
            raise ValueError(
                f"Unknown `fill_mode` {fill_mode!r}. Expected one of {FILL_MODES}. Received: fill_mode={fill_mode!r}"
            )
        if interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"Unknown `interpolation` {interpolation!r}. Expected one of {INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        if not _is_number(fill_value):
            raise TypeError(f"`fill_value` must be a number. Received: fill_value={fill_value!r}")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = float(fill_value)

    def _factor_range(self, factor, name: str) -> tuple:
        """Keras's factor rule: a number f means [-|f|, |f|]; a pair means [min, max]; within [-1, 1]."""
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or not all(_is_number(f) for f in factor):
                raise ValueError(f"The `{name}` argument {self.FACTOR_ERROR}. Received: {name}={factor!r}")
            values = [float(f) for f in factor]
            if not all(-1.0 <= v <= 1.0 for v in values):  # also refuses NaN
                raise ValueError(f"The `{name}` argument {self.FACTOR_ERROR}. Received: {name}={factor!r}")
            return tuple(sorted(values))
        if not _is_number(factor) or not -1.0 <= factor <= 1.0:  # also refuses NaN
            raise ValueError(f"The `{name}` argument {self.FACTOR_ERROR}. Received: {name}={factor!r}")
        return (-abs(float(factor)), abs(float(factor)))

    def _resample(self, images, transforms):
        return affine_transform(images, transforms, self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        config = super().get_config()
        config.update({"fill_mode": self.fill_mode, "interpolation": self.interpolation, "fill_value": self.fill_value})
        return config


class RandomTranslation(_AffineImageLayer):
    """Shift each image by a random fraction of its size in training, Keras's ``RandomTranslation``.

    Args:
        height_factor: a fraction f (shift drawn from [-f, f] times the height; positive moves the
            image down) or a pair (lower, upper), within [-1, 1].
        width_factor: the same for the width (positive moves the image right).
        fill_mode: 'reflect' (default), 'wrap', 'nearest' or 'constant' (see the module docstring).
        interpolation: 'bilinear' (default) or 'nearest'.
        seed: int for a layer-owned generator; None uses ``cnnkit.random.get_rng()``.
        fill_value: value outside the image with fill_mode='constant' (default 0.0).
        data_format: 'channels_last' (default) or 'channels_first'.

    Shape:
        Output shape equals input shape: ``(batch, h, w, c)`` or a single ``(h, w, c)`` image.

    Example:
        >>> layer = RandomTranslation(2 / 28, 2 / 28, seed=0)   # shifts of up to 2 pixels
        >>> x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
        >>> layer(x, training=True).shape
        (4, 28, 28, 1)
        >>> bool((layer(x).numpy() == x).all())                # inference: unchanged
        True
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self.height_lower, self.height_upper = self._factor_range(height_factor, "height_factor")
        self.width_lower, self.width_upper = self._factor_range(width_factor, "width_factor")

    def _augment(self, images):
        batch, height, width, _ = images.shape
        rng = self._rng()
        shift_y = rng.uniform(self.height_lower, self.height_upper, size=batch) * height
        shift_x = rng.uniform(self.width_lower, self.width_upper, size=batch) * width
        transforms = np.zeros((batch, 8))
        transforms[:, 0] = transforms[:, 4] = 1.0
        transforms[:, 2] = -shift_x
        transforms[:, 5] = -shift_y
        return self._resample(images, transforms)

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return config


class RandomRotation(_AffineImageLayer):
    """Rotate each image about its centre by a random angle in training, Keras's ``RandomRotation``.

    Args:
        factor: a fraction of a full turn: f means angles in [-f, f] * 2 pi; a pair (lower, upper)
            gives the range. Positive angles turn counter-clockwise.
        fill_mode, interpolation, seed, fill_value, data_format: as RandomTranslation.

    Shape:
        Output shape equals input shape.

    Example:
        >>> RandomRotation(0.05, seed=0)(np.zeros((2, 8, 8, 1), dtype="float32"), training=True).shape
        (2, 8, 8, 1)
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor
        self.lower, self.upper = self._factor_range(factor, "factor")

    def _augment(self, images):
        batch, height, width, _ = images.shape
        angles = self._rng().uniform(self.lower * 2 * math.pi, self.upper * 2 * math.pi, size=batch)
        cos, sin = np.cos(angles), np.sin(angles)
        # Output pixel (x, y) reads the input rotated about the centre ((w - 1) / 2, (h - 1) / 2).
        x_offset = ((width - 1) - (cos * (width - 1) - sin * (height - 1))) / 2.0
        y_offset = ((height - 1) - (sin * (width - 1) + cos * (height - 1))) / 2.0
        transforms = np.stack([cos, -sin, x_offset, sin, cos, y_offset, np.zeros(batch), np.zeros(batch)], axis=1)
        return self._resample(images, transforms)

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


class RandomZoom(_AffineImageLayer):
    """Zoom each image in or out about its centre by a random amount in training, Keras's ``RandomZoom``.

    Args:
        height_factor: fraction f: vertical zoom factor ``1 + u`` with u in [-f, f] (positive
            values zoom out: the picture shrinks; negative zoom in); or a pair (lower, upper).
        width_factor: the same for the width; None (default) zooms both axes by the same amount.
        fill_mode, interpolation, seed, fill_value, data_format: as RandomTranslation.

    Shape:
        Output shape equals input shape.

    Example:
        >>> RandomZoom(0.1, seed=0)(np.zeros((2, 8, 8, 1), dtype="float32"), training=True).shape
        (2, 8, 8, 1)
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self.height_lower, self.height_upper = self._factor_range(height_factor, "height_factor")
        if width_factor is not None:
            self.width_lower, self.width_upper = self._factor_range(width_factor, "width_factor")

    def _augment(self, images):
        batch, height, width, _ = images.shape
        rng = self._rng()
        zoom_y = 1.0 + rng.uniform(self.height_lower, self.height_upper, size=batch)
        if self.width_factor is None:
            zoom_x = zoom_y
        else:
            zoom_x = 1.0 + rng.uniform(self.width_lower, self.width_upper, size=batch)
        transforms = np.zeros((batch, 8))
        transforms[:, 0] = zoom_x
        transforms[:, 2] = (width - 1) / 2.0 * (1.0 - zoom_x)
        transforms[:, 4] = zoom_y
        transforms[:, 5] = (height - 1) / 2.0 * (1.0 - zoom_y)
        return self._resample(images, transforms)

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return config


class RandomFlip(_RandomImageLayer):
    """Flip each image left-right and/or up-down with probability 1/2 in training, Keras's ``RandomFlip``.

    Args:
        mode: 'horizontal', 'vertical' or 'horizontal_and_vertical' (default; each axis decided
            independently).
        seed: int for a layer-owned generator; None uses ``cnnkit.random.get_rng()``.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> RandomFlip("horizontal", seed=0)(np.zeros((2, 4, 4, 3), dtype="float32"), training=True).shape
        (2, 4, 4, 3)
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in self.MODES:
            raise ValueError(
                f"RandomFlip layer {self.name} received an unknown mode argument. Expected one of {self.MODES}. "
                f"Received: mode={mode!r}"
            )
        self.mode = mode

    def _augment(self, images):
        batch = images.shape[0]
        rng = self._rng()
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            flip = rng.random(batch) < 0.5
            images = np.where(flip[:, None, None, None], images[:, :, ::-1], images)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            flip = rng.random(batch) < 0.5
            images = np.where(flip[:, None, None, None], images[:, ::-1], images)
        return images

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


class Rescaling(Layer):
    """Multiply by ``scale`` and add ``offset``, Keras's ``Rescaling`` (e.g. pixels 0-255 to 0-1).

    Args:
        scale: a number, or a list broadcast against the last axis (per channel).
        offset: a number or list (default 0.0).

    Integer images (uint8) are converted to the layer's float dtype first.

    Example:
        >>> Rescaling(1 / 255)(np.array([[0, 255]], dtype="uint8")).numpy().tolist()
        [[0.0, 1.0]]
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = self._check_value(scale, "scale")
        self.offset = self._check_value(offset, "offset")

    @staticmethod
    def _check_value(value, name):
        if _is_number(value):
            return float(value)
        if isinstance(value, (list, tuple, np.ndarray)):
            array = np.asarray(value)
            if array.dtype.kind in "iuf" and array.size:
                return array.astype(float).tolist()
        raise TypeError(f"`{name}` must be a number or a list of numbers. Received: {name}={value!r}")

    def call(self, inputs):
        scale = np.asarray(self.scale, dtype=self.dtype)
        offset = np.asarray(self.offset, dtype=self.dtype)
        return inputs * scale + offset

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config


class Normalization(Layer):
    """Standardise features to mean 0 and variance 1 with statistics given or learned by ``adapt``.

    Keras's ``Normalization``: ``(x - mean) / max(sqrt(variance), 1e-7)`` (with ``invert=True``
    the inverse, ``x * max(sqrt(variance), 1e-7) + mean``).

    Args:
        axis: the axis (or axes) that keep separate statistics (default -1: one mean per channel);
            None means one mean and variance for everything.
        mean, variance: known statistics (both or neither); otherwise call ``adapt(data)``, which
            stores them in the non-trainable weights ``mean`` and ``variance``.
        invert: apply the inverse transformation.

    Example:
        >>> data = np.array([[1.0], [3.0], [5.0]], dtype="float32")
        >>> layer = Normalization()
        >>> layer.adapt(data)
        >>> layer(data).numpy().ravel()
        array([-1.2247448,  0.       ,  1.2247448], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            self.axis = ()
        elif _is_number(axis) and float(axis).is_integer():
            self.axis = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(
            isinstance(a, (numbers.Integral, np.integer)) and not isinstance(a, bool) for a in axis
        ):
            self.axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(f"`axis` must be an int, a tuple of ints or None. Received: axis={axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean!r} and variance={variance!r}"
            )
        self.input_mean = None if mean is None else Rescaling._check_value(mean, "mean")
        self.input_variance = None if variance is None else Rescaling._check_value(variance, "variance")
        if self.input_variance is not None and np.min(self.input_variance) < 0:
            raise ValueError(f"`variance` must be non-negative. Received: variance={variance!r}")
        if not isinstance(invert, (bool, np.bool_)):
            raise TypeError(f"`invert` must be True or False. Received: invert={invert!r}")
        self.invert = bool(invert)
        self._axis_argument = axis

    def _kept_axes(self, rank: int) -> tuple:
        axes = []
        for axis in self.axis:
            if not -rank <= axis < rank:
                raise ValueError(
                    f"Layer '{self.name}': `axis` {axis} is out of range for inputs of rank {rank}. "
                    f"Received: axis={self._axis_argument!r}"
                )
            axes.append(axis % rank)
        return tuple(sorted(set(axes)))

    def build(self, input_shape):
        rank = len(input_shape)
        self._kept = self._kept_axes(rank)
        for axis in self._kept:
            if input_shape[axis] is None:
                raise ValueError(
                    f"Layer '{self.name}': the kept axis {axis} must have a known size. "
                    f"Received: input_shape={tuple(input_shape)}"
                )
        self._statistics_shape = tuple(input_shape[axis] for axis in self._kept)
        self._broadcast_shape = tuple(input_shape[axis] if axis in self._kept else 1 for axis in range(rank))
        if self.input_mean is not None:
            for name, value in (("mean", self.input_mean), ("variance", self.input_variance)):
                given = np.shape(value)
                try:
                    np.broadcast_shapes(given, self._statistics_shape)
                except ValueError:
                    raise ValueError(
                        f"Layer '{self.name}': `{name}` must be a number or hold one value per entry of the kept "
                        f"axes {self._statistics_shape} (axis={self._axis_argument!r}). Received: {name} of shape "
                        f"{given} for input_shape={tuple(input_shape)}"
                    ) from None
                if np.broadcast_shapes(given, self._statistics_shape) != self._statistics_shape:
                    raise ValueError(
                        f"Layer '{self.name}': `{name}` of shape {given} does not fit the kept axes "
                        f"{self._statistics_shape}. Received: input_shape={tuple(input_shape)}"
                    )
        if self._kept:  # per-feature statistics fix the rank and the kept sizes; axis=None fits any input
            self.input_spec = InputSpec(
                ndim=rank, axes={axis: input_shape[axis] for axis in self._kept},
                description=f"(statistics kept along axes {self._kept})",
            )
        else:
            self._broadcast_shape = ()
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape=self._statistics_shape, initializer="zeros", name="mean",
                                              trainable=False)
            self.adapt_variance = self.add_weight(shape=self._statistics_shape, initializer="ones", name="variance",
                                                  trainable=False)

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Compute the mean and variance of ``data`` over every axis but ``axis`` and store them.

        Args:
            data: an array (or Tensor) with a batch axis, or an iterable (list, generator) of such
                batches; the statistics cover all of it, accumulated in float64.
            batch_size: with an array, read it in batches of this many samples (saves memory).
            steps: read at most this many batches.
        """
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}' was given `mean` and `variance`; it cannot also adapt to data.")
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, list) and data and isinstance(data[0], (np.ndarray, Tensor)):
            batches = iter(data)
        elif isinstance(data, (np.ndarray, list, tuple)):
            array = np.asarray(data)
            size = len(array) if batch_size is None else check_positive_int(batch_size, "batch_size")
            batches = (array[start:start + size] for start in range(0, max(len(array), 1), size))
        else:
            batches = iter(data)
        if steps is not None:
            batches = itertools.islice(batches, check_positive_int(steps, "steps"))
        batches = (np.asarray(b.data if isinstance(b, Tensor) else b) for b in batches)
        count, total, total_squares = 0, None, None
        for batch in batches:
            if not self.built:
                self.build((None,) + tuple(batch.shape[1:]))
            reduce = tuple(axis for axis in range(batch.ndim) if axis not in self._kept)
            values = batch.astype(np.float64)
            batch_sum = values.sum(axis=reduce).reshape(self._statistics_shape)
            batch_squares = (values * values).sum(axis=reduce).reshape(self._statistics_shape)
            batch_count = int(np.prod([batch.shape[axis] for axis in reduce]))
            total = batch_sum if total is None else total + batch_sum
            total_squares = batch_squares if total_squares is None else total_squares + batch_squares
            count += batch_count
        if not count:
            raise ValueError(f"Layer '{self.name}': `adapt` received no data.")
        mean = total / count
        variance = np.maximum(total_squares / count - mean * mean, 0.0)
        self.adapt_mean.assign(mean.astype(self.dtype))
        self.adapt_variance.assign(variance.astype(self.dtype))

    def _statistics(self):
        if self.input_mean is not None:
            mean = np.broadcast_to(np.asarray(self.input_mean, dtype=self.dtype), self._statistics_shape)
            variance = np.broadcast_to(np.asarray(self.input_variance, dtype=self.dtype), self._statistics_shape)
        else:
            mean, variance = self.adapt_mean.data, self.adapt_variance.data
        return mean.reshape(self._broadcast_shape), variance.reshape(self._broadcast_shape)

    def call(self, inputs):
        mean, variance = self._statistics()
        deviation = np.maximum(np.sqrt(variance), np.asarray(NORMALIZATION_EPSILON, dtype=self.dtype))
        if self.invert:
            return inputs * deviation + mean
        return (inputs - mean) / deviation

    def compute_output_shape(self, input_shape):
        return standardize_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"axis": self._axis_argument if not isinstance(self._axis_argument, list) else tuple(self._axis_argument),
             "mean": self.input_mean, "variance": self.input_variance, "invert": self.invert}
        )
        return config
