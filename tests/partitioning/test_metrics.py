"""Partition metrics on a hand-built graph with known values, and every error of the checker."""

from __future__ import annotations

import networkx as nx
import pytest

from heuristics.dag import GraphError
from solver.errors import CheckError
from solver.partitioning.metrics import check_partition, evaluate


@pytest.fixture
def graph() -> nx.DiGraph:
    """Op 0 writes tensor 10 (100 B), read by ops 1, 2 and 4; op 1 writes 11 (50 B) for op 3; op 2 writes 12 and 13."""
    g = nx.DiGraph(name="hand.json")
    weights = [5, 3, 4, 2, 1]
    constants = [{"c1": 1000}, {}, {"c2": 10, "shared": 5}, {"shared": 5}, {"c2": 10}]
    for v, (w, c) in enumerate(zip(weights, constants)):
        g.add_node(v, weight=w, constants=c, type="ADD")
    for u, v, tensors in [(0, 1, {10: 100}), (0, 2, {10: 100}), (0, 4, {10: 100}), (1, 3, {11: 50}),
                          (2, 3, {12: 30, 13: 20})]:  # fmt: skip
        g.add_edge(u, v, tensors=tensors, bytes=sum(tensors.values()))
    return g


def test_metrics_of_a_known_partition(graph):
    m = check_partition(graph, [0, 1, 2, 2, 2], 3)
    assert m.loads == [5, 3, 7] and m.op_counts == [1, 1, 3] and m.total == 15
    assert m.bottleneck == 7 and m.lower_bound == 5 and m.ratio == pytest.approx(1.4)
    assert m.session_graph == [[0, 1, 1], [0, 0, 1], [0, 0, 0]] and m.acyclic
    assert m.empty_parts == []
    assert m.edge_cut == 4  # 0->1, 0->2, 0->4, 1->3
    assert m.memory_overhead == 350  # ONE: tensor 10 on three cut edges, tensor 11 on one
    assert m.transfer_bytes == 250  # tensor 10 to parts 1 and 2, tensor 11 to part 2
    assert m.memory == [1000, 0, 15]  # "c2" and "shared" counted once in part 2


def test_one_part_has_no_cut(graph):
    m = check_partition(graph, [0] * 5, 1)
    assert (m.edge_cut, m.memory_overhead, m.transfer_bytes, m.bottleneck) == (0, 0, 0, 15)
    assert m.memory == [1015]  # c1 + c2 + shared, each once


def test_edges_without_tensors_count_their_bytes_once_per_consuming_part():
    g = nx.DiGraph([(0, 1, {"bytes": 8}), (0, 2, {"bytes": 8}), (0, 3, {"bytes": 8})])
    nx.set_node_attributes(g, 1, "weight")
    m = evaluate(g, [0, 1, 1, 0], 2)
    assert (m.edge_cut, m.memory_overhead, m.transfer_bytes) == (2, 16, 8)


def test_evaluate_reports_a_cyclic_session_graph(graph):
    m = evaluate(graph, [1, 0, 1, 1, 1], 2)
    assert not m.acyclic and m.session_graph == [[0, 1], [1, 0]]


def test_lower_bound_is_the_largest_op_or_the_average():
    g = nx.DiGraph()
    g.add_nodes_from([(0, {"weight": 9}), (1, {"weight": 1}), (2, {"weight": 1})])
    assert check_partition(g, [0, 1, 1], 2).lower_bound == 9
    assert check_partition(g, [0, 0, 0], 1).lower_bound == 11


@pytest.mark.parametrize(
    ("parts", "k", "message"),
    [
        ([0, 1, 2, 2], 3, "hand.json: partition has 4 entries for 5 ops"),
        ([0, 1, 3, 2, 2], 3, r"hand.json: op 2 is in part 3, outside 0..2"),
        ([0, 1, -1, 2, 2], 3, r"op 2 is in part -1"),
        ([0, 1, "2", 2, 2], 3, r"op 2 is in part '2'"),
        ([0, 1, 2, 0, 2], 3, r"edge 1 -> 3 goes backwards \(part 1 -> part 0\)"),
        ([0, 0, 0, 0, 2], 3, r"hand.json: parts \[1\] are empty"),
    ],
)
def test_checker_errors(graph, parts, k, message):
    with pytest.raises(CheckError, match=message):
        check_partition(graph, parts, k)


@pytest.mark.parametrize("k", [0, 6])
def test_checker_refuses_part_counts_out_of_range(graph, k):
    with pytest.raises(GraphError, match=rf"hand.json: cannot split 5 ops into {k} non-empty parts"):
        check_partition(graph, [0] * 5, k)


def test_memory_cap(graph):
    assert check_partition(graph, [0, 1, 1, 1, 1], 2, memory_cap=1000).memory == [1000, 15]
    with pytest.raises(CheckError, match=r"parts \[0\] hold \[1000\] bytes of constants, over the cap of 999"):
        check_partition(graph, [0, 1, 1, 1, 1], 2, memory_cap=999)
