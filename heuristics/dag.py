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

import gc
import heapq
import time
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np

from heuristics.bisection import least
from heuristics.errors import HeuristicError

_MAX_TOTAL = 2**63 - 1  # the weights are summed in int64 (prefix sums, loads)
# Positions of exact ancestry kept before each op for the closure weights (head, tail): exact up to this many
# ops, a lower bound beyond (see _closure_weights); about 1.5 s per closure at 100,000 ops.
_BAND = 2048
_NEAREST = (1 << 64) - 1  # ancestors just beyond the band whose closures are looked at
# Above this many ops the station windows are left out of lower_bound (their closures take longer than the
# few tenths of a percent they add on big graphs); the weight bounds remain.
WINDOW_OPS = 250_000


class GraphError(HeuristicError):
    """An op graph that is not a partitioning instance (nodes, cycle, weights), or a part count it cannot take."""


class ClosureStopped(HeuristicError):
    """The closure weights were not done by their deadline."""


@dataclass(frozen=True)
class Dag:
    """An op DAG as lists: weights, adjacency (sorted), edges, a topological order, closure weights, tensors.

    Build it with :meth:`from_graph`, which checks the graph; the fields are then trusted by every algorithm.
    ``head`` and ``tail`` are computed on first use (exact up to 2,048 ops, lower bounds beyond: see
    ``_closure_weights``; about 1.5 s for 100,000 ops).
    """

    name: str
    weights: list[int]  # weights[v] of op v
    preds: Sequence[list[int]]  # lists (from_graph) or an Adjacency over arrays (from_arrays): the same values
    succs: Sequence[list[int]]
    edges: Sequence[tuple[int, int]]  # sorted
    edge_bytes: list[int]  # bytes of the tensors on edges[e] (ONE's memory overhead counts them per edge)
    order: list[int]  # a topological order: Kahn's sort taking the smallest ready op first
    constants: dict[object, tuple[int, list[int]]]  # constant tensor -> (bytes, ops reading it)
    tensors: Mapping[object, tuple[int, int, list[int]]]  # data tensor -> (bytes, producer, consumers)

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
        attrs = dict(graph.nodes(data=True))
        weights = []
        for v in range(n):
            w = attrs[v].get(weight)
            if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0:
                raise GraphError(f"{name}: op {v}: {weight!r} must be a non-negative integer, got {w!r}")
            weights.append(int(w))
        if sum(weights) > _MAX_TOTAL:
            raise GraphError(f"{name}: the weights sum to {sum(weights)}, more than a 64-bit integer holds (2^63-1)")
        # One pass over the adjacency (looking edges up one by one costs seconds on 10^6 edges).
        succs: list[list[int]] = []
        preds: list[list[int]] = [[] for _ in range(n)]
        edges, edge_bytes = [], []
        tensors: dict[object, tuple[int, int, list[int]]] = {}
        adjacency = graph.adj
        for u in range(n):
            out = sorted(adjacency[u].items())
            succs.append([v for v, _ in out])
            for v, data in out:
                preds[v].append(u)  # u ascends, so every preds list comes out sorted
                edges.append((u, v))
                edge_bytes.append(int(data.get("bytes", 0)))
                # Without tensor names an op's outgoing edges carry one output, of the edge's bytes.
                for t, nbytes in (data.get("tensors") or {("output of", u): data.get("bytes", 0)}).items():
                    tensors.setdefault(t, (int(nbytes), u, []))[2].append(v)
        order = _kahn(preds, succs)
        if len(order) < n:
            raise GraphError(f"{name}: has a cycle, cannot be pipelined")
        constants: dict[object, tuple[int, list[int]]] = {}
        for v in range(n):
            for c, nbytes in (attrs[v].get("constants") or {}).items():
                constants.setdefault(c, (int(nbytes), []))[1].append(v)
        return cls(name, weights, preds, succs, edges, edge_bytes, order, constants, tensors)

    @classmethod
    def from_arrays(
        cls,
        name: str,
        weights: np.ndarray,
        edges: tuple[np.ndarray, np.ndarray, np.ndarray],
        tensors: Mapping[object, tuple[int, int, list[int]]],
        constants: dict[object, tuple[int, list[int]]],
    ) -> Dag:
        """Check and flatten ops ``0..n-1`` of ``weights`` and the distinct edges ``(src[e], dst[e])``, sorted
        by (src, dst), with ``edge bytes[e]`` (``edges = (src, dst, bytes)``, int64): the instance
        :meth:`from_graph` makes of the same graph, without a networkx graph in between (a million ops).

        Raises
        ------
        GraphError
            A negative weight, weights summing past 64 bits, an edge out of ``0..n-1``, unsorted or repeated, or a
            cycle; the message names the graph.
        """
        src, dst, edge_bytes = (np.asarray(a, dtype=np.int64) for a in edges)
        weights = np.asarray(weights, dtype=np.int64)
        n = len(weights)
        if n and int(weights.min()) < 0:
            v = int(np.argmin(weights))
            raise GraphError(f"{name}: op {v}: 'weight' must be a non-negative integer, got {int(weights[v])}")
        weight_list = weights.tolist()
        if sum(weight_list) > _MAX_TOTAL:
            raise GraphError(f"{name}: the weights sum to {sum(weight_list)}, more than a 64-bit integer holds (2^63-1)")
        key = src * max(n, 1) + dst
        if len(src) and (src.min() < 0 or dst.min() < 0 or src.max() >= n or dst.max() >= n or (np.diff(key) <= 0).any()):
            raise GraphError(f"{name}: edges must join ops 0..{n - 1}, sorted and each once")
        with _collector_paused():
            return cls._from_checked_arrays(name, weights, weight_list, src, dst, edge_bytes, tensors, constants)

    @classmethod
    def _from_checked_arrays(cls, name, weights, weight_list, src, dst, edge_bytes, tensors, constants) -> Dag:
        """The lists of :meth:`from_arrays` from its checked arrays (a cycle is still refused here)."""
        n = len(weight_list)
        # Flat lists of shared int objects (an op number is one object wherever it appears): a list per op and a
        # tuple per edge would take 300 MB more at 10^6 ops, 3 GB at 10^7.
        node = np.asarray(list(range(n)) + [None], dtype=object)[:n]
        src_list, dst_list = node[src].tolist(), node[dst].tolist()
        succs = Adjacency(dst_list, np.searchsorted(src, np.arange(n + 1)))
        by_dst = np.argsort(dst, kind="stable")  # = lexsort((src, dst)): the edges are sorted by (src, dst) already
        preds = Adjacency(node[src[by_dst]].tolist(), np.searchsorted(dst[by_dst], np.arange(n + 1)))
        # Ops in file order are often already sorted: then Kahn's smallest-first order is 0..n-1.
        order = node.tolist() if (src < dst).all() else _kahn(preds, succs)
        if len(order) < n:
            raise GraphError(f"{name}: has a cycle, cannot be pipelined")
        sizes, which = np.unique(edge_bytes, return_inverse=True)
        shared_bytes = np.asarray(sizes.tolist() + [None], dtype=object)[:-1][which].tolist()
        dag = cls(name, weight_list, preds, succs, EdgeList(src_list, dst_list), shared_bytes, order,
                  constants, tensors)  # fmt: skip
        dag.__dict__.update(weight_array=weights, src=src, dst=dst, edge_bytes_array=edge_bytes)
        return dag

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
    def edge_bytes_array(self) -> np.ndarray:
        return np.asarray(self.edge_bytes, dtype=np.int64)

    @cached_property
    def tensor_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The data tensors flat: bytes and producer of tensor t, then (tensor, consumer) of every read.

        A ``tensors`` mapping that holds arrays gives them itself (``flat()``; solver.io.graph_arrays)."""
        if hasattr(self.tensors, "flat"):
            return self.tensors.flat()
        nbytes, producer, tensor, consumer = [], [], [], []
        for t, (size, u, readers) in enumerate(self.tensors.values()):
            nbytes.append(size)
            producer.append(u)
            tensor += [t] * len(readers)
            consumer += readers
        return tuple(np.asarray(a, dtype=np.int64) for a in (nbytes, producer, tensor, consumer))

    @cached_property
    def head(self) -> list[int]:
        """Weight of v and all its ancestors (a lower bound on big graphs, see ``_closure_weights``)."""
        return self._closure("head")

    @cached_property
    def tail(self) -> list[int]:
        """Weight of v and all its descendants (a lower bound on big graphs, see ``_closure_weights``)."""
        return self._closure("tail")

    def _closure(self, side: str, deadline: float | None = None) -> list[int]:
        """``head`` or ``tail`` (``side``), computed; :class:`ClosureStopped` past ``deadline``."""
        order, adjacency = (self.order, self.preds) if side == "head" else (self.order[::-1], self.succs)
        return _closure_weights(order, adjacency, self.weights, deadline=deadline)

    @cached_property
    def head_array(self) -> np.ndarray:
        return np.asarray(self.head, dtype=np.int64)

    @cached_property
    def tail_array(self) -> np.ndarray:
        return np.asarray(self.tail, dtype=np.int64)

    @cached_property
    def _bounds(self) -> dict[int, int]:
        """K -> :func:`lower_bound`, kept: the checker asks for it with every partition it measures."""
        return {}


class _ListView(Sequence):
    """A read-only sequence equal to a list holding the same items (and to any sequence that does)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]


class Adjacency(_ListView):
    """Ops' neighbour lists held flat: ``self[v]`` is ``flat[starts[v]:starts[v + 1]]`` (a new list each time),
    equal to the list of lists with the same values."""

    def __init__(self, flat: list[int], starts: np.ndarray) -> None:
        self.flat, self.starts = flat, array("q", np.asarray(starts, dtype=np.int64).tobytes())

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, v):  # type: ignore[override]
        if isinstance(v, slice):
            return [self[u] for u in range(*v.indices(len(self)))]
        if v < 0:
            v += len(self)
        if not 0 <= v < len(self):
            raise IndexError(v)
        return self.flat[self.starts[v] : self.starts[v + 1]]

    def __iter__(self) -> Iterator[list[int]]:
        flat, starts = self.flat, self.starts
        return (flat[a:b] for a, b in zip(starts, starts[1:]))


class EdgeList(_ListView):
    """Edges ``(src[e], dst[e])`` held as two flat lists, a tuple made when asked; equal to the list of tuples."""

    def __init__(self, src: list[int], dst: list[int]) -> None:
        self.src, self.dst = src, dst

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, e):  # type: ignore[override]
        if isinstance(e, slice):
            return list(zip(self.src[e], self.dst[e]))
        return self.src[e], self.dst[e]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.src, self.dst)


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
    ordered = np.sort(np.asarray(weights, dtype=np.int64))[::-1]
    if len(ordered) == 0:
        return 0
    best = max(-(-int(ordered.sum()) // num_parts), int(ordered[0]))
    # LB_j = sum of ordered[jK - j .. jK] (0-based), for every j with jK + 1 <= n, from prefix sums.
    prefix = np.concatenate(([0], np.cumsum(ordered)))
    j = np.arange(1, (len(ordered) - 1) // num_parts + 1)
    if len(j):
        best = max(best, int((prefix[j * num_parts + 1] - prefix[j * num_parts - j]).max()))
    return best


def lower_bound(dag: Dag, num_parts: int, deadline: float | None = None) -> int:
    """The strongest bottleneck bound: :func:`weight_bound` raised by the station windows (module doc).

    The windows need the closure weights, a pass over every op (1.4 s at 100,000 layered ops on a quiet machine,
    more under load): when they are not done by ``deadline`` (a ``time.monotonic()`` reading; None: no deadline)
    the bound is the weights' alone. Either way the bound is kept for ``num_parts``: every later call returns it.

    >>> g = nx.DiGraph([(0, 1), (1, 2)])
    >>> nx.set_node_attributes(g, {0: 1, 1: 5, 2: 1}, "weight")
    >>> lower_bound(Dag.from_graph(g), 2)  # 5 alone would leave 1 | 5 | 1: three parts
    6
    """
    if num_parts not in dag._bounds:
        base = weight_bound(dag.weight_array, num_parts)
        if dag.n > WINDOW_OPS or not _closures_by(dag, deadline):
            dag._bounds[num_parts] = base
        else:
            dag._bounds[num_parts] = window_bound(dag, num_parts, base, max(base, dag.total))
    return dag._bounds[num_parts]


def closures_known(dag: Dag) -> bool:
    """Whether ``dag.head`` and ``dag.tail`` have been computed (the station windows' bound could use them)."""
    return "head" in dag.__dict__ and "tail" in dag.__dict__


def _closures_by(dag: Dag, deadline: float | None) -> bool:
    """Whether ``dag.head`` and ``dag.tail`` are known, computing them unless past ``deadline`` (kept once done)."""
    for side in ("head", "tail"):
        if side not in dag.__dict__:
            try:
                dag.__dict__[side] = dag._closure(side, deadline)
            except ClosureStopped:
                return False
    return True


def station_windows(dag: Dag, num_parts: int, cycle: int) -> tuple[list[int], list[int]] | None:
    """Earliest and latest part of each op when the bottleneck is at most ``cycle``; None if one is empty.

    ``E_v = ceil(head(v) / C) - 1`` and ``L_v = K - ceil(tail(v) / C)``, clamped to ``0..K-1``.
    """
    windows = _windows(dag, num_parts, cycle)
    return None if windows is None else (windows[0].tolist(), windows[1].tolist())


def _windows(dag: Dag, num_parts: int, cycle: int) -> tuple[np.ndarray, np.ndarray] | None:
    if cycle <= 0:
        return None if dag.total > 0 else (np.zeros(dag.n, np.int64), np.full(dag.n, num_parts - 1, np.int64))
    early = np.maximum(0, -(-dag.head_array // cycle) - 1)
    late = np.minimum(num_parts - 1, num_parts + (-dag.tail_array // cycle))
    if (early > late).any():
        return None
    return early, late


def window_bound(dag: Dag, num_parts: int, low: int, high: int) -> int:
    """The smallest C in ``low..high`` whose station windows are all non-empty (monotone in C)."""
    return least(low, high, lambda cycle: _windows(dag, num_parts, cycle) is not None)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: building millions of objects (a million ops' lists) would otherwise run
    it over every object made so far, again and again (half of ``from_arrays``'s time at 10^6 ops). The lists
    hold ints only, so they form no cycles to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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


def _closure_weights(order: list[int], preds: list[list[int]], weights: list[int], band: int = _BAND,
                     deadline: float | None = None) -> list[int]:
    """For each v, the weight of v plus its ancestors (along ``preds``), exactly when ``n <= band``, else a lower bound.

    Ancestry is kept exactly over the ``band`` positions of ``order`` before each op (a Python int as a bitset,
    bit i standing for position p - 1 - i), so memory and time grow with ``n * band``, not ``n^2``. Ancestors
    further back are counted through one of the 64 nearest ancestors beyond the band, x: its closure weight
    plus the ancestors between the band and x (closure, those and the band are disjoint, as ancestors of x
    come before it). The best x counts; on a chain of blocks it is a block's last op, whose closure is all
    before it, so the count is exact. A lower bound is all the station
    windows need (a smaller head only widens them). The weighted bit counts and the look beyond the band run in
    numpy, a batch at a time. Past ``deadline`` (a ``time.monotonic()`` reading) it raises :class:`ClosureStopped`.
    """
    n = len(order)
    if n == 0:
        return []
    band = max(8, min(band, -(-n // 8) * 8))
    batch = min(band, 1024)  # heads of a batch are summed together; all lie within the band of the next
    position = np.empty(n, dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(n)
    at = position.tolist()
    by_position = np.asarray(weights, dtype=np.int64)[np.asarray(order, dtype=np.int64)]
    # windows[p][j] is the weight at position p - band + j (0 before the start).
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate((np.zeros(band, np.int64), by_position)), band)
    head = np.zeros(n, dtype=np.int64)  # by position
    beyond = [0] * n  # by position: closure weight counted for the ancestors beyond the band
    bits: list[int] = [0] * n  # by position
    mask, width = (1 << band) - 1, band // 8
    for first in range(0, n, batch):
        if deadline is not None and time.monotonic() > deadline:
            raise ClosureStopped(f"closure weights stopped after {first} of {n} ops")
        stop = min(n, first + batch)
        ups, nearest, chunk = [], [], bytearray()
        for p in range(first, stop):  # the ancestors within the band, and the 64 nearest that left it
            acc, up = 0, [at[u] for u in preds[order[p]]]
            for q in up:
                if p - q <= band:
                    acc |= ((bits[q] << 1) | 1) << (p - q - 1)
            ups.append(up)
            nearest.append((acc >> band) & _NEAREST)
            acc &= mask
            bits[p] = acc
            chunk += acc.to_bytes(width, "big")  # big-endian: column j is position p - band + j
        extra = _beyond_band(np.arange(first, stop), nearest, head, by_position, band).tolist()
        for i, p in enumerate(range(first, stop)):  # closures beyond the band reached through the preds
            best = extra[i]
            for q in ups[i]:
                through = int(head[q]) if p - q > band else beyond[q]
                if through > best:
                    best = through
            beyond[p] = best
        rows = np.unpackbits(np.frombuffer(bytes(chunk), np.uint8).reshape(-1, width), axis=1)
        inside = np.einsum("ij,ij->i", rows.astype(np.int64), windows[first:stop])
        head[first:stop] = inside + np.asarray(beyond[first:stop]) + by_position[first:stop]
        for q in range(max(0, first - band), max(0, stop - band)):
            bits[q] = 0  # beyond the band of every later op: free it
    out = np.empty(n, dtype=np.int64)
    out[np.asarray(order, dtype=np.int64)] = head
    return out.tolist()


def _beyond_band(positions: np.ndarray, nearest: list[int], head: np.ndarray, by_position: np.ndarray,
                 band: int) -> np.ndarray:
    """Per position p, the best count of its ancestors beyond the band through the nearest ones that left it:
    bit j of ``nearest`` marks the ancestor at position ``q_j = p - band - 1 - j``, which counts ``head[q_j]``
    plus the weight of the marked ancestors nearer than it (0 when none is marked). Every ``q_j`` lies before
    the batch, so its ``head`` is final."""
    words = np.asarray(nearest, dtype="<u8")
    marked = np.unpackbits(words.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little").astype(bool)
    at = np.maximum(0, positions[:, None] - band - 1 - np.arange(64))
    nearer = np.where(marked, by_position[at], 0)
    nearer = np.cumsum(nearer, axis=1) - nearer
    return np.where(marked, head[at] + nearer, 0).max(axis=1, initial=0)
