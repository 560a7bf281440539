"""The destructive-improvement bounds of solver/partitioning/salbp_bounds.py against brute force."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from heuristics.dag import Dag, lower_bound
from solver.partitioning.exact import _FeasibilityModel, solve_exact
from solver.partitioning.salbp_bounds import CycleBounds, _least_idle, share_arrays
from tests.partitioning.test_exact import brute_force, dags
from tests.partitioning.test_feasibility_windows import feasible_by_enumeration


def packings(dag: Dag, k: int, cycle: int) -> list[tuple[int, ...]]:
    """Every assignment of ops to stations ``0..k-1`` with edges forward and loads at most ``cycle`` (empty
    stations allowed: the bounds do not count on them being filled)."""
    found = []
    for parts in itertools.product(range(k), repeat=dag.n):
        if any(parts[u] > parts[v] for u, v in dag.edges):
            continue
        loads = [0] * k
        for v, p in enumerate(parts):
            loads[p] += dag.weights[v]
        if max(loads) <= cycle:
            found.append(parts)
    return found


@settings(max_examples=150, deadline=None)
@given(graph=dags(max_ops=7), k=st.integers(1, 4), data=st.data())
def test_windows_hold_every_packing(graph, k, data):
    """At any C, every packing lies inside the tightened windows, and a refuted C has no packing."""
    dag = Dag.from_graph(graph)
    cycle = data.draw(st.integers(0, dag.total))
    found = packings(dag, k, cycle)
    windows = CycleBounds(dag, k).windows(cycle)
    if windows is None:
        assert not found
        return
    early, late = windows
    for parts in found:
        assert all(e <= p <= l for p, e, l in zip(parts, early, late))


@settings(max_examples=100, deadline=None)
@given(graph=dags(max_ops=7), k=st.integers(1, 4))
def test_least_unrefuted_cycle_is_a_lower_bound(graph, k):
    """The smallest C the tests leave, searched from 1 or from heuristics.dag's bound, is at most the optimum
    (brute force)."""
    dag = Dag.from_graph(graph)
    if k > dag.n or dag.total == 0:
        return
    best = brute_force(graph, k)
    bounds = CycleBounds(dag, k)
    assert bounds.least(1, dag.total) <= best
    assert lower_bound(dag, k) <= bounds.least(lower_bound(dag, k), dag.total) <= best


def test_interval_counting_refutes_what_windows_allow():
    """Three free ops of weight 8 at K = 2: LB1 passes at C = 15 (24 <= 30), but all three are above C / 2 (LB2 on
    the interval 0..1). At C = 16 two fit together: 8 + 8 | 8."""
    graph = nx.DiGraph()
    for v, w in enumerate([8, 8, 8]):  # three independent ops above C / 2 at C = 15: three stations
        graph.add_node(v, weight=w)
    dag = Dag.from_graph(graph)
    bounds = CycleBounds(dag, 2)
    assert bounds.refutes(15)  # LB2, though 24 <= 2 * 15
    assert bounds.least(1, 24) == 16


@settings(max_examples=100, deadline=None)
@given(graph=dags(max_ops=9), k=st.integers(1, 5), data=st.data())
def test_windows_widen_with_the_cycle(graph, k, data):
    """What CycleBounds.least's bisection relies on: a cycle the tests pass leaves every larger one passing, with
    windows at least as wide."""
    dag = Dag.from_graph(graph)
    low = data.draw(st.integers(1, max(1, dag.total)))
    high = data.draw(st.integers(low, max(1, dag.total) + 1))
    bounds = CycleBounds(dag, k)
    narrow, wide = bounds.windows(low), bounds.windows(high)
    if narrow is not None:
        assert wide is not None
        assert (wide[0] <= narrow[0]).all() and (narrow[1] <= wide[1]).all()


def test_a_stopped_bound_is_what_was_proven():
    """Stopped at once, ``least`` has tried ``low`` only: one above it if refuted (here 8 of the 6 -> 5 -> 2,
    6 -> 3 graph below), else ``low``."""
    graph = nx.DiGraph([(0, 1), (0, 3), (1, 2)])
    for v, w in enumerate([6, 5, 2, 3]):
        graph.add_node(v, weight=w)
    bounds = CycleBounds(Dag.from_graph(graph), 2)
    assert bounds.least(8, 16, stop=lambda: True) == 9
    assert bounds.least(7, 16, stop=lambda: True) == 8
    assert bounds.least(9, 16, stop=lambda: True) == 9
    assert bounds.least(1, 16) == 9


@settings(max_examples=200, deadline=None)
@given(weights=st.lists(st.integers(0, 40), min_size=1, max_size=8), cycle=st.integers(1, 40))
def test_ops_that_fit_together_share_at_most_one_station(weights, cycle):
    """LB2's and LB3's shares (in halves and sixths) of any set of ops that fits in one station sum to at most 1."""
    halves, sixths = share_arrays(weights, cycle)
    for chosen in itertools.product((0, 1), repeat=len(weights)):
        if sum(w for w, c in zip(weights, chosen) if c) <= cycle:
            assert sum(h for h, c in zip(halves, chosen) if c) <= 2
            assert sum(t for t, c in zip(sixths, chosen) if c) <= 6


def test_exact_search_starts_from_the_destructive_bound():
    """6 -> 5 -> 2 and 6 -> 3 at K = 2 (total 16): at C = 8 every op but the 6 has a head above 8, so station 0
    holds the 6 alone, 2 short of full with no idle time to spare. heuristics.dag says 8; the exact search's
    bound, before any probe (no time), is 9, the optimum (brute force)."""
    graph = nx.DiGraph([(0, 1), (0, 3), (1, 2)])
    for v, w in enumerate([6, 5, 2, 3]):
        graph.add_node(v, weight=w)
    assert lower_bound(Dag.from_graph(graph), 2) == 8
    assert brute_force(graph, 2) == 9
    assert solve_exact(graph, 2, time_limit=0).bound == 9


def test_weightless_ops_fit_a_cycle_of_zero():
    graph = nx.DiGraph([(0, 1)])
    nx.set_node_attributes(graph, 0, "weight")
    bounds = CycleBounds(Dag.from_graph(graph), 2)
    assert not bounds.refutes(0) and bounds.least(0, 0) == 0
    graph.nodes[1]["weight"] = 1
    assert CycleBounds(Dag.from_graph(graph), 2).refutes(0)


def test_heavy_weights_skip_the_subset_sums():
    """Weights near 2^40 (the model's scale) would make bitsets of 2^43 bits: the idle-time test leaves them out
    and the rest still decides (5 + 3 | 4 + 4 at 2^40 units, no idle time; LB1 refutes one below)."""
    unit = 2**40
    graph = nx.DiGraph()
    for v, w in enumerate([5, 3, 4, 4]):
        graph.add_node(v, weight=w * unit)
    bounds = CycleBounds(Dag.from_graph(graph), 2)
    assert bounds.refutes(8 * unit - 1) and not bounds.refutes(8 * unit)


def test_idle_times_add_up_over_the_stations():
    """Ops 10, 9, 7, 10, 3 (the second 10 after the first and the 7) at K = 3: at C = 15 (6 idle in all) every
    other test passes and no station alone must be idle more than 6, but together they must be (an example
    brute force found against the tests with the stations checked one at a time). The optimum is 16."""
    graph = nx.DiGraph([(0, 3), (2, 3)])
    for v, w in enumerate([10, 9, 7, 10, 3]):
        graph.add_node(v, weight=w)
    bounds = CycleBounds(Dag.from_graph(graph), 3)
    assert bounds.refutes(15) and bounds.least(1, 39) == 16 == brute_force(graph, 3)


@settings(max_examples=80, deadline=None)
@given(graph=dags(max_ops=6), k=st.integers(1, 3), data=st.data())
def test_model_on_the_bounds_is_exact(graph, k, data):
    """CP-SAT's F(C) on the tightened windows and least loads finds a partition exactly when one exists (brute
    force over every partition, no part empty), at C near the optimum, where loads are tight."""
    dag = Dag.from_graph(graph)
    if k > dag.n:
        return
    cycle = max(0, brute_force(graph, k) + data.draw(st.sampled_from([-1, 0, 0, 1])))
    bounds = CycleBounds(dag, k)
    windows = bounds.windows(cycle)
    everywhere = ([0] * dag.n, [k - 1] * dag.n)
    expected = feasible_by_enumeration(dag, k, cycle, *everywhere)
    if windows is None:
        assert not expected
        return
    model = _FeasibilityModel(dag, k, cycle, (windows[0].tolist(), windows[1].tolist()), None,
                              least_idles=bounds.least_idles(cycle))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert (solver.solve(model.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)) == expected


def test_an_op_heavier_than_the_room_left_is_not_shifted_in():
    """A station already full (an op of 2^39 at C = 2^39) that another op of 2^39 may join: the bitset of a full
    station is one bit wide, and the op that cannot fit must not be shifted into it (2^39 bits: hypothesis found
    the MemoryError through test_big_graphs)."""
    unit = 2**39
    early, late, weights = np.array([0, 0]), np.array([0, 1]), np.array([unit, unit])
    assert _least_idle(early, late, weights, unit, 0, 0) == 0
