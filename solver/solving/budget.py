"""A time limit handed out: the one clock and the one interrupt flag of a solve.

A :class:`Budget` starts when it is made (or at a given start) and ends ``seconds`` later. A solve in steps
takes parts of it (:meth:`Budget.part`: the first fraction of the whole; :meth:`Budget.within`: at most so many
seconds from now; :meth:`Budget.reserve`: all but a fraction kept for later steps), each a budget of its own
on the same clock that never ends after its parent. Ctrl-C anywhere in a step run by :meth:`Budget.guard`, or
in a CP-SAT solve (:mod:`solver.solving.cpsat`), marks the whole tree of budgets interrupted: the caller keeps
its best answer so far and stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def now() -> float:
    """The clock of every budget (seconds, monotonic)."""
    return time.monotonic()


class Budget:
    """``seconds`` from ``start`` (default: now); ``interrupted`` once Ctrl-C has stopped a step."""

    def __init__(self, seconds: float, start: float | None = None, parent: Budget | None = None):
        self.start = now() if start is None else start
        self.seconds = max(0.0, seconds)
        self.end = self.start + self.seconds
        self.parent = parent
        self._interrupted = False

    def elapsed(self) -> float:
        """Seconds since the start."""
        return now() - self.start

    def left(self) -> float:
        """Seconds until the end (negative once past it)."""
        return self.end - now()

    def passed(self) -> bool:
        return now() > self.end

    def part(self, fraction: float) -> Budget:
        """The first ``fraction`` of this budget, counted from its start."""
        return self._child(self.start + fraction * self.seconds)

    def within(self, seconds: float) -> Budget:
        """At most ``seconds`` from now (no later than this budget's end)."""
        t = now()
        return self._child(t + max(0.0, seconds), start=t)

    def reserve(self, fraction: float) -> Budget:
        """This budget less ``fraction`` of it kept at the end for later steps."""
        return self._child(self.end - fraction * self.seconds)

    def shorten(self, seconds: float) -> None:
        """End ``seconds`` earlier (time kept for work after the step, such as freeing a large model)."""
        self.end -= seconds
        self.seconds = max(0.0, self.seconds - seconds)

    def _child(self, end: float, start: float | None = None) -> Budget:
        """A budget from ``start`` (default: this one's) to ``end``, never past this one's end (a budget taken when
        this one has passed has passed too)."""
        child = Budget(0.0, self.start if start is None else start, parent=self)
        child.end = min(end, self.end)
        child.seconds = max(0.0, child.end - child.start)
        return child

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C has stopped a step of this budget or of any budget taken from the same one."""
        return self._root()._interrupted

    def interrupt(self) -> None:
        """Mark the whole solve interrupted: this budget, those it was taken from and those taken from them."""
        self._root()._interrupted = True

    def _root(self) -> Budget:
        budget = self
        while budget.parent is not None:
            budget = budget.parent
        return budget

    def guard(self, step: Callable, *args) -> object:
        """``step(*args)``; Ctrl-C during it (outside a CP-SAT solve, say while a model is built) interrupts the
        budget instead of ending the program, and the step's answer is then None."""
        try:
            return step(*args)
        except KeyboardInterrupt:
            self.interrupt()
            return None
