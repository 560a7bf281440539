"""Replicated stages: the exact model against brute force on small random graphs and platforms."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.errors import CheckError, InfeasibleError, PlatformError
from solver.memory.parts import part_memory, problem_graph
from solver.placement.memory import memory_figure
from solver.io.platform import DeviceSpec, Link, Platform
from solver.problem import PartitionProblem
from solver.placement.problem import placement_problem
from solver.placement.replicas import brute_force_replicated, evaluate_replicated, solve_replicated
from tests.placement.test_placement_memory import capped


def _problem(weights, edges, speeds, bandwidth, nbytes, memory=None, constants=0):
    graph = nx.DiGraph(name="g")
    for v, w in enumerate(weights):
        graph.add_node(v, weight=w, type="OP", constants={f"c{v}": constants} if constants else {})
    for u, v in edges:
        graph.add_edge(u, v, tensors={f"t{u}": nbytes}, bytes=nbytes)
    devices = tuple(DeviceSpec(f"d{k}", speed, memory) for k, speed in enumerate(speeds))
    platform = Platform(source=Path("p.json"), devices=devices, links={}, default_link=Link(bandwidth))
    return placement_problem(PartitionProblem(graph, "g", "test"), platform)


def test_a_heavy_stage_on_two_devices_halves_its_load():
    # a -> b -> c on four devices: the whole model on each of them runs a request every 800 / 4 us.
    problem = _problem([100, 600, 100], [(0, 1), (1, 2)], [1.0] * 4, 1e9, 1000)
    answer, proven = solve_replicated(problem, time_limit=20, workers=1)
    assert proven and answer.period == 200 and answer.serve == (0, 0, 0, 0)
    # A device holds one op's weights only: b (600 us) on two devices runs at 300, a and c alone at 100.
    problem = _problem([100, 600, 100], [(0, 1), (1, 2)], [1.0] * 4, 1e9, 1000, memory=5000, constants=3000)
    answer, proven = solve_replicated(problem, time_limit=20, workers=1)
    assert proven and answer.period == 300 == brute_force_replicated(problem).period
    assert len(set(answer.stage)) == 3 and len(answer.replicas(answer.stage[1])) == 2


def test_the_checker_refuses_a_tensor_between_two_replicated_stages_and_an_empty_stage():
    problem = _problem([100, 100], [(0, 1)], [1.0] * 4, 1e9, 1000)
    with pytest.raises(CheckError, match="both replicated"):
        evaluate_replicated(problem, [0, 1], [0, 0, 1, 1])
    with pytest.raises(CheckError, match="no device"):
        evaluate_replicated(problem, [0, 1], [0, 0, None, None])
    # One side replicated: each of the two links carries half the tensor's time (1000 B at 1e6 B/s: 1000 us).
    slow = _problem([100, 100], [(0, 1)], [1.0] * 3, 1e6, 1000)
    assert evaluate_replicated(slow, [0, 1], [0, 1, 1]).period == 500


@st.composite
def cases(draw):
    n = draw(st.integers(2, 4))
    edges = [(u, v) for u in range(n) for v in range(u + 1, n) if draw(st.booleans())]
    weights = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    speeds = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=2, max_size=3))
    bandwidth = draw(st.sampled_from([2e5, 1e6, 1e8]))
    nbytes = draw(st.integers(1, 200))
    memory = draw(st.sampled_from([None, 600, 1000]))
    constants = draw(st.sampled_from([0, 300]))
    return weights, edges, speeds, bandwidth, nbytes, memory, constants


@settings(max_examples=60, deadline=None)
@given(case=cases())
def test_the_exact_model_finds_the_brute_force_optimum(case):
    problem = _problem(*case)
    try:
        best = brute_force_replicated(problem)
    except InfeasibleError:  # nothing valid: the model must say so too
        with pytest.raises(InfeasibleError):
            solve_replicated(problem, time_limit=20, workers=1)
        return
    answer, proven = solve_replicated(problem, time_limit=20, workers=1)
    assert proven and answer.period == best.period


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=capped(ops=(2, 4)))
def test_under_a_memory_model_the_exact_model_finds_the_brute_force_optimum(instance):
    """Replicas are capped as the exact placement caps parts (solver.placement.memory): the checker refuses
    exactly the replicas whose part's figure passes their device's capacity, and CP-SAT finds brute force's
    optimum among the rest."""
    problem, platform, model = instance
    try:
        built = placement_problem(problem, platform, memory_figure(problem, model))
    except PlatformError:
        return  # an op no device supports: tests/placement/test_placement.py
    graph = problem_graph(None, problem.graph)
    stage, serve = [0] * built.num_ops, [0] + [None] * (len(built.devices) - 1)  # the whole model on device 0
    figure = part_memory(graph, model)(list(range(built.num_ops)))
    cap = built.memory_cap(0)
    if all(t is not None for t in (row[0] for row in built.times)):
        if cap is not None and figure > cap:
            with pytest.raises(CheckError, match=f"needs {figure} bytes .* \\({model.name} model\\)"):
                evaluate_replicated(built, stage, serve)
        else:
            assert evaluate_replicated(built, stage, serve).period >= 0
    try:
        best = brute_force_replicated(built)
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            solve_replicated(built, time_limit=20, workers=1)
        return
    answer, proven = solve_replicated(built, time_limit=20, workers=1)
    assert proven and answer.period == best.period
