"""Metrics of a pipeline partition and the independent checker every result passes before it is written.

Definitions (see docs/design.md for the graph convention):

- load of part k: sum of the weights of its ops; bottleneck: the largest load.
- lower bound: ``max(ceil(total / K), largest op weight)``; no partition into K parts does better.
- session graph: K x K, 1 where some edge goes from an op of part i to an op of part j != i.
- edge cut and memory overhead as ONE defines them: the number of op pairs (u, v) with an edge across parts,
  and the bytes of the tensors on those edges counted per edge.
- transfer bytes: the bytes a runtime actually sends, each tensor counted once per part that consumes it
  across a cut (edges with no ``tensors`` attribute count their ``bytes`` as one tensor of the producer).
- memory of part k: bytes of the constant tensors its ops read (node attribute ``constants``), each tensor once.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from solver.errors import CheckError


@dataclass
class PartitionMetrics:
    """Everything the report says about one partition."""

    num_parts: int
    loads: list[int]
    op_counts: list[int]
    total: int
    bottleneck: int
    lower_bound: int
    session_graph: list[list[int]]
    acyclic: bool
    empty_parts: list[int]
    edge_cut: int
    memory_overhead: int
    transfer_bytes: int
    memory: list[int]

    @property
    def ratio(self) -> float:
        """Bottleneck over lower bound (1.0 means provably optimal)."""
        return self.bottleneck / self.lower_bound if self.lower_bound else 1.0


def lower_bound(graph: nx.DiGraph, num_parts: int, weight: str = "weight") -> int:
    """``max(ceil(total / K), largest op weight)``."""
    weights = [int(w) for _, w in graph.nodes(data=weight, default=0)]
    return max(-(-sum(weights) // num_parts), max(weights, default=0))


def evaluate(graph: nx.DiGraph, parts: list[int], num_parts: int, weight: str = "weight") -> PartitionMetrics:
    """The metrics of ``parts`` (one part in ``0..num_parts-1`` per op); no validity checks."""
    loads = [0] * num_parts
    counts = [0] * num_parts
    constants: list[dict] = [{} for _ in range(num_parts)]
    for v, data in graph.nodes(data=True):
        k = parts[v]
        loads[k] += int(data.get(weight, 0))
        counts[k] += 1
        constants[k].update(data.get("constants", {}))
    session = [[0] * num_parts for _ in range(num_parts)]
    edge_cut = overhead = 0
    transfers: dict[tuple, int] = {}
    for u, v, data in graph.edges(data=True):
        a, b = parts[u], parts[v]
        if a == b:
            continue
        session[a][b] = 1
        edge_cut += 1
        overhead += int(data.get("bytes", 0))
        tensors = data.get("tensors") or {("output of", u): int(data.get("bytes", 0))}
        for tensor, size in tensors.items():
            transfers[(tensor, b)] = int(size)
    session_graph = nx.DiGraph([(a, b) for a in range(num_parts) for b in range(num_parts) if session[a][b]])
    return PartitionMetrics(
        num_parts=num_parts,
        loads=loads,
        op_counts=counts,
        total=sum(loads),
        bottleneck=max(loads, default=0),
        lower_bound=lower_bound(graph, num_parts, weight),
        session_graph=session,
        acyclic=nx.is_directed_acyclic_graph(session_graph),
        empty_parts=[k for k in range(num_parts) if counts[k] == 0],
        edge_cut=edge_cut,
        memory_overhead=overhead,
        transfer_bytes=sum(transfers.values()),
        memory=[sum(c.values()) for c in constants],
    )


def check_partition(
    graph: nx.DiGraph,
    parts: list[int],
    num_parts: int,
    memory_cap: int | None = None,
    weight: str = "weight",
) -> PartitionMetrics:
    """Check that ``parts`` is a valid partition of ``graph`` into ``num_parts`` parts and return its metrics.

    Valid: one integer part in ``0..K-1`` per op, ``parts[u] <= parts[v]`` on every edge (so the session graph
    is acyclic), no empty part, loads summing to the total weight, and (with ``memory_cap``) no part whose
    constants exceed the cap.

    Raises
    ------
    CheckError
        The first violated condition, naming the graph, the op, edge or part, and the values.
    """
    name = graph.graph.get("name", "graph")
    n = graph.number_of_nodes()
    if num_parts < 1:
        raise CheckError(f"{name}: number of parts must be at least 1, got {num_parts}")
    if len(parts) != n:
        raise CheckError(f"{name}: partition has {len(parts)} entries for {n} ops")
    for v, k in enumerate(parts):
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < num_parts:
            raise CheckError(f"{name}: op {v} is in part {k!r}, outside 0..{num_parts - 1}")
    for u, v in graph.edges:
        if parts[u] > parts[v]:
            raise CheckError(
                f"{name}: edge {u} -> {v} goes backwards (part {parts[u]} -> part {parts[v]}), "
                "the session graph has a cycle"
            )
    metrics = evaluate(graph, parts, num_parts, weight)
    if metrics.empty_parts:
        raise CheckError(f"{name}: parts {metrics.empty_parts} are empty")
    total = sum(int(w) for _, w in graph.nodes(data=weight, default=0))
    if metrics.total != total:
        raise CheckError(f"{name}: part loads sum to {metrics.total}, the ops weigh {total}")
    if memory_cap is not None:
        over = [k for k, m in enumerate(metrics.memory) if m > memory_cap]
        if over:
            raise CheckError(
                f"{name}: parts {over} hold {[metrics.memory[k] for k in over]} bytes of constants, "
                f"over the cap of {memory_cap}"
            )
    return metrics
