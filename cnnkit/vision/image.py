"""Image files in, arrays out: reading pictures with Pillow, preparing digits as MNIST did, and
shifting batches of images at random (data augmentation).

``load_image`` reads any file Pillow can open (PNG, JPEG, ...) into a float32 array in [0, 1].
``prepare_digit`` turns a picture of one handwritten digit (any size, colour, background) into a
28x28 array that looks like an MNIST digit, so a model trained on MNIST can read it:

1. grayscale (transparent pixels take the background colour that contrasts with the ink);
2. light ink on a dark background: the picture is inverted when its border is light;
3. the background level is subtracted and the ink stretched to reach 1; faint specks below
   ``threshold`` are cleared;
4. cropped to the ink's bounding box and scaled, aspect ratio kept, to fit a 20x20 box (MNIST's
   normalisation, with area averaging when shrinking);
5. placed in a 28x28 field so that its centre of mass sits at the centre, as LeCun et al. did.

``random_shifts`` moves each image of a batch by a random whole number of pixels (zeros enter at
the edges): the cheapest augmentation that teaches a small network that a digit two pixels to the
left is the same digit.

Pillow is imported only when an image is read, so ``import cnnkit`` stays light.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["load_image", "prepare_digit", "load_digit", "random_shifts", "DIGIT_SIZE", "DIGIT_BOX"]

DIGIT_SIZE = 28  # side of an MNIST image
DIGIT_BOX = 20  # side of the box an MNIST digit is scaled to fit
_CENTRE = 14.0  # mean centre of mass of MNIST digits, in pixel-index coordinates


def load_image(path, grayscale: bool = True) -> np.ndarray:
    """Read an image file into a float32 array with values in [0, 1].

    Args:
        path: a file Pillow can read (PNG, JPEG, BMP, GIF's first frame, ...).
        grayscale: return ``(height, width)`` luminance (ITU-R 601 weights); otherwise
            ``(height, width, 3)`` RGB. Transparent pixels are laid over the background that
            contrasts with the opaque ones (white behind dark ink, black behind light ink).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not an image Pillow can read.

    Example:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> file_name = os.path.join(tempfile.mkdtemp(), "grey.png")
        >>> Image.new("RGB", (4, 3), (255, 255, 255)).save(file_name)
        >>> load_image(file_name).shape
        (3, 4)
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_image: no image file there. Received: path={path!r}")
    try:
        with Image.open(path) as picture:
            picture.seek(0)
            picture.load()
            return _picture_to_array(picture, grayscale)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(
            f"load_image: {path!r} is not an image Pillow can read (PNG, JPEG, BMP, ...): {error}"
        ) from None


def _picture_to_array(picture, grayscale: bool) -> np.ndarray:
    mode = picture.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(picture.convert("F"), dtype=np.float32)
        scale = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        values = np.clip(values / (1.0 if mode == "F" else scale), 0.0, 1.0)
        return values if grayscale else np.repeat(values[..., None], 3, axis=-1)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in picture.info)
    if not has_alpha:
        rgb = np.asarray(picture.convert("RGB"), dtype=np.float32) / 255.0
    else:
        rgba = np.asarray(picture.convert("RGBA"), dtype=np.float32) / 255.0
        colour, alpha = rgba[..., :3], rgba[..., 3:]
        opaque = alpha[..., 0] > 0.5
        ink_luminance = _luminance(colour[opaque]).mean() if opaque.any() else 0.0
        background = 1.0 if ink_luminance < 0.5 else 0.0
        rgb = colour * alpha + background * (1.0 - alpha)
    return _luminance(rgb).astype(np.float32) if grayscale else rgb.astype(np.float32)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def prepare_digit(image, threshold: float = 0.15) -> np.ndarray:
    """Normalise a picture of one digit the way MNIST's digits were (see the module docstring).

    Args:
        image: a ``(height, width)`` grayscale or ``(height, width, 3)`` RGB array; floats in
            [0, 1] or integers in 0-255.
        threshold: ink fainter than this fraction of the strongest stroke is cleared (paper
            texture, JPEG noise).

    Returns:
        A float32 ``(28, 28)`` array in [0, 1]: light digit on black, fitted into 20x20 and
        centred by centre of mass.

    Raises:
        ValueError: an image of another rank, or an image with no ink at all (uniform).

    Example:
        >>> import numpy as np
        >>> page = np.ones((100, 60), dtype="float32")   # white paper
        >>> page[20:80, 25:35] = 0.0                     # a dark vertical stroke: a "1"
        >>> digit = prepare_digit(page)
        >>> digit.shape, float(digit.max()), digit.sum(axis=0).nonzero()[0].tolist()
        ((28, 28), 1.0, [13, 14, 15])
    """
    from PIL import Image

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        array = _luminance(array[..., :3].astype(np.float32))
        if np.asarray(image).dtype.kind in "ui":
            array = array / 255.0
    elif array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ValueError(
            "prepare_digit: `image` must be a (height, width) grayscale or (height, width, 3) RGB "
            f"array. Received: image with shape {np.asarray(image).shape}"
        )
    if array.dtype.kind in "ui":
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32)

    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on light paper: MNIST is light ink on black
        array = 1.0 - array
        background = 1.0 - background
    strongest = float(array.max())
    if strongest - background < 1e-3:
        raise ValueError(
            "prepare_digit: the image is uniform (no ink found), so there is no digit to read. "
            f"Received: image with values from {float(np.min(array)):.3f} to {float(np.max(array)):.3f}"
        )
    ink = np.clip((array - background) / (strongest - background), 0.0, 1.0)
    ink[ink < threshold] = 0.0

    rows = np.flatnonzero(ink.any(axis=1))
    columns = np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]

    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    new_height = max(1, round(height * scale))
    new_width = max(1, round(width * scale))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    fitted = np.asarray(Image.fromarray(ink).resize((new_width, new_height), resample=resample))
    fitted = np.clip(fitted, 0.0, 1.0).astype(np.float32)

    total = fitted.sum()
    centre_row = (fitted.sum(axis=1) @ np.arange(new_height, dtype=np.float32)) / total
    centre_column = (fitted.sum(axis=0) @ np.arange(new_width, dtype=np.float32)) / total
    top = int(np.clip(round(_CENTRE - centre_row), 0, DIGIT_SIZE - new_height))
    left = int(np.clip(round(_CENTRE - centre_column), 0, DIGIT_SIZE - new_width))
    digit = np.zeros((DIGIT_SIZE, DIGIT_SIZE), dtype=np.float32)
    digit[top : top + new_height, left : left + new_width] = fitted
    return digit


def load_digit(path, threshold: float = 0.15) -> np.ndarray:
    """Read a picture of one handwritten digit and prepare it as MNIST's (``prepare_digit``).

    Args:
        path: a PNG, JPEG or other file Pillow reads; any size, colour or background.
        threshold: see ``prepare_digit``.

    Returns:
        A float32 ``(28, 28)`` array in [0, 1], ready for a model trained on ``x / 255``.

    Example:
        >>> import os, tempfile
        >>> from PIL import Image, ImageDraw
        >>> file_name = os.path.join(tempfile.mkdtemp(), "seven.png")
        >>> picture = Image.new("RGB", (120, 160), "white")
        >>> ImageDraw.Draw(picture).line([(20, 20), (100, 20), (50, 140)], fill="navy", width=12)
        >>> picture.save(file_name)
        >>> load_digit(file_name).shape
        (28, 28)
    """
    return prepare_digit(load_image(path, grayscale=True), threshold=threshold)


def random_shifts(images, max_shift: int, rng=None, data_format: str = "channels_last") -> np.ndarray:
    """Shift every image of a batch by its own random offset of up to ``max_shift`` pixels.

    Offsets are whole pixels drawn uniformly from ``-max_shift .. max_shift`` along each axis,
    independently per image; pixels shifted in from outside are zero (MNIST's background). One
    vectorised gather, no loop over images: for 8,000 digits of 28x28 about 10 ms.

    Args:
        images: a batch ``(batch, height, width, channels)`` (or ``(batch, channels, height,
            width)`` with ``data_format='channels_first'``, or ``(batch, height, width)``).
        max_shift: the largest shift in pixels (0 returns a copy).
        rng: a ``numpy.random.Generator``; default ``cnnkit.random.get_rng()`` (so
            ``cnnkit.random.set_seed`` makes the shifts repeatable).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.

    Returns:
        A new array of the same shape and dtype.

    Example:
        >>> import numpy as np
        >>> image = np.zeros((1, 5, 5, 1), dtype="float32"); image[0, 2, 2, 0] = 1.0
        >>> shifted = random_shifts(image, 2, rng=np.random.default_rng(0))
        >>> shifted.shape, float(shifted.sum())          # the dot moved, nothing was lost
        ((1, 5, 5, 1), 1.0)
    """
    from numpy.lib.stride_tricks import sliding_window_view

    from ..functional.arguments import normalize_data_format
    from ..random import get_rng

    array = np.asarray(images)
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"random_shifts: `max_shift` must be a non-negative int. Received: max_shift={max_shift!r}")
    if array.ndim not in (3, 4):
        raise ValueError(
            "random_shifts: `images` must be a batch (batch, height, width[, channels]). "
            f"Received: images with shape {array.shape}"
        )
    channels_first = normalize_data_format(data_format) == "channels_first"
    if max_shift == 0:
        return array.copy()
    rng = get_rng() if rng is None else rng
    batch = array.shape[0]
    spatial_axes = (2, 3) if channels_first and array.ndim == 4 else (1, 2)
    height, width = (array.shape[axis] for axis in spatial_axes)
    padding = [(0, 0)] * array.ndim
    for axis in spatial_axes:
        padding[axis] = (max_shift, max_shift)
    padded = np.pad(array, padding)
    # Every (height, width) window of the padded batch, then one window per image: a single gather.
    windows = sliding_window_view(padded, (height, width), axis=spatial_axes)
    if channels_first and array.ndim == 4:
        windows = np.moveaxis(windows, 1, 3)  # (batch, offsets_y, offsets_x, channels, height, width)
    row_offsets = rng.integers(0, 2 * max_shift + 1, size=batch)
    column_offsets = rng.integers(0, 2 * max_shift + 1, size=batch)
    shifted = windows[np.arange(batch), row_offsets, column_offsets]  # (batch, [channels,] height, width)
    if array.ndim == 3 or channels_first:
        return shifted
    return np.ascontiguousarray(np.moveaxis(shifted, 1, -1))
