"""The whole offloading search: the chosen algorithm's plan, checked, beside the baselines.

``offload(problem, algo)`` runs "heuristics, then exact" (:func:`solver.solving.driver.drive`, with the
offloading's steps): all baselines, then the chosen one's plan with the labeling floor under it, or with
``algo="exact"`` the exact CP-SAT model warm-started by the greedy (:mod:`solver.offload.exact`).

Heuristics
----------
- :func:`circle_partitioner_plan`: circle-partitioner's own grouping (``heuristics.circle_groups``), faithful.
- :func:`delegate_plan`: TFLite-delegate style: every op on the first non-default backend that takes it,
  parts by alternating ready frontiers, small and surplus delegated parts back on the default backend.
- :func:`greedy_plan`: the warm start: the delegate plan, the fastest backend per op and the default
  everywhere, each improved by rejecting parts that do not pay for their hand-offs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from solver.errors import InfeasibleError, PlatformError
from solver.io.partrules import PartitionRules
from solver.io.platform import Platform
from solver.offload.baselines import delegate_plan, greedy_plan
from solver.offload.circle_partitioner import circle_partitioner_plan, rules_backends
from solver.offload.exact import GREEDY_SHARE, SLOT_VARIABLES, labeling, labeling_time, solve_offload
from solver.offload.metrics import OffloadMetrics, evaluate_or_none, evaluate_plan
from solver.offload.problem import OffloadProblem, offload_problem
from solver.offload.settings import OffloadSettings
from solver.placement.problem import MemoryFigure, placement_problem
from solver.problem import PartitionProblem
from solver.solving.budget import Budget
from solver.solving.driver import ExactRun, Recipe, Start, drive
from solver.solving.outcome import FEASIBLE, OPTIMAL, gap


@dataclass(frozen=True)
class BackendMemory:
    """One backend of a plan under the memory model: its sessions (parts) and what they hold together."""

    backend: str
    sessions: int
    capacity: int | None
    predicted: int

    @property
    def over(self) -> bool:
        return self.capacity is not None and self.predicted > self.capacity


@dataclass
class OffloadResult:
    """A checked plan, how it was found, and the baselines beside it."""

    problem: OffloadProblem
    algo: str
    metrics: OffloadMetrics
    status: str
    bound: int
    baselines: dict[str, OffloadMetrics | None]  # algorithm -> its plan's metrics (None: no valid plan)
    time: float
    notes: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float:
        return gap(self.metrics.latency, self.bound)

    @property
    def placement(self) -> dict[str, str]:
        """Part number -> backend name, as the partition map's ``placement``."""
        return {str(k): self.problem.backends[b] for k, b in enumerate(self.metrics.part_backends)}

    def to_json(self) -> dict:
        names = self.problem.backends

        def plan(m: OffloadMetrics) -> dict:
            memory = None if m.memory is None else {names[b]: held for b, held in enumerate(m.memory)
                                                    if b in m.part_backends}  # fmt: skip
            return {"latency_us": m.latency, "compute_us": m.compute, "handoffs": m.handoffs,
                    "handoff_bytes": m.handoff_bytes, "handoff_us": m.handoff_time, "num_parts": m.num_parts,
                    "parts": [{"backend": names[b], "ops": c} for b, c in zip(m.part_backends, m.part_ops)],
                    "memory_bytes": memory}  # fmt: skip

        return {
            "model": self.problem.base.name,
            "platform": str(self.problem.base.platform.source),
            "objective": "latency",
            "algo": self.algo,
            "status": self.status,
            "value": self.metrics.latency,
            "bound": self.bound,
            "gap": self.gap,
            **plan(self.metrics),
            "partition_map": self.metrics.parts,
            "num_partitions": self.metrics.num_parts,
            "placement": self.placement,
            "backend_of_op": [names[b] for b in self.metrics.backend],
            "min_part_ops": self.problem.min_part_ops,
            "max_parts": self.problem.max_parts,
            "memory": self.memory_json(),
            "baselines": {name: None if m is None else plan(m) for name, m in self.baselines.items()},
            "time_s": self.time,
            "notes": self.notes,
        }

    def backend_memory(self) -> list[BackendMemory]:
        """The memory of each backend the plan uses (none without a memory model)."""
        m, base = self.metrics, self.problem.base
        if m.memory is None:
            return []
        return [BackendMemory(name, m.part_backends.count(b), base.memory_cap(b), m.memory[b])
                for b, name in enumerate(self.problem.backends) if b in m.part_backends]  # fmt: skip

    def memory_json(self) -> dict | None:
        """The memory model and each used backend's sessions under it (None without a model)."""
        base = self.problem.base
        if base.memory_model is None:
            return None
        return {"memory_model": base.memory_name,
                "backends": [{"backend": b.backend, "capacity": b.capacity, "predicted_bytes": b.predicted,
                              "sessions": b.sessions, "over_capacity": b.over}
                             for b in self.backend_memory()]}  # fmt: skip


def offload(
    problem: OffloadProblem,
    algo: str = "exact",
    *,
    time_limit: float = 60.0,
    workers: int | None = None,
    on_progress: Callable[[int, int, float], None] | None = None,
) -> OffloadResult:
    """Plan ``problem`` with ``algo`` (exact: CP-SAT warm-started by the greedy), beside the baselines
    (:func:`solver.solving.driver.drive`, with the offloading's steps; the limits are the problem's).

    Raises
    ------
    UsageError
        An unknown algorithm, a bad time limit or number of workers.
    InfeasibleError
        No valid plan (proven by the exact model, or none found by the chosen heuristic).
    """
    return _offload(problem, OffloadSettings(algo, time_limit=time_limit, workers=workers), on_progress)


def _offload(problem: OffloadProblem, settings: OffloadSettings,
             on_progress: Callable[[int, int, float], None] | None) -> OffloadResult:  # fmt: skip
    """:func:`offload` with its options in ``settings`` (its limits are the problem's, not the settings')."""
    budget = Budget(settings.time_limit)
    notes = [] if problem.max_parts is None and problem.min_part_ops == 1 else [
        f"limits: parts of at least {problem.min_part_ops} ops, at most {problem.max_parts or 'any number of'} parts"]  # fmt: skip
    steps = _Steps(problem, settings, notes, on_progress)
    driven = drive(steps.recipe(), settings, budget)
    metrics = evaluate_plan(problem, *driven.answer)
    return OffloadResult(problem, settings.algo, metrics, driven.status, min(driven.bound, metrics.latency),
                         steps.baselines, budget.elapsed(), notes + driven.notes)  # fmt: skip


Plan = tuple[list[int], list[int]]  # the backend of each op, the part of each op


class _Steps:
    """The offloading's steps for :func:`solver.solving.driver.drive`: the baselines (circle-partitioner's, the
    delegate's and the greedy), the chosen one's plan with the labeling floor under it (the greedy's, as the warm
    start, with the exact solver), then the exact solver; ``baselines`` keeps their metrics."""

    def __init__(self, problem: OffloadProblem, settings: OffloadSettings, notes: list[str],
                 on_progress: Callable[[int, int, float], None] | None):  # fmt: skip
        self.problem, self.settings, self.notes, self.on_progress = problem, settings, notes, on_progress
        self.baselines: dict[str, OffloadMetrics | None] = {}

    def recipe(self) -> Recipe[Plan]:
        return Recipe(self.heuristics, self.exact)

    def heuristics(self, budget: Budget) -> Start[Plan]:
        problem, algo, baselines = self.problem, self.settings.algo, self.baselines
        try:
            cp_group = rules_backends(problem)
        except PlatformError as err:  # its rules (or default) put an op where it cannot run
            if algo == "circle-partitioner":
                raise
            self.notes.append(f"circle-partitioner: {err}")
            baselines["circle-partitioner"] = None
        else:
            baselines["circle-partitioner"] = evaluate_or_none(problem, cp_group,
                                                               circle_partitioner_plan(problem, cp_group))  # fmt: skip
        baselines["delegate"] = evaluate_or_none(problem, *delegate_plan(problem))
        greedy = greedy_plan(problem, budget.part(GREEDY_SHARE) if self.settings.exact else None)
        baselines["greedy"] = evaluate_or_none(problem, *greedy) if greedy else None
        if self.settings.exact:  # the greedy is the warm start; the exact solver finds the floor itself
            return Start("greedy", greedy, baselines["greedy"].latency if greedy else None, 0)
        metrics = baselines[algo]
        if metrics is None:
            memory = f", backend memory ({problem.base.memory_name} model)" if problem.memory_capped else ""
            raise InfeasibleError(f"{problem.base.name}: the {algo} plan breaks the limits (min part ops "
                                  f"{problem.min_part_ops}, max parts {problem.max_parts}{memory}); try --algo exact")  # fmt: skip
        floor = labeling(problem, labeling_time(budget), self.settings.workers).floor
        return Start(algo, (metrics.backend, metrics.parts), metrics.latency, floor)  # how far it may be from optimal

    def exact(self, start: Start[Plan], budget: Budget) -> ExactRun[Plan]:
        # The time limit bounds the whole offloading, the baselines included.
        solved = solve_offload(self.problem, start.answer, time_limit=budget.left(), workers=self.settings.workers,
                               on_progress=self.on_progress)  # fmt: skip
        if solved.cover.slots:
            how = f"{solved.cover.slots} part slots"
        elif solved.status == OPTIMAL:
            how = "a warm start reached the floor that every plan pays (the op times and the hand-offs its backends force)"
        elif solved.interrupted:
            how = "stopped before the part-slot model"
        else:
            how = f"no part-slot model: it would exceed {SLOT_VARIABLES} variables"
        after = []
        if solved.status == FEASIBLE and solved.bound == solved.cover.beyond:
            after.append(f"the bound is what a plan of more than {solved.cover.slots} parts (the exact model's slots) "
                         "must pay at least in op times and hand-offs; --max-parts lowers how many parts are considered")  # fmt: skip
        return ExactRun((solved.backend, solved.parts), solved.status, solved.bound, solved.wall_time,
                        solved.interrupted, solved, how=how, notes_after=after)  # fmt: skip


def offload_model(
    problem: PartitionProblem,
    platform: Platform,
    settings: OffloadSettings = OffloadSettings(),
    rules: PartitionRules | None = None,
    on_progress: Callable[[int, int, float], None] | None = None,
    *,
    backend_min_ops: list[int] | None = None,
    reject: list[Callable[[list[int]], bool] | None] | None = None,
    memory: MemoryFigure | None = None,
) -> OffloadResult:
    """Offload ``problem`` on the backends of ``platform`` as ``settings`` and ``rules`` say; ``backend_min_ops``
    and ``reject`` (per device) refuse parts as partition_for's backends do; ``memory``: the memory model each
    backend's sessions are capped on (``solver.placement.memory.memory_figure``; None: memory not checked).

    Op names (for ``comply=opname``) are the names of the ops' first output tensors, as luci names nodes;
    for graph files, the nodes' ``name``.
    """
    base = placement_problem(problem, platform, memory)
    names, reads_input = None, None
    if problem.model is not None:
        model = problem.model
        names = [model.tensors[op.outputs[0]].name if op.outputs else None for op in model.operators]
        inputs = set(model.inputs)
        reads_input = [any(t in inputs for t in op.inputs) for op in model.operators]
    built = offload_problem(base, rules=rules, exclude_ops=settings.exclude_ops, min_part_ops=settings.min_part_ops,
                            max_parts=settings.max_parts, op_names=names, reads_input=reads_input)  # fmt: skip
    built.backend_min_ops, built.reject = backend_min_ops, reject
    result = _offload(built, settings, on_progress)
    result.notes[:0] = list(problem.notes)
    return result
