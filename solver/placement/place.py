"""Placement of a model on a platform, the library call behind ``solve place``.

``place(problem, platform, settings)`` scores the greedy chain placement, optionally hands it to the exact
CP-SAT model as its hint and bound (:func:`solver.solving.driver.drive`, with the placement's steps), and checks
the answer with :func:`solver.placement.metrics.evaluate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from solver.errors import CheckError, InfeasibleError, UsageError
from solver.io.platform import Platform
from solver.placement.bounds import SPINE_SECONDS, lower_bound, op_bound
from solver.placement.greedy import GREEDY_SHARE, greedy_placement
from solver.placement.metrics import PlacementMetrics, evaluate
from solver.placement.objectives import OBJECTIVES, SECONDARY
from solver.placement.problem import MemoryFigure, PlacementProblem, placement_problem
from solver.placement.seed002 import Seed002Error, Seed002Result, seed002
from solver.problem import PartitionProblem
from solver.solving.budget import Budget
from solver.solving.options import ExactOptions, check_seed
from solver.solving.driver import ExactRun, Recipe, Start, drive
from solver.solving.outcome import gap


HEURISTICS = ("greedy", "seed002")
INVALID = "INVALID"  # a baseline's answer that breaks our memory model, reported but not a placement


@dataclass(frozen=True)
class PlaceSettings(ExactOptions):
    """What to minimise and how: the options of ``solve place`` (the exact solver's: :class:`ExactOptions`,
    keyword-only; its secondary objectives minimise the edges between devices and the bytes sent over links)."""

    secondary_objectives: ClassVar[tuple[str, ...]] = SECONDARY

    objective: str = "throughput"  # one of OBJECTIVES (solver/placement/objectives.py)
    seed: int = 0
    algo: str = "greedy"  # the heuristic (HEURISTICS): the answer without exact, the hint with it

    def __post_init__(self):
        # The exact options' checks, so that place and partition refuse the same things in the same words.
        if self.objective not in OBJECTIVES:
            raise UsageError(f"unknown objective {self.objective!r}; choose from {', '.join(OBJECTIVES)}")
        if self.algo not in HEURISTICS:
            raise UsageError(f"unknown placement algorithm {self.algo!r}; choose from {', '.join(HEURISTICS)}")
        self.check_exact()
        self.check_needs_exact()
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
        return gap(self.value, self.bound)

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
            "memory_model": self.problem.memory_name,
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
                {"name": devices[d], "ops": m.op_counts[d], "compute_us": m.compute[d],
                 **({"overhead_us": m.overhead[d]} if m.overhead else {}), "memory_bytes": m.memory[d],
                 "memory_counted_bytes": m.counted[d], "memory_capacity": self.problem.memory_cap(d)}
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
    memory: MemoryFigure | None = None,
    engine: dict | None = None,
) -> PlacementResult:
    """Place ``problem`` on ``platform`` as ``settings`` say (see the module docstring), each device's memory
    under ``memory`` (:func:`solver.placement.memory.memory_figure`; None: constants and every tensor touched)
    within its capacity; ``engine``: the measured devices (``solver.io.linkfile.DeviceFit`` by name), whose
    engine cost per request (solver.placement.engine) every step then counts.

    Raises
    ------
    PlatformError
        An op no device supports, or a device trace that does not fit the model.
    InfeasibleError
        No placement fits (memory, links), proven by the exact solver or, without it, not found.
    """
    budget = Budget(settings.time_limit)
    built = placement_problem(problem, platform, memory, engine)
    notes = list(problem.notes)
    steps = _Steps(built, settings, notes, on_progress)
    driven = drive(steps.recipe(), settings, budget)
    if driven.answer is None:  # without the exact solver only
        if steps.seed is not None:
            # Seed 002's answer overflows a device in our memory model: shown, but not a placement.
            metrics = evaluate(built, steps.seed.assign, memory=False)
            return PlacementResult(built, settings.objective, steps.seed.assign, metrics, INVALID, 0, None,
                                   budget.elapsed(), notes, steps.seed)  # fmt: skip
        raise InfeasibleError(f"{platform.source}: the {settings.algo} placement found no way to fit {problem.name} "
                              "on the platform (try --exact, which proves whether one exists)")  # fmt: skip
    notes += driven.notes
    metrics = evaluate(built, driven.answer)
    bound = min(driven.bound, metrics.objective(settings.objective))
    return PlacementResult(built, settings.objective, list(driven.answer), metrics, driven.status, bound,
                           driven.start.value, budget.elapsed(), notes, steps.seed)  # fmt: skip


class _Steps:
    """The placement's steps for :func:`solver.solving.driver.drive`: the heuristic (the greedy or seed 002's
    method) and its bounds, then the exact solver hinted and bounded by it; ``seed`` keeps seed 002's answer."""

    def __init__(self, problem: PlacementProblem, settings: PlaceSettings, notes: list[str],
                 on_progress: Callable[[int, int, float], None] | None):  # fmt: skip
        self.problem, self.settings, self.notes, self.on_progress = problem, settings, notes, on_progress
        self.seed: Seed002Result | None = None

    def recipe(self) -> Recipe[list[int]]:
        proven = lambda statuses: ", ".join(f"{name} {status}" for name, status in statuses.items())  # noqa: E731
        return Recipe(self.heuristic, self.exact, f"the {self.settings.objective} may exceed its optimum", proven)

    def heuristic(self, budget: Budget) -> Start[list[int]]:
        problem, settings = self.problem, self.settings
        if settings.algo == "seed002":
            found, self.seed = _seed002(problem, settings.exact, self.notes)
        else:
            # Before the exact solver, the greedy's chains get a tenth of the time (its first placement at least).
            until = budget.part(GREEDY_SHARE) if settings.exact else None
            found = greedy_placement(problem, settings.objective, settings.seed, until)
        value = evaluate(problem, found).objective(settings.objective) if found is not None else None
        if value is not None:
            # The contraction and spine bounds together: at most a tenth of the time left.
            lower = lower_bound(problem, settings.objective, value, seconds=min(SPINE_SECONDS, 0.1 * budget.left()))
        else:
            lower = op_bound(problem, settings.objective)
        return Start(settings.algo, found, value, lower)

    def exact(self, start: Start[list[int]], budget: Budget) -> ExactRun[list[int]]:
        from solver.placement.exact import solve_placement

        settings = self.settings
        # The time limit bounds the whole placement, the heuristic included.
        solved = solve_placement(self.problem, settings.objective, hint=start.answer, time_limit=budget.left(),
                                 workers=settings.workers, secondary=settings.secondary, slack=settings.slack,
                                 lower=start.bound, on_progress=self.on_progress)  # fmt: skip
        return ExactRun(solved.assign, solved.status, max(solved.bound, start.bound), solved.wall_time,
                        solved.interrupted, solved, solved.secondary_status)  # fmt: skip


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
