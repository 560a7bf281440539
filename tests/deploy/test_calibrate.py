"""Calibration: predicted part times against the parts measured on the real onert device, weights corrected."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from devices import open_device
from devices.stats import summarize
from solver.deploy.calibrate import (
    CalibrationRound, CalibrationSettings, calibrate, corrected_weights, median_uncertainty,
)
from solver.deploy.split import read_split
from solver.errors import UsageError
from solver.io.tflite import read_model
from tests.commands import parse_command
from tests.traces import write_chrome_trace

QUICK = CalibrationSettings(max_rounds=3, repeats=5, warmup=1)


def _round(parts, weights, runs_us):
    ids = sorted(set(parts))
    predicted = [float(sum(w for w, p in zip(weights, parts) if p == k)) for k in ids]
    return CalibrationRound(0, parts, ids, weights, predicted, [summarize(r) for r in runs_us])


def test_correction_matches_the_measurement_up_to_its_noise():
    weights = [100, 300, 50, 50, 400]
    parts = [0, 0, 1, 1, 1]
    # Part 0: 400 us predicted, 800 measured without spread: fully corrected. Part 1: 500 predicted,
    # 550 measured with an IQR of 100: two standard errors of that median are 19%, more than the 10% off.
    measured = _round(parts, weights, [[800, 800, 800], [450, 550, 650]])
    after = corrected_weights(weights, measured)
    assert after[:2] == [200, 600]
    assert after[2:] == weights[2:]
    slower = _round(parts, weights, [[400] * 3, [900, 1000, 1100]])  # part 1 twice as slow, IQR 10%
    after = corrected_weights(weights, slower)
    uncertainty = 2 * math.sqrt(math.pi / 2) * (100 / 1.349 / 1000) / math.sqrt(3)
    assert median_uncertainty(slower.measured[1]) == pytest.approx(uncertainty)
    factor = math.exp(math.log(2) - uncertainty)
    assert after[2:] == [round(w * factor) for w in weights[2:]]


def test_settings_refuse_what_cannot_calibrate():
    with pytest.raises(UsageError, match="calibration rounds must be an integer of at least 2, not 1"):
        CalibrationSettings(max_rounds=1)
    with pytest.raises(UsageError, match="timed runs per part must be an integer of at least 3"):
        CalibrationSettings(repeats=2)
    with pytest.raises(UsageError, match=r"measuring passes \(4\) cannot outnumber the timed runs per part \(3\)"):
        CalibrationSettings(repeats=3, passes=4)


@pytest.fixture(scope="module")
def traced(tflite_model, tmp_path_factory):
    """branchy_cnn with a trace whose op times are all 100 us: a poor prediction to calibrate."""
    model = tflite_model("branchy_cnn")
    trace = write_chrome_trace(tmp_path_factory.mktemp("calibrate") / "trace.json", read_model(model), [[100] * 11] * 3)
    return model, trace


def test_calibrate_measures_every_part_for_at_least_two_rounds(traced):
    model, _ = traced
    weights = [100] * 11
    solves = []

    def solve(w):
        solves.append(w)
        return [0] * 5 + [1] * 6

    result = calibrate(model, [0] * 5 + [1] * 6, weights, solve, open_device("local", cache=False), QUICK)
    assert 2 <= len(result.rounds) <= QUICK.max_rounds
    first = result.rounds[0]
    assert first.predicted_us == [500.0, 600.0] and first.part_ids == [0, 1]
    assert all(s.n == QUICK.repeats and s.median > 0 for r in result.rounds for s in r.measured)
    assert solves[0] == corrected_weights(weights, first)  # the re-solve sees the corrected weights
    assert result.rounds[1].predicted_us == [sum(solves[0][:5]), sum(solves[0][5:])]
    assert result.best in range(len(result.rounds)) and result.stop_reason
    kept = result.best_round
    assert result.weights == corrected_weights(kept.weights, kept)  # calibrated by the kept round's own measurement
    check = result.check  # the kept partition measured afresh against the calibrated prediction
    assert check.parts == kept.parts and check.round == len(result.rounds) and check.weights == result.weights
    assert check.predicted_us == [sum(result.weights[:5]), sum(result.weights[5:])]
    measured = result.rounds + [check]
    unstable = [(r.round, p) for r in measured for p, s in zip(r.part_ids, r.measured) if s.robust_cv > 0.05]
    assert len(result.notes) == len(unstable)  # every unstable part measurement is named, and only those


def test_partition_calibrate_json(traced, tmp_path):
    model, trace = traced
    # A child process: the fixtures loaded TensorFlow here, and CP-SAT beside it can crash (docs/design.md).
    done = subprocess.run(
        [sys.executable, "-m", "solver", "partition", str(model), str(trace), "-k", "2", "--exact", "--time-limit",
         "10", "--calibrate", "3", "--calibrate-setting", "NUM_THREADS=1", "--out", str(tmp_path / "map.json"),
         "--split", str(tmp_path / "parts"), "--json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    rounds = document["calibration"]
    assert 2 <= len(rounds) <= 3
    for r in rounds:
        assert len(r["predicted_us"]) == len(r["measured_us"]) == 2
        assert all(m > 0 for m in r["measured_us"]) and r["measured_bottleneck_us"] == max(r["measured_us"])
    check = document["calibration_result"]["check"]
    assert check["partition_map"] == rounds[document["calibration_result"]["best_round"]]["partition_map"]
    assert len(check["predicted_us"]) == len(check["measured_us"]) == 2
    assert read_split(tmp_path / "parts").loads_us == check["predicted_us"]  # the split predicts as calibrated
    best = document["calibration_result"]["best_round"]
    assert document["partition_map"] == rounds[best]["partition_map"]
    assert json.loads((tmp_path / "map.json").read_text())["partition_map"] == rounds[best]["partition_map"]
    # Memory measured beside time: each part's session, fitted with the whole model into this device's terms.
    assert all(len(r["measured_memory_bytes"]) == 2 and min(r["measured_memory_bytes"]) > 0 for r in rounds)
    memory = document["memory"]
    assert memory["model"] == "calibrated" and len(memory["parts"]) == 2 and memory["executor"] == "Linear"
    fitted = memory["calibration"]
    assert fitted["device"].startswith("local@") and fitted["samples"][-1]["label"] == "whole model"
    assert len(fitted["samples"]) == 2 * (len(rounds) + 1) + 1  # every part of every round and the check, the whole
    assert all(abs(s["residual_bytes"]) < 0.25 * s["measured_bytes"] for s in fitted["samples"])


def test_calibrate_needs_exact(traced, tmp_path):
    model, trace = traced
    args = parse_command(["partition", str(model), str(trace), "-k", "2", "--calibrate"])
    with pytest.raises(UsageError, match="--calibrate needs the exact solver"):
        args.run(args)
    args = parse_command(["partition", str(model), str(trace), "-k", "2", "--exact", "--calibrate-setting", "X=1"])
    with pytest.raises(UsageError, match="--calibrate-setting needs --calibrate"):
        args.run(args)
    args = parse_command(["partition", str(model), str(trace), "-k", "2", "--exact", "--calibrate",
                          "--calibrate-setting", "NUM_THREADS"])
    with pytest.raises(UsageError, match="--calibrate-setting 'NUM_THREADS' is not NAME=VALUE"):
        args.run(args)
