"""Every operation users call on Tensors (or arrays), with Keras 3 ops' signatures.

Arguments are checked and normalised here, once, so that errors name the user's argument; the
kernels in ``cnnkit.kernels`` trust what they receive. Each family lives in its own module:

- ``conv``: conv, conv_transpose, depthwise_conv, separable_conv, convolve2d, correlate2d
- ``pooling``: max_pool, average_pool, global, adaptive and LP pooling, argmax and unpooling
- ``activations``: relu, tanh, sigmoid, softmax, ... (Keras's names)
- ``losses``: cross-entropies, MSE, MAE, Huber
- ``core``: dense, dropout, flatten, reshape, zero_padding
- ``normalization``: batch_normalization
"""
from . import activations, conv, core, losses, normalization, pooling
from .activations import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
