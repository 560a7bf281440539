"""Loads of a placement and the independent checker every placement passes before it is reported.

A placement puts each op on a device (``assign[v]``); the ops of one device form its part. Definitions:

- compute(d): sum of the times on d of the ops placed on d.
- a tensor written on device a and read by ops on device b != a crosses link (a, b) once (once per
  reading part); link(a, b): the sum of its transfer times ``latency_us + bytes / bandwidth``.
- counted(d): bytes of the constant tensors its ops read, each once, plus the bytes of every data tensor
  its ops read or write, each once (every tensor alive for the whole run);
  memory(d): the figure of d's part under the problem's memory model (``PlacementProblem.memory_model``,
  docs/memory.md), counted(d) without one; what the device's capacity caps.
- edge cut: the edges between ops on different devices; transfer bytes: the bytes all links carry.
- overhead(d): with measured devices (``PlacementProblem.engine``), what the engine costs d per request
  beyond its compute (solver.placement.engine: tasks, the part's tensors through its session and, where its
  core's CPU was measured, a message per link it sends or receives on with the tensors crossing it); 0 without.
- throughput objective: the bottleneck ``max(max_d compute(d) + overhead(d), max_(a,b) link(a, b))``;
  latency objective: a request's way through the parts as the run has it (:func:`path_latency`): a part
  starts once every part it reads has finished, then its inbound links carry their tensors together (the
  longest link time), then it computes; with measured devices each part adds its device's hand-off and
  session bytes, each picking task a hand-off, and the request its own ``request_us``.
- valid: every op on a device that supports it, the session graph acyclic, every crossing on an existing
  link, every device within its memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from solver.errors import CheckError
from solver.placement.engine import CLIENT, Message, busy_us, hop_us, request_us, stage_io, through_us
from solver.placement.objectives import TABLE
from solver.placement.problem import PlacementProblem


@dataclass
class LinkLoad:
    """What crosses one directed link."""

    source: int
    target: int
    tensors: int
    nbytes: int
    time: int
    sizes: list[int] = field(default_factory=list)  # the bytes of each tensor crossing: one message per request


@dataclass
class PlacementMetrics:
    """Loads, memory and both objectives of one placement; ``order`` is the pipeline order of used devices."""

    compute: list[int]
    memory: list[int]  # under the problem's memory model (0 on an unused device)
    op_counts: list[int]
    links: list[LinkLoad]
    order: list[int]
    throughput: int  # the bottleneck
    bottleneck_at: str  # "device NAME" or "link A -> B"
    latency: int
    edge_cut: int
    counted: list[int] = field(default_factory=list)  # constants and every tensor touched, each device
    overhead: list[int] = field(default_factory=list)  # the engine's per device (empty: none measured)

    def busy(self, d: int) -> int:
        """Device d's time per request: its compute and the engine's overhead."""
        return self.compute[d] + (self.overhead[d] if self.overhead else 0)

    @property
    def transfer_bytes(self) -> int:
        return sum(link.nbytes for link in self.links)

    def objective(self, name: str) -> int:
        """The value of an objective or secondary objective (solver.placement.objectives: throughput, latency, cut,
        bytes)."""
        return TABLE[name].evaluate(self)

    def parts(self, assign: list[int]) -> list[int]:
        """ONE's partition map: part k is the k-th used device in pipeline order."""
        rank = {d: k for k, d in enumerate(self.order)}
        return [rank[d] for d in assign]


def evaluate(problem: PlacementProblem, assign: list[int], *, memory: bool = True) -> PlacementMetrics:
    """The loads and objectives of ``assign``; raises CheckError when it is not a valid placement.

    ``memory=False`` measures a placement that may overflow a device (a baseline's answer, to show by how much).
    """
    devices = problem.devices
    n, D = problem.num_ops, len(devices)
    name = problem.name
    if len(assign) != n or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < D for d in assign):
        raise CheckError(f"{name}: a placement needs one device number in 0..{D - 1} per op ({n} ops)")
    compute, counts = [0] * D, [0] * D
    for v, d in enumerate(assign):
        t = problem.times[v][d]
        if t is None:
            raise CheckError(f"{name}: op {v} ({problem.graph.nodes[v].get('type', '?')}) is placed on {devices[d]}, which does not support it")
        compute[d] += t
        counts[d] += 1
    session = nx.DiGraph()
    session.add_nodes_from(sorted(set(assign)))
    crossing: dict[tuple[int, int], LinkLoad] = {}
    held: list[set] = [set() for _ in range(D)]
    for i, tensor in enumerate(problem.tensors):
        a = assign[tensor.producer]
        held[a].add(("tensor", i))
        for b in sorted({assign[c] for c in tensor.consumers}):
            held[b].add(("tensor", i))
            if b == a:
                continue
            costs = problem.transfer[a][b]
            if costs is None:
                raise CheckError(f"{name}: tensor {tensor.key!r} goes from {devices[a]} to {devices[b]}, which have no link")
            load = crossing.setdefault((a, b), LinkLoad(a, b, 0, 0, 0))
            load.tensors += 1
            load.nbytes += tensor.nbytes
            load.sizes.append(tensor.nbytes)
            load.time += costs[i]
            session.add_edge(a, b)
    if not nx.is_directed_acyclic_graph(session):
        cycle = " -> ".join(devices[a] for a, _ in nx.find_cycle(session))
        raise CheckError(f"{name}: the session graph has a cycle ({cycle})")
    for c, (nbytes, readers) in problem.constants.items():
        for v in readers:
            held[assign[v]].add(("constant", c))
    sizes = {("tensor", i): t.nbytes for i, t in enumerate(problem.tensors)}
    sizes.update({("constant", c): nbytes for c, (nbytes, _) in problem.constants.items()})
    counted = [sum(sizes[key] for key in keys) for keys in held]
    needed = list(counted)
    if problem.memory_model is not None:
        needed = [problem.part_memory([v for v, a in enumerate(assign) if a == d]) if counts[d] else 0
                  for d in range(D)]  # fmt: skip
    over = next((d for d in range(D) if memory and overflows(problem, d, needed[d])), None)
    if over is not None:
        raise CheckError(f"{name}: device {devices[over]} needs {needed[over]} bytes ({problem.memory_name} model), "
                         f"over its {problem.memory_cap(over)}")  # fmt: skip
    links = sorted(crossing.values(), key=lambda l: (l.source, l.target))
    metrics = _metrics(problem, assign, compute, needed, counts, links, session)
    metrics.counted = counted
    return metrics


def overflows(problem: PlacementProblem, d: int, nbytes: int) -> bool:
    cap = problem.memory_cap(d)
    return cap is not None and nbytes > cap


def _metrics(problem, assign, compute, memory, counts, links, session) -> PlacementMetrics:
    devices = problem.devices
    order = list(nx.lexicographical_topological_sort(session))
    edge_time = {(l.source, l.target): l.time for l in links}
    ios, overhead = _engine_loads(problem, assign, order, links)
    busy = [c + (overhead[d] if overhead else 0) for d, c in enumerate(compute)]
    worst_device = max(range(len(busy)), key=lambda d: busy[d])
    throughput, at = busy[worst_device], f"device {devices[worst_device]}"
    for load in links:
        if load.time > throughput:
            throughput, at = load.time, f"link {devices[load.source]} -> {devices[load.target]}"
    engine = problem.engine or [None] * len(devices)
    rank = {d: k for k, d in enumerate(order)}
    duration = [compute[d] + hop_us(engine[d]) + (through_us(ios[k], engine[d]) if ios else 0)
                for k, d in enumerate(order)]  # fmt: skip
    inbound = {(rank[a], rank[b]): t for (a, b), t in edge_time.items()}
    pick = {(j, k): hop_us(engine[order[j]]) for j, k in inbound if ios and k in ios[j].picked}
    out = [hop_us(engine[d]) if ios and CLIENT in ios[k].picked else 0 for k, d in enumerate(order)]
    latency = path_latency(inbound, duration, pick, out, request_us([engine[d] for d in order]))
    cut = sum(1 for u, v in problem.graph.edges if assign[u] != assign[v])
    return PlacementMetrics(compute, memory, counts, links, order, throughput, at, latency, cut, overhead=overhead)


def _engine_loads(problem: PlacementProblem, assign: list[int], order: list[int], links: list[LinkLoad]):
    """Per part in pipeline ``order`` what the engine moves and runs for it, and per device its overhead, the
    messages it sends and receives counted (a message per link a tensor crosses; both empty when no device is
    measured)."""
    if problem.engine is None:
        return [], []
    parts: dict[int, list[int]] = {d: [] for d in order}
    for v, d in enumerate(assign):
        parts[d].append(v)
    ios = stage_io(problem.flows, [parts[d] for d in order])
    names, platform = problem.devices, problem.platform
    messages = [(l.source, l.target, Message(tuple(l.sizes), platform.link(names[l.source], names[l.target]).bandwidth))
                for l in links]  # fmt: skip
    overhead = [0] * len(problem.devices)
    for io, d in zip(ios, order):
        sends = [m for a, _, m in messages if a == d]
        receives = [m for _, b, m in messages if b == d]
        overhead[d] = busy_us(io, problem.engine[d], sends, receives)
    return ios, overhead


def path_latency(inbound: dict[tuple[int, int], float], duration: list[float], pick: dict[tuple[int, int], float],
                 out: list[float], start: float) -> float:  # fmt: skip
    """A request's latency through parts 0..K-1 in pipeline order, as Dask runs them (the one rule of the solver and
    the run's prediction, solver.placement.predicted).

    Part k reads the parts j with ``(j, k)`` in ``inbound`` (j < k), whose tensors reach it in ``inbound[j, k]``.
    Its task is sent once every part it reads has finished (a picking task between j and k adds ``pick[j, k]``);
    its worker then fetches their tensors at once, each over its own link (the longest), and it takes
    ``duration[k]``. Parts reading none start at ``start``; the request ends when the last part has finished
    (``out[k]`` more for a picking task of the model's outputs).
    """
    finish: list[float] = []
    producers: dict[int, list[int]] = {}
    for j, k in inbound:
        producers.setdefault(k, []).append(j)
    for k, took in enumerate(duration):
        sources = producers.get(k, [])
        ready = max((finish[j] + pick.get((j, k), 0) for j in sources), default=start)
        ready += max((inbound[j, k] for j in sources), default=0)
        finish.append(ready + took)
    return max((f + out[k] for k, f in enumerate(finish)), default=start)
