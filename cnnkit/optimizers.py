"""Optimizers: SGD (momentum, Nesterov), Adam, AdamW, RMSprop, Adagrad, with Keras 3's rules.

This module owns how gradients become weight updates. Every optimizer follows Keras 3's update
rule, defaults and order of operations exactly (Keras's Adam adds ``epsilon`` to ``sqrt(v)`` after
folding both bias corrections into the step size, and its RMSprop adds ``epsilon`` inside the
square root; PyTorch differs in both). One update, as in Keras's ``BaseOptimizer.apply``:

1. drop variables whose gradient is None;
2. clip the gradients (``clipnorm`` per variable, ``global_clipnorm`` over all, or ``clipvalue``);
3. decay the weights (``variable -= variable * weight_decay * learning_rate``) if ``weight_decay``;
4. apply the optimizer's rule with the current learning rate (a schedule is called with the
   step count, 0 for the first update);
5. count the step, then project every variable that has a ``constraint``.

Speed: an optimizer keeps its slots (momenta, velocities) for all variables of one dtype in one
flat buffer and copies the gradients into one flat buffer, so each rule is a dozen in-place
ufuncs over all parameters at once (``out=``), whatever the number of layers; the result is
added to each ``Variable.data`` in place. float32 stays float32: scalars enter as Python floats.

``get(identifier)`` resolves Keras's names (``'adam'``, ``'sgd'``, ``'rmsprop'``, ``'adagrad'``,
``'adamw'``, any case), config dicts and instances. ``save_own_variables``/``load_own_variables``
export and import the state (step count, learning rate, slots) for resuming.

Example:
    >>> import numpy as np
    >>> from cnnkit.variables import Variable
    >>> weight = Variable(np.array([1.0, 2.0], dtype="float32"))
    >>> optimizer = SGD(learning_rate=0.1)
    >>> optimizer.apply([np.array([1.0, -1.0], dtype="float32")], [weight])
    >>> weight.numpy()
    array([0.9, 2.1], dtype=float32)
"""
from __future__ import annotations

import math
import numbers
import re
import warnings

import numpy as np

from . import schedules
from .schedules import LearningRateSchedule

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]


def _check_float(name: str, value, low=None, high=None, low_open=False, high_open=False, allow_none=False):
    """Check a hyperparameter: a finite real number inside [low, high] (bounds optional)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise TypeError(f"`{name}` must be a finite number. Received: {name}={value!r}")
    value = float(value)
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"`{name}` must be {'>' if low_open else '>='} {low}. Received: {name}={value}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"`{name}` must be {'<' if high_open else '<='} {high}. Received: {name}={value}")
    return value


class _Group:
    """The variables of one dtype: their offsets in the flat buffers, and the buffers."""

    def __init__(self, dtype, indices, variables, slot_names, slot_initial):
        self.dtype = dtype
        self.indices = indices  # positions in the optimizer's variable list
        self.shapes = [tuple(variables[i].shape) for i in indices]
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp) if sizes else np.zeros(0, np.intp)
        self.stops = [int(start) + size for start, size in zip(self.starts, sizes)]
        self.size = int(sum(sizes))
        self.gradient = np.zeros(self.size, dtype=dtype)
        self.scratch = np.zeros(self.size, dtype=dtype)
        self.slots = {name: np.full(self.size, slot_initial.get(name, 0.0), dtype=dtype) for name in slot_names}
        # Views shaped like each variable, made once: a gradient copy is one np.copyto, and an
        # update from the gradient (or scratch) buffer needs no new view per variable and step.
        self.gradient_views = [self.view(self.gradient, k) for k in range(len(indices))]
        self.scratch_views = [self.view(self.scratch, k) for k in range(len(indices))]

    def views(self, flat) -> list:
        """``flat`` cut into one view per variable (the prepared views for the own buffers)."""
        if flat is self.gradient:
            return self.gradient_views
        if flat is self.scratch:
            return self.scratch_views
        return [self.view(flat, k) for k in range(len(self.indices))]

    def view(self, flat, k):
        return flat[int(self.starts[k]) : self.stops[k]].reshape(self.shapes[k])


class Optimizer:
    """Base class of cnnkit's optimizers (Keras 3's ``keras.optimizers.Optimizer``).

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` or a callable with no arguments.
        weight_decay: if set, decoupled weight decay applied before each update.
        clipnorm: clip each variable's gradient to this L2 norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm.
        name: the optimizer's name.

    Only one of ``clipnorm``, ``clipvalue`` and ``global_clipnorm`` may be set. Keras's
    ``use_ema``, ``loss_scale_factor`` and ``gradient_accumulation_steps`` are accepted at their
    defaults only.

    Subclasses list their slots in ``_slot_names`` and implement ``_rule``.
    """

    _slot_names: tuple = ()

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        kwargs.pop("decay", None)  # Keras ignores the legacy argument with a warning
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        unsupported = {
            "use_ema": (use_ema, False),
            "ema_overwrite_frequency": (ema_overwrite_frequency, None),
            "loss_scale_factor": (loss_scale_factor, None),
            "gradient_accumulation_steps": (gradient_accumulation_steps, None),
        }
        for argument, (value, default) in unsupported.items():
            if value != default:
                raise ValueError(f"cnnkit optimizers do not support `{argument}`. Received: {argument}={value!r}")
        if sum(value is not None for value in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        self.weight_decay = _check_float("weight_decay", weight_decay, low=0.0, allow_none=True)
        self.clipnorm = _check_float("clipnorm", clipnorm, low=0.0, low_open=True, allow_none=True)
        self.clipvalue = _check_float("clipvalue", clipvalue, low=0.0, low_open=True, allow_none=True)
        self.global_clipnorm = _check_float("global_clipnorm", global_clipnorm, low=0.0, low_open=True, allow_none=True)
        self.ema_momentum = ema_momentum
        self.name = name if name is not None else type(self).__name__.lower()
        self._learning_rate = self._standardize_learning_rate(learning_rate)
        self._iterations = 0
        self.built = False
        self._variables = []
        self._groups = []
        self._exclude_ids = set()
        self._exclude_pattern = None

    # ----- learning rate ----------------------------------------------------------------------
    @staticmethod
    def _standardize_learning_rate(learning_rate):
        if isinstance(learning_rate, LearningRateSchedule):
            return learning_rate
        if isinstance(learning_rate, dict):
            return schedules.deserialize(learning_rate)
        if callable(learning_rate):
            return learning_rate
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a "
                f"callable (that takes no arguments and returns the learning rate). Received: learning_rate={learning_rate!r}"
            )
        return _check_float("learning_rate", learning_rate, low=0.0)

    @property
    def learning_rate(self) -> float:
        """The learning rate for the next update (a schedule is evaluated at ``iterations``)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self._iterations))
        if callable(self._learning_rate):
            return float(self._learning_rate())
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate) -> None:
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            self._learning_rate = learning_rate
            return
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                "constructor argument, hence its learning rate is not settable. If you need the learning "
                "rate to be settable, you should instantiate the optimizer with a float `learning_rate` argument."
            )
        self._learning_rate = self._standardize_learning_rate(float(learning_rate) if isinstance(learning_rate, np.generic) else learning_rate)

    @property
    def iterations(self) -> int:
        """The number of updates applied so far."""
        return self._iterations

    # ----- building -------------------------------------------------------------------------
    def _slot_initial_values(self) -> dict:
        return {}

    def build(self, variables) -> None:
        """Create the slots for ``variables`` (done by the first ``apply`` if not called)."""
        if self.built:
            return
        variables = list(variables)
        seen = set()
        for variable in variables:
            if id(variable) in seen:
                raise ValueError(f"The variable {getattr(variable, 'path', variable)!r} appears twice in the variable list.")
            seen.add(id(variable))
        self._variables = variables
        self._position = {id(variable): i for i, variable in enumerate(variables)}
        by_dtype = {}
        for i, variable in enumerate(variables):
            by_dtype.setdefault(np.dtype(variable.dtype), []).append(i)
        self._groups = [
            _Group(dtype, indices, variables, self._slot_names, self._slot_initial_values())
            for dtype, indices in by_dtype.items()
        ]
        # Where variable i lives: (group, index inside the group).
        self._location = {}
        for group in self._groups:
            for k, i in enumerate(group.indices):
                self._location[i] = (group, k)
        self.built = True

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exempt variables (or those whose name contains one of ``var_names``) from weight decay.

        Must be called before the optimizer is built.
        """
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._exclude_ids = {id(variable) for variable in (var_list or [])}
        self._exclude_pattern = re.compile("|".join(map(re.escape, set(var_names)))) if var_names else None

    def _uses_weight_decay(self, variable) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        if self._exclude_pattern is not None and self._exclude_pattern.search(str(getattr(variable, "name", ""))):
            return False
        return True

    # ----- the update -------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars) -> int:
        """``apply`` for a list of ``(gradient, variable)`` pairs (tf.keras style); returns ``iterations``."""
        grads_and_vars = list(grads_and_vars)
        if grads_and_vars:
            grads, variables = zip(*grads_and_vars)
            self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None) -> None:
        """Update ``trainable_variables`` in place from ``grads`` (one per variable, None allowed).

        Args:
            grads: arrays (or Tensors), one per variable, each of the variable's shape.
            trainable_variables: the Variables; may be left out once the optimizer is built, and
                must be variables it was built with.

        Raises:
            ValueError: unknown variables, mismatched lengths or shapes, or no gradient at all.
        """
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be built on a "
                    "list of variables. Call `optimizer.build(trainable_variables)` first."
                )
            trainable_variables = self._variables
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"`apply` needs one gradient per variable. Received {len(grads)} gradients for "
                f"{len(trainable_variables)} variables."
            )
        positions = []
        for variable in trainable_variables:
            position = self._position.get(id(variable))
            if position is None:
                raise ValueError(
                    f"Unknown variable: {getattr(variable, 'path', variable)!r}. This optimizer can only be "
                    "called for the variables it was originally built with. When working with a new set of "
                    "variables, you should recreate a new optimizer instance."
                )
            positions.append(position)
        present = [(position, grad) for position, grad in zip(positions, grads) if grad is not None]
        if not present:
            raise ValueError("No gradients provided for any variable.")
        if len(present) < len(grads):
            missing = [getattr(trainable_variables[j], "path", j) for j, grad in enumerate(grads) if grad is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss.", stacklevel=2)

        learning_rate = self.learning_rate
        self._copy_gradients(present)
        self._clip_gradients(present)
        if self.weight_decay is not None:
            self._apply_weight_decay(present, learning_rate)
        self._update(present, learning_rate)
        self._iterations += 1
        for position, _ in present:
            variable = self._variables[position]
            if getattr(variable, "constraint", None) is not None:
                variable.apply_constraint()

    def _copy_gradients(self, present) -> None:
        for position, grad in present:
            group, k = self._location[position]
            grad = getattr(grad, "data", grad) if not isinstance(grad, np.ndarray) else grad
            target = group.gradient_views[k]
            if (grad.shape if isinstance(grad, np.ndarray) else np.shape(grad)) != target.shape:
                raise ValueError(
                    f"Gradient for variable {getattr(self._variables[position], 'path', position)!r} has shape "
                    f"{np.shape(grad)}; expected the variable's shape {target.shape}."
                )
            np.copyto(target, grad, casting="same_kind")

    def _clip_gradients(self, present) -> None:
        if self.clipvalue is not None:
            for group in self._groups:
                np.clip(group.gradient, -self.clipvalue, self.clipvalue, out=group.gradient)
        elif self.clipnorm is not None:
            for position, _ in present:
                group, k = self._location[position]
                gradient = group.gradient[int(group.starts[k]) : group.stops[k]]
                norm = np.sqrt(np.dot(gradient, gradient))
                # Keras: g * clipnorm / max(norm, clipnorm), also when that is (nearly) the identity.
                np.multiply(gradient, gradient.dtype.type(self.clipnorm), out=gradient)
                np.divide(gradient, np.maximum(norm, gradient.dtype.type(self.clipnorm)), out=gradient)
        elif self.global_clipnorm is not None:
            parts = []
            for position, _ in present:
                group, k = self._location[position]
                gradient = group.gradient[int(group.starts[k]) : group.stops[k]]
                parts.append(np.dot(gradient, gradient))
            dtype = self._groups[0].dtype.type
            global_norm = np.sqrt(np.sum(np.asarray(parts, dtype=self._groups[0].dtype)))
            clip = dtype(self.global_clipnorm)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = clip * np.minimum(dtype(1.0) / global_norm, dtype(1.0) / clip)
                scale = scale + (global_norm - global_norm)  # NaN when the norm is not finite, as Keras
            for group in self._groups:
                np.multiply(group.gradient, group.dtype.type(scale), out=group.gradient)

    def _apply_weight_decay(self, present, learning_rate) -> None:
        for position, _ in present:
            variable = self._variables[position]
            if self._uses_weight_decay(variable):
                data = variable.data
                dtype = data.dtype.type
                decay = data * dtype(self.weight_decay)
                np.multiply(decay, dtype(learning_rate), out=decay)
                np.subtract(data, decay, out=data)

    def _update(self, present, learning_rate) -> None:
        """Run the rule over whole flat buffers when every variable has a gradient, else per variable."""
        if len(present) == len(self._variables):
            for group in self._groups:
                result, sign = self._rule(group.gradient, group.slots, group.scratch, learning_rate, group.dtype.type)
                apply_step = np.add if sign > 0 else np.subtract
                for i, step in zip(group.indices, group.views(result)):
                    data = self._variables[i].data
                    apply_step(data, step, out=data)
            return
        for position, _ in present:
            group, k = self._location[position]
            window = slice(int(group.starts[k]), group.stops[k])
            slots = {name: flat[window] for name, flat in group.slots.items()}
            result, sign = self._rule(group.gradient[window], slots, group.scratch[window], learning_rate, group.dtype.type)
            data = self._variables[position].data
            (np.add if sign > 0 else np.subtract)(data, result.reshape(data.shape), out=data)

    def _rule(self, gradient, slots, scratch, learning_rate, dtype):
        """Update the slots from ``gradient`` (flat, may be overwritten) and return
        ``(step, sign)``: the variables become ``variable + sign * step``."""
        raise NotImplementedError

    # ----- state --------------------------------------------------------------------------------
    @property
    def variables(self) -> list:
        """The optimizer's state in Keras's order: iteration count, learning rate (when it is a
        number), then each slot for every variable (slot-major). Slot arrays are live views."""
        state = [np.array(self._iterations, dtype=np.int64)]
        if not callable(self._learning_rate):
            state.append(np.array(self._learning_rate, dtype=np.float64))
        for name in self._slot_names:
            for i in range(len(self._variables)):
                group, k = self._location[i]
                state.append(group.view(group.slots[name], k))
        return state

    def save_own_variables(self, store: dict) -> None:
        """Write the state into ``store`` as ``{'0': array, '1': array, ...}`` (Keras's layout)."""
        for i, value in enumerate(self.variables):
            store[str(i)] = np.array(value, copy=True)

    def load_own_variables(self, store: dict) -> None:
        """Restore a state written by ``save_own_variables`` (the optimizer must be built on the
        same variables).

        Raises:
            ValueError: the optimizer is not built, or the count or a shape does not match.
        """
        if not self.built:
            raise ValueError(
                f"Optimizer '{self.name}' is not built: call `optimizer.build(model.trainable_weights)` "
                "before loading its state."
            )
        current = self.variables
        if len(store) != len(current):
            raise ValueError(
                f"Optimizer '{self.name}' has {len(current)} state arrays but the saved state has {len(store)}: "
                "it was saved from a different optimizer or model."
            )
        arrays = [np.asarray(store[str(i)]) for i in range(len(current))]
        # A file format may store a scalar as shape (1,): accept it for scalar state.
        arrays = [a.reshape(()) if t.ndim == 0 and a.shape == (1,) else a for t, a in zip(current, arrays)]
        for i, (target, array) in enumerate(zip(current, arrays)):
            if target.shape != array.shape:
                raise ValueError(
                    f"Optimizer '{self.name}' state array {i} has shape {target.shape}, but the saved one has "
                    f"shape {array.shape}."
                )
        self._iterations = int(arrays[0])
        offset = 1
        if not callable(self._learning_rate):
            self._learning_rate = float(arrays[1])
            offset = 2
        for target, array in zip(current[offset:], arrays[offset:]):
            np.copyto(target, array, casting="same_kind")

    # ----- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments as a JSON-able dict (Keras's keys)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            learning_rate = schedules.serialize(self._learning_rate)
        elif callable(self._learning_rate):
            raise ValueError("An optimizer whose learning rate is a plain callable cannot be serialized.")
        else:
            learning_rate = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": False,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, learning_rate={self._learning_rate!r}, iterations={self._iterations}>"


class SGD(Optimizer):
    """Gradient descent, with optional momentum and Nesterov momentum (Keras 3's rule).

    Without momentum: ``w = w - learning_rate * g``. With momentum:
    ``velocity = momentum * velocity - learning_rate * g``; ``w = w + velocity``, or with
    ``nesterov=True``: ``w = w + momentum * velocity - learning_rate * g``.

    Args:
        learning_rate: default 0.01.
        momentum: in [0, 1], default 0.
        nesterov: use Nesterov momentum.
        (and the base arguments: weight_decay, clipnorm, clipvalue, global_clipnorm, name)

    Example:
        >>> optimizer = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self._slot_names = ("momentum",) if self.momentum != 0 else ()

    def _rule(self, gradient, slots, scratch, learning_rate, dtype):
        np.multiply(gradient, dtype(learning_rate), out=gradient)  # learning_rate * g
        if not self._slot_names:
            return gradient, -1
        velocity = slots["momentum"]
        momentum = dtype(self.momentum)
        np.multiply(velocity, momentum, out=velocity)
        np.subtract(velocity, gradient, out=velocity)
        if not self.nesterov:
            return velocity, +1
        np.multiply(velocity, momentum, out=scratch)
        np.subtract(scratch, gradient, out=scratch)
        return scratch, +1

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2014) with Keras 3's rule and defaults.

    With ``t`` the step number from 1: ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``;
    ``m += (g - m) * (1 - beta_1)``; ``v += (g**2 - v) * (1 - beta_2)``;
    ``w -= alpha * m / (sqrt(v) + epsilon)``. ``epsilon`` is Kingma and Ba's "epsilon hat", added
    after the bias correction: PyTorch instead adds it to ``sqrt(v / (1 - beta_2**t))``.

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.  beta_2: default 0.999.  epsilon: default 1e-7.
        amsgrad: keep the running maximum of ``v`` (Reddi et al., 2018).
        (and the base arguments)

    Example:
        >>> optimizer = Adam(learning_rate=1e-3)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = _check_float("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = _check_float("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = _check_float("epsilon", epsilon, low=0.0)
        self.amsgrad = bool(amsgrad)
        self._slot_names = ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum", "velocity")

    def _rule(self, gradient, slots, scratch, learning_rate, dtype):
        step = self._iterations + 1
        # Keras computes these scalars in the variable's dtype.
        beta_1_power = dtype(self.beta_1) ** dtype(step)
        beta_2_power = dtype(self.beta_2) ** dtype(step)
        alpha = dtype(learning_rate) * np.sqrt(dtype(1) - beta_2_power) / (dtype(1) - beta_1_power)
        momentum, velocity = slots["momentum"], slots["velocity"]
        np.subtract(gradient, momentum, out=scratch)
        np.multiply(scratch, dtype(1 - self.beta_1), out=scratch)
        np.add(momentum, scratch, out=momentum)
        np.multiply(gradient, gradient, out=scratch)
        np.subtract(scratch, velocity, out=scratch)
        np.multiply(scratch, dtype(1 - self.beta_2), out=scratch)
        np.add(velocity, scratch, out=velocity)
        if self.amsgrad:
            np.maximum(slots["velocity_hat"], velocity, out=slots["velocity_hat"])
            velocity = slots["velocity_hat"]
        np.sqrt(velocity, out=scratch)
        np.add(scratch, dtype(self.epsilon), out=scratch)
        np.multiply(momentum, alpha, out=gradient)
        np.divide(gradient, scratch, out=gradient)
        return gradient, -1

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad})
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019): Keras 3's AdamW.

    Before each Adam step every variable (unless excluded with ``exclude_from_weight_decay``)
    becomes ``w - w * weight_decay * learning_rate``.

    Args:
        learning_rate: default 0.001.  weight_decay: default 0.004 (must be set).
        beta_1, beta_2, epsilon, amsgrad: as Adam.

    Example:
        >>> optimizer = AdamW(learning_rate=1e-3, weight_decay=1e-2)
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012) with Keras 3's rule and defaults.

    ``v = rho * v + (1 - rho) * g**2``; with ``centered``: ``a = rho * a + (1 - rho) * g`` and the
    denominator is ``sqrt(v - a**2 + epsilon)``, otherwise ``sqrt(v + epsilon)`` (epsilon inside
    the root, unlike PyTorch); ``increment = lr * g / denominator``; with momentum
    ``s = momentum * s + increment; w -= s``, else ``w -= increment``.

    Args:
        learning_rate: default 0.001.  rho: default 0.9.  momentum: default 0.
        epsilon: default 1e-7.  centered: default False.  (and the base arguments)

    Example:
        >>> optimizer = RMSprop(learning_rate=1e-3, rho=0.9)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = _check_float("rho", rho, low=0.0, high=1.0, high_open=True)
        self.momentum = _check_float("momentum", momentum, low=0.0, high=1.0)
        self.epsilon = _check_float("epsilon", epsilon, low=0.0)
        self.centered = bool(centered)
        names = ["velocity"]
        if self.momentum > 0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        self._slot_names = tuple(names)

    def _rule(self, gradient, slots, scratch, learning_rate, dtype):
        rho = dtype(self.rho)
        velocity = slots["velocity"]
        np.multiply(gradient, gradient, out=scratch)
        np.multiply(scratch, dtype(1 - self.rho), out=scratch)
        np.multiply(velocity, rho, out=velocity)
        np.add(velocity, scratch, out=velocity)
        if self.centered:
            average = slots["average_gradient"]
            np.multiply(gradient, dtype(1 - self.rho), out=scratch)
            np.multiply(average, rho, out=average)
            np.add(average, scratch, out=average)
            np.multiply(average, average, out=scratch)
            np.subtract(velocity, scratch, out=scratch)
            np.add(scratch, dtype(self.epsilon), out=scratch)
        else:
            np.add(velocity, dtype(self.epsilon), out=scratch)
        np.sqrt(scratch, out=scratch)
        np.multiply(gradient, dtype(learning_rate), out=gradient)
        np.divide(gradient, scratch, out=gradient)
        if self.momentum > 0:
            accumulated = slots["momentum"]
            np.multiply(accumulated, dtype(self.momentum), out=accumulated)
            np.add(accumulated, gradient, out=accumulated)
            return accumulated, -1
        return gradient, -1

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered})
        return config


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with Keras 3's rule and defaults.

    ``accumulator += g**2``; ``w -= lr * g / sqrt(accumulator + epsilon)``, the accumulator
    starting at ``initial_accumulator_value``.

    Args:
        learning_rate: default 0.001.  initial_accumulator_value: default 0.1 (>= 0).
        epsilon: default 1e-7.  (and the base arguments)

    Example:
        >>> optimizer = Adagrad(learning_rate=0.01)
    """

    _slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value = _check_float("initial_accumulator_value", initial_accumulator_value, low=0.0)
        self.epsilon = _check_float("epsilon", epsilon, low=0.0)

    def _slot_initial_values(self) -> dict:
        return {"accumulator": self.initial_accumulator_value}

    def _rule(self, gradient, slots, scratch, learning_rate, dtype):
        accumulator = slots["accumulator"]
        np.multiply(gradient, gradient, out=scratch)
        np.add(accumulator, scratch, out=accumulator)
        np.add(accumulator, dtype(self.epsilon), out=scratch)
        np.sqrt(scratch, out=scratch)
        np.multiply(gradient, dtype(learning_rate), out=gradient)
        np.divide(gradient, scratch, out=gradient)
        return gradient, -1

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon})
        return config


_OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def serialize(optimizer: Optimizer) -> dict:
    """``{'class_name': 'Adam', 'config': {...}}`` (JSON-able)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize expects a cnnkit optimizer. Received: {optimizer!r}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """An optimizer from ``serialize``'s dict; only cnnkit's optimizer classes are known.

    Raises:
        ValueError: an unknown class name or a malformed config (nothing is imported).
    """
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"An optimizer config is a dict with 'class_name' and 'config'. Received: {config!r}")
    cls = _OPTIMIZERS.get(config["class_name"].lower())
    if cls is None:
        raise ValueError(
            f"Could not interpret optimizer identifier: {config['class_name']!r}. "
            f"Known optimizers: {sorted(c.__name__ for c in _OPTIMIZERS.values())}."
        )
    arguments = config.get("config", {}) or {}
    if not isinstance(arguments, dict):
        raise ValueError(f"The 'config' of an optimizer must be a dict. Received: {arguments!r}")
    return cls.from_config(arguments)


def get(identifier) -> Optimizer:
    """Resolve an optimizer: an instance, a name (``'adam'``, ``'SGD'``, ...) or a config dict.

    Example:
        >>> get("adam").learning_rate
        0.001

    Raises:
        ValueError: an unknown name or an object that is not an optimizer.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
