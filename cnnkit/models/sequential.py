"""``Sequential``: a plain stack of layers, each feeding the next (Keras 3's ``Sequential``).

This module owns the stack: adding layers (``Sequential([...])``, ``add``, ``pop``), knowing the
input shape (from an ``Input``/``InputLayer`` first, or ``input_shape=`` on the first layer, or
the first data seen), building every layer from the shapes that flow through the stack
(``compute_output_shape``, no computation), calling the layers in order, and the config that
``save``/``load_model`` store. Training lives in ``training.Model``.

Example:
    >>> from cnnkit.layers import AveragePooling2D, Conv2D, Dense, Flatten
    >>> model = Sequential([
    ...     Conv2D(6, kernel_size=(5, 5), activation="tanh", input_shape=(28, 28, 1)),
    ...     AveragePooling2D(pool_size=(2, 2)),
    ...     Flatten(),
    ...     Dense(10, activation="softmax"),
    ... ])
    >>> model.count_params()
    8806
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from ..layers.base import Layer, standardize_shape
from .training import Model, _format_shape

__all__ = ["Sequential", "NotALayerError"]


class NotALayerError(TypeError, ValueError):
    """Something that is not a cnnkit layer was given where a layer is needed.

    Keras 3 raises ValueError here and Python's convention is TypeError: this error is both, so
    code written for either catches it.
    """


def _is_input_layer(layer) -> bool:
    return type(layer).__name__ == "InputLayer"


class Sequential(Model):
    """A model made of a list of layers applied one after the other.

    Args:
        layers: the layers, in order; an ``Input(shape=...)`` first fixes the input shape.
        trainable: whether the model's weights are trained.
        name: the model's name (default ``sequential``, ``sequential_1``, ...).

    The model is built (weights created) as soon as its input shape is known: from an
    ``Input``, from ``input_shape=`` on the first layer, from ``build(input_shape)``, or from the
    first data it is called on.
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._layers = []
        self._input_layer = None
        if layers is not None:
            if isinstance(layers, Layer) or isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
                raise NotALayerError(
                    f"`layers` must be a list of layers, e.g. Sequential([Dense(10)]). Received: layers={layers!r} "
                    f"(of type {type(layers).__name__})"
                )
            for layer in layers:
                self.add(layer, rebuild=False)
            self._maybe_build()

    # ----- the stack -------------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The layers, in order (an Input layer is not listed, as in Keras)."""
        return list(self._layers)

    def add(self, layer, rebuild: bool = True) -> None:
        """Append ``layer`` to the stack.

        Raises:
            NotALayerError: ``layer`` is not a cnnkit layer (both a TypeError and, as in Keras, a
                ValueError).
            ValueError: an Input layer that is not first, or a layer name already used.
        """
        if not isinstance(layer, Layer):
            raise NotALayerError(
                "Only instances of `cnnkit.layers.Layer` can be added to a Sequential model. "
                f"Received: {layer!r} (of type {type(layer).__name__})"
            )
        if _is_input_layer(layer):
            if self._input_layer is not None:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input shape "
                    f"{_format_shape(self._input_layer.batch_shape)}. You cannot add a different Input layer to it."
                )
            if self._layers:
                raise ValueError(
                    f"An Input layer must be the first layer of Sequential model '{self.name}'; it already has "
                    f"{len(self._layers)} layer(s). Received: {layer!r}"
                )
            self._input_layer = layer
        else:
            names = {existing.name for existing in self._layers}
            if layer.name in names:
                raise ValueError(
                    "All layers added to a Sequential model should have unique names. Name "
                    f"'{layer.name}' is already the name of a layer in this model. Update the `name` argument to pass "
                    "a unique name."
                )
            self._layers.append(layer)
        self.built = False
        self._build_input_shape = None
        if rebuild:
            self._maybe_build()

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        self._build_input_shape = None
        if rebuild:
            self._maybe_build()
        return layer

    def _known_input_shape(self):
        """The input shape (batch axis None) given by an Input layer or ``input_shape=``, if any."""
        if self._input_layer is not None:
            return tuple(self._input_layer.batch_shape)
        if self._layers and getattr(self._layers[0], "_input_shape_arg", None) is not None:
            return (None,) + tuple(self._layers[0]._input_shape_arg)
        return None

    def _maybe_build(self) -> None:
        shape = self._known_input_shape()
        if shape is not None and self._layers:
            self.build(shape)

    # ----- building ------------------------------------------------------------------------------------
    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included, e.g. ``(None, 28, 28, 1)``).

        With no argument, the shape given by an Input layer or ``input_shape=`` is used.

        Raises:
            ValueError: the model has no layers, no shape is known, the shape differs from the
                model's Input layer, or a layer cannot take the shape that reaches it (the message
                names the layer and the shapes).
        """
        if not self._layers:
            raise ValueError(f"Sequential model {self.name} cannot be built because it has no layers. Call `model.add(layer)`.")
        if input_shape is None:
            input_shape = self._known_input_shape()
            if input_shape is None:
                raise ValueError(
                    f"You must provide an `input_shape` argument to build Sequential model '{self.name}', or start "
                    "it with an Input layer."
                )
        shape = standardize_shape(input_shape, "input_shape")
        if not shape:
            raise ValueError(f"`input_shape` must include the batch axis, e.g. (None, 28, 28, 1). Received: {input_shape!r}")
        declared = self._known_input_shape()
        if declared is not None and tuple(declared[1:]) != tuple(shape[1:]):
            raise ValueError(
                f"Sequential model '{self.name}' has already been configured to use input shape "
                f"{_format_shape(declared)}. You cannot build it with input_shape {_format_shape(shape)}"
            )
        current = shape
        for layer in self._layers:
            if not layer.built:
                layer.build(current)
            current = tuple(layer.compute_output_shape(current))
        self._build_input_shape = shape
        self.built = True

    build._wraps_build = True  # Layer's automatic build wrapper would require a shape

    def compute_output_shape(self, input_shape) -> tuple:
        """The output shape for inputs of ``input_shape`` (batch axis included)."""
        current = tuple(input_shape)
        for layer in self._layers:
            current = tuple(layer.compute_output_shape(current))
        return current

    def _shape_or_none(self):
        return self._build_input_shape if self._build_input_shape is not None else self._known_input_shape()

    @property
    def input_shape(self) -> tuple:
        """The input shape with a None batch axis, e.g. ``(None, 28, 28, 1)``.

        Raises:
            ValueError: no input shape is known yet (as Keras: no Input, no ``input_shape=``, not built).
        """
        shape = self._shape_or_none()
        if shape is None:
            raise ValueError(f"Sequential model '{self.name}' has no defined input shape yet.")
        return shape

    @property
    def output_shape(self) -> tuple:
        """The output shape with a None batch axis, e.g. ``(None, 10)``.

        Raises:
            ValueError: no input shape is known yet, so the output shape is not either.
        """
        shape = self._shape_or_none()
        if shape is None or not self._layers:
            raise ValueError(f"Sequential model '{self.name}' has no defined output shape yet.")
        return self.compute_output_shape(shape)

    @property
    def inputs(self):
        """Not available: Keras returns symbolic tensors here, and cnnkit has none."""
        raise AttributeError(
            "cnnkit models have no symbolic `inputs` (cnnkit has no functional API); use `model.input_shape`."
        )

    @property
    def outputs(self):
        """Not available: Keras returns symbolic tensors here, and cnnkit has none."""
        raise AttributeError(
            "cnnkit models have no symbolic `outputs` (cnnkit has no functional API); use `model.output_shape`."
        )

    # ----- calling ------------------------------------------------------------------------------------
    def __call__(self, inputs, training=None, **kwargs):
        if self.built:
            shape = inputs.shape if isinstance(inputs, (Tensor, np.ndarray)) else np.shape(inputs)
            self._check_model_input_shape(tuple(shape), "the model's call")
        return super().__call__(inputs, training=training, **kwargs)

    def call(self, inputs, training=False):
        outputs = inputs
        for layer in self._layers:
            outputs = layer(outputs, training=training)
        return outputs

    # ----- config ---------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """``{'name', 'trainable', 'dtype', 'layers': [{'class_name', 'config'}, ...], 'build_input_shape'}``."""
        layers = []
        if self._input_layer is not None:
            layers.append({"class_name": type(self._input_layer).__name__, "config": self._input_layer.get_config()})
        for layer in self._layers:
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config()})
        shape = self._build_input_shape
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "layers": layers,
            "build_input_shape": None if shape is None else list(shape),
        }

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild from ``get_config()``: layer classes come only from ``cnnkit.layers.LAYER_REGISTRY``.

        Raises:
            ValueError: an unknown layer class name (nothing is imported).
        """
        from ..layers import LAYER_REGISTRY

        if not isinstance(config, dict):
            raise TypeError(f"Sequential.from_config expects a dict. Received: {type(config).__name__}")
        layers = []
        for entry in config.get("layers", []):
            if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
                raise ValueError(f"A layer entry must be a dict with 'class_name' and 'config'. Received: {entry!r}")
            layer_class = LAYER_REGISTRY.get(entry["class_name"])
            if layer_class is None:
                raise ValueError(f"Unknown layer class {entry['class_name']!r}. Known layers: {', '.join(sorted(LAYER_REGISTRY))}.")
            layer_config = entry.get("config", {})
            if not isinstance(layer_config, dict):
                raise ValueError(f"The config of layer {entry['class_name']!r} must be a dict. Received: {layer_config!r}")
            layers.append(layer_class.from_config(dict(layer_config)))
        model = cls(layers=layers, trainable=config.get("trainable", True), name=config.get("name"))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model

    def __repr__(self) -> str:
        known = self._shape_or_none()
        shape = "" if known is None else f", input_shape={_format_shape(known)}"
        return f"<Sequential name={self.name}, layers={len(self._layers)}{shape}>"
