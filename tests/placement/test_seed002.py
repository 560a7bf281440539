"""Seed 002's method as a baseline: its cut points, sizes, least-sum path and node path, against brute force."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.io.graphs import read_graph_json, write_graph_json
from solver.io.platform import read_platform
from solver.placement.metrics import evaluate
from solver.placement.place import PlaceSettings, place
from solver.placement.problem import placement_problem
from solver.problem import PartitionProblem
from solver.placement.seed002 import (
    INPUT,
    CutPoints,
    Seed002Error,
    cut_points,
    seed002,
    seed002_node_path,
    seed002_partition,
)

MB = 2**20


def _chain_with_block(n_before: int = 2) -> nx.DiGraph:
    """conv0 -> ... -> a residual block (x -> f1 -> f2 -> add <- x) -> dense: cut points skip the block's inside."""
    g = nx.DiGraph(name="res")
    names = [f"c{i}" for i in range(n_before)] + ["f1", "f2", "add", "dense"]
    for v, name in enumerate(names):
        g.add_node(v, name=name, type="OP", weight=10, constants={f"w{v}": 4000})
    g.nodes[0]["input_bytes"] = 4 * 100
    last = n_before - 1
    edges = [(i, i + 1) for i in range(n_before - 1)]
    f1, f2, add, dense = n_before, n_before + 1, n_before + 2, n_before + 3
    edges += [(last, f1), (f1, f2), (f2, add), (last, add), (add, dense)]
    for u, v in edges:
        g.add_edge(u, v, tensors={f"t{u}": 4 * 1000}, bytes=4 * 1000)
    g.nodes[dense]["output_bytes"] = 4 * 10
    return g


def test_cut_points_are_the_singletons_every_path_passes():
    g = _chain_with_block(2)
    cuts = cut_points(g)
    # input, c0, c1, add, dense: f1 and f2 share no level alone (f1 is alone at its level, but the skip
    # edge c1 -> add reaches past f1's level without passing f1, so f1 is no cut point).
    assert cuts.points == [INPUT, 0, 1, 4, 5]
    mbit = 8 / 1.44 * 8 / 2**20
    assert cuts.transfer_mbit[0] == pytest.approx(100 * mbit)  # the input, read by one layer
    assert cuts.transfer_mbit[2] == pytest.approx(2 * 1000 * mbit)  # c1's output, read by f1 and add
    assert cuts.transfer_mbit[4] == pytest.approx(0.0)  # the model output leaves no cut
    # memory after cut point 2 (c1) up to cut point 3 (add): f1, f2 and add, each 4000 B out + 1000 parameters
    assert cuts.memory[2] == pytest.approx(3 * (4000 + 1000))
    assert cuts.memory[-1] == 0


@st.composite
def dags(draw):
    n = draw(st.integers(2, 8))
    g = nx.DiGraph(name="g")
    g.add_nodes_from(range(n))
    for u, v in itertools.combinations(range(n), 2):
        if v == u + 1 or draw(st.integers(0, 3)) == 0:
            g.add_edge(u, v, tensors={f"t{u}": 4}, bytes=4)
    return g


def _all_paths_stay_below(g: nx.DiGraph, level: dict, prev, d) -> bool:
    """The seed's find_all_paths read literally: walk every simple path from prev, stopping at d."""
    starts = [v for v in g if g.in_degree(v) == 0] if prev == INPUT else [prev]

    def walk(u, seen) -> bool:
        if level[u] > level[d]:
            return False
        if u == d:
            return True
        return all(walk(w, seen | {w}) for w in g.successors(u) if w not in seen)

    return all(walk(s, {s}) for s in starts)


@settings(max_examples=80, deadline=None)
@given(dags())
def test_cut_points_match_the_seeds_path_walk(g):
    cuts = cut_points(g)
    level = cuts.level
    by_level: dict[int, list] = {}
    for v, lv in level.items():
        by_level.setdefault(lv, []).append(v)
    singletons = [vs[0] for lv, vs in sorted(by_level.items()) if len(vs) == 1]
    expected, prev = [], None
    for d in singletons:
        if prev is None or _all_paths_stay_below(g, level, prev, d):
            expected.append(d)
            prev = d
    assert cuts.points == expected


@st.composite
def cut_lists(draw):
    m = draw(st.integers(2, 7))
    transfer = [draw(st.floats(0.1, 50)) for _ in range(m)]
    memory = [draw(st.floats(0, 40)) for _ in range(m - 1)] + [0.0]
    return CutPoints(list(range(m)), {}, transfer, memory), draw(st.floats(5, 100))


@settings(max_examples=120, deadline=None)
@given(cut_lists())
def test_least_sum_path_is_the_cheapest_segmentation_under_the_seeds_memory_sum(case):
    cuts, capacity = case
    m = len(cuts.points)
    best = math.inf
    # Every segmentation of cut points 0..m-1 into consecutive parts, with the seed's own sum mem[i:j-1].
    for k in range(m):
        for inner in itertools.combinations(range(1, m), k):
            bounds = [0, *inner, m]
            segments = list(zip(bounds, bounds[1:]))
            if len(segments) < 2 or any(sum(cuts.memory[i:j - 1]) >= capacity for i, j in segments):
                continue
            best = min(best, sum(cuts.transfer_mbit[j - 1] for _, j in segments[:-1]))
    whole_fits = sum(cuts.memory[0:m - 1]) < capacity
    try:
        chosen = seed002_partition(cuts, num_nodes=m, capacity=capacity)
    except Seed002Error:
        # The seed gives up where its least-sum path is the whole model in one part.
        assert whole_fits or best == math.inf
        return
    cost = sum(cuts.transfer_mbit[j - 1] for _, j in chosen[:-1])
    assert chosen[0][0] == 0 and chosen[-1][1] == m
    assert all(a[1] == b[0] for a, b in zip(chosen, chosen[1:]))
    assert cost == pytest.approx(best)


def test_node_path_is_the_best_nearest_neighbour_walk():
    inverse = [[0, 1, 5, 9], [1, 0, 2, 8], [5, 2, 0, 1.5], [9, 8, 1.5, 0]]
    # From 0: 0 -> 1 (1) -> 2 (2); worst hop with sizes [10, 1]: max(10 * 1, 1 * 2) = 10.
    # From 3: 3 -> 2 (1.5) -> 1 (2): max(15, 2) = 15. From 1: 1 -> 0 -> 2: max(10, 5) = 10 (ties keep 0's).
    # From 2: 2 -> 3 (1.5) -> 1 (8): max(15, 8) = 15.
    assert seed002_node_path([10, 1], inverse) == [0, 1, 2]


def _seed_platform(tmp_path: Path, nodes: int, memory: int) -> Path:
    positions = [[1 + 30 * i, 1 + 7 * (i % 3)] for i in range(nodes)]
    doc = {"devices": [{"name": f"n{i}", "memory": memory, "pos": p} for i, p in enumerate(positions)],
           "bandwidth_law": "seed002"}
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(doc))
    return path


def _problem(g: nx.DiGraph, tmp_path: Path) -> PartitionProblem:
    path = write_graph_json(tmp_path / "g.json", g)
    return PartitionProblem(read_graph_json(path), "res", path)


def test_seed002_places_contiguous_parts_and_reports_its_memory_defect(tmp_path):
    g = _chain_with_block(4)
    problem = _problem(g, tmp_path)
    cuts = cut_points(problem.graph)
    # A capacity between the seed's sum and its own estimate in full for some part of two segments.
    capacity = cuts.memory[1] + cuts.memory[2] + 1
    platform = read_platform(_seed_platform(tmp_path, 4, int(capacity)))
    result = seed002(placement_problem(problem, platform))
    assert len(result.segments) >= 2 and len(set(result.nodes)) == len(result.nodes)
    # Parts follow the cut points' levels: each device's ops are contiguous in level order.
    for (i, j), node in zip(result.segments, result.nodes):
        ops = [v for v in problem.graph if result.assign[v] == node]
        high = cuts.level[cuts.points[j - 1]]
        assert all(cuts.level[v] <= high for v in ops)
    claimed = [sum(cuts.memory[i:j - 1]) for i, j in result.segments]
    full = [sum(cuts.memory[max(i - 1, 0):j - 1]) for i, j in result.segments]
    bites = [c < capacity <= f for c, f in zip(claimed, full)]
    assert len(result.defects) == sum(bites)


def test_a_model_that_fits_one_node_is_the_seeds_only_one_partition_error(tmp_path):
    problem = _problem(_chain_with_block(2), tmp_path)
    platform = read_platform(_seed_platform(tmp_path, 3, 10**9))
    with pytest.raises(Seed002Error, match="only one partition"):
        seed002(placement_problem(problem, platform))
    # With the exact solver the seed's failure is a note, and the answer is the one part it would not give.
    result = place(problem, platform, PlaceSettings(exact=True, time_limit=20, algo="seed002"))
    assert result.status == "OPTIMAL" and len(result.metrics.order) == 1
    assert any("only one partition" in note for note in result.notes)


def _solve(*argv, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "solver", *map(str, argv)], capture_output=True, text=True, cwd=cwd)


def test_solve_place_algo_seed002_shows_an_answer_our_memory_model_refuses(tmp_path):
    # Six 4000-byte tensors and constants per layer: seed 002 counts 5000 B a layer (output plus 1000
    # parameters), our memory model 8000 B and more. At 30000 B the seed must cut (its whole-model sum is
    # over 45000) and every part it makes holds more than 30000 B in ours.
    graph_file = write_graph_json(tmp_path / "g.json", _chain_with_block(6))
    platform = _seed_platform(tmp_path, 5, 30_000)
    out = tmp_path / "map.json"
    seed = _solve("place", graph_file, "--platform", platform, "--algo", "seed002", "--json", "--out", out,
                  cwd=tmp_path)
    assert seed.returncode == 4 and seed.stderr.count("\n") == 1 and "overflows" in seed.stderr
    doc = json.loads(seed.stdout)
    assert doc["status"] == "INVALID" and len(doc["seed002"]["nodes"]) >= 2
    assert any(d["memory_bytes"] > 30_000 for d in doc["devices"])
    assert not out.exists()
    exact = _solve("place", graph_file, "--platform", platform, "--algo", "seed002", "--exact", "--json",
                   "--time-limit", "30", "--out", out, cwd=tmp_path)
    assert exact.returncode == 0, exact.stderr
    doc = json.loads(exact.stdout)
    assert doc["status"] == "OPTIMAL" and doc["heuristic"] is None
    assert any("overflows a device in our memory model" in note for note in doc["notes"])
    assert all(d["memory_bytes"] <= 30_000 for d in doc["devices"])
    assert json.loads(out.read_text())["placement"]


def test_seed002_answer_is_the_hint_when_it_fits(tmp_path):
    # Without constants the seed's estimate (each layer's output once, the model output included) is at
    # least ours for the whole model; at exactly its whole-model sum it must cut (it needs sum < capacity),
    # and any part it makes fits in ours, so its answer is a valid hint.
    g = _chain_with_block(6)
    for v in g:
        g.nodes[v]["constants"] = {}
    problem = _problem(g, tmp_path)
    built_whole = placement_problem(problem, read_platform(_seed_platform(tmp_path, 4, 10**9)))
    whole = evaluate(built_whole, [0] * problem.num_ops).memory[0]
    seed_sum = sum(cut_points(problem.graph).memory)
    assert seed_sum >= whole
    platform = read_platform(_seed_platform(tmp_path, 4, int(seed_sum)))
    result = place(problem, platform, PlaceSettings(exact=True, time_limit=20, algo="seed002"))
    assert len(result.seed002.segments) >= 2
    seed_value = evaluate(placement_problem(problem, platform), result.seed002.assign).throughput
    assert result.heuristic == seed_value
    assert result.status == "OPTIMAL" and result.value <= seed_value


def test_the_seeds_line_says_how_many_ops_each_segment_holds_and_which_answer_the_table_shows(tmp_path):
    from solver.placement.report import format_placement

    g = _chain_with_block(6)
    for v in g:
        g.nodes[v]["constants"] = {}
    problem = _problem(g, tmp_path)
    platform = read_platform(_seed_platform(tmp_path, 4, int(sum(cut_points(problem.graph).memory))))
    result = place(problem, platform, PlaceSettings(exact=True, time_limit=20, algo="seed002"))
    seed, names = result.seed002, result.problem.devices
    held = ", ".join(f"{names[d]} {sum(1 for a in seed.assign if a == d)} ops" for d in seed.nodes)
    line = next(x for x in format_placement(result).splitlines() if x.startswith("seed 002          worst hop"))
    assert f"({len(seed.segments)} segments along its path: {held}" in line
    assert line.endswith("; the table above is the solver's answer, not this)") == (result.assign != seed.assign)
