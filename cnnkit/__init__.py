"""cnnkit: convolutional neural networks from first principles, on NumPy.

The public face: ``Tensor`` and autograd, ``functional`` ops, Keras-compatible ``layers`` and
``models`` (``Sequential``), ``datasets``, ``zoo``. Importing cnnkit loads NumPy only; plotting
(matplotlib) and image I/O (Pillow) load when first used.
"""
from .autograd import Tensor, Function, no_grad, enable_grad, is_grad_enabled
from .backend import floatx, set_floatx, set_num_threads, get_num_threads

__version__ = "0.1.0"

# The public modules and Keras's top-level names (none of them loads matplotlib or Pillow).
from . import random
from . import functional, layers, losses, metrics, optimizers, callbacks, models, datasets, zoo
from .models import Sequential
from . import keras
from .models import Model
