"""The exact solver's feasibility model F(C) with windows that are not monotone along edges (issue 29).

On graphs above 2,048 ops the closure weights behind the station windows are lower bounds, so an op's window
may start before its predecessor's: the model must still keep every edge forward. Checked against brute force
over all partitions inside the windows, with real CP-SAT.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from heuristics.dag import Dag
from solver.partitioning.exact import _FeasibilityModel
from tests.partitioning.test_exact import dags


def feasible_by_enumeration(dag: Dag, k: int, cycle: int, early: list[int], late: list[int]) -> bool:
    """Whether some partition puts every op inside its window, no part empty, edges forward, loads <= cycle."""
    for parts in itertools.product(*(range(e, l + 1) for e, l in zip(early, late))):
        if len(set(parts)) < k or any(parts[u] > parts[v] for u, v in dag.edges):
            continue
        loads = [0] * k
        for v, p in enumerate(parts):
            loads[p] += dag.weights[v]
        if max(loads) <= cycle:
            return True
    return False


@settings(max_examples=60, deadline=None)
@given(graph=dags(max_ops=6), k=st.integers(1, 3), data=st.data())
def test_any_windows_keep_edges_forward(graph, k, data):
    dag = Dag.from_graph(graph)
    if k > dag.n:
        return
    early, late = [], []
    for _ in range(dag.n):  # any window inside 0..K-1, whatever the edges say
        a, b = sorted(data.draw(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1))))
        early.append(a)
        late.append(b)
    cycle = data.draw(st.integers(0, dag.total))
    model = _FeasibilityModel(dag, k, cycle, (early, late), None)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    status = solver.solve(model.model)
    expected = feasible_by_enumeration(dag, k, cycle, early, late)
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.INFEASIBLE)
    assert (status != cp_model.INFEASIBLE) == expected
    if expected:
        parts = model.parts(solver)
        assert all(parts[u] <= parts[v] for u, v in dag.edges)
        assert all(e <= p <= l for p, e, l in zip(parts, early, late))


def test_window_of_a_successor_before_its_predecessor():
    """Op 1 reads op 0 but may only go to part 0, op 0 only to part 1: no partition (the model once had one)."""
    import networkx as nx

    graph = nx.DiGraph([(0, 1)])
    nx.set_node_attributes(graph, 1, "weight")
    model = _FeasibilityModel(Dag.from_graph(graph), 2, 2, ([1, 0], [1, 0]), None)
    assert cp_model.CpSolver().solve(model.model) == cp_model.INFEASIBLE
