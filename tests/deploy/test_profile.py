"""Profiling on the local device: a trace solve partition reads, and the per-op table."""

from __future__ import annotations

import json
import os

import pytest

from benchmarks.measurement import busy_cores
from devices import open_device
from devices.cache import CachedDevice, MeasurementCache
from devices.base import BackendConfig
from devices.errors import DeviceError
from solver.deploy.profiling import ProfileSettings, profile_model
from solver.deploy.report import profile_table
from solver.io.tflite import read_model
from solver.io.trace import attach_weights, read_trace, trace_facts
from tests.devices.test_cache import CountingDevice


@pytest.fixture()
def device(tmp_path):
    return open_device("local", cache_dir=tmp_path)


def test_profile_writes_a_trace_the_partitioner_reads(device, branchy_cnn, tmp_path):
    out = tmp_path / "trace.chrome.json"
    result = profile_model(branchy_cnn, device, ProfileSettings(runs=3, rounds=2, max_runs=6), out=out)
    assert result.trace_path == out
    model = read_model(branchy_cnn)
    times = read_trace(out)
    attach_weights(model.op_graph(), model, times)  # raises when the trace does not fit the model
    assert times.runs == (8, 8)  # per round, the warm-up (preparing) run and 3 timed runs
    assert times.rounds == [(1, 3), (1, 3)] and all(len(times.timed(op)) == 6 for op in times.samples)
    assert all(r.runs.n == 6 and r.runs.min <= r.time_us for r in result.rows)
    assert sorted(r.index for r in result.rows) == list(range(model.num_ops))
    assert [r.time_us for r in result.rows] == sorted((r.time_us for r in result.rows), reverse=True)
    table = profile_table(result, top=3)
    assert "share" in table and "... 8 more ops" in table and "100.0%" in table


def test_profile_of_a_configuration_shows_its_backends(device, branchy_cnn, tmp_path):
    config = BackendConfig(("cpu", "ruy"), op_types=(("FullyConnected", "ruy"),))
    result = profile_model(branchy_cnn, device, ProfileSettings(runs=2, rounds=1), config=config, out=tmp_path / "t.json")
    assert {r.index: r.backend for r in result.rows}[9] == "ruy"


def test_profile_of_an_invalid_configuration_writes_nothing(device, branchy_cnn, tmp_path):
    out = tmp_path / "t.json"
    with pytest.raises(DeviceError, match="DepthwiseConv2D"):
        profile_model(branchy_cnn, device, ProfileSettings(runs=1, rounds=1), config=BackendConfig(("ruy",)), out=out)
    assert not out.exists()


def test_profile_takes_tflite_op_type_names_as_onert_does_its_own(branchy_cnn, tmp_path, capsys, monkeypatch):
    # onert ignores OP_BACKEND_FULLY_CONNECTED silently: the name must reach it as FullyConnected.
    from solver import cli

    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "p.chrome.json"
    assert cli.main(["profile", str(branchy_cnn), "--runs", "2", "--out", str(out), "--op-type", "FULLY_CONNECTED=ruy",
                     "--json"]) == 0  # fmt: skip
    ops = json.loads(capsys.readouterr().out)["ops"]
    assert {o["backend"] for o in ops if o["type"] == "FULLY_CONNECTED"} == {"ruy"}
    assert {o["backend"] for o in ops if o["type"] != "FULLY_CONNECTED"} == {"cpu"}


def test_profile_command(branchy_cnn, tmp_path, capsys, monkeypatch):
    from solver import cli

    main = cli.main
    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "p.chrome.json"
    assert main(["profile", str(branchy_cnn), "--runs", "2", "--out", str(out), "--op-type", "FullyConnected=ruy"]) == 0
    printed = capsys.readouterr().out
    assert "FULLY_CONNECTED" in printed and "ruy" in printed and out.exists()
    assert main(["profile", str(branchy_cnn), "--runs", "2", "--rounds", "2", "--max-runs", "4", "--out", str(out),
                 "--json"]) == 0  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "nnpart.profile/1" and document["timed_runs"] == 4 and document["trace"] == str(out)
    assert document["rounds"] == 2 and isinstance(document["stable"], bool) and document["weights"] == "median"
    assert document["run_totals_ms"]["n"] == 4 and all(o["runs"]["n"] == 4 for o in document["ops"])
    assert len(document["ops"]) == read_model(branchy_cnn).num_ops
    assert document["total_us"] == pytest.approx(sum(o["time_us"] for o in document["ops"]))
    memory = document["memory"]  # each round's session memory and their spread, in the trace's metadata too
    assert len(memory["rounds"]) == 2 and memory["session_kb"]["n"] == 2
    assert all(0 < r["session_kb"] == r["peak_kb"] - r["before_kb"] for r in memory["rounds"])
    assert memory["session_kb"]["min"] <= memory["session_kb"]["median"] <= memory["session_kb"]["max"]
    assert trace_facts(out)["memory"] == memory
    assert main(["profile", str(branchy_cnn), "--out", str(out), "--op-map", "x=ruy"]) == 2
    assert "is not an operator index" in capsys.readouterr().err


def test_profiling_under_contention_is_unstable_and_not_kept(branchy_cnn, tmp_path):
    counting = CountingDevice(open_device("local", cache=False, cache_dir=tmp_path))
    device = CachedDevice(counting, MeasurementCache(tmp_path / "measurements"))
    settings = ProfileSettings(runs=10, rounds=2, max_runs=30)
    out = tmp_path / "busy.chrome.json"
    with busy_cores(4 * (os.cpu_count() or 2)):  # bursty processes oversubscribing the cores: contention on every run
        result = profile_model(branchy_cnn, device, settings, out=out)
    assert not result.stable and result.totals.reasons
    assert len(result.measurements) == 3  # unstable after 2 rounds: measured on until the budget of 30 runs
    document = result.to_json()
    assert document["stable"] is False and document["reasons"] == result.reasons
    assert result.reasons[-len(result.totals.reasons):] == list(result.totals.reasons)  # after any contention
    assert document["timed_runs"] == 30 and document["run_totals_ms"]["n"] == 30
    assert "UNSTABLE" in profile_table(result) and "UNSTABLE measurement" in result.notes[0]
    assert trace_facts(out)["stable"] is False and read_trace(out).rounds == [(1, 10)] * 3
    # Not kept as if it were good: profiling again measures again, and says so.
    calls = counting.calls
    again = profile_model(branchy_cnn, device, settings)
    assert counting.calls > calls and not again.from_cache and again.origin().startswith("measured now")


def test_a_profile_from_the_cache_says_so(branchy_cnn, tmp_path, capsys, monkeypatch):
    from solver import cli

    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    base = ["profile", str(branchy_cnn), "--runs", "3", "--rounds", "2", "--target-cv", "10", "--out"]
    assert cli.main([*base, str(tmp_path / "a.json"), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["from_cache"] is False and first["measured_at"].startswith("20")
    assert cli.main([*base, str(tmp_path / "b.json"), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    # A stable profile is reused (and says when it was measured); an unstable one is measured again.
    assert second["from_cache"] is first["stable"]
    if second["from_cache"]:
        assert second["measured_at"] == first["measured_at"] and second["ops"] == first["ops"]
        assert cli.main([*base, str(tmp_path / "c.json")]) == 0
        assert "from the measurement cache, measured 20" in capsys.readouterr().out
    for option in ("--refresh", "--no-cache"):
        assert cli.main([*base, str(tmp_path / "d.json"), "--json", option]) == 0
        assert json.loads(capsys.readouterr().out)["from_cache"] is False
    assert cli.main([*base, str(tmp_path / "e.json"), "--weights", "p101"]) == 2
    assert "unknown weight estimator" in capsys.readouterr().err
