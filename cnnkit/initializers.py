"""Weight initializers with Keras 3's names, arguments, fan rules and formulas.

An initializer is a callable object ``initializer(shape, dtype=None) -> np.ndarray`` with a
``get_config()``. ``get(identifier)`` resolves what a layer's ``kernel_initializer=`` receives: a
name (``'glorot_uniform'`` or ``'GlorotUniform'``), a config dict
(``{'class_name': 'HeNormal', 'config': {'seed': 1}}``), an instance, a class, or a plain callable.
Only the classes in this module can be named, so a config never imports or runs anything else.

Fans (``compute_fans``) follow Keras: for a kernel of shape ``(*kernel_size, in_channels,
filters)`` the receptive field ``prod(kernel_size)`` multiplies both, so a 5x5 kernel from 6 to
16 channels has fan_in = 150 and fan_out = 400. ``VarianceScaling`` draws with variance
``scale / fan`` (fan_in, fan_out or their mean); its truncated normal cuts at two standard
deviations and divides the standard deviation by 0.87962566103423978 (the standard deviation
of a unit normal truncated to [-2, 2]) so that the variance is still ``scale / fan``.

Randomness: with ``seed=None`` an initializer draws from cnnkit's shared generator
(``cnnkit.random.set_seed`` makes it reproducible); with an int seed every call returns the same
values.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import random as cnnkit_random
from .backend import floatx
from .serialization import (
    ConfigurableObject,
    deserialize_builtin,
    resolve_identifier,
    serialize_builtin,
    snake_case,
)

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "Identity",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Orthogonal",
    "OrthogonalInitializer",
    "compute_fans",
    "get",
    "serialize",
    "deserialize",
]

TRUNCATED_NORMAL_STDDEV = 0.87962566103423978
"""Standard deviation of a unit normal truncated to [-2, 2] (Keras's correction constant)."""


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, Keras's rule.

    Scalars count 1, vectors their length, matrices ``(rows, columns)``; a kernel of shape
    ``(*kernel_size, in_channels, filters)`` has ``fan_in = prod(kernel_size) * in_channels`` and
    ``fan_out = prod(kernel_size) * filters``.

    Example:
        >>> compute_fans((5, 5, 6, 16))
        (150, 400)
    """
    shape = tuple(int(size) for size in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _check_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int or None. Received: seed={seed!r}")
    return int(seed)


def _check_number(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")
    return float(value)


def _resolve_dtype(dtype):
    return np.dtype(floatx() if dtype is None else dtype)


class Initializer(ConfigurableObject):
    """Base class: ``initializer(shape, dtype=None)`` returns an array of that shape."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError


class RandomInitializer(Initializer):
    """An initializer that draws random numbers: the shared generator, or its own seed."""

    def __init__(self, seed=None):
        self.seed = _check_seed(seed)

    def _generator(self) -> np.random.Generator:
        if self.seed is None:
            return cnnkit_random.get_rng()
        return np.random.default_rng(self.seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class Zeros(Initializer):
    """All zeros.

    Example:
        >>> Zeros()((2,)).tolist()
        [0.0, 0.0]
    """

    def __call__(self, shape, dtype=None):
        return np.zeros(tuple(shape), dtype=_resolve_dtype(dtype))


class Ones(Initializer):
    """All ones.

    Example:
        >>> Ones()((2,)).tolist()
        [1.0, 1.0]
    """

    def __call__(self, shape, dtype=None):
        return np.ones(tuple(shape), dtype=_resolve_dtype(dtype))


class Constant(Initializer):
    """Every entry equal to ``value`` (default 0.0).

    Example:
        >>> Constant(0.5)((2,)).tolist()
        [0.5, 0.5]
    """

    def __init__(self, value=0.0):
        self.value = _check_number(value, "value")

    def __call__(self, shape, dtype=None):
        return np.full(tuple(shape), self.value, dtype=_resolve_dtype(dtype))

    def get_config(self) -> dict:
        return {"value": self.value}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only).

    Example:
        >>> Identity()((2, 2)).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, gain=1.0):
        self.gain = _check_number(gain, "gain")

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(
                f"Identity initializer needs a 2-D shape (rows, columns). Received: shape={shape} of rank {len(shape)}."
            )
        return (self.gain * np.eye(*shape)).astype(_resolve_dtype(dtype))

    def get_config(self) -> dict:
        return {"gain": self.gain}


class RandomNormal(RandomInitializer):
    """Normal draws with ``mean`` (default 0.0) and ``stddev`` (default 0.05).

    Example:
        >>> RandomNormal(seed=0)((3, 4)).shape
        (3, 4)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number(mean, "mean")
        self.stddev = _check_number(stddev, "stddev")
        if self.stddev < 0:
            raise ValueError(f"`stddev` must be non-negative. Received: stddev={stddev!r}")
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        values = self._generator().normal(self.mean, self.stddev, size=tuple(shape))
        return values.astype(_resolve_dtype(dtype))

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(RandomInitializer):
    """Uniform draws in ``[minval, maxval)`` (default [-0.05, 0.05)).

    Example:
        >>> values = RandomUniform(seed=0)((100,))
        >>> bool(values.min() >= -0.05 and values.max() < 0.05)
        True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _check_number(minval, "minval")
        self.maxval = _check_number(maxval, "maxval")
        if self.maxval < self.minval:
            raise ValueError(
                f"`maxval` must not be below `minval`. Received: minval={minval!r}, maxval={maxval!r}"
            )
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        values = self._generator().uniform(self.minval, self.maxval, size=tuple(shape))
        return values.astype(_resolve_dtype(dtype))

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(generator: np.random.Generator, shape, mean: float, stddev: float) -> np.ndarray:
    """Normal draws, each one outside ``mean +- 2 stddev`` drawn again until it lies inside."""
    shape = tuple(shape)
    values = generator.standard_normal(size=shape)
    outside = np.abs(values) > 2.0
    while outside.any():  # each round redraws the ~4.6% of values left outside: a few rounds
        values[outside] = generator.standard_normal(size=int(outside.sum()))
        outside = np.abs(values) > 2.0
    return mean + stddev * values


class TruncatedNormal(RandomInitializer):
    """Normal draws with ``mean`` and ``stddev`` (defaults 0.0, 0.05), redrawn beyond two stddevs.

    Example:
        >>> values = TruncatedNormal(seed=0)((1000,))
        >>> bool(abs(values).max() <= 0.1)
        True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number(mean, "mean")
        self.stddev = _check_number(stddev, "stddev")
        if self.stddev < 0:
            raise ValueError(f"`stddev` must be non-negative. Received: stddev={stddev!r}")
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        values = _truncated_normal(self._generator(), shape, self.mean, self.stddev)
        return values.astype(_resolve_dtype(dtype))

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(RandomInitializer):
    """Draws with variance ``scale / fan``: the family behind Glorot, He and LeCun.

    Args:
        scale: positive factor (default 1.0).
        mode: ``'fan_in'`` (default), ``'fan_out'`` or ``'fan_avg'`` (their mean); fans from
            ``compute_fans``.
        distribution: ``'truncated_normal'`` (default; ``'normal'`` means the same, as in Keras):
            stddev ``sqrt(scale / fan) / 0.87962566103423978``, cut at two stddevs;
            ``'untruncated_normal'``: stddev ``sqrt(scale / fan)``;
            ``'uniform'``: in ``[-limit, limit]`` with ``limit = sqrt(3 * scale / fan)``.
        seed: int for repeatable values, or None for the shared generator.

    Example:
        >>> values = VarianceScaling(scale=2.0, distribution="uniform", seed=0)((3, 3, 4, 8))
        >>> bool(abs(values).max() <= math.sqrt(3 * 2.0 / 36))
        True
    """

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        scale = _check_number(scale, "scale")
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in self.MODES:
            raise ValueError(f"Invalid `mode` argument: expected one of {self.MODES}. Received: mode={mode!r}")
        if not isinstance(distribution, str):
            raise ValueError(
                f"Invalid `distribution` argument: expected one of {self.DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: expected one of {self.DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        super().__init__(seed)

    def variance(self, shape) -> float:
        """The target variance ``scale / fan`` for a weight of ``shape``."""
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, fan)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        variance = self.variance(shape)
        generator = self._generator()
        if self.distribution == "truncated_normal":
            values = _truncated_normal(generator, shape, 0.0, math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV)
        elif self.distribution == "untruncated_normal":
            values = generator.normal(0.0, math.sqrt(variance), size=shape)
        else:
            limit = math.sqrt(3.0 * variance)
            values = generator.uniform(-limit, limit, size=shape)
        return values.astype(_resolve_dtype(dtype))

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


class _FixedVarianceScaling(VarianceScaling):
    """A named VarianceScaling setting whose config holds only the seed."""

    SCALE, MODE, DISTRIBUTION = 1.0, "fan_in", "truncated_normal"

    def __init__(self, seed=None):
        super().__init__(scale=self.SCALE, mode=self.MODE, distribution=self.DISTRIBUTION, seed=seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: ``U[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    Keras's default kernel initializer.

    Example:
        >>> GlorotUniform(seed=0)((5, 5, 1, 6)).shape
        (5, 5, 1, 6)
    """

    SCALE, MODE, DISTRIBUTION = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with variance ``2 / (fan_in + fan_out)``.

    Example:
        >>> GlorotNormal(seed=0)((4, 3)).shape
        (4, 3)
    """

    SCALE, MODE, DISTRIBUTION = 1.0, "fan_avg", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """He uniform: ``U[-limit, limit]``, ``limit = sqrt(6 / fan_in)``.

    Example:
        >>> HeUniform(seed=0)((4, 3)).shape
        (4, 3)
    """

    SCALE, MODE, DISTRIBUTION = 2.0, "fan_in", "uniform"


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal with variance ``2 / fan_in``.

    Example:
        >>> HeNormal(seed=0)((4, 3)).shape
        (4, 3)
    """

    SCALE, MODE, DISTRIBUTION = 2.0, "fan_in", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: ``U[-limit, limit]``, ``limit = sqrt(3 / fan_in)``.

    Example:
        >>> LecunUniform(seed=0)((4, 3)).shape
        (4, 3)
    """

    SCALE, MODE, DISTRIBUTION = 1.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal with variance ``1 / fan_in``.

    Example:
        >>> LecunNormal(seed=0)((4, 3)).shape
        (4, 3)
    """

    SCALE, MODE, DISTRIBUTION = 1.0, "fan_in", "truncated_normal"


class Orthogonal(RandomInitializer):
    """An orthogonal matrix (times ``gain``) from the QR decomposition of normal draws.

    The shape is viewed as a matrix ``(prod(shape[:-1]), shape[-1])``; with fewer rows than
    columns the rows are orthonormal, otherwise the columns. Signs follow ``diag(R)`` so the
    result is uniformly distributed over orthogonal matrices (Keras's rule).

    Example:
        >>> q = Orthogonal(seed=0)((4, 4))
        >>> bool(np.allclose(q.T @ q, np.eye(4), atol=1e-5))
        True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = _check_number(gain, "gain")
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(size) for size in shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        rows = int(np.prod(shape[:-1]))
        columns = shape[-1]
        matrix = self._generator().standard_normal(size=(max(rows, columns), min(rows, columns)))
        q, r = np.linalg.qr(matrix)
        q = q * np.sign(np.diag(r))
        if rows < columns:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(_resolve_dtype(dtype))

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed}


OrthogonalInitializer = Orthogonal


_CLASSES = (
    Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal,
)
REGISTRY: dict = {cls.__name__: cls for cls in _CLASSES}
REGISTRY.update({snake_case(cls.__name__): cls for cls in _CLASSES})
REGISTRY.update(
    {
        "OrthogonalInitializer": Orthogonal,
        "orthogonal_initializer": Orthogonal,
        "uniform": RandomUniform,
        "normal": RandomNormal,
        "one": Ones,
        "zero": Zeros,
    }
)


def serialize(initializer) -> dict:
    """Keras 3's config dict of an initializer of this module:
    ``{'module': 'keras.initializers', 'class_name': ..., 'config': {...}, 'registered_name': None}``
    (``get``/``deserialize`` accept it, and the short ``{'class_name', 'config'}`` form)."""
    return serialize_builtin(initializer, Initializer, "initializer", "keras.initializers")


def deserialize(config: dict) -> Initializer:
    """The initializer described by ``{'class_name': ..., 'config': {...}}`` (known names only)."""
    snake_case_names = sorted(name for name in REGISTRY if name[0].islower())
    return deserialize_builtin(config, REGISTRY, "initializer", known_names=snake_case_names)


def get(identifier):
    """Resolve an initializer identifier (Keras's ``initializers.get``).

    Args:
        identifier: None, a name (``'he_normal'``, ``'HeNormal'``), a config dict, an
            Initializer class or instance, or any callable ``f(shape, dtype=None)``.

    Returns:
        An initializer (None for None).

    Raises:
        ValueError: an unknown name or a value that cannot be an initializer.

    Example:
        >>> get("glorot_uniform")
        GlorotUniform(seed=None)
    """
    return resolve_identifier(identifier, Initializer, "initializer", deserialize)
