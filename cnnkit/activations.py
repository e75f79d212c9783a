"""Activation functions by name, as ``keras.activations``: ``get`` resolves what users write
(``activation='relu'``, None, a config dict or their own callable) and ``serialize`` gives the name a
layer's config stores. The functions themselves live in ``cnnkit.functional.activations``
(``keras.ops``), except ``gelu``: ``keras.activations.gelu`` is exact by default while
``keras.ops.gelu`` is the tanh approximation, so this module wraps it with the exact default.

Example:
    >>> from cnnkit import activations
    >>> activations.get("relu") is activations.relu
    True
    >>> activations.serialize(activations.get("swish"))
    'silu'
"""
from __future__ import annotations

from .functional.activations import gelu as _ops_gelu
from .functional.activations import (
    elu,
    exponential,
    hard_sigmoid,
    hard_silu,
    leaky_relu,
    linear,
    log_softmax,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
)

__all__ = [
    "get",
    "serialize",
    "deserialize",
    "ALL_OBJECTS_DICT",
    "elu",
    "exponential",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "swish",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]

swish = silu
hard_swish = hard_silu


def gelu(x, approximate=False):
    """Gaussian error linear unit, ``keras.activations.gelu``: the exact ``x * Phi(x)`` by default.

    (``cnnkit.functional.gelu`` is ``keras.ops.gelu``, whose default is the tanh approximation;
    the activation named ``'gelu'`` is this exact one, as in Keras and PyTorch.)

    Example:
        >>> gelu([-1.0, 0.0, 1.0]).numpy().round(4)
        array([-0.1587,  0.    ,  0.8413], dtype=float32)
    """
    return _ops_gelu(x, approximate=approximate)


# Keras's registry: each function under its own name, plus the two aliases.
ALL_OBJECTS_DICT = {
    function.__name__: function
    for function in (
        relu, leaky_relu, relu6, softmax, elu, selu, softplus, softsign, silu, gelu, tanh, sigmoid,
        exponential, hard_sigmoid, hard_silu, linear, mish, log_softmax,
    )
}
ALL_OBJECTS_DICT["swish"] = silu
ALL_OBJECTS_DICT["hard_swish"] = hard_silu

_NAME_OF = {
    function: name for name, function in ALL_OBJECTS_DICT.items() if name not in ("swish", "hard_swish")
}


def _known_names() -> str:
    return ", ".join(sorted(ALL_OBJECTS_DICT))


def get(identifier):
    """Return the activation function for ``identifier``.

    Args:
        identifier: None (the identity, ``linear``), a name such as ``'relu'`` or ``'swish'``, a
            Keras config dict (``{'class_name': 'function', 'config': 'relu', ...}``), or a callable
            (returned as is).

    Raises:
        ValueError: an unknown name or dict, listing the known names.
        TypeError: anything else.

    Example:
        >>> get(None).__name__, get("gelu").__name__
        ('linear', 'gelu')
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        function = ALL_OBJECTS_DICT.get(identifier)
        if function is None:
            raise ValueError(
                f"Unknown activation {identifier!r}. Known activations: {_known_names()}. "
                f"Received: activation={identifier!r}"
            )
        return function
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        "An activation must be None, a name, a config dict or a callable. "
        f"Received: activation={identifier!r} of type {type(identifier).__name__}"
    )


def deserialize(config):
    """The function named by a Keras config: a name, or ``{'class_name': 'function', 'config': name}``.

    Only the known names resolve; nothing named in a config is ever imported.
    """
    if isinstance(config, str):
        return get(config)
    if isinstance(config, dict):
        class_name, name = config.get("class_name"), config.get("config")
        if class_name == "function" and isinstance(name, str) and name in ALL_OBJECTS_DICT:
            return ALL_OBJECTS_DICT[name]
        if isinstance(class_name, str) and class_name in ALL_OBJECTS_DICT and not name:
            return ALL_OBJECTS_DICT[class_name]
    raise ValueError(
        f"Could not interpret activation config {config!r}. Known activations: {_known_names()}."
    )


def serialize(activation) -> str:
    """The name under which ``activation`` is stored in a layer config (Keras: ``'silu'`` for swish).

    Raises:
        ValueError: a function that is not one of cnnkit's activations (it could not be restored
            from its name).

    Example:
        >>> serialize(relu)
        'relu'
    """
    if activation is None:
        return "linear"
    name = _NAME_OF.get(activation)
    if name is None:
        raise ValueError(
            f"Cannot serialize activation {activation!r}: only cnnkit's built-in activations can be "
            f"stored by name ({_known_names()})."
        )
    return name
