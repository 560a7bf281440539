"""Offloading under the memory model (docs/memory.md): a backend holds the sessions of all its parts, capped by
its device's memory. The exact solver and the checker agree with brute force over every plan, under the upper,
planner and calibrated models; the command reports each backend's predicted memory."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.errors import CheckError, InfeasibleError
from solver.memory.model import memory_terms, part_graph
from solver.memory.parts import problem_graph
from solver.offload.baselines import greedy_plan
from solver.offload.exact import OPTIMAL, labeling, solve_offload
from solver.offload.metrics import evaluate_plan
from solver.placement.memory import memory_figure
from solver.placement.problem import placement_problem
from solver.problem import PartitionProblem
from tests.offload.test_offload import instances, plans
from tests.placement.test_placement_memory import MODELS, capacities

CONSTANTS = {"w0": 500, "w1": 900, "w2": 1500}  # shared by the ops that read them


def session_bytes(graph, model, parts: list[int], backend: list[int], B: int) -> list[int]:
    """Each backend's sessions under ``model``, from the memory model itself (one session per part)."""
    held = [0] * B
    for k in set(parts):
        ops = [v for v, p in enumerate(parts) if p == k]
        held[backend[ops[0]]] += model.predict(memory_terms(part_graph(graph, ops)))
    return held


@st.composite
def capped(draw, name: str):
    """An offloading instance of up to 5 ops with constants under the memory model ``name``, each backend's
    capacity drawn around what a random plan's sessions on it need (or no limit)."""
    problem = draw(instances().filter(lambda p: p.num_ops <= 5))
    graph = problem.base.graph
    for v in graph:
        graph.nodes[v]["constants"] = {c: CONSTANTS[c] for c in draw(st.sets(st.sampled_from(sorted(CONSTANTS))))}
    model = MODELS[name]
    memory = problem_graph(None, graph)
    n, B = problem.num_ops, len(problem.backends)
    backend, parts = draw(st.sampled_from(list(plans(n, B))))
    needed = [held for held in session_bytes(memory, model, parts, backend, B) if held > 0]
    platform = capacities(draw, problem.base.platform, needed, 400)
    source = PartitionProblem(graph=graph, name="g", source=Path("g.json"))
    base = placement_problem(source, platform, memory_figure(source, model))
    return dataclasses.replace(problem, base=base), memory, model


def brute_force(problem, memory, model):
    """The least latency over every plan within the capacities (None: none), and a check that the checker refuses
    exactly the plans with a backend over its capacity."""
    best = None
    B = len(problem.backends)
    for backend, parts in plans(problem.num_ops, B):
        try:
            value = evaluate_plan(problem, backend, parts, memory=False).latency
        except CheckError:
            continue  # part limits, links, a cycle
        held = session_bytes(memory, model, parts, backend, B)
        over = any(cap is not None and held[b] > cap for b in range(B) for cap in [problem.base.memory_cap(b)])
        try:
            assert evaluate_plan(problem, backend, parts).memory == held
        except CheckError:
            assert over
            continue
        assert not over
        best = value if best is None else min(best, value)
    return best


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_exact_offloading_under_memory_caps_equals_brute_force(name, data):
    problem, memory, model = data.draw(capped(name))
    expected = brute_force(problem, memory, model)
    hint = greedy_plan(problem)
    if hint is not None:
        assert evaluate_plan(problem, *hint).latency >= expected  # valid (within the caps), never better
    if expected is None:
        with pytest.raises(InfeasibleError):
            solve_offload(problem, hint, time_limit=20, workers=2)
        return
    assert labeling(problem, 10, 2).floor <= expected  # the backends' memory floor keeps it under every plan
    solved = solve_offload(problem, hint, time_limit=20, workers=2)
    assert solved.status == OPTIMAL
    assert solved.value == expected == evaluate_plan(problem, solved.backend, solved.parts).latency


def test_solve_place_offload_reports_and_caps_each_backends_sessions(tmp_path, capsys):
    """Two backends, a chain of 4 ops with 1 MB constants each: the accelerator is 4x faster, but its 2.5 MB
    holds two ops' constants at most, so the plan keeps the rest on cpu; the JSON and the report give each
    backend's predicted memory under the chosen model."""
    from solver.cli import main

    ops = [{"id": v, "type": "CONV_2D", "weight": 100, "constants": {f"w{v}": 2**20}} for v in range(4)]
    edges = [{"from": v, "to": v + 1, "bytes": 1000} for v in range(3)]
    (tmp_path / "g.json").write_text(json.dumps({"name": "chain", "ops": ops, "edges": edges}))
    (tmp_path / "p.json").write_text(json.dumps({
        "devices": [{"name": "cpu"}, {"name": "acc", "speed": 4.0, "memory": 5 * 2**19}],
        "default_link": {"bandwidth": 1e9, "latency_us": 0}}))  # fmt: skip
    argv = ["place", str(tmp_path / "g.json"), "--platform", str(tmp_path / "p.json"), "--offload", "--exact",
            "--time-limit", "20", "--out", str(tmp_path / "m.json"), "--memory-model", "upper"]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    memory = report["memory"]
    assert memory["model"] == memory["memory_model"] == "upper"
    held = {b["backend"]: b for b in memory["backends"]}
    assert held["acc"]["capacity"] == 5 * 2**19 and 2 * 2**20 <= held["acc"]["predicted_bytes"] <= 5 * 2**19
    assert report["backend_of_op"].count("acc") == 2 and report["status"] == "OPTIMAL"
    assert report["memory_bytes"] == {name: b["predicted_bytes"] for name, b in held.items()}
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "memory per backend (upper model" in text and "memory model: upper" in text
