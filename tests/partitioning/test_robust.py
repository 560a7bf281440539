"""Robust partitioning: the runs of a trace as scenarios, checked against brute force and through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.errors import InfeasibleError, TraceError, UsageError
from solver.io.trace import read_trace
from solver.partitioning.metrics import check_partition
from solver.partitioning.partition import partition
from solver.problem import load_problem
from solver.partitioning.robust import (
    robust_value, scenario_bottlenecks, solve_robust, trace_scenarios,
)
from solver.partitioning.settings import PartitionSettings
from tests.partitioning.test_exact import brute_force, chain_with_constants, dags
from solver.io.tflite import read_model
from tests.traces import write_chrome_trace


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=8), data=st.data())
def test_robust_equals_brute_force(graph, data):
    n = graph.number_of_nodes()
    k = data.draw(st.integers(1, min(3, n)))
    count = data.draw(st.integers(1, 5))
    scenarios = [[data.draw(st.integers(0, 30)) for _ in range(n)] for _ in range(count)]
    level = data.draw(st.sampled_from([1.0, 0.5, 0.75, 0.2]))
    result = solve_robust(graph, scenarios, k, level=level, time_limit=20, workers=2)
    expected = brute_force(graph, k, key=lambda parts: robust_value(scenario_bottlenecks(scenarios, parts), level))
    assert result.status == "OPTIMAL"
    assert result.value == result.bound == expected
    assert robust_value(scenario_bottlenecks(scenarios, result.parts), level) == result.value
    assert check_partition(graph, result.parts, k).num_parts == k
    assert result.covered == max(1, -(-round(level * count, 9) // 1))


def test_worst_case_beats_the_nominal_optimum_where_runs_disagree():
    # A chain a -> b -> c -> d: run 1 makes b slow, run 2 makes c slow. The median-weight optimum
    # cannot see that b and c must not share a part in either run.
    graph = nx.DiGraph(name="chain")
    graph.add_nodes_from(range(4), weight=1, constants={})
    graph.add_edges_from([(0, 1), (1, 2), (2, 3)], bytes=1)
    scenarios = [[10, 30, 10, 10], [10, 10, 30, 10]]
    result = solve_robust(graph, scenarios, 2, time_limit=10, workers=2)
    assert result.status == "OPTIMAL"
    assert result.value == 40 and result.parts == [0, 0, 1, 1]
    assert scenario_bottlenecks(scenarios, [0, 0, 0, 1]) == [50, 50]


def test_memory_cap_holds_under_scenarios():
    graph = chain_with_constants()
    scenarios = [[10, 10, 10, 10, 10, 10], [10, 10, 10, 30, 10, 10]]
    capped = solve_robust(graph, scenarios, 2, time_limit=10, workers=2, memory_cap=160)
    assert max(check_partition(graph, capped.parts, 2, memory_cap=160).memory) <= 160

    def value(parts):
        fits = max(check_partition(graph, parts, 2).memory) <= 160
        return robust_value(scenario_bottlenecks(scenarios, parts), 1.0) if fits else float("inf")

    assert capped.status == "OPTIMAL" and capped.value == brute_force(graph, 2, key=value)
    with pytest.raises(InfeasibleError, match="memory cap of 90 bytes"):
        solve_robust(graph, scenarios, 2, time_limit=10, workers=2, memory_cap=90)


def test_bad_scenarios_and_levels_are_refused():
    graph = nx.DiGraph(name="g")
    graph.add_nodes_from(range(3), weight=1, constants={})
    with pytest.raises(UsageError, match="at least one scenario"):
        solve_robust(graph, [], 2)
    with pytest.raises(UsageError, match="scenario 0 has 2 op times, the graph 3 ops"):
        solve_robust(graph, [[1, 2]], 2)
    with pytest.raises(UsageError, match="non-negative integers"):
        solve_robust(graph, [[1, -2, 3]], 2)
    with pytest.raises(UsageError, match="0 < Q <= 1"):
        solve_robust(graph, [[1, 2, 3]], 2, level=0.0)


def test_scenarios_are_the_runs_of_the_trace(tflite_model, tmp_path):
    model = tflite_model("branchy_cnn")
    trace = write_chrome_trace(tmp_path / "t.json", read_model(model), [[1] * 11, [5] * 11, [7] * 11])
    problem = load_problem(model, trace)
    times = read_trace(problem.trace)
    assert trace_scenarios(times, problem.num_ops) == [[5] * 11, [7] * 11]  # the first run prepares
    times.samples[3].append(1.0)
    with pytest.raises(TraceError, match="timed 2 to 3 times"):
        trace_scenarios(times, problem.num_ops)


def test_robust_settings_need_exact_and_a_valid_level():
    with pytest.raises(UsageError, match="needs the exact solver"):
        PartitionSettings(num_parts=2, robust="worst")
    with pytest.raises(UsageError, match="not 'quantile:2'"):
        PartitionSettings(num_parts=2, exact=True, robust="quantile:2")
    with pytest.raises(UsageError, match="secondary"):
        PartitionSettings(num_parts=2, exact=True, robust="worst", secondary=("cut",))
    assert PartitionSettings(num_parts=2, exact=True, robust="quantile:0.9").robust_level == 0.9


def test_graph_files_have_no_runs(tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"ops": [{"id": 0, "weight": 1}, {"id": 1, "weight": 2}], "edges": [{"from": 0, "to": 1}]}))
    with pytest.raises(UsageError, match="needs the times of each run"):
        partition(load_problem(graph), PartitionSettings(num_parts=2, exact=True, robust="worst", time_limit=5))


def test_partition_command_reports_both_partitions_on_every_run(tflite_model, tmp_path):
    model = tflite_model("branchy_cnn")
    runs = [[100] * 11] + [[100 + 40 * ((v + r) % 3) for v in range(11)] for r in range(4)]
    trace = write_chrome_trace(tmp_path / "trace.json", read_model(model), runs)
    common = [sys.executable, "-m", "solver", "partition", str(model), str(trace), "-k", "3", "--exact",
              "--time-limit", "20", "--out", str(tmp_path / "map.json")]
    # Child processes: the fixtures loaded TensorFlow here, and CP-SAT beside it can crash (docs/design.md).
    done = subprocess.run([*common, "--robust", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    robust = document["robust"]
    assert robust["status"] == "OPTIMAL" and robust["level"] == 1.0 and robust["runs"] == 4
    table = robust["per_run"]["partitions"]
    assert set(table) == {"median", "robust"}
    assert all(len(t["per_run"]) == 4 for t in table.values())
    assert table["robust"]["worst"] == robust["value"] <= table["median"]["worst"]
    assert document["partition_map"] == robust["parts"]
    done = subprocess.run([*common, "--robust", "quantile:0.5"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "robust (quantile 0.5 of 4 runs" in text and "run 4" in text
