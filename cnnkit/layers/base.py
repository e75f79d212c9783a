"""``Layer``: the base class of every cnnkit layer, with Keras 3's life cycle.

A layer is made in three steps, as in Keras:

1. ``__init__`` checks and stores the constructor arguments (a bad one raises at once, naming it);
2. ``build(input_shape)`` creates the weights with ``add_weight`` once the input shape is known
   (from the first real input, or from ``input_shape=`` through ``Sequential``);
3. ``call(inputs, training=False)`` computes the output: for most layers one functional op.

This module also owns ``InputSpec`` (the rank and channel count a layer accepts, checked at call
time so that a wrong input names the expected and received shapes) and the unique layer names
(``conv2d``, ``conv2d_1``, ...; ``clear_session()`` starts them again).

Weights are ``cnnkit.variables.Variable`` objects in Keras's layouts, listed in creation order in
``weights``; ``get_weights``/``set_weights`` move them as NumPy arrays, ``get_config``/
``from_config`` move the constructor arguments as a JSON-able dict.
"""
from __future__ import annotations

import collections
import functools
import inspect
import numbers

import numpy as np

from .. import activations, constraints, initializers, regularizers
from ..autograd import Tensor
from ..backend import floatx
from ..serialization import snake_case
from ..variables import Variable

__all__ = ["Layer", "InputSpec", "clear_session", "standardize_shape", "UnrecognizedArgumentError"]


class UnrecognizedArgumentError(TypeError, ValueError):
    """A keyword argument a layer does not know.

    Python raises a TypeError for an unexpected keyword argument and Keras 3 a ValueError
    ("Unrecognized keyword arguments passed to Dense: ..."); this error is both, so code written
    against either catches it.
    """

# Arguments of Keras 3 layers for features cnnkit does not have; None (their default, and what a
# Keras config holds when they are off) is accepted, anything else is refused.
_KERAS_ONLY_ARGUMENTS = {
    "lora_rank": "LoRA",
    "lora_alpha": "LoRA",
    "dora_rank": "DoRA",
    "dora_alpha": "DoRA",
    "quantization_config": "quantization",
}

_name_counts: collections.Counter = collections.Counter()
_used_names: set = set()


def clear_session() -> None:
    """Forget the layer names handed out so far: the next Conv2D is named ``conv2d`` again."""
    _name_counts.clear()
    _used_names.clear()


def _unique_name(class_name: str) -> str:
    """``conv2d``, ``conv2d_1``, ...: skipping names already given explicitly (e.g. by a loaded model)."""
    base = snake_case(class_name)  # 'Conv2DTranspose' -> 'conv2d_transpose'
    while True:
        count = _name_counts[base]
        _name_counts[base] += 1
        name = base if count == 0 else f"{base}_{count}"
        if name not in _used_names:
            _used_names.add(name)
            return name


def standardize_shape(shape, name: str = "input_shape") -> tuple:
    """A shape as a tuple of ints and ``None``s; raise a TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(shape, (str, bytes)) or isinstance(shape, numbers.Number):
        raise TypeError(f"`{name}` must be a tuple of ints (or None). Received: {name}={shape!r}")
    try:
        items = tuple(shape)
    except TypeError:
        raise TypeError(f"`{name}` must be a tuple of ints (or None). Received: {name}={shape!r}") from None
    result = []
    for item in items:
        if item is None:
            result.append(None)
        elif isinstance(item, (bool, np.bool_)) or not isinstance(item, (numbers.Integral, np.integer)):
            raise TypeError(f"`{name}` must hold ints or None. Received: {name}={shape!r}")
        elif item < 0:
            raise ValueError(f"`{name}` must hold non-negative sizes. Received: {name}={shape!r}")
        else:
            result.append(int(item))
    return tuple(result)


def _standardize_dtype(dtype) -> str:
    if dtype is None:
        return floatx()
    if isinstance(dtype, dict):  # a Keras DTypePolicy config: {"class_name": ..., "config": {"name": ...}}
        dtype = dtype.get("config", {}).get("name", dtype.get("name"))
    if isinstance(dtype, str) and dtype.startswith("mixed_"):
        raise ValueError(f"cnnkit has no mixed precision; use 'float32' or 'float64'. Received: dtype={dtype!r}")
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"`dtype` must name a NumPy dtype such as 'float32'. Received: dtype={dtype!r}") from None
    return resolved.name


class InputSpec:
    """The inputs a layer accepts: a rank (exact or minimum) and fixed sizes on some axes.

    Args:
        ndim: the exact rank, batch axis included.
        min_ndim: the smallest rank accepted.
        axes: ``{axis: size}``, e.g. ``{-1: 3}`` for three channels last.
        description: what the axes mean, e.g. ``'(batch, height, width, channels)'``, for errors.
    """

    def __init__(self, ndim=None, min_ndim=None, axes=None, description: str = ""):
        self.ndim = ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})
        self.description = description

    def __repr__(self) -> str:
        return f"InputSpec(ndim={self.ndim}, min_ndim={self.min_ndim}, axes={self.axes})"

    def check(self, shape, layer_name: str) -> None:
        """Raise a ValueError naming the expected and received shapes when ``shape`` does not fit."""
        shape = tuple(shape)
        if self._fits(shape):  # every layer call checks its input: the messages are only built on failure
            return
        prefix = f'Input 0 of layer "{layer_name}" is incompatible with the layer: '
        described = f" {self.description}" if self.description else ""
        if self.ndim is not None and len(shape) != self.ndim:
            hint = ""
            if len(shape) == self.ndim - 1:
                hint = " Add a batch axis, e.g. x[None]."
            raise ValueError(
                f"{prefix}expected ndim={self.ndim}{described}, found ndim={len(shape)}. "
                f"Full shape received: {shape}.{hint}"
            )
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(
                f"{prefix}expected min_ndim={self.min_ndim}{described}, found ndim={len(shape)}. "
                f"Full shape received: {shape}."
            )
        for axis, size in self.axes.items():
            if size is None or not -len(shape) <= axis < len(shape):
                continue
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(
                    f"{prefix}expected axis {axis} of input shape{described} to have value {size}, "
                    f"but received input with shape {shape}."
                )

    def _fits(self, shape: tuple) -> bool:
        """Whether ``shape`` passes every rule of ``check`` (the same rules, without the messages)."""
        rank = len(shape)
        if self.ndim is not None and rank != self.ndim:
            return False
        if self.min_ndim is not None and rank < self.min_ndim:
            return False
        for axis, size in self.axes.items():
            if size is None or not -rank <= axis < rank:
                continue
            if shape[axis] is not None and shape[axis] != size:
                return False
        return True


class Layer:
    """Base class of all layers: weights, build on first call, config, Keras's API.

    Args:
        trainable: whether the layer's weights are updated in training (settable later:
            ``layer.trainable = False`` freezes it).
        name: unique name; by default the class name in snake case with a counter (``conv2d_1``).
        dtype: the dtype of weights and computation; default ``floatx()`` (float32). Float
            inputs of another dtype are cast to it (Keras's autocast), as are integer inputs.
        activity_regularizer: optional regularizer applied to the layer's output; its penalty,
            divided by the batch size, joins ``losses`` after each call.
        autocast: cast inputs to the layer's dtype (default True).
        input_shape: the input shape without the batch axis, for the first layer of a
            ``Sequential`` model (``input_dim=n`` is short for ``input_shape=(n,)``).

    Subclasses define ``build(input_shape)`` (make weights with ``add_weight``),
    ``call(inputs, training=False)``, ``compute_output_shape(input_shape)`` and ``get_config()``.

    Example:
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.factor = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="factor")
        ...     def call(self, inputs):
        ...         return inputs * self.factor
        ...     def compute_output_shape(self, input_shape):
        ...         return input_shape
        >>> layer = Scale()
        >>> layer(np.ones((2, 3))).shape
        (2, 3)
        >>> layer.count_params()
        3
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        original_build = cls.__dict__.get("build")
        if original_build is not None and not getattr(original_build, "_wraps_build", False):

            @functools.wraps(original_build)
            def build(self, input_shape, *args, **build_kwargs):
                shape = standardize_shape(input_shape)
                original_build(self, shape, *args, **build_kwargs)
                self.built = True
                if getattr(self, "_build_input_shape", None) is None:
                    self._build_input_shape = shape

            build._wraps_build = True
            cls.build = build

    def __init__(
        self,
        *,
        activity_regularizer=None,
        trainable: bool = True,
        dtype=None,
        autocast: bool = True,
        name: str | None = None,
        **kwargs,
    ):
        input_dim = kwargs.pop("input_dim", None)
        input_shape = kwargs.pop("input_shape", None)
        for key in _KERAS_ONLY_ARGUMENTS:  # Keras features cnnkit lacks: accepted when off (as in configs)
            value = kwargs.pop(key, None)
            if value is not None:
                raise ValueError(
                    f"cnnkit's {type(self).__name__} has no {_KERAS_ONLY_ARGUMENTS[key]}; `{key}` can only be None. "
                    f"Received: {key}={value!r}"
                )
        if kwargs:
            raise UnrecognizedArgumentError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}. "
                f"Check the spelling against {type(self).__name__}'s documented arguments."
            )
        if input_dim is not None:
            if isinstance(input_dim, (bool, np.bool_)) or not isinstance(input_dim, (numbers.Integral, np.integer)):
                raise TypeError(f"`input_dim` must be a positive int. Received: input_dim={input_dim!r}")
            input_shape = (int(input_dim),)
        self._input_shape_arg = None if input_shape is None else standardize_shape(input_shape, "input_shape")
        if not isinstance(trainable, (bool, np.bool_)):
            raise ValueError(
                f"Expected `trainable` to be a boolean. Received: trainable={trainable!r} "
                f"(of type {type(trainable).__name__})"
            )
        if name is None:
            name = _unique_name(type(self).__name__)
        elif not isinstance(name, str) or "/" in name or not name:
            raise ValueError(
                "Argument `name` must be a non-empty string without the character `/`. "
                f"Received: name={name!r} (of type {type(name).__name__})"
            )
        else:
            _used_names.add(name)
        if not isinstance(autocast, (bool, np.bool_)):
            raise ValueError(f"`autocast` must be a boolean. Received: autocast={autocast!r}")
        self.name = name
        self._dtype = _standardize_dtype(dtype)
        self._dtype_object = np.dtype(self._dtype)  # for the fast dtype test in _convert_input
        self.autocast = bool(autocast)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._trainable = bool(trainable)
        self.built = False
        self._build_input_shape = None
        self._weights: list[Variable] = []
        self._originally_trainable: list[Variable] = []
        self._activity_losses: list[Tensor] = []
        self.input_spec: InputSpec | None = None
        self._call_has_training_arg = "training" in inspect.signature(self.call).parameters

    # ----- identity ---------------------------------------------------------------------------
    @property
    def dtype(self) -> str:
        """The dtype name of the layer's weights and computation (``'float32'``)."""
        return self._dtype

    @property
    def compute_dtype(self) -> str:
        return self._dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype

    @property
    def path(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # ----- trainability ---------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Whether the layer's weights are trained; ``False`` freezes every weight of the layer."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"Expected `trainable` to be a boolean. Received: trainable={value!r}")
        self._trainable = bool(value)
        for dependent in self._trainable_dependents():
            dependent.trainable = bool(value)

    def _trainable_dependents(self) -> list:
        """What setting ``trainable`` sets too: the weights created trainable (a model: its layers)."""
        return self._originally_trainable

    # ----- weights ----------------------------------------------------------------------------
    def add_weight(
        self,
        shape=None,
        initializer=None,
        name: str | None = None,
        trainable: bool = True,
        regularizer=None,
        constraint=None,
        dtype=None,
        *,
        autocast: bool = True,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
    ) -> Variable:
        """Create a weight of this layer and track it.

        Args:
            shape: the weight's shape (``()`` when None).
            initializer: an initializer object, name (``'glorot_uniform'``) or config dict;
                default ``'glorot_uniform'`` for float weights, ``'zeros'`` for others.
            name: short name; the variable's ``path`` is ``'<layer name>/<name>'``.
            trainable: whether optimizers update it (False for moving statistics).
            regularizer: penalty on the weight, joining ``layer.losses`` (trainable weights only).
            constraint: projection applied by the optimizer after every update.
            dtype: the weight's dtype; default the layer's.
            autocast, aggregation, overwrite_with_gradient: accepted so that Keras 3 layer code
                runs unchanged; they change nothing here (one dtype, one device, no float8).

        Returns:
            The new ``Variable``.
        """
        shape = () if shape is None else standardize_shape(shape, "shape")
        if any(size is None for size in shape):
            raise ValueError(
                f"Weight '{name}' of layer '{self.name}' needs a fully known shape. Received: shape={shape}"
            )
        dtype = np.dtype(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if np.issubdtype(dtype, np.floating) else "zeros"
        variable = Variable(
            initializers.get(initializer),
            shape=shape,
            dtype=dtype,
            trainable=bool(trainable) and self._trainable,
            name=name,
            path=f"{self.name}/{name}",
            regularizer=regularizers.get(regularizer),
            constraint=constraints.get(constraint),
        )
        self._weights.append(variable)
        if trainable:
            self._originally_trainable.append(variable)
        return variable

    @property
    def weights(self) -> list:
        """All weights, in creation order (Keras's order for every built-in layer)."""
        return list(self._weights)

    @property
    def trainable_weights(self) -> list:
        """The weights optimizers update: none when the layer is frozen."""
        if not self._trainable:
            return []
        return [variable for variable in self._weights if variable.trainable]

    @property
    def non_trainable_weights(self) -> list:
        """The weights optimizers leave alone (moving statistics; all weights of a frozen layer)."""
        if not self._trainable:
            return list(self._weights)
        return [variable for variable in self._weights if not variable.trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self) -> list:
        """The weights' values as a list of NumPy arrays (copies), in ``weights`` order."""
        return [variable.numpy() for variable in self._weights]

    def set_weights(self, weights) -> None:
        """Copy a list of arrays into the weights, in ``weights`` order, checking count and shapes.

        Raises:
            ValueError: the layer is not built, the list has the wrong length, or an array has the
                wrong shape (the message names the weight, the expected and received shapes).
        """
        if not self.built:
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}', which is not built yet and "
                "has no weights. Call it on data or `build(input_shape)` first."
            )
        weights = list(weights)
        if len(weights) != len(self._weights):
            expected = ", ".join(f"{v.name} {tuple(v.shape)}" for v in self._weights) or "none"
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of length "
                f"{len(weights)}, but the layer was expecting {len(self._weights)} weights ({expected})."
            )
        arrays = []
        for variable, value in zip(self._weights, weights):
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if tuple(array.shape) != tuple(variable.shape):
                raise ValueError(
                    f"Layer '{self.name}' weight '{variable.name}' has shape {tuple(variable.shape)}, which is "
                    f"not compatible with the provided weight shape {tuple(array.shape)}."
                )
            arrays.append(array)
        for variable, array in zip(self._weights, arrays):
            variable.assign(array)

    def count_params(self) -> int:
        """The number of scalars in all weights (trainable or not).

        Raises:
            ValueError: the layer is not built.
        """
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't built. "
                "You can build it manually via: `layer.build(input_shape)`."
            )
        return int(sum(int(np.prod(variable.shape)) for variable in self._weights))

    # ----- losses -----------------------------------------------------------------------------
    @property
    def losses(self) -> list:
        """Scalar Tensors: the activity penalty of the last call, then each trainable weight's
        regularization penalty (computed now, on the current values, in the autograd graph)."""
        penalties = list(self._activity_losses)
        for variable in self.trainable_weights:
            if variable.regularizer is not None:
                penalties.append(variable.regularizer(variable))
        return penalties

    # ----- building and calling ----------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis included, as None).

        The base layer has no weights; subclasses with weights override this.
        """
        self.built = True
        if self._build_input_shape is None:
            self._build_input_shape = standardize_shape(input_shape)

    def call(self, inputs, training=False):
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement `call()`.")

    def compute_output_shape(self, input_shape) -> tuple:
        """The output shape for ``input_shape`` (batch axis included), found by running ``call``
        once on one sample of zeros.

        Keras infers it by tracing ``call`` symbolically, so a user's layer needs only ``call``;
        cnnkit has no symbolic tensors, and one sample costs little. Every built-in layer states
        its shape instead (no computation). A layer whose ``call`` draws random numbers advances
        ``cnnkit.random``'s generator here: such a layer should override this method.

        Raises:
            NotImplementedError: a size other than the batch is unknown (None), so no sample can
                be made; implement ``compute_output_shape``.
        """
        from ..autograd import no_grad

        shape = standardize_shape(input_shape)
        if not shape or any(size is None for size in shape[1:]):
            raise NotImplementedError(
                f"Layer {type(self).__name__} cannot infer its output shape for input_shape={shape} "
                f"(only the batch size may be None): implement `def compute_output_shape(self, input_shape)`."
            )
        with no_grad():
            output = self.call(Tensor(np.zeros((1,) + tuple(shape[1:]), dtype=self.dtype or floatx())))
        return (shape[0],) + tuple(output.shape[1:])

    def _check_input_shape(self, input_shape) -> tuple:
        """Standardise a shape (with batch axis) and check it against ``input_spec``."""
        shape = standardize_shape(input_shape)
        if self.input_spec is not None:
            self.input_spec.check(shape, self.name)
        return shape

    def _convert_input(self, inputs) -> Tensor:
        if inputs is None or isinstance(inputs, (str, bytes)):
            raise TypeError(
                f"Layer '{self.name}' expects an array or Tensor as input. Received: inputs={inputs!r}"
            )
        if not isinstance(inputs, Tensor):
            if isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], Tensor):
                raise TypeError(
                    f"Layer '{self.name}' takes one input tensor. Received: a {type(inputs).__name__} "
                    f"of {len(inputs)} tensors."
                )
            try:
                inputs = Tensor(inputs)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"Layer '{self.name}' expects an array or Tensor as input. Received: inputs of type "
                    f"{type(inputs).__name__} ({error})"
                ) from None
        if not self.autocast:
            return inputs
        dtype = inputs.data.dtype
        # NumPy's built-in dtypes are singletons, so an identity test settles the common case (input
        # already in the layer's dtype) without comparing a dtype to the name string every call.
        if dtype is self._dtype_object or dtype == self._dtype:
            return inputs
        kind = dtype.kind
        if kind == "f":
            return inputs.astype(self._dtype)  # differentiable cast
        if kind in "iub":
            return Tensor(inputs.data.astype(self._dtype))
        raise TypeError(
            f"Layer '{self.name}' expects numeric input. Received: inputs with dtype {inputs.dtype}."
        )

    def __call__(self, inputs, training=None, **kwargs):
        """Convert ``inputs`` to a Tensor, check it, build on first use, then ``call`` it.

        Args:
            inputs: an array or Tensor with a batch axis first.
            training: True in training (dropout drops, BatchNormalization uses batch statistics,
                random augmentation is active); None means False.
        """
        inputs = self._convert_input(inputs)
        if self.input_spec is not None:
            self.input_spec.check(inputs.shape, self.name)
        if not self.built:
            self.build((None,) + tuple(inputs.shape[1:]))
            if self.input_spec is not None:
                self.input_spec.check(inputs.shape, self.name)
        self._activity_losses = []
        if self._call_has_training_arg:
            outputs = self.call(inputs, training=bool(training), **kwargs)
        else:
            outputs = self.call(inputs, **kwargs)
        if self.activity_regularizer is not None:
            penalty = self.activity_regularizer(outputs)
            batch_size = outputs.shape[0] if outputs.ndim > 0 else 0
            if batch_size:
                penalty = penalty * (1.0 / batch_size)
            self._activity_losses.append(penalty)
        return outputs

    # ----- serialisation ----------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments as a JSON-able dict (Keras's keys: name, trainable, dtype, ...)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:  # as Keras's base Layer.get_config
            config["activity_regularizer"] = serialize_setting(
                self.activity_regularizer, regularizers, "activity_regularizer"
            )
        return config

    @classmethod
    def from_config(cls, config: dict):
        """A new, unbuilt layer made from ``get_config()``'s dict."""
        if not isinstance(config, dict):
            raise TypeError(
                f"{cls.__name__}.from_config expects a dict. Received: config of type {type(config).__name__}"
            )
        return cls(**config)

    def get_build_config(self) -> dict | None:
        """``{'input_shape': [...]}``: the shape the layer was built with (None if not built)."""
        if self._build_input_shape is None:
            return None
        return {"input_shape": list(self._build_input_shape)}

    def build_from_config(self, config) -> None:
        """Build from ``get_build_config()``'s dict (used when loading a saved model)."""
        if config and "input_shape" in config:
            self.build(tuple(config["input_shape"]))


# ----- argument checks shared by the layer modules ---------------------------------------------
def check_positive_int(value, name: str) -> int:
    """``value`` as an int >= 1; TypeError for non-ints (bools included), ValueError below 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a strictly positive value. Received: {name}={value!r}"
        )
    return int(value)


def check_bool(value, name: str) -> bool:
    """``value`` as a bool; TypeError for anything else."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


def check_padding(value, allow_causal: bool = False) -> str:
    """Keras's padding names, lower-cased: 'valid', 'same' (and 'causal' for 1-D convolutions)."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise ValueError(f"The `padding` argument must be one of {allowed}. Received: padding={value!r}")


def serialize_setting(value, module, name: str):
    """The JSON form of an initializer/regularizer/constraint (None stays None).

    Only the built-in classes can be written into a config: a user's own callable raises a
    TypeError naming the argument, so a saved model never has to import code to load.
    """
    if value is None:
        return None
    try:
        return module.serialize(value)
    except TypeError:
        raise TypeError(
            f"Cannot put {name}={value!r} into a config: only cnnkit's built-in objects (given by name, "
            "e.g. 'glorot_uniform', or as instances) can be serialized."
        ) from None


_SETTING_MODULES = {"initializer": initializers, "regularizer": regularizers, "constraint": constraints}


def _setting_module(name: str):
    """The module that resolves and serializes the setting ``name`` (``kernel_initializer`` -> initializers)."""
    return _SETTING_MODULES[name.rsplit("_", 1)[-1]]


def resolve_weight_settings(layer, **settings) -> None:
    """Resolve and store a layer's ``<weight>_initializer/_regularizer/_constraint`` arguments.

    Each keyword is resolved by the module its suffix names (``initializers.get`` for
    ``kernel_initializer``, ...) and stored on ``layer`` under the same name, in the order given,
    so a bad argument raises at construction naming it.
    """
    for name, value in settings.items():
        setattr(layer, name, _setting_module(name).get(value))


def weight_setting_names(weights, activity_regularizer: bool = True) -> list:
    """Keras's config order of the settings of ``weights`` (e.g. ``('kernel', 'bias')``): every
    initializer, then every regularizer (and ``activity_regularizer``), then every constraint."""
    names = [f"{weight}_initializer" for weight in weights] + [f"{weight}_regularizer" for weight in weights]
    if activity_regularizer:
        names.append("activity_regularizer")
    return names + [f"{weight}_constraint" for weight in weights]


def weight_settings_config(layer, names) -> dict:
    """The config entries of the settings ``names`` stored on ``layer`` (see ``serialize_setting``)."""
    return {name: serialize_setting(getattr(layer, name), _setting_module(name), name) for name in names}


def add_weight_with_settings(layer, name: str, shape, settings: str | None = None):
    """``layer.add_weight`` with the initializer, regularizer and constraint stored as
    ``<settings>_initializer`` etc. on the layer (``settings`` defaults to ``name``)."""
    settings = name if settings is None else settings
    return layer.add_weight(
        shape=shape,
        initializer=getattr(layer, f"{settings}_initializer"),
        name=name,
        regularizer=getattr(layer, f"{settings}_regularizer"),
        constraint=getattr(layer, f"{settings}_constraint"),
    )


def resolve_activation(activation):
    """``(function, name)`` for a layer's ``activation=`` argument (Keras's ``activations.get``).

    Built-in activations (by name, config dict or function) come with their config name; any other
    callable is accepted as Keras accepts it, with name None: it works, but cannot be put into a
    config (``activation_config`` raises then).
    """
    function = activations.get(activation)
    try:
        name = activations.serialize(function)
    except ValueError:
        name = None
    return function, name


def activation_config(function, name):
    """The config entry of an activation: its name, or a TypeError for a user's own callable."""
    if name is None:
        raise TypeError(
            f"Cannot put activation={function!r} into a config: only cnnkit's built-in activations (given by "
            "name, e.g. 'relu', or as cnnkit.activations functions) can be serialized, so that loading a model "
            "never runs code."
        )
    return name
