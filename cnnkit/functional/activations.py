"""Activation functions with Keras 3's names, arguments and defaults (``keras.ops``; the same as
``keras.activations`` except ``gelu``, whose ``approximate`` defaults to True here as in
``keras.ops.gelu``, while ``cnnkit.activations.gelu`` keeps ``keras.activations``'s exact default).

Each takes a Tensor or an array of floats and returns a Tensor. Those whose gradient is delicate or
hot have a Function with its own backward (sigmoid, softplus, elu, gelu, leaky_relu, softmax,
log_softmax, softsign; tanh and relu come from ``cnnkit.autograd``); the rest are compositions of autograd
primitives. All are finite for any finite input: no ``exp`` of a large positive number is formed.

Derivatives at the kinks follow PyTorch: 0 for relu at 0, ``negative_slope`` for leaky_relu at 0.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import autograd
from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..kernels import activations as activation_kernels
from ..kernels import softmax as softmax_kernels
from .arguments import ensure_float_tensor

__all__ = [
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "sigmoid",
    "hard_sigmoid",
    "tanh",
    "softplus",
    "softsign",
    "silu",
    "swish",
    "softmax",
    "log_softmax",
    "linear",
    "exponential",
    "hard_silu",
    "hard_swish",
    "mish",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _check_number(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number. Received: {name}={value!r}")
    return float(value)


def _normalize_softmax_axis(axis, ndim: int):
    """An int or a tuple of ints, each in ``[-ndim, ndim)``, as a tuple of non-negative axes."""
    axes = (axis,) if isinstance(axis, (numbers.Integral, np.integer)) and not isinstance(axis, bool) else axis
    try:
        axes = tuple(axes)
    except TypeError:
        raise TypeError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}") from None
    normalized = []
    for item in axes:
        if isinstance(item, bool) or not isinstance(item, (numbers.Integral, np.integer)):
            raise TypeError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}")
        if not -ndim <= item < ndim:
            raise ValueError(
                f"`axis` is out of range for an input with {ndim} dimensions. Received: axis={axis!r}"
            )
        normalized.append(int(item) % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"`axis` repeats an axis. Received: axis={axis!r}")
    return tuple(normalized)


# ----- Functions with their own backward -----------------------------------------------------------
class Sigmoid(Function):
    def forward(self, x):
        self.output = activation_kernels.sigmoid(x)
        return self.output

    def backward(self, grad):
        return (grad * self.output * (1.0 - self.output),)


class Softplus(Function):
    def forward(self, x):
        self.x = x
        return activation_kernels.softplus(x)

    def backward(self, grad):
        return (grad * activation_kernels.sigmoid(self.x),)


class LeakyRelu(Function):
    """``max(x, slope * x)`` (Keras's definition; equal to PyTorch's for slopes in [0, 1])."""

    def forward(self, x, negative_slope):
        self.negative_slope = negative_slope
        self.linear_part = x > negative_slope * x  # strict: the slope applies at 0, as PyTorch
        return get_array_module(x).where(self.linear_part, x, negative_slope * x)

    def backward(self, grad):
        xp = get_array_module(grad)
        return (xp.where(self.linear_part, grad, self.negative_slope * grad),)


class Elu(Function):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise (``expm1`` keeps small ``x`` exact)."""

    def forward(self, x, alpha, scale):
        xp = get_array_module(x)
        self.positive = x > 0
        self.alpha, self.scale = alpha, scale
        self.negative_input = xp.minimum(x, 0.0)
        output = xp.where(self.positive, x, alpha * xp.expm1(self.negative_input))
        return output * scale if scale != 1.0 else output

    def backward(self, grad):
        xp = get_array_module(grad)
        # d/dx alpha * (exp(x) - 1) = alpha * exp(x), computed from x (not from the output + alpha,
        # which cancels to 0 in the far negative tail).
        local = xp.where(self.positive, 1.0, self.alpha * xp.exp(self.negative_input))
        if self.scale != 1.0:
            local = local * self.scale
        return (grad * local.astype(grad.dtype, copy=False),)


class Softsign(Function):
    """``x / (|x| + 1)`` with the derivative ``1 / (|x| + 1)^2`` in closed form (a composition
    would subtract two nearly equal terms for large ``|x|``)."""

    def forward(self, x):
        xp = get_array_module(x)
        self.denominator = xp.abs(x) + 1.0
        return x / self.denominator

    def backward(self, grad):
        return (grad / (self.denominator * self.denominator),)


class Gelu(Function):
    def forward(self, x, approximate):
        self.x, self.approximate = x, approximate
        if approximate:
            output, self.tanh_value = activation_kernels.gelu_tanh(x)
            return output
        self.cdf = activation_kernels.normal_cdf(x)
        return x * self.cdf

    def backward(self, grad):
        if self.approximate:
            return (grad * activation_kernels.gelu_tanh_derivative(self.x, self.tanh_value),)
        return (grad * (self.cdf + self.x * activation_kernels.normal_pdf(self.x)),)


class Softmax(Function):
    def forward(self, x, axis):
        self.axis = axis
        self.output = softmax_kernels.softmax(x, axis)
        return self.output

    def backward(self, grad):
        return (softmax_kernels.softmax_backward(self.output, grad, self.axis),)


class LogSoftmax(Function):
    def forward(self, x, axis):
        self.axis = axis
        self.output = softmax_kernels.log_softmax(x, axis)
        return self.output

    def backward(self, grad):
        return (softmax_kernels.log_softmax_backward(self.output, grad, self.axis),)


# ----- the activations -------------------------------------------------------------------------------
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit, with Keras's optional leak, ceiling and threshold.

    With the defaults it is ``max(x, 0)``. Otherwise, as ``keras.activations.relu``: values above
    ``threshold`` pass (then capped at ``max_value``), values at or below it become
    ``negative_slope * (x - threshold)``.

    Args:
        x: input tensor of floats.
        negative_slope: slope below the threshold (>= 0).
        max_value: the largest output value, or None for no cap (>= 0).
        threshold: the value below which inputs are damped.

    Example:
        >>> relu([-10.0, -5.0, 0.0, 5.0, 10.0], max_value=5.0).numpy()
        array([0., 0., 0., 5., 5.], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    negative_slope = _check_number(negative_slope, "negative_slope")
    max_value = _check_number(max_value, "max_value", allow_none=True)
    threshold = _check_number(threshold, "threshold")
    if negative_slope < 0:
        raise ValueError(f"`negative_slope` must be >= 0. Received: negative_slope={negative_slope}")
    if max_value is not None and max_value < 0:
        raise ValueError(f"`max_value` must be >= 0 or None. Received: max_value={max_value}")
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return LeakyRelu.apply(x, negative_slope=negative_slope)
    if negative_slope != 0.0:
        negative_part = autograd.relu(threshold - x) if threshold != 0.0 else autograd.relu(-x)
    if threshold != 0.0:
        output = x * (x.data > threshold).astype(x.dtype)  # passes x where x > threshold, else 0
    else:
        output = autograd.relu(x)
    if max_value is not None:
        output = autograd.clip(output, 0.0, max_value)
    if negative_slope != 0.0:
        output = output - negative_slope * negative_part
    return output


def relu6(x):
    """``min(max(x, 0), 6)``.

    Example:
        >>> relu6([-1.0, 3.0, 9.0]).numpy()
        array([0., 3., 6.], dtype=float32)
    """
    return autograd.clip(ensure_float_tensor(x, "x"), 0.0, 6.0)


def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (Keras's default slope is 0.2).

    Example:
        >>> leaky_relu([-1.0, 2.0]).numpy()
        array([-0.2,  2. ], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return LeakyRelu.apply(x, negative_slope=_check_number(negative_slope, "negative_slope"))


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Example:
        >>> elu([-1.0, 2.0]).numpy().round(4)
        array([-0.6321,  2.    ], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return Elu.apply(x, alpha=_check_number(alpha, "alpha"), scale=1.0)


def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with Klambauer et al.'s constants
    (``alpha = 1.67326324``, ``scale = 1.05070098``).

    Example:
        >>> selu([0.0, 1.0]).numpy().round(4)
        array([0.    , 1.0507], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return Elu.apply(x, alpha=SELU_ALPHA, scale=SELU_SCALE)


def gelu(x, approximate=True):
    """Gaussian error linear unit ``x * Phi(x)`` (``Phi`` the standard normal CDF), as ``keras.ops.gelu``.

    Args:
        approximate: use the tanh approximation
            ``x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`` (PyTorch's
            ``approximate='tanh'``); False gives the exact form (PyTorch's default). The default,
            True, is ``keras.ops.gelu``'s; the activation ``'gelu'`` (``cnnkit.activations.gelu``,
            ``keras.activations.gelu``) defaults to the exact form instead.

    Example:
        >>> gelu([-1.0, 0.0, 1.0]).numpy().round(4)
        array([-0.1588,  0.    ,  0.8412], dtype=float32)
        >>> gelu([-1.0, 0.0, 1.0], approximate=False).numpy().round(4)
        array([-0.1587,  0.    ,  0.8413], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    if not isinstance(approximate, (bool, np.bool_)):
        raise TypeError(f"`approximate` must be True or False. Received: approximate={approximate!r}")
    return Gelu.apply(x, approximate=bool(approximate))


def sigmoid(x):
    """``1 / (1 + exp(-x))``, computed without overflow for large ``|x|``.

    Example:
        >>> sigmoid([-1000.0, 0.0, 1000.0]).numpy()
        array([0. , 0.5, 1. ], dtype=float32)
    """
    return Sigmoid.apply(ensure_float_tensor(x, "x"))


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: 0 for ``x <= -3``, 1 for ``x >= 3``, ``x / 6 + 1/2`` between
    (PyTorch's ``hardsigmoid``; Keras 2 used ``0.2 x + 0.5``).

    Example:
        >>> hard_sigmoid([-4.0, 0.0, 1.5, 4.0]).numpy()
        array([0.  , 0.5 , 0.75, 1.  ], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return autograd.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


def tanh(x):
    """Hyperbolic tangent.

    Example:
        >>> tanh([0.0]).numpy()
        array([0.], dtype=float32)
    """
    return autograd.tanh(ensure_float_tensor(x, "x"))


def softplus(x):
    """``log(exp(x) + 1)``, computed as ``max(x, 0) + log1p(exp(-|x|))`` (finite for any x).

    Example:
        >>> softplus([-1000.0, 0.0, 1000.0]).numpy()
        array([0.000000e+00, 6.931472e-01, 1.000000e+03], dtype=float32)
    """
    return Softplus.apply(ensure_float_tensor(x, "x"))


def softsign(x):
    """``x / (|x| + 1)``.

    Example:
        >>> softsign([-1.0, 3.0]).numpy()
        array([-0.5 ,  0.75], dtype=float32)
    """
    return Softsign.apply(ensure_float_tensor(x, "x"))


def silu(x):
    """Swish / SiLU: ``x * sigmoid(x)``.

    Example:
        >>> silu([0.0, 1.0]).numpy().round(4)
        array([0.    , 0.7311], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return x * Sigmoid.apply(x)


swish = silu


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (an int or a tuple of ints), shifted by the maximum
    so that nothing overflows.

    Example:
        >>> softmax([[1000.0, 1000.0]]).numpy()
        array([[0.5, 0.5]], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return Softmax.apply(x, axis=_normalize_softmax_axis(axis, x.ndim))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``: exact where softmax would underflow to 0.

    Example:
        >>> log_softmax([[0.0, -200.0]]).numpy()
        array([[   0., -200.]], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return LogSoftmax.apply(x, axis=_normalize_softmax_axis(axis, x.ndim))


def linear(x):
    """The identity (Keras's ``'linear'`` activation, also what ``activation=None`` means).

    Example:
        >>> linear([1.5]).numpy()
        array([1.5], dtype=float32)
    """
    return x if isinstance(x, Tensor) else Tensor(x)


def exponential(x):
    """``exp(x)``.

    Example:
        >>> exponential([0.0]).numpy()
        array([1.], dtype=float32)
    """
    return autograd.exp(ensure_float_tensor(x, "x"))


def hard_silu(x):
    """Hard SiLU / hard swish: ``x * hard_sigmoid(x)``.

    Example:
        >>> hard_silu([-4.0, 1.0, 4.0]).numpy().round(4)
        array([-0.    ,  0.6667,  4.    ], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    """``x * tanh(softplus(x))`` (Misra 2019).

    Example:
        >>> mish([0.0, 1.0]).numpy().round(4)
        array([0.    , 0.8651], dtype=float32)
    """
    x = ensure_float_tensor(x, "x")
    return x * autograd.tanh(Softplus.apply(x))
