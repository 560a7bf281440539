"""Offloading (solver.offload): the exact plan equals brute force, the baselines are valid and faithful."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.errors import CheckError, InfeasibleError, PlatformError
from solver.io.partrules import PartitionRules
from solver.io.platform import DeviceSpec, Link, Platform
from solver.offload import exact as offload_module
from solver.offload.baselines import delegate_plan, greedy_plan
from solver.offload.circle_partitioner import circle_partitioner_plan
from solver.offload.exact import OPTIMAL, solve_offload
from solver.offload.metrics import evaluate_plan
from solver.offload.objectives import TABLE
from solver.offload.offload import offload
from solver.offload.problem import offload_problem
from solver.placement.problem import placement_problem
from solver.problem import PartitionProblem

TYPES = ("CONV_2D", "ADD", "RELU")


@st.composite
def instances(draw):
    """A DAG of up to 6 ops, 2 or 3 backends (the first runs everything), links, and part limits."""
    n = draw(st.integers(1, 6))
    graph = nx.DiGraph(name="g")
    for v in range(n):
        graph.add_node(v, weight=draw(st.integers(0, 60)), type=draw(st.sampled_from(TYPES)), constants={})
    sizes = {u: draw(st.integers(0, 3000)) for u in range(n)}
    for u, v in itertools.combinations(range(n), 2):
        if draw(st.integers(0, 2)) == 0:
            graph.add_edge(u, v, tensors={f"t{u}": sizes[u]}, bytes=sizes[u])
    B = draw(st.integers(2, 3))
    devices = [DeviceSpec("cpu")]
    for d in range(1, B):
        supports = frozenset(draw(st.sets(st.sampled_from(TYPES), min_size=1)))
        devices.append(DeviceSpec(f"acc{d}", speed=draw(st.sampled_from([0.5, 2.0, 4.0])), supports=supports))
    links = {}
    for a, b in itertools.product(range(B), repeat=2):
        if draw(st.integers(0, 5)):
            links[devices[a].name, devices[b].name] = Link(draw(st.sampled_from([1e7, 1e8])), draw(st.sampled_from([0, 7])))
    platform = Platform(Path("p.json"), tuple(devices), links, None)
    min_ops = draw(st.integers(1, 3))
    max_parts = draw(st.one_of(st.none(), st.integers(1, 4)))
    base = placement_problem(PartitionProblem(graph=graph, name="g", source=Path("g.json")), platform)
    problem = offload_problem(base, min_part_ops=min_ops, max_parts=max_parts)
    if draw(st.booleans()):  # partition_for's per-backend limits: a minimum size and a reject rule
        problem.backend_min_ops = [draw(st.integers(1, 3)) for _ in range(B)]
        residue = draw(st.integers(0, 2))
        problem.reject = [None] + [(lambda ops, r=residue: sum(ops) % 3 == r) for _ in range(B - 1)]
    return problem


def set_partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for smaller in set_partitions(rest):
        for k in range(len(smaller)):
            yield smaller[:k] + [[first] + smaller[k]] + smaller[k + 1:]
        yield [[first]] + smaller


def plans(n: int, B: int):
    """Every plan of n ops on B backends: a backend per op and a grouping (the same backend within a group)."""
    for blocks in set_partitions(list(range(n))):
        parts = [0] * n
        for k, block in enumerate(blocks):
            for v in block:
                parts[v] = k
        for choice in itertools.product(range(B), repeat=len(blocks)):
            yield [choice[parts[v]] for v in range(n)], parts


def brute_force(problem):
    """The least latency over every grouping of the ops and every backend of every group."""
    best = None
    for backend, parts in plans(problem.num_ops, len(problem.backends)):
        try:
            value = evaluate_plan(problem, backend, parts).latency
        except CheckError:
            continue
        best = value if best is None else min(best, value)
    return best


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_exact_offloading_equals_brute_force(problem):
    expected = brute_force(problem)
    hint = greedy_plan(problem)
    if hint is not None:
        assert evaluate_plan(problem, *hint).latency >= expected  # valid, never better than the optimum
    if expected is None:
        with pytest.raises(InfeasibleError):
            solve_offload(problem, hint, time_limit=20, workers=2)
        return
    solved = solve_offload(problem, hint, time_limit=20, workers=2)
    assert solved.status == OPTIMAL
    assert solved.value == expected == evaluate_plan(problem, solved.backend, solved.parts).latency


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(1, 3), st.booleans())
def test_too_few_part_slots_claim_optimal_only_when_more_parts_cannot_pay(problem, cap, floor):
    expected = brute_force(problem)
    saved = offload_module.SLOT_CAP, offload_module.labeling
    offload_module.SLOT_CAP = cap  # fewer slots than plans may use: the bound beyond the slots must hold
    if not floor:  # the slot model alone, without the labeling's floor and warm start
        offload_module.labeling = lambda p, *_: offload_module.Labeling(TABLE["latency"].bound(p), None)
    try:
        solved = solve_offload(problem, None, time_limit=20, workers=2)
    except InfeasibleError:
        return  # no plan within the slots and no warm start: nothing claimed
    finally:
        offload_module.SLOT_CAP, offload_module.labeling = saved
    assert expected is not None and solved.bound <= expected <= solved.value
    if solved.status == OPTIMAL:
        assert solved.value == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_the_labeling_floor_is_under_every_plan_and_its_plan_is_valid_or_none(problem):
    expected = brute_force(problem)
    relaxed = offload_module.labeling(problem, 10, 2)
    if expected is not None:
        assert relaxed.floor <= expected
    assert relaxed.backend is None or all(b in problem.allowed[v] for v, b in enumerate(relaxed.backend))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_circle_partitioner_grouping_is_always_a_valid_acyclic_plan(problem):
    group = [0] * problem.num_ops
    for v in range(problem.num_ops):  # any backend assignment the platform allows
        group[v] = problem.allowed[v][-1]
    parts = circle_partitioner_plan(problem, group)
    free = [0] * len(problem.base.tensors)  # links do not matter to the grouping
    problem.handoff = [[free for _ in problem.backends] for _ in problem.backends]
    relaxed = evaluate_plan(problem, group, parts, limits=False)
    assert all(relaxed.part_backends[relaxed.parts[v]] == group[v] for v in range(problem.num_ops))


def _chain_problem(types, edges, platform_devices, names=None, reads_input=None, **limits):
    graph = nx.DiGraph(name="g")
    for v, t in enumerate(types):
        graph.add_node(v, weight=100, type=t, constants={})
    for u, v in edges:
        graph.add_edge(u, v, tensors={f"t{u}": 1000}, bytes=1000)
    platform = Platform(Path("p.json"), tuple(platform_devices), {}, Link(1e9, 10))
    base = placement_problem(PartitionProblem(graph=graph, name="g", source=Path("g.json")), platform)
    return offload_problem(base, op_names=names, reads_input=reads_input, **limits)


CPU_NPU = (DeviceSpec("cpu"), DeviceSpec("npu", speed=4.0, supports=frozenset({"DIV"})))


def test_circle_partitioner_makes_more_parts_than_needed_once_an_output_feeds_another_backend():
    # Net_InstanceNorm_003 in its recipe's op order (res/TensorFlowLiteRecipes): Mean, SquaredDifference,
    # Mean, Add, Pow, Sub, Div(Sub, Pow) on acl_cl, Mul, Add_as_terminal. The README (March 2021) shows 3 parts;
    # since November 2021 the first group absorbs nothing once Pow feeds the Div (is_output_same): Sub is alone.
    types = ["MEAN", "SQUARED_DIFFERENCE", "MEAN", "ADD", "POW", "SUB", "DIV", "MUL", "ADD"]
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (4, 6), (6, 7), (7, 8)]
    rules = PartitionRules(("cpu", "npu"), "cpu", "opcode", {"DIV": "npu"})
    reads_input = [True, True] + [False] * 3 + [True] + [False] * 3
    problem = _chain_problem(types, edges, CPU_NPU, reads_input=reads_input, rules=rules)
    group = [problem.backends.index(rules.backend(t, None)) for t in types]
    m = evaluate_plan(problem, group, circle_partitioner_plan(problem, group))
    assert [problem.backends[b] for b in m.part_backends] == ["cpu", "cpu", "npu", "cpu"]
    assert m.part_ops == [5, 1, 1, 2]
    exact = offload(problem, "exact", time_limit=20, workers=2)
    assert exact.status == OPTIMAL and exact.metrics.num_parts == 3  # Mean..Sub | Div | Mul, Add
    assert exact.baselines["circle-partitioner"].num_parts == 4


def test_circle_partitioner_merges_a_residual_join_of_one_backend():
    # a -> b(npu) -> c, a -> c, then d, e each read a and the op before: c, d, e read only cpu tensors and merge
    # (since November 2021 is_input_same compares backends, not groups); a feeds the npu and stays alone.
    edges = [(0, 1), (1, 2), (0, 2), (2, 3), (0, 3), (3, 4), (0, 4)]
    types = ["ADD", "DIV", "ADD", "ADD", "ADD"]
    rules = PartitionRules(("cpu", "npu"), "cpu", "opcode", {"DIV": "npu"})
    problem = _chain_problem(types, edges, CPU_NPU, rules=rules)
    group = [problem.backends.index(rules.backend(t, None)) for t in types]
    assert circle_partitioner_plan(problem, group) == [0, 1, 2, 2, 2]


def test_opname_rules_pin_ops_by_name_and_the_default_takes_the_rest():
    rules = PartitionRules(("cpu", "npu"), "cpu", "opname", by_opname={"the_div": "npu"})
    problem = _chain_problem(["DIV", "DIV"], [(0, 1)], CPU_NPU, names=["the_div", "other"], rules=rules)
    assert problem.allowed == [(1,), (0, 1)]  # pinned by name; the other is free for the optimiser
    result = offload(problem, "circle-partitioner")
    assert [problem.backends[b] for b in result.metrics.backend] == ["npu", "cpu"]


def test_excluded_ops_stay_on_the_default_backend():
    problem = _chain_problem(["DIV", "DIV", "DIV"], [(0, 1), (1, 2)], CPU_NPU, exclude_ops=["DIV"])
    assert problem.allowed == [(0,), (0,), (0,)]


def test_a_rule_on_a_backend_that_cannot_run_the_op_is_named():
    rules = PartitionRules(("cpu", "npu"), "cpu", "opcode", {"ADD": "npu"})
    with pytest.raises(PlatformError, match=r"op 0 \(ADD\) of g: pinned to npu, which does not run it"):
        _chain_problem(["ADD"], [], CPU_NPU, rules=rules)


def test_min_part_ops_rejects_a_lone_offloaded_op_and_max_parts_caps_the_alternation():
    types = ["DIV", "ADD", "DIV", "ADD", "DIV"]
    chain = [(v, v + 1) for v in range(4)]
    free = offload(_chain_problem(types, chain, CPU_NPU), "exact", time_limit=20, workers=2)
    assert free.metrics.num_parts == 5  # every DIV pays off on the npu: 75 us saved, 2 hand-offs of 11 us
    capped = offload(_chain_problem(types, chain, CPU_NPU, max_parts=3), "exact", time_limit=20, workers=2)
    assert capped.status == OPTIMAL and capped.metrics.num_parts <= 3
    alone = offload(_chain_problem(types, chain, CPU_NPU, min_part_ops=2), "exact", time_limit=20, workers=2)
    assert alone.status == OPTIMAL and min(alone.metrics.part_ops) >= 2
    assert alone.metrics.latency > free.metrics.latency and capped.metrics.latency > free.metrics.latency


def test_a_reject_rule_may_make_two_consecutive_parts_on_one_backend_the_best_plan():
    # Every op runs 4x faster on the npu and the npu refuses a part of all three ops: the optimum is two npu
    # parts in a row (one hand-off), which the model must not rule out as a mere symmetry.
    fast = (DeviceSpec("cpu"), DeviceSpec("npu", speed=4.0, supports=frozenset({"DIV"})))
    problem = _chain_problem(["DIV", "DIV", "DIV"], [(0, 1), (1, 2)], fast)
    problem.reject = [None, lambda ops: len(ops) == 3]
    result = offload(problem, "exact", time_limit=20, workers=2)
    assert result.status == OPTIMAL and [problem.backends[b] for b in result.metrics.part_backends] == ["npu", "npu"]
    assert result.metrics.latency == 3 * 25 + 11  # three ops at 100 us / 4, one 1000-byte hand-off of 10 + 1 us


def test_delegate_plan_claims_every_supported_op_even_when_it_does_not_pay():
    slow = (DeviceSpec("cpu"), DeviceSpec("npu", speed=0.5, supports=frozenset({"DIV"})))
    problem = _chain_problem(["ADD", "DIV", "ADD"], [(0, 1), (1, 2)], slow)
    backend, parts = delegate_plan(problem)
    assert [problem.backends[b] for b in backend] == ["cpu", "npu", "cpu"]
    result = offload(problem, "exact", time_limit=20, workers=2)
    assert result.metrics.num_parts == 1 and result.metrics.latency < result.baselines["delegate"].latency


def test_a_cpu_and_ruy_split_verifies_with_each_part_on_its_backend_and_runs(branchy_cnn, tmp_path):
    import json
    import subprocess
    import sys

    from solver.io.tflite import read_model
    from tests.traces import write_chrome_trace

    model = read_model(branchy_cnn)
    trace = write_chrome_trace(tmp_path / "t.json", model, [[100.0] * model.num_ops] * 2)
    (tmp_path / "p.json").write_text(json.dumps({
        "devices": [{"name": "cpu"}, {"name": "ruy", "speed": 4, "supports": ["CONV_2D", "FULLY_CONNECTED"]}],
        "default_link": {"bandwidth": 1e9, "latency_us": 5}}))  # fmt: skip
    (tmp_path / "r.part").write_text("[partition]\nbackends=cpu,ruy\ndefault=cpu\ncomply=opcode\n[OPCODE]\nCONV_2D=ruy\n")

    def solve(*argv):
        done = subprocess.run([sys.executable, "-m", "solver", *map(str, argv)], capture_output=True, text=True,
                              cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    placed = solve("place", branchy_cnn, trace, "--platform", "p.json", "--rules", "r.part", "--algo",
                   "circle-partitioner", "--out", "map.json", "--json")  # fmt: skip
    assert placed["schema"] == "nnpart.offload/1" and "ruy" in placed["placement"].values()
    convs = [v for v, op in enumerate(model.operators) if op.type == "CONV_2D"]
    assert all(placed["backend_of_op"][v] == "ruy" for v in convs)
    split = solve("split", branchy_cnn, "map.json", "--out", "parts", "--json")
    assert split["verify"]["ok"] is True
    stem = branchy_cnn.name.split(".")[0]
    parts = tmp_path / "parts"
    assert (parts / branchy_cnn.name).read_bytes() == branchy_cnn.read_bytes()
    ini = (parts / f"{stem}.conn.ini").read_text()
    assert ini.startswith(f"[source]\nfile={branchy_cnn.name}\n")
    for k, backend in placed["placement"].items():
        assert f"m{int(k) + 1}={stem}.{int(k) + 1:05d}_{backend}.tflite" in ini
    assert (parts / "metadata" / "backends.cfg").read_text() == "BACKENDS=cpu;ruy\n"
    ran = solve("run", "parts", "--rounds", "5", "--json")
    assert ran["schema"] == "nnpart.run/1" and len(ran["parts"]) == placed["num_partitions"]
    assert [p["backend"] for p in ran["parts"]] == [placed["placement"][str(k)] for k in range(len(ran["parts"]))]
    assert 0 < ran["latency_ms"]["min"] <= ran["latency_ms"]["median"] <= ran["latency_ms"]["max"]
    assert all(p["measured_memory_bytes"] > 0 for p in ran["parts"])  # each part alone in its own child
    assert ran["memory_model"]["model"] in ("planner", "calibrated")  # calibrated once a test calibrated this device
    assert all(p["predicted_memory_bytes"] > 0 for p in ran["parts"])


def test_partition_for_offloads_the_bundled_model_on_the_cli_engine():
    from solver.data import DEFAULT_MODEL as model
    from solver.data import DEFAULT_TRACE as trace
    from solver.offload.backends import Backend, partition_for

    refused = []

    def reject(ops):  # optimize_for's subgraph property: no part of fewer than 3 ops
        refused.append(len(ops) < 3)
        return len(ops) < 3

    backends = [Backend("cpu"), Backend("npu", supports=["CONV_2D"], speed=4.0, min_ops=2, reject=reject)]
    result = partition_for(model, backends, trace=trace, max_parts=5, time_limit=30, workers=2)
    m = result.metrics
    assert m.num_parts <= 5 and "npu" in result.placement.values()
    assert all(c >= 3 for b, c in zip(m.part_backends, m.part_ops) if result.problem.backends[b] == "npu")
    assert m.latency < result.baselines["circle-partitioner"].latency  # all on cpu, the default
    assert refused  # the rule was asked
    with pytest.raises(Exception, match="objective 'throughput' is not offered"):
        partition_for(model, backends, trace=trace, objective="throughput")


def test_solve_place_offload_refuses_the_throughput_objective_and_bad_limits_in_one_line(tmp_path):
    import json
    import subprocess
    import sys

    (tmp_path / "p.json").write_text(json.dumps({"devices": [{"name": "cpu"}]}))
    for extra, message in [(["--objective", "throughput"], "UsageError: offloading minimises the end-to-end latency"),
                           (["--min-part-ops", "0"], "UsageError: --min-part-ops must be an integer >= 1, not 0")]:  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "solver", "place", "--platform", "p.json", "--offload", *extra,
                               "--out", "m.json"], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
        assert done.returncode == 2 and done.stderr.startswith(message) and done.stderr.count("\n") == 1
        assert not (tmp_path / "m.json").exists()
