"""Partitions robust to the measured variation: the runs of a trace as scenarios, solved exactly with CP-SAT.

The problem
-----------
The op DAG, K parts and precedence ``p(u) <= p(v)`` of :mod:`solver.partitioning.exact`, and S scenarios:
``w_s(v)`` is op v's time in run s of the trace. The bottleneck of ``p`` in scenario s is
``B_s(p) = max_k sum_{p(v)=k} w_s(v)``. For a level ``q`` in (0, 1] and ``m = ceil(q S)``, the robust value
of ``p`` is the m-th smallest of ``B_1(p) .. B_S(p)`` (the lower q-quantile of its per-run bottlenecks: the
bottleneck that holds in at least m runs). Minimise it. ``q = 1`` (the default, ``worst``) is the worst run,
``min_p max_s B_s(p)``; ``q = 0.9`` lets the slowest tenth of the runs (a context switch, a frequency step)
go unanswered, which suits a device whose rare hiccups no partition can avoid.

Why runs and not per-op spreads: ops of one run share its disturbances (a busy core slows a stretch of
consecutive ops), so a run is one consistent scenario; per-op worst cases would add up disturbances that
never happened together.

The model
---------
The feasibility model F(C) of :mod:`solver.partitioning.exact`, built on the per-op minimum weights
``w_min(v) = min_s w_s(v)`` at ``C = hi``, the robust value of the best starting partition. Its variables
(``y[v][b] <=> p(v) <= b`` inside station windows; ``x(v, k) = y[v][k] - y[v][k-1]``), order, precedence,
no-empty-part and memory-cap constraints are kept as they are. Its station windows and its load constraints
hold for every partition whose robust value is at most hi: at least one scenario s is then met, and
``w_s >= w_min`` op by op. Added:

- ``T``, an integer in ``[lb, hi]``; minimise ``T``.
- ``z_s``, boolean: scenario s is met; ``sum_s z_s >= m`` (all fixed true when ``m == S``).
- Scenario loads, for each scenario s and part k: ``sum_v w_s(v) x(v, k) <= T``, enforced if ``z_s``.

``lb``, proven before any solve: the m-th smallest of the scenarios' own lower bounds
(:func:`heuristics.dag.lower_bound` on each ``w_s``), since ``B_s(p)`` is at least scenario s's bound for
every p and order statistics are monotone. CP-SAT raises it while it searches.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import networkx as nx
from ortools.sat.python import cp_model

from heuristics.dag import Dag, check_num_parts, lower_bound, station_windows
from solver.errors import TraceError, UsageError
from solver.io.trace import OpTimes, read_trace
from solver.partitioning.exact import _FeasibilityModel, _starting_partition, _verify, solve_exact
from solver.partitioning.settings import PartitionSettings, check_exact_options, robust_level
from solver.problem import PartitionProblem
from solver.solving.budget import Budget
from solver.solving.cpsat import default_workers, make_solver, solve_in_thread
from solver.solving.outcome import FEASIBLE, HEURISTIC, OPTIMAL, gap

Progress = Callable[[int, int, float], None]


@dataclass
class RobustResult:
    """The answer of :func:`solve_robust`: a partition, its robust value, the proven bound, the status.

    ``status`` as in :class:`solver.partitioning.exact.ExactResult`: ``OPTIMAL`` (value == bound),
    ``FEASIBLE`` (CP-SAT improved on the start) or ``HEURISTIC`` (the best start was kept).
    """

    status: str
    parts: list[int]
    value: int  # the robust value: the m-th smallest per-run bottleneck
    bound: int
    level: float  # q
    covered: int  # m, the runs whose bottleneck is at most the value
    scenarios: int  # S
    wall_time: float
    interrupted: bool = False

    @property
    def gap(self) -> float:
        return gap(self.value, self.bound)

    def to_json(self) -> dict:
        return {"status": self.status, "value": self.value, "bound": self.bound, "gap": self.gap,
                "level": self.level, "covered_runs": self.covered, "runs": self.scenarios,
                "wall_time": self.wall_time, "interrupted": self.interrupted, "parts": self.parts}


@dataclass
class RunTable:
    """How partitions fare on every run: their bottleneck in each scenario, and summaries over the runs."""

    level: float
    bottlenecks: dict[str, list[int]]  # partition name -> bottleneck in each run

    def summary(self, name: str) -> dict[str, float]:
        """Median, mean, worst and the robust value (the ``level`` quantile) of one partition's bottlenecks."""
        values = self.bottlenecks[name]
        return {"median": statistics.median(values), "mean": statistics.fmean(values), "worst": max(values),
                "quantile": robust_value(values, self.level)}

    def to_json(self) -> dict:
        return {"level": self.level,
                "partitions": {name: {"per_run": values, **self.summary(name)}
                               for name, values in self.bottlenecks.items()}}


@dataclass
class RobustReport:
    """The robust answer beside the median-weight optimum, both evaluated on every run."""

    result: RobustResult
    runs: RunTable  # partitions "median" (the median-weight answer) and "robust"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {**self.result.to_json(), "per_run": self.runs.to_json(), "notes": self.notes}


def robust_value(bottlenecks: Sequence[int], level: float) -> int:
    """The m-th smallest of ``bottlenecks``, ``m = ceil(level * S)``: the bottleneck at least m runs meet."""
    return sorted(bottlenecks)[covered_runs(len(bottlenecks), level) - 1]


def covered_runs(scenarios: int, level: float) -> int:
    """``m = ceil(level * S)``, at least 1 (the float product is rounded first so 0.9 * 10 is 9, not 10)."""
    return max(1, math.ceil(round(level * scenarios, 9)))


def scenario_bottlenecks(scenarios: Sequence[Sequence[int]], parts: Sequence[int]) -> list[int]:
    """The bottleneck of ``parts`` under each scenario's weights."""
    k = max(parts, default=-1) + 1
    out = []
    for weights in scenarios:
        loads = [0] * k
        for w, p in zip(weights, parts):
            loads[p] += w
        out.append(max(loads, default=0))
    return out


def trace_scenarios(times: OpTimes, num_ops: int) -> list[list[int]]:
    """One scenario per run of the trace: each op's time (us, rounded) in that run.

    The runs are the timed ones, as for the op weights (:meth:`OpTimes.timed`: warm-up runs left out).

    Raises
    ------
    TraceError
        The ops were not all timed the same number of times, so runs cannot be matched up.
    """
    runs = [times.timed(v) for v in range(num_ops)]
    counts = {len(r) for r in runs}
    if len(counts) != 1:
        raise TraceError(f"{times.source}: ops were timed {min(counts)} to {max(counts)} times; "
                         "the runs cannot be matched up into scenarios")
    return [[int(round(t)) for t in run] for run in zip(*runs)]


def problem_scenarios(problem: PartitionProblem) -> list[list[int]]:
    """The scenarios of a TFLite problem's trace (:func:`trace_scenarios`).

    Raises
    ------
    UsageError
        The problem has no per-run times (a graph file, or a Keras model's layer-times file).
    """
    if problem.model is None or problem.trace is None:
        raise UsageError(f"{problem.source}: --robust needs the times of each run: a TFLite model and its trace")
    return trace_scenarios(read_trace(problem.trace), problem.num_ops)


def solve_robust(
    graph: nx.DiGraph | Dag,
    scenarios: Sequence[Sequence[int]],
    num_parts: int,
    *,
    level: float = 1.0,
    hints: Sequence[Sequence[int]] = (),
    time_limit: float = 60.0,
    workers: int | None = None,
    memory_cap: int | None = None,
    on_progress: Progress | None = None,
) -> RobustResult:
    """Partition ``graph`` minimising the ``level`` quantile of the per-scenario bottlenecks (module doc).

    ``scenarios[s][v]`` is op v's integer weight in scenario s. ``hints`` are partitions to start from
    (invalid ones are ignored); the answer is never worse than the best of them or the trivial partition.
    ``on_progress(value, bound, elapsed)`` is called when either changes and about every second.
    Ctrl-C returns the best answer so far.

    Raises
    ------
    GraphError
        K outside ``1..n``, or the graph is not a valid instance.
    UsageError
        No scenario, a scenario of the wrong length or with a negative time, a bad level, workers or cap.
    InfeasibleError
        No partition meets the memory cap.
    """
    budget = Budget(time_limit)
    dag = Dag.from_graph(graph)
    check_num_parts(dag, num_parts)
    check_exact_options(workers, (), 0.0, memory_cap)
    level = robust_level(level)
    scenarios = _check_scenarios(scenarios, dag.n)
    m = covered_runs(len(scenarios), level)
    value_of = lambda parts: robust_value(scenario_bottlenecks(scenarios, parts), level)  # noqa: E731
    starts = [p for p in (_starting_partition(dag, num_parts, h, memory_cap) for h in (*hints, None)) if p]
    best = min(starts, key=value_of, default=None)
    if best is None:  # only with a memory cap that no hint meets: the exact solver finds one, or proves none
        best = solve_exact(dag, num_parts, time_limit=time_limit, workers=workers, memory_cap=memory_cap).parts
    hi = value_of(best)
    lb = sorted(lower_bound(replace(dag, weights=list(w)), num_parts) for w in scenarios)[m - 1]
    result = RobustResult(HEURISTIC, list(best), hi, min(lb, hi), level, m, len(scenarios), 0.0)
    if on_progress is not None:
        on_progress(result.value, result.bound, budget.elapsed())
    remaining = budget.left()
    if lb < hi and remaining > 0.01:
        _improve(result, dag, scenarios, num_parts, memory_cap, workers or default_workers(), remaining,
                 lambda v, b: on_progress and on_progress(v, b, budget.elapsed()))
    if result.bound >= result.value:
        result.status = OPTIMAL
    _verify(dag, result.parts, num_parts, memory_cap)
    result.wall_time = budget.elapsed()
    return result


def _check_scenarios(scenarios: Sequence[Sequence[int]], n: int) -> list[list[int]]:
    if not scenarios:
        raise UsageError("robust partitioning needs at least one scenario (run)")
    out = []
    for s, weights in enumerate(scenarios):
        weights = list(weights)
        if len(weights) != n:
            raise UsageError(f"scenario {s} has {len(weights)} op times, the graph {n} ops")
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
            raise UsageError(f"scenario {s}: op times must be non-negative integers")
        out.append(weights)
    return out


def _improve(result: RobustResult, dag: Dag, scenarios: list[list[int]], k: int, memory_cap: int | None,
             workers: int, seconds: float, report: Callable[[int, int], None]) -> None:
    """Build the model of the module doc at ``hi = result.value``, solve it, and update ``result`` in place."""
    hi = result.value
    base = replace(dag, weights=[min(ws) for ws in zip(*scenarios)])
    windows = station_windows(base, k, hi)
    built = _FeasibilityModel(base, k, hi, windows, memory_cap)
    model = built.model
    target = model.new_int_var(result.bound, hi, "T")
    met = [model.new_bool_var(f"z[{s}]") for s in range(len(scenarios))]
    model.add(sum(met) >= result.covered)
    for s, weights in enumerate(scenarios):
        for part in range(k):
            load = built.load(weights, part)
            if not isinstance(load, int) or load > 0:
                model.add(load <= target).only_enforce_if(met[s])
    model.minimize(target)
    built.hint(result.parts)
    bottlenecks = scenario_bottlenecks(scenarios, result.parts)
    model.add_hint(target, hi)
    for z, b in zip(met, bottlenecks):
        model.add_hint(z, b <= hi)
    watch = _Watch(report, result)
    solver = make_solver(seconds, workers)
    done = solve_in_thread(solver, model, callback=watch, on_tick=watch.tick)
    result.interrupted = done.interrupted
    if done.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        parts = built.parts(solver)
        value = robust_value(scenario_bottlenecks(scenarios, parts), result.level)
        if value < result.value:
            result.parts, result.value, result.status = parts, value, FEASIBLE
        result.bound = max(result.bound, min(result.value, int(math.ceil(solver.best_objective_bound - 1e-6))))
    elif done.status == cp_model.INFEASIBLE:
        result.bound = result.value  # nothing below hi: the start is optimal


class _Watch(cp_model.CpSolverSolutionCallback):
    """Relays CP-SAT's incumbent and bound to the progress callback (from the main thread's ticks)."""

    def __init__(self, report: Callable[[int, int], None], result: RobustResult):
        super().__init__()
        self.report, self.value, self.bound = report, result.value, result.bound

    def on_solution_callback(self) -> None:
        self.value = min(self.value, int(round(self.objective_value)))
        self.bound = max(self.bound, int(math.ceil(self.best_objective_bound - 1e-6)))

    def tick(self) -> None:
        self.report(self.value, min(self.bound, self.value))


def compare_on_runs(scenarios: Sequence[Sequence[int]], partitions: Mapping[str, Sequence[int]],
                    level: float) -> RunTable:
    """Each partition's bottleneck in every scenario."""
    return RunTable(level, {name: scenario_bottlenecks(scenarios, parts) for name, parts in partitions.items()})


def first_runs(problem: PartitionProblem) -> set[int]:
    """Positions among the trace's timed runs of each round's first timed run (the run after the warm-up, which
    still meets cold caches and thread pools); the first timed run when the trace does not say its rounds."""
    rounds = read_trace(problem.trace).rounds if problem.trace is not None else None
    starts, position = set(), 0
    for _, count in rounds or [(0, 1)]:
        starts.add(position)
        position += count
    return starts


def robust_partition(dag: Dag, scenarios: list[list[int]], settings: PartitionSettings, median: Sequence[int],
                     hints: Sequence[Sequence[int]], time_limit: float,
                     on_progress: Progress | None = None, cold: set[int] = frozenset()) -> RobustReport:
    """The robust answer for ``settings`` (``settings.robust`` set), warm-started by the median-weight answer
    ``median`` and the heuristics' ``hints``, with both partitions evaluated on every run; ``cold`` holds the
    runs that are the first of their round (a note says when the worst runs are those)."""
    level = settings.robust_level
    result = solve_robust(dag, scenarios, settings.num_parts, level=level, hints=[median, *hints],
                          time_limit=time_limit, workers=settings.workers, memory_cap=settings.memory_cap,
                          on_progress=on_progress)
    what = "the worst run" if level == 1 else f"the {level:g} quantile (met by {result.covered} of the runs)"
    notes = [f"robust: minimised the bottleneck of {what} over {result.scenarios} runs of the trace, "
             f"status {result.status}; the bottleneck and bound above are under the median op weights"]
    if result.interrupted:
        notes.append("robust: interrupted, the answer is the best found so far")
    if result.scenarios == 1:
        notes.append("robust: the trace holds one timed run, so the robust answer is the median-weight one's problem")
    table = compare_on_runs(scenarios, {"median": median, "robust": result.parts}, level)
    per_run = table.bottlenecks["robust"]
    worst = [i for i, b in enumerate(per_run) if b == max(per_run)]
    if result.scenarios > 1 and worst and all(i in cold for i in worst):
        runs = ", ".join(f"run {i + 1}" for i in worst)
        notes.append(f"robust: the worst run(s) ({runs}) are the first timed run of "
                     "their round: cold caches and thread pools, not the device's load; more --warmup in solve "
                     "profile, or --robust quantile:0.9, plans for warm runs")  # fmt: skip
    return RobustReport(result, table, notes)
