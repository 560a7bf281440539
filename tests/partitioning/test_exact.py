"""The exact partitioner against brute force, heuristics and the checker."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solver.partitioning.exact
from heuristics.minmax import minmax
from heuristics.orders import order_search
from heuristics.dag import Dag, GraphError
from solver.errors import InfeasibleError, UsageError
from solver.partitioning.exact import _Search, _trivial_partition, luby, solve_exact
from solver.partitioning.metrics import check_partition, evaluate
from solver.solving.budget import Budget
from tests.solving.test_signals import slow_graph


@st.composite
def dags(draw, max_ops=12):
    """A random DAG whose node numbers are not a topological order, with small integer weights."""
    n = draw(st.integers(1, max_ops))
    label = draw(st.permutations(range(n)))
    graph = nx.DiGraph(name="random")
    for v in range(n):
        graph.add_node(v, weight=draw(st.integers(0, 30)), type="OP", constants={})
    density = draw(st.floats(0.0, 0.6))
    for i in range(n):
        nbytes = draw(st.integers(1, 64))  # op i writes one tensor, of one size, read by all its consumers
        for j in range(i + 1, n):
            if draw(st.floats(0, 1)) < density:
                graph.add_edge(label[i], label[j], tensors={f"t{i}": nbytes}, bytes=nbytes)
    return graph


def brute_force(graph: nx.DiGraph, k: int, key=None) -> tuple:
    """The minimum of ``key(parts)`` (default: the bottleneck) over all valid partitions, by enumeration.

    Cut: a branch whose ops left cannot fill the parts still empty, and, for the bottleneck, a branch whose loads
    already reach the best (loads only grow). Uncut, 9 ops on 9 parts walk 9^9 branches (12 minutes seen).
    """
    dag = Dag.from_graph(graph)  # flattened once: the metrics of every partition share it
    bottleneck = key is None
    key = key or (lambda parts: evaluate(dag, parts, k).bottleneck)
    order = list(nx.topological_sort(graph))
    best = None
    parts = [0] * graph.number_of_nodes()
    loads, ops_in = [0] * k, [0] * k

    def assign(i: int, used: int) -> None:
        nonlocal best
        if used + len(order) - i < k:
            return
        if i == len(order):
            value = key(parts)
            best = value if best is None else min(best, value)
            return
        v = order[i]
        for p in range(max((parts[u] for u in graph.predecessors(v)), default=0), k):
            if bottleneck and best is not None and loads[p] + dag.weights[v] >= best:
                continue
            parts[v] = p
            loads[p] += dag.weights[v]
            ops_in[p] += 1
            assign(i + 1, used + (ops_in[p] == 1))
            loads[p] -= dag.weights[v]
            ops_in[p] -= 1

    assign(0, 0)
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(), data=st.data())
def test_exact_equals_brute_force_and_beats_heuristics(graph, data):
    k = data.draw(st.integers(1, min(4, graph.number_of_nodes())))
    result = solve_exact(graph, k, time_limit=20, workers=2)
    assert result.status == "OPTIMAL"
    assert result.bottleneck == result.bound == brute_force(graph, k)
    assert check_partition(graph, result.parts, k).bottleneck == result.bottleneck
    for heuristic in (order_search(graph, k, seed=0), minmax(graph, k, runs=3, seed=0)):
        assert result.bottleneck <= evaluate(graph, heuristic, k).bottleneck
    assert result.gap == 0.0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=8), data=st.data())
def test_secondary_objectives_keep_the_bottleneck_optimal(graph, data):
    k = data.draw(st.integers(1, min(3, graph.number_of_nodes())))
    optimum = brute_force(graph, k)
    result = solve_exact(graph, k, time_limit=20, workers=2, secondary=("cut", "bytes"))
    assert result.bottleneck == optimum
    metrics = check_partition(graph, result.parts, k)
    assert result.secondary == {"edge_cut": metrics.edge_cut, "transfer_bytes": metrics.transfer_bytes}

    dag = Dag.from_graph(graph)

    def lexicographic(parts):
        m = evaluate(dag, parts, k)
        return (m.bottleneck, m.edge_cut, m.transfer_bytes)

    assert (optimum, metrics.edge_cut, metrics.transfer_bytes) == brute_force(graph, k, lexicographic)
    assert result.secondary_status == {"edge_cut": "OPTIMAL", "transfer_bytes": "OPTIMAL"}


def chain_with_constants() -> nx.DiGraph:
    """Six ops in a chain; ops 0-2 share constant tensor 'a' (100 bytes), ops 3-5 each own 60 bytes."""
    graph = nx.DiGraph(name="chain")
    for v in range(6):
        constants = {"a": 100} if v < 3 else {f"own{v}": 60}
        graph.add_node(v, weight=10, type="OP", constants=constants)
    nx.add_path(graph, range(6), tensors={}, bytes=4)
    return graph


def test_memory_cap_is_respected():
    graph = chain_with_constants()
    free = solve_exact(graph, 2, time_limit=10, workers=2)
    assert free.bottleneck == 30
    capped = solve_exact(graph, 2, time_limit=10, workers=2, memory_cap=160)
    metrics = check_partition(graph, capped.parts, 2, memory_cap=160)
    assert max(metrics.memory) <= 160
    # Ops 3..5 together need 180 bytes, so the second part holds at most two of them.
    assert capped.bottleneck == 40 and capped.status == "OPTIMAL"


def test_impossible_memory_cap_raises():
    with pytest.raises(InfeasibleError, match="memory cap of 90 bytes"):
        solve_exact(chain_with_constants(), 2, time_limit=10, workers=2, memory_cap=90)


def test_invalid_hint_is_not_trusted():
    graph = chain_with_constants()
    backwards = [1, 1, 1, 0, 0, 0]  # every op 2 -> 3 edge goes backwards: must be ignored
    result = solve_exact(graph, 2, hint=backwards, time_limit=10, workers=2)
    check_partition(graph, result.parts, 2)
    assert result.bottleneck == 30 and result.status == "OPTIMAL"


def test_never_worse_than_the_hint_without_time():
    graph = chain_with_constants()
    hint = [0, 0, 0, 0, 1, 1]
    result = solve_exact(graph, 2, hint=hint, time_limit=0, workers=1)
    assert result.status == "HEURISTIC" and result.parts == hint and result.bottleneck == 40
    assert result.bound == 30 and result.gap == pytest.approx(0.25)


def test_bad_arguments():
    graph = chain_with_constants()
    with pytest.raises(GraphError, match=r"chain: cannot split 6 ops into 7 non-empty parts"):
        solve_exact(graph, 7)
    with pytest.raises(UsageError, match="secondary objective 'latency'"):
        solve_exact(graph, 2, secondary=("latency",))


_INTERRUPTED_SOLVE = """
import json, os, signal, sys
from solver.io.graphs import read_graph_json
from solver.partitioning.exact import solve_exact
from solver.partitioning.metrics import check_partition

# A shell runs background jobs with SIGINT ignored, and a child inherits that: Ctrl-C as an interactive Python has it.
signal.signal(signal.SIGINT, signal.default_int_handler)
graph, sent = read_graph_json(sys.argv[1]), []

def interrupt_once_solving(incumbent, bound, elapsed):
    # Progress comes from the search loop; with a gap left the search is still running when the signal lands.
    if elapsed > 0.2 and incumbent > bound and not sent:
        sent.append(elapsed)
        os.kill(os.getpid(), signal.SIGINT)

result = solve_exact(graph, 37, time_limit=60, workers=2, on_progress=interrupt_once_solving)
check_partition(graph, result.parts, 37)
print(json.dumps({"sent": sent, "interrupted": result.interrupted, "status": result.status, "wall": result.wall_time}))
"""


@pytest.mark.slow
def test_ctrl_c_returns_the_best_answer_so_far(tmp_path):
    """A hard instance (400 random ops, K = 37: not proven in seconds) interrupted by a real SIGINT during the
    search returns a checked partition at once (in a fresh process with Python's own SIGINT handler: under a
    test run started in the background SIGINT is ignored, and the signal was lost)."""
    graph = slow_graph(tmp_path / "slow.json")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _INTERRUPTED_SOLVE, str(graph)], capture_output=True, text=True,
                          cwd=root, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["sent"] and result["interrupted"] and result["status"] != "OPTIMAL"
    assert result["wall"] < result["sent"][0] + 5


def test_luby_sequence():
    # The defining recursion: a block of 2^k - 1 terms repeats the block of 2^(k-1) - 1 twice, then 2^(k-1).
    def reference(i: int) -> int:
        k = 1
        while (1 << k) - 1 < i:
            k += 1
        return 1 << (k - 1) if i == (1 << k) - 1 else reference(i - (1 << (k - 1)) + 1)

    assert [luby(i) for i in range(1, 2000)] == [reference(i) for i in range(1, 2000)]


def test_doctests():
    assert doctest.testmod(solver.partitioning.exact).failed == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=9), data=st.data())
def test_descent_bounds_hold(graph, data):
    # The descent alone (the station search bisecting C, CP-SAT on F(lo) beside it with two workers) never
    # raises the bound above the optimum, and its incumbent is a valid partition at its value.
    k = data.draw(st.integers(1, min(4, graph.number_of_nodes())))
    workers = data.draw(st.sampled_from([1, 2]))
    dag = Dag.from_graph(graph)
    search = _Search(dag, k, None, workers, Budget(5.0), None)
    search.accept(_trivial_partition(dag, k), False)
    search.descend(Budget(data.draw(st.sampled_from([0.05, 2.0]))))
    optimum = brute_force(graph, k)
    assert search.lo <= optimum <= search.hi
    assert check_partition(graph, search.incumbent, k).bottleneck == search.hi


def test_wider_beam_rounds_only_where_a_packing_settles_or_improves():
    # Away from the lower bound and one below the incumbent every round is of the first size, up to the cap. There,
    # the first round too; then a wider one whenever the wider rounds have had less of the beam's time.
    graph = nx.DiGraph([(0, 1), (1, 2)])
    nx.set_node_attributes(graph, 5, "weight")
    search = _Search(Dag.from_graph(graph), 2, None, 1, Budget(5), None)
    search.lo, search.hi = 10, 20
    cap = solver.partitioning.exact._BEAM_ROUNDS
    search.beam_rounds[15], search.beam_seconds[15] = 3, 5.0
    assert search._beam_size(15) == 0
    search.beam_rounds[15] = cap
    assert search._beam_size(15) is None
    for cycle in (10, 19):
        assert search._beam_size(cycle) == 0
        search.beam_rounds[cycle], search.beam_seconds[cycle] = 1, 0.5
        assert search._beam_size(cycle) == 2
        search.wide_rounds[cycle], search.beam_seconds[cycle] = (1, 4.0), 4.5
        assert search._beam_size(cycle) == 0
        search.beam_rounds[cycle] = cap  # the first size spent: wider rounds alone
        assert search._beam_size(cycle) == 3
        search.wide_rounds[cycle] = (cap, 40.0)
        assert search._beam_size(cycle) is None


def test_level_search_at_the_bound_keeps_level_with_the_beam_and_the_restarts():
    # A level search that never settles (it runs until stopped) beside a beam and restarts that never pack: at the
    # lower bound its turns take about as much time as those together (a turn at least _LEVEL_TURN an end), not its
    # full share of the solve; it still gets turns.
    graph = nx.DiGraph([(v, v + 1) for v in range(7)])
    nx.set_node_attributes(graph, 5, "weight")
    dag = Dag.from_graph(graph)
    search = _Search(dag, 4, None, 1, Budget(60.0), None)
    search.accept(_trivial_partition(dag, 4), False)
    exact = solver.partitioning.exact

    def waits(seconds):
        return lambda *args, **kwargs: time.sleep(seconds)

    def never_settles(self, budget, stop=None):
        while not stop():
            time.sleep(0.01)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exact, "beam_stations", waits(0.2))
        patch.setattr(exact, "fill_stations", waits(0.05))
        patch.setattr(exact.LevelSearch, "run", never_settles)
        assert search._fill_stations(search.lo, search._windows(search.lo), 4.0, lambda: False) is None
    others = search.beam_seconds[search.lo] + search.station_seconds[search.lo]
    levels = search.level_seconds[search.lo]
    assert 1.0 < levels <= others + 2 * len(exact.ENDS) * exact._LEVEL_TURN


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=10), data=st.data())
def test_quick_descent_bounds_hold(graph, data):
    # The quick descent alone (beam rounds on LB1 windows, bisecting between the bound and the incumbent): its
    # incumbent is a valid partition at its value, and the bound stays at most the optimum, also when no beam ever
    # packs (a failure proves nothing).
    k = data.draw(st.integers(1, min(4, graph.number_of_nodes())))
    never_packs = data.draw(st.booleans())
    dag = Dag.from_graph(graph)
    search = _Search(dag, k, None, 1, Budget(5.0), None)
    search.accept(_trivial_partition(dag, k), False)
    start = search.lo
    with pytest.MonkeyPatch.context() as patch:
        if never_packs:
            patch.setattr(solver.partitioning.exact, "beam_stations", lambda *args, **kwargs: None)
        assert not search._quick_descent(Budget(2.0), lambda: False)
    optimum = brute_force(graph, k)
    assert search.lo <= optimum <= search.hi
    assert check_partition(graph, search.incumbent, k).bottleneck == search.hi
    if never_packs:
        assert search.lo == start


@pytest.mark.parametrize("lo_round", [True, False])
def test_quick_descent_lowers_the_incumbent_and_pauses(lo_round):
    # A chain of eight ops of weight 5 in 4 parts (optimum 10 = the bound): the trivial partition's bottleneck is 25.
    # Paused during its first call, the quick descent packs nothing and says so. Then either part alone reaches the
    # optimum: the round of the beam at the bound, or the bisection above it (with a beam that fails at the bound).
    graph = nx.DiGraph([(v, v + 1) for v in range(7)])
    nx.set_node_attributes(graph, 5, "weight")
    dag = Dag.from_graph(graph)
    search = _Search(dag, 4, None, 1, Budget(5.0), None)
    search.accept(_trivial_partition(dag, 4), False)
    assert (search.lo, search.hi) == (10, 25)
    polls = iter([False])
    assert search._quick_descent(Budget(2.0), lambda: next(polls, True))
    assert search.hi == 25
    search.quick = None  # from the start again
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search, "_quick_beam" if lo_round else "_beam", lambda *args: None)
        assert not search._quick_descent(Budget(2.0), lambda: False)
    assert search.hi == 10
    assert check_partition(graph, search.incumbent, 4).bottleneck == 10
