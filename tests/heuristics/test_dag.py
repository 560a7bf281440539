"""The one validated instance: what it refuses (one error type naming the graph), the one K check, the one bound."""

from __future__ import annotations

import doctest
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import heuristics.dag
from heuristics.dag import Dag, GraphError, check_num_parts, lower_bound, station_windows, weight_bound
from heuristics.errors import HeuristicError
from heuristics.minmax import minmax
from heuristics.orders import order_search
from solver.partitioning.exact import solve_exact
from solver.partitioning.metrics import check_partition
from tests.partitioning.test_exact import brute_force, dags


def chain(weights, name="chain.json") -> nx.DiGraph:
    graph = nx.path_graph(len(weights), create_using=nx.DiGraph)
    graph.graph["name"] = name
    nx.set_node_attributes(graph, dict(enumerate(weights)), "weight")
    return graph


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=9), data=st.data())
def test_lower_bound_never_exceeds_the_optimum(graph, data):
    k = data.draw(st.integers(1, graph.number_of_nodes()))
    dag = Dag.from_graph(graph)
    optimum = brute_force(graph, k)
    bound = lower_bound(dag, k)
    assert weight_bound(dag.weights, k) <= bound <= optimum
    assert bound >= max(math.ceil(dag.total / k), max(dag.weights))
    # The optimum's windows are non-empty: its partition satisfies them.
    assert optimum == 0 or station_windows(dag, k, optimum) is not None


def test_station_windows_raise_the_bound_above_the_weights():
    # 1 | 5 | 1 in a chain, K = 2: the weights allow 5, but the 5 must share a part with a neighbour.
    dag = Dag.from_graph(chain([1, 5, 1]))
    assert weight_bound(dag.weights, 2) == 5 and lower_bound(dag, 2) == 6


def test_bin_packing_bound():
    # Three ops of 6 into two parts: two share a part, so 12 > ceil(18 / 2).
    assert weight_bound([6, 6, 6], 2) == 12


def test_the_checker_solvers_and_heuristics_report_the_one_bound():
    graph = chain([1, 5, 1])
    assert check_partition(graph, [0, 0, 1], 2).lower_bound == 6
    exact = solve_exact(graph, 2, hint=[0, 1, 1], time_limit=0, workers=1)
    assert exact.bound == 6 and exact.status == "OPTIMAL"


def test_the_instance():
    graph = nx.DiGraph(name="g")
    graph.add_nodes_from([(0, {"weight": 2, "constants": {"c": 8}}), (1, {"weight": 3}),
                          (2, {"weight": np.int64(4), "constants": {"c": 8}})])  # fmt: skip
    graph.add_edge(2, 1, bytes=12, tensors={"t": 12})
    graph.add_edge(0, 1, bytes=4)
    dag = Dag.from_graph(graph)
    assert (dag.name, dag.n, dag.total, dag.weights) == ("g", 3, 9, [2, 3, 4])
    assert dag.preds == [[], [0, 2], []] and dag.succs == [[1], [], [1]]
    assert dag.edges == [(0, 1), (2, 1)] and dag.edge_bytes == [4, 12]
    assert dag.order == [0, 2, 1] and dag.head == [2, 9, 4] and dag.tail == [5, 3, 7]
    assert dag.constants == {"c": (8, [0, 2])}
    assert dag.tensors == {("output of", 0): (4, 0, [1]), "t": (12, 2, [1])}
    assert Dag.from_graph(dag) is dag


def _renamed(graph):
    return nx.relabel_nodes(graph, {0: 5})


def _cyclic(graph):
    graph.add_edge(2, 0)
    return graph


def _set(v, w):
    def change(graph):
        graph.nodes[v]["weight"] = w
        return graph

    return change


def _missing(graph):
    del graph.nodes[1]["weight"]
    return graph


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_renamed, r"model.tflite: nodes must be the integers 0..2"),
        (_cyclic, r"model.tflite: has a cycle"),
        (_missing, r"model.tflite: op 1: 'weight' must be a non-negative integer, got None"),
        (_set(1, -3), r"model.tflite: op 1: 'weight' must be a non-negative integer, got -3"),
        (_set(1, True), r"op 1: 'weight' must be a non-negative integer, got True"),
        (_set(1, 2.0), r"op 1: 'weight' must be a non-negative integer, got 2.0"),
        (_set(1, float("nan")), r"op 1: 'weight' must be a non-negative integer, got nan"),
    ],
)
def test_invalid_graphs_give_one_error_naming_the_graph(change, message):
    graph = change(chain([1, 2, 3], name="model.tflite"))
    for use in (Dag.from_graph, lambda g: minmax(g, 1), lambda g: order_search(g, 1),
                lambda g: solve_exact(g, 1), lambda g: check_partition(g, [0, 0, 0], 1)):  # fmt: skip
        with pytest.raises(GraphError, match=message):
            use(graph)


@pytest.mark.parametrize("k", [0, 4, -1, True, 2.0])
def test_part_counts_out_of_range_give_the_same_error(k):
    graph = chain([1, 2, 3], name="model.tflite")
    message = rf"model.tflite: cannot split 3 ops into {k} non-empty parts \(the number of parts must be 1..3\)"
    for use in (lambda: check_num_parts(Dag.from_graph(graph), k), lambda: minmax(graph, k),
                lambda: order_search(graph, k), lambda: solve_exact(graph, k),
                lambda: check_partition(graph, [0, 0, 0], k)):  # fmt: skip
        with pytest.raises(GraphError, match=message):
            use()


def test_graph_error_is_a_heuristic_error_the_cli_prints_on_one_line():
    assert issubclass(GraphError, HeuristicError) and GraphError.exit_code == 2


def test_doctests():
    assert doctest.testmod(heuristics.dag).failed == 0


@settings(max_examples=100, deadline=None)
@given(dags(max_ops=9))
def test_a_dag_from_arrays_holds_the_lists_from_graph_does(graph):
    """``from_arrays`` keeps preds, succs and edges flat behind views: element for element the lists of
    ``from_graph``, equal to them either way round, indexed, sliced and iterated like them."""
    dag = Dag.from_graph(graph)
    src, dst = (np.asarray([e[i] for e in dag.edges], dtype=np.int64) for i in (0, 1))
    made = Dag.from_arrays(dag.name, np.asarray(dag.weights), (src, dst, np.asarray(dag.edge_bytes)), dag.tensors,
                           dag.constants)  # fmt: skip
    assert made == dag and dag == made
    for view, lists in ((made.preds, dag.preds), (made.succs, dag.succs), (made.edges, dag.edges)):
        assert len(view) == len(lists) and list(view) == lists and view == lists and lists == view
        assert [view[i] for i in range(-len(lists), len(lists))] == [lists[i] for i in range(-len(lists), len(lists))]
        assert view[1:-1] == lists[1:-1] and view[::2] == lists[::2]
        with pytest.raises(IndexError):
            view[len(lists)]
        if lists:
            assert view != lists[:-1] and view != [*lists[:-1], None]
