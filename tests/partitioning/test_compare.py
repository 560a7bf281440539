"""``solve compare`` on a small JSON graph: the table, --json and the plot."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from heuristics.dag import GraphError
from solver.errors import UsageError
from solver.partitioning.compare import CompareSettings, compare
from solver.partitioning.partition import PartitionSettings, partition
from solver.io.graphs import write_graph_json
from solver.problem import PartitionProblem
from tests.commands import parse_command
from tests.partitioning.test_exact import brute_force


def diamond_chain() -> nx.DiGraph:
    """Three diamonds in a row with uneven weights: 10 ops."""
    weights = [4, 9, 2, 5, 7, 3, 8, 6, 1, 5]
    graph = nx.DiGraph(name="diamonds")
    for v, w in enumerate(weights):
        graph.add_node(v, weight=w, type="OP", constants={})
    for a in (0, 3, 6):
        for u, v in ((a, a + 1), (a, a + 2), (a + 1, a + 3), (a + 2, a + 3)):
            graph.add_edge(u, v, tensors={f"t{u}": 16}, bytes=16)
    return graph


def run_cli(*argv: str) -> int:
    args = parse_command(["compare", *argv])
    return args.run(args)


@pytest.fixture
def graph_file(tmp_path):
    return write_graph_json(tmp_path / "diamonds.json", diamond_chain())


def test_compare_rows_are_checked_and_exact_is_best():
    problem = PartitionProblem(graph=diamond_chain(), name="diamonds", source="diamonds")
    result = compare(problem, CompareSettings(num_parts=(2, 3), time_limit=10, workers=2, runs=3))
    assert [(r.num_parts, r.method) for r in result.rows] == [
        (k, m) for k in (2, 3) for m in ("minmax", "orders", "exact")
    ]
    for k in (2, 3):
        exact = next(r for r in result.rows if r.num_parts == k and r.method == "exact")
        assert exact.status == "OPTIMAL" and exact.proven and exact.ratio == 1.0
        assert exact.bottleneck == exact.reference == brute_force(problem.graph, k)
        for r in result.rows_for("minmax") + result.rows_for("orders"):
            if r.num_parts == k:
                assert r.bottleneck >= exact.bottleneck and r.proven == (r.bottleneck == exact.bottleneck)


def test_rows_are_partitions_answers():
    # compare() tabulates partition() with the exact solver: same seed, same heuristics, same exact answer.
    problem = PartitionProblem(graph=diamond_chain(), name="diamonds", source="diamonds")
    rows = compare(problem, CompareSettings(num_parts=(2, 4), time_limit=10, workers=2, runs=3, seed=4)).rows
    for k in (2, 4):
        answer = partition(problem, PartitionSettings(num_parts=k, runs=3, seed=4, exact=True, time_limit=10,
                                                      workers=2))  # fmt: skip
        by_method = {r.method: r for r in rows if r.num_parts == k}
        assert by_method["minmax"].bottleneck == answer.heuristics["minmax"].metrics.bottleneck
        assert by_method["orders"].bottleneck == answer.heuristics["orders"].metrics.bottleneck
        assert (by_method["exact"].bottleneck, by_method["exact"].status) == (answer.metrics.bottleneck, answer.status)
        assert by_method["exact"].reference == answer.bound


def test_cli_table(graph_file, capsys):
    assert run_cli(str(graph_file), "--num-parts", "2,3", "--time-limit", "5", "--workers", "2") == 0
    out = capsys.readouterr().out
    assert out.startswith("diamonds: 10 ops, bottleneck in us")
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [(r[0], r[1]) for r in rows] == [(k, m) for k in ("2", "3") for m in ("minmax", "orders", "exact")]
    assert rows[2][2:5] == [str(brute_force(diamond_chain(), 2)), "1.0000", "yes"] and rows[2][-1] == "OPTIMAL"


def test_cli_json_and_plot(graph_file, tmp_path, capsys):
    plot = tmp_path / "compare.png"
    assert run_cli(str(graph_file), "-k", "2", "--time-limit", "5", "--json", "--plot", str(plot)) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "nnpart.compare/1"
    assert doc["name"] == "diamonds" and [r["method"] for r in doc["rows"]] == ["minmax", "orders", "exact"]
    assert doc["rows"][2]["bottleneck"] == brute_force(diamond_chain(), 2) and doc["rows"][2]["ratio"] == 1.0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_num_parts(graph_file):
    with pytest.raises(GraphError, match=r"diamonds: cannot split 10 ops into 11 non-empty parts"):
        run_cli(str(graph_file), "-k", "2,11")
    with pytest.raises(UsageError, match="the number of parts must be an integer of at least 1, not 0"):
        run_cli(str(graph_file), "-k", "0,2")
    with pytest.raises(UsageError, match="comma-separated integers"):
        run_cli(str(graph_file), "-k", "two")
