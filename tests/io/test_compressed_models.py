"""xz- and gzip-compressed models (the bundled default first) run wherever onert runs: profile, brute force,
the Pareto search on a live device, run and pipeline, each on a private plain copy removed afterwards."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path

import pytest

from solver import cli
from solver.data import DEFAULT_MODEL
from solver.io.dumps import read_dump
from solver.io.tflite import uncompressed


def _solve(capsys, *argv) -> dict:
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture()
def private_tmp(tmp_path, monkeypatch) -> Path:
    """A temporary directory of this test's own (the machine's is shared), empty at the start."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def test_the_plain_copy_is_private_and_removed(tmp_path):
    with uncompressed(DEFAULT_MODEL) as plain:
        assert plain.name == "inception_v3.tflite" and plain.read_bytes()[4:8] == b"TFL3"
        assert os.stat(plain.parent).st_mode & 0o077 == 0  # only we can read the directory
    assert not plain.exists() and not plain.parent.exists()


def test_the_bundled_default_profiles_and_brute_forces(tmp_path, capsys, private_tmp):
    trace = tmp_path / "t.chrome.json"
    profile = _solve(capsys, "profile", DEFAULT_MODEL, "--out", trace, "--runs", "1", "--rounds", "1",
                     "--max-runs", "2", "--no-cache", "--json")  # fmt: skip
    assert profile["model"] == str(DEFAULT_MODEL) and len(profile["ops"]) == 125 and trace.exists()
    dump = tmp_path / "bf.json"
    _solve(capsys, "brute-force", DEFAULT_MODEL, "--backends", "cpu", "--repeats", "1", "--out", dump, "--no-cache",
           "--json", "--quiet")  # fmt: skip
    read = read_dump(dump)
    assert read.solutions and all(s.valid for s in read.solutions.values())
    context = read.about["context"]  # where and how it measured, with the load before the first point
    assert context["device"] == "local" and context["runtime"].startswith("onert") and len(context["loads"]) == 1
    assert not any(private_tmp.iterdir())  # every plain copy removed


def test_a_gzip_model_searches_runs_and_pipelines(branchy_cnn, tmp_path, capsys, private_tmp):
    model = tmp_path / "branchy.tflite.gz"
    model.write_bytes(gzip.compress(branchy_cnn.read_bytes()))
    front = _solve(capsys, "pareto", model, "--device", "local", "--backends", "cpu,ruy", "--budget", "2", "--quiet",
                   "--json")  # fmt: skip
    assert front["front"] and all(p["time_ms"] > 0 for p in front["front"])
    assert front["summary"]["context"]["backends"] == ["cpu", "ruy"]
    (tmp_path / "map.json").write_text(json.dumps({"partition_map": [0] * 6 + [1] * 5, "num_partitions": 2}))
    parts = tmp_path / "parts"
    assert cli.main(["split", str(model), str(tmp_path / "map.json"), "--out", str(parts)]) == 0
    capsys.readouterr()
    ran = _solve(capsys, "run", parts, "--rounds", "2", "--warmup", "1", "--json")
    assert ran["latency_ms"]["n"] == 2
    piped = _solve(capsys, "pipeline", parts, "--requests", "4", "--warmup", "1", "--rounds", "1", "--json")
    assert piped["measured"]["throughput"] > 0
    assert not any(private_tmp.iterdir())
