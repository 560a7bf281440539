"""Replicated stages: the exact model against brute force on small random graphs and platforms."""

from __future__ import annotations

import re
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
from solver.placement.engine import flows as flows_of
from tests.placement.test_engine import measured
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


def _hard_instance():
    """24 ops on 6 devices of three speeds: CP-SAT takes more than ten seconds to prove its replicated optimum."""
    import itertools
    import random

    rng = random.Random(3)
    graph = nx.DiGraph(name="g")
    for v in range(24):
        graph.add_node(v, weight=rng.randint(50, 500), type="ADD", constants={})
    for v in range(1, 24):
        for u in rng.sample(range(v), min(v, 2)):
            graph.add_edge(u, v, tensors={f"t{u}": 1000 + 37 * u}, bytes=1000 + 37 * u)
    devices = tuple(DeviceSpec(f"d{d}", speed=rng.choice([0.5, 1.0, 2.0])) for d in range(6))
    links = {(f"d{a}", f"d{b}"): Link(rng.choice([1e6, 1e7]), 0) for a, b in itertools.permutations(range(6), 2)}
    return placement_problem(PartitionProblem(graph, "g", "test"), Platform(Path("p.json"), devices, links, None))


def test_ctrl_c_during_the_replicated_solve_returns_the_best_found_and_says_so():
    from solver.solving.budget import Budget

    problem, budget, seen = _hard_instance(), Budget(60), []

    def interrupt(incumbent, bound, seconds):
        # The progress line's state, from the main thread; Ctrl-C lands here as it would from the keyboard.
        seen.append((incumbent, bound))
        raise KeyboardInterrupt

    answer, proven = solve_replicated(problem, workers=2, on_progress=interrupt, budget=budget)
    assert budget.interrupted and not proven and budget.elapsed() < 30
    incumbent, bound = seen[0]
    assert bound <= answer.period <= incumbent
    assert answer == evaluate_replicated(problem, list(answer.stage), list(answer.serve))


def test_place_replicate_shows_its_progress_and_writes_the_html_page_of_its_replicas(heavy_second_half, tmp_path,
                                                                                     capsys):  # fmt: skip
    from solver.cli import main

    model, trace, platform = heavy_second_half
    page = tmp_path / "page.html"
    status = main(["place", str(model), str(trace), "--platform", str(platform), "--replicate", "--memory-model",
                   "upper", "--out", str(tmp_path / "m.json"), "--html", str(page)])  # fmt: skip
    assert status == 0
    out, err = capsys.readouterr()
    html = page.read_text()
    assert "part 1 · b + c" in html and "stage 1 on b (1/2)" in html and "stage 1 on c (2/2)" in html
    assert "450 us (2222.22 inferences/s)" in html


def test_place_replicate_shows_the_incumbent_and_bound_while_it_searches(tmp_path, capsys):
    import json

    from solver.cli import main
    from solver.io.graphs import write_graph_json

    problem = _hard_instance()
    write_graph_json(tmp_path / "g.json", problem.graph)
    platform = {"devices": [{"name": d.name, "speed": d.speed} for d in problem.platform.devices],
                "links": [{"from": a, "to": b, "bandwidth": link.bandwidth} for (a, b), link in problem.platform.links.items()]}
    (tmp_path / "p.json").write_text(json.dumps(platform))
    status = main(["place", str(tmp_path / "g.json"), "--platform", str(tmp_path / "p.json"), "--replicate",
                   "--time-limit", "3", "--workers", "2", "--out", str(tmp_path / "m.json")])  # fmt: skip
    assert status == 0
    out, err = capsys.readouterr()
    assert re.search(r"exact solve.*period \d+, bound \d+ \(gap", err)  # the incumbent and bound, while solving
    assert "not proven optimal" in err and "FEASIBLE (not proven optimal in the time)" in out


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(built=measured(ops=(2, 4), devices=(2, 3)))
def test_with_the_engines_cost_the_replicated_model_finds_the_brute_force_optimum(built):
    """A replica's load is its compute and its device's engine cost of the stage (solver.placement.engine) over the
    replicas: CP-SAT's optimum is brute force's."""
    try:
        best = brute_force_replicated(built)
    except InfeasibleError:
        return
    answer, proven = solve_replicated(built, time_limit=20, workers=2)
    assert proven and answer.period == best.period


def test_the_replicated_prediction_counts_the_engines_cost_as_the_model_does():
    # a -> b -> c, the heavy b on two devices; every device measured, 700 us per task, no session bytes.
    from dataclasses import replace

    from solver.io.linkfile import DeviceFit
    from solver.placement.engine import engines_of
    from solver.placement.predicted import predict_replicated

    blind = _problem([100, 600, 100], [(0, 1), (1, 2)], [1.0] * 3, 1e9, 1000)
    fits = {name: DeviceFit(name, 700.0, 1e15, 0.0, 0.0, 1, 0.0) for name in blind.devices}
    problem = PartitionProblem(blind.graph, "g", "test")
    built = replace(blind, engine=engines_of(blind.devices, fits), flows=[f for f in flows_of(problem)])
    stage, serve = [0, 1, 1], [0, 1, 1]
    seen = evaluate_replicated(built, stage, serve)
    # Stage 0: 100 us, a task of 700 and its output through the session (a whole microsecond); stage 1 (600 + 100
    # us) on two replicas: (700 + 700 + 1) / 2.
    assert seen.device_us == {"d0": 801.0, "d1": 700.5, "d2": 700.5} and seen.period == 801
    answer = evaluate_replicated(blind, stage, serve)
    predicted = predict_replicated(answer, blind.platform, "calibrated", {}, 1, problem, fits)
    assert predicted.device_us == seen.device_us


def test_a_replica_pays_its_share_of_the_messages_of_its_stage_at_its_cores_cpu():
    # a -> b -> c, b and c on two devices: d0 sends its tensor (1000 B over 1 GB/s) to d1 and d2 every other request
    # each; every core measured: a task 700, a message sent 300 + 2 us (2000 us/MB), one received 500 + 5 us (4000
    # us/MB and 0.1 us on the link, rounded up).
    from dataclasses import replace

    from solver.io.linkfile import CoreCost, DeviceFit
    from solver.placement.engine import engines_of
    from solver.placement.predicted import predict_replicated

    blind = _problem([100, 600, 100], [(0, 1), (1, 2)], [1.0] * 3, 1e9, 1000)
    core = CoreCost(700.0, 0.0, 300.0, 2000.0, 500.0, 4000.0, receive_us_per_s=1e5)
    fits = {name: DeviceFit(name, 1.0, 1e15, 0.0, 0.0, 1, 0.0, core) for name in blind.devices}
    problem = PartitionProblem(blind.graph, "g", "test")
    built = replace(blind, engine=engines_of(blind.devices, fits), flows=list(flows_of(problem)))
    stage, serve = [0, 1, 1], [0, 1, 1]
    seen = evaluate_replicated(built, stage, serve)
    assert seen.device_us == {"d0": 100 + 700 + 2 * 302 / 2, "d1": (700 + 700) / 2 + 505 / 2, "d2": 952.5}
    assert seen.period == 1102
    answer = evaluate_replicated(blind, stage, serve)
    predicted = predict_replicated(answer, blind.platform, "calibrated", {}, 1, problem, fits)
    assert predicted.device_us == seen.device_us
    answer, proven = solve_replicated(built, time_limit=20, workers=2)
    assert proven and answer.period == brute_force_replicated(built).period <= 1102


def test_a_replicated_placement_of_one_replica_a_stage_predicts_its_maps_latency_on_the_links_alone_line():
    """a -> (b, c) -> d in three stages on three devices (the first stage's two outputs each picked by a reader)
    over links whose message alone takes 200 us and its bytes beyond 4 kB at 100 MB/s (loaded: 500 us and every
    byte). One replica a stage predicts the latency its map does, the messages at the alone line, with and
    without the devices' engine terms (hand-offs, the picks, session bytes, the request's own)."""
    from solver.io.linkfile import DeviceFit
    from solver.placement.predicted import predict_parts, predict_replicated

    graph = nx.DiGraph(name="g")
    for v, w in enumerate([100, 200, 300, 400]):
        graph.add_node(v, weight=w, type="OP", constants={})
    for u, v in [(0, 1), (0, 2), (1, 3), (2, 3)]:
        graph.add_edge(u, v, tensors={f"t{u}": 10_000}, bytes=10_000)
    problem = PartitionProblem(graph, "g", "test")
    devices = tuple(DeviceSpec(f"d{k}", 1.0) for k in range(3))
    platform = Platform(Path("p.json"), devices, {}, Link(1e8, 500.0, idle_us=200.0, burst_bytes=4000.0))
    stage, serve = [0, 0, 1, 2], [0, 1, 2]
    parts = [("d0", [0, 1]), ("d1", [2]), ("d2", [3])]
    answer = evaluate_replicated(placement_problem(problem, platform), stage, serve, memory=False)
    fits = {f"d{k}": DeviceFit(f"d{k}", 700.0, 1e9, 50.0 * (k + 1), 1000.0 + 300 * k, 1, 0.0) for k in range(3)}
    for engine in (None, fits):
        replicated = predict_replicated(answer, platform, "replicated", {}, 3, problem, engine)
        assert replicated.latency_us == predict_parts(problem, platform, parts, "map", {}, 3, engine).latency_us
    # Without engine terms: a at 300; 10 kB alone (200 + 6000 B at 100 MB/s = 260 us), then c: 860; d after both
    # and their messages alone: 860 + 260 + 400. On the loaded line it was 2200.
    assert predict_replicated(answer, platform, "replicated", {}, 3).latency_us == 1520
