"""Seed 002's partition-and-place method, reproduced faithfully as a baseline (``solve place --algo seed002``).

Seed 002 (``../shared/seeds/002_*``) splits a Keras model for a network of edge nodes:

1. **Cut points.** Each layer's level is its longest path from the model input (edges count 1). A level
   holding a single layer is a *singleton*. Starting from the input, the next cut point is the first later
   singleton ``d`` such that no path from the previous cut point reaches a level beyond ``d``'s without
   passing through ``d`` (its ``find_all_paths``); the scan only moves forward.
2. **Transfer size** of cut point ``p``, in Mbit: ``outbound(p) * elements(p) * 8 / 1.44 * 8 / 2^20`` (8-byte
   floats, a ZFP compression ratio of 1.44, one copy per outbound layer).
3. **Memory** of the layers after cut point ``i - 1`` up to cut point ``i``: per layer, the bytes of its output
   plus its parameter *count*; the memory of a part of cut points ``i..j-1`` is ``sum(mem[i:j-1])``.
4. **Partition.** A DAG of candidate parts ``i-j`` (those under the node capacity, all nodes alike), an edge
   ``i-j -> j-k`` weighing the transfer size of cut point ``j - 1``; the path of least *sum* of transfer sizes
   from a part that starts at the input to one that ends at the output, memoised per end point; a path longer
   than the number of nodes is dropped only at its start.
5. **Placement.** From every node in turn, a greedy path: always go to the nearest remaining node (least
   inverse bandwidth, first found on ties); the path whose worst hop ``transfer / bandwidth`` is least wins.

Kept as the seed has them, and reported when they bite (``Seed002Result.defects``):

- the memory of a part skips the segment just before its first cut point (``mem[i:j-1]`` leaves out
  ``mem[i-1]``), so a part may not fit the capacity the method says it fits;
- parameters are counted, not their bytes (a float32 weight counts 1 byte, not 4);
- the path's cost is a sum where the objective is the worst hop;
- a model that fits one node raises "Only one partition" instead of giving that one part.

The model input is not an op in our graphs: the first cut point (the input layer) is sized by the ops' ``input_bytes``
(docs/graph-format.md; 0 for graphs without it) and holds no op, so a part made of the input layer alone
places no op. Op times and device speeds play no part in the method: it never sees compute.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import networkx as nx

from solver.errors import InfeasibleError
from solver.placement.problem import PlacementProblem

INPUT = -1  # the model input, seed 002's first cut point
_FLOAT_BYTES = 4  # Keras applications are float32: elements = bytes / 4, parameters = variable bytes / 4
_ZFP_RATIO = 1.44
_SEED_FLOAT_BYTES = 8


@dataclass(frozen=True)
class CutPoints:
    """Seed 002's view of a model: its cut points and, per cut point, the transfer size and memory after it."""

    points: list[int]  # op index of each cut point, INPUT first
    level: dict[int, int]  # op (and INPUT) -> longest-path level from the input
    transfer_mbit: list[float]  # per cut point
    memory: list[float]  # memory[i]: layers after cut point i up to cut point i + 1; the last is 0


@dataclass
class Seed002Result:
    """Seed 002's answer: its parts (cut-point ranges), the node of each, its objective, and where it erred."""

    segments: list[tuple[int, int]]  # (i, j): cut points i..j-1
    nodes: list[int]  # device of each segment, in path order
    hop_mbit: list[float]  # transfer size of each hop
    bottleneck_s: float  # seed 002's objective: the worst hop's transfer time, in seconds
    assign: list[int]  # device of each op
    defects: list[str] = field(default_factory=list)

    def to_json(self, devices: tuple[str, ...]) -> dict:
        return {"cut_point_ranges": [list(s) for s in self.segments], "nodes": [devices[d] for d in self.nodes],
                "hop_mbit": self.hop_mbit, "bottleneck_s": self.bottleneck_s, "defects": self.defects}  # fmt: skip


class Seed002Error(InfeasibleError):
    """Seed 002's method gives up where it would raise (no path, or only one partition)."""


def cut_points(graph: nx.DiGraph) -> CutPoints:
    """Seed 002's cut points, transfer sizes (Mbit) and segment memories of an op graph (module docstring)."""
    level = _levels(graph)
    by_level: dict[int, list[int]] = {}
    for v in sorted(level, key=lambda v: (level[v], v)):
        by_level.setdefault(level[v], []).append(v)
    singletons = [ops[0] for _, ops in sorted(by_level.items()) if len(ops) == 1]
    points, prev = [], None
    for d in singletons:
        if prev is None or _dominates(graph, level, prev, d):
            points.append(d)
            prev = d
    if points[-1] != singletons[-1]:
        # The seed's forward scan runs off the end of its singleton list here (an IndexError).
        raise Seed002Error(f"{graph.graph.get('name', 'model')}: seed 002 finds no cut point after "
                           f"op {points[-1]} (its scan fails: the model has no single last layer)")  # fmt: skip
    transfer = [_transfer_mbit(graph, p) for p in points]
    memory = [
        sum(_layer_memory(graph, v) for lv in range(level[points[i - 1]] + 1, level[points[i]] + 1)
            for v in by_level.get(lv, []))
        for i in range(1, len(points))
    ] + [0.0]  # fmt: skip
    return CutPoints(points, level, transfer, memory)


def _levels(graph: nx.DiGraph) -> dict[int, int]:
    level = {INPUT: 0}
    for v in nx.topological_sort(graph):
        level[v] = 1 + max((level[u] for u in graph.predecessors(v)), default=0)
    return level


def _dominates(graph: nx.DiGraph, level: dict[int, int], prev: int, d: int) -> bool:
    """Seed 002's ``find_all_paths(prev, d)``: no path from ``prev`` passes ``d``'s level without ``d``."""
    start = [v for v in graph if graph.in_degree(v) == 0] if prev == INPUT else [prev]
    seen, queue = set(start), deque(start)
    while queue:
        u = queue.popleft()
        if level[u] > level[d]:
            return False
        if u == d:
            continue
        for w in graph.successors(u):
            if w not in seen:
                seen.add(w)
                queue.append(w)
    return True


def _output_bytes(graph: nx.DiGraph, v: int) -> int:
    """Bytes of the op's output (Keras layers have one output tensor, read by every outbound layer)."""
    read = (b for _, _, tensors in graph.out_edges(v, data="tensors") for b in (tensors or {}).values())
    return max(read, default=graph.nodes[v].get("output_bytes", 0))


def _transfer_mbit(graph: nx.DiGraph, p: int) -> float:
    """``outbound * elements``: for the input, the readers of the model input times its size."""
    if p == INPUT:
        copies = sum(graph.nodes[v].get("input_bytes", 0) for v in graph) / _FLOAT_BYTES
    else:
        copies = graph.out_degree(p) * _output_bytes(graph, p) / _FLOAT_BYTES
    return copies * _SEED_FLOAT_BYTES / _ZFP_RATIO * 8 / 1024**2


def _layer_memory(graph: nx.DiGraph, v: int) -> float:
    """Output bytes plus the parameter count, as the seed's ``keras_layer_memory`` adds them."""
    return _output_bytes(graph, v) + sum(graph.nodes[v].get("constants", {}).values()) / _FLOAT_BYTES


def seed002_memory(graph: nx.DiGraph, ops: list[int]) -> float:
    """Seed 002's memory estimate of a part of ``ops``: its layers' output bytes plus their parameter counts."""
    return sum(_layer_memory(graph, v) for v in ops)


def seed002_partition(cuts: CutPoints, num_nodes: int, capacity: float) -> list[tuple[int, int]]:
    """Seed 002's ``create_partition_graph`` and ``partition``: the least-sum path of parts (module docstring).

    Raises
    ------
    Seed002Error
        Where the seed raises: no path within ``num_nodes`` ("Can't partition ...") or a single part
        ("Only one partition").
    """
    m = len(cuts.points)
    parts = [(i, j) for i in range(m) for j in range(i + 1, m + 1) if sum(cuts.memory[i:j - 1]) < capacity]
    starting: dict[int, list[tuple[int, int]]] = {}
    for part in parts:
        starting.setdefault(part[0], []).append(part)
    successors = {part: starting.get(part[1], []) for part in parts}
    has_parent = {q for qs in successors.values() for q in qs}
    memo: dict[int, tuple[list, float]] = {}

    def least(part):
        if not successors[part]:
            return [part], 0.0
        end = part[1]
        if end not in memo:
            best, best_cost = [], math.inf
            for child in successors[part]:
                path, cost = least(child)
                if cost < best_cost:
                    best, best_cost = path, cost
            memo[end] = (best, best_cost)
        path, cost = memo[end]
        return [part, *path], cuts.transfer_mbit[end - 1] + cost

    chosen, chosen_cost = [], math.inf
    for root in (p for p in parts if p not in has_parent):
        path, cost = least(root)
        if len(path) <= num_nodes and cost < chosen_cost:
            chosen, chosen_cost = path, cost
    if not chosen:
        raise Seed002Error("seed 002: can't partition with the specified number of nodes and capacity")
    if len(chosen) == 1:
        raise Seed002Error("seed 002: only one partition (the whole model fits one node; the seed raises here)")
    return chosen


def seed002_node_path(hop_mbit: list[float], inverse_bandwidth: list[list[float]]) -> list[int]:
    """Seed 002's ``choose_node_path``: the best of the greedy nearest-node paths from every node."""
    count = len(inverse_bandwidth)
    best, best_cost = [], math.inf
    for start in range(count):
        path, remaining = [start], [d for d in range(count) if d != start]
        for _ in hop_mbit:
            u = path[-1]
            nearest = min(remaining, key=lambda v: inverse_bandwidth[u][v])  # first of the least, as the seed
            remaining.remove(nearest)
            path.append(nearest)
        cost = _worst_hop(hop_mbit, inverse_bandwidth, path)
        if cost < best_cost:
            best, best_cost = path, cost
    return best


def _worst_hop(hop_mbit: list[float], inverse_bandwidth: list[list[float]], path: list[int]) -> float:
    return max((size * inverse_bandwidth[a][b] for size, a, b in zip(hop_mbit, path, path[1:])), default=0.0)


def seed002(problem: PlacementProblem) -> Seed002Result:
    """Seed 002's answer on ``problem``'s graph and platform (module docstring).

    The seed knows one node capacity: the smallest device memory is used (unlimited when none is set).
    Link bandwidths come from the platform (seed 002's law when it has positions); a missing link is never
    taken.

    Raises
    ------
    Seed002Error
        Where the seed raises, or its node path needs more devices than the platform has.
    """
    graph, devices = problem.graph, problem.platform.devices
    cuts = cut_points(graph)
    caps = [d.memory for d in devices if d.memory is not None]
    segments = seed002_partition(cuts, len(devices), min(caps) if caps else math.inf)
    hops = [cuts.transfer_mbit[j - 1] for _, j in segments[:-1]]
    inverse = [[_inverse_mbps(problem, a, b) for b in range(len(devices))] for a in range(len(devices))]
    nodes = seed002_node_path(hops, inverse)
    ends = [cuts.level[cuts.points[j - 1]] for _, j in segments]
    # Ops beyond the last cut point (a model with several last layers) are in no part of the seed's;
    # they stay with its last part.
    assign = [nodes[min(bisect.bisect_left(ends, cuts.level[v]), len(nodes) - 1)] for v in range(problem.num_ops)]
    result = Seed002Result(segments, nodes, hops, _worst_hop(hops, inverse, nodes), assign)
    result.defects = _defects(cuts, segments, min(caps) if caps else math.inf)
    if cuts.level and max(cuts.level.values()) > ends[-1]:
        result.defects.append("ops after the last cut point belong to no part of seed 002's; placed with its last part")
    return result


def _inverse_mbps(problem: PlacementProblem, a: int, b: int) -> float:
    names = problem.devices
    link = problem.platform.link(names[a], names[b]) if a != b else None
    return 1.0 / (link.bandwidth * 8 / 1e6) if link is not None else math.inf


def _defects(cuts: CutPoints, segments: list[tuple[int, int]], capacity: float) -> list[str]:
    """Where the seed's memory sum let through a part that its own estimate, summed in full, does not fit."""
    notes = []
    for i, j in segments:
        claimed, full = sum(cuts.memory[i:j - 1]), sum(cuts.memory[max(i - 1, 0):j - 1])
        if claimed < capacity <= full:
            notes.append(f"part of cut points {i}..{j - 1}: seed 002 sums {claimed / 2**20:.1f} MB, its own "
                         f"estimate in full is {full / 2**20:.1f} MB, over the {capacity / 2**20:.0f} MB node")  # fmt: skip
    return notes
