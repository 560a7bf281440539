"""The options of an exact solve, shared by the settings of every problem, and their checks.

Light on purpose (no solver, numpy or networkx import): the commands build their parsers from the settings at
start-up. A problem's settings class inherits :class:`ExactOptions` (its fields are keyword-only, so the
problem's own fields keep their positions) and calls :meth:`ExactOptions.check_exact` in its ``__post_init__``
where its checks want them; refusals are :class:`UsageError`, the same words from Python and the command line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from solver.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class ExactOptions:
    """Whether to solve exactly, for how long, with how many CP-SAT workers, and what to minimise after the
    objective (``secondary``, in order, each allowed to raise the objective by ``slack`` of its best)."""

    exact: bool = False
    time_limit: float = 60.0  # seconds for the whole solve, heuristics included
    workers: int | None = None  # CP-SAT workers (default: all cores)
    secondary: tuple[str, ...] = ()  # exact only: objectives minimised after the objective, in order
    slack: float = 0.0  # exact only: secondary objectives may raise the objective by this fraction

    # The secondary objectives the problem has (its objectives table names them).
    secondary_objectives: ClassVar[tuple[str, ...]] = ()

    def check_exact(self) -> None:
        """The time limit, workers, secondary names and slack (``secondary`` made a tuple)."""
        object.__setattr__(self, "secondary", tuple(self.secondary))
        check_time_limit(self.time_limit)
        check_solver_options(self.workers, self.secondary, self.slack, self.secondary_objectives)

    def check_needs_exact(self) -> None:
        """Secondary objectives and slack only mean something to the exact solver."""
        check_needs_exact(self.exact, self.secondary, self.slack)


def check_time_limit(seconds: float) -> None:
    if not _finite(seconds) or seconds <= 0:
        raise UsageError(f"the time limit must be a finite number of seconds above 0, not {seconds!r}")


def check_solver_options(workers: int | None, secondary: Sequence[str], slack: float, allowed: Sequence[str]) -> None:
    """CP-SAT workers (at least 1), secondary objectives among ``allowed``, slack finite and at least 0."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"the number of workers must be at least 1, not {workers!r}")
    unknown = [s for s in secondary if s not in allowed]
    if unknown:
        raise UsageError(f"unknown secondary objective {unknown[0]!r}; choose from {', '.join(allowed)}")
    if not _finite(slack) or slack < 0:
        raise UsageError(f"slack must be a finite number of at least 0, not {slack!r}")


def check_needs_exact(exact: bool, secondary: Sequence[str], slack: float) -> None:
    if not exact and (secondary or slack):
        raise UsageError("secondary objectives and slack need the exact solver (--exact)")


def check_seed(seed: int | None) -> None:
    """A seed is None (fresh randomness) or an integer of at least 0."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise UsageError(f"the seed must be an integer of at least 0, not {seed!r}")


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
