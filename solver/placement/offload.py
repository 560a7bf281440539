"""Offloading: choose the backend of every op and cut the model into parts for least end-to-end latency.

The problem
-----------
Ops ``V`` with a time ``t(v, b)`` on each backend ``b`` allowed for them (the backend supports the op type,
the rules do not pin it elsewhere, ``exclude_ops`` keeps it on the default), data tensors ``i`` (bytes, one
producer, consumers), and a hand-off cost ``c(i, a, b)`` per tensor sent from a part on backend a to a later
part on backend b: the platform's link ``latency_us + bytes / bandwidth``; between two parts on one backend its
``(b, b)`` link if listed, else the default link, else nothing. A *plan* groups the ops into parts, each part
on one backend; a backend may run several parts (cpu, ruy, cpu, ...).

Valid: every op on an allowed backend; parts can be numbered so that every tensor flows to an equal or later
part (the session graph is acyclic); every part has at least ``min_part_ops`` ops (optimize_for's subgraph
rejection, TFLite's ``min_nodes_per_partition``); at most ``max_parts`` parts (``max_delegated_partitions``,
counted over all parts here); a tensor crossing between two backends needs their link.

Latency: parts run one after another, as ``solve run`` and one onert session per part run them, so the
end-to-end latency is the sum of the op times plus the hand-off of every tensor into every part that reads it
outside its producer's part. (Overlapping parts on different devices is the placement's latency objective,
which puts one part per device.)

The model (CP-SAT, :func:`solve_offload`)
------------------------------------------
``S`` part slots (enough for every plan that could beat the warm start, or a proven bound beyond them:
:class:`PartSlots`):
- ``x[v][k]``: op v in part k, ``sum_k x[v][k] = 1``; ``p[v] = sum_k k x[v][k]`` and ``p[u] <= p[v]`` on every
  edge: numbered parts with every tensor flowing forward are exactly the acyclic session graphs.
- ``y[k][b]``: part k runs on b; ``sum_b y[k][b] = used[k]``, ``used[k] >= used[k+1]``, ``x[v][k] <= used[k]``,
  ``x[v][k] + y[k][b] <= 1`` where b is not allowed for v; consecutive parts differ in backend unless some
  backend has a ``reject`` rule (merging two consecutive parts on one backend keeps every other constraint and
  never costs more, so this loses no optimum; a reject rule may refuse the merged part).
- ``o[v][b] >= x[v][k] + y[k][b] - 1``, ``sum_b o[v][b] = 1``: the backend of op v.
- ``min_part_ops N <= sum_v x[v][k]`` when ``used[k]``.
- ``r[i][k] >= x[c][k]`` (c a consumer of i): i is read in k; ``in[i][k] >= r[i][k] - x[u][k]`` (u its
  producer): i is handed into k; ``h[i][k][a][b] >= in[i][k] + o[u][a] + y[k][b] - 2`` costs ``c(i, a, b)``,
  and ``in[i][k] + o[u][a] + y[k][b] <= 2`` where a and b have no link.
- minimise ``sum t(v, b) o[v][b] + sum c(i, a, b) h[i][k][a][b]``.
Every paying variable (r, in, h) is only bounded from below, which is exact as the objective never gains
from raising one. The warm start is the best of the greedy plans below.

Heuristics
----------
- :func:`circle_partitioner_plan`: circle-partitioner's own grouping (``heuristics.circle_groups``), faithful.
- :func:`delegate_plan`: TFLite-delegate style: every op on the first non-default backend that takes it,
  parts by alternating ready frontiers, small and surplus delegated parts back on the default backend.
- :func:`greedy_plan`: the warm start: the delegate plan, the fastest backend per op and the default
  everywhere, each improved by rejecting parts that do not pay for their hand-offs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import networkx as nx
from ortools.sat.python import cp_model

from heuristics.circle_groups import circle_groups
from solver.errors import CheckError, InfeasibleError, PlatformError, UsageError
from solver.io.partrules import PartitionRules
from solver.io.platform import Link, Platform
from solver.partitioning.cpsat import solve_reporting
from solver.partitioning.problem import PartitionProblem
from solver.partitioning.settings import check_exact_options, check_time_limit
from solver.placement.problem import PlacementProblem, placement_problem, supports_type

OPTIMAL, FEASIBLE, HEURISTIC = "OPTIMAL", "FEASIBLE", "HEURISTIC"
ALGORITHMS = ("exact", "greedy", "delegate", "circle-partitioner")
SLOT_CAP = 24  # part slots of the exact model when neither --max-parts nor the op count bounds them lower
LABELING_SHARE, LABELING_CAP = 0.2, 10.0  # of the time limit, and seconds at most, for labeling
GREEDY_SHARE = 0.3  # of the time limit for the warm start's improvement before the exact solve
SLOT_VARIABLES = 200_000  # the part-slot model's size at most (Boolean variables): building it is not timed


@dataclass
class OffloadProblem:
    """A placement problem with the offloading rules: allowed backends per op, hand-off costs, part limits."""

    base: PlacementProblem
    allowed: list[tuple[int, ...]]  # allowed[v]: backend numbers op v may run on
    handoff: list[list[list[int] | None]]  # handoff[a][b][i]: us to hand tensor i from a part on a to one on b
    default: int  # the default backend (the rules' default, else the platform's first device)
    reads_input: list[bool]  # op v reads a model input (circle-partitioner counts it in the default group)
    op_names: list[str | None]
    min_part_ops: int = 1
    max_parts: int | None = None
    rules: PartitionRules | None = None
    backend_min_ops: list[int] | None = None  # per backend, beside min_part_ops (partition_for's Backend.min_ops)
    reject: list[Callable[[list[int]], bool] | None] | None = None  # per backend: True rejects a part's ops

    @property
    def num_ops(self) -> int:
        return self.base.num_ops

    def min_ops(self, b: int) -> int:
        """The fewest ops a part on backend b may have."""
        return max(self.min_part_ops, self.backend_min_ops[b] if self.backend_min_ops else 1)

    def rejects(self, b: int, ops: list[int]) -> bool:
        """Whether backend b rejects a part of these ops (too small, or its own ``reject`` says so)."""
        if len(ops) < self.min_ops(b):
            return True
        check = self.reject[b] if self.reject else None
        return bool(check(sorted(ops))) if check is not None else False

    @property
    def backends(self) -> tuple[str, ...]:
        return self.base.devices

    def time(self, v: int, b: int) -> int:
        t = self.base.times[v][b]
        assert t is not None
        return t


def offload_problem(
    base: PlacementProblem,
    *,
    rules: PartitionRules | None = None,
    exclude_ops: Sequence[str] = (),
    min_part_ops: int = 1,
    max_parts: int | None = None,
    op_names: Sequence[str | None] | None = None,
    reads_input: Sequence[bool] | None = None,
) -> OffloadProblem:
    """The offloading problem of ``base``, its devices taken as backends.

    An op may run on a backend that supports it, is one of the rules' backends and is the one its rule names
    (an ``[OPCODE]`` or ``[OPNAME]`` entry pins it; the default is circle-partitioner's fallback, not a pin). An op
    whose type is in ``exclude_ops`` stays on the default backend.

    Raises
    ------
    PlatformError
        A rule names a backend that is not a device of the platform or does not run that op, or an op is
        left with no backend.
    """
    names, source = base.devices, base.platform.source
    known = set(rules.backends) if rules is not None else set(names)
    missing = sorted((known | ({rules.default} if rules else set())) - set(names))
    if missing:
        raise PlatformError(f"{rules.source if rules else source}: backends {missing} are not devices of {source}")
    default = names.index(rules.default) if rules is not None else 0
    n = base.num_ops
    op_names = list(op_names) if op_names is not None else [base.graph.nodes[v].get("name") for v in range(n)]
    allowed = []
    for v in range(n):
        op_type = base.graph.nodes[v].get("type", "")
        pinned = rules.rule(op_type, op_names[v]) if rules is not None else None
        if any(supports_type(frozenset([x]), op_type) for x in exclude_ops):
            pinned = names[default]
        choices = tuple(b for b, name in enumerate(names)
                        if base.times[v][b] is not None and name in known and (pinned is None or name == pinned))  # fmt: skip
        if not choices:
            why = f"pinned to {pinned}, which does not run it" if pinned else "no allowed backend runs it"
            raise PlatformError(f"{rules.source if rules else source}: op {v} ({op_type}) of {base.name}: {why}")
        allowed.append(choices)
    handoff = [[_costs(base, a, b) for b in range(len(names))] for a in range(len(names))]
    return OffloadProblem(base, allowed, handoff, default, list(reads_input or [False] * n), op_names,
                          min_part_ops, max_parts, rules)  # fmt: skip


def _costs(base: PlacementProblem, a: int, b: int) -> list[int] | None:
    if a != b:
        return base.transfer[a][b]
    platform = base.platform
    name = platform.names[a]
    link: Link | None = platform.links.get((name, name), platform.default_link)
    return [link.transfer_us(t.nbytes) if link else 0 for t in base.tensors]


@dataclass
class OffloadMetrics:
    """What a plan costs: compute, hand-offs and the end-to-end latency, with its parts in run order."""

    backend: list[int]  # backend of each op
    parts: list[int]  # part of each op, numbered in run order
    part_backends: list[int]
    part_ops: list[int]
    compute: int
    handoffs: int  # tensors handed into parts
    handoff_bytes: int
    handoff_time: int

    @property
    def latency(self) -> int:
        return self.compute + self.handoff_time

    @property
    def num_parts(self) -> int:
        return len(self.part_backends)


def evaluate_plan(problem: OffloadProblem, backend: Sequence[int], parts: Sequence[int], *,
                  limits: bool = True) -> OffloadMetrics:
    """The cost of a plan (backend and part of each op), its parts renumbered in run order; ``limits=False``
    skips the part-size and part-count limits (the greedy scores plans that still break them).

    Raises
    ------
    CheckError
        The plan breaks a rule of the module docstring (the message names the first).
    """
    name, n = problem.base.name, problem.num_ops
    if len(backend) != n or len(parts) != n:
        raise CheckError(f"{name}: a plan needs a backend and a part for each of the {n} ops")
    groups: dict[int, list[int]] = {}
    for v in range(n):
        if backend[v] not in problem.allowed[v]:
            raise CheckError(f"{name}: op {v} may not run on backend {backend[v]}")
        groups.setdefault(parts[v], []).append(v)
    for k, ops in groups.items():
        if len({backend[v] for v in ops}) > 1:
            raise CheckError(f"{name}: part {k} mixes backends")
        if limits and problem.rejects(backend[ops[0]], ops):
            raise CheckError(f"{name}: backend {problem.backends[backend[ops[0]]]} rejects part {k} ({len(ops)} ops; "
                             f"at least {problem.min_ops(backend[ops[0]])})")  # fmt: skip
    if limits and problem.max_parts is not None and len(groups) > problem.max_parts:
        raise CheckError(f"{name}: {len(groups)} parts, more than {problem.max_parts}")
    session = nx.DiGraph()
    session.add_nodes_from(groups)
    session.add_edges_from((parts[u], parts[v]) for u, v in problem.base.graph.edges if parts[u] != parts[v])
    if not nx.is_directed_acyclic_graph(session):
        raise CheckError(f"{name}: the session graph of the plan has a cycle")
    order = list(nx.lexicographical_topological_sort(session, key=lambda k: min(groups[k])))
    rank = {k: r for r, k in enumerate(order)}
    count = nbytes = seconds = 0
    for i, tensor in enumerate(problem.base.tensors):
        src = parts[tensor.producer]
        for k in {parts[c] for c in tensor.consumers} - {src}:
            costs = problem.handoff[backend[tensor.producer]][backend[groups[k][0]]]
            if costs is None:
                raise CheckError(f"{name}: tensor {tensor.key!r} crosses between backends that have no link")
            count, nbytes, seconds = count + 1, nbytes + tensor.nbytes, seconds + costs[i]
    return OffloadMetrics(
        backend=list(backend),
        parts=[rank[parts[v]] for v in range(n)],
        part_backends=[backend[groups[k][0]] for k in order],
        part_ops=[len(groups[k]) for k in order],
        compute=sum(problem.time(v, backend[v]) for v in range(n)),
        handoffs=count,
        handoff_bytes=nbytes,
        handoff_time=seconds,
    )


# --- circle-partitioner ------------------------------------------------------------------------------------


def circle_partitioner_plan(problem: OffloadProblem, group: Sequence[int]) -> list[int]:
    """circle-partitioner's parts for the backend ``group[v]`` of each op, numbered in ONE's order of the
    parts: ``heuristics.circle_groups`` (luci's ``merge_pgroups`` as ONE has it since November 2021)."""
    preds: list[list[int]] = [[] for _ in range(problem.num_ops)]
    for tensor in problem.base.tensors:
        for c in tensor.consumers:
            preds[c].append(tensor.producer)
    parts = [0] * problem.num_ops
    for k, ops in enumerate(circle_groups(preds, group, problem.reads_input, problem.default)):
        for v in ops:
            parts[v] = k
    return parts


def rules_backends(problem: OffloadProblem) -> list[int]:
    """circle-partitioner's backend of each op: its rule's, else the default (PlatformError if it cannot run)."""
    rules, names = problem.rules, problem.backends
    backend = []
    for v in range(problem.num_ops):
        op_type = problem.base.graph.nodes[v].get("type", "")
        chosen = names.index(rules.backend(op_type, problem.op_names[v])) if rules else problem.default
        if problem.base.times[v][chosen] is None:
            why = "by the rules" if rules else "the default backend"
            raise PlatformError(f"{rules.source if rules else problem.base.platform.source}: op {v} ({op_type}) goes "
                                f"to {names[chosen]} ({why}), which does not run it")  # fmt: skip
        backend.append(chosen)
    return backend


# --- greedy plans ------------------------------------------------------------------------------------------


def frontier_parts(problem: OffloadProblem, backend: Sequence[int]) -> list[int]:
    """Parts for a fixed backend per op, as TFLite cuts delegated and non-delegated nodes into subsets.

    Take every op of one backend that is ready (all its producers done), and the ops of that backend that
    become ready through them, as one part; then the next backend with ready ops, in turn. Each part is as
    large as the order allows and the parts come out in run order.
    """
    dag, n = problem.base.dag, problem.num_ops
    waiting = [len(dag.preds[v]) for v in range(n)]
    ready = sorted(v for v in range(n) if waiting[v] == 0)
    parts, part = [-1] * n, 0
    current = backend[ready[0]] if ready else 0
    kinds = sorted(set(backend))
    while ready:
        if not any(backend[v] == current for v in ready):
            current = kinds[(kinds.index(current) + 1) % len(kinds)]
            continue
        stack = [v for v in ready if backend[v] == current]
        ready = [v for v in ready if backend[v] != current]
        while stack:
            v = stack.pop()
            parts[v] = part
            for w in dag.succs[v]:
                waiting[w] -= 1
                if waiting[w] == 0:
                    (stack if backend[w] == current else ready).append(w)
        part += 1
        current = kinds[(kinds.index(current) + 1) % len(kinds)]
    return parts


def delegate_plan(problem: OffloadProblem) -> tuple[list[int], list[int]]:
    """A TFLite-delegate-style plan: claim, partition, drop small and surplus delegated parts (no costs used).

    Every op goes to the first backend (in platform order) other than the default that may run it, else the
    default; the parts are :func:`frontier_parts`; a delegated part smaller than ``min_part_ops`` goes back to
    the default (``min_nodes_per_partition``), then the smallest delegated parts go back while there are more
    than ``max_parts`` parts (``max_delegated_partitions``), re-partitioning after each change.
    """
    backend = [next((b for b in problem.allowed[v] if b != problem.default), problem.default) for v in range(problem.num_ops)]
    while True:
        parts = frontier_parts(problem, backend)
        sizes: dict[int, list[int]] = {}
        for v, k in enumerate(parts):
            sizes.setdefault(k, []).append(v)
        movable = [ops for ops in sizes.values()
                   if backend[ops[0]] != problem.default and all(problem.default in problem.allowed[v] for v in ops)]  # fmt: skip
        small = [ops for ops in movable if problem.rejects(backend[ops[0]], ops)]
        if not small and problem.max_parts is not None and len(sizes) > problem.max_parts and movable:
            small = [min(movable, key=len)]
        if not small:
            return backend, parts
        for ops in small:
            for v in ops:
                backend[v] = problem.default


def greedy_plan(problem: OffloadProblem, deadline: float = math.inf) -> tuple[list[int], list[int]] | None:
    """The best valid plan among the delegate plan, fastest-backend and all-default starts, each improved
    by :func:`reject_parts` (until ``deadline``, a ``time.monotonic()`` time); None when none is valid."""
    n = problem.num_ops
    fastest = [min(problem.allowed[v], key=lambda b: problem.time(v, b)) for v in range(n)]
    default = [problem.default if problem.default in problem.allowed[v] else problem.allowed[v][0] for v in range(n)]
    starts = [delegate_plan(problem)[0], fastest, default]
    best, best_value = None, None
    for start in starts:
        backend = reject_parts(problem, start, deadline)
        plan = (backend, frontier_parts(problem, backend))
        value = _value(problem, *plan)
        if value is not None and (best_value is None or value < best_value):
            best, best_value = plan, value
    return best


def reject_parts(problem: OffloadProblem, backend: Sequence[int], deadline: float = math.inf) -> list[int]:
    """Move whole parts to another allowed backend while that lowers the latency (optimize_for's reject), until
    no move does or ``deadline`` (a ``time.monotonic()`` time) passes.

    Invalid plans (too small or too many parts) count as infinitely slow, so moves that repair them are taken.
    """
    backend = list(backend)
    best = _score(problem, backend)
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        parts = frontier_parts(problem, backend)
        for k in sorted(set(parts)):
            ops = [v for v in range(problem.num_ops) if parts[v] == k]
            for b in sorted(set.intersection(*(set(problem.allowed[v]) for v in ops)) - {backend[ops[0]]}):
                trial = list(backend)
                for v in ops:
                    trial[v] = b
                score = _score(problem, trial)
                if score < best:
                    backend, best, improved = trial, score, True
                    break
            if improved:
                break
    return backend


def _score(problem: OffloadProblem, backend: list[int]) -> tuple[int, int]:
    """(parts over the limits, latency): lexicographic, so a valid plan beats every invalid one."""
    parts = frontier_parts(problem, backend)
    groups: dict[int, list[int]] = {}
    for v, k in enumerate(parts):
        groups.setdefault(k, []).append(v)
    excess = sum(1 for ops in groups.values() if problem.rejects(backend[ops[0]], ops))
    if problem.max_parts is not None:
        excess += max(0, len(groups) - problem.max_parts)
    value = _value(problem, backend, parts, limits=False)
    return excess, value if value is not None else 2**62


def _value(problem: OffloadProblem, backend, parts, limits: bool = True) -> int | None:
    try:
        return evaluate_plan(problem, backend, parts, limits=limits).latency
    except CheckError:
        return None


# --- the exact model ---------------------------------------------------------------------------------------


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
    trivial, cheapest = _trivial_bound(problem), _cheapest_handoff(problem)
    sources = sum(1 for v in range(problem.num_ops) if not problem.base.dag.preds[v])
    slots = min(most, max(SLOT_CAP, 2 * (hint.num_parts if hint else 0) + 2))
    if hint is not None and cheapest > 0:
        slots = min(slots, max(hint.num_parts, sources + (hint.latency - trivial) // cheapest))
    slots = max(min(slots, SLOT_VARIABLES // _variables_per_slot(problem)), 0)
    if slots >= most:
        return PartSlots(slots, math.inf)
    return PartSlots(slots, max(floor, trivial + max(0, slots + 1 - sources) * cheapest))


def _labeling_time(time_limit: float) -> float:
    """The share of a time limit that :func:`labeling` gets."""
    return min(LABELING_SHARE * time_limit, LABELING_CAP)


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
    start = time.monotonic()
    starts = [evaluate_plan(problem, *hint) if hint is not None else None]
    on_bound = None
    if on_progress is not None and starts[0] is not None:  # the warm start is the incumbent meanwhile
        on_bound = lambda bound, _: on_progress(starts[0].latency, bound, time.monotonic() - start)  # noqa: E731
    relaxed = labeling(problem, _labeling_time(time_limit), workers, on_bound)
    floor = relaxed.floor
    if relaxed.backend is not None:
        backend = reject_parts(problem, relaxed.backend, start + GREEDY_SHARE * time_limit)
        starts.append(_checked(problem, backend, frontier_parts(problem, backend)))
    hint_metrics = min((s for s in starts if s is not None), key=lambda s: s.latency, default=None)
    if hint_metrics is not None and (hint_metrics.latency <= floor or relaxed.interrupted):
        found = OPTIMAL if hint_metrics.latency <= floor else HEURISTIC
        return OffloadSolve(hint_metrics.backend, hint_metrics.parts, found, hint_metrics.latency,
                            min(floor, hint_metrics.latency), PartSlots(0, math.inf), time.monotonic() - start,
                            relaxed.interrupted)  # fmt: skip
    if relaxed.interrupted:
        raise KeyboardInterrupt  # stopped before any plan was found
    cover = part_slots(problem, hint_metrics, floor)
    if cover.slots == 0:  # too large a model: the best warm start and the floor
        if hint_metrics is None:
            raise InfeasibleError(f"{problem.base.name}: no greedy plan meets the limits, and the exact model would "
                                  f"exceed {SLOT_VARIABLES} variables")  # fmt: skip
        return OffloadSolve(hint_metrics.backend, hint_metrics.parts, HEURISTIC, hint_metrics.latency,
                            min(floor, hint_metrics.latency), cover, time.monotonic() - start)  # fmt: skip
    built = _Model(problem, cover.slots, floor)
    if hint_metrics is not None and hint_metrics.num_parts <= cover.slots:
        built.hint(hint_metrics)
    while True:  # a part some backend's reject refuses is forbidden and the model solved again
        done = solve_reporting(built.model, time_limit - (time.monotonic() - start), workers, start, on_progress)
        solver, status = done.solver, done.status
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or done.interrupted:
            break
        refused = _refused_parts(problem, *built.plan(solver))
        if not refused or time.monotonic() - start >= time_limit:
            break
        for b, ops in refused:
            built.forbid(b, ops)
    elapsed = time.monotonic() - start
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and not _refused_parts(problem, *built.plan(solver)):
        backend, parts = built.plan(solver)
        value = evaluate_plan(problem, backend, parts).latency
        if hint_metrics is not None and hint_metrics.latency < value:  # never worse than the warm start
            backend, parts, value = hint_metrics.backend, hint_metrics.parts, hint_metrics.latency
        found = OPTIMAL if status == cp_model.OPTIMAL and value <= cover.beyond else FEASIBLE
        bound = min(max(int(solver.best_objective_bound), floor), cover.beyond, value)  # CP-SAT's may lag the floor
        return OffloadSolve(backend, parts, found, value, int(bound), cover, elapsed, done.interrupted)
    if status == cp_model.INFEASIBLE and cover.complete:
        raise InfeasibleError(f"{problem.base.name}: no plan meets the limits (min part ops "
                              f"{problem.min_part_ops}, max parts {problem.max_parts}) on {problem.base.platform.source}")  # fmt: skip
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

    Variables ``o[v][b]`` (op v on allowed backend b, exactly one per op); minimise
    ``sum t(v, b) o[v][b] + sum crossing terms``. Its backends, cut into parts, are also a warm start.
    ``on_bound(floor so far, seconds)`` is called about every second.
    """
    m = cp_model.CpModel()
    o = [{b: m.new_bool_var("") for b in problem.allowed[v]} for v in range(problem.num_ops)]
    for choice in o:
        m.add_exactly_one(choice.values())
    times = [problem.time(v, b) * on for v in range(problem.num_ops) for b, on in o[v].items()]
    m.minimize(sum(times) + sum(crossing_terms(m, problem, o)))
    trivial = _trivial_bound(problem)
    relay = None if on_bound is None else lambda _, bound, seconds: on_bound(max(int(bound), trivial), seconds)
    done = solve_reporting(m, max(time_limit, 0.01), workers, time.monotonic(), relay)
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
        merging_is_free = not any(problem.reject or ())
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
        cost = [problem.time(v, b) * on for v in range(n) for b, on in self.o[v].items()]
        handoffs: list = []
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
        m.add(sum(cost) + sum(handoffs) >= floor)  # labeling's proven floor
        m.minimize(sum(cost) + sum(handoffs))

    def forbid(self, b: int, ops: list[int]) -> None:
        """No part on backend b holds exactly ``ops`` (a part its ``reject`` refused)."""
        for k in range(self.slots):
            exact = self.model.new_bool_var("")
            self.model.add(self.size[k] <= len(ops)).only_enforce_if(exact)
            self.model.add(self.size[k] >= len(ops) + 1).only_enforce_if(exact.Not())
            self.model.add_bool_or([self.x[v][k].Not() for v in ops] + [self.y[k][b].Not(), exact.Not()])

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


# --- the whole search --------------------------------------------------------------------------------------


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
        latency = self.metrics.latency
        return (latency - self.bound) / latency if latency else 0.0

    @property
    def placement(self) -> dict[str, str]:
        """Part number -> backend name, as the partition map's ``placement``."""
        return {str(k): self.problem.backends[b] for k, b in enumerate(self.metrics.part_backends)}

    def to_json(self) -> dict:
        names = self.problem.backends

        def plan(m: OffloadMetrics) -> dict:
            return {"latency_us": m.latency, "compute_us": m.compute, "handoffs": m.handoffs,
                    "handoff_bytes": m.handoff_bytes, "handoff_us": m.handoff_time, "num_parts": m.num_parts,
                    "parts": [{"backend": names[b], "ops": c} for b, c in zip(m.part_backends, m.part_ops)]}  # fmt: skip

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
            "baselines": {name: None if m is None else plan(m) for name, m in self.baselines.items()},
            "time_s": self.time,
            "notes": self.notes,
        }


def offload(
    problem: OffloadProblem,
    algo: str = "exact",
    *,
    time_limit: float = 60.0,
    workers: int | None = None,
    on_progress: Callable[[int, int, float], None] | None = None,
) -> OffloadResult:
    """Plan ``problem`` with ``algo`` (exact: CP-SAT warm-started by the greedy), beside the baselines.

    Raises
    ------
    InfeasibleError
        No valid plan (proven by the exact model, or none found by the chosen heuristic).
    """
    start = time.monotonic()
    notes = [] if problem.max_parts is None and problem.min_part_ops == 1 else [
        f"limits: parts of at least {problem.min_part_ops} ops, at most {problem.max_parts or 'any number of'} parts"]  # fmt: skip
    baselines: dict[str, OffloadMetrics | None] = {}
    try:
        cp_group = rules_backends(problem)
    except PlatformError as err:  # its rules (or default) put an op where it cannot run
        if algo == "circle-partitioner":
            raise
        notes.append(f"circle-partitioner: {err}")
        baselines["circle-partitioner"] = None
    else:
        baselines["circle-partitioner"] = _checked(problem, cp_group, circle_partitioner_plan(problem, cp_group))
    baselines["delegate"] = _checked(problem, *delegate_plan(problem))
    greedy = greedy_plan(problem, start + GREEDY_SHARE * time_limit if algo == "exact" else math.inf)
    baselines["greedy"] = _checked(problem, *greedy) if greedy else None
    if algo == "exact":
        remaining = time_limit - (time.monotonic() - start)
        solved = solve_offload(problem, greedy, time_limit=remaining, workers=workers, on_progress=on_progress)
        metrics = evaluate_plan(problem, solved.backend, solved.parts)
        status, bound = solved.status, solved.bound
        if solved.cover.slots:
            how = f"{solved.cover.slots} part slots"
        elif status == OPTIMAL:
            how = "a warm start reached the floor that every plan pays (the op times and the hand-offs its backends force)"
        elif solved.interrupted:
            how = "stopped before the part-slot model"
        else:
            how = f"no part-slot model: it would exceed {SLOT_VARIABLES} variables"
        notes.append(f"exact solver: {solved.wall_time:.2f} s, {how}, status {status}")
        if status == FEASIBLE and bound == solved.cover.beyond:
            notes.append(f"the bound is what a plan of more than {solved.cover.slots} parts (the exact model's slots) must "
                         "pay at least in op times and hand-offs; --max-parts lowers how many parts are considered")  # fmt: skip
        if solved.interrupted:
            notes.append("exact solver interrupted: the answer is the best found so far")
    else:
        metrics = baselines[algo]
        if metrics is None:
            raise InfeasibleError(f"{problem.base.name}: the {algo} plan breaks the limits (min part ops "
                                  f"{problem.min_part_ops}, max parts {problem.max_parts}); try --algo exact")  # fmt: skip
        floor = labeling(problem, _labeling_time(time_limit), workers).floor
        status, bound = HEURISTIC, floor  # how far the heuristic may be from the optimum
    return OffloadResult(problem, algo, metrics, status, min(bound, metrics.latency), baselines,
                         time.monotonic() - start, notes)  # fmt: skip


def _checked(problem: OffloadProblem, backend, parts) -> OffloadMetrics | None:
    try:
        return evaluate_plan(problem, backend, parts)
    except CheckError:
        return None


def _trivial_bound(problem: OffloadProblem) -> int:
    return sum(min(problem.time(v, b) for b in problem.allowed[v]) for v in range(problem.num_ops))


@dataclass(frozen=True)
class OffloadSettings:
    """The offloading options of ``solve place`` (and of ``partition_for``), checked when built."""

    algo: str = "exact"
    min_part_ops: int = 1
    max_parts: int | None = None
    exclude_ops: tuple[str, ...] = ()
    time_limit: float = 60.0
    workers: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_ops", tuple(self.exclude_ops))
        if self.algo not in ALGORITHMS:
            raise UsageError(f"unknown offloading algorithm {self.algo!r}; choose from {', '.join(ALGORITHMS)}")
        if isinstance(self.min_part_ops, bool) or not isinstance(self.min_part_ops, int) or self.min_part_ops < 1:
            raise UsageError(f"--min-part-ops must be an integer >= 1, not {self.min_part_ops!r}")
        if self.max_parts is not None and (isinstance(self.max_parts, bool) or not isinstance(self.max_parts, int)
                                           or self.max_parts < 1):  # fmt: skip
            raise UsageError(f"--max-parts must be an integer >= 1, not {self.max_parts!r}")
        check_time_limit(self.time_limit)
        check_exact_options(self.workers, (), 0.0, None)


def offload_model(
    problem: PartitionProblem,
    platform: Platform,
    settings: OffloadSettings = OffloadSettings(),
    rules: PartitionRules | None = None,
    on_progress: Callable[[int, int, float], None] | None = None,
    *,
    backend_min_ops: list[int] | None = None,
    reject: list[Callable[[list[int]], bool] | None] | None = None,
) -> OffloadResult:
    """Offload ``problem`` on the backends of ``platform`` as ``settings`` and ``rules`` say; ``backend_min_ops``
    and ``reject`` (per device) refuse parts as partition_for's backends do.

    Op names (for ``comply=opname``) are the names of the ops' first output tensors, as luci names nodes;
    for graph files, the nodes' ``name``.
    """
    base = placement_problem(problem, platform)
    names, reads_input = None, None
    if problem.model is not None:
        model = problem.model
        names = [model.tensors[op.outputs[0]].name if op.outputs else None for op in model.operators]
        inputs = set(model.inputs)
        reads_input = [any(t in inputs for t in op.inputs) for op in model.operators]
    built = offload_problem(base, rules=rules, exclude_ops=settings.exclude_ops, min_part_ops=settings.min_part_ops,
                            max_parts=settings.max_parts, op_names=names, reads_input=reads_input)  # fmt: skip
    built.backend_min_ops, built.reject = backend_min_ops, reject
    result = offload(built, settings.algo, time_limit=settings.time_limit, workers=settings.workers,
                     on_progress=on_progress)  # fmt: skip
    result.notes[:0] = list(problem.notes)
    return result
