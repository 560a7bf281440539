"""The trace reader: onert Chrome traces and aggregates, robust weights, and checks against the model."""

from __future__ import annotations

import json

import pytest

from solver.errors import TraceError
from solver.io.tflite import read_model
from solver.io.trace import attach_weights, read_trace
from tests.traces import chrome_events, write_aggregate_trace, write_chrome_trace


@pytest.fixture(scope="module")
def model(branchy_cnn):
    return read_model(branchy_cnn)


def _weights(model, trace_path):
    graph = model.op_graph()
    notes = attach_weights(graph, model, read_trace(trace_path))
    return [graph.nodes[i]["weight"] for i in range(model.num_ops)], notes


def test_median_leaves_out_the_first_run(model, tmp_path):
    n = model.num_ops
    runs = [[1000.0] * n, [10.0] * n, [30.0] * n, [20.0] * n]  # first run: prepare, slow
    weights, notes = _weights(model, write_chrome_trace(tmp_path / "t.json", model, runs))
    assert weights == [20] * n
    assert "4 run(s) per op" in notes[0]


def test_single_run_is_used_as_is(model, tmp_path):
    runs = [[float(10 * (i + 1)) for i in range(model.num_ops)]]
    weights, _ = _weights(model, write_chrome_trace(tmp_path / "t.json", model, runs))
    assert weights == [10 * (i + 1) for i in range(model.num_ops)]


def test_old_dollar_names_and_complete_events(model, tmp_path):
    n = model.num_ops
    events = [e for e in chrome_events(model, [[5.0] * n, [7.0] * n], marker="$") if e["name"] != "$0 subg"]
    # Rewrite as complete events ("X" with dur), as Perfetto or the TF profiler write them.
    complete = []
    for begin, end in zip(events[::2], events[1::2]):
        complete.append({**begin, "ph": "X", "dur": int(end["ts"]) - int(begin["ts"])})
    path = tmp_path / "x.json"
    path.write_text(json.dumps(complete))  # a bare list of events is accepted too
    weights, _ = _weights(model, path)
    assert weights == [7] * n


def test_fused_sequence_shares_its_time(model, tmp_path):
    n = model.num_ops
    events = [e for e in chrome_events(model, [[8.0] * n]) if not e["name"].startswith(("@1 ", "@2 "))]
    for e in events:  # op 0 stands for ops 0..2
        if e["name"].startswith("@0 "):
            e["name"] = "$0 Conv2D (+2)"
    e0 = next(e for e in events if e["name"].startswith("$0 Conv2D") and e["ph"] == "E")
    e0["ts"] = str(int(e0["ts"]) + 22)  # 8 + 22 = 30 us for three ops
    path = tmp_path / "fused.json"
    path.write_text(json.dumps({"traceEvents": events}))
    weights, _ = _weights(model, path)
    assert weights[:3] == [10, 10, 10]


def test_aggregate_trace_json(model, tmp_path):
    averages = [float(3 * i + 1) for i in range(model.num_ops)]
    weights, notes = _weights(model, write_aggregate_trace(tmp_path / "trace.json", model, averages))
    assert weights == [3 * i + 1 for i in range(model.num_ops)]
    assert "Avg_Time" in notes[0]


def test_real_onert_trace_matches_bundled_model():
    from solver.models import zoo as keras_models

    model = read_model(keras_models.DEFAULT_MODEL)
    weights, _ = _weights(model, keras_models.DEFAULT_TRACE)
    assert len(weights) == 125 and all(w >= 0 for w in weights) and sum(weights) > 10_000


def test_trace_of_another_model_names_the_offenders(model, tmp_path):
    n = model.num_ops
    events = chrome_events(model, [[5.0] * n])
    for e in events:
        if e["name"].startswith("@3 "):
            e["name"] = "@3 Softmax"
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"traceEvents": events}))
    with pytest.raises(TraceError, match=r"other.json: op types disagree .* 3 \(CONV_2D vs Softmax\)"):
        _weights(model, path)


def test_missing_and_extra_ops(model, tmp_path):
    n = model.num_ops
    short = [e for e in chrome_events(model, [[5.0] * n]) if not e["name"].startswith(("@4 ", "@9 "))]
    path = tmp_path / "short.json"
    path.write_text(json.dumps({"traceEvents": short}))
    with pytest.raises(TraceError, match=r"short.json: 2 of 11 ops .* missing from the trace: 4, 9"):
        _weights(model, path)
    extra = chrome_events(model, [[5.0] * n]) + [
        {"name": "@40 Conv2D", "tid": "$0 sess, $0 subg, cpu", "ph": "X", "ts": "1", "dur": "3"}
    ]
    path.write_text(json.dumps({"traceEvents": extra}))
    with pytest.raises(TraceError, match=r"op indices the model .* does not: 40"):
        _weights(model, path)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a JSON trace"),
        ('{"foo": 1}', "not an onert trace"),
        ('{"traceEvents": []}', "holds no operator events"),
        ('{"traceEvents": [{"name": "@0 Conv2D", "ph": "B", "ts": "5"}]}', "never end"),
        ('{"traceEvents": [{"name": "@0 Conv2D", "ph": "E", "ts": "5"}]}', "never began"),
        ('{"traceEvents": [{"name": "@0 Conv2D", "ph": "X", "ts": "x", "dur": 1}]}', "no finite numeric ts"),
        ('{"traceEvents": [{"name": "@0 Conv2D", "ph": "X", "ts": NaN, "dur": 1}]}', "no finite numeric ts"),
        ('{"traceEvents": [{"name": "@0 Conv2D", "ph": "X", "ts": 1, "dur": Infinity}]}', "no finite numeric ts"),
        ('{"traceEvents": [{"name": "@0 Conv2D", "ph": "B", "ts": -Infinity}]}', "no finite numeric ts"),
        ('{"traceEvents": [{"name": "@0 Conv2D", "ph": "X", "ts": true, "dur": 1}]}', "no finite numeric ts"),
        ('{"Execution_Data": {"cpu": {"$0 subgraph $0 Conv2D": {}}}}', "no finite numeric Avg_Time"),
        ('{"Execution_Data": {"cpu": {"$0 subgraph $0 Conv2D": {"Avg_Time": NaN}}}}', "no finite numeric Avg_Time"),
        ('{"Execution_Data": {"cpu": {"$0 subgraph $0 Conv2D": {"Avg_Time": -3}}}}', "negative Avg_Time"),
    ],
)
def test_malformed_traces(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(TraceError, match=f"bad.json: .*{message}"):
        read_trace(path)


def test_events_of_other_subgraphs_and_permutes_are_ignored(model, tmp_path):
    n = model.num_ops
    events = chrome_events(model, [[5.0] * n]) + [
        {"name": "@0 Conv2D", "tid": "$0 sess, $1 subg, cpu", "ph": "X", "ts": "1", "dur": "999"},
        {"name": "@2 Permute", "tid": "$0 sess, $0 subg, cpu", "ph": "X", "ts": "1", "dur": "999"},
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"traceEvents": events}))
    weights, _ = _weights(model, path)
    assert weights == [5] * n
