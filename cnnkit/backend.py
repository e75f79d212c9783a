"""The array module, the default float type and the thread count.

Every kernel asks ``get_array_module(array)`` for its array module instead of importing NumPy
directly, so the same kernels run on CuPy arrays when a user passes them. There is no global
backend switch: the data decides.

The default float type is float32 (``floatx()``), as in Keras; float64 is used for gradient checks.
"""
from __future__ import annotations

import contextlib

import numpy as np

_FLOATX = "float32"


def get_array_module(*arrays):
    """Return the array module (``numpy`` or ``cupy``) that owns ``arrays``.

    Falls back to NumPy for anything that is not a CuPy array (lists, scalars, NumPy arrays).
    """
    for array in arrays:
        module_name = type(array).__module__
        if module_name.startswith("cupy"):
            import cupy  # only imported when a CuPy array is really present

            return cupy
    return np


def floatx() -> str:
    """The default float dtype name for new parameters and converted data (``'float32'``)."""
    return _FLOATX


def set_floatx(dtype: str) -> None:
    """Set the default float dtype: ``'float16'``, ``'float32'`` or ``'float64'``."""
    global _FLOATX
    if dtype not in ("float16", "float32", "float64"):
        raise ValueError(
            f"set_floatx expects 'float16', 'float32' or 'float64'; received dtype={dtype!r}."
        )
    _FLOATX = dtype


def set_num_threads(num_threads: int) -> None:
    """Limit the BLAS and OpenMP threads NumPy uses, and the threads cnnkit's own kernels split
    their work over (for all later work in this process).

    Args:
        num_threads: a positive number of threads.

    Example:
        >>> import cnnkit
        >>> cnnkit.set_num_threads(1)
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise TypeError(f"set_num_threads expects an int; received num_threads={num_threads!r}.")
    if num_threads < 1:
        raise ValueError(f"set_num_threads expects a positive int; received num_threads={num_threads}.")
    from threadpoolctl import threadpool_limits

    global _THREAD_LIMITER
    _THREAD_LIMITER = threadpool_limits(limits=int(num_threads))
    import sys

    conv_kernels = sys.modules.get("cnnkit.kernels.conv")
    if conv_kernels is not None:  # its cached thread count (read by the threaded kernels) is stale now
        conv_kernels._THREAD_COUNT[0] = None


_THREAD_LIMITER = None


@contextlib.contextmanager
def single_threaded():
    """Run the block with one BLAS thread (and one thread for cnnkit's own kernels), then restore
    the previous count. For work that is itself spread over threads (``Model.predict`` runs
    batches side by side): each thread then runs its products alone instead of every product
    waking a second BLAS pool on cores that are already busy.

    Yields:
        The thread count in force before the block.

    Example:
        >>> import cnnkit
        >>> with cnnkit.backend.single_threaded() as before:
        ...     cnnkit.backend.get_num_threads()
        1
    """
    before = get_num_threads()
    set_num_threads(1)
    try:
        yield before
    finally:
        set_num_threads(before)


def get_num_threads() -> int:
    """The number of BLAS threads NumPy currently uses (the largest over its BLAS libraries).

    Only BLAS pools count: an OpenMP runtime loaded after ``set_num_threads`` (by another library)
    starts with one thread per core and would otherwise report a count nobody asked for.
    """
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    blas = [pool["num_threads"] for pool in pools if pool.get("user_api") == "blas"]
    return max(blas or [pool["num_threads"] for pool in pools] or [1])
