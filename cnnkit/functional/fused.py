"""Fused layer tails: an activation applied in place on a layer's own, private pre-activation.

A ``Conv2D(..., activation='tanh')`` or ``Dense(..., activation='tanh')`` computes
``z = op(x) + bias`` and then ``tanh(z)``. Nothing but the layer ever sees ``z``, and neither the
convolution's nor the dense product's backward reads its own output, so the activation can overwrite
``z`` instead of allocating a second array of the same size: one allocation (and its page faults)
less per layer in every forward pass, and one array of the layer's output size less alive during a
training step (LeNet-5's conv1: 1.8 MiB at batch 128). The backward is the activation's own
(``autograd.Tanh``, ``autograd.Relu``), which reads only the activation's output (or mask).

This module owns that in-place tail and the set of activations it covers (``IN_PLACE_ACTIVATIONS``).
It must only be given a tensor that nothing else holds: a layer's freshly computed pre-activation.
Never call it on user data.
"""
from __future__ import annotations

from .. import autograd
from ..autograd import Tensor
from ..backend import get_array_module
from .conv import Convolution, TransposedConvolution
from .core import Dense

__all__ = ["IN_PLACE_ACTIVATIONS", "activate_in_place", "activate_layer_output"]


class _TanhInPlace(autograd.Tanh):
    """``tanh`` written over its input; backward ``grad * (1 - out**2)`` as ``autograd.Tanh``."""

    def forward(self, a):
        self.out = get_array_module(a).tanh(a, out=a)
        return self.out


class _ReluInPlace(autograd.Relu):
    """``max(x, 0)`` written over its input (so ``+0.0``, never ``-0.0``, for negatives); backward
    ``grad * (x > 0)`` as ``autograd.Relu``."""

    def forward(self, a):
        self.mask = a > 0
        return get_array_module(a).maximum(a, 0.0, out=a)


_FUNCTIONS = {"tanh": _TanhInPlace, "relu": _ReluInPlace}
IN_PLACE_ACTIVATIONS = frozenset(_FUNCTIONS)


def activate_in_place(pre_activation: Tensor, name: str) -> Tensor:
    """Apply the activation called ``name`` (one of ``IN_PLACE_ACTIVATIONS``) over ``pre_activation``.

    Args:
        pre_activation: a Tensor that only the caller holds (a layer's ``op(x) + bias``), whose
            creator's backward does not read its output; its data is overwritten.
        name: ``'tanh'`` or ``'relu'``.

    Returns:
        A Tensor sharing ``pre_activation``'s memory, recorded for autograd like the plain op.

    Shape:
        Any shape; the output has the input's shape and dtype.

    Example:
        >>> import numpy as np
        >>> from cnnkit.functional import dense
        >>> z = dense(np.ones((1, 2), "float32"), np.ones((2, 3), "float32"))
        >>> activate_in_place(z, "tanh").numpy().round(4)
        array([[0.964, 0.964, 0.964]], dtype=float32)
    """
    try:
        function = _FUNCTIONS[name]
    except KeyError:
        raise ValueError(
            f"`name` must be one of {sorted(IN_PLACE_ACTIVATIONS)}. Received: name={name!r}"
        ) from None
    return function.apply(pre_activation)


# Functions whose backward never reads their output, and whose output is a fresh array.
_OVERWRITABLE_CREATORS = (Convolution, TransposedConvolution, Dense)


def activate_layer_output(outputs: Tensor, name, activation):
    """A layer's activation step: in place when that is safe, else ``activation(outputs)``.

    In place when ``name`` is in ``IN_PLACE_ACTIVATIONS`` and ``outputs`` came straight from a
    convolution or dense Function (or from one run without recording, whose output is just as
    fresh and private); ``name`` None (a user's own callable) always takes the plain call.

    Example:
        >>> import numpy as np
        >>> from cnnkit.functional import dense
        >>> from cnnkit.functional.activations import tanh
        >>> z = dense(np.ones((1, 2), "float32"), np.ones((2, 3), "float32"))
        >>> activate_layer_output(z, "tanh", tanh).shape
        (1, 3)
    """
    if (
        name in IN_PLACE_ACTIVATIONS
        and isinstance(outputs, Tensor)
        and (isinstance(outputs.creator, _OVERWRITABLE_CREATORS) or (outputs.creator is None and not outputs.requires_grad))
        and outputs.data.flags.writeable
    ):
        return activate_in_place(outputs, name)
    return activation(outputs)
