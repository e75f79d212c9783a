"""Classic architectures as ready-built ``Sequential`` models.

- ``lenet5``: the lecture's LeNet-5 (tanh, average pooling; 44,426 parameters on 28x28x1).
- ``alexnet``: Krizhevsky et al.'s 2012 ImageNet winner, single tower (62,378,344 parameters).

Example:
    >>> from cnnkit.zoo import lenet5
    >>> model = lenet5()
    >>> model.count_params()
    44426
"""
from .alexnet import alexnet
from .lenet import lenet5

__all__ = ["alexnet", "lenet5"]
