"""What the station search's and the beam search's tests share: the check of a packing, a graph that packs into full
parts one way only, and a brute force with its graphs of 12-20 ops."""

from __future__ import annotations

import networkx as nx
from hypothesis import strategies as st

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


def fits(inst: Dag, k: int, cycle: int) -> bool:
    """Whether some partition into at most ``k`` parts in a line has every load at most ``cycle``, by brute force: a
    dynamic program over the ideals (sets of ops that hold each op's predecessors), each keeping its fewest parts
    and then its lightest last part (Jackson's: fewer parts, then a lighter open part, leave every completion
    open). It costs the number of ideals, small on the narrow graphs of :func:`lines` (12-20 ops)."""
    if max(inst.weights, default=0) > cycle:
        return False
    needs = [sum(1 << u for u in inst.preds[v]) for v in range(inst.n)]
    best = {0: (1, 0)}  # ideal (bitset) -> (parts, last part's load)
    layer = [0]
    for _ in range(inst.n):  # ideals by size: each is final once the smaller ones are done
        grown: list[int] = []
        for ideal in layer:
            parts, load = best[ideal]
            for v in range(inst.n):
                if not ideal >> v & 1 and ideal & needs[v] == needs[v]:
                    w = inst.weights[v]
                    step = (parts, load + w) if load + w <= cycle else (parts + 1, w)
                    bigger = ideal | 1 << v
                    if step[0] <= k and (bigger not in best or step < best[bigger]):
                        if bigger not in best:
                            grown.append(bigger)
                        best[bigger] = step
        layer = grown
    return (1 << inst.n) - 1 in best


def least_cycle(inst: Dag, k: int) -> int:
    """The optimum bottleneck on ``k`` parts (bisection on :func:`fits`)."""
    low, high = max(inst.weights, default=0), sum(inst.weights)
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if fits(inst, k, mid) else (mid + 1, high)
    return low


@st.composite
def lines(draw, min_ops: int = 12, max_ops: int = 20) -> Dag:
    """A narrow random DAG like an assembly line's: each op fed by up to two of the four before it in a random
    topological order (labels shuffled), weights up to a drawn scale, some of them 0. Narrow keeps the brute
    force's ideals few; weights of one scale on many parts leave little idle time, where least idle times bite and
    many sets of ops weigh the same."""
    n = draw(st.integers(min_ops, max_ops))
    label = draw(st.permutations(range(n)))
    scale = draw(st.sampled_from([3, 10, 30]))
    graph = nx.DiGraph()
    for v in range(n):
        graph.add_node(label[v], weight=draw(st.integers(0, scale)))
    for v in range(1, n):
        for u in draw(st.lists(st.integers(max(0, v - 4), v - 1), max_size=2, unique=True)):
            graph.add_edge(label[u], label[v])
    return Dag.from_graph(graph)
