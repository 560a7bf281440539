"""An op order that needs less memory: onert runs a part's ops in the file's order, so the order we write decides
which tensors are live together and so the arena its planner can reach.

Model
-----
A run order is a topological order of the part's ops. Running op v claims its outputs, then releases each input
whose last reader it was (onert's ``planTensors``, :mod:`solver.memory.lifetimes`; tensors no op of the part
reads stay to the end). The live peak of an order is the largest sum of sizes live at once; every planner's arena
is at least the peak (and WIC's is usually at it), so the order minimizing the peak is the target.

Exact: dynamic programming over the ideals (down-closed op sets) of the part: with ``live(I)`` the bytes live
after the ops of I ran, ``best(I)`` the least peak of any order of I,
``best(I + v) = min over v ready after I of max(best(I), live(I) + outputs(v))``. States are enumerated layer by
layer from the empty set; above ``max_states`` ideals the search stops and the greedy order is used: at each step
the ready op with the least ``live + outputs(v)``, ties by the least live after it, then by index. The answer
says which it is; either is never worse than the file's order, which is kept when nothing beats it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.memory.lifetimes import Graph, backend_events
from solver.memory.model import part_graph
from solver.memory.planner import live_peak

MAX_STATES = 200_000  # ideals the exact search may visit


@dataclass(frozen=True)
class OpOrder:
    """An order of a part's ops (positions in ``graph.ops``) with its live peak, the file order's, and how found."""

    order: list[int]
    peak: int
    file_peak: int
    method: str  # "exact", "greedy" or "file" (nothing found beats the file's order)


def order_peak(graph: Graph, order: Sequence[int]) -> int:
    """The live peak (bytes) of running ``graph``'s ops in ``order``, all on one backend."""
    return live_peak(backend_events(graph, order, ["cpu"] * len(graph.ops), "cpu"))


def least_peak_order(graph: Graph, max_states: int = MAX_STATES) -> OpOrder:
    """The order of ``graph``'s ops with the least live peak (see the module docstring)."""
    n = len(graph.ops)
    file_order = list(range(n))
    file_peak = order_peak(graph, file_order)
    steps = _Steps(graph)
    found = _exact(steps, max_states)
    method = "exact"
    if found is None:
        found, method = _greedy(steps), "greedy"
    peak = order_peak(graph, found)
    if peak >= file_peak:
        return OpOrder(file_order, file_peak, file_peak, "file" if method == "greedy" else method)
    return OpOrder(found, peak, file_peak, method)


class _Steps:
    """What running one op does to the live bytes: its preds, claimed bytes and the tensors it may release."""

    def __init__(self, graph: Graph):
        n = len(graph.ops)
        external = set(graph.inputs) | set(graph.outputs) | graph.constants
        producer = {t: k for k, op in enumerate(graph.ops) for t in op.outputs if t not in external}
        readers: dict[int, int] = {}  # tensor -> bitmask of the ops reading it
        for k, op in enumerate(graph.ops):
            for t in set(op.inputs):
                if t in producer:
                    readers[t] = readers.get(t, 0) | (1 << k)
        self.n = n
        self.preds = [0] * n
        for t, mask in readers.items():
            for k in _bits(mask):
                self.preds[k] |= 1 << producer[t]
        self.claims = [sum(graph.sizes[t] for t in dict.fromkeys(op.outputs) if t in producer) for op in graph.ops]
        self.frees = [[(t, readers[t], graph.sizes[t]) for t in dict.fromkeys(op.inputs) if t in readers]
                      for op in graph.ops]  # fmt: skip

    def run(self, done: int, live: int, v: int) -> tuple[int, int]:
        """(peak while v runs, live after it) from the ideal ``done`` with ``live`` bytes."""
        peak = live + self.claims[v]
        after = done | (1 << v)
        freed = sum(size for _, mask, size in self.frees[v] if mask & ~after == 0)
        return peak, peak - freed

    def ready(self, done: int) -> list[int]:
        return [v for v in range(self.n) if not done >> v & 1 and self.preds[v] & ~done == 0]


def memory_order(graph: Graph, parts: Sequence[int]) -> tuple[list[int], list[OpOrder]]:
    """An order of all ops of ``graph`` in which each part of ``parts`` (a partition map) runs its ops in its least
    peak order (:func:`least_peak_order`), the parts one after another; and each part's :class:`OpOrder`."""
    order: list[int] = []
    found = []
    for part in sorted(set(parts)):
        ops = [v for v, p in enumerate(parts) if p == part]
        best = least_peak_order(part_graph(graph, ops))
        order += [ops[k] for k in best.order]
        found.append(best)
    return order, found


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _exact(steps: _Steps, max_states: int) -> list[int] | None:
    """The DP over ideals; None past ``max_states`` ideals."""
    layer = {0: (0, 0)}  # ideal -> (best peak, live bytes); live depends on the ideal only
    back: dict[int, tuple[int, int]] = {}  # ideal -> (previous ideal, op)
    visited = 1
    for _ in range(steps.n):
        nxt: dict[int, tuple[int, int]] = {}
        for done, (best, live) in layer.items():
            for v in steps.ready(done):
                peak, after = steps.run(done, live, v)
                ideal = done | (1 << v)
                value = max(best, peak)
                if ideal not in nxt or value < nxt[ideal][0]:
                    nxt[ideal] = (value, after)
                    back[ideal] = (done, v)
        visited += len(nxt)
        if visited > max_states:
            return None
        layer = nxt
    order, ideal = [], (1 << steps.n) - 1
    while ideal:
        ideal, v = back[ideal]
        order.append(v)
    return order[::-1]


def _greedy(steps: _Steps) -> list[int]:
    done, live, order = 0, 0, []
    for _ in range(steps.n):
        v = min(steps.ready(done), key=lambda u: (*steps.run(done, live, u), u))
        live = steps.run(done, live, v)[1]
        done |= 1 << v
        order.append(v)
    return order
