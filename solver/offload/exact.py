"""The exact offloading model (CP-SAT) and the labeling floor under every plan; the problem is stated in
:mod:`solver.offload.problem`.

The model (CP-SAT, :func:`solve_offload`)
------------------------------------------
``S`` part slots (enough for every plan that could beat the warm start, or a proven bound beyond them:
:class:`PartSlots`):
- ``x[v][k]``: op v in part k, ``sum_k x[v][k] = 1``; ``p[v] = sum_k k x[v][k]`` and ``p[u] <= p[v]`` on every
  edge: numbered parts with every tensor flowing forward are exactly the acyclic session graphs.
- ``y[k][b]``: part k runs on b; ``sum_b y[k][b] = used[k]``, ``used[k] >= used[k+1]``, ``x[v][k] <= used[k]``,
  ``x[v][k] + y[k][b] <= 1`` where b is not allowed for v; consecutive parts differ in backend unless some
  backend has a ``reject`` rule or a memory cap (merging two consecutive parts on one backend keeps every other
  constraint and never costs more, so this loses no optimum; a reject rule may refuse the merged part, and the
  planner may give the merged session more than the two: its hand-off is then planned with the rest).
- ``o[v][b] >= x[v][k] + y[k][b] - 1``, ``sum_b o[v][b] = 1``: the backend of op v.
- ``min_part_ops N <= sum_v x[v][k]`` when ``used[k]``.
- ``r[i][k] >= x[c][k]`` (c a consumer of i): i is read in k; ``in[i][k] >= r[i][k] - x[u][k]`` (u its
  producer): i is handed into k; ``h[i][k][a][b] >= in[i][k] + o[u][a] + y[k][b] - 2`` costs ``c(i, a, b)``,
  and ``in[i][k] + o[u][a] + y[k][b] <= 2`` where a and b have no link.
- Memory (backends capped under a memory model, :mod:`solver.offload.problem`): the model's monotone relaxation
  of a session (``solver.placement.problem.MemoryFigure``: ``fixed + sum of the relaxed bytes of the tensors
  its ops touch``), and the floor of each op alone, which a part holding it needs at least (``part_floor``:
  its constants and workspace are among the part's, and its inputs and outputs are the part's I/O or live
  together in its arena when it runs; the caller's copies of its I/O are left out), summed over a backend's parts: ``m[j][k] >= x[v][k]`` (v an op touching tensor j), and
  when ``y[k][b]``: ``z[k][b] >= fixed + sum_j bytes_j m[j][k]`` and ``z[k][b] >= floor({v})`` where
  ``x[v][k]``; ``sum_k z[k][b] <= cap(b)``. The model's figure itself is checked lazily: when a backend's parts
  of CP-SAT's answer pass its capacity, the fewest of them that do (the largest) are forbidden together on it
  (a no-good: not all of these op sets as parts of that backend; any plan that has them there is over, since
  sessions only add), and CP-SAT solves again, so no plan within the capacities is lost and INFEASIBLE stays a
  proof. The labeling floor keeps what each capped backend holds whatever its parts
  (:func:`backend_memory_floor`).
- minimise ``sum t(v, b) o[v][b] + sum c(i, a, b) h[i][k][a][b]``.
Every paying variable (r, in, h) is only bounded from below, which is exact as the objective never gains
from raising one. The warm start is the best of the greedy plans (:mod:`solver.offload.baselines`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from solver.errors import InfeasibleError
from solver.offload.baselines import frontier_parts, reject_parts
from solver.offload.metrics import OffloadMetrics, evaluate_or_none, evaluate_plan
from solver.offload.objectives import TABLE
from solver.offload.problem import OffloadProblem
from solver.solving.budget import Budget, now
from solver.solving.cpsat import solve_reporting
from solver.solving.outcome import FEASIBLE, HEURISTIC, OPTIMAL, status_of

SLOT_CAP = 24  # part slots of the exact model when neither --max-parts nor the op count bounds them lower
LABELING_SHARE, LABELING_CAP = 0.2, 10.0  # the first fifth of the time limit, and 10 s at most, for labeling
GREEDY_SHARE = 0.3  # the first 30% of the time limit for the warm starts' improvement before the exact solve
SLOT_VARIABLES = 200_000  # the part-slot model's size at most (Boolean variables): building it is not timed


@dataclass(frozen=True)
class PartSlots:
    """The part slots of the exact model and the least latency of any plan with more parts than that.

    A plan has at most ``n // min_part_ops`` parts (and ``max_parts``). A part that no tensor is handed into
    holds a source op of the model (its first op has no predecessor), so a plan of P parts pays at least
    ``P - sources`` hand-offs of at least the cheapest hand-off c on top of the op times' bound T: a plan of
    more than S parts takes at least ``T + (S + 1 - sources) c``, and at least the floor every plan pays
    (:func:`labeling`): ``beyond`` is the larger. The model's optimum over S slots is
    the optimum when it is at most ``beyond``, and ``min(bound over S slots, beyond)`` is a bound on every plan.
    """

    slots: int
    beyond: float  # inf when no valid plan has more than ``slots`` parts

    @property
    def complete(self) -> bool:
        return self.beyond == math.inf


@dataclass
class OffloadSolve:
    """The exact solver's plan, status, latency and proven bound (within ``slots`` parts)."""

    backend: list[int]
    parts: list[int]
    status: str
    value: int
    bound: int
    cover: PartSlots
    wall_time: float
    interrupted: bool = False


def part_slots(problem: OffloadProblem, hint: OffloadMetrics | None = None, floor: int = 0) -> PartSlots:
    """Enough slots for every plan with as many parts as the warm start (and twice that, at least ``SLOT_CAP``),
    fewer when no plan better than the warm start can have that many (:class:`PartSlots`), and no more than
    ``SLOT_VARIABLES`` allow (0: the model would be too large to build in a time limit's share)."""
    most = problem.num_ops // min(problem.min_ops(b) for b in range(len(problem.backends)))
    if problem.max_parts is not None:
        most = min(most, problem.max_parts)
    trivial, cheapest = TABLE["latency"].bound(problem), _cheapest_handoff(problem)
    sources = sum(1 for v in range(problem.num_ops) if not problem.base.dag.preds[v])
    slots = min(most, max(SLOT_CAP, 2 * (hint.num_parts if hint else 0) + 2))
    if hint is not None and cheapest > 0:
        slots = min(slots, max(hint.num_parts, sources + (hint.latency - trivial) // cheapest))
    slots = max(min(slots, SLOT_VARIABLES // _variables_per_slot(problem)), 0)
    if slots >= most:
        return PartSlots(slots, math.inf)
    return PartSlots(slots, max(floor, trivial + max(0, slots + 1 - sources) * cheapest))


def labeling_time(budget: Budget) -> float:
    """The seconds of ``budget`` that :func:`labeling` gets: to the end of its first ``LABELING_SHARE``, and
    ``LABELING_CAP`` at most."""
    return budget.part(LABELING_SHARE).within(LABELING_CAP).left()


def _variables_per_slot(problem: OffloadProblem) -> int:
    """The part-slot model's Boolean variables per slot: op in part, part on backend, and per tensor read,
    handed in and paid per pair of backends."""
    B = len(problem.backends)
    pairs = sum(len(problem.allowed[t.producer]) * len(set().union(*(problem.allowed[c] for c in t.consumers)))
                for t in problem.base.tensors)  # fmt: skip
    return problem.num_ops + B + 2 * len(problem.base.tensors) + pairs


def _cheapest_handoff(problem: OffloadProblem) -> int:
    """The least cost of handing any tensor from any backend its producer may use to any backend (0: free)."""
    handoff = problem.handoff
    costs = [handoff[a][b][i] for i, tensor in enumerate(problem.base.tensors) if tensor.consumers
             for a in problem.allowed[tensor.producer] for b in range(len(problem.backends))
             if handoff[a][b] is not None]  # fmt: skip
    return min(costs, default=0)


def solve_offload(
    problem: OffloadProblem,
    hint: tuple[list[int], list[int]] | None = None,
    *,
    time_limit: float = 60.0,
    workers: int | None = None,
    on_progress: Callable[[int, int, float], None] | None = None,
) -> OffloadSolve:
    """Solve the model of the module docstring; OPTIMAL only when no plan can be better.

    First :func:`labeling`: its floor bounds every plan, and its backends cut into parts are a second warm
    start; when the better warm start reaches the floor it is optimal and the slot model is not built.

    Raises
    ------
    InfeasibleError
        CP-SAT proves that no plan meets the limits.
    """
    budget = Budget(time_limit)
    starts = [evaluate_plan(problem, *hint) if hint is not None else None]
    on_bound = None
    if on_progress is not None and starts[0] is not None:  # the warm start is the incumbent meanwhile
        on_bound = lambda bound, _: on_progress(starts[0].latency, bound, budget.elapsed())  # noqa: E731
    relaxed = labeling(problem, labeling_time(budget), workers, on_bound)
    floor = relaxed.floor
    if relaxed.backend is not None:
        backend = reject_parts(problem, relaxed.backend, budget.part(GREEDY_SHARE))
        starts.append(evaluate_or_none(problem, backend, frontier_parts(problem, backend)))
    hint_metrics = min((s for s in starts if s is not None), key=lambda s: s.latency, default=None)
    if hint_metrics is not None and (hint_metrics.latency <= floor or relaxed.interrupted):
        found = status_of(hint_metrics.latency, floor, improved=False)
        return OffloadSolve(hint_metrics.backend, hint_metrics.parts, found, hint_metrics.latency,
                            min(floor, hint_metrics.latency), PartSlots(0, math.inf), budget.elapsed(),
                            relaxed.interrupted)  # fmt: skip
    if relaxed.interrupted:
        raise KeyboardInterrupt  # stopped before any plan was found
    cover = part_slots(problem, hint_metrics, floor)
    if cover.slots == 0:  # too large a model: the best warm start and the floor
        if hint_metrics is None:
            raise InfeasibleError(f"{problem.base.name}: no greedy plan meets the limits, and the exact model would "
                                  f"exceed {SLOT_VARIABLES} variables")  # fmt: skip
        return OffloadSolve(hint_metrics.backend, hint_metrics.parts, HEURISTIC, hint_metrics.latency,
                            min(floor, hint_metrics.latency), cover, budget.elapsed())  # fmt: skip
    built = _Model(problem, cover.slots, floor)
    if hint_metrics is not None and hint_metrics.num_parts <= cover.slots:
        built.hint(hint_metrics)
    while True:  # a part some backend's reject refuses, or parts over its memory, forbidden and solved again
        done = solve_reporting(built.model, budget.left(), workers, budget.start, on_progress)
        solver, status = done.solver, done.status
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or done.interrupted:
            break
        refused = _refused_parts(problem, *built.plan(solver))
        over = problem.over_memory(*built.plan(solver))
        if not (refused or over) or budget.passed():
            break
        for b, ops in refused:
            built.forbid(b, ops)
        for b, groups in over:
            built.forbid_together(b, groups)
    elapsed = budget.elapsed()
    answered = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    if answered and not _refused_parts(problem, *built.plan(solver)) and not problem.over_memory(*built.plan(solver)):
        backend, parts = built.plan(solver)
        value = evaluate_plan(problem, backend, parts).latency
        if hint_metrics is not None and hint_metrics.latency < value:  # never worse than the warm start
            backend, parts, value = hint_metrics.backend, hint_metrics.parts, hint_metrics.latency
        found = OPTIMAL if status == cp_model.OPTIMAL and value <= cover.beyond else FEASIBLE
        bound = min(max(int(solver.best_objective_bound), floor), cover.beyond, value)  # CP-SAT's may lag the floor
        return OffloadSolve(backend, parts, found, value, int(bound), cover, elapsed, done.interrupted)
    if status == cp_model.INFEASIBLE and cover.complete:
        memory = f", backend memory ({problem.base.memory_name} model)" if problem.memory_capped else ""
        raise InfeasibleError(f"{problem.base.name}: no plan meets the limits (min part ops "
                              f"{problem.min_part_ops}, max parts {problem.max_parts}{memory}) on "
                              f"{problem.base.platform.source}")  # fmt: skip
    if hint_metrics is None:
        raise InfeasibleError(f"{problem.base.name}: the exact solver found no plan within {time_limit:g} s "
                              f"and no greedy plan meets the limits")  # fmt: skip
    bound = floor if status != cp_model.INFEASIBLE else cover.beyond
    return OffloadSolve(hint_metrics.backend, hint_metrics.parts, HEURISTIC, hint_metrics.latency,
                        int(min(bound, hint_metrics.latency)), cover, elapsed, done.interrupted)  # fmt: skip


def _refused_parts(problem: OffloadProblem, backend: list[int], parts: list[int]) -> list[tuple[int, list[int]]]:
    groups: dict[int, list[int]] = {}
    for v, k in enumerate(parts):
        groups.setdefault(k, []).append(v)
    return [(backend[ops[0]], ops) for ops in groups.values() if problem.rejects(backend[ops[0]], ops)]


def crossing_terms(m: cp_model.CpModel, problem: OffloadProblem, o: list[dict]) -> list:
    """The hand-offs every plan pays, whatever its parts, from the backends ``o[v][b]`` (op v on b) alone.

    A consumer c of tensor i (producer u) sits in another part than u when it runs on another backend, or when
    an op w on a path from u to c does (parts are numbered along every path, so u's part would have to hold w).
    Then i is handed into c's part on c's backend b, at least at the cheapest cost of a link into b from a
    backend u may use: ``handed[i][b] >= o[u][a] + o[c][b] - 1`` (a != b) and ``handed[i][b] >= o[u][b] +
    o[c][b] + o[w][d] - 2`` (d != b), once per tensor and backend (consumers on b may share one part). Where
    the link is missing, the combination is forbidden instead.
    """
    dag, terms = problem.base.dag, []
    position = {v: k for k, v in enumerate(dag.order)}
    for i, tensor in enumerate(problem.base.tensors):
        u = tensor.producer
        between = {c: _between(dag, position, u, c) for c in tensor.consumers}
        for b in set().union(*(problem.allowed[c] for c in tensor.consumers)):
            readers = [c for c in tensor.consumers if b in o[c]]
            # each way c on b is cut off from u: (backend of u, the terms that must all hold)
            ways = [(a, [o[u][a], o[c][b]]) for c in readers for a in problem.allowed[u] if a != b]
            if b in o[u]:
                ways += [(b, [o[u][b], o[c][b], o[w][d]]) for c in readers
                         for w in between[c] for d in o[w] if d != b]  # fmt: skip
            costs = []
            for a, terms_held in ways:
                if problem.handoff[a][b] is None:
                    m.add(sum(terms_held) <= len(terms_held) - 1)
                else:
                    costs.append(problem.handoff[a][b][i])
            if not costs or not min(costs):
                continue
            handed = m.new_bool_var("")
            for a, terms_held in ways:
                if problem.handoff[a][b] is not None:
                    m.add(handed >= sum(terms_held) - (len(terms_held) - 1))
            terms.append(min(costs) * handed)
    return terms


def _between(dag, position: dict[int, int], u: int, c: int) -> set[int]:
    """The ops on a path from u to c, ends excluded: searched only between their places in the topological order."""
    def reach(start: int, step: list[list[int]], inside) -> set[int]:
        seen, stack = set(), [start]
        while stack:
            for w in step[stack.pop()]:
                if w not in seen and inside(w):
                    seen.add(w)
                    stack.append(w)
        return seen

    low, high = position[u], position[c]
    return (reach(u, dag.succs, lambda w: position[w] < high)
            & reach(c, dag.preds, lambda w: position[w] > low))


def backend_memory_floor(m: cp_model.CpModel, problem: OffloadProblem, o: list[dict]) -> None:
    """What every capped backend holds whatever its parts, from the backends ``o[v][b]`` of the ops alone: one
    session's fixed cost once it runs an op, each tensor of the memory model's relaxation its ops touch at least
    once, and an op whose floor passes the capacity never (a part holding it needs at least as much)."""
    if not problem.memory_capped:
        return
    base = problem.base
    items = [item for item in base.memory_items() if item.relaxed > 0]
    fixed = math.floor(base.memory_model.fixed)
    for b in range(len(problem.backends)):
        cap = base.memory_cap(b)
        ops = [v for v in range(problem.num_ops) if b in o[v]]
        if cap is None or not ops:
            continue
        for v in ops:
            if base.part_floor([v]) > cap:
                m.add(o[v][b] == 0)
        used = m.new_bool_var("")
        m.add_max_equality(used, [o[v][b] for v in ops])
        terms = []
        for item in items:
            on = [o[v][b] for v in item.ops if b in o[v]]
            if on:
                held = m.new_bool_var("")
                m.add_max_equality(held, on)
                terms.append(item.relaxed * held)
        m.add(fixed * used + sum(terms) <= cap)


@dataclass(frozen=True)
class Labeling:
    """:func:`labeling`'s answer: a floor under every plan's latency and the backends that reach it (if found)."""

    floor: int
    backend: list[int] | None
    interrupted: bool = False  # Ctrl-C stopped the solve: the floor is what was proven by then


def labeling(problem: OffloadProblem, time_limit: float, workers: int | None = None,
             on_bound: Callable[[int, float], None] | None = None) -> Labeling:
    """A lower bound on the latency of every plan: the least op times plus :func:`crossing_terms` over the
    backends of the ops alone, parts left out (a relaxation, solved by CP-SAT; its proven bound if not optimal).

    Variables ``o[v][b]`` (op v on allowed backend b, exactly one per op), within :func:`backend_memory_floor`;
    minimise ``sum t(v, b) o[v][b] + sum crossing terms``. Its backends, cut into parts, are also a warm start.
    ``on_bound(floor so far, seconds)`` is called about every second.
    """
    m = cp_model.CpModel()
    o = [{b: m.new_bool_var("") for b in problem.allowed[v]} for v in range(problem.num_ops)]
    for choice in o:
        m.add_exactly_one(choice.values())
    backend_memory_floor(m, problem, o)
    times = [problem.time(v, b) * on for v in range(problem.num_ops) for b, on in o[v].items()]
    m.minimize(sum(times) + sum(crossing_terms(m, problem, o)))
    trivial = TABLE["latency"].bound(problem)
    relay = None if on_bound is None else lambda _, bound, seconds: on_bound(max(int(bound), trivial), seconds)
    done = solve_reporting(m, max(time_limit, 0.01), workers, now(), relay)
    solver = done.solver
    if done.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Labeling(trivial, None, done.interrupted)
    backend = [next(b for b, on in choice.items() if solver.boolean_value(on)) for choice in o]
    return Labeling(max(int(math.ceil(solver.best_objective_bound - 1e-6)), trivial), backend, done.interrupted)


class _Model:
    """The CP-SAT model of the module docstring over ``slots`` parts."""

    def __init__(self, problem: OffloadProblem, slots: int, floor: int):
        self.problem, self.slots = problem, slots
        m = self.model = cp_model.CpModel()
        n, B, S = problem.num_ops, len(problem.backends), slots
        self.x = [[m.new_bool_var(f"x{v}_{k}") for k in range(S)] for v in range(n)]
        self.y = [[m.new_bool_var(f"y{k}_{b}") for b in range(B)] for k in range(S)]
        self.o = [{b: m.new_bool_var(f"o{v}_{b}") for b in problem.allowed[v]} for v in range(n)]
        used = [sum(self.y[k]) for k in range(S)]
        merging_is_free = not any(problem.reject or ()) and not problem.memory_capped
        self.size: list = []
        for k in range(S):
            m.add(used[k] <= 1)
            if k + 1 < S:
                m.add(used[k] >= used[k + 1])
                for b in range(B if merging_is_free else 0):
                    m.add(self.y[k][b] + self.y[k + 1][b] <= 1)
            self.size.append(sum(self.x[v][k] for v in range(n)))
            m.add(self.size[k] >= sum(problem.min_ops(b) * self.y[k][b] for b in range(B)))
        pos = []
        for v in range(n):
            m.add_exactly_one(self.x[v])
            m.add_exactly_one(self.o[v].values())
            for k in range(S):
                m.add(self.x[v][k] <= used[k])
                for b in range(B):
                    if b in self.o[v]:
                        m.add(self.o[v][b] >= self.x[v][k] + self.y[k][b] - 1)
                    else:
                        m.add(self.x[v][k] + self.y[k][b] <= 1)
            pos.append(sum(k * self.x[v][k] for k in range(S)))
        for u, v in problem.base.graph.edges:
            m.add(pos[u] <= pos[v])
        self.cost = [problem.time(v, b) * on for v in range(n) for b, on in self.o[v].items()]
        self.handoffs: list = []
        handoffs = self.handoffs
        for i, tensor in enumerate(problem.base.tensors):
            u = tensor.producer
            readers = set().union(*(problem.allowed[c] for c in tensor.consumers))
            for k in range(S):
                read = m.new_bool_var("")
                for c in tensor.consumers:
                    m.add(read >= self.x[c][k])
                into = m.new_bool_var("")
                m.add(into >= read - self.x[u][k])
                for a in problem.allowed[u]:
                    for b in readers:
                        costs = problem.handoff[a][b]
                        if costs is None:
                            m.add(into + self.o[u][a] + self.y[k][b] <= 2)
                        elif costs[i]:
                            paid = m.new_bool_var("")
                            m.add(paid >= into + self.o[u][a] + self.y[k][b] - 2)
                            handoffs.append(costs[i] * paid)
        m.add(sum(handoffs) >= sum(crossing_terms(m, problem, self.o)))
        self._memory()
        self._at_most: dict[tuple[int, int], cp_model.IntVar] = {}
        latency = TABLE["latency"].model(self)
        m.add(latency >= floor)  # labeling's proven floor
        m.minimize(latency)

    def _memory(self) -> None:
        """The memory model's relaxation summed over each capped backend's parts (the module docstring)."""
        problem, m = self.problem, self.model
        if not problem.memory_capped:
            return
        base, S = problem.base, self.slots
        items = [item for item in base.memory_items() if item.relaxed > 0]
        parts = []
        for k in range(S):
            terms = []
            for item in items:
                held = m.new_bool_var("")  # m[j][k]: part k holds tensor j
                for v in item.ops:
                    m.add_implication(self.x[v][k], held)
                terms.append(item.relaxed * held)
            parts.append(sum(terms))
        fixed = math.floor(base.memory_model.fixed)
        most = sum(item.relaxed for item in items)
        alone = [base.part_floor([v]) for v in range(problem.num_ops)]
        for b in range(len(problem.backends)):
            cap = base.memory_cap(b)
            if cap is None:
                continue
            on_b = []
            for k in range(S):
                z = m.new_int_var(0, max(most + fixed, max(alone)), "")  # z[k][b]: part k's bytes on b, relaxed
                m.add(z >= parts[k] + fixed).only_enforce_if(self.y[k][b])
                for v in range(problem.num_ops):
                    if b in self.o[v] and alone[v] > fixed:
                        m.add(z >= alone[v]).only_enforce_if([self.x[v][k], self.y[k][b]])
                on_b.append(z)
            m.add(sum(on_b) <= cap)

    def _exactly(self, k: int, ops: list[int]) -> cp_model.IntVar:
        """A literal true when part k has at most ``len(ops)`` ops (so, holding them all, exactly them)."""
        key = (k, len(ops))
        if key not in self._at_most:
            at_most = self._at_most[key] = self.model.new_bool_var("")
            self.model.add(self.size[k] <= len(ops)).only_enforce_if(at_most)
            self.model.add(self.size[k] >= len(ops) + 1).only_enforce_if(at_most.Not())
        return self._at_most[key]

    def forbid(self, b: int, ops: list[int]) -> None:
        """No part on backend b holds exactly ``ops`` (a part its ``reject`` refused)."""
        for k in range(self.slots):
            self.model.add_bool_or([self.x[v][k].Not() for v in ops]
                                   + [self.y[k][b].Not(), self._exactly(k, ops).Not()])  # fmt: skip

    def forbid_together(self, b: int, groups: list[list[int]]) -> None:
        """Backend b does not run all of ``groups`` as parts (op sets whose sessions together pass its memory)."""
        present = []
        for ops in groups:
            here = self.model.new_bool_var("")  # some part on b is exactly ops
            for k in range(self.slots):
                self.model.add_bool_or([here] + [self.x[v][k].Not() for v in ops]
                                       + [self.y[k][b].Not(), self._exactly(k, ops).Not()])  # fmt: skip
            present.append(here)
        self.model.add_bool_or([here.Not() for here in present])

    def hint(self, plan: OffloadMetrics) -> None:
        for v in range(self.problem.num_ops):
            for k in range(self.slots):
                self.model.add_hint(self.x[v][k], plan.parts[v] == k)
            for b, on in self.o[v].items():
                self.model.add_hint(on, plan.backend[v] == b)
        for k in range(self.slots):
            for b in range(len(self.problem.backends)):
                self.model.add_hint(self.y[k][b], k < plan.num_parts and plan.part_backends[k] == b)

    def plan(self, solver) -> tuple[list[int], list[int]]:
        n = self.problem.num_ops
        parts = [next(k for k in range(self.slots) if solver.boolean_value(self.x[v][k])) for v in range(n)]
        backend = [next(b for b, on in self.o[v].items() if solver.boolean_value(on)) for v in range(n)]
        return backend, parts

