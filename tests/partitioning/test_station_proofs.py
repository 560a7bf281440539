"""The complete station search (``max_loads=None``) as a prover, against brute force (issue 29 item 2).

Every pruning rule of solver/partitioning/stations.py (maximal loads, Jackson dominance, idle time, windows,
the subset-sum and big-op bounds, the failure memo) must keep some solution when one exists: the complete
search says ``EXHAUSTED`` exactly when no partition has a bottleneck <= C.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from heuristics.dag import Dag, station_windows
from solver.partitioning.stations import DIRECTIONS, EXHAUSTED, fill_stations
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
