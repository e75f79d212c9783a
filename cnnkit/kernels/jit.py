"""Compiled loops: the few kernels NumPy measurably cannot run fast, compiled with numba on first use.

Most of cnnkit is NumPy: a convolution is a copy and one large matrix product, and NumPy runs
both at memory or BLAS speed. A few passes are neither: a depthwise convolution (a per-channel
multiply-add over every tap, with no product to hand to BLAS) and pooling over few channels (inner
runs of 6 floats, one thread). NumPy spends several passes over memory on them and runs them on one
core; a loop compiled by numba makes one pass, vectorised over channels (split by batch over
cnnkit's threads where the pass is large). Those kernels are written as plain Python loops
(readable as the definition of the operation) and decorated with ``compiled``. They are: depthwise
convolution (``kernels.depthwise``), average pooling over exactly tiling windows and its fused tanh
backward (``kernels.pool``) and the scatter of row-Toeplitz gradients (``kernels.conv``).

Compiled kernels run on one thread (``parallel=False``), on the calling thread, without the GIL
(``nogil=True``). numba's own thread pool measured unusable next to NumPy's BLAS on this 2-core
class of machine: a matrix product followed by a ``parallel=True`` pooling kernel took 7.9 ms
instead of 0.84 ms (numba's default OpenMP layer and OpenBLAS's worker threads each spin on the
cores the other needs). Where a pass is large enough to pay for threads, split it by batch chunks
over cnnkit's Python thread pool (``kernels.conv._batch_chunks`` and ``_run_chunks``): without the
GIL the chunks run in parallel, and those threads sleep instead of spinning when idle.

numba is imported only when the first compiled kernel runs: ``import cnnkit`` stays light, and
code that never pools or runs a depthwise convolution never pays numba's import (about 0.3 s).
Compiled machine code is cached next to the module (``cache=True``), so a kernel compiles once per
installation and argument types, not once per process.

Rules every compiled kernel here follows:
- the same numbers for any thread count: a kernel split over batch chunks writes output cells that
  no two chunks share, and any sum across chunks is formed in per-chunk buffers added in a fixed
  order;
- no ``fastmath`` assumptions about NaN or infinity (a NaN propagates as in NumPy and PyTorch);
- float32 in, float32 out (numba compiles one version per dtype; nothing is upcast).
"""
from __future__ import annotations

import functools
import threading

__all__ = ["compiled", "prange"]

_COMPILE_LOCK = threading.RLock()


def _numba():
    import numba

    return numba


# Marks a loop whose iterations are independent (numba's name for such a loop). It is Python's own
# ``range``, so compiled code and plain Python read it the same way: the kernels here run their
# iterations in order on one thread (see the module note).
prange = range


def compiled(function):
    """Decorator: compile ``function`` with ``numba.njit(cache=True, nogil=True)`` on its first call.

    The decorated name stays a plain callable; its ``python_function`` attribute is the
    undecorated Python, for reading and for tests.

    Example:
        >>> import numpy as np
        >>> @compiled
        ... def double(x, out):
        ...     for i in prange(x.shape[0]):
        ...         out[i] = 2 * x[i]
        >>> out = np.empty(3, np.float32)
        >>> double(np.arange(3, dtype=np.float32), out)
        >>> out
        array([0., 2., 4.], dtype=float32)
    """
    state = {}

    def dispatcher():
        """The numba-compiled function (compiled lazily, per argument types, on its first call)."""
        with _COMPILE_LOCK:  # the first calls may come from several threads at once: compile once
            if "kernel" not in state:
                numba = _numba()
                python = _with_compiled_helpers(function)
                try:
                    state["kernel"] = numba.njit(cache=True, nogil=True)(python)
                except RuntimeError:  # no writable cache folder anywhere (read-only install, no home):
                    state["kernel"] = numba.njit(nogil=True)(python)  # compile in every process instead
        return state["kernel"]

    @functools.wraps(function)
    def run(*arguments):
        kernel = state.get("kernel") or dispatcher()
        return kernel(*arguments)

    run.python_function = function
    run.dispatcher = dispatcher
    return run


def _with_compiled_helpers(function):
    """``function`` over a copy of its globals in which every other ``compiled`` function it calls
    is that function's numba version (the module's own names stay the Python ones)."""
    import types

    namespace = dict(function.__globals__)
    for name in function.__code__.co_names:
        helper = namespace.get(name)
        if callable(getattr(helper, "dispatcher", None)) and hasattr(helper, "python_function"):
            namespace[name] = helper.dispatcher()
    return types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__, function.__closure__)
