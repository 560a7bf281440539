"""What the station search's and the beam search's tests share: the check of a packing, and a graph that packs
into full parts one way only."""

from __future__ import annotations

import networkx as nx

from heuristics.dag import Dag


def assert_packed(inst: Dag, parts: list[int] | None, k: int, cycle: int) -> None:
    """``parts`` is a partition into at most ``k`` parts, every edge forward, every load at most ``cycle``."""
    assert parts is not None and len(parts) == inst.n and all(0 <= p < k for p in parts)
    assert all(parts[u] <= parts[v] for u, v in inst.edges)
    loads = [sum(w for w, p in zip(inst.weights, parts) if p == s) for s in range(k)]
    assert max(loads) <= cycle


def two_chains() -> Dag:
    """Two chains whose ops only pack into full parts one way: 6+4 | 5+5 (K = 2, C = 10, no idle time)."""
    graph = nx.DiGraph()
    for v, w in enumerate([6, 5, 5, 4]):
        graph.add_node(v, weight=w)
    graph.add_edges_from([(0, 3), (1, 2)])
    return Dag.from_graph(graph)
