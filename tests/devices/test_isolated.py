"""onert runs on user files in a child process: a crash of the runtime is one line naming the file, never the
death of solve (devices.isolated; issue 16 item 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devices.errors import DeviceError
from devices.isolated import RuntimeCrash, run_isolated
from solver.deploy.split import split_model

ROOT = Path(__file__).resolve().parents[2]


def _add(step, a, b):
    step("adding")
    return a + b


def _crash(step, path):
    step(f"{path} (a part model)")
    os.kill(os.getpid(), signal.SIGSEGV)


def _refuse(step):
    raise DeviceError("m.tflite: refused")


def test_results_and_exceptions_come_back_and_a_crash_names_the_step():
    assert run_isolated(_add, 2, 3) == 5
    with pytest.raises(DeviceError, match="m.tflite: refused"):
        run_isolated(_refuse)
    with pytest.raises(RuntimeCrash, match=r"^bad\.tflite \(a part model\): onert crashed \(SIGSEGV\)"):
        run_isolated(_crash, "bad.tflite")


def test_a_garbage_part_file_is_one_line_naming_it(tflite_model, tmp_path):
    model = tflite_model("two_output_mlp")
    out = tmp_path / "parts"
    split = split_model(model, [0, 0, 1, 1, 1, 2, 2, 2], out)
    garbage = out / split.parts[1].file
    garbage.write_bytes(os.urandom(3000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in (["verify", str(out)], ["verify", str(out), "--json"]):
        done = subprocess.run([sys.executable, "-m", "solver", *command], capture_output=True, text=True, env=env)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 5 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert lines[0].startswith(f"RuntimeCrash: {garbage} (a part model): onert crashed")
