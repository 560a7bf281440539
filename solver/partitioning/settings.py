"""What ``partition`` and ``compare`` (and ``place``) are asked to do, checked where it is made.

Light on purpose (no solver, numpy or networkx import): the commands build their parsers from these names at
start-up. Every option is checked in ``__post_init__`` and refused with :class:`UsageError`, so Python callers
and the command line get the same words. Whether K fits the graph (``K <= number of ops``) is checked where the
graph is known, by :func:`heuristics.dag.check_num_parts`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from solver.errors import UsageError

ALGORITHMS = ("minmax", "orders", "best")
# Secondary objectives of the exact solver: option name -> the metric it minimises.
SECONDARY = {"cut": "edge_cut", "bytes": "transfer_bytes"}


@dataclass(frozen=True)
class PartitionSettings:
    """What to solve and how: the options of ``solve partition``."""

    num_parts: int
    algo: str = "best"  # heuristic answer to keep (and warm-start the exact solver with)
    runs: int = 10  # MinMax's random topological orders
    seed: int | None = 0  # the heuristics' seed; None: fresh randomness each time
    exact: bool = False
    time_limit: float = 60.0  # seconds for the exact solver
    workers: int | None = None  # CP-SAT workers (default: all cores)
    secondary: tuple[str, ...] = ()  # exact only: then minimise "cut" and/or "bytes"
    slack: float = 0.0  # exact only: secondary objectives may raise the bottleneck by this fraction
    memory_cap: int | None = None  # bytes of constants per part
    robust: str | float | None = None  # exact only: "worst", "quantile:Q" or Q, see solver/partitioning/robust.py

    def __post_init__(self) -> None:
        object.__setattr__(self, "secondary", tuple(self.secondary))
        check_num_parts_option(self.num_parts)
        if self.algo not in ALGORITHMS:
            raise UsageError(f"unknown algorithm {self.algo!r}; choose from {', '.join(ALGORITHMS)}")
        check_heuristic_options(self.runs, self.seed)
        check_time_limit(self.time_limit)
        check_exact_options(self.workers, self.secondary, self.slack, self.memory_cap)
        check_needs_exact(self.exact, self.secondary, self.slack)
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


def check_time_limit(seconds: float) -> None:
    if not _finite(seconds) or seconds <= 0:
        raise UsageError(f"the time limit must be a finite number of seconds above 0, not {seconds!r}")


def check_exact_options(
    workers: int | None, secondary: Sequence[str], slack: float, memory_cap: int | None
) -> None:
    """The exact solver's options other than the time limit (``solve_exact`` checks them too)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"the number of workers must be at least 1, not {workers!r}")
    unknown = [s for s in secondary if s not in SECONDARY]
    if unknown:
        raise UsageError(f"unknown secondary objective {unknown[0]!r}; choose from {', '.join(SECONDARY)}")
    if not _finite(slack) or slack < 0:
        raise UsageError(f"slack must be a finite number of at least 0, not {slack!r}")
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


def check_needs_exact(exact: bool, secondary: Sequence[str], slack: float) -> None:
    if not exact and (secondary or slack):
        raise UsageError("secondary objectives and slack need the exact solver (--exact)")


def check_heuristic_options(runs: int, seed: int | None) -> None:
    """MinMax's runs (at least 1) and the heuristics' seed."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise UsageError(f"the number of MinMax runs must be at least 1, not {runs!r}")
    check_seed(seed)


def check_seed(seed: int | None) -> None:
    """A seed is None (fresh randomness) or an integer of at least 0."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise UsageError(f"the seed must be an integer of at least 0, not {seed!r}")


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
