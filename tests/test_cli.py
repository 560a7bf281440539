"""Bad input through the real command line: one line on stderr, exit status 2, no traceback, no output file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from solver.io.tflite import read_model
from tests.traces import write_chrome_trace


def solve(*argv, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "solver", *map(str, argv)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def good(branchy_cnn, tmp_path):
    """A model and a matching trace in a fresh directory."""
    model = tmp_path / "m.tflite"
    model.write_bytes(branchy_cnn.read_bytes())
    runs = [[10.0] * read_model(model).num_ops] * 2
    return model, write_chrome_trace(tmp_path / "t.json", read_model(model), runs)


def _bad_inputs(good, tmp_path, case):
    model, trace = good
    if case == "not a model":
        bad = tmp_path / "bad.tflite"
        bad.write_text("not a model at all")
        return [bad, trace], r"^ModelError: .*bad.tflite: not a TFLite model"
    if case == "truncated model":
        bad = tmp_path / "cut.tflite"
        bad.write_bytes(model.read_bytes()[:3000])
        return [bad, trace], r"^ModelError: .*cut.tflite: truncated or corrupt"
    if case == "trace of another model":
        other = json.loads(trace.read_text())
        for event in other["traceEvents"]:
            if event.get("name", "").startswith("@2 "):
                event["name"] = "@2 Softmax"
        trace.write_text(json.dumps(other))
        return [model, trace], r"^TraceError: .*t.json: op types disagree .* 2 \(DEPTHWISE_CONV_2D vs Softmax\)"
    if case == "malformed trace":
        trace.write_text('{"traceEvents": [')
        return [model, trace], r"^TraceError: .*t.json: not a JSON trace"
    if case == "K < 1":
        return [model, trace, "-k", "0"], r"^UsageError: .*m.tflite: cannot split 11 ops into 0 parts"
    if case == "K > ops":
        return [model, trace, "-k", "12"], r"^UsageError: .*m.tflite: cannot split 11 ops into 12 parts"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["not a model", "truncated model", "trace of another model", "malformed trace", "K < 1", "K > ops"]
)
def test_bad_input_is_one_line_and_exit_2(good, tmp_path, case):
    import re

    args, message = _bad_inputs(good, tmp_path, case)
    result = solve("partition", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("partition_map.json")) and not list(tmp_path.glob(".*.tmp"))


def test_main_job_runs_on_the_bundled_default(tmp_path):
    result = solve("partition", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "inception_v3.tflite.xz: 125 ops" in result.stdout and "ONE MinMax" in result.stdout
    written = json.loads((tmp_path / "partition_map.json").read_text())
    assert written["num_partitions"] == 4 and len(written["partition_map"]) == 125
