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


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT_MEMORY = [False]


def keep_freed_memory() -> bool:
    """Ask the C allocator to keep freed memory for reuse instead of handing it back to the system.

    Why: by default glibc returns a freed array of more than a few MB to the system (and trims the
    heap top), so the next array of that size is fresh memory, and every page of it costs a page
    fault (the kernel zeroes it) on first touch. A network allocates and frees its activations
    every step, so that cost recurs. Measured (2 threads, N=32, 28x28, 128 channels): a depthwise
    convolution followed by a 1x1 convolution, 9.7 -> 5.9 ms; a VGG-like PyTorch convolution
    forward+backward 88.8 -> 72.4 ms (PyTorch gains the same way in the same process).

    Trade-off: the process's resident memory stays near its peak instead of shrinking after large
    arrays are freed; arrays over 256 MiB still go straight back to the system. Process-wide and
    one-way (glibc's adaptive thresholds cannot be restored). ``cnnkit train`` and ``cnnkit bench``
    call it; call it yourself in a training script to get the same effect.

    Returns:
        True when the setting took effect (Linux with glibc), False elsewhere (nothing changed).

    Example:
        >>> import cnnkit
        >>> cnnkit.backend.keep_freed_memory() in (True, False)
        True
    """
    import ctypes
    import sys

    if _KEPT_MEMORY[0]:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): leave the allocator alone
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    kept = bool(mallopt(_M_MMAP_THRESHOLD, 256 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    _KEPT_MEMORY[0] = kept
    return kept

