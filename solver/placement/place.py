"""Placement of a model on a platform, the library call behind ``solve place``.

``place(problem, platform, settings)`` scores the greedy chain placement, optionally hands it to the exact
CP-SAT model as its hint and bound, and checks the answer with :func:`solver.placement.metrics.evaluate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from solver.errors import CheckError, InfeasibleError, UsageError
from solver.io.platform import Platform
from solver.problem import PartitionProblem
from solver.placement.greedy import greedy_placement
from solver.partitioning.settings import check_exact_options, check_needs_exact, check_seed, check_time_limit
from solver.placement.bounds import lower_bound, op_bound
from solver.placement.metrics import OBJECTIVES, PlacementMetrics, evaluate
from solver.placement.problem import PlacementProblem, placement_problem
from solver.placement.seed002 import Seed002Error, Seed002Result, seed002


HEURISTICS = ("greedy", "seed002")
INVALID = "INVALID"  # a baseline's answer that breaks our memory model, reported but not a placement


@dataclass(frozen=True)
class PlaceSettings:
    """What to minimise and how: the options of ``solve place``."""

    objective: str = "throughput"
    exact: bool = False
    time_limit: float = 60.0
    workers: int | None = None
    seed: int = 0
    secondary: tuple[str, ...] = ()  # exact only: then minimise "cut" and/or "bytes"
    slack: float = 0.0  # exact only: secondary objectives may raise the objective by this fraction
    algo: str = "greedy"  # the heuristic (HEURISTICS): the answer without exact, the hint with it

    def __post_init__(self):
        # The partition options' checks, so that both commands refuse the same things in the same words.
        object.__setattr__(self, "secondary", tuple(self.secondary))
        if self.objective not in OBJECTIVES:
            raise UsageError(f"unknown objective {self.objective!r}; choose from {', '.join(OBJECTIVES)}")
        if self.algo not in HEURISTICS:
            raise UsageError(f"unknown placement algorithm {self.algo!r}; choose from {', '.join(HEURISTICS)}")
        check_time_limit(self.time_limit)
        check_exact_options(self.workers, self.secondary, self.slack, None)
        check_needs_exact(self.exact, self.secondary, self.slack)
        check_seed(self.seed)


@dataclass
class PlacementResult:
    """A checked placement: the device of each op, its parts in pipeline order, loads and how it was found."""

    problem: PlacementProblem
    objective: str
    assign: list[int]
    metrics: PlacementMetrics
    status: str  # OPTIMAL, FEASIBLE (exact improved on the greedy, not proven), HEURISTIC or INVALID
    bound: int
    heuristic: int | None  # the heuristic's objective value (None: it found no valid placement)
    time: float
    notes: list[str] = field(default_factory=list)
    seed002: Seed002Result | None = None  # seed 002's answer, when it was the heuristic

    @property
    def value(self) -> int:
        return self.metrics.objective(self.objective)

    @property
    def gap(self) -> float:
        return (self.value - self.bound) / self.value if self.value else 0.0

    @property
    def parts(self) -> list[int]:
        return self.metrics.parts(self.assign)

    @property
    def placement(self) -> dict[str, str]:
        """Part number -> device name, as the output's ``placement`` key."""
        return {str(k): self.problem.devices[d] for k, d in enumerate(self.metrics.order)}

    def to_json(self) -> dict:
        m, devices = self.metrics, self.problem.devices
        return {
            "model": self.problem.name,
            "platform": str(self.problem.platform.source),
            "objective": self.objective,
            "status": self.status,
            "value": self.value,
            "bound": self.bound,
            "gap": self.gap,
            "bottleneck": m.throughput,
            "bottleneck_at": m.bottleneck_at,
            "latency": m.latency,
            "edge_cut": m.edge_cut,
            "transfer_bytes": m.transfer_bytes,
            "heuristic": self.heuristic,
            "partition_map": self.parts,
            "num_partitions": len(m.order),
            "placement": self.placement,
            "devices": [
                {"name": devices[d], "ops": m.op_counts[d], "compute_us": m.compute[d], "memory_bytes": m.memory[d],
                 "memory_capacity": self.problem.memory_cap(d)}
                for d in range(len(devices))
            ],
            "links": [
                {"from": devices[l.source], "to": devices[l.target], "tensors": l.tensors, "bytes": l.nbytes,
                 "time_us": l.time}
                for l in m.links
            ],
            "time_s": self.time,
            "notes": self.notes,
            **({"seed002": self.seed002.to_json(devices)} if self.seed002 is not None else {}),
        }


def place(
    problem: PartitionProblem,
    platform: Platform,
    settings: PlaceSettings = PlaceSettings(),
    on_progress: Callable[[int, int, float], None] | None = None,
) -> PlacementResult:
    """Place ``problem`` on ``platform`` as ``settings`` say (see the module docstring).

    Raises
    ------
    PlatformError
        An op no device supports, or a device trace that does not fit the model.
    InfeasibleError
        No placement fits (memory, links), proven by the exact solver or, without it, not found.
    """
    start = time.monotonic()
    built = placement_problem(problem, platform)
    notes = list(problem.notes)
    seed = None
    if settings.algo == "seed002":
        greedy, seed = _seed002(built, settings.exact, notes)
        if not settings.exact and greedy is None:
            # Seed 002's answer overflows a device in our memory model: shown, but not a placement.
            metrics = evaluate(built, seed.assign, memory=False)
            return PlacementResult(built, settings.objective, seed.assign, metrics, INVALID, 0, None,
                                   time.monotonic() - start, notes, seed)  # fmt: skip
    else:
        greedy = greedy_placement(built, settings.objective, settings.seed)
    heuristic = evaluate(built, greedy).objective(settings.objective) if greedy is not None else None
    if heuristic is not None:
        lower = lower_bound(built, settings.objective, heuristic)
    else:
        lower = op_bound(built, settings.objective)
    if not settings.exact:
        if greedy is None:
            raise InfeasibleError(f"{platform.source}: the {settings.algo} placement found no way to fit {problem.name} "
                                  "on the platform (try --exact, which proves whether one exists)")  # fmt: skip
        assign, status, bound = greedy, "HEURISTIC", lower
    else:
        from solver.placement.exact import solve_placement

        # The time limit bounds the whole placement, the greedy included.
        remaining = settings.time_limit - (time.monotonic() - start)
        solved = solve_placement(built, settings.objective, hint=greedy, time_limit=remaining,
                                 workers=settings.workers, secondary=settings.secondary, slack=settings.slack,
                                 lower=lower, on_progress=on_progress)  # fmt: skip
        assign, status = solved.assign, solved.status
        bound = max(solved.bound, lower)
        notes.append(f"exact solver: {solved.wall_time:.2f} s, status {status}")
        if settings.secondary:
            proven = ", ".join(f"{name} {solved.secondary_status[name]}" for name in solved.secondary_status)
            notes.append(f"secondary objectives {', '.join(settings.secondary)} minimised with slack "
                         f"{settings.slack:g}: the {settings.objective} may exceed its optimum by that fraction ({proven})")  # fmt: skip
        if solved.interrupted:
            notes.append("exact solver interrupted: the answer is the best found so far")
    metrics = evaluate(built, assign)
    return PlacementResult(built, settings.objective, list(assign), metrics, status, min(bound, metrics.objective(settings.objective)),
                           heuristic, time.monotonic() - start, notes, seed)  # fmt: skip


def _seed002(problem: PlacementProblem, exact: bool, notes: list[str]) -> tuple[list[int] | None, Seed002Result | None]:
    """Seed 002's placement when it is valid in our model (else None) and its answer; ``notes`` say what bit.

    Where the seed raises, so does this, unless the exact solver runs (it then starts without a hint).

    Raises
    ------
    Seed002Error
        The seed gives up (no path within the nodes, or the whole model fits one node), without ``exact``.
    CheckError
        Its placement breaks our model other than by memory (a missing link, an op a device does not run).
    """
    try:
        seed = seed002(problem)
    except Seed002Error as err:
        if not exact:
            raise
        notes.append(f"{err}; the exact solver starts without a hint")
        return None, None
    notes += [f"seed 002's defect bites: {defect}" for defect in seed.defects]
    try:
        evaluate(problem, seed.assign)
    except CheckError as err:
        evaluate(problem, seed.assign, memory=False)  # anything but memory is not the seed's to break
        notes.append(f"seed 002's placement overflows a device in our memory model (it counts parameters, not "
                     f"their bytes, and drops a segment): {err}")  # fmt: skip
        return None, seed
    return seed.assign, seed
