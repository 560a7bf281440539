"""Progress of long work, shown to a person: a live line on a terminal, plain lines in a log, nothing when quiet.

One object per task::

    with Progress("profiling", total=rounds, unit="rounds", quiet=args.quiet) as progress:
        for _ in range(rounds):
            ...
            progress.advance(status="last round 12.1 ms")

- On a terminal (``stream.isatty()``) it draws one live line with rich: what, a bar and ``done/total`` when the
  total is known, the rate and the estimated time left, and the latest status.
- Otherwise (a log, a pipe, CI) it prints plain lines (``[  12.3 s] what: 40/200 points, 3.2 points/s, ~50 s left;
  status``), at most one per ``every`` seconds, and one when the status changes, at most one per second.
- Nothing is shown before ``delay`` seconds have passed, so work that ends in under a second prints nothing; a
  task that did show something ends with one closing line.
- ``quiet=True`` shows nothing at all.

Updates may come from any thread (the CP-SAT solver calls back from its own). ``Progress.callback`` adapts it
to the ``on_progress(incumbent, bound, elapsed)`` callbacks of the exact solvers.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """A task's progress (see the module doc).

    ``total`` is the work to do (None: unknown, no bar nor estimate); ``unit`` names a step ("points", "rounds";
    ``"s"`` when the work is time itself, as for a solve bounded by a time limit: then no rate is shown and the
    estimate is the time left to the limit). ``clock`` is for tests.
    """

    def __init__(
        self,
        what: str,
        total: float | None = None,
        *,
        unit: str = "",
        quiet: bool = False,
        stream: TextIO | None = None,
        delay: float = 1.0,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.what, self.total, self.unit = what, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.delay, self.every, self.clock = delay, every, clock
        self.done = 0.0
        self.status = ""
        self.start = clock()
        self._mode = "quiet" if quiet else ("live" if _isatty(self.stream) else "plain")
        self._lock = threading.Lock()
        self._shown = False  # something was printed (or the live line is up)
        self._last_line = float("-inf")
        self._last_status = ""
        self._live = None  # the rich Progress, once started
        self._task = None
        self._closed = False

    # -- updates -------------------------------------------------------------------------------------------

    def advance(self, steps: float = 1, status: str | None = None) -> None:
        """``steps`` more units done; ``status`` replaces the status text when given."""
        self.update(done=self.done + steps, status=status)

    def update(self, *, done: float | None = None, total: float | None = None, status: str | None = None) -> None:
        """Set how much is done, the total and the status (each when given) and show them if it is time."""
        with self._lock:
            if self._closed:
                return
            if done is not None:
                self.done = done
            if total is not None:
                self.total = total
            if status is not None:
                self.status = status
            self._show()

    def callback(self, describe: Callable[[int, int], str]) -> Callable[[int, int, float], None]:
        """An ``on_progress(incumbent, bound, elapsed)`` callback that sets the status to ``describe(incumbent, bound)``.

        With ``unit="s"`` and the time limit as ``total``, the elapsed seconds are the work done: the solver's, or
        this task's when it began earlier (a time limit that covers the heuristics run before the solver).
        """

        def on_progress(incumbent: int, bound: int, elapsed: float) -> None:
            done = max(elapsed, self.elapsed) if self.unit == "s" else None
            self.update(done=done, status=describe(incumbent, bound))

        return on_progress

    def close(self, status: str | None = None) -> None:
        """End the task: the live line stays with its last state; in plain mode a closing line if any was shown."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if status is not None:
                self.status = status
            if self._live is not None:
                self._refresh_live()
                self._live.stop()
            elif self._mode == "plain" and self._shown:
                self._print_line(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- figures -------------------------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return self.clock() - self.start

    @property
    def rate(self) -> float | None:
        """Units per second so far (None for timed work or before any progress)."""
        elapsed = self.elapsed
        if self.unit == "s" or self.done <= 0 or elapsed <= 0:
            return None
        return self.done / elapsed

    @property
    def remaining(self) -> float | None:
        """Estimated seconds left: the rest of the work at the rate so far (None without a total or a rate)."""
        if self.total is None:
            return None
        if self.unit == "s":
            return max(0.0, self.total - self.done)
        rate = self.rate
        return max(0.0, self.total - self.done) / rate if rate else None

    def line(self, final: bool = False) -> str:
        """The plain line: ``[  12.3 s] what: done/total unit, rate, ~time left; status`` (``what: done, ...`` at the end)."""
        parts = ["done"] if final else []
        if self.unit != "s":
            amount = f"{_number(self.done)}/{_number(self.total)}" if self.total is not None else _number(self.done)
            parts.append(f"{amount} {self.unit}".rstrip())
            if self.rate is not None:
                parts.append(f"{self.rate:.3g} {self.unit or 'steps'}/s")
        remaining = self.remaining
        if remaining is not None and not final:
            parts.append(f"at most {_duration(remaining)} left (time limit)" if self.unit == "s"
                         else f"~{_duration(remaining)} left")  # fmt: skip
        text = f"[{self.elapsed:7.1f} s] {self.what}: " + ", ".join(parts)
        return f"{text}; {self.status}" if self.status else text

    # -- drawing -------------------------------------------------------------------------------------------

    def _show(self) -> None:
        if self._mode == "quiet":
            return
        now = self.clock()
        if now - self.start < self.delay:
            return
        if self._mode == "live":
            if self._live is None:
                self._start_live()
            self._refresh_live()
            return
        changed = self.status != self._last_status and now - self._last_line >= 1.0
        if changed or now - self._last_line >= self.every:
            self._print_line()

    def _print_line(self, final: bool = False) -> None:
        print(self.line(final), file=self.stream, flush=True)
        self._shown = True
        self._last_line = self.clock()
        self._last_status = self.status

    def _start_live(self) -> None:
        # rich is imported only when a live line is drawn (it costs a tenth of a second to import).
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        columns = [TextColumn("[bold]{task.description}")]
        if self.total is not None:
            columns.append(BarColumn(bar_width=24))
        if self.unit != "s" and self.total is not None:
            columns.append(MofNCompleteColumn())
        columns += [TextColumn("{task.fields[figures]}"), TimeElapsedColumn(), TextColumn("{task.fields[status]}")]
        console = Console(file=self.stream, force_terminal=True)
        self._live = RichProgress(*columns, console=console, refresh_per_second=4, redirect_stdout=False,
                                  redirect_stderr=False)  # fmt: skip
        self._task = self._live.add_task(self.what, total=self.total, figures="", status="")
        self._live.start()
        self._shown = True

    def _refresh_live(self) -> None:
        figures = []
        if self.rate is not None:
            figures.append(f"{self.rate:.3g} {self.unit or 'steps'}/s")
        if self.remaining is not None:
            figures.append(f"~{_duration(self.remaining)} left")
        self._live.update(self._task, completed=self.done, total=self.total, figures=", ".join(figures),
                          status=self.status)  # fmt: skip


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _number(x: float | None) -> str:
    return "?" if x is None else (f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}")


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 04 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
