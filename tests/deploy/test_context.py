"""The measurement context: where and how a measurement ran, the load beside it, and contention seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks.measurement import pinned_busy
from devices.base import BackendConfig
from devices.context import Load, MeasurementContext, measurement_context, others_running, probe_load
from devices.stats import summarize
from solver import cli
from solver.deploy.calibrate import Calibration, CalibrationRound
from solver.deploy.report import calibration_text
from solver.errors import EXIT_UNSTABLE
from solver.io.tflite import read_model
from solver.io.trace import trace_facts
from tests.traces import write_chrome_trace


def test_load_and_context_by_construction():
    quiet = Load(cores=2, others=0.1, load_average=0.3, probe_share=0.99, samples=8)
    busy = Load(cores=2, others=1.2, load_average=1.3, probe_share=0.95, samples=8)
    assert quiet.fits(2) and busy.fits(1) and not busy.fits(2)
    assert not Load(2, 0.0, 0.0, probe_share=0.5).fits(1)  # the probe found even one core shared
    default = MeasurementContext("local", "vm", "onert 0.1.0", ("cpu",), (), 2, (busy,))
    one = MeasurementContext("local", "vm", "onert 0.1.0", ("cpu",), (("NUM_THREADS", "1"),), 2, (busy,))
    assert default.effective_threads == 2 and default.contended() is busy and one.contended() is None
    assert default.threads_text() == "onert's default threads (2: every core)"
    assert default.differences(one) == ["threads onert's default threads (2: every core) vs NUM_THREADS=1"]
    assert one.setting_config() == BackendConfig(settings=(("NUM_THREADS", "1"),))
    assert MeasurementContext.from_json(json.loads(json.dumps(one.to_json()))) == one
    assert MeasurementContext.from_json({"device": "local"}) is None


def test_a_context_records_every_setting_and_the_runtime():
    config = BackendConfig(("cpu", "ruy"), op_types=(("Conv2D", "ruy"),), settings=(("EXECUTOR", "Linear"),))
    context = measurement_context("local", config, (probe_load(0.05),))
    assert dict(context.settings) == {"OP_BACKEND_Conv2D": "ruy", "EXECUTOR": "Linear"}
    assert context.runtime.startswith("onert 0.") and context.cores == len(os.sched_getaffinity(0))
    assert context.describe().startswith("local (") and "EXECUTOR=Linear" in context.describe()


def test_busy_processes_pinned_to_the_cores_are_seen(branchy_cnn, tmp_path, capsys):
    out = tmp_path / "t.chrome.json"
    with pinned_busy():
        seen = others_running()
        status = cli.main(["profile", str(branchy_cnn), "--out", str(out), "--runs", "3", "--rounds", "1",
                           "--target-cv", "10", "--no-cache", "--strict", "--json"])  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert seen is not None and seen >= len(os.sched_getaffinity(0))
    assert status == EXIT_UNSTABLE
    assert document["stable"] is False and document["contended"] is True
    assert document["reasons"][0].startswith(f"contended: onert's default threads ({os.cpu_count()}: every core) on ")
    assert "the figures measure contention, not the model" in document["reasons"][0]
    assert document["reasons"][0].endswith("--setting NUM_THREADS=1")
    facts = trace_facts(out)  # the trace says it too, with where and how it ran
    assert facts["stable"] is False and facts["contended"] is True
    assert facts["context"]["threads"] is None and facts["context"]["loads"][0]["free_cores"] < 1


def test_a_profile_records_its_settings_in_the_trace(branchy_cnn, tmp_path, capsys):
    out = tmp_path / "t.chrome.json"
    assert cli.main(["profile", str(branchy_cnn), "--out", str(out), "--runs", "2", "--rounds", "1", "--no-cache",
                     "--setting", "NUM_THREADS=1", "--json"]) in (0,)  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    context = MeasurementContext.from_json(trace_facts(out)["context"])
    assert context is not None and context.threads == 1 and context.backends == ("cpu",)
    assert document["context"]["settings"] == {"NUM_THREADS": "1"}
    assert len(context.loads) == 1 + document["rounds"]  # before, then during each round


def _traced(model_path, path, settings=(), stable=True, reasons=()):
    """A trace of ``model_path`` with every op at 100 us, saying in its metadata what ``solve profile`` says."""
    model = read_model(model_path)
    write_chrome_trace(path, model, [[100] * model.num_ops] * 3)
    document = json.loads(path.read_text())
    context = measurement_context("local", BackendConfig(settings=tuple(settings)))
    document["otherData"] = {"nnpart": {"stable": stable, "reasons": list(reasons), "context": context.to_json()}}
    path.write_text(json.dumps(document))
    return path


def test_calibration_measures_in_the_trace_context_and_says_so(branchy_cnn, tmp_path):
    trace = _traced(branchy_cnn, tmp_path / "t.json", [("NUM_THREADS", "1")])
    # A child process: CP-SAT beside the TensorFlow the fixtures loaded can crash (docs/design.md).
    done = subprocess.run([sys.executable, "-m", "solver", "partition", str(branchy_cnn), str(trace), "-k", "2",
                           "--exact", "--time-limit", "5", "--calibrate", "2", "--out", str(tmp_path / "map.json"),
                           "--json"], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["calibration_result"]["settings"] == {"NUM_THREADS": "1"}
    assert "calibration measures the parts in the trace's context: NUM_THREADS=1 (--calibrate-setting to measure " \
           "otherwise)" == document["calibration_result"]["notes"][0]
    assert isinstance(document["calibration_result"]["missed"], bool)


def test_an_unstable_trace_is_warned_of(branchy_cnn, tmp_path):
    trace = _traced(branchy_cnn, tmp_path / "t.json", stable=False, reasons=["run totals spread: robust CV 118%"])
    for command in (["partition", "-k", "2", "--out", "m.json"], ["compare", "-k", "2", "--time-limit", "2"]):
        done = subprocess.run([sys.executable, "-m", "solver", command[0], str(branchy_cnn), str(trace), *command[1:]],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"warning: {trace}: the trace's profile was UNSTABLE: run totals spread: robust CV 118%; its op " \
               "weights may measure the machine's load, not the model" in done.stderr


def _round(number, predicted, measured):
    return CalibrationRound(number, [0, 1], [0, 1], [1, 1], predicted,
                            [summarize([m * f for f in (0.99, 1.0, 1.01)]) for m in measured])


def test_calibration_texts_say_missed_and_why_a_round_was_kept():
    rounds = [_round(0, [1000, 1000], [1108, 900]), _round(1, [1100, 900], [1074, 1000])]
    missed = Calibration(rounds, 0, "the measured bottleneck stopped improving", [1, 1],
                         _round(2, [1099, 900], [27700, 900]), config=BackendConfig(settings=(("NUM_THREADS", "1"),)))
    text = calibration_text(missed)
    assert "measured with NUM_THREADS=1, stopped by the measured bottleneck stopped improving; kept round 0 " \
           "(measured bottleneck 1.108 ms); round 1's 1.074 ms is lower by less than the spread of the two " \
           "medians, so the earlier round stands" in text
    assert "calibrated prediction MISSED its 10% tolerance by 2410.5%: part 0 predicted 1.099 ms, measured " \
           "27.700 ms (+2420.5%)" in text
    assert "within" not in text.split("check:")[1] and missed.to_json()["missed"] is True
    good = Calibration(rounds, 1, "the round cap (2)", [1, 1], _round(2, [1000, 1000], [1030, 990]))
    assert "calibrated prediction: every part within 3.0% of its fresh measurement (tolerance 10%)" \
        in calibration_text(good)
    noisy_check = CalibrationRound(1, [0], [0], [1], [1000], [summarize([500, 1000, 1500])])
    noisy = Calibration(rounds[:1], 0, "x", [1], noisy_check)
    assert calibrate_notes(noisy)[0].startswith("the check round, part 0: unstable measurement")


def calibrate_notes(c):
    from solver.deploy.calibrate import _unstable_notes

    return _unstable_notes(c.rounds, c.check)


def test_the_trace_settings_reach_run_and_pipeline(branchy_cnn, tmp_path, capsys):
    trace = _traced(branchy_cnn, tmp_path / "t.json", [("NUM_THREADS", "2")])
    (tmp_path / "map.json").write_text(json.dumps({"partition_map": [0] * 6 + [1] * 5, "num_partitions": 2}))
    parts = tmp_path / "parts"
    assert cli.main(["split", str(branchy_cnn), str(tmp_path / "map.json"), "--trace", str(trace), "--out", str(parts),
                     "--no-verify"]) == 0  # fmt: skip
    capsys.readouterr()
    assert cli.main(["run", str(parts), "--rounds", "2", "--warmup", "1", "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran["settings"] == {"EXECUTOR": "Dataflow", "NUM_THREADS": "2"}
    assert ran["notes"] == ["every session ran with EXECUTOR=Dataflow NUM_THREADS=2 (the trace's: NUM_THREADS=2)"]
    assert isinstance(ran["off_prediction"], bool) and ran["predicted_ms"] == pytest.approx(1.1)
    assert cli.main(["run", str(parts), "--rounds", "2", "--warmup", "1", "--setting", "NUM_THREADS=1", "--json"]) == 0
    told = json.loads(capsys.readouterr().out)
    assert told["settings"]["NUM_THREADS"] == "1"
    assert told["notes"] == ["every session ran with EXECUTOR=Dataflow NUM_THREADS=1 (--setting; the trace was "
                             "measured with NUM_THREADS=2)"]
    assert cli.main(["pipeline", str(parts), "--requests", "4", "--warmup", "1", "--rounds", "1", "--json"]) == 0
    piped = json.loads(capsys.readouterr().out)
    assert piped["threads_per_stage"] == 2
    assert piped["notes"][0] == "each stage ran on 2 thread(s) (the trace's NUM_THREADS=2)"
    assert piped["whole_model"]["threads"] == min(2, len(os.sched_getaffinity(0)))
    assert any(n.startswith(f"the whole model ran on {piped['whole_model']['threads']} thread(s), the trace's "
                            "(NUM_THREADS=2") for n in piped["notes"])  # fmt: skip


def test_robust_says_what_is_optimal_and_that_the_worst_runs_are_cold(branchy_cnn, tmp_path):
    model = read_model(branchy_cnn)
    rounds = []
    for r in range(2):  # a warm-up run, a cold first timed run, then nine warm ones
        rounds += [[100] * 11, [300] * 11] + [[100 + 10 * ((v + i + r) % 3) for v in range(11)] for i in range(9)]
    trace = write_chrome_trace(tmp_path / "t.json", model, rounds)
    document = json.loads(trace.read_text())
    document["otherData"] = {"nnpart": {"rounds": [{"warmup": 1, "runs": 10}] * 2}}
    trace.write_text(json.dumps(document))
    done = subprocess.run([sys.executable, "-m", "solver", "partition", str(branchy_cnn), str(trace), "-k", "2",
                           "--exact", "--time-limit", "10", "--robust", "--out", str(tmp_path / "m.json")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "robust over the trace's runs (CP-SAT), OPTIMAL for the worst run (bound " in text
    assert "the price of planning for the worst run" in text and "proven bound" not in text
    assert "each run's in --json, per_run" in text and "  run 1 " not in text  # 20 runs: no 20-row table
    assert "robust: the worst run(s) (run 1, run 11) are the first timed run of their round: cold caches" in text


def test_the_contention_remedy_fits_the_threads():
    from solver.deploy.profiling import contention_reason

    busy = Load(cores=2, others=1.0, load_average=1.3, probe_share=0.95, samples=8)
    default = MeasurementContext("local", "vm", "onert 0.1.0", ("cpu",), (), 2, (busy,))
    assert contention_reason(default).endswith("measure on a quiet machine or with --setting NUM_THREADS=1")
    taken = Load(cores=2, others=2.0, load_average=2.0, probe_share=0.4, samples=8)
    one = MeasurementContext("local", "vm", "onert 0.1.0", ("cpu",), (("NUM_THREADS", "1"),), 2, (taken,))
    assert contention_reason(one).endswith("even one thread had no core of its own: measure on a quieter machine")
    assert contention_reason(MeasurementContext("local", "vm", "onert", ("cpu",), (), 2, ())) == ""


def test_a_context_elsewhere_is_named_with_both():
    here = measurement_context("local", BackendConfig())
    board = MeasurementContext("ssh://pi@board", "ssh://pi@board", "onert", ("cpu",), (), 0)
    assert here.elsewhere(here) == ""
    assert here.elsewhere(board) == (f"device local vs ssh://pi@board; host {here.host} vs ssh://pi@board; "
                                     f"runtime {here.runtime} vs onert")  # fmt: skip


def test_a_profile_nobody_asked_for_runs_on_the_threads_that_fit(branchy_cnn, tmp_path, monkeypatch):
    import argparse

    from solver.commands._problem import problem_from_args

    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    with pinned_busy():  # every core taken: onert's default threads (every core) cannot fit
        problem = problem_from_args(argparse.Namespace(model=branchy_cnn, trace=None))
    cores = len(os.sched_getaffinity(0))
    note = problem.notes[0]
    assert note.startswith("no trace given: weights measured now, profiling it on the local onert device")
    if cores > 1:
        assert f"with NUM_THREADS=1: onert's default threads ({cores}) exceed the cores other work leaves free" in note
        assert trace_facts(problem.trace)["context"]["threads"] == 1
