"""What ``partition`` and ``compare`` (and ``place``) are asked to do, checked where it is made.

Light on purpose (no solver, numpy or networkx import): the commands build their parsers from these names at
start-up. Every option is checked in ``__post_init__`` and refused with :class:`UsageError`, so Python callers
and the command line get the same words; the exact solver's options are
:class:`solver.solving.options.ExactOptions`. Whether K fits the graph (``K <= number of ops``) is checked where
the graph is known, by :func:`heuristics.dag.check_num_parts`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from solver.errors import UsageError
from solver.partitioning.objectives import SECONDARY
from solver.solving.options import ExactOptions, check_seed, check_solver_options, check_time_limit

ALGORITHMS = ("minmax", "orders", "best")


@dataclass(frozen=True)
class PartitionSettings(ExactOptions):
    """What to solve and how: the options of ``solve partition`` (the exact solver's: :class:`ExactOptions`,
    keyword-only; its secondary objectives minimise the edge cut and the transfer bytes)."""

    secondary_objectives: ClassVar[tuple[str, ...]] = tuple(SECONDARY)

    num_parts: int
    algo: str = "best"  # heuristic answer to keep (and warm-start the exact solver with)
    runs: int = 10  # MinMax's random topological orders
    seed: int | None = 0  # the heuristics' seed; None: fresh randomness each time
    memory_cap: int | None = None  # bytes of constants per part
    robust: str | float | None = None  # exact only: "worst", "quantile:Q" or Q, see solver/partitioning/robust.py

    def __post_init__(self) -> None:
        check_num_parts_option(self.num_parts)
        if self.algo not in ALGORITHMS:
            raise UsageError(f"unknown algorithm {self.algo!r}; choose from {', '.join(ALGORITHMS)}")
        check_heuristic_options(self.runs, self.seed)
        self.check_exact()
        check_memory_cap(self.memory_cap)
        self.check_needs_exact()
        if self.robust is not None:
            robust_level(self.robust)
            if not self.exact:
                raise UsageError("--robust needs the exact solver (--exact)")
            if self.secondary:
                raise UsageError("--robust does not combine with secondary objectives")

    @property
    def robust_level(self) -> float | None:
        """The quantile level q of ``robust`` (1 for the worst run), None without it."""
        return None if self.robust is None else robust_level(self.robust)


@dataclass(frozen=True)
class CompareSettings:
    """The options of ``solve compare``: the part counts to compare, and the effort per count."""

    num_parts: tuple[int, ...] = (2, 3, 4, 6, 8)
    time_limit: float = 60.0  # seconds of exact solving per K
    workers: int | None = None
    runs: int = 10  # MinMax's random orders
    seed: int | None = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_parts", tuple(self.num_parts))
        if not self.num_parts:
            raise UsageError("give at least one number of parts")
        for k in self.num_parts:
            check_num_parts_option(k)
        check_heuristic_options(self.runs, self.seed)
        check_time_limit(self.time_limit)
        check_exact_options(self.workers, (), 0.0, None)


def check_num_parts_option(num_parts: int) -> None:
    """K must be an integer of at least 1 (whether it fits the graph is checked with the graph)."""
    if isinstance(num_parts, bool) or not isinstance(num_parts, int) or num_parts < 1:
        raise UsageError(f"the number of parts must be an integer of at least 1, not {num_parts!r}")


def check_exact_options(
    workers: int | None, secondary: Sequence[str], slack: float, memory_cap: int | None
) -> None:
    """The exact solver's options other than the time limit (``solve_exact`` checks them too)."""
    check_solver_options(workers, secondary, slack, tuple(SECONDARY))
    check_memory_cap(memory_cap)


def check_memory_cap(memory_cap: int | None) -> None:
    if memory_cap is not None and (isinstance(memory_cap, bool) or not isinstance(memory_cap, int) or memory_cap < 0):
        raise UsageError(f"the memory cap must be an integer of at least 0 bytes, not {memory_cap!r}")


def robust_level(spec: str | float) -> float:
    """The level q in (0, 1] of a robust objective: ``"worst"`` is 1, ``"quantile:Q"`` or a number Q is Q.

    The worst run is the default because a pipeline's throughput follows its slowest stage in the slowest
    moments too; a quantile below 1 ignores the rarest slow runs, which no partition can avoid.
    """
    if spec == "worst":
        return 1.0
    text = spec[len("quantile:"):] if isinstance(spec, str) and spec.startswith("quantile:") else spec
    try:
        level = math.nan if isinstance(text, bool) else float(text)
    except (TypeError, ValueError):
        level = math.nan
    if not 0 < level <= 1:
        raise UsageError(f"--robust takes 'worst' or 'quantile:Q' with 0 < Q <= 1, not {spec!r}")
    return level


def check_heuristic_options(runs: int, seed: int | None) -> None:
    """MinMax's runs (at least 1) and the heuristics' seed."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise UsageError(f"the number of MinMax runs must be at least 1, not {runs!r}")
    check_seed(seed)
