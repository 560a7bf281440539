"""Exact placement of an op DAG on heterogeneous devices joined by links, with CP-SAT.

The problem
-----------
Ops ``V`` with a time ``t(v, d)`` on each device ``d`` that supports them, data tensors ``i`` (bytes,
one producer, consumers), constant tensors, devices with a memory capacity, and directed links with a
transfer time ``c(i, a, b)`` per tensor (none where two devices have no link). Find a partition of the ops
into at most ``|D|`` parts, each part on its own device, with an acyclic session graph; a part is the set
of ops of one device, so the decision is the device of each op.

The model
---------
- ``a[v][d]``: op v runs on device d (only where d supports v); ``sum_d a[v][d] = 1``.
- ``pos[d]`` in ``0..|D|-1``, all different: the device's place in the pipeline; ``s[v] = pos[d]`` when
  ``a[v][d]``. Precedence ``s[u] <= s[v]`` on every edge: the session graph is acyclic exactly when the
  devices can be ordered so that every tensor flows forward.
- ``r[i][b] >= a[c][b]`` for each consumer c of tensor i: i is read on b. ``x[i][a][b] >= a[u][a] +
  r[i][b] - 1`` (u the producer, a != b): i crosses link (a, b). Without a link, ``a[u][a] + r[i][b] <= 1``.
- compute(d) = ``sum_v t(v, d) a[v][d]``; link(a, b) = ``sum_i c(i, a, b) x[i][a][b]``.
- Memory: ``m[k][d] >= a[v][d]`` for every op v that reads constant k or reads or writes tensor k;
  ``sum_k bytes_k m[k][d] <= cap(d)``. Under a memory model (``PlacementProblem.memory_model``) this is its
  monotone relaxation (``bytes_k`` scaled, ``cap(d)`` less its fixed cost; a device whose cap the fixed cost
  passes runs no op), and the model's figure is checked lazily: a part of CP-SAT's answer over its device's cap
  gets a no-good on every device whose cap it passes (not exactly these ops there), and CP-SAT solves again, so
  no placement under the caps is lost and INFEASIBLE stays a proof.
- The engine's cost per request on a measured device (``PlacementProblem.engine``, solver.placement.engine):
  ``used[d] >= a[v][d]``; ``rd[t][d]`` (flow t is read on d, exact both ways: ``rd <= OR_c a[c][d]``);
  ``in[t][d] >= rd[t][d] - a[p][d]`` (p its producer; a model input: ``>= rd[t][d]``), ``out[t][d] >= a[p][d] +
  rd[t][b] - 1`` for b != d (and ``>= a[p][d]`` for a model output); a reader b (a device, or the client for the
  model's outputs) *takes* some of d's outputs, ``take[d][b] >= a[p][d] + rd[t][b] - 1``, and *misses* one,
  ``miss[d][b] >= out[t][d] - rd[t][b]``; ``pick[d][b] >= take + miss - 1`` is its picking task. Then
  ``busy(d) = compute(d) + task_us (used[d] + sum_b pick[d][b]) + sum_t pipe_us(t) (in[t][d] + out[t][d])``
  (the throughput's device load) and ``duration(d) = compute(d) + hop_us used[d] + sum_t pipe_us(t) (in + out)``
  (a part's time in the latency); without measured devices both are compute(d). On a device whose core's CPU was
  measured, ``busy`` counts its core's CPU instead (its CPU per task and per tensor through the session) and
  the messages it sends and receives: ``lk[a][b] >= x[i][a][b]`` (a message goes a -> b, holding every tensor
  crossing), ``+ sum_b (send_us lk[d][b] + sum_i sending(i) x[i][d][b]) + sum_a (receive_us lk[a][d] + sum_i
  receiving(i, a, d) x[i][a][d])`` (solver.placement.engine: every coefficient >= 0). Every one of these
  variables only pays, so it is bounded from below alone, except ``rd``, which a wrong 1 would let miss a picking
  task.
- The objective (``throughput``: the bottleneck; ``latency``: a request's way through the parts as the run has it)
  is modelled as its row of solver/placement/objectives.py says, on a variable ``objective`` that is minimised.

Secondary objectives (lexicographic, :mod:`solver.solving.secondary`; ``cut`` and ``bytes``, modelled in the same
table) keep the objective at most ``floor(best * (1 + slack))``.

For ``throughput``, the prefix search (solver.placement.prefixes: branch and bound over chains of ideals, exact on
graphs with few ideals) runs alone for a tenth of the time, then in the main thread while CP-SAT
searches in its own: the first proof stops the other, and the best placement either found is the answer
(when CP-SAT ends before the time is up without a proof, the prefix search goes on alone).
A model not built by half the time (on a network of 50 devices it takes seconds), or whose crossings will not be
by then at the pace of their first tenth (a model dropped early is cheap to free), is dropped, and the prefix
search goes on alone, with the ideals, spine and failures of its first run: the time limit bounds the whole
solve. With measured devices the prefix search, which
cannot know a part's picking tasks (nor its messages) before the parts after it are placed, solves the problem
blind to the engine in its tenth: its optimum bounds this one from below, its placement is a hint, and when that
placement costs no more with the engine it is proven optimal; else CP-SAT goes on alone. The bound holds because
the two problems have the same placements (the engine adds no constraint) and each costs at least as much with
the engine: a device's load is ``compute(d) + busy(d)`` with every term of ``busy`` (tasks, session bytes,
messages and their tensors) a count times a rate >= 0, and a link's load is the same in both, so the bottleneck
``max(max_d load(d), max_l link(l))`` is at least the blind one on every placement, and so is its minimum.
The greedy chain placement (solver.placement.greedy) is the hint and bounds the objective from above
(``objective <= U``); a crossing whose own transfer time exceeds U can then never occur, so it gets no
variable, only the clause that rules it out (on a network of many devices most of them).
Every variable that only pays (r, x, m, e) is bounded from below alone, which is exact since the
objective never gains from setting one of them higher than it must be.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from solver.errors import InfeasibleError
from solver.placement.engine import CLIENT
from solver.placement.metrics import evaluate
from solver.placement.objectives import OBJECTIVES, TABLE
from solver.placement.prefixes import PrefixSearch, PrefixSearcher, prefix_search
from solver.placement.problem import PlacementProblem
from solver.solving.budget import Budget, now
from solver.solving.cpsat import Solve, solve_reporting
from solver.solving.outcome import FEASIBLE, status_of
from solver.solving.secondary import minimize_in_order, primary

_HEARTBEAT = 1.0
_PREFIXES_ALONE = 0.1  # of the primary objective's time: the prefix search alone, before CP-SAT's model is built
_BUILD_BY = 0.5  # of the primary objective's time: a CP-SAT model not built by then is dropped (see solve_placement)
_PACED = 0.1  # of the crossings modelled, from which their pace says whether the model will be built in time
_FREEING = 0.5  # of the time a model took to build, kept to free it within the limit (measured: 5.3 s for 19 s)

Progress = Callable[[int, int, float], None]


@dataclass
class PlacementSolve:
    """The exact solver's answer: the device of each op, status, objective value and proven bound."""

    assign: list[int]
    status: str
    value: int
    bound: int
    wall_time: float
    interrupted: bool = False
    secondary_status: dict[str, str] = field(default_factory=dict)


def solve_placement(
    problem: PlacementProblem,
    objective: str = "throughput",
    *,
    hint: list[int] | None = None,
    time_limit: float = 60.0,
    workers: int | None = None,
    secondary: Sequence[str] = (),
    slack: float = 0.0,
    lower: int = 0,
    on_progress: Progress | None = None,
    search_prefixes: bool = True,
) -> PlacementSolve:
    """Place ``problem``'s ops on its devices minimizing ``objective`` exactly (see the module docstring).

    ``secondary`` objectives (``cut``, ``bytes``) are then minimized in order with the objective held within
    ``slack`` of the best found; each gets a fifth of ``time_limit`` (solver.solving.secondary). ``lower`` is a
    proven lower bound (solver.placement.bounds), given to the model as a cut: the proof ends as soon as the search
    meets it.
    ``search_prefixes=False`` leaves the prefix search out (CP-SAT alone; the tests check both).

    Raises
    ------
    InfeasibleError
        No placement exists (proven), or none was found in time and no hint was given.
    """
    budget = Budget(time_limit)
    hint_value = evaluate(problem, hint).objective(objective) if hint is not None else None
    first = primary(budget, secondary)
    forbidden: list[frozenset[int]] = []  # parts found over their device's cap under the memory model
    finish = functools.partial(_finish, problem, objective, hint, budget=budget, workers=workers, secondary=secondary,
                               slack=slack, forbidden=forbidden)  # fmt: skip
    if hint_value is not None and hint_value <= lower:
        return finish(list(hint), hint_value)
    if objective == "throughput" and search_prefixes and problem.engine is not None:
        # The prefix search cannot count the engine's picking tasks (module docstring): it solves the problem blind
        # to the engine alone first, whose optimum bounds this one from below and may prove it.
        blind, hint, lower = _blind_first(problem, hint, lower, first.part(_PREFIXES_ALONE), budget)
        if blind is not None:
            return finish(blind.assign, blind.value)
        hint_value = evaluate(problem, hint).objective(objective) if hint is not None else None
        if budget.interrupted or (hint_value is not None and hint_value <= lower):
            return finish(_Prefixes(problem, hint, lower, budget, None).best_or(hint), lower)
        search_prefixes = False
    prefixes = _Prefixes(problem, hint, lower, budget, on_progress)
    searching = objective == "throughput" and search_prefixes

    def alone(until: Budget) -> PlacementSolve | None:
        """The prefix search alone until ``until`` ends: the answer when it proves one (or Ctrl-C comes)."""
        try:
            proven = prefixes.run(lambda: False, until)
        except KeyboardInterrupt:
            budget.interrupt()
            return finish(prefixes.best_or(hint), prefixes.lower)
        if proven is None:
            return None
        if proven.assign is None:
            raise _infeasible(problem)
        return finish(proven.assign, proven.value)

    # Alone first: a proof within its share needs no CP-SAT model (on 50 devices, seconds to build).
    answer = alone(first.part(_PREFIXES_ALONE)) if searching else None
    if answer is not None:
        return answer
    try:
        # On a network of many devices the model takes seconds to build and CP-SAT seldom gains on the prefix
        # search; a model not built by half the time would leave CP-SAT too little, so the search goes on alone.
        by = first.part(_BUILD_BY) if searching and not prefixes.too_many_ideals else None
        building = now()
        built = _Model(problem, objective, hint_value, budget=by)
        first.shorten(_FREEING * (now() - building))  # the model is freed on return, inside the limit
    except _OutOfTime:
        built = None  # the partial model goes now, not after the search's deadline (freeing it takes seconds)
    if built is None:
        answer = alone(first)
        if answer is not None:
            return answer
        if prefixes.best is None and hint is None:
            raise _not_found(problem, time_limit)
        return finish(prefixes.best_or(hint), prefixes.lower)
    built.model.add(built.objective >= lower)
    if hint is not None:
        built.hint(hint, hint_value)
    beside = functools.partial(prefixes.run, until=first) if searching else None
    done, answer = _solve_fitting(built, first, budget, workers, on_progress, beside, forbidden)
    solver, status, proven = done.solver, done.status, done.beside
    if proven is not None:
        if proven.assign is None:
            raise _infeasible(problem)
        return finish(proven.assign, proven.value)
    if status == cp_model.INFEASIBLE:
        raise _infeasible(problem)
    if searching and status != cp_model.OPTIMAL and not first.passed() and not budget.interrupted:
        # CP-SAT may end without a proof long before its limit (seen on seed 002's networks of 10 devices: UNKNOWN
        # after 30-37 s of a 41-47 s limit, in its presolve), and the prefix search beside it stops with it: it
        # goes on alone for the time left.
        rest = alone(first)
        if rest is not None:
            return rest
    # The best of CP-SAT's answer, the hint and what the prefix search found before it stopped.
    found = [(hint_value, hint)] if hint is not None else []
    if prefixes.best is not None:
        found.append((prefixes.value, prefixes.best))
    fits = status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and not over_cap(problem, answer)
    if fits:
        found.append((evaluate(problem, answer).objective(objective), answer))
    if not found:
        raise _not_found(problem, time_limit)
    value, assign = min(found, key=lambda pair: pair[0])
    return finish(list(assign), _proven_bound(value, fits, prefixes.lower, status, solver))


def _blind_first(problem: PlacementProblem, hint: list[int] | None, lower: int, until: Budget,
                 budget: Budget) -> tuple[PrefixSearch | None, list[int] | None, int]:  # fmt: skip
    """The prefix search on ``problem`` without its engine's cost, until ``until`` ends: every placement costs at
    least as much with the engine, so what it proves bounds ``problem`` from below, and its best placement is a
    hint. Returns a proof of ``problem``'s optimum (its ``assign`` and ``value`` with the engine) when the blind
    optimum costs no more with the engine, else None; the better hint; the raised bound."""
    blind = dataclasses.replace(problem, engine=None, flows=None)
    try:
        searched = prefix_search(blind, hint, until, lower=lower)
    except KeyboardInterrupt:
        budget.interrupt()
        return None, hint, lower
    if searched is None:
        return None, hint, lower
    lower = max(lower, searched.bound)
    if searched.assign is None:
        if searched.complete:
            raise _infeasible(problem)
        return None, hint, lower
    value = evaluate(problem, searched.assign).throughput
    if searched.complete and value <= lower:
        return PrefixSearch(searched.assign, value, True, value), hint, lower
    if hint is None or value < evaluate(problem, hint).throughput:
        hint = searched.assign
    return None, hint, lower


def _solve_fitting(built: _Model, until: Budget, budget: Budget, workers: int | None, on_progress: Progress | None,
                   beside, forbidden: list[frozenset[int]]) -> tuple[Solve, list[int] | None]:  # fmt: skip
    """CP-SAT on ``built`` (the prefix search ``beside`` it) until ``until`` ends: the last solve and its answer.

    The model states the memory model's relaxation: a part over its device's cap is forbidden (added to
    ``forbidden``) and CP-SAT solves again (docs/memory.md), until an answer fits, the prefix search proves one,
    CP-SAT finds none or the time is up.
    """
    answer = None
    while True:
        done = solve_reporting(built.model, until.left(), workers, budget.start, on_progress, tick=_HEARTBEAT,
                               beside=beside, budget=budget)  # fmt: skip
        if done.beside is not None or done.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return done, answer
        answer = built.assignment(done.solver)
        over = over_cap(built.problem, answer)
        if not over:
            return done, answer
        built.forbid(over)
        forbidden += over
        if until.left() <= 0 or budget.interrupted:
            return done, answer


def _proven_bound(value: int, fits: bool, lower: int, status: int, solver: cp_model.CpSolver) -> int:
    """The bound proven on the answer of ``value``: CP-SAT's (of its model, a relaxation while its answer breaks
    the memory model), the one given, and ``lower``, what the prefix search's failures proved."""
    if status == cp_model.OPTIMAL:
        return value if fits else min(value, max(lower, int(solver.objective_value)))
    if status == cp_model.FEASIBLE:
        return min(value, max(lower, int(solver.best_objective_bound)))
    return min(value, lower)  # no solution in time: the solver's bound is only known once it has one


def over_cap(problem: PlacementProblem, assign: list[int]) -> list[frozenset[int]]:
    """The parts of ``assign`` whose memory under the problem's memory model passes their device's capacity
    (none without a model: the CP-SAT model states the count itself)."""
    if problem.memory_model is None:
        return []
    parts: dict[int, list[int]] = {}
    for v, d in enumerate(assign):
        parts.setdefault(d, []).append(v)
    return [frozenset(ops) for d, ops in parts.items() if not problem.holds(d, ops)]


class _Prefixes:
    """The prefix search (solver.placement.prefixes) as CP-SAT's companion in the main thread: it keeps the best
    placement it finds (Ctrl-C may end it anywhere) and answers only with a proof, which stops CP-SAT."""

    def __init__(self, problem: PlacementProblem, hint: list[int] | None, lower: int, budget: Budget,
                 on_progress: Progress | None):  # fmt: skip
        self.problem, self.hint, self.lower, self.budget = problem, hint, lower, budget
        self.on_progress = on_progress
        self.best: list[int] | None = None
        self.value: int | None = None
        self.too_many_ideals = False
        self.searcher = PrefixSearcher(problem)  # one for every run: they share its ideals, spine and failures

    def run(self, stop: Callable[[], bool], until: Budget) -> PrefixSearch | None:
        """Search (again from the best found so far) until ``until`` ends or ``stop()``; the proof, or None."""
        if self.too_many_ideals:
            return None
        searched = self.searcher.run(self.best or self.hint, until, lower=self.lower, stop=stop, on_found=self._found)
        if searched is not None:
            self.lower = max(self.lower, searched.bound)  # what its failures proved, even when it stopped early
        self.too_many_ideals = searched is None and not until.passed() and not stop()
        return searched if searched is not None and searched.complete else None

    def best_or(self, hint: list[int] | None) -> list[int]:
        """The best placement found, else ``hint``."""
        if self.best is None and hint is None:
            raise InfeasibleError(f"{self.problem.platform.source}: no placement of {self.problem.name} was found "
                                  "before the interrupt")  # fmt: skip
        return list(self.best or hint)

    def _found(self, assign: list[int], value: int) -> None:
        self.best, self.value = assign, value
        if self.on_progress is not None:
            self.on_progress(value, self.lower, self.budget.elapsed())


def _finish(problem: PlacementProblem, objective: str, hint: list[int] | None, assign: list[int], bound: int, *,
            budget: Budget, workers: int | None, secondary: Sequence[str], slack: float,
            forbidden: Sequence[frozenset[int]] = ()) -> PlacementSolve:  # fmt: skip
    """The answer ``assign`` with its proven ``bound``, after the secondary objectives when there are any (with
    the parts ``forbidden`` over the memory model's cap; an answer over it keeps the primary one)."""
    value = evaluate(problem, assign).objective(objective)
    hint_value = evaluate(problem, hint).objective(objective) if hint is not None else None
    statuses: dict[str, str] = {}
    if secondary and not budget.interrupted:
        # A fresh model: the first one keeps the hint's cutoff, which the slack may exceed.
        cap = math.floor(value * (1 + slack))
        again = _Model(problem, objective, cap)
        again.model.add(again.objective <= cap)
        again.forbid(forbidden)
        primary_assign = assign
        solve = lambda model, limit: solve_reporting(model, limit, workers, now(), None, tick=_HEARTBEAT,  # noqa: E731
                                                     budget=budget)  # fmt: skip
        objectives = [(name, lambda name=name: TABLE[name].model(again)) for name in secondary]
        assign, statuses = minimize_in_order(again.model, objectives, assign, hint=again.rehint, read=again.assignment,
                                             solve=solve, budget=budget)  # fmt: skip
        if over_cap(problem, assign):  # a part over the memory model's cap: the primary answer stays
            assign, statuses = primary_assign, {name: FEASIBLE for name in secondary}
        value = evaluate(problem, assign).objective(objective)
    found = status_of(value, bound, hint_value is None or value < hint_value)
    return PlacementSolve(assign, found, value, bound, budget.elapsed(), budget.interrupted, statuses)


def _not_found(problem: PlacementProblem, time_limit: float) -> InfeasibleError:
    return InfeasibleError(f"{problem.platform.source}: no placement of {problem.name} was found in {time_limit:g} s "
                           "(not proven impossible)")  # fmt: skip


def _infeasible(problem: PlacementProblem) -> InfeasibleError:
    return InfeasibleError(f"{problem.platform.source}: no placement of {problem.name} fits the platform "
                           "(op support, memory or links rule out every acyclic partition)")  # fmt: skip


class _OutOfTime(Exception):
    """The model was not built by its deadline."""


class _Model:
    """The CP-SAT model of the module docstring."""

    def __init__(self, problem: PlacementProblem, objective: str, cap: int | None = None, *,
                 budget: Budget | None = None):  # fmt: skip
        """Raises _OutOfTime when ``budget`` ends while the crossings or the memory are modelled, or when the
        crossings, a tenth of them modelled, will not be by then at the pace so far (a model given up early is
        freed at once; one given up late takes seconds more to free)."""
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}")
        self.problem = problem
        self.budget = budget
        self.cap = cap  # the objective is kept <= cap: a crossing dearer than that alone is ruled out
        self.model = model = cp_model.CpModel()
        self.began = now()
        n, D = problem.num_ops, len(problem.devices)
        self.D = D
        # No placement computes or sends more than every op at its slowest and every tensor at its dearest.
        horizon = sum(max(t for t in row if t is not None) for row in problem.times) + sum(
            max((costs[i] for row in problem.transfer for costs in row if costs is not None), default=0)
            for i in range(len(problem.tensors))
        )
        # a[v][d]: op v runs on device d (only where d supports v).
        self.a = [{d: model.new_bool_var(f"a[{v}][{d}]") for d in range(D) if problem.times[v][d] is not None}
                  for v in range(n)]  # fmt: skip
        for v in range(n):
            model.add_exactly_one(self.a[v].values())
        # pos[d]: the device's place in the pipeline; s[v]: the place of op v's device.
        pos = [model.new_int_var(0, D - 1, f"pos[{d}]") for d in range(D)]
        model.add_all_different(pos)
        s = [model.new_int_var(0, D - 1, f"s[{v}]") for v in range(n)]
        for v in range(n):
            for d, on in self.a[v].items():
                model.add(s[v] == pos[d]).only_enforce_if(on)
        # Precedence: tensors flow forward along the pipeline.
        for u, v in problem.graph.edges:
            model.add(s[u] <= s[v])
        self.compute = [sum(problem.times[v][d] * self.a[v][d] for v in range(n) if d in self.a[v]) for d in range(D)]
        self.links: dict[tuple[int, int], list] = {}
        self._transfers()
        self._memory()
        self._engine()
        self.horizon = horizon + self.engine_horizon
        self.objective = model.new_int_var(0, self.horizon, "objective")
        TABLE[objective].model(self)
        model.minimize(self.objective)

    def _in_time(self, done: float = 0.0) -> None:
        """Raise _OutOfTime past the budget, or when a step ``done`` (a share, at least a tenth) into the crossings
        they will not be modelled by its end at the pace so far."""
        if self.budget is None:
            return
        t = now()
        if t > self.budget.end or (done >= _PACED and self.began + (t - self.began) / done > self.budget.end):
            raise _OutOfTime

    def _transfers(self) -> None:
        problem, model, D = self.problem, self.model, self.D
        self.crossings: dict[tuple[int, int], list] = {}
        self.crossed: dict[tuple[int, int], list[int]] = {}  # the tensor of each crossing variable, in order
        self.sent: list = []  # bytes of each possible crossing, for the secondary objective
        for i, tensor in enumerate(problem.tensors):
            self._in_time(i / len(problem.tensors))
            # r[i][b]: tensor i is read on device b.
            read = {}
            for b in range(D):
                readers = [self.a[c][b] for c in tensor.consumers if b in self.a[c]]
                if readers:
                    read[b] = model.new_bool_var(f"r[{i}][{b}]")
                    for on in readers:
                        model.add_implication(on, read[b])
            for a_dev, produced in self.a[tensor.producer].items():
                for b, is_read in read.items():
                    if b == a_dev:
                        continue
                    costs = problem.transfer[a_dev][b]
                    if costs is None or (self.cap is not None and costs[i] > self.cap):
                        # No link, or one whose time for this tensor alone exceeds the cap (both objectives
                        # count every crossing in full): the producer on a and a reader on b exclude each other.
                        model.add_bool_or([produced.Not(), is_read.Not()])
                        continue
                    # x[i][a][b]: tensor i crosses link (a, b).
                    cross = model.new_bool_var(f"x[{i}][{a_dev}][{b}]")
                    model.add_bool_or([produced.Not(), is_read.Not(), cross])
                    self.links.setdefault((a_dev, b), []).append(costs[i] * cross)
                    self.crossings.setdefault((a_dev, b), []).append(cross)
                    self.crossed.setdefault((a_dev, b), []).append(i)
                    self.sent.append(tensor.nbytes * cross)

    def _engine(self) -> None:
        """The engine's cost on measured devices (module docstring): ``busy``, ``duration``, ``pick_hop`` (writer,
        reader) and ``out_hop`` (per device, a picking task of the model's outputs), ``request``."""
        problem, model, D = self.problem, self.model, self.D
        self.busy, self.duration = list(self.compute), list(self.compute)
        self.pick_hop: dict[tuple[int, int], object] = {}
        self.out_hop: list = [0] * D
        self.request = 0
        self.engine_horizon = 0
        self.used_links: dict[tuple[int, int], object] = {}
        engines = problem.engine
        if engines is None:
            return
        flows = problem.flows
        used = [model.new_bool_var(f"used[{d}]") for d in range(D)]
        for v in range(problem.num_ops):
            for d, on in self.a[v].items():
                model.add_implication(on, used[d])
        read = [{} for _ in flows]  # rd[t][d], exact
        for t, f in enumerate(flows):
            self._in_time()
            for d in range(D):
                on = [self.a[c][d] for c in f.readers if d in self.a[c]]
                if on:
                    read[t][d] = var = model.new_bool_var(f"rd[{t}][{d}]")
                    for x in on:
                        model.add_implication(x, var)
                    model.add_bool_or(on).only_enforce_if(var)
        measured = [d for d in range(D) if engines[d] is not None]
        self.request = model.new_int_var(0, max((e.request_us for e in engines if e is not None), default=0), "request")
        for d in measured:
            e = engines[d]
            model.add(self.request >= e.request_us * used[d])
            through, takes, misses = [], {}, {}  # through: (tensor's bytes, its indicator)
            for t, f in enumerate(flows):
                made = self.a[f.producer].get(d) if f.producer is not None else None
                if d in read[t]:  # an input of d's part
                    inp = model.new_bool_var(f"in[{t}][{d}]")
                    model.add(inp >= read[t][d] - (made if made is not None else 0))
                    through.append((f.nbytes, inp))
                if made is None:
                    continue
                readers = {b: r for b, r in read[t].items() if b != d}
                if not readers and not f.output:
                    continue
                out = model.new_bool_var(f"out[{t}][{d}]")  # an output of d's part
                for r in readers.values():
                    model.add(out >= made + r - 1)
                if f.output:
                    model.add(out >= made)
                through.append((f.nbytes, out))
                for b in range(D):
                    if b == d:
                        continue
                    if b in readers:
                        takes.setdefault(b, []).append((made, readers[b]))
                    misses.setdefault(b, []).append((out, readers.get(b)))
                if f.output:
                    takes.setdefault(CLIENT, []).append((made, None))
                else:
                    misses.setdefault(CLIENT, []).append((out, None))
            picks = []
            for b, pairs in takes.items():
                take, miss = model.new_bool_var(f"take[{d}][{b}]"), model.new_bool_var(f"miss[{d}][{b}]")
                for made, r in pairs:
                    model.add(take >= made + (r if r is not None else 1) - 1)
                for out, r in misses.get(b, ()):
                    model.add(miss >= out - (r if r is not None else 0))
                pick = model.new_bool_var(f"pick[{d}][{b}]")
                model.add(pick >= take + miss - 1)
                picks.append(pick)
                if b == CLIENT:
                    self.out_hop[d] = e.hop_us * pick
                else:
                    self.pick_hop[d, b] = e.hop_us * pick
            messages, most = self._messages(d)
            self.busy[d] = (self.compute[d] + e.task_cost * (used[d] + sum(picks))
                            + sum(e.pipe_cost(b) * x for b, x in through) + messages)  # fmt: skip
            self.duration[d] = self.compute[d] + e.hop_us * used[d] + sum(e.pipe_us(b) * x for b, x in through)
            # No request costs the device more than every task, hop and tensor through its session twice, and
            # every message it may send or receive.
            self.engine_horizon += ((max(e.task_us, e.task_cost) + e.hop_us) * (D + 2) + e.request_us
                                    + 2 * sum(e.pipe_us(f.nbytes) + e.pipe_cost(f.nbytes) for f in flows) + most)

    def _messages(self, d: int) -> tuple[object, int]:
        """What the messages device d sends and receives cost its core (module docstring; 0 unless its core's CPU
        was measured) and the most they can cost."""
        cpu = self.problem.engine[d].cpu
        if cpu is None:
            return 0, 0
        names, platform = self.problem.devices, self.problem.platform
        terms, most = [], 0
        for (a, b), crosses in self.crossings.items():
            if d not in (a, b):
                continue
            sizes = [self.problem.tensors[i].nbytes for i in self.crossed[a, b]]
            if a == d:
                fixed, costs = cpu.send_us, [cpu.sending(n) for n in sizes]
            else:
                bandwidth = platform.link(names[a], names[b]).bandwidth
                fixed, costs = cpu.receive_us, [cpu.receiving(n, bandwidth) for n in sizes]
            terms += [fixed * self._link_used(a, b)] + [c * x for c, x in zip(costs, crosses)]
            most += fixed + sum(costs)
        return sum(terms), most

    def _link_used(self, a: int, b: int):
        """``lk[a][b]``: some tensor crosses link (a, b), one message per request (made once per link)."""
        if (a, b) not in self.used_links:
            self.used_links[a, b] = used = self.model.new_bool_var(f"lk[{a}][{b}]")
            for cross in self.crossings[a, b]:
                self.model.add_implication(cross, used)
        return self.used_links[a, b]

    def _memory(self) -> None:
        """The memory model's relaxation (solver.placement.problem.MemoryFigure), the count itself without one."""
        problem, model = self.problem, self.model
        items = problem.memory_items()
        for d in range(self.D):
            self._in_time()
            cap = problem.relaxed_cap(d)
            if cap is None:
                continue
            if cap < 0:  # the model's fixed cost alone passes the capacity: the device holds no part
                for v in range(problem.num_ops):
                    if d in self.a[v]:
                        model.add(self.a[v][d] == 0)
                continue
            terms = []
            for item in items:
                on = [self.a[v][d] for v in item.ops if d in self.a[v]]
                if not on or item.relaxed == 0:
                    continue
                # m[k][d]: tensor k is held on device d.
                held = model.new_bool_var(f"m[{item.key}][{d}]")
                for x in on:
                    model.add_implication(x, held)
                terms.append(item.relaxed * held)
            model.add(sum(terms) <= cap)

    def forbid(self, parts: Sequence[frozenset[int]]) -> None:
        """No device whose capacity the part's memory passes holds exactly one of ``parts`` (a no-good each)."""
        problem, n = self.problem, self.problem.num_ops
        for ops in parts:
            for d in range(self.D):
                if problem.holds(d, sorted(ops)):
                    continue
                if any(d not in self.a[v] for v in ops):
                    continue  # the device cannot run the part anyway
                self.model.add_bool_or([self.a[v][d].Not() for v in ops]
                                       + [self.a[v][d] for v in range(n) if v not in ops and d in self.a[v]])

    def hint(self, assign: list[int], value: int) -> None:
        """Hint ``assign`` (of objective ``value``) and keep only placements at least as good."""
        self._hint_assignment(assign)
        self.model.add(self.objective <= value)

    def _hint_assignment(self, assign: list[int]) -> None:
        for v, d in enumerate(assign):
            for e, on in self.a[v].items():
                self.model.add_hint(on, e == d)

    def rehint(self, assign: list[int]) -> None:
        """Replace the hints with ``assign``."""
        self.model.clear_hints()
        self._hint_assignment(assign)

    def assignment(self, solver: cp_model.CpSolver) -> list[int]:
        return [next(d for d, on in self.a[v].items() if solver.boolean_value(on)) for v in range(self.problem.num_ops)]

