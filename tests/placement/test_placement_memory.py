"""Device memory under the memory model (docs/memory.md): the placement solvers and the checker refuse exactly
the placements with a part over its device's capacity, against brute force over every placement."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.errors import CheckError, InfeasibleError, PlatformError
from solver.memory.calibration import MemoryCalibration, MemoryModel
from solver.memory.parts import parts_memory, problem_graph
from solver.placement.exact import solve_placement
from solver.placement.greedy import greedy_placement
from solver.placement.memory import memory_figure
from solver.placement.metrics import evaluate
from solver.placement.prefixes import prefix_search
from solver.placement.problem import placement_problem
from solver.solving.budget import Budget
from solver.solving.outcome import OPTIMAL
from tests.placement.test_placement import assert_solved_to, instances

MODELS = {
    "upper": MemoryModel("upper", "test"),
    "planner": MemoryModel("planner", "test"),
    # a fixed cost per session and constants held at less than their bytes, as calibrations find
    "calibrated": MemoryModel("calibrated", "test", MemoryCalibration("test", 300.0, 0.6, 1.0, ())),
}


@st.composite
def capped(draw, ops=(2, 6)):
    """A drawn instance and memory model, each device's capacity drawn around the modelled memory of a part of
    a random placement (or no limit)."""
    problem, platform = draw(instances(ops=ops, devices=(2, 3)))
    sizes: dict[str, int] = {}
    for v in problem.graph:  # a constant has one size, wherever it is read (the drawn graph gives one per op)
        problem.graph.nodes[v]["constants"] = {c: sizes.setdefault(c, b)
                                               for c, b in problem.graph.nodes[v]["constants"].items()}  # fmt: skip
    model = MODELS[draw(st.sampled_from(sorted(MODELS)))]
    graph = problem_graph(None, problem.graph)
    n, D = problem.graph.number_of_nodes(), len(platform.devices)
    assign = draw(st.lists(st.integers(0, D - 1), min_size=n, max_size=n))
    figures = [f for f in parts_memory(graph, assign, D, model).predicted if f > 0]
    return problem, capacities(draw, platform, figures, 60), model


def capacities(draw, platform, figures: list[int], spread: int):
    """``platform`` with each device's memory drawn within ``spread`` bytes of one of ``figures`` (or no
    limit, one time in four, or always when there are no figures)."""
    devices = []
    for spec in platform.devices:
        memory = None
        if figures and draw(st.integers(0, 3)):
            memory = max(0, draw(st.sampled_from(figures)) + draw(st.integers(-spread, spread)))
        devices.append(dataclasses.replace(spec, memory=memory))
    return dataclasses.replace(platform, devices=tuple(devices))


def brute_force(built, problem, model, objective):
    """The best objective over every placement the checker accepts (None: none), and a check that it refuses
    exactly those with a used device's session over its capacity under ``model``."""
    graph = problem_graph(None, problem.graph)
    D = len(built.devices)
    best = None
    for assign in itertools.product(range(D), repeat=built.num_ops):
        assign = list(assign)
        try:
            evaluate(built, assign, memory=False)
        except CheckError:
            continue  # op support, links or a cycle
        predicted = parts_memory(graph, assign, D, model).predicted
        over = any(d in assign and built.memory_cap(d) is not None and predicted[d] > built.memory_cap(d)
                   for d in range(D))  # fmt: skip
        try:
            value = evaluate(built, assign).objective(objective)
        except CheckError:
            assert over
            continue
        assert not over
        best = value if best is None else min(best, value)
    return best


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capped(), st.sampled_from(["throughput", "latency"]), st.booleans())
def test_exact_placement_under_a_memory_model_equals_brute_force(instance, objective, search_prefixes):
    problem, platform, model = instance
    try:
        built = placement_problem(problem, platform, memory_figure(problem, model))
    except PlatformError:
        return  # an op no device supports: tests/test_placement.py
    expected = brute_force(built, problem, model, objective)
    hint = greedy_placement(built, objective)
    if hint is not None:
        assert evaluate(built, hint).objective(objective) >= expected  # the greedy fits the model
    if expected is None:
        with pytest.raises(InfeasibleError):
            solve_placement(built, objective, hint=hint, time_limit=20, workers=2, search_prefixes=search_prefixes)
        return
    assert_solved_to(expected, built, objective, hint=hint, search_prefixes=search_prefixes)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capped())
def test_prefix_search_under_a_memory_model_equals_brute_force(instance):
    problem, platform, model = instance
    try:
        built = placement_problem(problem, platform, memory_figure(problem, model))
    except PlatformError:
        return
    expected = brute_force(built, problem, model, "throughput")
    searched = prefix_search(built, None, Budget(60))
    assert searched is not None and searched.complete
    if expected is None:
        assert searched.assign is None
    else:
        assert searched.value == expected == evaluate(built, searched.assign).throughput


def test_solve_place_caps_the_chosen_model_and_says_which(tmp_path):
    # A chain of 1,000-byte tensors on one 3,500-byte device: onert's planner holds two tensors at a time
    # (2,000 bytes), every tensor alive holds all five (5,000 bytes).
    graph = tmp_path / "chain.json"
    graph.write_text(json.dumps({
        "ops": [{"id": v, "type": "ADD", "weight": 10} for v in range(6)],
        "edges": [{"from": v, "to": v + 1, "bytes": 1000, "tensor": f"t{v}"} for v in range(5)],
    }))  # fmt: skip
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": "cpu", "memory": 3500}]}))
    argv = [sys.executable, "-m", "solver", "place", graph, "--platform", platform, "--exact", "--time-limit", "10",
            "--json", "--out", tmp_path / "map.json"]  # fmt: skip
    planned = subprocess.run([*map(str, argv), "--memory-model", "planner"], capture_output=True, text=True)
    assert planned.returncode == 0, planned.stderr
    report = json.loads(planned.stdout)
    assert report["memory_model"] == report["memory"]["model"] == "planner" and report["status"] == OPTIMAL
    assert report["devices"][0]["memory_bytes"] == 2000 and report["devices"][0]["memory_counted_bytes"] == 5000
    upper = subprocess.run([*map(str, argv), "--memory-model", "upper"], capture_output=True, text=True)
    assert upper.returncode == 3 and upper.stderr.count("\n") == 1 and "InfeasibleError" in upper.stderr
