"""The station search (solver/partitioning/stations.py) against brute force, from both ends and from each one."""

from __future__ import annotations

import doctest

import networkx as nx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import solver.partitioning.stations
from solver.errors import UsageError
from heuristics.dag import Dag, station_windows
from solver.partitioning.metrics import check_partition
from solver.partitioning.stations import DIRECTIONS, bin_bound, bin_shares, fill_stations
from tests.partitioning.packings import assert_packed, two_chains
from tests.partitioning.test_exact import brute_force, dags


RULES = {"closure weight": lambda inst: (inst.tail, inst.head), "weight": lambda inst: (inst.weights, inst.weights)}


def _search(inst, k: int, cycle: int, rule: str, directions: str = "both", stop=None,
            budget: int = 10**9) -> list[int] | None:
    """The station search at ``cycle``, exhaustive (no cap on the loads per part) unless ``budget`` runs out."""
    windows = station_windows(inst, k, cycle)
    if windows is None:
        return None
    return fill_stations(inst, k, cycle, windows, RULES[rule](inst), budget,
                         max_loads=10**6, stop=stop, directions=directions)


@settings(max_examples=90, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=9), k=st.integers(1, 4), rule=st.sampled_from(sorted(RULES)),
       directions=st.sampled_from(DIRECTIONS))
def test_finds_the_optimum_and_nothing_below(graph, k, rule, directions):
    # Without the load cap the search is exhaustive: its pruning rules (maximal loads from either
    # or both ends, subset sums, dominance, LB2, idle time, memo) must keep every optimum reachable.
    n = graph.number_of_nodes()
    assume(k <= n)
    best = brute_force(graph, k)
    assume(best > 0)
    inst = Dag.from_graph(graph)
    assert_packed(inst, _search(inst, k, best, rule, directions), k, best)
    assert _search(inst, k, best - 1, rule, directions) is None


def test_exact_load_packing():
    inst = two_chains()
    for rule in RULES:
        for directions in DIRECTIONS:
            parts = _search(inst, 2, 10, rule, directions)
            assert_packed(inst, parts, 2, 10)
            check_partition(inst, parts, 2)  # no part empty either
    assert _search(inst, 2, 10, "weight", stop=lambda: True) is None  # told to stop before any part
    assert _search(inst, 2, 10, "weight", budget=0) is None  # no node to spend


def _fewest_bins(weights: list[int], cycle: int) -> int:
    """The fewest parts of capacity ``cycle`` holding ``weights`` (no precedence), by enumeration."""
    best = len(weights)

    def place(i: int, loads: list[int]) -> None:
        nonlocal best
        if len(loads) >= best:
            return
        if i == len(weights):
            best = len(loads)
            return
        for b in range(len(loads)):
            if loads[b] + weights[i] <= cycle:
                loads[b] += weights[i]
                place(i + 1, loads)
                loads[b] -= weights[i]
        place(i + 1, loads + [weights[i]])

    place(0, [])
    return best


@settings(max_examples=300, deadline=None)
@given(weights=st.lists(st.integers(0, 12), min_size=1, max_size=8), extra=st.integers(0, 6),
       placed=st.lists(st.booleans(), min_size=8, max_size=8))
def test_bin_bound_never_above_the_fewest_parts(weights, extra, placed):
    # LB2 and LB3 bound the bin packing of the unplaced ops (precedence only adds parts).
    cycle = max(weights) + extra
    parts = [0 if placed[v] else -1 for v in range(len(weights))]
    unplaced = [w for w, p in zip(weights, parts) if p < 0]
    fewest = _fewest_bins(unplaced, cycle) if any(unplaced) else min(1, len(unplaced))
    assert bin_bound(bin_shares(weights, cycle), parts) <= fewest


def test_bin_bound_thirds():
    # Five ops of 4 at C = 10 take three parts: LB1 and LB2 say two, LB3 three.
    assert bin_bound(bin_shares([4] * 5, 10), [-1] * 5) == 3
    assert bin_bound(bin_shares([4] * 5, 10), [0, 0, -1, -1, -1]) == 2


def test_weightless_ops_left_over_get_a_part():
    # Once every op with weight is placed the search is done, and ops of weight 0 not yet placed were left at -1
    # (main before i29s2's fix: an all-weightless graph came back all -1, which exact.py read as part 0). Now each
    # goes to its predecessors' last part.
    graph = nx.DiGraph()
    graph.add_nodes_from((v, {"weight": 0}) for v in range(4))
    graph.add_edges_from([(0, 1), (1, 2), (0, 3)])
    inst = Dag.from_graph(graph)
    for cycle in (0, 1):
        for directions in DIRECTIONS:
            found = fill_stations(inst, 2, cycle, station_windows(inst, 2, cycle), RULES["weight"](inst), 10**6,
                                  max_loads=None, directions=directions)
            assert_packed(inst, found, 2, cycle)


def test_unknown_direction_is_refused():
    graph = nx.DiGraph([(0, 1)])
    nx.set_node_attributes(graph, 0, "weight")
    inst = Dag.from_graph(graph)
    with pytest.raises(UsageError, match="sideways"):
        _search(inst, 1, 1, "weight", "sideways")


def test_doctests():
    assert doctest.testmod(solver.partitioning.stations).failed == 0
