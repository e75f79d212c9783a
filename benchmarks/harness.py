"""Timing machinery: alternation, warm-up, medians, thread settings, the GEMM peak, disturbance flags.

How a comparison is timed (``compare``):

1. Both sides run ``warmup`` times (once when a call lasts over ``LONG_CALL_SECONDS``), so that
   caches, code pages, thread pools and lazily built buffers are in place before anything is
   measured.
2. Each side gets an inner loop count so that one sample lasts at least ``min_sample_seconds``
   (tiny calls are otherwise at the mercy of the timer and of single scheduler ticks).
3. ``repeats`` pairs of samples follow, cnnkit and PyTorch alternately; the side that goes first
   alternates too, so that neither always inherits the other's cache state. The reported time of a
   side is the median of its samples (time per call).
4. Whenever the side changes, the main thread first waits until the other library's worker
   threads stop spinning (``settle``): left alone they hold a core for up to ~0.1 s and slowed the
   next side's call by up to 2x in measurements here.

Every sample also records how busy the process was: the main thread's CPU time over the wall
time, or the whole process's CPU time over ``wall * threads``, whichever is larger. A process that
is not disturbed keeps its main thread running all the time (Python, BLAS and OpenMP threads spin
while they wait), so the ratio is close to 1; when other processes take the cores it drops
(measured on this 2-core machine: one competing busy loop drops it to about 0.33 and slows a
2-thread convolution 4-8x). That, the spread between repeats and the load average are the three
disturbance flags (``disturbance_flags``).

Everything here is plain Python and NumPy; PyTorch is used only when it is already imported.
"""
from __future__ import annotations

import gc
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SPREAD_LIMIT",
    "BUSY_LIMIT",
    "LOAD_MARGIN",
    "SideTiming",
    "Comparison",
    "median",
    "relative_spread",
    "busy_ratio",
    "disturbance_flags",
    "conv_flops",
    "gflops",
    "target_status",
    "compare",
    "settle",
    "ThreadSettings",
    "blas_report",
    "openblas_environment",
    "measure_gemm_peak",
]

# A side whose slowest sample is more than 25% of its median away from its fastest is "spread".
SPREAD_LIMIT = 0.25
# A side whose median busy ratio is below 0.9 lost the CPU to someone else for >10% of the time.
BUSY_LIMIT = 0.90
# Our own process accounts for up to `threads` runnable threads in the load average.
LOAD_MARGIN = 0.5
# A call longer than this (a training epoch) needs only one warm-up call.
LONG_CALL_SECONDS = 0.5
# Settling between the sides (``settle``): sleep slices and the most to wait.
SETTLE_STEP_SECONDS = 0.01
SETTLE_LIMIT_SECONDS = 0.5


# ----- statistics (pure functions, tested on synthetic timings) ------------------------------------
def median(values) -> float:
    """The median of a non-empty sequence of numbers."""
    values = list(values)
    if not values:
        raise ValueError("median needs at least one value; received an empty sequence.")
    return float(statistics.median(values))


def relative_spread(values) -> float:
    """(slowest - fastest) / median: 0 for identical samples, 0.5 when they differ by half the median."""
    values = list(values)
    middle = median(values)
    if middle <= 0:
        return 0.0
    return (max(values) - min(values)) / middle


def busy_ratio(wall_seconds: float, main_thread_cpu: float, process_cpu: float, threads: int) -> float:
    """How much of a sample the process really ran: max(main-thread CPU / wall, CPU / (wall * threads)).

    About 1 when nothing else competed for the cores; lower when other processes took them.
    The second term covers work spread over several Python threads, where the main thread may
    sleep in a join while the others compute.
    """
    if wall_seconds <= 0:
        return 1.0
    return max(main_thread_cpu / wall_seconds, process_cpu / (wall_seconds * max(threads, 1)))


def disturbance_flags(cnnkit_timing: "SideTiming", torch_timing: "SideTiming", load_average, threads: int,
                      spread_limit: float = SPREAD_LIMIT, busy_limit: float = BUSY_LIMIT,
                      load_margin: float = LOAD_MARGIN) -> list[str]:
    """The reasons to distrust a comparison, as short words (an empty list: nothing seen).

    - ``spread``: on either side, (slowest - fastest) / median of the samples exceeds ``spread_limit``.
    - ``busy``: on either side, the median busy ratio (``busy_ratio``) is below ``busy_limit``: the
      process waited for a core for more than 10% of the time.
    - ``load``: the largest 1-minute load average seen during the case exceeds ``threads +
      load_margin`` (this process itself accounts for up to ``threads``). The load average lags by
      about a minute, so this flag says "the machine was busy around then", not "this case was hit".
    """
    flags = []
    if max(cnnkit_timing.spread, torch_timing.spread) > spread_limit:
        flags.append("spread")
    if min(cnnkit_timing.median_busy, torch_timing.median_busy) < busy_limit:
        flags.append("busy")
    if load_average is not None and load_average > threads + load_margin:
        flags.append("load")
    return flags


def conv_flops(batch: int, output_spatial, kernel_spatial, in_channels: int, out_channels: int,
               groups: int = 1, passes: int = 1) -> int:
    """Multiply-add FLOPs of a convolution: 2 * N * out_pixels * k_pixels * Cin/groups * Cout * passes.

    ``passes`` is 1 for a forward pass, 3 for forward and backward with every gradient (input and
    kernel: each is one more product of the same size), 2 when the input needs no gradient.
    For a transposed convolution pass the *input* spatial size as ``output_spatial`` (it is the
    backward pass of a convolution whose output is the transposed convolution's input).
    """
    return int(2 * batch * math.prod(output_spatial) * math.prod(kernel_spatial)
               * (in_channels // groups) * out_channels * passes)


def gflops(flops, seconds: float):
    """FLOPs per second in units of 10^9, or None when either is unknown."""
    if flops is None or seconds is None or seconds <= 0:
        return None
    return flops / seconds / 1e9


def target_status(ratio, target) -> str:
    """'met' when ratio <= target, 'missed' when above, '-' when there is no target or no ratio."""
    if target is None or ratio is None or not math.isfinite(ratio):
        return "-"
    return "met" if ratio <= target else "missed"


# ----- timing ------------------------------------------------------------------------------------
@dataclass
class SideTiming:
    """The samples of one side: seconds per call and busy ratio of each sample."""

    seconds: list[float]
    busy: list[float]
    inner_loops: int = 1

    @property
    def median(self) -> float:
        return median(self.seconds)

    @property
    def spread(self) -> float:
        return relative_spread(self.seconds)

    @property
    def median_busy(self) -> float:
        return median(self.busy) if self.busy else 1.0

    def to_dict(self) -> dict:
        return {
            "median_s": self.median,
            "samples_s": list(self.seconds),
            "busy": [round(value, 3) for value in self.busy],
            "inner_loops": self.inner_loops,
            "relative_spread": self.spread,
        }


@dataclass
class Comparison:
    """One case's result: both sides' timings, the load averages seen and the flags raised."""

    cnnkit: SideTiming
    torch: SideTiming
    load_averages: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    settle_seconds: float = 0.0

    @property
    def ratio(self) -> float:
        return self.cnnkit.median / self.torch.median


def _load_average():
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):  # not on every platform
        return None


def _time_sample(function, inner_loops: int, threads: int) -> tuple[float, float]:
    """Run ``function`` ``inner_loops`` times; return (seconds per call, busy ratio)."""
    gc.collect()
    wall_start = time.perf_counter()
    thread_start = time.thread_time()
    process_start = time.process_time()
    for _ in range(inner_loops):
        function()
    wall = time.perf_counter() - wall_start
    thread_cpu = time.thread_time() - thread_start
    process_cpu = time.process_time() - process_start
    return wall / inner_loops, busy_ratio(wall, thread_cpu, process_cpu, threads)


def _inner_loops_for(seconds_per_call: float, min_sample_seconds: float, max_inner_loops: int = 1000) -> int:
    if seconds_per_call <= 0:
        return max_inner_loops
    return int(min(max_inner_loops, max(1, math.ceil(min_sample_seconds / seconds_per_call))))


def settle(step: float = SETTLE_STEP_SECONDS, limit: float = SETTLE_LIMIT_SECONDS) -> float:
    """Sleep until this process's helper threads have stopped spinning; return the seconds waited.

    After a call, OpenBLAS's worker threads spin for about 0.1 s and PyTorch's OpenMP threads for
    some tens of ms before they sleep. Measured here: a PyTorch convolution started right after a
    NumPy product ran up to 2x slower (the spinning thread held one of the two cores), and NumPy
    after PyTorch about 1.5x slower. So before a sample of one side that follows a sample of the
    other, the main thread sleeps in ``step`` slices until a slice passes in which the whole process
    used under 10% of it in CPU time (nobody spinning any more), at most ``limit`` seconds.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        cpu_before = time.process_time()
        time.sleep(step)
        if time.process_time() - cpu_before < 0.1 * step:
            break
    return time.perf_counter() - start


def compare(cnnkit_function, torch_function, *, repeats: int = 5, warmup: int = 1,
            min_sample_seconds: float = 0.05, threads: int = 2) -> Comparison:
    """Time two zero-argument callables alternately; see the module docstring for the procedure.

    Args:
        cnnkit_function, torch_function: the work of one call on each side.
        repeats: samples per side (the median of them is reported); at least 1.
        warmup: untimed calls per side before calibration (the last one calibrates the inner loop);
            one only when a call lasts over ``LONG_CALL_SECONDS``.
        min_sample_seconds: each sample repeats its call until it lasts at least this long.
        threads: the thread count in force (for the busy ratio and the load flag).
    """
    if repeats < 1:
        raise ValueError(f"compare needs repeats >= 1; received repeats={repeats}.")
    functions = {"cnnkit": cnnkit_function, "torch": torch_function}
    settled = {"seconds": 0.0, "previous": None}

    def run(side, timed_inner_loops=None):
        if settled["previous"] not in (None, side):
            settled["seconds"] += settle()
        settled["previous"] = side
        if timed_inner_loops is None:
            start = time.perf_counter()
            functions[side]()
            return time.perf_counter() - start
        return _time_sample(functions[side], timed_inner_loops, threads)

    calibration = {}
    for side in ("cnnkit", "torch"):
        for _ in range(max(warmup, 1)):
            calibration[side] = run(side)
            if calibration[side] > LONG_CALL_SECONDS:  # a long call is warm after one run
                break
    inner = {side: _inner_loops_for(seconds, min_sample_seconds) for side, seconds in calibration.items()}
    seconds = {"cnnkit": [], "torch": []}
    busy = {"cnnkit": [], "torch": []}
    load_averages = [_load_average()]
    # Each sample starts with a garbage collection (no collection inside it). With PyTorch loaded
    # a full collection walks about a million objects (60 ms); frozen, the ones that exist now are
    # skipped and a collection costs well under a millisecond (a quick run: 58 -> ~40 s).
    gc.collect()
    gc.freeze()
    try:
        for repeat in range(repeats):
            order = ("cnnkit", "torch") if repeat % 2 == 0 else ("torch", "cnnkit")
            for side in order:
                per_call, busy_value = run(side, inner[side])
                seconds[side].append(per_call)
                busy[side].append(busy_value)
    finally:
        gc.unfreeze()
    load_averages.append(_load_average())
    comparison = Comparison(
        cnnkit=SideTiming(seconds["cnnkit"], busy["cnnkit"], inner["cnnkit"]),
        torch=SideTiming(seconds["torch"], busy["torch"], inner["torch"]),
        load_averages=load_averages,
        settle_seconds=settled["seconds"],
    )
    known_loads = [value for value in load_averages if value is not None]
    comparison.flags = disturbance_flags(comparison.cnnkit, comparison.torch,
                                         max(known_loads) if known_loads else None, threads)
    return comparison


# ----- the machine ---------------------------------------------------------------------------------
class ThreadSettings:
    """Context manager: the same thread count for NumPy's BLAS (and any OpenMP pool, via
    threadpoolctl) and for PyTorch (``torch.set_num_threads``), restored on exit.

    Import torch before entering, so that threadpoolctl also sees the OpenMP runtime torch loads.
    """

    def __init__(self, threads: int):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"ThreadSettings expects a positive int; received threads={threads!r}.")
        self.threads = threads
        self._limiter = None
        self._torch_previous = None

    def __enter__(self):
        from threadpoolctl import threadpool_limits

        self._limiter = threadpool_limits(limits=self.threads)
        torch = sys.modules.get("torch")
        if torch is not None:
            self._torch_previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc_info):
        torch = sys.modules.get("torch")
        if torch is not None and self._torch_previous is not None:
            torch.set_num_threads(self._torch_previous)
        if self._limiter is not None:
            self._limiter.restore_original_limits()
        return False


def blas_report() -> list[dict]:
    """The thread pools threadpoolctl sees: which BLAS kernel (internal_api, architecture, i.e. the
    OpenBLAS core type in use), its version and thread count, and any OpenMP runtime."""
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads")
    return [{key: pool.get(key) for key in keys if key in pool} for pool in threadpool_info()]


def openblas_environment() -> dict:
    """The OpenBLAS variables that change NumPy's speed, where set (empty dict: none set)."""
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    return {name: os.environ[name] for name in names if name in os.environ}


def measure_gemm_peak(size: int = 2048, repeats: int = 5, threads: int = 1) -> dict:
    """The practical float32 GEMM peak: the best of ``repeats`` NumPy products of two size x size
    float32 matrices, in GFLOP/s (2 * size^3 FLOPs each). Also the median, and the median busy
    ratio (``busy_ratio``) so that a peak measured while other processes ran can be flagged."""
    rng = np.random.default_rng(0)
    left = rng.standard_normal((size, size), dtype=np.float32)
    right = rng.standard_normal((size, size), dtype=np.float32)
    product = np.empty((size, size), dtype=np.float32)
    np.matmul(left, right, out=product)  # warm-up: thread pool and code pages
    rates, busy = [], []
    for _ in range(repeats):
        wall_start, thread_start, process_start = time.perf_counter(), time.thread_time(), time.process_time()
        np.matmul(left, right, out=product)
        wall = time.perf_counter() - wall_start
        rates.append(2.0 * size**3 / wall / 1e9)
        busy.append(busy_ratio(wall, time.thread_time() - thread_start, time.process_time() - process_start,
                               threads))
    return {"size": size, "repeats": repeats, "best_gflops": max(rates), "median_gflops": median(rates),
            "median_busy": median(busy), "disturbed": median(busy) < BUSY_LIMIT}
