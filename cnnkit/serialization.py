"""Keras-style names and config dicts for cnnkit's small configurable objects.

This module owns what the initializers, regularizers and constraints modules (and the learning
rate schedules, losses and metrics for the parts they share) do alike when a layer argument such
as ``kernel_initializer=`` is resolved or written into a saved config:

- ``ConfigurableObject``: the base of such objects, rebuilt by ``from_config(get_config())`` and
  shown as ``ClassName(argument=value, ...)``;
- ``serialize_builtin``: Keras 3's dict ``{'module', 'class_name', 'config', 'registered_name'}``;
- ``deserialize_builtin``: the object a ``{'class_name', 'config'}`` dict names, looked up only
  in the calling module's registry, so a config never imports or runs other code;
- ``resolve_identifier``: Keras's ``get(identifier)`` rule (None, a name, a config dict, a class,
  an instance or a plain callable);
- ``snake_case``: Keras's alias of a class name (``GlorotUniform`` -> ``glorot_uniform``).
"""
from __future__ import annotations

import re

__all__ = ["ConfigurableObject", "serialize_builtin", "deserialize_builtin", "resolve_identifier", "snake_case"]


class ConfigurableObject:
    """An object whose constructor arguments are its ``get_config()``.

    Example:
        >>> from cnnkit.constraints import MaxNorm
        >>> MaxNorm.from_config({"max_value": 3, "axis": 0})
        MaxNorm(max_value=3, axis=0)
    """

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


def _with_article(kind: str) -> str:
    return f"{'An' if kind[0] in 'aeiou' else 'A'} {kind}"


def serialize_builtin(instance, base_class: type, kind: str, module: str) -> dict:
    """Keras 3's config dict of ``instance``, one of cnnkit's ``base_class`` objects.

    Args:
        instance: the object to describe.
        base_class: the class every serializable object of this kind derives from.
        kind: the singular noun for messages (``'initializer'``).
        module: Keras's module name written into the dict (``'keras.initializers'``).

    Raises:
        TypeError: ``instance`` is not a ``base_class`` (e.g. a user's plain function).

    Example:
        >>> from cnnkit.constraints import Constraint, NonNeg
        >>> serialize_builtin(NonNeg(), Constraint, "constraint", "keras.constraints")["class_name"]
        'NonNeg'
    """
    if not isinstance(instance, base_class):
        raise TypeError(
            f"Only cnnkit {kind}s can be serialized. Received: {kind} of type {type(instance).__name__}"
        )
    return {
        "module": module,
        "class_name": type(instance).__name__,
        "config": instance.get_config(),
        "registered_name": None,
    }


def deserialize_builtin(config: dict, registry: dict, kind: str, known_names=None):
    """The object ``{'class_name': ..., 'config': {...}}`` describes, from ``registry`` only.

    Args:
        config: the dict (the short form, or Keras's full one with 'module' and 'registered_name').
        registry: name -> class; the only classes a config can name.
        kind: the singular noun for messages (``'regularizer'``).
        known_names: the names listed when a name is unknown (default: every registry key).

    Raises:
        ValueError: an unknown class name, or a 'config' that is not a dict.

    Example:
        >>> from cnnkit.constraints import REGISTRY
        >>> deserialize_builtin({"class_name": "UnitNorm", "config": {"axis": 1}}, REGISTRY, "constraint")
        UnitNorm(axis=1)
    """
    class_name = config.get("class_name")
    if class_name not in registry:
        known_names = sorted(registry) if known_names is None else known_names
        raise ValueError(
            f"Unknown {kind}: {class_name!r}. Known names: {known_names}. Received: identifier={config!r}"
        )
    arguments = config.get("config") or {}
    if not isinstance(arguments, dict):
        raise ValueError(f"{_with_article(kind)} config's 'config' must be a dict. Received: identifier={config!r}")
    return registry[class_name](**arguments)


def resolve_identifier(identifier, base_class: type, kind: str, deserialize):
    """Keras's ``get``: None stays None; a name or a config dict goes through ``deserialize``; a
    ``base_class`` subclass is instantiated with its defaults; an instance or any other callable is
    returned as it is.

    Raises:
        ValueError: anything else, naming the identifier.

    Example:
        >>> from cnnkit import constraints
        >>> resolve_identifier("unit_norm", constraints.Constraint, "constraint", constraints.deserialize)
        UnitNorm(axis=0)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, base_class):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")


def snake_case(name: str) -> str:
    """Keras's snake-case alias of a class name.

    Example:
        >>> snake_case("GlorotUniform"), snake_case("TopKCategoricalAccuracy")
        ('glorot_uniform', 'top_k_categorical_accuracy')
    """
    words = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()
