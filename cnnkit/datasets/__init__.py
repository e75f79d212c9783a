"""Data sets with Keras's loaders: ``cnnkit.datasets.mnist.load_data()``.

The MNIST loader reads 10,000 real digits bundled inside the package (no download), or the full
MNIST from IDX files a user already has.

Example:
    >>> from cnnkit.datasets import mnist
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()
    >>> len(x_train), len(x_test)
    (8000, 2000)
"""
from . import mnist

__all__ = ["mnist"]
