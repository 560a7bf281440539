"""partition() and `solve partition` end to end: real model, onert-format trace, real CP-SAT, errors."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import networkx as nx
import pytest

from solver import cli
from heuristics.dag import GraphError
from solver.errors import InfeasibleError, UsageError
from solver.partitioning.metrics import check_partition
from solver.partitioning.partition import PartitionSettings, partition
from solver.problem import PartitionProblem, load_problem
from solver.partitioning.report import format_report
from solver.io.tflite import read_model
from tests.traces import write_chrome_trace

# Per-op times (us) of branchy_cnn's 11 ops in the steady runs of the trace written below.
WEIGHTS = [30, 12, 20, 15, 6, 25, 5, 4, 3, 10, 2]


def write_trace(model: Path, path: Path, runs: int = 3) -> Path:
    """An onert Chrome trace of ``runs`` runs of WEIGHTS; the first (prepare) run is 100x slower."""
    steady = [float(w) for w in WEIGHTS]
    return write_chrome_trace(path, read_model(model), [[100 * w for w in steady]] + [steady] * (runs - 1))


@pytest.fixture
def model(branchy_cnn, tmp_path) -> Path:
    """branchy_cnn copied into a fresh directory, so partition_map.json lands beside it in isolation."""
    copy = tmp_path / "branchy_cnn.tflite"
    copy.write_bytes(branchy_cnn.read_bytes())
    return copy


@pytest.fixture
def trace(model, tmp_path) -> Path:
    return write_trace(model, tmp_path / "trace.chrome.json")


@pytest.fixture
def problem(branchy_cnn) -> PartitionProblem:
    graph = read_model(branchy_cnn).op_graph()
    for v, w in enumerate(WEIGHTS):
        graph.nodes[v]["weight"] = w
    return PartitionProblem(graph=graph, name=branchy_cnn.name, source=branchy_cnn)


def brute_force(graph: nx.DiGraph, k: int) -> int:
    """The least bottleneck over every valid partition into k non-empty parts."""
    n, best = graph.number_of_nodes(), None
    weights = [graph.nodes[v]["weight"] for v in range(n)]
    for parts in itertools.product(range(k), repeat=n):
        if len(set(parts)) == k and all(parts[u] <= parts[v] for u, v in graph.edges):
            value = max(sum(w for w, p in zip(weights, parts) if p == q) for q in range(k))
            best = value if best is None else min(best, value)
    return best


def solve(*argv: str) -> int:
    return cli.main(["partition", *argv])


@pytest.mark.parametrize("algo", ["minmax", "orders", "best"])
def test_partition_api(problem, algo):
    result = partition(problem, PartitionSettings(num_parts=3, algo=algo, seed=5))
    assert check_partition(problem.graph, result.parts, 3) == result.metrics
    assert result.method == algo if algo != "best" else result.method in ("minmax", "orders")
    assert set(result.heuristics) == {"minmax", "orders"}
    assert result.status == "HEURISTIC" and result.bound == result.metrics.lower_bound
    assert result.metrics.bottleneck >= brute_force(problem.graph, 3)
    if algo == "best":
        assert result.metrics.bottleneck == min(run.metrics.bottleneck for run in result.heuristics.values())


def test_exact_is_optimal_against_brute_force(problem):
    result = partition(problem, PartitionSettings(num_parts=3, seed=0, exact=True, time_limit=20, workers=2))
    assert result.method == "exact" and result.status == "OPTIMAL" and result.gap == 0
    assert result.metrics.bottleneck == result.bound == brute_force(problem.graph, 3)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"num_parts": 0}, UsageError, r"the number of parts must be an integer of at least 1, not 0"),
        ({"num_parts": 12}, GraphError, r"branchy_cnn.tflite: cannot split 11 ops into 12 non-empty parts \(the number of parts must be 1..11\)"),
        ({"num_parts": 2, "algo": "metis"}, UsageError, "unknown algorithm 'metis'"),
        ({"num_parts": 2, "secondary": ("cut",)}, UsageError, "need the exact solver"),
        ({"num_parts": 2, "memory_cap": 10}, InfeasibleError, "no heuristic partition meets the memory cap of 10"),
    ],
)  # fmt: skip
def test_partition_errors(problem, options, error, message):
    # Option checks fire when the settings are made; the graph-dependent ones in partition().
    with pytest.raises(error, match=message):
        partition(problem, PartitionSettings(**options))


def test_cli_writes_partition_map_next_to_the_model(capsys, model, trace):
    assert solve(str(model), str(trace), "--num-parts", "2", "--seed", "3") == 0
    written = json.loads((model.parent / "partition_map.json").read_text())
    assert set(written) == {"partition_map", "num_partitions"} and written["num_partitions"] == 2
    graph = load_problem(model, trace).graph
    assert [graph.nodes[v]["weight"] for v in range(11)] == WEIGHTS  # the first (prepare) run is not counted
    metrics = check_partition(graph, written["partition_map"], 2)
    assert metrics.bottleneck == brute_force(graph, 2)
    out = capsys.readouterr().out
    assert f"bottleneck        {metrics.bottleneck} us" in out
    assert "ONE MinMax" in out and "order search" in out
    assert f"wrote {model.parent / 'partition_map.json'}" in out


def test_cli_json_report_and_out(capsys, model, trace, tmp_path):
    out_file = tmp_path / "maps" / "k3.json"
    assert solve(str(model), str(trace), "-k", "3", "--seed", "1", "--out", str(out_file), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert next(iter(report)) == "schema" and report["schema"] == "nnpart.partition/1"
    written = json.loads(out_file.read_text())
    assert written == {"partition_map": report["partition_map"], "num_partitions": 3}
    assert report["num_ops"] == 11 and report["num_parts"] == 3 and report["total_weight"] == sum(WEIGHTS)
    assert sum(row["weight"] for row in report["parts"]) == sum(WEIGHTS)
    assert report["bottleneck"] == max(row["weight"] for row in report["parts"])
    assert report["ratio"] == pytest.approx(report["bottleneck"] / report["lower_bound"])
    assert not (model.parent / "partition_map.json").exists()


@pytest.mark.parametrize(
    ("k", "line"),
    [("0", "UsageError: the number of parts must be an integer of at least 1, not 0"),
     ("12", "GraphError: branchy_cnn.tflite: cannot split 11 ops into 12 non-empty parts (the number of parts must be 1..11)")],
)  # fmt: skip
def test_cli_rejects_part_counts_out_of_range(capsys, model, trace, k, line):
    assert solve(str(model), str(trace), "--num-parts", k) == 2
    err = capsys.readouterr().err
    assert err == line + "\n"
    assert not (model.parent / "partition_map.json").exists()


def test_cli_default_seed_is_reproducible(capsys, model, trace):
    maps = []
    for _ in range(2):
        assert solve(str(model), str(trace), "-k", "3", "--runs", "2") == 0
        maps.append((model.parent / "partition_map.json").read_text())
    assert maps[0] == maps[1]
    assert partition(load_problem(model, trace), PartitionSettings(num_parts=3, runs=2)).parts == json.loads(
        maps[0])["partition_map"]


def test_cli_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        solve("--help")
    text = capsys.readouterr().out
    for option in ["--num-parts", "--algo", "--runs", "--seed", "--out", "--json", "--exact", "--time-limit",
                   "--workers", "--secondary", "--slack", "--memory-cap"]:  # fmt: skip
        assert option in text


def test_inception_v3_report_compares_with_minmax():
    # The acceptance test on the bundled InceptionV3 (125 ops), K = 4.
    problem = load_problem()
    result = partition(problem, PartitionSettings(num_parts=4, runs=10, seed=0))
    minmax_value = result.heuristics["minmax"].metrics.bottleneck
    ours = result.heuristics["orders"].metrics.bottleneck
    assert ours <= minmax_value and result.metrics.bottleneck == ours
    text = format_report(problem, result)
    assert f"ONE MinMax     bottleneck {minmax_value:>10} us" in text
    assert f"order search   bottleneck {ours:>10} us" in text
    assert "bottleneck / lower bound" in text
    assert result.to_json()["heuristics"]["minmax"]["bottleneck"] == minmax_value


def test_cli_split_writes_verified_parts(capsys, model, trace, tmp_path):
    out = tmp_path / "parts"
    assert solve(str(model), str(trace), "-k", "3", "--exact", "--workers", "1", "--split", str(out)) == 0
    printed = capsys.readouterr().out
    assert "wrote 3 part models" in printed and "the parts compute the model's outputs" in printed
    parts = [f"branchy_cnn.0000{i}_cpu.tflite" for i in (1, 2, 3)]
    # Beside the parts, the source model that conn.json and conn.ini name, copied into the directory.
    assert sorted(p.name for p in out.glob("*.tflite")) == sorted([*parts, model.name])
    assert (out / model.name).read_bytes() == model.read_bytes()
    assert (out / "metadata" / "MANIFEST").is_file() and (out / "branchy_cnn.conn.json").is_file()


def test_cli_split_needs_a_model(capsys, tmp_path):
    graph = tmp_path / "g.IN2"
    graph.write_text("3\n1\n2\n3\n1,2\n2,3\n-1,-1\n")
    assert solve(str(graph), "-k", "2", "--split", str(tmp_path / "parts")) == 2
    assert capsys.readouterr().err.strip() == f"UsageError: {graph}: --split needs a TFLite model, not a graph file"
    assert not (tmp_path / "parts").exists()
