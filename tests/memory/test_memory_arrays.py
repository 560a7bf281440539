"""The memory model's array form (solver.memory.lifetimes, planner, parts) equals its per-object form
(tests/memory/per_object.py, the code it replaced) on random events and graphs: planners, live peaks, onert's
order, the planner events, every term of a part, and the graph built from a problem's graph."""

from __future__ import annotations

import networkx as nx
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from solver.memory import lifetimes, model, parts
from solver.memory import planner as planner_module
from solver.memory.lifetimes import Graph, OpTensors
from solver.memory.planner import CLAIM, PLANNERS, RELEASE, Event, live_peak, plan_memory
from tests.memory import per_object

EXECUTORS = ("Linear", "Dataflow")


@st.composite
def event_lists(draw) -> list[Event]:
    """Each of up to 10 tensors claimed once (sizes 0 included: FirstFit's table keyed by offset), released
    any number of times, before its claim too (nothing happens then)."""
    n = draw(st.integers(0, 10))
    sizes = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    out = [Event(CLAIM, t, sizes[t]) for t in range(n)]
    for _ in range(draw(st.integers(0, 2 * n))):
        out.append(Event(RELEASE, draw(st.integers(0, max(n - 1, 0)))))
    return draw(st.permutations(out)) if out else out


@settings(max_examples=300, deadline=None)
@given(event_lists(), st.sampled_from(PLANNERS), st.sampled_from([0, 2, planner_module.WINDOW]))
def test_planners_equal_the_per_object_planners(events, planner, window):
    with patch.object(planner_module, "WINDOW", window):  # WIC's windows scanned with numpy (0) or in Python
        assert plan_memory(events, planner) == per_object.plan_memory(events, planner)
    assert live_peak(events) == per_object.live_peak(events)


@st.composite
def graphs(draw) -> Graph:
    """Up to 9 ops, each writing 1-2 tensors (sizes 0 included) that later ops read, some twice, constants, model
    inputs and outputs (an output may also be read); now and then listed out of topological order."""
    n = draw(st.integers(1, 9))
    sizes = {100: draw(st.integers(1, 30)), 200: 7, 201: 3}  # the model input, two constants
    ops, written = [], []
    for k in range(n):
        reads = [t for t in written if draw(st.integers(0, 3)) == 0] or [100]
        reads += draw(st.lists(st.sampled_from([200, 201] + reads), max_size=2))
        outs = [10 * k + j for j in range(draw(st.integers(1, 2)))]
        for t in outs:
            sizes[t] = draw(st.integers(0, 50))
        ops.append(OpTensors(k, tuple(draw(st.permutations(reads))), tuple(outs)))
        written += outs
    read = {t for op in ops for t in op.inputs}
    outputs = [t for t in written if t not in read or draw(st.integers(0, 5)) == 0]
    if draw(st.booleans()):
        ops = draw(st.permutations(ops))
    return Graph(tuple(ops), sizes, {}, frozenset({200, 201}), (100,), tuple(outputs))


@settings(max_examples=200, deadline=None)
@given(graphs(), st.data())
def test_lifetimes_and_terms_equal_the_per_object_form(graph, data):
    n = len(graph.ops)
    order = lifetimes.onert_order(graph)
    assert order == per_object.onert_order(graph)
    backend_of = data.draw(st.lists(st.sampled_from(["cpu", "ruy"]), min_size=n, max_size=n))
    run = data.draw(st.one_of(st.just(order), st.permutations(range(n))))  # any order, even a wrong one
    for executor in EXECUTORS:
        for backend in ("cpu", "ruy"):
            assert (lifetimes.backend_events(graph, run, backend_of, backend, executor)
                    == per_object.backend_events(graph, run, backend_of, backend, executor))  # fmt: skip
    planner = data.draw(st.sampled_from(PLANNERS))
    executor = data.draw(st.sampled_from(EXECUTORS))
    with patch.object(planner_module, "WINDOW", data.draw(st.sampled_from([0, planner_module.WINDOW]))):
        assert (model.memory_terms(graph, backend_of, planner, executor, run)
                == per_object.memory_terms(graph, backend_of, planner, executor, run))  # fmt: skip
    ops = data.draw(st.lists(st.integers(0, n - 1), min_size=1, unique=True))
    sub, old = model.part_graph(graph, ops), per_object.part_graph(graph, ops)
    assert set(sub.inputs) == set(old.inputs) and sub.outputs == old.outputs and list(sub.ops) == list(old.ops)
    assert model.memory_terms(sub, None, planner) == per_object.memory_terms(old, None, planner)
    split = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    assert (model.parts_terms(graph, split, 3, backend_of, planner, executor)
            == per_object.parts_terms(graph, split, 3, backend_of, planner, executor))  # fmt: skip


@st.composite
def op_graphs(draw) -> nx.DiGraph:
    """A graph as docs/design.md has it: ops 0..n-1 in topological order, edge ``tensors`` (an op's tensor read by
    several ops, or several tensors on one edge), node ``constants`` (shared by ops too)."""
    n = draw(st.integers(1, 8))
    graph = nx.DiGraph()
    for v in range(n):
        constants = {f"c{c}": 5 + c for c in draw(st.lists(st.integers(0, 2), max_size=2, unique=True))}
        graph.add_node(v, weight=1, constants=constants)
    outputs = {u: [f"t{u}.{j}" for j in range(draw(st.integers(1, 2)))] for u in range(n)}
    sizes = {t: draw(st.integers(0, 60)) for ts in outputs.values() for t in ts}
    for u in range(n):
        for v in range(u + 1, n):
            carried = draw(st.lists(st.sampled_from(outputs[u]), max_size=2, unique=True))
            if carried:
                graph.add_edge(u, v, tensors={t: sizes[t] for t in carried})
    return graph


@settings(max_examples=150, deadline=None)
@given(op_graphs(), st.data())
def test_the_graph_of_a_problem_equals_the_per_object_one(graph, data):
    new, old = parts.problem_graph(None, graph), per_object.problem_graph(graph)
    n = graph.number_of_nodes()
    split = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    planner = data.draw(st.sampled_from(PLANNERS))
    assert model.parts_terms(new, split, 3, None, planner) == per_object.parts_terms(old, split, 3, None, planner)
    assert model.memory_terms(new, None, planner) == per_object.memory_terms(old, None, planner)
