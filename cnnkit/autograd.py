"""Reverse-mode automatic differentiation: ``Tensor``, ``Function``, ``no_grad``.

A ``Tensor`` wraps an array. When it is made by a ``Function`` from tensors that require
gradients, it remembers that Function (``tensor.creator``); the Function instance is the context
of the operation: it keeps the arrays its backward needs as attributes and knows which inputs
need a gradient (``needs_input_grad``). ``tensor.backward()`` walks the graph once in reverse
topological order, hands every Function the gradient of its output, accumulates what flows into
leaf tensors in ``.grad``, and drops each Function (and with it its saved arrays) once used.

Writing an operation::

    class Multiply(Function):
        def forward(self, a, b):          # arrays in, array out
            self.a, self.b = a, b         # saved for backward
            return a * b

        def backward(self, grad):         # one gradient per input, None where not needed
            return (unbroadcast(grad * self.b, self.a.shape) if self.needs_input_grad[0] else None,
                    unbroadcast(grad * self.a, self.b.shape) if self.needs_input_grad[1] else None)

    product = Multiply.apply(x, y)        # Tensors (or arrays) positional, settings as keywords

Only primitives and hot operations have a backward; everything else (softmax, losses, ...) is a
composition of them.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import threading

import numpy as np

from .backend import floatx, get_array_module

__all__ = [
    "Tensor",
    "Function",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "as_tensor",
    "as_array",
    "unbroadcast",
]

class _GradState(threading.local):
    """Per-thread recording switch. The class attribute is every thread's starting value, so
    reading it is a plain attribute lookup (it runs for every operation)."""

    enabled = True


_grad_state = _GradState()


def is_grad_enabled() -> bool:
    """Whether operations on tensors are being recorded for backward (thread-local)."""
    return _grad_state.enabled


@contextlib.contextmanager
def _grad_mode(enabled: bool):
    previous = is_grad_enabled()
    _grad_state.enabled = enabled
    try:
        yield
    finally:
        _grad_state.enabled = previous


def no_grad():
    """Context manager: inside it nothing is recorded, so no graph or saved arrays are kept.

    Example:
        >>> with no_grad():
        ...     prediction = model(x)
    """
    return _grad_mode(False)


def enable_grad():
    """Context manager that turns recording back on inside a ``no_grad`` block."""
    return _grad_mode(True)


def _to_array(data, dtype=None):
    """Convert ``data`` to an array; Python floats and lists of them become ``floatx()``."""
    if dtype is None and type(data) is np.ndarray:
        return data  # already an array (the common case): what the conversions below return
    if isinstance(data, Tensor):
        data = data.data
    xp = get_array_module(data)
    if isinstance(data, (bool, numbers.Number, list, tuple)) and dtype is None:
        array = np.asarray(data)
        if array.dtype == np.float64:
            array = array.astype(floatx())
        return array
    array = xp.asarray(data, dtype=dtype)
    return array


class Tensor:
    """An array that can record the operations made from it and carry a gradient.

    Args:
        data: an array, a nested list or a number. NumPy arrays keep their dtype; Python floats
            become ``floatx()`` (float32).
        requires_grad: record operations on this tensor so that ``backward()`` fills ``.grad``.
            Only floating-point tensors can require gradients.
        dtype: optional dtype to convert ``data`` to.

    Attributes:
        data: the wrapped array.
        grad: the accumulated gradient (an array of ``data``'s shape), or None.
        creator: the Function that made this tensor, or None for a leaf.

    Example:
        >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([[2., 4.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "name", "__weakref__")
    __array_priority__ = 100.0  # so that ndarray <op> Tensor defers to Tensor's reflected op

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = _to_array(data, dtype)
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(
                "Only floating-point tensors can require gradients; received data of dtype "
                f"{self.data.dtype} with requires_grad=True. Convert it first, e.g. "
                "Tensor(x.astype('float32'), requires_grad=True)."
            )
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.creator = None
        self.name = name

    # ----- array-like surface ---------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied)."""
        return self.data

    def item(self):
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None:
            return self.data.astype(dtype, copy=False)
        return self.data

    def __repr__(self) -> str:
        grad_note = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(np.asarray(self.data), prefix='Tensor(')}{grad_note})"

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __hash__(self) -> int:
        return id(self)

    def detach(self) -> "Tensor":
        """A new leaf tensor sharing this data, outside the graph."""
        return Tensor(self.data)

    def astype(self, dtype) -> "Tensor":
        """A copy converted to ``dtype``; gradients flow back converted to this dtype."""
        return Cast.apply(self, dtype=np.dtype(dtype))

    def zero_grad(self) -> None:
        self.grad = None

    # ----- backward -------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires a gradient.

        Args:
            grad: the gradient of some final quantity with respect to this tensor. May be left out
                only for a tensor with one element (a loss), where it is 1.
            retain_graph: keep the graph (and its saved arrays) for a second backward.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require gradients: none of its inputs "
                "had requires_grad=True, or it was computed inside no_grad()."
            )
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    "backward() without a gradient needs a tensor with one element (a loss); "
                    f"received shape {self.shape}. Pass grad= with the same shape."
                )
            grad = xp.ones_like(self.data)
        else:
            grad = xp.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(grad=...) expects a gradient of shape {self.shape}; received shape {grad.shape}."
                )

        order = self._topological_order()
        pending = {id(self): grad}
        handed_out = {id(grad)}  # arrays already given to a leaf (or to the caller): copy, never share
        for tensor in order:
            tensor_grad = pending.pop(id(tensor), None)
            if tensor_grad is None:
                continue
            function = tensor.creator
            if function is None:
                if tensor.grad is None:
                    # A leaf's .grad is its own writable array of its own dtype: gradients that are
                    # broadcast views, views of the caller's array, or shared with another leaf are
                    # copied, so that in-place updates (optimizers, clipping) stay local.
                    flags = tensor_grad.flags
                    must_copy = id(tensor_grad) in handed_out or not flags.writeable or not flags.owndata
                    tensor.grad = tensor_grad.astype(tensor.data.dtype, copy=must_copy)
                    handed_out.add(id(tensor.grad))
                else:
                    tensor.grad = tensor.grad + tensor_grad.astype(tensor.data.dtype, copy=False)
                continue
            input_grads = function.backward(tensor_grad)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, parent_grad in zip(function.parents, input_grads):
                if parent_grad is None or not parent.requires_grad:
                    continue
                key = id(parent)
                previous = pending.get(key)  # never None once stored: a gradient is an array
                pending[key] = parent_grad if previous is None else previous + parent_grad
            if not retain_graph:
                # Frees the Function and the arrays it saved; a later backward through this tensor
                # raises instead of silently treating it as a leaf.
                tensor.creator = _RELEASED

    def _topological_order(self) -> list:
        """Tensors reachable from self, each after every tensor that uses it (self first).

        An iterative depth-first search: a tensor is appended once all its parents are done
        (post-order), and the reversed post-order lists every tensor before its inputs.
        """
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            tensor, children_done = stack.pop()
            if children_done:
                order.append(tensor)
                continue
            if id(tensor) in visited:
                continue
            visited.add(id(tensor))
            creator = tensor.creator
            if creator is None:
                # A leaf has no parents to wait for: it is finished at once (the same order as
                # pushing it back as done and popping it next, without the round trip).
                order.append(tensor)
                continue
            stack.append((tensor, True))
            for parent in creator.parents:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
        order.reverse()
        return order

    # ----- operators ------------------------------------------------------------------------
    def __add__(self, other):
        return Add.apply(self, other)

    def __radd__(self, other):
        return Add.apply(other, self)

    def __sub__(self, other):
        return Subtract.apply(self, other)

    def __rsub__(self, other):
        return Subtract.apply(other, self)

    def __mul__(self, other):
        return Multiply.apply(self, other)

    def __rmul__(self, other):
        return Multiply.apply(other, self)

    def __truediv__(self, other):
        return Divide.apply(self, other)

    def __rtruediv__(self, other):
        return Divide.apply(other, self)

    def __neg__(self):
        return Negate.apply(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if isinstance(exponent, numbers.Number):
            if isinstance(exponent, np.generic):
                exponent = exponent.item()  # a NumPy float64 scalar would promote float32 data
            return PowerScalar.apply(self, exponent=exponent)
        return exp(log(self) * exponent)

    def __rpow__(self, base):
        return exp(log(as_tensor(base, like=self)) * self)

    def __matmul__(self, other):
        return MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return MatMul.apply(other, self)

    def __abs__(self):
        return Absolute.apply(self)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return GetItem.apply(self, index=index)

    # Comparisons give boolean tensors outside the graph.
    def _compare(self, other, op):
        other_data = other.data if isinstance(other, Tensor) else other
        return Tensor(op(self.data, other_data))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):  # elementwise, as in NumPy and PyTorch
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    # ----- methods --------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return Sum.apply(self, axis=_normalize_axis(axis, self.ndim), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        axes = _normalize_axis(axis, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes])) if axes is not None else self.size
        return Sum.apply(self, axis=axes, keepdims=keepdims) * (1.0 / max(count, 1))

    def var(self, axis=None, keepdims=False):
        centred = self - self.mean(axis=axis, keepdims=True)
        return (centred * centred).mean(axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return Max.apply(self, axis=_normalize_axis(axis, self.ndim), keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return -Max.apply(-self, axis=_normalize_axis(axis, self.ndim), keepdims=keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        return Transpose.apply(self, axes=axes)

    @property
    def T(self):
        return self.transpose()

    def flatten(self):
        return self.reshape(-1)

    def exp(self):
        return exp(self)

    def log(self):
        return log(self)

    def sqrt(self):
        return sqrt(self)

    def tanh(self):
        return tanh(self)

    def relu(self):
        return relu(self)

    def clip(self, low=None, high=None):
        return clip(self, low, high)


def _normalize_axis(axis, ndim):
    """``None`` stays None; an int or a sequence becomes a sorted tuple of non-negative axes."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions.")
        normalized.append(int(a) % ndim if ndim else 0)
    return tuple(sorted(normalized))


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    """Return ``value`` as a Tensor; numbers take the dtype of ``like`` when given."""
    if isinstance(value, Tensor):
        return value
    # `type(value) in (float, int)` first: the common Python scalar (``loss * 0.5``) skips the
    # slower abstract-class test; ``kind == "f"`` is exactly NumPy's floating dtypes.
    if (
        like is not None
        and (type(value) in (float, int) or isinstance(value, numbers.Number))
        and like.data.dtype.kind == "f"
    ):
        return _leaf(np.asarray(value, dtype=like.data.dtype))  # what Tensor(...) would make of it
    return Tensor(value)


def _leaf(array) -> Tensor:
    """A Tensor around an array that is already of the right type and dtype, outside the graph:
    what ``Tensor(array)`` gives, without its conversions (used on the per-operation path)."""
    tensor = Tensor.__new__(Tensor)
    tensor.data = array
    tensor.grad = None
    tensor.name = None
    tensor.requires_grad = False
    tensor.creator = None
    return tensor


def as_array(value):
    """The array inside a Tensor, or ``value`` converted to an array."""
    if isinstance(value, Tensor):
        return value.data
    return _to_array(value)


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the adjoint of broadcasting is a sum over broadcast axes."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Function:
    """One differentiable operation; the instance is its own context.

    Subclasses define ``forward(self, *arrays, **attrs) -> array`` and
    ``backward(self, grad) -> tuple`` (one gradient per positional input, None where
    ``self.needs_input_grad[i]`` is False). Arrays that backward needs are saved as attributes in
    forward and freed with the Function after backward.
    """

    def __init__(self, *parents: Tensor):
        self.parents = parents
        self.needs_input_grad = tuple([parent.requires_grad for parent in parents])  # a list builds faster than a generator

    def forward(self, *arrays, **attrs):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **attrs) -> Tensor:
        """Run the operation on Tensors (or arrays/numbers) and record it if gradients are needed."""
        # Fast path: inside a network every input is already a Tensor (layer inputs, weights), so
        # the conversion below is skipped. This runs for every op of every step, so the common case
        # is worth one loop of isinstance checks (cheaper than building generators).
        for value in inputs:
            if not isinstance(value, Tensor):
                like = next((x for x in inputs if isinstance(x, Tensor)), None)
                tensors = tuple(as_tensor(x, like=like) for x in inputs)
                break
        else:
            tensors = inputs
        function = cls(*tensors)
        output = function.forward(*[t.data for t in tensors], **attrs)
        record = is_grad_enabled() and any(function.needs_input_grad)
        result = Tensor.__new__(Tensor)
        result.data = output
        result.grad = None
        result.name = None
        result.requires_grad = record
        result.creator = function if record else None
        return result


class _Released(Function):
    """Stands in for a Function whose saved arrays a backward pass already freed."""

    def __init__(self):
        super().__init__()

    def backward(self, grad):
        raise RuntimeError(
            "backward() reached a tensor whose graph an earlier backward() already freed. Pass "
            "retain_graph=True to the first backward() to backpropagate through the same graph twice."
        )


_RELEASED = _Released()


# ----- primitive operations ------------------------------------------------------------------
class Add(Function):
    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    def backward(self, grad):
        return (
            unbroadcast(grad, self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(grad, self.b_shape) if self.needs_input_grad[1] else None,
        )


class Subtract(Function):
    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    def backward(self, grad):
        return (
            unbroadcast(grad, self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(-grad, self.b_shape) if self.needs_input_grad[1] else None,
        )


class Multiply(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        return (
            unbroadcast(grad * self.b, self.a.shape) if self.needs_input_grad[0] else None,
            unbroadcast(grad * self.a, self.b.shape) if self.needs_input_grad[1] else None,
        )


class Divide(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        grad_a = grad / self.b
        return (
            unbroadcast(grad_a, self.a.shape) if self.needs_input_grad[0] else None,
            unbroadcast(-grad_a * self.a / self.b, self.b.shape) if self.needs_input_grad[1] else None,
        )


class Negate(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return (-grad,)


class PowerScalar(Function):
    def forward(self, a, exponent):
        self.a, self.exponent = a, exponent
        return a**exponent

    def backward(self, grad):
        return (grad * self.exponent * self.a ** (self.exponent - 1),)


class Exp(Function):
    def forward(self, a):
        self.out = get_array_module(a).exp(a)
        return self.out

    def backward(self, grad):
        return (grad * self.out,)


class Log(Function):
    def forward(self, a):
        self.a = a
        return get_array_module(a).log(a)

    def backward(self, grad):
        return (grad / self.a,)


class Sqrt(Function):
    def forward(self, a):
        self.out = get_array_module(a).sqrt(a)
        return self.out

    def backward(self, grad):
        return (grad / (2 * self.out),)


class Tanh(Function):
    def forward(self, a):
        self.out = get_array_module(a).tanh(a)
        return self.out

    def backward(self, grad):
        # grad * (1 - out**2) with one temporary instead of three (tanh sits on every hidden layer)
        xp = get_array_module(grad)
        derivative = xp.square(self.out)  # measured 10% faster than multiply(out, out)
        xp.subtract(1, derivative, out=derivative)
        if derivative.shape == grad.shape and derivative.dtype == xp.result_type(grad, derivative):
            xp.multiply(derivative, grad, out=derivative)
            return (derivative,)
        return (grad * derivative,)


class Relu(Function):
    def forward(self, a):
        self.mask = a > 0
        return get_array_module(a).maximum(a, 0.0)  # not a * mask, which gives -0.0 for negatives

    def backward(self, grad):
        return (grad * self.mask,)


class Absolute(Function):
    def forward(self, a):
        xp = get_array_module(a)
        self.sign = xp.sign(a)
        return xp.abs(a)

    def backward(self, grad):
        return (grad * self.sign,)


class Clip(Function):
    """Clamp to [low, high]; the gradient passes where the input is inside the range (as PyTorch)."""

    def forward(self, a, low, high):
        xp = get_array_module(a)
        self.inside = xp.ones(a.shape, dtype=bool)
        if low is not None:
            self.inside &= a >= low
        if high is not None:
            self.inside &= a <= high
        return xp.clip(a, low, high)

    def backward(self, grad):
        return (grad * self.inside,)


class Where(Function):
    """``condition ? a : b`` with the condition given as a constant boolean array."""

    def forward(self, a, b, condition):
        self.condition = condition
        self.a_shape, self.b_shape = a.shape, b.shape
        return get_array_module(a).where(condition, a, b)

    def backward(self, grad):
        xp = get_array_module(grad)
        zero = xp.zeros((), dtype=grad.dtype)
        return (
            unbroadcast(xp.where(self.condition, grad, zero), self.a_shape) if self.needs_input_grad[0] else None,
            unbroadcast(xp.where(self.condition, zero, grad), self.b_shape) if self.needs_input_grad[1] else None,
        )


class Cast(Function):
    def forward(self, a, dtype):
        self.input_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return (grad.astype(self.input_dtype),)


class MatMul(Function):
    """Matrix product with NumPy's rules (batched and broadcast leading axes, 1-D operands)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        xp = get_array_module(grad)
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad
        if b.ndim == 1:  # restore the dropped axes, last first (a 1-D @ 1-D product is 0-D)
            g = xp.expand_dims(g, -1)
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = g @ xp.swapaxes(b2, -1, -2)
            grad_a = unbroadcast(grad_a, a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            grad_b = xp.swapaxes(a2, -1, -2) @ g
            grad_b = unbroadcast(grad_b, b2.shape).reshape(b.shape)
        return grad_a, grad_b


class Sum(Function):
    def forward(self, a, axis, keepdims):
        self.input_shape, self.axis, self.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        xp = get_array_module(grad)
        if self.axis is not None and not self.keepdims:
            grad = xp.expand_dims(grad, self.axis)
        if math.prod(self.input_shape) <= _SMALL_BROADCAST:
            # A small input (a loss's per-sample values) gets a filled array: the same values as
            # the broadcast view, built several times faster than broadcast_to's checks.
            return (xp.full(self.input_shape, grad, dtype=grad.dtype),)
        return (xp.broadcast_to(grad, self.input_shape),)


# Sizes up to which filling a fresh array beats creating a broadcast view (measured: broadcast_to
# costs about 2 us at any size; np.full of 4096 float32 values about 1 us).
_SMALL_BROADCAST = 4096


class Max(Function):
    """Maximum over axes; the gradient is shared equally between tied maxima."""

    def forward(self, a, axis, keepdims):
        self.a, self.axis, self.keepdims = a, axis, keepdims
        self.out = a.max(axis=axis, keepdims=True)
        return self.out if keepdims else self.out.reshape(a.max(axis=axis).shape)

    def backward(self, grad):
        xp = get_array_module(grad)
        mask = self.a == self.out
        counts = mask.sum(axis=self.axis, keepdims=True).astype(grad.dtype)
        if not self.keepdims:
            grad = grad.reshape(self.out.shape)
        return (mask * (grad / counts),)


class Reshape(Function):
    def forward(self, a, shape):
        self.input_shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape cannot turn a tensor of shape {a.shape} ({a.size} elements) into shape {tuple(shape)}."
            ) from None

    def backward(self, grad):
        return (grad.reshape(self.input_shape),)


class Transpose(Function):
    def forward(self, a, axes):
        self.axes = tuple(int(axis) % a.ndim for axis in axes)  # argsort needs non-negative axes
        return a.transpose(self.axes)

    def backward(self, grad):
        return (grad.transpose(np.argsort(self.axes)),)


class GetItem(Function):
    """Indexing and slicing; the gradient is scattered back (repeated indices accumulate)."""

    def forward(self, a, index):
        self.input_shape, self.input_dtype, self.index = a.shape, a.dtype, index
        return a[index]

    def backward(self, grad):
        xp = get_array_module(grad)
        if _is_basic_index(self.index):
            full = xp.zeros(self.input_shape, dtype=grad.dtype)
            full[self.index] = grad
            return (full,)
        # Advanced indexing may pick a position twice: count every pick with a weighted bincount.
        size = int(np.prod(self.input_shape))
        positions = xp.arange(size).reshape(self.input_shape)[self.index]
        full = xp.bincount(positions.ravel(), weights=grad.ravel(), minlength=size)
        return (full.astype(grad.dtype).reshape(self.input_shape),)


def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


class Concatenate(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return get_array_module(*arrays).concatenate(arrays, axis=axis)

    def backward(self, grad):
        xp = get_array_module(grad)
        splits = np.cumsum(self.sizes)[:-1]
        return tuple(xp.split(grad, splits, axis=self.axis))


class Pad(Function):
    """Constant (zero) padding with per-axis ``(before, after)`` widths."""

    def forward(self, a, pad_width, value=0.0):
        self.slices = tuple(slice(before, before + size) for (before, _), size in zip(pad_width, a.shape))
        return get_array_module(a).pad(a, pad_width, mode="constant", constant_values=value)

    def backward(self, grad):
        return (grad[self.slices],)


# ----- thin functional wrappers over the primitives -------------------------------------------
def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def tanh(x):
    return Tanh.apply(x)


def relu(x):
    return Relu.apply(x)


def clip(x, low=None, high=None):
    return Clip.apply(x, low=low, high=high)


def where(condition, a, b):
    condition = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return Where.apply(a, b, condition=condition)


def concatenate(tensors, axis=0):
    tensors = list(tensors)
    ndim = as_array(tensors[0]).ndim
    return Concatenate.apply(*tensors, axis=int(axis) % ndim)


def stack(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    ndim = tensors[0].ndim + 1
    axis = int(axis) % ndim
    expanded = [t.reshape(t.shape[:axis] + (1,) + t.shape[axis:]) for t in tensors]
    return concatenate(expanded, axis=axis)


def pad(x, pad_width, value=0.0):
    return Pad.apply(x, pad_width=tuple(tuple(int(v) for v in p) for p in pad_width), value=value)
