"""Hand-engineered image filters of classic computer vision: Sobel, Prewitt, Gaussian, Gabor.

The lecture contrasts these human-designed kernels with the kernels a CNN learns. They are applied
as a true convolution (kernel flipped), the lecture's formula
``I_out(i, j) = sum_p sum_q w[p, q] * I_in(i - p, j - q)``, through
``cnnkit.functional.convolve2d``; a ``Conv2D`` layer instead cross-correlates (no flip). With the
Sobel kernel ``[[1, 0, -1], [2, 0, -2], [1, 0, -1]]`` the two differ only in sign.

Axes: ``x`` runs along columns (left to right), ``y`` along rows (top to bottom), as in image
coordinates. Kernels are float32 (``floatx()``) NumPy arrays; filtered images are NumPy arrays.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import floatx

__all__ = [
    "sobel_kernel",
    "prewitt_kernel",
    "gaussian_kernel",
    "gabor_kernel",
    "apply_filter",
    "gradient_magnitude",
    "gaussian_blur",
    "FILTER_NAMES",
]

FILTER_NAMES = ("sobel", "prewitt", "gaussian", "gabor")


def _check_direction(direction, function_name: str) -> str:
    if direction not in ("x", "y"):
        raise ValueError(
            f"{function_name}: `direction` must be 'x' (horizontal gradient, across columns) or 'y' "
            f"(vertical gradient, across rows). Received: direction={direction!r}"
        )
    return direction


def _derivative_kernel(smoothing: list, direction: str, dtype) -> np.ndarray:
    # A separable edge kernel: smoothing along one axis times a central difference [1, 0, -1]
    # along the other. Convolution flips it, so the result is (right - left) or (bottom - top).
    difference = np.array([1.0, 0.0, -1.0])
    kernel = np.outer(np.array(smoothing, dtype=np.float64), difference)
    if direction == "y":
        kernel = kernel.T
    return kernel.astype(dtype or floatx())


def sobel_kernel(direction: str = "x", dtype=None) -> np.ndarray:
    """The 3x3 Sobel kernel: a central difference smoothed with weights 1, 2, 1.

    Convolved with an image (``apply_filter``), the ``'x'`` kernel gives the horizontal
    gradient (right minus left, positive where the image brightens to the right) and the ``'y'``
    kernel the vertical one (bottom minus top).

    Args:
        direction: ``'x'`` for ``[[1, 0, -1], [2, 0, -2], [1, 0, -1]]`` (the lecture's kernel),
            ``'y'`` for its transpose.
        dtype: the kernel's dtype; default ``floatx()`` (float32).

    Returns:
        A ``(3, 3)`` array.

    Example:
        >>> sobel_kernel("x")
        array([[ 1.,  0., -1.],
               [ 2.,  0., -2.],
               [ 1.,  0., -1.]], dtype=float32)
    """
    return _derivative_kernel([1.0, 2.0, 1.0], _check_direction(direction, "sobel_kernel"), dtype)


def prewitt_kernel(direction: str = "x", dtype=None) -> np.ndarray:
    """The 3x3 Prewitt kernel: a central difference averaged with equal weights 1, 1, 1.

    Args:
        direction: ``'x'`` for ``[[1, 0, -1], [1, 0, -1], [1, 0, -1]]``, ``'y'`` for its transpose.
        dtype: the kernel's dtype; default ``floatx()``.

    Returns:
        A ``(3, 3)`` array.

    Example:
        >>> prewitt_kernel("y")
        array([[ 1.,  1.,  1.],
               [ 0.,  0.,  0.],
               [-1., -1., -1.]], dtype=float32)
    """
    return _derivative_kernel([1.0, 1.0, 1.0], _check_direction(direction, "prewitt_kernel"), dtype)


def _check_positive_number(value, name: str, function_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{function_name}: `{name}` must be a positive number. Received: {name}={value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{function_name}: `{name}` must be a positive number. Received: {name}={value!r}")
    return float(value)


def _check_size(size, default: int, function_name: str) -> int:
    if size is None:
        return default
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"{function_name}: `size` must be a positive odd int or None. Received: size={size!r}")
    if size < 1 or size % 2 == 0:
        raise ValueError(
            f"{function_name}: `size` must be a positive odd int (so the kernel has a centre). "
            f"Received: size={size!r}"
        )
    return int(size)


def gaussian_kernel(sigma: float = 1.0, size: int | None = None, dtype=None) -> np.ndarray:
    """A normalised 2-D Gaussian blur kernel.

    ``w[y, x] = exp(-(x^2 + y^2) / (2 sigma^2)) / Z`` on integer offsets from the centre, with
    ``Z`` making the weights sum to 1 (so blurring keeps an image's mean brightness).

    Args:
        sigma: the standard deviation in pixels.
        size: the odd side length; default ``2 * ceil(3 * sigma) + 1`` (covers +-3 sigma).
        dtype: the kernel's dtype; default ``floatx()``.

    Returns:
        A ``(size, size)`` array summing to 1.

    Example:
        >>> kernel = gaussian_kernel(sigma=1.0)
        >>> kernel.shape, round(float(kernel.sum()), 6)
        ((7, 7), 1.0)
    """
    sigma = _check_positive_number(sigma, "sigma", "gaussian_kernel")
    size = _check_size(size, 2 * math.ceil(3 * sigma) + 1, "gaussian_kernel")
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    profile = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel = np.outer(profile, profile)
    return (kernel / kernel.sum()).astype(dtype or floatx())


def gabor_kernel(
    sigma: float = 2.0,
    theta: float = 0.0,
    wavelength: float = 4.0,
    gamma: float = 0.5,
    phase: float = 0.0,
    size: int | None = None,
    dtype=None,
) -> np.ndarray:
    """A real Gabor kernel: a cosine grating under a Gaussian envelope.

    Simple cells of the primary visual cortex respond like these functions, and the first layer of
    a CNN trained on natural images learns similar edge and grating detectors (the lecture's last
    section). With ``x`` to the right and ``y`` downwards, offsets measured from the centre::

        x' =  x cos(theta) + y sin(theta)
        y' = -x sin(theta) + y cos(theta)
        w[y, x] = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / wavelength + phase)

    Args:
        sigma: the envelope's standard deviation in pixels (along the grating's normal).
        theta: the orientation of the grating's normal, in radians (0: stripes are vertical).
        wavelength: the grating's period in pixels.
        gamma: the envelope's aspect ratio (below 1: elongated along the stripes).
        phase: the cosine's phase offset in radians (0: even, symmetric; pi/2: odd).
        size: the odd side length; default ``2 * ceil(3 * sigma / min(gamma, 1)) + 1``.
        dtype: the kernel's dtype; default ``floatx()``.

    Returns:
        A ``(size, size)`` array (not normalised).

    Example:
        >>> kernel = gabor_kernel(sigma=2.0, theta=0.0, wavelength=4.0, size=5)
        >>> kernel[2].round(3)           # the middle row: cos(pi x / 2) * exp(-x^2 / 8)
        array([-0.607,  0.   ,  1.   ,  0.   , -0.607], dtype=float32)
    """
    sigma = _check_positive_number(sigma, "sigma", "gabor_kernel")
    wavelength = _check_positive_number(wavelength, "wavelength", "gabor_kernel")
    gamma = _check_positive_number(gamma, "gamma", "gabor_kernel")
    for name, value in (("theta", theta), ("phase", phase)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"gabor_kernel: `{name}` must be a number (radians). Received: {name}={value!r}")
    size = _check_size(size, 2 * math.ceil(3 * sigma / min(gamma, 1.0)) + 1, "gabor_kernel")
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    y, x = np.meshgrid(offsets, offsets, indexing="ij")
    along = x * math.cos(theta) + y * math.sin(theta)
    across = -x * math.sin(theta) + y * math.cos(theta)
    envelope = np.exp(-(along**2 + gamma**2 * across**2) / (2 * sigma**2))
    grating = np.cos(2 * math.pi * along / wavelength + phase)
    return (envelope * grating).astype(dtype or floatx())


def _as_image(image, function_name: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ValueError(
            f"{function_name}: `image` must be one 2-D grayscale image (height, width) or "
            f"(height, width, 1). Received: image with shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(floatx())
    return array


def apply_filter(image, kernel, mode: str = "same") -> np.ndarray:
    """Convolve one grayscale image with a kernel (kernel flipped, as classic vision does).

    Args:
        image: a ``(height, width)`` array (or ``(height, width, 1)``); integers become float32.
        kernel: a ``(kh, kw)`` array, e.g. ``sobel_kernel('x')``.
        mode: ``'same'`` (output as large as the image, zero padding), ``'valid'`` (only where
            the kernel fits) or ``'full'``, as in ``scipy.signal.convolve2d``.

    Returns:
        The filtered image as a NumPy array.

    Example:
        >>> import numpy as np
        >>> image = np.tile(np.arange(5, dtype="float32"), (5, 1))   # brightens to the right
        >>> apply_filter(image, sobel_kernel("x"), mode="valid")
        array([[8., 8., 8.],
               [8., 8., 8.],
               [8., 8., 8.]], dtype=float32)
    """
    from ..functional import convolve2d

    image = _as_image(image, "apply_filter")
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(f"apply_filter: `kernel` must be a 2-D array. Received: kernel with shape {kernel.shape}")
    kernel = kernel.astype(image.dtype, copy=False)
    return convolve2d(image, kernel, mode=mode).numpy()


def gradient_magnitude(image, operator: str = "sobel") -> np.ndarray:
    """Edge strength ``sqrt(gx^2 + gy^2)`` from a Sobel or Prewitt pair, same size as the image.

    Args:
        image: a ``(height, width)`` grayscale array.
        operator: ``'sobel'`` or ``'prewitt'``.

    Example:
        >>> import numpy as np
        >>> image = np.zeros((5, 5), dtype="float32"); image[:, 2] = 1.0   # a vertical line
        >>> gradient_magnitude(image)[2]
        array([0., 4., 0., 4., 0.], dtype=float32)
    """
    kernels = {"sobel": sobel_kernel, "prewitt": prewitt_kernel}
    if operator not in kernels:
        raise ValueError(f"gradient_magnitude: `operator` must be 'sobel' or 'prewitt'. Received: operator={operator!r}")
    image = _as_image(image, "gradient_magnitude")
    gradient_x = apply_filter(image, kernels[operator]("x"))
    gradient_y = apply_filter(image, kernels[operator]("y"))
    return np.sqrt(gradient_x**2 + gradient_y**2)


def gaussian_blur(image, sigma: float = 1.0) -> np.ndarray:
    """Blur one grayscale image with ``gaussian_kernel(sigma)`` (same size, zero padding).

    Example:
        >>> import numpy as np
        >>> image = np.zeros((9, 9), dtype="float32"); image[4, 4] = 1.0
        >>> round(float(gaussian_blur(image, sigma=1.0).sum()), 5)
        1.0
    """
    image = _as_image(image, "gaussian_blur")
    return apply_filter(image, gaussian_kernel(sigma, dtype=image.dtype))
