"""Pipeline partitioning of a problem: ONE's MinMax, our order search, then optionally the exact CP-SAT solver.

``partition(problem, settings)`` runs "heuristics, then exact" (:func:`solver.solving.driver.drive`, with the
partition's steps): it validates the graph once (``problem.dag``), runs both heuristics (so the report can
compare them; MinMax only when its share of the time limit pays for a run, or a run is cheap), picks the one
``settings.algo`` asks for (``best``: the smaller bottleneck, then the smaller edge cut), optionally hands it to
the exact solver as its warm start (unless the graph is too large for any CP-SAT model), and checks the answer
with :func:`solver.partitioning.metrics.check_partition` before returning it (a heuristic's answer was checked as
it was found). With ``settings.robust``, the exact answer (median weights) and the heuristics' then warm-start
the robust solver (:mod:`solver.partitioning.robust`: the trace's runs as scenarios), whose answer is kept and
reported beside the median-weight one on every run. ``solve compare`` and the benchmarks call it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from heuristics.dag import WINDOW_OPS, Dag, check_num_parts, closures_known, lower_bound
from heuristics.minmax import minmax
from heuristics.orders import order_search
from solver.errors import InfeasibleError
from solver.partitioning.metrics import PartitionMetrics, PartMemory, check_partition, part_ops
from solver.partitioning.objectives import TABLE
from solver.partitioning.settings import PartitionSettings
from solver.problem import PartitionProblem
from solver.solving.budget import Budget, now
from solver.solving.driver import ExactRun, Recipe, Start, drive
from solver.solving.outcome import gap

if TYPE_CHECKING:
    from solver.partitioning.exact import ExactResult
    from solver.partitioning.robust import RobustReport

__all__ = ["HeuristicRun", "PartRow", "PartitionResult", "PartitionSettings", "partition"]

Progress = Callable[[int, int, float], None]

# Share of the time limit (from the start, the graph's checks and lower bound included) by which the heuristics
# hand over: with the exact solver 30% and the solver gets the rest (its model building included); alone, all.
_HEURISTIC_SHARE = {True: 0.3, False: 1.0}
# Of what is left of that when a heuristic starts, the share it may use (MinMax first, then the order search).
_TURN_SHARE = {"minmax": 1 / 3, "orders": 1.0}
# Before them the lower bound's station windows get this share of it, or the bound is the weights' alone: their
# closure weights are a pass over every op (1.4 s at 100,000 ops quiet; i29t saw 23 s at load 9 before numpy).
_BOUND_SHARE = 1 / 3
# Below this many seconds left the exact solver is not started (on a big graph its start alone takes longer).
_EXACT_MIN_SECONDS = 0.5
# Time kept after the exact solver for the final check and the part rows, in checks of a heuristic's answer.
_CHECK_SHARE = 2.0
# MinMax's price per op and edge for one run (its random topological order and pivot split are Python loops: 16 s
# for 10^7 ops and 1.3 * 10^7 edges at load 3). A run its share cannot pay is not started unless it is cheap
# (_CHEAP_SECONDS) or asked for (--algo minmax): the order search's first start, a second at 10^7 ops, always runs.
_MINMAX_SECONDS = 7e-7
_CHEAP_SECONDS = 0.1


@dataclass
class HeuristicRun:
    """One heuristic's checked answer (without the memory cap) and its wall time."""

    parts: list[int]
    metrics: PartitionMetrics
    seconds: float
    stopped: bool = False  # it ran out of its share of the time limit and handed over what it had
    check_seconds: float = 0.0  # how long checking its answer took (prices the final check under the limit)

    def to_json(self) -> dict:
        return {"bottleneck": self.metrics.bottleneck, "time": self.seconds, "stopped": self.stopped}


@dataclass
class PartRow:
    """One part of a partition: op count, weight, share of the total, first and last op, constant bytes."""

    part: int
    ops: int
    weight: int
    share: float
    first_op: tuple[int, str] | None  # (index, op type) of its first op in topological order
    last_op: tuple[int, str] | None
    constant_bytes: int

    def to_json(self) -> dict:
        op = lambda o: {"index": o[0], "type": o[1]} if o else None  # noqa: E731
        return {"part": self.part, "ops": self.ops, "weight": self.weight, "share": self.share,
                "first_op": op(self.first_op), "last_op": op(self.last_op), "constant_bytes": self.constant_bytes}


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
    heuristics: dict[str, HeuristicRun]  # "minmax", "orders" -> its answer
    part_rows: list[PartRow]
    exact: ExactResult | None = None  # the exact solver's answer, when it ran
    notes: list[str] = field(default_factory=list)
    robust: RobustReport | None = None  # with settings.robust: the robust answer and both partitions per run

    def to_json(self) -> dict:
        """The result's facts as a JSON object (snake_case keys); the problem's are in ``PartitionProblem``."""
        m = self.metrics
        return {
            "num_parts": m.num_parts,
            "method": self.method,
            "status": self.status,
            "bottleneck": m.bottleneck,
            "lower_bound": m.lower_bound,
            "ratio": m.ratio,
            "bound": self.bound,
            "gap": self.gap,
            "parts": [row.to_json() for row in self.part_rows],
            "session_graph": m.session_graph,
            "acyclic": m.acyclic,
            "edge_cut": m.edge_cut,
            "memory_overhead": m.memory_overhead,
            "transfer_bytes": m.transfer_bytes,
            "heuristics": {name: run.to_json() for name, run in self.heuristics.items()},
            "exact": self.exact.to_json() if self.exact else None,
            "robust": self.robust.to_json() if self.robust else None,
            "time": self.time,
            "notes": self.notes,
            "partition_map": self.parts,
        }


def partition(
    problem: PartitionProblem, settings: PartitionSettings, on_progress: Progress | None = None,
    part_memory: PartMemory | None = None, started: float | None = None,
) -> PartitionResult:  # fmt: skip
    """Partition ``problem.graph`` into ``settings.num_parts`` pipeline stages (see the module doc).

    ``on_progress(incumbent, bound, elapsed)`` relays the exact solver's progress. ``part_memory`` (a part's
    ops -> bytes, the memory model of solver.memory) is what ``settings.memory_cap`` caps besides the constants
    (not under ``settings.robust``, whose scenarios cap the constants only). The time limit counts from
    ``started`` (a ``time.monotonic()`` reading; default: now): the command passes when it began reading the
    input, so a big graph's reading is inside the limit.

    Raises
    ------
    GraphError
        ``num_parts`` outside ``1..number of ops``, or the graph is not a valid instance.
    InfeasibleError
        No answer meets ``memory_cap``.
    CheckError
        An answer failed the independent checker (a bug).
    """
    budget = Budget(settings.time_limit, start=started)
    dag, k = problem.dag, settings.num_parts
    check_num_parts(dag, k)
    if settings.memory_cap is None or settings.robust is not None:
        part_memory = None
    if settings.robust is not None:
        from solver.partitioning.robust import first_runs, problem_scenarios, robust_partition

        scenarios = problem_scenarios(problem)  # refused before any solve when the problem has no runs
    steps = _Steps(problem, settings, on_progress, part_memory)
    driven = drive(steps.recipe(), settings, budget)
    found, exact = steps.found, driven.exact.result if driven.exact else None
    parts, status, method = driven.answer, driven.status, "exact" if exact else driven.start.name
    notes = list(problem.notes) + steps.skipped
    notes += [f"{name} stopped at its share of the time limit ({run.seconds:.1f} s) with the best it had found"
              for name, run in found.items() if run.stopped]
    notes += driven.notes
    robust = None
    if settings.robust is not None and not (exact and exact.interrupted):
        robust = robust_partition(dag, scenarios, settings, parts, [run.parts for run in found.values()],
                                  max(0.0, budget.left()), on_progress, first_runs(problem))
        parts, method, status = robust.result.parts, "robust", robust.result.status
        notes += robust.notes
    metrics = _checked(dag, parts, k, settings.memory_cap, part_memory, found)
    bound = exact.bound if exact else metrics.lower_bound
    return PartitionResult(
        parts=list(parts),
        metrics=metrics,
        method=method,
        status=status,
        bound=bound,
        gap=gap(metrics.bottleneck, bound),
        time=budget.elapsed(),
        heuristics=found,
        part_rows=part_rows(problem, parts, metrics),
        exact=exact,
        notes=notes,
        robust=robust,
    )


class _Steps:
    """The partition's steps for :func:`solver.solving.driver.drive`: both heuristics and the pick, then the exact
    solver warm-started by it; ``found`` keeps the heuristics' runs."""

    def __init__(self, problem: PartitionProblem, settings: PartitionSettings, on_progress: Progress | None,
                 part_memory: PartMemory | None = None):  # fmt: skip
        self.problem, self.settings, self.on_progress = problem, settings, on_progress
        self.part_memory = part_memory
        self.found: dict[str, HeuristicRun] = {}
        self.skipped: list[str] = []  # notes on the heuristics not run

    def recipe(self) -> Recipe[list[int]]:
        return Recipe(self.heuristics, self.exact, "the bottleneck may exceed the proven optimum", str)

    def heuristics(self, budget: Budget) -> Start[list[int]]:
        problem, settings = self.problem, self.settings
        self.found, self.skipped = _run_heuristics(problem, settings, budget)
        method = _pick(self.found, settings, problem, self.part_memory)
        run = self.found[method]
        bound = TABLE["bottleneck"].bound(problem.dag, settings.num_parts)
        return Start(method, run.parts, run.metrics.bottleneck, bound)

    def exact(self, start: Start[list[int]], budget: Budget) -> ExactRun[list[int]] | str:
        settings = self.settings
        left = _exact_time(budget, max(run.check_seconds for run in self.found.values()))
        if left < _EXACT_MIN_SECONDS and settings.memory_cap is None:
            return (f"exact solver not run: {left:.1f} s of the {settings.time_limit:g} s time limit were left after "
                    "the heuristics; the answer is the heuristic's, with the lower bound")  # fmt: skip
        # Imported here: OR-Tools takes 0.4 s to load, and the heuristics alone do not need it.
        from solver.partitioning.exact import beyond_models, solve_exact

        dag = self.problem.dag
        if beyond_models(dag) and settings.memory_cap is None:  # (under a cap it checks the answers' memory)
            return (f"exact solver not run: its model of {dag.n} ops and {len(dag.edges)} edges is too large for "
                    "CP-SAT; the answer is the heuristic's, with the lower bound")  # fmt: skip
        result = solve_exact(
            self.problem.dag,
            settings.num_parts,
            hint=start.answer,
            # The time limit bounds the whole partition, the heuristics included (and, with --robust, the
            # robust solve, which gets the other half).
            time_limit=left / (2 if settings.robust else 1),
            workers=settings.workers,
            secondary=settings.secondary,
            slack=settings.slack,
            memory_cap=settings.memory_cap,
            on_progress=self.on_progress,
            part_memory=self.part_memory,
        )
        return ExactRun(result.parts, result.status, result.bound, result.wall_time, result.interrupted, result,
                        result.secondary_status, result.notes, result.workers)  # fmt: skip


def _exact_time(budget: Budget, check: float) -> float:
    """What is left of the time limit for the exact solver, less the final check and report (``_CHECK_SHARE``
    times what checking a heuristic's answer took: the same work, on this machine under its present load)."""
    return max(0.0, budget.left() - _CHECK_SHARE * check)


def part_rows(problem: PartitionProblem, parts: list[int], metrics: PartitionMetrics) -> list[PartRow]:
    """Per part: op count, weight, share of the total, first and last op (in topological order), constants."""
    m = metrics
    ops: list[list[int]] = [[] for _ in range(m.num_parts)]
    for v in problem.dag.order:
        ops[parts[v]].append(v)
    op = lambda v: (v, problem.op_type(v))  # noqa: E731
    return [
        PartRow(
            part=k,
            ops=m.op_counts[k],
            weight=m.loads[k],
            share=m.loads[k] / m.total if m.total else 0.0,
            first_op=op(ops[k][0]) if ops[k] else None,
            last_op=op(ops[k][-1]) if ops[k] else None,
            constant_bytes=m.memory[k],
        )
        for k in range(m.num_parts)
    ]


def _run_heuristics(problem: PartitionProblem, settings: PartitionSettings,
                    budget: Budget) -> tuple[dict[str, HeuristicRun], list[str]]:  # fmt: skip
    """Both heuristics' partitions, checked (without the memory cap), with their wall times, and notes on those
    not run.

    Each stops at its share of the time limit (``_HEURISTIC_SHARE`` of ``budget``, then ``_TURN_SHARE``) and
    hands over the best it has; ``stopped`` says it ran out of its share. MinMax is not started when its share
    cannot pay for one run (``_MINMAX_SECONDS``), unless that is cheap or it was asked for.
    """
    dag, k = problem.dag, settings.num_parts
    heuristics = budget.part(_HEURISTIC_SHARE[settings.exact])
    found, skipped = {}, []
    windows = max(0.0, heuristics.left()) * _BOUND_SHARE
    lower_bound(dag, k, deadline=now() + windows)  # kept on the dag: the order search and the checker use it
    if not closures_known(dag) and dag.n <= WINDOW_OPS:
        skipped.append(f"station windows left out of the lower bound (the weights' bound stands): their closure "
                       f"weights were not done in {windows:.1f} s, {_BOUND_SHARE:.0%} of the heuristics' share (a "
                       "longer --time-limit gives them)")  # fmt: skip
    runs = {
        "minmax": lambda limit: minmax(dag, k, runs=settings.runs, seed=settings.seed, time_limit=limit),
        "orders": lambda limit: order_search(dag, k, seed=settings.seed, time_limit=limit),
    }
    for name, run in runs.items():
        began = now()
        limit = max(0.0, heuristics.end - began) * _TURN_SHARE[name]
        price = _MINMAX_SECONDS * (dag.n + len(dag.edges))
        if name == "minmax" and settings.algo != "minmax" and max(limit, _CHEAP_SECONDS) < price:
            skipped.append(f"minmax not run: one run takes about {price:.1f} s on {dag.n} ops and its share of the "
                           f"time limit had {limit:.1f} s left (a longer --time-limit runs it)")  # fmt: skip
            continue
        parts = run(limit)
        seconds = now() - began
        checked = now()
        metrics = check_partition(dag, parts, k)
        found[name] = HeuristicRun(parts, metrics, seconds, seconds >= limit, now() - checked)
    return found, skipped


def _checked(dag: Dag, parts: list[int], num_parts: int, memory_cap: int | None, part_memory: PartMemory | None,
             found: dict[str, HeuristicRun]) -> PartitionMetrics:  # fmt: skip
    """The final answer checked: a heuristic's answer without a memory cap was checked as it was found (the same
    check again takes seconds at 10^7 ops), any other answer is checked here."""
    same = next((run for run in found.values() if run.parts is parts), None)
    if same is not None and memory_cap is None:
        return same.metrics
    return check_partition(dag, parts, num_parts, memory_cap=memory_cap, part_memory=part_memory)


def _pick(found: dict[str, HeuristicRun], settings: PartitionSettings, problem: PartitionProblem,
          part_memory: PartMemory | None = None) -> str:  # fmt: skip
    """The heuristic to keep: the requested one, or for ``best`` the smaller bottleneck (then edge cut).

    With a memory cap, only answers under the cap count; if none is, the exact solver (which enforces the cap)
    starts without a usable hint, and without it there is no answer.
    """
    algo, cap = settings.algo, settings.memory_cap
    names = [algo] if algo != "best" else sorted(found, key=lambda n: (found[n].metrics.bottleneck,
                                                                       found[n].metrics.edge_cut))
    fitting = [n for n in names if cap is None or _fits(found[n], cap, part_memory, settings.num_parts)]
    if fitting or settings.exact:
        return (fitting or names)[0]
    raise InfeasibleError(
        f"{problem.source}: no heuristic partition meets the memory cap of {cap} bytes per part "
        "(try --exact, which enforces it)"
    )


def _fits(run: HeuristicRun, cap: int, part_memory: PartMemory | None, num_parts: int) -> bool:
    """Every part of ``run`` under ``cap``: its memory model's figure when there is one, else its constants."""
    if part_memory is None:
        return max(run.metrics.memory) <= cap
    return all(part_memory(ops) <= cap for ops in part_ops(run.parts, num_parts))
