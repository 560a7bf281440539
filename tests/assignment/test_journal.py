"""The run journal: a live search killed with SIGKILL resumes with the same command and measures nothing twice;
changed options say what is reused and what is not."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devices.base import BackendConfig, Measurement, MeasureSettings
from solver.assignment.journal import Journal
from solver.assignment.space import name_space


def _command(model: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "solver", "pareto", str(model), "--mode", "index", "--algo", "random", "--budget", "8",
            "--repeats", "1", "--warmup", "0", "--rounds", "1", "--no-cache", "--quiet", "--out", str(out), *extra]  # fmt: skip


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sigkill_then_the_same_command_measures_nothing_twice(branchy_cnn, tmp_path):
    out, journal = tmp_path / "front.json", tmp_path / "front.json.journal.jsonl"
    env = {**os.environ, "NNPART_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(_command(branchy_cnn, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()  # still measuring when killed
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = _lines(journal)
    assert 2 <= len(before) < 8 and not out.exists()
    done = subprocess.run(_command(branchy_cnn, out, "--json"), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    after = _lines(journal)
    configs = [json.dumps(line["config"], sort_keys=True) for line in after]
    assert len(configs) == len(set(configs)) == 8  # every point measured once, across the kill
    assert after[: len(before)] == before
    notes = json.loads(done.stdout)["summary"]["notes"]
    assert any(f"reused {len(before)} measurement(s)" in note for note in notes)


def test_changed_options_say_what_is_not_reused(tmp_path):
    space = name_space(("Conv2D", "Add"), {"cpu": None, "ruy": None})
    old = Journal(tmp_path / "j.jsonl", "abc", MeasureSettings(repeats=1), "local")
    for ordinal in range(3):
        old.record(space.config(space.point(ordinal)), Measurement(True, times_ms=[1.0 + ordinal], peak_rss_kb=10))
    old.record(BackendConfig(("cpu", "npu")), Measurement(True, times_ms=[2.0], peak_rss_kb=10))
    with open(tmp_path / "j.jsonl", "a") as handle:
        handle.write('{"torn": ')  # the process died while writing
    same = Journal(tmp_path / "j.jsonl", "abc", MeasureSettings(repeats=1), "local").load(space, {"local"})
    assert sorted(same.reused) == sorted(space.point(i) for i in range(3))
    assert same.skipped == {"configuration(s) outside this space": 1, "unreadable line(s)": 1}
    other = Journal(tmp_path / "j.jsonl", "abc", MeasureSettings(repeats=5), "local").load(space, {"local"})
    assert not other.reused and "4 under other measurement settings (repeats 1)" in other.describe()
    model = Journal(tmp_path / "j.jsonl", "xyz", MeasureSettings(repeats=1), "local").load(space, {"local"})
    assert "4 of another model" in model.describe()
    board = Journal(tmp_path / "j.jsonl", "abc", MeasureSettings(repeats=1), "local").load(space, {"ssh://pi@b"})
    assert "4 from device local" in board.describe()


def test_brute_force_in_rounds_killed_between_them_keeps_every_run_once(branchy_cnn, tmp_path):
    """A dump measured in interleaved rounds keeps each point's runs of every round (its spread), even when the run
    is killed in round 2 and resumed: no (point, round) measured twice, none lost."""
    out, journal = tmp_path / "dump.json", tmp_path / "dump.json.journal.jsonl"
    command = [sys.executable, "-m", "solver", "brute-force", str(branchy_cnn), "--repeats", "2", "--warmup", "0",
               "--rounds", "2", "--no-cache", "--quiet", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "NNPART_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and any(line["measure"]["round"] == 1 for line in _lines(journal)):
            break
        time.sleep(0.02)
    assert process.poll() is None, process.stderr.read().decode()  # killed in round 2
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    solutions = json.loads(out.read_text())["solutions"]
    valid = [s for s in solutions if s.get("valid", True)]
    assert len(solutions) == 4 and valid  # ruy's Conv2D computes wrong outputs here: those points are invalid
    for solution in valid:
        assert len(solution["runs"]) == 4  # 2 runs x 2 rounds: the round measured before the kill and none twice
        assert solution["time"] == pytest.approx(statistics.median(solution["runs"]), abs=1e-3)
        # Each round's peak RSS is kept too, the one before the kill included; the figure is their median.
        assert len(solution["memory_rounds"]) == 2 and solution["memory"] == statistics.median(solution["memory_rounds"])
    assert not journal.exists()  # removed once the dump is written
