"""Profiling on the local device: a trace solve partition reads, and the per-op table."""

from __future__ import annotations

import json

import pytest

from devices import open_device
from devices.base import BackendConfig
from devices.errors import DeviceError
from solver.deploy.profiling import ProfileSettings, profile_model
from solver.deploy.report import profile_table
from solver.io.tflite import read_model
from solver.io.trace import attach_weights, read_trace


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
    assert main(["profile", str(branchy_cnn), "--out", str(out), "--op-map", "x=ruy"]) == 2
    assert "is not an operator index" in capsys.readouterr().err
