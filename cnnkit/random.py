"""One source of randomness for initialisation, shuffling, dropout and augmentation.

``set_seed(seed)`` makes a whole run reproducible; ``get_state``/``set_state`` let a resumed
training run continue with exactly the random numbers an uninterrupted one would have drawn.
"""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def set_seed(seed: int) -> None:
    """Seed cnnkit's generator (and NumPy's legacy global one, for user code that uses it)."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int. Received: seed={seed!r}")
    _generator = np.random.default_rng(int(seed))
    np.random.seed(int(seed) % 2**32)


def get_rng() -> np.random.Generator:
    """The shared ``numpy.random.Generator`` every random cnnkit operation draws from."""
    return _generator


def get_state() -> dict:
    """The generator's state as a JSON-serialisable dict."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state returned by ``get_state``."""
    _generator.bit_generator.state = state
