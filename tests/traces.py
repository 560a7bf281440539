"""Traces in onert's formats, written by tests for models whose op times they choose."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from solver.io.optypes import TRACE_NAMES, onert_type
from solver.io.tflite import Model


def trace_name(tflite_type: str) -> str:
    """The name onert's trace gives an op of this TFLite type (``Add``, ``AvgPool2D``, ``Conv2D``)."""
    return TRACE_NAMES.get(tflite_type, onert_type(tflite_type))


def chrome_events(model: Model, runs: Sequence[Sequence[float]], marker: str = "@") -> list[dict]:
    """B/E events of ``len(runs)`` runs; ``runs[r][i]`` is op i's time in run r (us), as onert writes them."""
    events, ts = [], 1_000_000
    for run in runs:
        events.append({"name": "$0 subg", "pid": "0", "tid": "$0 sess, $0 subg", "ph": "B", "ts": str(ts)})
        for op, dur in zip(model.operators, run):
            name = f"{marker}{op.index} {trace_name(op.type)}"
            tid = "$0 sess, $0 subg, cpu"
            events.append({"name": name, "pid": "0", "tid": tid, "ph": "B", "ts": str(ts), "args": {}})
            ts += int(dur)
            events.append({"name": name, "pid": "0", "tid": tid, "ph": "E", "ts": str(ts)})
            ts += 3
        events.append({"name": "$0 subg", "pid": "0", "tid": "$0 sess, $0 subg", "ph": "E", "ts": str(ts)})
    return events


def write_chrome_trace(path: Path, model: Model, runs: Sequence[Sequence[float]], marker: str = "@") -> Path:
    """Write an onert Chrome trace (``{"traceEvents": [..., {}]}``) of the given runs."""
    path.write_text(json.dumps({"traceEvents": chrome_events(model, runs, marker) + [{}]}))
    return path


def write_aggregate_trace(path: Path, model: Model, averages: Sequence[float]) -> Path:
    """Write onert's aggregate ``trace.json`` with one average time per op."""
    ops = {
        f"$0 subgraph ${op.index} {trace_name(op.type)}": {
            "Avg_Time": avg, "Max_Time": avg, "Min_Time": avg, "Runtime": "cpu"
        }
        for op, avg in zip(model.operators, averages)
    }
    path.write_text(json.dumps({"Execution_Data": {"cpu": ops}}))
    return path
