"""Classic computer vision next to the learned kind: hand-designed filters and image files.

- ``filters``: Sobel, Prewitt, Gaussian and Gabor kernels, applied as a true (flipped)
  convolution with ``cnnkit.functional.convolve2d``.
- ``image``: reading PNG/JPEG files with Pillow, and preparing a photo or drawing of a digit as
  an MNIST-like 28x28 array.

Example:
    >>> from cnnkit.vision import sobel_kernel
    >>> sobel_kernel("x")[1]
    array([ 2.,  0., -2.], dtype=float32)
"""
from .filters import (
    FILTER_NAMES,
    apply_filter,
    gabor_kernel,
    gaussian_blur,
    gaussian_kernel,
    gradient_magnitude,
    prewitt_kernel,
    sobel_kernel,
)
from .image import load_digit, load_image, prepare_digit

__all__ = [
    "FILTER_NAMES",
    "apply_filter",
    "gabor_kernel",
    "gaussian_blur",
    "gaussian_kernel",
    "gradient_magnitude",
    "prewitt_kernel",
    "sobel_kernel",
    "load_digit",
    "load_image",
    "prepare_digit",
]
