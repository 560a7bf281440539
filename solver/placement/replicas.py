"""Placement with replicated stages: a stage may run on several devices, requests dealt round robin.

The problem
-----------
As in ``solver.placement.exact`` (ops with a time per device, tensors, links, memory), but a *stage* (a set
of ops) may be served by several devices, its *replicas*: request n goes to replica ``n mod r`` of a stage
with r replicas, so each replica does 1 / r of the requests (PipeDream's planner replicates stages the same
way for training). A replicated placement is ``stage[v]`` (the stage of op v, stages numbered in pipeline
order: ``stage[u] <= stage[v]`` on every edge) and ``serve[d]`` (the stage device d serves, or None); every
stage with ops has a replica, a device serves one stage at most, and every replica of a stage supports its
ops and holds its memory: the figure of a part of the stage's ops under the problem's memory model
(``PlacementProblem.memory_model``, docs/memory.md), or without one the count of every constant and tensor
they touch, as ``solver.placement.metrics`` checks a placement.

Loads per request, in microseconds:
- device d serving stage s with r replicas: ``(t(s, d) + busy(s, d)) / r`` (the sum of its ops' times on d and,
  on a device whose engine is measured (``PlacementProblem.engine``), the engine's cost of the stage's tasks and
  session bytes, solver.placement.engine; over r), and where its core's CPU was measured, each message it sends
  to or receives from a device b at its rate: replicas a and b of stages j and k exchange one message (the
  tensors j sends k) per ``r_j r_k`` requests, so d pays ``(send or receive cost) / (r_j r_k)`` per request;
- link (a, b): each tensor written by stage j and read by stage k != j, with a serving j and b serving k,
  costs ``c(i, a, b) / (r_j r_k)``. That is exactly what round robin sends when one of the two stages has
  one replica; so a tensor may not join two replicated stages (with r_j, r_k >= 2 the pairs that talk
  depend on the order of the replicas, and the model refuses the placement rather than guess).
The throughput objective is the period: the largest load, in whole microseconds rounded up
(``max ceil(load)``).

The exact model (:func:`solve_replicated`)
------------------------------------------
Booleans ``a[v][s]`` (op v in stage s; S = |D| stages at most), ``y[s][d]`` (d serves s; at most one stage
per device), ``w[v][d] = OR_s (a[v][s] and y[s][d])`` (v runs on d), ``rep[s][p]`` (s has p replicas),
``m[d][p]`` (the stage d serves has p replicas), ``q[s][a][b]`` (a and b both serve s), ``rd[i][b]``
(tensor i is read on b), ``x[i][a][b] >= w[p][a] + rd[i][b] - 1 - sum_s q[s][a][b]`` (i crosses link (a, b):
written on a, read on b, a and b in different stages), ``multi[s]`` (s has 2 replicas or more). Constraints:
``sum_s a[v][s] = 1``; precedence on stage numbers; a device that does not support v serves no stage with v;
a stage has ops exactly when it has replicas; a tensor between stages j != k forbids ``multi[j] and
multi[k]``; memory per device from ``w`` as ``solver.placement.exact`` states it: the memory model's monotone
relaxation (the count itself without a model), and the model's figure checked lazily, a stage's ops over a
device's cap getting a no-good on every device whose cap they pass (that device serves no stage of exactly
these ops) before CP-SAT solves again, so no placement under the caps is lost; ``compute(s, d) <= p B`` when ``y[s][d]`` and ``rep[s][p]``;
``link(a, b) <= p1 p2 B`` when ``m[a][p1]`` and ``m[b][p2]`` (the compute with the engine's cost,
:func:`_engine_terms`, on a measured device); minimise the integer B. With a device whose core's CPU was measured,
its messages (:func:`_message_terms`): ``lk[a][b] >= x[i][a][b]`` (a message goes a -> b), ``c(d, b)`` what d's
messages to and from b cost it (``send lk[d][b] + sum_i sending(i) x[i][d][b]``, and the receiving terms of b -> d),
``u[d][b] >= (L / q) c(d, b)`` when ``m[b][q]`` (L = lcm(1..|D|), so every share is a whole number), and
``L compute(s, d) + sum_b u[d][b] <= L p B`` when ``y[s][d]`` and ``rep[s][p]``: exactly the load above, since a
message joins two replicated stages never (with ``p >= 2`` every partner has ``q = 1``). Brute force over every
placement (:func:`brute_force_replicated`) checks it on small cases (tests/placement/test_replicas.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from solver.errors import CheckError, InfeasibleError
from solver.solving.budget import Budget
from solver.solving.cpsat import solve_reporting
from solver.placement.engine import CLIENT, DeviceEngine, Message, StageIO, busy_us, receive_us, send_us, stage_io
from solver.placement.metrics import overflows
from solver.placement.problem import PlacementProblem


@dataclass(frozen=True)
class Replicated:
    """A replicated placement and its period (us): stage of each op, stage each device serves (None: idle).

    ``device_us`` and ``link_us`` are the loads per request (us) by device and link (device names);
    ``link_bytes`` the bytes a link carries per request on average; ``latency_us`` one request's way through
    the stages, each on its slowest replica and each hand-off over its slowest pair of replicas, a stage starting
    once every stage it reads has finished (as Dask sends a task), its hand-offs then travelling together.
    """

    stage: tuple[int, ...]
    serve: tuple[int | None, ...]
    period: int
    bottleneck_at: str
    device_us: dict[str, float]
    link_us: dict[tuple[str, str], float]
    link_bytes: dict[tuple[str, str], float]
    latency_us: float
    devices: tuple[str, ...]  # the platform's device names, by number
    # Per link, the message it carries (one per pair of replicas that talk) and its rate per request, 1 / (r_j r_k).
    handoffs: dict[tuple[str, str], tuple[Message, float]] = field(default_factory=dict)
    compute_us: dict[str, float] = field(default_factory=dict)  # per device serving a stage, its time for a request

    def replicas(self, s: int) -> list[int]:
        return [d for d, t in enumerate(self.serve) if t == s]

    def map_keys(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """The partition map's ``placement`` (each stage's first device) and ``replicas`` (every device of a stage
        that runs on several), by part id (``solver.io.partition_map``)."""
        devices = {str(s): [self.devices[d] for d in self.replicas(s)] for s in range(len(self.stages))}
        return ({s: names[0] for s, names in devices.items()},
                {s: names for s, names in devices.items() if len(names) > 1})  # fmt: skip

    @property
    def throughput(self) -> float:
        """Requests per second at the period."""
        return 1e6 / self.period if self.period > 0 else float("inf")

    def to_json(self) -> dict:
        return {"period_us": self.period, "throughput": self.throughput, "bottleneck_at": self.bottleneck_at,
                "latency_us": self.latency_us, "stages": [[self.devices[d] for d in self.replicas(s)]
                                                          for s in range(len(self.stages))],
                "devices": [{"name": d, "us": us} for d, us in self.device_us.items()],
                "links": [{"from": a, "to": b, "us": us, "bytes": self.link_bytes[a, b]}
                          for (a, b), us in self.link_us.items()]}  # fmt: skip

    @property
    def stages(self) -> list[list[int]]:
        """The ops of each stage, in pipeline order."""
        return [[v for v, t in enumerate(self.stage) if t == s] for s in range(max(self.stage, default=-1) + 1)]


def evaluate_replicated(problem: PlacementProblem, stage: list[int], serve: list[int | None], *,
                        memory: bool = True) -> Replicated:  # fmt: skip
    """The period of a replicated placement (module docstring); CheckError when it breaks a rule (``memory=False``:
    a device's memory is not checked, to predict a run of a placement made under another memory model)."""
    n, D = problem.num_ops, len(problem.devices)
    name = problem.name
    if len(stage) != n or len(serve) != D:
        raise CheckError(f"{name}: a replicated placement needs a stage per op and a stage or None per device")
    for u, v in problem.graph.edges:
        if stage[u] > stage[v]:
            raise CheckError(f"{name}: op {u} is in stage {stage[u]} after op {v}'s stage {stage[v]}, which reads it")
    replicas = {s: [d for d in range(D) if serve[d] == s] for s in set(stage)}
    empty = sorted(s for s, r in replicas.items() if not r)
    if empty:
        raise CheckError(f"{name}: stage {empty[0]} has ops but no device")
    names = problem.devices
    compute: dict[int, dict[int, float]] = {}  # stage -> replica -> its time for one request
    for s, devices in replicas.items():
        ops = [v for v in range(n) if stage[v] == s]
        for d in devices:
            times = [problem.times[v][d] for v in ops]
            if None in times:
                op = ops[times.index(None)]
                raise CheckError(f"{name}: {names[d]} serves stage {s}, whose op {op} it does not support")
            if memory and problem.memory_cap(d) is not None and overflows(problem, d, needed := _needed(problem, ops)):
                raise CheckError(f"{name}: {names[d]} needs {needed} bytes for stage {s} ({problem.memory_name} "
                                 "model), over its capacity")  # fmt: skip
            compute.setdefault(s, {})[d] = float(sum(times))
    links: dict[tuple[int, int], float] = {}
    carried: dict[tuple[int, int], float] = {}
    sizes: dict[tuple[int, int], list[int]] = {}  # the tensors of a message between two replicas
    handoff: dict[tuple[int, int], dict[tuple[int, int], float]] = {}  # (stage, stage) -> replica pair -> us
    for i, tensor in enumerate(problem.tensors):
        j = stage[tensor.producer]
        for k in sorted({stage[c] for c in tensor.consumers} - {j}):
            rj, rk = len(replicas[j]), len(replicas[k])
            if rj > 1 and rk > 1:
                raise CheckError(f"{name}: tensor {tensor.key!r} joins stages {j} and {k}, both replicated")
            for a in replicas[j]:
                for b in replicas[k]:
                    costs = problem.transfer[a][b]
                    if costs is None:
                        raise CheckError(f"{name}: tensor {tensor.key!r} goes from {names[a]} to {names[b]}, "
                                         "which have no link")  # fmt: skip
                    links[a, b] = links.get((a, b), 0.0) + costs[i] / (rj * rk)
                    carried[a, b] = carried.get((a, b), 0.0) + tensor.nbytes / (rj * rk)
                    sizes.setdefault((a, b), []).append(tensor.nbytes)
                    pair = handoff.setdefault((j, k), {})
                    pair[a, b] = pair.get((a, b), 0.0) + costs[i]
    handoffs = {(names[a], names[b]): (Message(tuple(nbytes), problem.platform.link(names[a], names[b]).bandwidth),
                                       1.0 / (len(replicas[serve[a]]) * len(replicas[serve[b]])))
                for (a, b), nbytes in sizes.items()}  # fmt: skip
    ios = _stage_ios(problem, stage)
    engines = problem.engine or [None] * D
    device_us = {names[d]: t / len(replicas[s]) + engine_share(ios[s], engines[d], len(replicas[s]), names[d], handoffs)
                 for s, times in compute.items() for d, t in times.items()}  # fmt: skip
    loads = [(t, f"device {d}") for d, t in device_us.items()]
    loads += [(load, f"link {names[a]} -> {names[b]}") for (a, b), load in links.items()]
    worst, at = max(loads, key=lambda x: x[0])
    finish: dict[int, float] = {}
    for k in sorted(compute):
        # As Dask runs it: a stage starts once every stage it reads has finished, its messages then travel together.
        inbound = [(j, max(us.values())) for (j, kk), us in handoff.items() if kk == k]
        ready = max((finish[j] for j, _ in inbound), default=0.0) + max((us for _, us in inbound), default=0.0)
        finish[k] = ready + max(compute[k].values())
    link_us = {(names[a], names[b]): us for (a, b), us in links.items()}
    link_bytes = {(names[a], names[b]): nbytes for (a, b), nbytes in carried.items()}
    return Replicated(tuple(stage), tuple(serve), math.ceil(worst - 1e-9), at, device_us, link_us, link_bytes,
                      max(finish.values()), tuple(names), handoffs,
                      {names[d]: t for times in compute.values() for d, t in times.items()})  # fmt: skip


def _stage_ios(problem: PlacementProblem, stage: list[int]) -> dict[int, StageIO | None]:
    """Per stage what the engine moves and runs for it (solver.placement.engine; None without measured devices)."""
    stages = max(stage, default=-1) + 1
    if problem.engine is None:
        return dict.fromkeys(range(stages))
    return dict(enumerate(stage_io(problem.flows, [[v for v, t in enumerate(stage) if t == s] for s in range(stages)])))


def engine_share(io: StageIO | None, engine: DeviceEngine | None, replicas: int, device: str,
                 handoffs: dict[tuple[str, str], tuple[Message, float]]) -> float:  # fmt: skip
    """A replica's engine cost per request (module docstring): its stage's tasks and session bytes over its
    ``replicas``, and each message ``device`` sends or receives (``handoffs``: per link its message and rate) at
    its rate (solver.placement.engine's formula; 0 for a device not measured)."""
    if engine is None or io is None:
        return 0.0
    messages = sum(rate * send_us(m, engine) for (a, _), (m, rate) in handoffs.items() if a == device)
    messages += sum(rate * receive_us(m, engine) for (_, b), (m, rate) in handoffs.items() if b == device)
    return busy_us(io, engine) / replicas + messages


def _needed(problem: PlacementProblem, ops: list[int]) -> int:
    """Bytes a device needs for a part of ``ops``: their figure under the problem's memory model, or without one
    their constants and the data tensors they read or write, each once."""
    if problem.memory_model is not None:
        return problem.part_memory(ops)
    mine = set(ops)
    total = sum(t.nbytes for t in problem.tensors if t.producer in mine or mine.intersection(t.consumers))
    return total + sum(nbytes for nbytes, readers in problem.constants.values() if mine.intersection(readers))


def brute_force_replicated(problem: PlacementProblem) -> Replicated:
    """The least period over every replicated placement (tiny problems only); InfeasibleError when none is valid."""
    n, D = problem.num_ops, len(problem.devices)
    best: Replicated | None = None
    for stage in itertools.product(range(D), repeat=n):
        used = sorted(set(stage))
        if used != list(range(len(used))) or any(stage[u] > stage[v] for u, v in problem.graph.edges):
            continue
        for serve in itertools.product([None, *used], repeat=D):
            try:
                answer = evaluate_replicated(problem, list(stage), list(serve))
            except CheckError:
                continue
            if best is None or answer.period < best.period:
                best = answer
    if best is None:
        raise InfeasibleError(f"{problem.name}: no replicated placement is valid")
    return best


def solve_replicated(problem: PlacementProblem, *, time_limit: float = 60.0, workers: int | None = None,
                     on_progress: Callable[[int, int, float], None] | None = None,
                     budget: Budget | None = None) -> tuple[Replicated, bool]:  # fmt: skip
    """The replicated placement of least period by CP-SAT (module docstring) and whether it is proven optimal.

    ``on_progress(incumbent, bound, seconds)`` is told CP-SAT's state about every second. ``budget`` (else one
    of ``time_limit`` seconds) bounds the solve; Ctrl-C (or SIGTERM, as the CLI raises it) stops it, marks the
    budget interrupted and returns the best placement found.

    Raises InfeasibleError when no replicated placement is valid (or none was found in the time or before the
    interrupt).
    """
    budget = Budget(time_limit) if budget is None else budget
    n, D = problem.num_ops, len(problem.devices)
    S, P = D, range(1, D + 1)
    model = cp_model.CpModel()
    a = [[model.new_bool_var(f"a{v}_{s}") for s in range(S)] for v in range(n)]
    y = [[model.new_bool_var(f"y{s}_{d}") for d in range(D)] for s in range(S)]
    for v in range(n):
        model.add_exactly_one(a[v])
    for d in range(D):
        model.add_at_most_one(y[s][d] for s in range(S))
    number = [sum(s * a[v][s] for s in range(S)) for v in range(n)]
    for u, v in problem.graph.edges:
        model.add(number[u] <= number[v])
    for s in range(S):  # a stage has ops exactly when it has replicas
        for v in range(n):
            model.add_bool_or([y[s][d] for d in range(D)]).only_enforce_if(a[v][s])
        for d in range(D):
            model.add_bool_or([a[v][s] for v in range(n)]).only_enforce_if(y[s][d])
            for v in range(n):
                if problem.times[v][d] is None:
                    model.add_bool_or([a[v][s].Not(), y[s][d].Not()])
    w = [[model.new_bool_var(f"w{v}_{d}") for d in range(D)] for v in range(n)]
    for v in range(n):
        for d in range(D):
            for s in range(S):
                model.add_implication(a[v][s], w[v][d]).only_enforce_if(y[s][d])
    rep = [[model.new_bool_var(f"rep{s}_{p}") for p in P] for s in range(S)]
    multi = [model.new_bool_var(f"multi{s}") for s in range(S)]
    for s in range(S):
        count = sum(y[s])
        model.add_at_most_one(rep[s])
        for p in P:
            model.add(count == p).only_enforce_if(rep[s][p - 1])
        model.add(count == 0).only_enforce_if([r.Not() for r in rep[s]])
        model.add(count >= 2).only_enforce_if(multi[s])
        model.add(count <= 1).only_enforce_if(multi[s].Not())
    m = [[model.new_bool_var(f"m{d}_{p}") for p in P] for d in range(D)]
    for d in range(D):
        for s in range(S):
            for p in P:
                model.add_bool_or([y[s][d].Not(), rep[s][p - 1].Not(), m[d][p - 1]])
        model.add_at_most_one(m[d])
    q = {(s, x, z): model.new_bool_var(f"q{s}_{x}_{z}") for s in range(S) for x in range(D) for z in range(D) if x != z}
    for (s, x, z), var in q.items():
        model.add_implication(var, y[s][x])
        model.add_implication(var, y[s][z])
        model.add_bool_or([y[s][x].Not(), y[s][z].Not(), var])
    compute = sum(t for row in problem.times for t in row if t is not None)
    transfer = sum(c for row in problem.transfer for costs in row if costs for c in costs)
    engine = sum(e.task_cost * (D + 2) + 2 * sum(e.pipe_cost(f.nbytes) for f in problem.flows)
                 for e in problem.engine or () if e is not None)  # fmt: skip
    crossing: dict[tuple[int, int], list] = {}
    crossed: dict[tuple[int, int], list[int]] = {}  # the tensor of each of crossing's terms, in order
    for i, tensor in enumerate(problem.tensors):
        read = [model.new_bool_var(f"rd{i}_{d}") for d in range(D)]
        for d in range(D):
            for c in tensor.consumers:
                model.add_implication(w[c][d], read[d])
        reads = [_reads(model, a, tensor, k) for k in range(S)]
        for j in range(S):  # a tensor between two replicated stages is refused
            for k in range(S):
                if j != k:
                    model.add_bool_or([a[tensor.producer][j].Not(), reads[k].Not(), multi[j].Not(), multi[k].Not()])
        for x_dev in range(D):
            for z_dev in range(D):
                if x_dev == z_dev:
                    continue
                cross = model.new_bool_var(f"x{i}_{x_dev}_{z_dev}")
                same = [q[s, x_dev, z_dev] for s in range(S)]
                model.add_bool_or([w[tensor.producer][x_dev].Not(), read[z_dev].Not(), cross, *same])
                costs = problem.transfer[x_dev][z_dev]
                if costs is None:
                    model.add(cross == 0)
                else:
                    crossing.setdefault((x_dev, z_dev), []).append((costs[i], cross))
                    crossed.setdefault((x_dev, z_dev), []).append(i)
    _cap_memory(model, problem, w, y)
    overhead = _engine_terms(model, problem, a) if problem.engine is not None else None
    messages, most = _message_terms(model, problem, crossing, crossed, m)
    # No load exceeds every op, every transfer and every device's engine cost, its messages included.
    bound = model.new_int_var(0, max(1, compute + transfer + engine + most), "B")
    scale = math.lcm(*P) if messages else 1  # shares of messages in whole numbers (module docstring)
    for s in range(S):
        for d in range(D):
            load = sum(problem.times[v][d] * a[v][s] for v in range(n) if problem.times[v][d] is not None)
            if overhead is not None and problem.engine[d] is not None:
                load += overhead(s, d)
            for p in P:
                model.add(scale * load + sum(messages.get(d, ())) <= scale * p * bound).only_enforce_if(
                    [y[s][d], rep[s][p - 1]])
    for (x_dev, z_dev), terms in crossing.items():
        load = sum(c * var for c, var in terms)
        for p1 in P:
            for p2 in P:
                model.add(load <= p1 * p2 * bound).only_enforce_if([m[x_dev][p1 - 1], m[z_dev][p2 - 1]])
    model.minimize(bound)
    while True:
        solve = solve_reporting(model, max(budget.left(), 0.01), workers, budget.start, on_progress, budget=budget)
        solver = solve.solver
        if solve.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            why = "before the interrupt" if solve.interrupted else solver.status_name(solve.status)
            raise InfeasibleError(f"{problem.name}: no replicated placement found ({why})")
        stage, serve = _stages(solver, a, y)
        over = _over_cap(problem, stage, serve)
        if not over:
            break
        if budget.left() <= 0 or solve.interrupted:
            raise InfeasibleError(f"{problem.name}: no replicated placement within the memory model's caps found in "
                                  f"{budget.elapsed():.3g} s")  # fmt: skip
        for ops in over:
            _forbid(model, problem, a, y, ops)
    answer = evaluate_replicated(problem, stage, serve)  # the checker; its period is the model's B at the optimum
    return answer, solve.status == cp_model.OPTIMAL and not solve.interrupted


def _engine_terms(model: cp_model.CpModel, problem: PlacementProblem, a) -> Callable[[int, int], object]:
    """The engine's cost of a replica of stage s on measured device d as a linear expression of the stage's ops
    (solver.placement.exact states the same per device): flow t is read in stage s (``rs[t][s]``, exact), is an
    input (``in >= rs - a[p][s]``) or an output (``out >= a[p][s] + rs[t][k] - 1``, k != s; ``>= a[p][s]`` for a
    model output) of s; a reader stage k (or the client) takes one of s's outputs and misses another: a picking
    task. ``busy(s, d) = task(d) (1 + picks(s)) + sum_t pipe(d, t) (in + out)`` (the occupancy's, or the core's CPU
where it was measured: solver.placement.engine); every variable but ``rs``
    only pays, so it is bounded from below alone."""
    flows, S = problem.flows, len(a[0])
    read = []
    for f in flows:
        row = []
        for s in range(S):
            var = model.new_bool_var("")
            on = [a[c][s] for c in f.readers]
            for x in on:
                model.add_implication(x, var)
            if on:
                model.add_bool_or(on).only_enforce_if(var)
            else:
                model.add(var == 0)
            row.append(var)
        read.append(row)
    through: list[list] = [[] for _ in range(S)]  # (flow, indicator) per stage
    picks: list[list] = [[] for _ in range(S)]
    for s in range(S):
        takes: dict[int, list] = {}
        misses: dict[int, list] = {}
        for t, f in enumerate(flows):
            made = a[f.producer][s] if f.producer is not None else None
            inp = model.new_bool_var("")
            model.add(inp >= read[t][s] - (made if made is not None else 0))
            through[s].append((t, inp))
            if made is None:
                continue
            out = model.new_bool_var("")
            for k in range(S):
                if k != s:
                    model.add(out >= made + read[t][k] - 1)
                    takes.setdefault(k, []).append(made + read[t][k] - 1)
                    misses.setdefault(k, []).append(out - read[t][k])
            if f.output:
                model.add(out >= made)
                takes.setdefault(CLIENT, []).append(made)
            else:
                misses.setdefault(CLIENT, []).append(out)
            through[s].append((t, out))
        for k, taken in takes.items():
            take, miss, pick = model.new_bool_var(""), model.new_bool_var(""), model.new_bool_var("")
            for expr in taken:
                model.add(take >= expr)
            for expr in misses.get(k, ()):
                model.add(miss >= expr)
            model.add(pick >= take + miss - 1)
            picks[s].append(pick)

    def busy(s: int, d: int):
        e = problem.engine[d]
        return e.task_cost * (1 + sum(picks[s])) + sum(e.pipe_cost(flows[t].nbytes) * x for t, x in through[s])

    return busy


def _message_terms(model: cp_model.CpModel, problem: PlacementProblem, crossing, crossed, m) -> tuple[dict, int]:
    """Per device whose core's CPU was measured, its messages' cost scaled by ``L = lcm(1..|D|)`` (module
    docstring): ``u[d][b] >= (L / q) c(d, b)`` when b's stage has q replicas (``m[b][q]``), ``c(d, b)`` what its
    messages to and from b cost it (a message per link some tensor crosses, ``lk >= x``); and the most any device's
    messages cost, unscaled. Empty without such a device."""
    D = len(problem.devices)
    measured = [d for d, e in enumerate(problem.engine or ()) if e is not None and e.cpu is not None]
    if not measured:
        return {}, 0
    scale = math.lcm(*range(1, D + 1))
    names, platform = problem.devices, problem.platform
    used = {}
    for pair, terms in crossing.items():
        used[pair] = var = model.new_bool_var("")
        for _, cross in terms:
            model.add_implication(cross, var)
    scaled: dict[int, list] = {}
    most = 0
    for d in measured:
        cpu = problem.engine[d].cpu
        for b in range(D):
            terms, top = [], 0
            if (d, b) in crossing:
                costs = [cpu.sending(problem.tensors[i].nbytes) for i in crossed[d, b]]
                terms += [cpu.send_us * used[d, b]] + [c * x for c, (_, x) in zip(costs, crossing[d, b])]
                top += cpu.send_us + sum(costs)
            if (b, d) in crossing:
                bandwidth = platform.link(names[b], names[d]).bandwidth
                costs = [cpu.receiving(problem.tensors[i].nbytes, bandwidth) for i in crossed[b, d]]
                terms += [cpu.receive_us * used[b, d]] + [c * x for c, (_, x) in zip(costs, crossing[b, d])]
                top += cpu.receive_us + sum(costs)
            if not terms:
                continue
            share = model.new_int_var(0, scale * top, "")
            for q in range(1, D + 1):
                model.add(share >= scale // q * sum(terms)).only_enforce_if(m[b][q - 1])
            scaled.setdefault(d, []).append(share)
            most += top
    return scaled, most


def _cap_memory(model: cp_model.CpModel, problem: PlacementProblem, w, y) -> None:
    """Each capped device holds at most its relaxed capacity (``PlacementProblem.relaxed_cap``): the relaxed bytes
    of every memory item one of its ops (``w[v][d]``) touches; a device whose cap the model's fixed cost passes
    serves no stage."""
    items = problem.memory_items()
    for d in range(len(problem.devices)):
        cap = problem.relaxed_cap(d)
        if cap is None:
            continue
        if cap < 0:
            for row in y:
                model.add(row[d] == 0)
            continue
        held = []
        for item in items:
            if item.relaxed == 0:
                continue
            h = model.new_bool_var("")
            for v in item.ops:
                model.add_implication(w[v][d], h)
            held.append(item.relaxed * h)
        model.add(sum(held) <= cap)


def _over_cap(problem: PlacementProblem, stage: list[int], serve: list[int | None]) -> list[frozenset[int]]:
    """The stages (their ops) whose part passes the cap of a device serving them under the problem's memory model
    (none without a model: the CP-SAT model states the count itself)."""
    if problem.memory_model is None:
        return []
    over = []
    for d, s in enumerate(serve):
        ops = frozenset(v for v, t in enumerate(stage) if t == s)
        if s is not None and not problem.holds(d, sorted(ops)) and ops not in over:
            over.append(ops)
    return over


def _forbid(model: cp_model.CpModel, problem: PlacementProblem, a, y, ops: frozenset[int]) -> None:
    """No device whose cap a part of ``ops`` passes serves a stage of exactly these ops (a no-good per stage)."""
    n = problem.num_ops
    for d in range(len(problem.devices)):
        if problem.holds(d, sorted(ops)):
            continue
        for s in range(len(y)):
            model.add_bool_or([y[s][d].Not(), *(a[v][s].Not() for v in ops), *(a[v][s] for v in range(n) if v not in ops)])


def _stages(solver: cp_model.CpSolver, a, y) -> tuple[list[int], list[int | None]]:
    """The solved stage of each op and the stage each device serves (None: idle), stages renumbered 0, 1, ..."""
    S = len(y)
    stage = [next(s for s in range(S) if solver.value(a[v][s])) for v in range(len(a))]
    serve = [next((s for s in range(S) if solver.value(y[s][d])), None) for d in range(len(y[0]))]
    renumber = {s: k for k, s in enumerate(sorted(set(stage)))}
    return [renumber[s] for s in stage], [None if s is None else renumber[s] for s in serve]


def _reads(model: cp_model.CpModel, a, tensor, k: int):
    """A Boolean that is true when some consumer of ``tensor`` is in stage k (exact: both directions)."""
    var = model.new_bool_var("")
    readers = [a[c][k] for c in tensor.consumers]
    for r in readers:
        model.add_implication(r, var)
    model.add_bool_or(readers).only_enforce_if(var)
    return var
