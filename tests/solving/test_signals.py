"""SIGTERM stops long work the way Ctrl-C does: the real `solve` keeps its best answer, says so, exits 0."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time


def slow_graph(path):
    """A wide random DAG of 400 ops that CP-SAT does not settle at K = 37 in seconds."""
    rng = random.Random(1)
    ops = [{"id": v, "weight": rng.randint(1, 1000)} for v in range(400)]
    edges = [{"from": u, "to": v, "bytes": 10} for v in range(1, 400) for u in rng.sample(range(max(0, v - 30), v), min(v, 2))]
    path.write_text(json.dumps({"ops": ops, "edges": edges}))
    return path


def stop_after_first_progress(argv, cwd=None) -> tuple[str, dict]:
    """Run ``solve ARGV``, send SIGTERM on its first progress line (from then on there is an answer to keep),
    check that it ends quickly, cleanly and with exit 0; the first line and the JSON it printed."""
    solve = subprocess.Popen([sys.executable, "-m", "solver", *map(str, argv)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=cwd)  # fmt: skip
    first = solve.stderr.readline()
    sent = time.monotonic()
    solve.send_signal(signal.SIGTERM)
    out, err = solve.communicate(timeout=120)
    assert time.monotonic() - sent < 30
    assert solve.returncode == 0, err
    assert "Traceback" not in err
    return first, json.loads(out)


def assert_best_answer_kept(report: dict, map_file) -> None:
    assert report["status"] in ("OPTIMAL", "FEASIBLE", "HEURISTIC")
    assert report["status"] == "OPTIMAL" or any("interrupted" in note for note in report["notes"])
    assert json.loads(map_file.read_text())["partition_map"] == report["partition_map"]


def test_sigterm_during_an_exact_solve_keeps_the_best_answer(tmp_path):
    graph = slow_graph(tmp_path / "slow.json")
    first, report = stop_after_first_progress(["partition", graph, "-k", "37", "--exact", "--time-limit", "120",
                                               "--json", "--out", tmp_path / "map.json"])  # fmt: skip
    assert first.startswith("["), first
    assert_best_answer_kept(report, tmp_path / "map.json")


def test_sigterm_during_compare_stops_after_the_k_it_was_solving(tmp_path):
    graph = slow_graph(tmp_path / "slow.json")
    # The first progress line of K = 37's exact solve: past start-up and the heuristics, however loaded the machine.
    first, report = stop_after_first_progress(["compare", graph, "-k", "37,38,39", "--time-limit", "120", "--json"])
    assert "K=37 exact solve" in first, first
    assert {row["num_parts"] for row in report["rows"]} == {37} and report["interrupted"] is True


def test_sigterm_during_exact_offloading_keeps_the_warm_start(tmp_path):
    rng = random.Random(2)
    n = 1500  # the labeling floor alone takes seconds: its progress lines come first
    ops = [{"id": v, "weight": rng.randint(10, 1000), "type": rng.choice(["CONV_2D", "ADD", "MUL"])} for v in range(n)]
    edges = [{"from": u, "to": v, "bytes": rng.randint(100, 100000)}
             for v in range(1, n) for u in rng.sample(range(max(0, v - 20), v), min(v, 2))]  # fmt: skip
    (tmp_path / "g.json").write_text(json.dumps({"ops": ops, "edges": edges}))
    (tmp_path / "p.json").write_text(json.dumps({
        "devices": [{"name": "cpu"}, {"name": "npu", "speed": 4, "supports": ["CONV_2D"]}],
        "default_link": {"bandwidth": 2e9, "latency_us": 50}}))  # fmt: skip
    first, report = stop_after_first_progress(["place", "g.json", "--platform", "p.json", "--offload", "--exact",
                                               "--time-limit", "300", "--json", "--out", "map.json"], cwd=tmp_path)  # fmt: skip
    assert first.startswith("[") and "latency" in first and "bound" in first, first
    assert report["bound"] <= report["value"]
    assert_best_answer_kept(report, tmp_path / "map.json")
