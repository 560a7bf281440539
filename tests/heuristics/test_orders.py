"""Order search: exact contiguous splits (against brute force), valid partitions on random DAGs, seeds."""

from __future__ import annotations

import doctest
import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import heuristics.orders
from heuristics.dag import Dag, lower_bound
from heuristics.errors import HeuristicError
from heuristics.orders import best_split, order_search, priority_order, random_order
from solver.partitioning.metrics import check_partition


@st.composite
def dags(draw, max_ops: int = 9, max_weight: int = 30):
    """A random DAG on 0..n-1 with integer weights, numbered in a random (not necessarily topological) order."""
    n = draw(st.integers(1, max_ops))
    label = draw(st.permutations(range(n)))
    graph = nx.DiGraph(name="random")
    graph.add_nodes_from(range(n))
    for i, j in itertools.combinations(range(n), 2):
        if draw(st.booleans()):
            graph.add_edge(label[i], label[j], bytes=4 * (i + 1), tensors={("t", label[i]): 4 * (i + 1)})
    for v in range(n):
        graph.nodes[v]["weight"] = draw(st.integers(0, max_weight))
    return graph


@st.composite
def problems(draw, max_ops: int = 9):
    graph = draw(dags(max_ops))
    return graph, draw(st.integers(1, graph.number_of_nodes()))


def brute_force_split(weights: list[int], k: int) -> int:
    """The least bottleneck over every way to cut ``weights`` into ``k`` non-empty contiguous pieces."""
    n = len(weights)
    best = None
    for cuts in itertools.combinations(range(1, n), k - 1):
        bounds = (0, *cuts, n)
        value = max(sum(weights[a:b]) for a, b in zip(bounds, bounds[1:]))
        best = value if best is None else min(best, value)
    return best


@given(st.lists(st.integers(0, 50), min_size=1, max_size=10), st.data())
def test_best_split_is_optimal_for_its_order(weights, data):
    k = data.draw(st.integers(1, len(weights)))
    split = best_split(np.array(weights, dtype=np.int64), k)
    assert split.bottleneck == brute_force_split(weights, k)
    bounds = split.bounds
    assert bounds[0] == 0 and bounds[-1] == len(weights) and len(bounds) == k + 1
    assert all(a < b for a, b in zip(bounds, bounds[1:]))  # no empty part
    assert max(sum(weights[a:b]) for a, b in zip(bounds, bounds[1:])) == split.bottleneck


@settings(max_examples=60, deadline=None)
@given(problems())
def test_order_search_gives_a_checked_partition(problem):
    graph, k = problem
    parts = order_search(graph, k, iterations=20, seed=0)
    metrics = check_partition(graph, parts, k)
    assert sum(metrics.loads) == sum(w for _, w in graph.nodes(data="weight"))
    assert metrics.bottleneck >= lower_bound(Dag.from_graph(graph), k)


@settings(max_examples=30, deadline=None)
@given(problems(max_ops=7))
def test_order_search_never_beats_brute_force(problem):
    graph, k = problem
    parts = order_search(graph, k, iterations=20, seed=1)
    value = check_partition(graph, parts, k).bottleneck
    assert value >= _brute_force_partition(graph, k)


def _brute_force_partition(graph: nx.DiGraph, k: int) -> int:
    n = graph.number_of_nodes()
    weights = [graph.nodes[v]["weight"] for v in range(n)]
    best = None
    for parts in itertools.product(range(k), repeat=n):
        if len(set(parts)) < k or any(parts[u] > parts[v] for u, v in graph.edges):
            continue
        value = max(sum(w for w, p in zip(weights, parts) if p == q) for q in range(k))
        best = value if best is None else min(best, value)
    return best


@settings(max_examples=30, deadline=None)
@given(dags(), st.integers(0, 2**32 - 1))
def test_random_and_priority_orders_are_topological(graph, seed):
    dag = Dag.from_graph(graph)
    for order in (random_order(dag, np.random.default_rng(seed)), priority_order(dag, -dag.weight_array)):
        assert sorted(order) == list(range(graph.number_of_nodes()))
        position = {v: i for i, v in enumerate(order)}
        assert all(position[u] < position[v] for u, v in graph.edges)


def test_same_seed_same_answer(branchy_graph):
    first = order_search(branchy_graph, 3, seed=7)
    assert order_search(branchy_graph, 3, seed=7) == first


def test_reaches_the_optimum_of_a_chain():
    # A chain has one topological order, so the answer must be the exact split: 9 | 8 1 | 5 4 -> 9.
    graph = nx.path_graph(5, create_using=nx.DiGraph)
    nx.set_node_attributes(graph, dict(enumerate([9, 8, 1, 5, 4])), "weight")
    parts = order_search(graph, 3, seed=0)
    assert check_partition(graph, parts, 3).bottleneck == 9


def test_does_not_modify_the_graph(branchy_graph):
    before = nx.to_dict_of_dicts(branchy_graph), dict(branchy_graph.nodes(data=True))
    order_search(branchy_graph, 2, seed=0)
    assert (nx.to_dict_of_dicts(branchy_graph), dict(branchy_graph.nodes(data=True))) == before


@pytest.mark.parametrize("k", [0, 12])
def test_rejects_part_counts_out_of_range(branchy_graph, k):
    with pytest.raises(HeuristicError, match=rf"cannot split 11 ops into {k} non-empty parts"):
        order_search(branchy_graph, k)


def test_rejects_cycles_and_bad_weights():
    cyclic = nx.DiGraph([(0, 1), (1, 0)], name="loop.json")
    nx.set_node_attributes(cyclic, 1, "weight")
    with pytest.raises(HeuristicError, match="loop.json: has a cycle"):
        order_search(cyclic, 1)
    negative = nx.DiGraph([(0, 1)])
    nx.set_node_attributes(negative, {0: 1, 1: -3}, "weight")
    with pytest.raises(HeuristicError, match="op 1: 'weight' must be a non-negative integer, got -3"):
        order_search(negative, 1)


def test_large_random_graph_gives_a_valid_partition():
    # 3,000 ops: the search stays valid (and fast; timings live in benchmarks/partition_heuristics.py).
    rng = np.random.default_rng(3)
    graph = nx.DiGraph(name="wide")
    n = 3000
    graph.add_nodes_from((v, {"weight": int(rng.integers(1, 1000))}) for v in range(n))
    for v in range(1, n):
        for u in rng.integers(max(0, v - 40), v, size=2):
            graph.add_edge(int(u), v)
    parts = order_search(graph, 8, iterations=40, seed=0)
    metrics = check_partition(graph, parts, 8)
    assert metrics.ratio < 1.05


def test_doctests():
    assert doctest.testmod(heuristics.orders).failed == 0


@pytest.fixture(scope="module")
def branchy_graph(branchy_cnn) -> nx.DiGraph:
    from solver.io.tflite import read_model

    graph = read_model(branchy_cnn).op_graph()
    for v in graph.nodes:
        graph.nodes[v]["weight"] = 10 + 7 * v % 13
    return graph
