"""The validated op DAG every partitioner and the checker work on, the part-count check and the lower bound.

Model
-----
Ops ``0..n-1`` with non-negative integer weights ``w``, data edges ``E`` (acyclic), ``K`` parts. A partition
gives each op a part ``p(v)`` in ``0..K-1`` with ``p(u) <= p(v)`` on every edge and no part empty; its cost is
the bottleneck ``max_k sum_{p(v)=k} w_v``. :class:`Dag` is that instance, checked and flattened once from a
networkx graph (docs/design.md gives the graph convention); :func:`lower_bound` is the strongest bound on the
bottleneck we know without solving:

- ``ceil(total / K)`` and ``max w`` (some part holds the average, some part holds the heaviest op);
- the bin-packing bounds ``LB_j`` = the sum of the ``j + 1`` smallest of the ``jK + 1`` largest weights (of
  ``jK + 1`` ops, some part holds ``j + 1``; ``j = 1`` is ``w_(K) + w_(K+1)``);
- raised to the smallest ``C`` whose station windows (:func:`station_windows`) are all non-empty: with
  ``head(v)`` the weight of v and its ancestors and ``tail(v)`` that of v and its descendants, a partition
  with bottleneck ``<= C`` has ``ceil(head(v) / C) - 1 <= p(v) <= K - ceil(tail(v) / C)``. Emptiness of the
  windows is monotone in ``C``, so the smallest such ``C`` is found by bisection.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np

from heuristics.bisection import least
from heuristics.errors import HeuristicError


class GraphError(HeuristicError):
    """An op graph that is not a partitioning instance (nodes, cycle, weights), or a part count it cannot take."""


@dataclass(frozen=True)
class Dag:
    """An op DAG as lists: weights, adjacency (sorted), edges, a topological order, closure weights, tensors.

    Build it with :meth:`from_graph`, which checks the graph; the fields are then trusted by every algorithm.
    ``head`` and ``tail`` are computed on first use (packed bitsets: about a second for 10,000 ops).
    """

    name: str
    weights: list[int]  # weights[v] of op v
    preds: list[list[int]]
    succs: list[list[int]]
    edges: list[tuple[int, int]]  # sorted
    edge_bytes: list[int]  # bytes of the tensors on edges[e] (ONE's memory overhead counts them per edge)
    order: list[int]  # a topological order: Kahn's sort taking the smallest ready op first
    constants: dict[object, tuple[int, list[int]]]  # constant tensor -> (bytes, ops reading it)
    tensors: dict[object, tuple[int, int, list[int]]]  # data tensor -> (bytes, producer, consumers)

    @classmethod
    def from_graph(cls, graph: nx.DiGraph | Dag, weight: str = "weight") -> Dag:
        """Check ``graph`` and flatten it; a :class:`Dag` is returned as it is.

        Raises
        ------
        GraphError
            Nodes are not ``0..n-1``, the graph has a cycle, or a weight is missing, negative or not an integer
            (bool, float and NaN are refused). The message names the graph.
        """
        if isinstance(graph, Dag):
            return graph
        name = str(graph.graph.get("name") or "graph")
        n = graph.number_of_nodes()
        if set(graph.nodes) != set(range(n)):
            raise GraphError(f"{name}: nodes must be the integers 0..{n - 1}")
        weights = []
        for v in range(n):
            w = graph.nodes[v].get(weight)
            if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0:
                raise GraphError(f"{name}: op {v}: {weight!r} must be a non-negative integer, got {w!r}")
            weights.append(int(w))
        preds = [sorted(graph.predecessors(v)) for v in range(n)]
        succs = [sorted(graph.successors(v)) for v in range(n)]
        order = _kahn(preds, succs)
        if len(order) < n:
            raise GraphError(f"{name}: has a cycle, cannot be pipelined")
        edges = sorted(graph.edges)
        edge_bytes = [int(graph.edges[e].get("bytes", 0)) for e in edges]
        constants: dict[object, tuple[int, list[int]]] = {}
        for v in range(n):
            for c, nbytes in (graph.nodes[v].get("constants") or {}).items():
                constants.setdefault(c, (int(nbytes), []))[1].append(v)
        tensors: dict[object, tuple[int, int, list[int]]] = {}
        for u, v in edges:
            data = graph.edges[u, v]
            # Without tensor names an op's outgoing edges carry one output, of the edge's bytes.
            for t, nbytes in (data.get("tensors") or {("output of", u): data.get("bytes", 0)}).items():
                tensors.setdefault(t, (int(nbytes), u, []))[2].append(v)
        return cls(name, weights, preds, succs, edges, edge_bytes, order, constants, tensors)

    @property
    def n(self) -> int:
        return len(self.weights)

    @property
    def total(self) -> int:
        return sum(self.weights)

    @cached_property
    def weight_array(self) -> np.ndarray:
        """The weights as int64 (for prefix sums and vector arithmetic)."""
        return np.asarray(self.weights, dtype=np.int64)

    @cached_property
    def src(self) -> np.ndarray:
        """Edge e goes from ``src[e]`` to ``dst[e]``."""
        return np.asarray([u for u, _ in self.edges], dtype=np.int64)

    @cached_property
    def dst(self) -> np.ndarray:
        return np.asarray([v for _, v in self.edges], dtype=np.int64)

    @cached_property
    def head(self) -> list[int]:
        """Weight of v and all its ancestors."""
        return _closure_weights(self.order, self.preds, self.weights)

    @cached_property
    def tail(self) -> list[int]:
        """Weight of v and all its descendants."""
        return _closure_weights(self.order[::-1], self.succs, self.weights)

    @cached_property
    def _bounds(self) -> dict[int, int]:
        """K -> :func:`lower_bound`, kept: the checker asks for it with every partition it measures."""
        return {}


def check_num_parts(dag: Dag, num_parts: int) -> None:
    """Raise GraphError unless ``1 <= num_parts <= n`` (every part must hold at least one op)."""
    if isinstance(num_parts, bool) or not isinstance(num_parts, (int, np.integer)) or not 1 <= num_parts <= dag.n:
        raise GraphError(
            f"{dag.name}: cannot split {dag.n} ops into {num_parts} non-empty parts "
            f"(the number of parts must be 1..{dag.n})"
        )


def weight_bound(weights: Sequence[int], num_parts: int) -> int:
    """The bottleneck bound from the weights alone: ``max(ceil(total / K), max w, LB_j)`` (module doc).

    It holds for any grouping of the weights into ``K`` parts, so also for contiguous splits of an order.

    >>> weight_bound([5, 4, 3, 3, 1], 2)
    8
    >>> weight_bound([6, 6, 6], 2)
    12
    """
    ordered = sorted((int(w) for w in weights), reverse=True)
    best = max(-(-sum(ordered) // num_parts), ordered[0] if ordered else 0)
    j = 1
    while j * num_parts + 1 <= len(ordered):
        last = j * num_parts + 1
        best = max(best, sum(ordered[last - j - 1 : last]))
        j += 1
    return best


def lower_bound(dag: Dag, num_parts: int) -> int:
    """The strongest bottleneck bound: :func:`weight_bound` raised by the station windows (module doc).

    >>> g = nx.DiGraph([(0, 1), (1, 2)])
    >>> nx.set_node_attributes(g, {0: 1, 1: 5, 2: 1}, "weight")
    >>> lower_bound(Dag.from_graph(g), 2)  # 5 alone would leave 1 | 5 | 1: three parts
    6
    """
    if num_parts not in dag._bounds:
        base = weight_bound(dag.weights, num_parts)
        dag._bounds[num_parts] = window_bound(dag, num_parts, base, max(base, dag.total))
    return dag._bounds[num_parts]


def station_windows(dag: Dag, num_parts: int, cycle: int) -> tuple[list[int], list[int]] | None:
    """Earliest and latest part of each op when the bottleneck is at most ``cycle``; None if one is empty.

    ``E_v = ceil(head(v) / C) - 1`` and ``L_v = K - ceil(tail(v) / C)``, clamped to ``0..K-1``.
    """
    if cycle <= 0:
        return None if dag.total > 0 else ([0] * dag.n, [num_parts - 1] * dag.n)
    early = [max(0, -(-h // cycle) - 1) for h in dag.head]
    late = [min(num_parts - 1, num_parts - (-(-t // cycle))) for t in dag.tail]
    if any(e > l for e, l in zip(early, late)):
        return None
    return early, late


def window_bound(dag: Dag, num_parts: int, low: int, high: int) -> int:
    """The smallest C in ``low..high`` whose station windows are all non-empty (monotone in C)."""
    return least(low, high, lambda cycle: station_windows(dag, num_parts, cycle) is not None)


def _kahn(preds: list[list[int]], succs: list[list[int]]) -> list[int]:
    """Kahn's topological sort taking the smallest ready op first; shorter than n on a cycle."""
    indegree = [len(p) for p in preds]
    ready = [v for v, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        v = heapq.heappop(ready)
        order.append(v)
        for s in succs[v]:
            indegree[s] -= 1
            if indegree[s] == 0:
                heapq.heappush(ready, s)
    return order


def _closure_weights(order: list[int], preds: list[list[int]], weights: list[int]) -> list[int]:
    """For each v, the weight of v plus all nodes that reach it (ancestors along ``preds``).

    Sets are packed bitsets (numpy), so 10,000 ops take about a second.
    """
    n = len(order)
    if n == 0:
        return []
    bits = np.zeros((n, (n + 7) // 8), dtype=np.uint8)
    for v in order:
        row = bits[v]
        for u in preds[v]:
            np.bitwise_or(row, bits[u], out=row)
        row[v >> 3] |= 0x80 >> (v & 7)
    w = np.asarray(weights, dtype=np.int64)
    sums = np.empty(n, dtype=np.int64)
    for lo in range(0, n, 256):
        block = np.unpackbits(bits[lo : lo + 256], axis=1, count=n).astype(np.int64)
        sums[lo : lo + 256] = block @ w
    return sums.tolist()
