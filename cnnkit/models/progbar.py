"""Keras's progress bar: ``63/63 ━━━━━━━━━━━━━━━━━━━━ 2s 31ms/step - accuracy: 0.9123 - loss: 0.3011``.

This module owns how training progress is written: the step counter, a 20-character bar, the
time left (ETA) while running and the total time once finished, the mean time per step (the
first step, which includes warm-up, is left out as Keras does), then every logged value in the
order first seen (4 decimals, or scientific notation below 1e-3).

- ``verbose=1``: on a terminal the line is redrawn in place (``\\r``) at most every 0.05 s, with
  Keras's colours; when the output is not a terminal (a file, a pipe, CI) only the finished line
  is written, without control characters, so logs stay readable.
- ``verbose=2``: one plain line per epoch: ``63/63 - 2s - 31ms/step - accuracy: ... - loss: ...``.
- ``verbose=0``: nothing.

Example:
    >>> import io
    >>> stream = io.StringIO()
    >>> bar = Progbar(2, stream=stream)
    >>> bar.update(1, [("loss", 0.5)])
    >>> bar.update(2, [("loss", 0.25)])
    >>> print(stream.getvalue().split(" - ")[-1].strip())
    loss: 0.2500
"""
from __future__ import annotations

import math
import sys
import time

__all__ = ["Progbar", "format_duration", "format_value"]

_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def format_value(value) -> str:
    """A logged number as Keras prints it: 4 decimals, or scientific notation when tiny."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return f" {value}"
    return f" {value:.4f}" if abs(value) > 1e-3 else f" {value:.4e}"


def format_duration(seconds: float, unit_name: str = "step") -> str:
    """``' 31ms/step'``, ``' 2s/step'`` or ``' 850us/step'``."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds: float) -> str:
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


class Progbar:
    """A progress bar over ``target`` steps.

    Args:
        target: the number of steps, or None if unknown.
        width: the bar's width in characters (20, as Keras).
        verbose: 0 silent, 1 bar, 2 one line when finished.
        interval: the smallest time between two redraws, in seconds.
        unit_name: the unit in the time per unit (``'step'``).
        stream: where to write (default ``sys.stdout`` at each write).
        dynamic: redraw in place with colours; default: whether ``stream`` is a terminal.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step", stream=None, dynamic=None):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self._stream = stream
        self._dynamic = dynamic
        self._values = {}
        self._start = time.perf_counter()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._previous_width = 0
        self._seen = 0

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    @property
    def dynamic(self) -> bool:
        if self._dynamic is not None:
            return self._dynamic
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def _time_per_step(self, current: int, now: float) -> float:
        """Mean seconds per step, leaving out the first step once there are more."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step

    def update(self, current: int, values=None, finalize=None) -> None:
        """Show step ``current`` with ``values``, a list of ``(name, value)`` (shown as given).

        Args:
            current: the number of steps done.
            values: the latest logged values (running means already, as in Keras 3's logs).
            finalize: whether this is the last update (default: ``current >= target``).
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            self._values[name] = value
        now = time.perf_counter()
        per_step = self._time_per_step(current, now)
        self._seen = current
        if self.verbose == 1:
            dynamic = self.dynamic
            if not finalize and (not dynamic or now - self._last_update < self.interval):
                return
            self._write_bar(current, now, per_step, finalize, dynamic)
            self._last_update = now
        elif self.verbose == 2 and finalize:
            count = self._counter(current)
            line = f"{count} - {now - self._start:.0f}s -{format_duration(per_step, self.unit_name)}"
            line += self._values_text()
            self.stream.write(line + "\n")
            self.stream.flush()

    def add(self, steps: int, values=None) -> None:
        """Advance by ``steps``."""
        self.update(self._seen + steps, values)

    def _counter(self, current: int) -> str:
        if self.target is None or self.target <= 0:
            return "%7d/Unknown" % current
        digits = int(math.log10(self.target)) + 1
        return f"%{digits}d/%d" % (current, self.target)

    def _values_text(self) -> str:
        return "".join(f" - {name}:{format_value(value)}" for name, value in self._values.items())

    def _write_bar(self, current, now, per_step, finalize, dynamic) -> None:
        counter = self._counter(current)
        if self.target is not None and self.target > 0:
            done = int(self.width * min(current / self.target, 1.0))
            filled, empty = "━" * done, "━" * (self.width - done)
            if dynamic:
                bar = f"{_BOLD}{counter}{_RESET} {_GREEN}{filled}{_RESET}{_GREY}{empty}{_RESET}" if done else \
                    f"{_BOLD}{counter}{_RESET} {_GREY}{empty}{_RESET}"
            else:
                bar = f"{counter} {filled}{empty}"
            plain_bar = f"{counter} {filled}{empty}"
        else:
            bar = plain_bar = counter
        if self.target is not None and self.target > 0 and not finalize:
            timing = _format_eta(per_step * (self.target - current))
        else:
            timing = f"{now - self._start:.0f}s"
        info = f" {_BOLD}{timing}{_RESET}" if dynamic else f" {timing}"
        plain_info = f" {timing}"
        tail = format_duration(per_step, self.unit_name) + self._values_text()
        info += tail
        plain_info += tail
        width = len(plain_bar) + len(plain_info)
        message = ("\r" if dynamic else "") + bar + info
        if dynamic and self._previous_width > width:
            message += " " * (self._previous_width - width)
        if finalize:
            message += "\n"
        self.stream.write(message)
        self.stream.flush()
        self._previous_width = width
