"""The station beam search (solver/partitioning/beam.py) against brute force, from each end."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from heuristics.dag import Dag, station_windows
from solver.errors import UsageError
from solver.partitioning.beam import LOADS, NODES, SIZES, WIDTH, Ends, beam_stations, round_sizes
from solver.partitioning.salbp_bounds import CycleBounds
from tests.partitioning.packings import assert_packed, two_chains
from tests.partitioning.test_exact import brute_force, dags

DIRECTIONS = ("forward", "backward")
UNLIMITED = {"width": 10**6, "loads": 10**6, "nodes": 10**6}


def _beam(inst: Dag, k: int, cycle: int, direction: str, seed: int = 0, **limits) -> list[int] | None:
    windows = station_windows(inst, k, cycle)
    return None if windows is None else beam_stations(inst, k, cycle, windows, seed, direction, **limits)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=9), k=st.integers(1, 4), direction=st.sampled_from(DIRECTIONS), seed=st.integers(0, 99))
def test_unlimited_beam_finds_the_optimum(graph, k, direction, seed):
    # With no limit on width, loads and nodes the beam keeps every state, so its pruning rules (urgent ops in,
    # idle time, bitsets of sums after merged candidates, LB2/LB3 of the ops left) must keep a completion
    # whenever one exists; what it returns is always a valid partition, so nothing below the optimum.
    n = graph.number_of_nodes()
    assume(k <= n)
    best = brute_force(graph, k)
    assume(best > 0)
    inst = Dag.from_graph(graph)
    assert_packed(inst, _beam(inst, k, best, direction, seed, **UNLIMITED), k, best)
    assert _beam(inst, k, best - 1, direction, seed, **UNLIMITED) is None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=9), k=st.integers(1, 4), direction=st.sampled_from(DIRECTIONS), seed=st.integers(0, 99))
def test_least_idle_times_keep_the_optimum(graph, k, direction, seed):
    # Each part's least idle time (salbp_bounds) holds in every partition at C: an unlimited beam given them on the
    # tightened windows still packs the optimum.
    assume(k <= graph.number_of_nodes())
    best = brute_force(graph, k)
    assume(best > 0)
    inst = Dag.from_graph(graph)
    bounds = CycleBounds(inst, k)
    windows = bounds.windows(best)
    assert windows is not None
    parts = beam_stations(inst, k, best, (windows[0].tolist(), windows[1].tolist()), seed, direction,
                          least_idles=bounds.least_idles(best), **UNLIMITED)
    assert_packed(inst, parts, k, best)


def test_first_part_idles():
    # a (4) -> b (10) at C = 10: part 0 holds a alone and idles all 6 units of idle time there are.
    graph = nx.DiGraph([(0, 1)])
    nx.set_node_attributes(graph, {0: 4, 1: 10}, "weight")
    inst = Dag.from_graph(graph)
    bounds = CycleBounds(inst, 2)
    assert bounds.least_idles(10) == [6, 0]
    for direction in DIRECTIONS:
        parts = beam_stations(inst, 2, 10, bounds.windows(10), direction=direction, least_idles=[6, 0])
        assert parts == [0, 1]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=12), k=st.integers(1, 5), direction=st.sampled_from(DIRECTIONS), seed=st.integers(0, 99),
       extra=st.integers(0, 20), width=st.integers(1, 4), loads=st.integers(1, 3), nodes=st.integers(1, 50))
def test_limited_beam_answers_are_valid(graph, k, direction, seed, extra, width, loads, nodes):
    # A narrow beam may miss every packing, but what it finds is one.
    assume(k <= graph.number_of_nodes())
    inst = Dag.from_graph(graph)
    cycle = max(1, -(-inst.total // k)) + extra
    parts = _beam(inst, k, cycle, direction, seed, width=width, loads=loads, nodes=nodes)
    if parts is not None:
        assert_packed(inst, parts, k, cycle)


def test_exact_packing_from_both_ends():
    inst = two_chains()
    for direction in DIRECTIONS:
        assert_packed(inst, _beam(inst, 2, 10, direction), 2, 10)
        assert _beam(inst, 2, 10, direction, stop=lambda: True) is None  # told to stop before any state


def test_direction_is_checked():
    graph = nx.DiGraph([(0, 1)])
    nx.set_node_attributes(graph, 1, "weight")
    inst = Dag.from_graph(graph)
    with pytest.raises(UsageError, match="direction"):
        beam_stations(inst, 1, 2, station_windows(inst, 1, 2), direction="both")


def test_ends_follow_decisive_wins():
    # No leader: both ends, the first alternating; a packing from the second end after the first failed makes it
    # lead (first in every round, the other in every other round); a decisive win of the other evens them again.
    ends = Ends()
    assert [ends.plan() for _ in range(2)] == [("forward", "backward"), ("backward", "forward")]
    ends.record(("forward", "backward"), found=True)
    ends.record(("forward",), found=True)  # first end packed: the other end was not tried, nothing learnt
    plans = [ends.plan() for _ in range(4)]
    assert all(plan[0] == "backward" for plan in plans)
    assert sorted(map(len, plans)) == [1, 1, 2, 2]
    ends.record(("backward", "forward"), found=True)
    assert {ends.plan(), ends.plan()} == {("forward", "backward"), ("backward", "forward")}


@settings(max_examples=100, deadline=None)
@given(outcomes=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=30))
def test_no_end_starves(outcomes):
    # Whatever the rounds found, each end runs in one round of every two.
    ends, last_run = Ends(), {"forward": 0, "backward": 0}
    for i, (first_found, second_found) in enumerate(outcomes, start=1):
        plan = ends.plan()
        for end in plan:
            last_run[end] = i
        assert all(i - last <= 1 for last in last_run.values())
        ran = plan[:1] if first_found or len(plan) == 1 else plan
        ends.record(ran, first_found or (len(ran) == 2 and second_found))


def test_round_sizes_grow_from_the_defaults():
    # The first rounds at a cycle are the beam of old; later ones never narrower in width, loads or nodes, and the
    # last size stays once reached.
    assert round_sizes(0) == round_sizes(1) == (WIDTH, LOADS, NODES)
    sizes = [round_sizes(r) for r in range(2 * len(SIZES) + 4)]
    assert all(all(a <= b for a, b in zip(one, two)) for one, two in zip(sizes, sizes[1:]))
    assert sizes[-1] == sizes[-3] == SIZES[-1] and len(set(sizes)) == len(SIZES)
