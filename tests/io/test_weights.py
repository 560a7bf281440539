"""Traces of several rounds: each round's warm-up runs left out, run totals, the weight estimators, and
--weights on the commands that read a trace."""

from __future__ import annotations

import json

import pytest

from solver.errors import TraceError, UsageError
from solver.io.tflite import read_model
from solver.io.trace import attach_weights, read_trace, rounds_trace, trace_facts
from tests.traces import chrome_events


@pytest.fixture(scope="module")
def model(branchy_cnn):
    return read_model(branchy_cnn)


def _two_rounds(model, tmp_path, about=None):
    """Round 1: warm-up 1000, timed 10, 30; round 2: warm-ups 900 and 800, timed 20, 40, 50 (every op alike)."""
    n = model.num_ops
    first = {"traceEvents": chrome_events(model, [[1000.0] * n, [10.0] * n, [30.0] * n])}
    second = {"traceEvents": chrome_events(model, [[900.0] * n, [800.0] * n, [20.0] * n, [40.0] * n, [50.0] * n])}
    path = tmp_path / "rounds.chrome.json"
    path.write_text(json.dumps(rounds_trace([first, second], [(1, 2), (2, 3)], about)))
    return path


@pytest.mark.parametrize("estimator, expected", [("median", 30), ("min", 10), ("mean", 30), ("p0", 10), ("p75", 40)])
def test_each_rounds_warmups_are_left_out_and_the_estimator_applies(model, tmp_path, estimator, expected):
    times = read_trace(_two_rounds(model, tmp_path))
    assert times.rounds == [(1, 2), (2, 3)] and times.runs == (8, 8)
    assert times.timed(0) == [10.0, 30.0, 20.0, 40.0, 50.0]
    assert times.run_totals() == [v * model.num_ops for v in (10.0, 30.0, 20.0, 40.0, 50.0)]
    graph = model.op_graph()
    notes = attach_weights(graph, model, times, estimator)
    assert [graph.nodes[i]["weight"] for i in range(model.num_ops)] == [expected] * model.num_ops
    assert "8 run(s) per op in 2 rounds, 5 timed (the warm-up runs of each round left out)" in notes[0]
    assert f"weight = {estimator}" in notes[0]


def test_the_rounds_layout_is_checked_and_facts_are_read(model, tmp_path):
    path = _two_rounds(model, tmp_path, {"stable": False, "reasons": ["drift"]})
    assert trace_facts(path) == {"rounds": [{"warmup": 1, "runs": 2}, {"warmup": 2, "runs": 3}], "stable": False,
                                 "reasons": ["drift"]}  # fmt: skip
    document = json.loads(path.read_text())
    document["otherData"]["nnpart"]["rounds"] = [{"warmup": -1, "runs": 2}]
    path.write_text(json.dumps(document))
    with pytest.raises(TraceError, match="warmup >= 0 and runs >= 1"):
        read_trace(path)
    with pytest.raises(UsageError, match="unknown weight estimator 'max'"):
        attach_weights(model.op_graph(), model, read_trace(_two_rounds(model, tmp_path)), "max")


def test_partition_takes_weights(branchy_cnn, model, tmp_path, capsys):
    from solver import cli

    trace = _two_rounds(model, tmp_path)
    totals = {}
    for estimator in ("min", "median", "p90"):
        assert cli.main(["partition", str(branchy_cnn), str(trace), "-k", "2", "--weights", estimator, "--json"]) == 0
        totals[estimator] = json.loads(capsys.readouterr().out)["total_weight"]
    assert totals == {"min": 10 * model.num_ops, "median": 30 * model.num_ops, "p90": 46 * model.num_ops}
    assert cli.main(["partition", str(branchy_cnn), str(trace), "-k", "2", "--weights", "best"]) == 2
    assert "--weights: unknown weight estimator 'best'" in capsys.readouterr().err


def test_a_duration_longer_than_a_day_is_refused_naming_the_trace(model, tmp_path):
    events = chrome_events(model, [[10.0] * model.num_ops])
    events[1]["ts"] = str(-(2**63))  # the begin of op 0 (events[0] begins the subgraph): it "lasts" 2^63 us
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"traceEvents": events}))
    with pytest.raises(TraceError, match=r"t\.json: event \d+ \('@0 .*more than a day"):
        read_trace(path)
