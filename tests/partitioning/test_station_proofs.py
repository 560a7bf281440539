"""The complete station search (``max_loads=None``) as a prover, against brute force (issue 29 item 2).

Every pruning rule of solver/partitioning/stations.py (maximal loads, Jackson dominance, idle time, windows,
the subset-sum and big-op bounds, the failure memo) must keep some solution when one exists: the complete
search says ``EXHAUSTED`` exactly when no partition has a bottleneck <= C.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heuristics.dag import Dag, station_windows
from solver.errors import UsageError
from solver.partitioning.exact import _Search, _trivial_partition, solve_exact
from solver.partitioning.salbp_bounds import CycleBounds, _least_idle
from solver.solving.budget import Budget
from solver.partitioning.stations import DIRECTIONS, EXHAUSTED, LevelSearch, fill_stations, level_stations
from tests.partitioning.packings import assert_packed, least_cycle, lines, two_chains
from tests.partitioning.test_exact import brute_force, dags


@settings(max_examples=200, deadline=None)
@given(graph=dags(max_ops=8), k=st.integers(1, 4), slack=st.integers(-3, 2),
       direction=st.sampled_from(DIRECTIONS), rule=st.sampled_from(["tail", "weight"]))  # fmt: skip
def test_exhausted_means_infeasible(graph, k, slack, direction, rule):
    dag = Dag.from_graph(graph)
    if k > dag.n:
        return
    optimum = brute_force(graph, k)
    cycle = max(0, optimum + slack)
    windows = station_windows(dag, k, cycle)
    if windows is None:
        assert optimum > cycle  # the windows bound is a bound
        return
    priority = (dag.tail, dag.head) if rule == "tail" else (dag.weights, dag.weights)
    found = fill_stations(dag, k, cycle, windows, priority, budget=10**7, max_loads=None, directions=direction)
    if optimum <= cycle:
        assert found not in (None, EXHAUSTED), "a complete search missed a partition"
        assert all(found[u] <= found[v] for u, v in dag.edges)
        loads = [0] * k
        for v, p in enumerate(found):
            loads[p] += dag.weights[v]
        assert max(loads) <= cycle
    else:
        assert found == EXHAUSTED


@settings(max_examples=200, deadline=None)
@given(graph=dags(max_ops=8), k=st.integers(1, 4), slack=st.integers(-3, 1), above=st.integers(0, 3),
       runs=st.lists(st.tuples(st.sampled_from(DIRECTIONS), st.integers(1, 60)), max_size=6),
       last=st.sampled_from(DIRECTIONS))  # fmt: skip
def test_shared_memo_keeps_proofs(graph, k, slack, above, runs, last):
    # Complete runs share their refuted states (the memo), also when a run's budget cuts it short, whatever
    # the direction, and from a larger cycle to a smaller one: a last complete run still finds a partition
    # exactly when one exists.
    dag = Dag.from_graph(graph)
    if k > dag.n:
        return
    optimum = brute_force(graph, k)
    cycle = max(0, optimum + slack)
    memo: dict[int, int] = {}
    for i, (direction, budget) in enumerate(runs):
        c = cycle + above if i < 2 else cycle  # the first two at the larger cycle
        windows = station_windows(dag, k, c)
        if windows is not None:
            fill_stations(dag, k, c, windows, (dag.tail, dag.head), budget=budget, max_loads=None,
                          directions=direction, memo=memo)
    windows = station_windows(dag, k, cycle)
    if windows is None:
        assert optimum > cycle
        return
    found = fill_stations(dag, k, cycle, windows, (dag.weights, dag.weights), budget=10**7, max_loads=None,
                          directions=last, memo=memo)
    if optimum <= cycle:
        assert found not in (None, EXHAUSTED), "a shared memo lost a partition"
    else:
        assert found == EXHAUSTED


def _bounded(graph, k: int, slack: int):
    """The instance, its brute-force optimum, a cycle near it, and salbp_bounds' windows and least idle times there
    (None: the tests refute the cycle, which must then be below the optimum)."""
    dag = Dag.from_graph(graph)
    optimum = brute_force(graph, k)
    cycle = max(0, optimum + slack)
    bounds = CycleBounds(dag, k)
    windows = bounds.windows(cycle)
    if windows is None:
        assert optimum > cycle
        return dag, optimum, cycle, None, None
    return dag, optimum, cycle, (windows[0].tolist(), windows[1].tolist()), bounds.least_idles(cycle)


@settings(max_examples=200, deadline=None)
@given(graph=dags(max_ops=8), k=st.integers(1, 4), slack=st.integers(-3, 2),
       direction=st.sampled_from(DIRECTIONS), idles=st.booleans())  # fmt: skip
def test_least_idle_times_keep_the_partitions(graph, k, slack, direction, idles):
    # Each part's least idle time (salbp_bounds) caps its load and holds idle time back for the parts still empty:
    # facts about every partition at C, so the complete search still finds one exactly when one exists.
    if k > graph.number_of_nodes():
        return
    dag, optimum, cycle, windows, least = _bounded(graph, k, slack)
    if windows is None:
        return
    found = fill_stations(dag, k, cycle, windows, (dag.tail, dag.head), budget=10**7, max_loads=None,
                          directions=direction, least_idles=least if idles else None)
    if optimum <= cycle:
        assert_packed(dag, found, k, cycle)
    else:
        assert found == EXHAUSTED


@settings(max_examples=200, deadline=None)
@given(graph=dags(max_ops=8), k=st.integers(1, 4), slack=st.integers(-3, 2),
       direction=st.sampled_from(["forward", "backward"]), idles=st.booleans(), light=st.booleans())  # fmt: skip
def test_level_search_exhausted_means_infeasible(graph, k, slack, direction, idles, light):
    # The breadth-first search keeps one copy of each set of placed ops per level: it finds a partition exactly
    # when one exists, and says EXHAUSTED otherwise. Weights of 1-3 (``light``) give many sets of equal weight, of
    # which only some may complete.
    if k > graph.number_of_nodes():
        return
    if light:
        nx.set_node_attributes(graph, {v: 1 + w % 3 for v, w in graph.nodes(data="weight")}, "weight")
    dag, optimum, cycle, windows, least = _bounded(graph, k, slack)
    if windows is None:
        return
    found = level_stations(dag, k, cycle, windows, budget=10**7, direction=direction,
                           least_idles=least if idles else None)
    if optimum <= cycle:
        assert_packed(dag, found, k, cycle)
    else:
        assert found == EXHAUSTED


def test_level_search_gives_up_without_a_proof():
    # Past its budget, its states per level or when told to stop, the level search proves nothing (None).
    dag = two_chains()
    windows = station_windows(dag, 2, 9)
    assert level_stations(dag, 2, 10, station_windows(dag, 2, 10), budget=10**6) is not None
    assert windows is None or level_stations(dag, 2, 9, windows, budget=10**6) == EXHAUSTED
    assert level_stations(dag, 2, 10, station_windows(dag, 2, 10), budget=0) is None
    assert level_stations(dag, 2, 10, station_windows(dag, 2, 10), budget=10**6, stop=lambda: True) is None
    # Breadth first fills from one end: "both" (the depth-first search's) is refused, not run forward.
    with pytest.raises(UsageError, match="forward or backward"):
        level_stations(dag, 2, 10, station_windows(dag, 2, 10), budget=10**6, direction="both")


def _settled(inst: Dag, k: int, cycle: int, optimum: int, found) -> None:
    """A complete search's answer at ``cycle``: a partition at or above the optimum, ``EXHAUSTED`` below it."""
    if cycle >= optimum:
        assert_packed(inst, found, k, cycle)
    else:
        assert found == EXHAUSTED, f"no partition at {cycle}, yet {found!r}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=lines(), k=st.integers(2, 8), light=st.booleans())
def test_complete_searches_settle_tight_cycles_on_larger_graphs(inst, k, light):
    # 12-20 ops on up to 8 parts, where least idle times bite and many sets of ops weigh the same (the tests above
    # draw 8 ops on up to 4 parts). As the exact search runs them: from a larger cycle down, the complete runs of
    # every direction sharing one memo (each cycle's starts as a copy of the larger one's), and the level search
    # from both ends, with each part's least idle time. On salbp_bounds' windows, and on heuristics.dag's (LB1),
    # which refute fewer cycles below the optimum, so that the searches must.
    if light:  # weights of 1-3 only
        inst = Dag.from_graph(_reweighted(inst, lambda w: 1 + w % 3))
    optimum = least_cycle(inst, k)
    bounds = CycleBounds(inst, k)
    for tight in (True, False):
        memo: dict[int, int] = {}
        for cycle in range(optimum + 1, max(-1, optimum - 4), -1):
            windows = bounds.windows(cycle) if tight else station_windows(inst, k, cycle)
            if windows is None:
                assert cycle < optimum, "the windows refuted a cycle that has a partition"
                continue
            least = _least_idles(inst, k, cycle, windows)
            windows = (list(windows[0]), list(windows[1]))
            memo = dict(memo)
            for direction in DIRECTIONS:
                _settled(inst, k, cycle, optimum, fill_stations(inst, k, cycle, windows, (inst.tail, inst.head), 10**7,
                                                                max_loads=None, directions=direction, memo=memo,
                                                                least_idles=least))  # fmt: skip
            for direction in ("forward", "backward"):
                _settled(inst, k, cycle, optimum, level_stations(inst, k, cycle, windows, budget=10**7,
                                                                 max_states=10**6, direction=direction,
                                                                 least_idles=least))  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=lines(), k=st.integers(2, 8), slack=st.integers(-3, 1), direction=st.sampled_from(["forward", "backward"]),
       slices=st.lists(st.integers(1, 400), min_size=1, max_size=30), stops=st.sets(st.integers(0, 29)))
def test_level_search_resumed_in_slices_settles_as_in_one_run(inst, k, slack, direction, slices, stops):
    # The exact search gives the level search a turn at each station search at the lower bound, each going on where
    # the last stopped. Cut into runs of a few enumeration nodes each (or stopped at once: ``stops``), the runs never
    # claim a verdict too early, and run on to the end they settle C: a partition at or above the optimum, EXHAUSTED
    # below it. A parent cut short mid-enumeration is expanded again, its children kept once.
    optimum = least_cycle(inst, k)
    cycle = max(1, optimum + slack)
    windows = CycleBounds(inst, k).windows(cycle)
    if windows is None:
        assert cycle < optimum
        return
    least = _least_idles(inst, k, cycle, windows)
    windows = (windows[0].tolist(), windows[1].tolist())
    search = LevelSearch(inst, k, cycle, windows, max_states=10**6, direction=direction, least_idles=least)
    for i, nodes in enumerate(slices):
        found = search.run(nodes, stop=(lambda: True) if i in stops else None)
        if found is not None:
            break
    else:
        assert not search.over
        found = search.run(10**7)
    assert search.over and search.run(0) is found  # a verdict stays, whatever the next budget
    _settled(inst, k, cycle, optimum, found)


def _least_idles(inst: Dag, k: int, cycle: int, windows) -> list[int] | None:
    """Each part's least idle time at ``cycle`` on ``windows`` (salbp_bounds' rule on any valid windows); None when
    one comes out infinite (its mandatory ops overfill it: then no partition fits)."""
    early, late = (np.asarray(w, dtype=np.int64) for w in windows)
    idles = [_least_idle(early, late, np.asarray(inst.weights, dtype=np.int64), cycle, s, s) for s in range(k)]
    return None if cycle <= 0 or math.inf in idles else [int(i) for i in idles]


def _reweighted(inst: Dag, weight) -> nx.DiGraph:
    """``inst`` as a graph with each op's weight mapped by ``weight``."""
    graph = nx.DiGraph()
    graph.add_nodes_from((v, {"weight": weight(w)}) for v, w in enumerate(inst.weights))
    graph.add_edges_from(inst.edges)
    return graph


def test_level_search_keeps_each_set_of_ops_not_each_weight():
    # The smallest case found (by a search over random graphs of 3-8 ops) where keeping one set per weight at a level,
    # instead of one per set of ops, loses every partition: the level search then said EXHAUSTED at C = 9 from the
    # back, where the optimum is 9 (stations {0, 1, 2}, {3}, {4, 5} e.g.). That mutation, in a run that i29s2 took for
    # the branch's code, "proved" ARC83 m=19 at 4071 and SCHOLL m=48 at 1453 (optima 4068 and 1452).
    graph = nx.DiGraph()
    graph.add_nodes_from((v, {"weight": w}) for v, w in enumerate([3, 3, 4, 9, 2, 3]))
    graph.add_edges_from([(0, 1), (0, 2), (0, 3), (3, 5)])
    inst = Dag.from_graph(graph)
    assert least_cycle(inst, 3) == 9
    windows = station_windows(inst, 3, 9)
    for direction in ("forward", "backward"):
        assert_packed(inst, level_stations(inst, 3, 9, windows, budget=10**6, direction=direction), 3, 9)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=lines(), k=st.integers(2, 8))
def test_exact_search_bounds_hold_on_larger_graphs(inst, k):
    # The whole exact search (descent, beam, level search, complete runs with their memo, CP-SAT) on 12-20 ops:
    # its bound never above the brute-force optimum, its answer a partition at its value.
    optimum = least_cycle(inst, k)
    result = solve_exact(inst, k, time_limit=3, workers=2)
    assert result.bound <= optimum <= result.bottleneck
    assert_packed(inst, result.parts, k, result.bottleneck)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=lines(), k=st.integers(2, 8), below=st.integers(0, 4), tests=st.booleans())
def test_descent_bounds_hold_on_larger_graphs(inst, k, below, tests):
    # The descent alone (stations only: the beam, the level search at the lower bound, the complete runs sharing
    # their memo from larger cycles down), started up to 4 below the bound, and without salbp_bounds' tests
    # (``tests`` False: heuristics.dag's windows, which refute fewer cycles) so that it must refute cycles itself.
    optimum = least_cycle(inst, k)
    search = _Search(inst, k, None, 1, Budget(5.0), None)
    if not tests:
        search.cycle_bounds = None
    search.lo = max(0, search.lo - below)
    search.accept(_trivial_partition(inst, k), False)
    search.descend(Budget(2.0))
    assert search.lo <= optimum <= search.hi
    assert_packed(inst, search.incumbent, k, search.hi)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=lines(), k=st.integers(2, 8))
def test_exact_level_search_settles_the_lower_bound(inst, k):
    # The exact search's level search (its windows and least idle times) at lo = each cycle near the optimum: never
    # EXHAUSTED from the optimum up, never a partition below it, and a partition a valid one. (Past its share of
    # the time or its cap of sets it says nothing, None: a crowded machine may make it so.)
    optimum = least_cycle(inst, k)
    search = _Search(inst, k, None, 1, Budget(600.0), None)
    for cycle in range(optimum - 3, optimum + 2):
        windows = search._windows(cycle)
        if windows is not None:
            search.lo = cycle
            found = search._levels(cycle, windows, Budget(60.0))
            if found is not None:
                _settled(inst, k, cycle, optimum, found)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=lines(), k=st.integers(2, 8), order=st.permutations(range(5)), direction=st.sampled_from(DIRECTIONS))
def test_exact_station_memos_hold_in_any_order_of_cycles(inst, k, order, direction):
    # The exact search's memo per cycle (_Search._station_memo) starts from the nearest larger cycle's, whatever
    # order the cycles come in: complete runs on it settle every cycle near the optimum.
    optimum = least_cycle(inst, k)
    search = _Search(inst, k, None, 1, Budget(5.0), None)
    for cycle in (optimum - 3 + i for i in order):
        windows = station_windows(inst, k, max(cycle, 0))
        if cycle >= 0 and windows is not None:
            _settled(inst, k, cycle, optimum, fill_stations(inst, k, cycle, windows, (inst.tail, inst.head), 10**7,
                                                            max_loads=None, directions=direction,
                                                            memo=search._station_memo(cycle)))  # fmt: skip
