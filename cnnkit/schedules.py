"""Learning-rate schedules: the learning rate as a function of the optimizer's step.

This module owns Keras 3's ``keras.optimizers.schedules``: ``ExponentialDecay``, ``CosineDecay``
(with optional linear warm-up) and ``PiecewiseConstantDecay``, with Keras's arguments, defaults
and formulas, plus ``serialize``/``deserialize``/``get`` by registered class name only.

An optimizer given a schedule calls it with its step count (0 for the first update) before every
update; ``cnnkit.optimizers.schedules`` is this module.

Example:
    >>> from cnnkit import optimizers
    >>> schedule = optimizers.schedules.CosineDecay(0.01, decay_steps=1000)
    >>> optimizer = optimizers.Adam(learning_rate=schedule)
    >>> schedule(0), round(schedule(500), 6), schedule(1000)
    (0.01, 0.005, 0.0)
"""
from __future__ import annotations

import math
import numbers

from .serialization import ConfigurableObject

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "CosineDecay",
    "PiecewiseConstantDecay",
    "serialize",
    "deserialize",
    "get",
]


def _check_number(name: str, value, minimum=None, exclusive: bool = False, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "an int" if integer else "a number"
        raise TypeError(f"`{name}` must be {kind}. Received: {name}={value!r}")
    if integer and not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int. Received: {name}={value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"`{name}` must be finite. Received: {name}={value!r}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        relation = ">" if exclusive else ">="
        raise ValueError(f"`{name}` must be {relation} {minimum}. Received: {name}={value!r}")
    return value


def _step_value(step) -> float:
    """The step as a float (accepts ints, NumPy scalars and 0-d arrays)."""
    return float(getattr(step, "data", step))


class LearningRateSchedule(ConfigurableObject):
    """Base class: ``schedule(step) -> learning rate`` (a Python float).

    Subclasses implement ``__call__(step)`` and ``get_config()``; ``from_config`` rebuilds them.
    """

    def __call__(self, step) -> float:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self) -> dict:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()`.")


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: positive number of steps over which the rate is multiplied by ``decay_rate``.
        decay_rate: the factor per ``decay_steps`` steps.
        staircase: use ``floor(step / decay_steps)``, so the rate changes in discrete jumps.
        name: optional name (Keras's default ``'ExponentialDecay'``).

    Example:
        >>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
        >>> schedule(0), schedule(9), schedule(10), schedule(25)
        (0.1, 0.1, 0.05, 0.025)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_number("decay_steps", decay_steps)
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")
        _check_number("decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step) -> float:
        progress = _step_value(step) / self.decay_steps
        if self.staircase:
            progress = math.floor(progress)
        return float(self.initial_learning_rate) * float(self.decay_rate) ** progress

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the initial rate (or ``warmup_target``) to ``alpha`` times it.

    Without warm-up: ``lr(step) = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)``
    with ``s = min(step, decay_steps)``. With ``warmup_target``, the rate first rises linearly
    from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` steps, then decays
    from ``warmup_target`` as above over ``decay_steps`` more steps (Keras 3's formula; with
    ``warmup_steps=0`` the decay simply starts from ``warmup_target``).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps to decay over.
        alpha: the final rate as a fraction of the rate decay starts from.
        name: optional name (Keras's default ``'CosineDecay'``).
        warmup_target: the rate reached at the end of warm-up; None for no warm-up.
        warmup_steps: the number of warm-up steps.

    Example:
        >>> schedule = CosineDecay(0.0, decay_steps=100, warmup_target=0.1, warmup_steps=10)
        >>> round(schedule(5), 6), schedule(10), schedule(110)
        (0.05, 0.1, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None, warmup_steps=0):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_number("decay_steps", decay_steps)
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")
        _check_number("alpha", alpha)
        if warmup_target is not None:
            _check_number("warmup_target", warmup_target)
        _check_number("warmup_steps", warmup_steps, minimum=0)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: float, decay_from: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step) -> float:
        step = _step_value(step)
        initial = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), initial)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return (float(self.warmup_target) - initial) * (step / self.warmup_steps) + initial
        return self._decay(step - self.warmup_steps, float(self.warmup_target))

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate on each interval between step boundaries.

    ``values[0]`` while ``step <= boundaries[0]``, ``values[1]`` while
    ``boundaries[0] < step <= boundaries[1]``, ..., ``values[-1]`` after ``boundaries[-1]``.

    Args:
        boundaries: strictly increasing step numbers.
        values: one more value than boundaries.
        name: optional name (Keras's default ``'PiecewiseConstant'``).

    Example:
        >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> schedule(100), schedule(101), schedule(201)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and values={values} "
                f"of length {len(values)}."
            )
        for boundary in boundaries:
            _check_number("boundaries", boundary)
        for value in values:
            _check_number("values", value)
        if any(later <= earlier for earlier, later in zip(boundaries, boundaries[1:])):
            raise ValueError(f"`boundaries` must be strictly increasing. Received: boundaries={boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step) -> float:
        step = _step_value(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, CosineDecay, PiecewiseConstantDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{'class_name': ..., 'config': ...}`` for a schedule (Keras's shape, JSON-able)."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"serialize expects a LearningRateSchedule. Received: {schedule!r}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """Rebuild a schedule from ``serialize``'s dict; only cnnkit's own schedule classes are known.

    Raises:
        ValueError: an unknown class name or a malformed config (nothing is imported).
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A schedule config is a dict with 'class_name' and 'config'. Received: {config!r}")
    class_name = config["class_name"]
    if class_name not in _SCHEDULES:
        raise ValueError(
            f"Unknown learning rate schedule: {class_name!r}. Known schedules: {sorted(_SCHEDULES)}."
        )
    arguments = config.get("config", {})
    if not isinstance(arguments, dict):
        raise ValueError(f"The 'config' of a schedule must be a dict. Received: {arguments!r}")
    return _SCHEDULES[class_name].from_config(dict(arguments))


def get(identifier):
    """A schedule from an instance or a ``serialize`` dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret learning rate schedule identifier: {identifier!r}")
