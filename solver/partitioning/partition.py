"""Pipeline partitioning of a problem: ONE's MinMax, our order search, optionally the exact CP-SAT solver.

``partition(problem, settings)`` always runs both heuristics (so the report can compare them), picks the one
``settings.algo`` asks for (``best``: the smaller bottleneck), optionally hands it to the exact solver as its
warm start, and checks the answer with :func:`solver.partitioning.metrics.check_partition` before returning it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from heuristics.minmax import minmax
from heuristics.orders import order_search
from solver.errors import InfeasibleError, UsageError
from solver.partitioning.metrics import PartitionMetrics, check_partition
from solver.partitioning.problem import PartitionProblem

ALGORITHMS = ("minmax", "orders", "best")
SECONDARY = ("cut", "bytes")
HEURISTIC_NAMES = {"minmax": "ONE MinMax", "orders": "order search"}


@dataclass(frozen=True)
class PartitionSettings:
    """What to solve and how: the options of ``solve partition``."""

    num_parts: int
    algo: str = "best"  # heuristic answer to keep (and warm-start the exact solver with)
    runs: int = 10  # MinMax's random topological orders
    seed: int | None = None
    exact: bool = False
    time_limit: float = 60.0  # seconds for the exact solver
    workers: int | None = None  # CP-SAT workers (default: all cores)
    secondary: tuple[str, ...] = ()  # exact only: then minimise "cut" and/or "bytes"
    slack: float = 0.0  # exact only: secondary objectives may raise the bottleneck by this fraction
    memory_cap: int | None = None  # bytes of constants per part


@dataclass
class PartitionResult:
    """A checked partition and how it was found."""

    parts: list[int]
    metrics: PartitionMetrics
    method: str  # "minmax", "orders" or "exact"
    status: str  # "OPTIMAL", "FEASIBLE" (exact improved, not proven) or "HEURISTIC"
    bound: int  # proven lower bound on the bottleneck
    gap: float  # (bottleneck - bound) / bottleneck
    time: float  # wall seconds for everything
    heuristics: dict[str, tuple[int, float]]  # name -> (bottleneck, seconds)
    notes: list[str] = field(default_factory=list)


Progress = Callable[[int, int, float], None]


def partition(
    problem: PartitionProblem, settings: PartitionSettings, on_progress: Progress | None = None
) -> PartitionResult:
    """Partition ``problem.graph`` into ``settings.num_parts`` pipeline stages.

    Raises
    ------
    UsageError
        ``num_parts`` outside ``1..number of ops``, an unknown algorithm or secondary objective, or exact-only
        options without ``exact``.
    InfeasibleError
        No answer meets ``memory_cap``.
    CheckError
        An answer failed the independent checker (a bug).
    """
    start = time.monotonic()
    _validate(problem, settings)
    graph, k = problem.graph, settings.num_parts
    found = _run_heuristics(problem, settings)
    heuristics = {HEURISTIC_NAMES[name]: (metrics.bottleneck, seconds) for name, (_, metrics, seconds) in found.items()}
    method = _pick(found, settings, problem)
    parts = found[method][0]
    notes = list(problem.notes)
    if settings.exact:
        from solver.partitioning.exact import solve_exact

        exact = solve_exact(
            graph,
            k,
            hint=parts,
            time_limit=settings.time_limit,
            workers=settings.workers,
            secondary=settings.secondary,
            slack=settings.slack,
            memory_cap=settings.memory_cap,
            on_progress=on_progress,
        )
        parts, method, status, bound = exact.parts, "exact", exact.status, exact.bound
        notes.append(f"exact solver: {exact.workers} workers, {exact.wall_time:.2f} s, status {exact.status}")
        if settings.secondary:
            notes.append(
                f"secondary objectives {', '.join(settings.secondary)} minimised with slack {settings.slack:g}: "
                f"the bottleneck may exceed the proven optimum by that fraction ({exact.secondary_status})"
            )
        if exact.interrupted:
            notes.append("exact solver interrupted: the answer is the best found so far")
    metrics = check_partition(graph, parts, k, memory_cap=settings.memory_cap)
    if not settings.exact:
        status, bound = "HEURISTIC", metrics.lower_bound
    gap = (metrics.bottleneck - bound) / metrics.bottleneck if metrics.bottleneck else 0.0
    return PartitionResult(
        parts=list(parts),
        metrics=metrics,
        method=method,
        status=status,
        bound=bound,
        gap=gap,
        time=time.monotonic() - start,
        heuristics=heuristics,
        notes=notes,
    )


def _validate(problem: PartitionProblem, settings: PartitionSettings) -> None:
    n, k = problem.num_ops, settings.num_parts
    if not 1 <= k <= n:
        raise UsageError(f"{problem.source}: cannot split {n} ops into {k} parts (the number of parts must be 1..{n})")
    if settings.algo not in ALGORITHMS:
        raise UsageError(f"unknown algorithm {settings.algo!r}; choose from {', '.join(ALGORITHMS)}")
    if settings.runs < 1:
        raise UsageError(f"the number of MinMax runs must be at least 1, not {settings.runs}")
    unknown = [s for s in settings.secondary if s not in SECONDARY]
    if unknown:
        raise UsageError(f"unknown secondary objective {unknown[0]!r}; choose from {', '.join(SECONDARY)}")
    if not settings.exact and (settings.secondary or settings.slack):
        raise UsageError("secondary objectives and slack need the exact solver (--exact)")
    if settings.slack < 0:
        raise UsageError(f"slack must be >= 0, not {settings.slack}")
    if settings.time_limit <= 0:
        raise UsageError(f"the time limit must be positive, not {settings.time_limit}")
    if settings.memory_cap is not None and settings.memory_cap < 0:
        raise UsageError(f"the memory cap must be >= 0 bytes, not {settings.memory_cap}")


def _run_heuristics(
    problem: PartitionProblem, settings: PartitionSettings
) -> dict[str, tuple[list[int], PartitionMetrics, float]]:
    """Both heuristics' partitions, checked (without the memory cap), with their wall times."""
    runs = {
        "minmax": lambda: minmax(problem.graph, settings.num_parts, runs=settings.runs, seed=settings.seed),
        "orders": lambda: order_search(problem.graph, settings.num_parts, seed=settings.seed),
    }
    found = {}
    for name, run in runs.items():
        start = time.monotonic()
        parts = run()
        seconds = time.monotonic() - start
        found[name] = (parts, check_partition(problem.graph, parts, settings.num_parts), seconds)
    return found


def _pick(found, settings: PartitionSettings, problem: PartitionProblem) -> str:
    """The heuristic to keep: the requested one, or for ``best`` the smaller bottleneck (then edge cut).

    With a memory cap, only answers under the cap count; if none is, the exact solver (which enforces the cap)
    starts without a usable hint, and without it there is no answer.
    """
    algo, cap = settings.algo, settings.memory_cap
    names = [algo] if algo != "best" else sorted(found, key=lambda n: (found[n][1].bottleneck, found[n][1].edge_cut))
    fitting = [n for n in names if cap is None or max(found[n][1].memory) <= cap]
    if fitting or settings.exact:
        return (fitting or names)[0]
    raise InfeasibleError(
        f"{problem.source}: no heuristic partition meets the memory cap of {cap} bytes per part "
        "(try --exact, which enforces it)"
    )
