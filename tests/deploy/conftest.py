"""Fixtures of the placed-run tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.traces import write_chrome_trace


@dataclass
class ThreeDevices:
    """skip_chain split in three parts on devices a, b, c of a platform (``platform``, a file) whose links all
    carry 10^8 B/s, with a trace of 100 us per op; ``problem`` is the whole model's."""

    model: Path
    platform: Path
    split: object  # solver.deploy.split.SplitResult
    problem: object  # solver.problem.PartitionProblem


@pytest.fixture()
def three_devices(tflite_model, tmp_path) -> ThreeDevices:
    from solver.deploy.split import split_model
    from solver.io.tflite import read_model
    from solver.problem import load_problem

    model = tflite_model("skip_chain")
    trace = write_chrome_trace(tmp_path / "trace.json", read_model(model), [[100.0] * 8] * 2)
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": n} for n in "abc"], "default_link": {"bandwidth": 1e8}}))
    split = split_model(model, [0, 0, 0, 1, 1, 1, 2, 2], tmp_path / "split", placement={0: "a", 1: "b", 2: "c"})
    return ThreeDevices(model, platform, split, load_problem(model, trace))
