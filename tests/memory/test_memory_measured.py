"""The memory model against onert itself: planners and executors change a session's memory as simulated, and a
calibration fitted on some sessions predicts another."""

from __future__ import annotations

import pytest

from devices.base import BackendConfig, MeasureSettings
from devices.local import LocalDevice
from solver.io.tflite import read_model
from solver.memory.calibration import MemorySample, choose_model, fit_memory
from solver.memory.model import memory_terms, model_graph

CONFIGS = {"wic": ("Linear", "WIC"), "bump": ("Linear", "Bump"), "dataflow": ("Dataflow", "WIC")}


@pytest.fixture(scope="module")
def sessions(tflite_model, tmp_path_factory):
    """Each configuration's model terms and measured session memory (bytes) of a model of 2 MB activations."""
    path = tflite_model("wide_activations")
    graph = model_graph(read_model(path))
    device = LocalDevice(tmp_path_factory.mktemp("cache"))
    out = {}
    for name, (executor, planner) in CONFIGS.items():
        config = BackendConfig(settings=(("EXECUTOR", executor), ("CPU_MEMORY_PLANNER", planner)))
        measured = device.measure(path, config, MeasureSettings(repeats=1, check_outputs=False))
        assert measured.valid and measured.memory is not None, measured.reason
        out[name] = MemorySample(name, memory_terms(graph, planner=planner, executor=executor),
                                 measured.memory.session_kb * 1024)  # fmt: skip
    return out


def test_planner_and_executor_change_the_measured_memory_as_simulated(sessions):
    wic, bump, dataflow = sessions["wic"], sessions["bump"], sessions["dataflow"]
    # Two skips keep 4 of the 2 MB tensors live at once under WIC; Bump and Dataflow keep all 7.
    assert sum(wic.terms.arena.values()) == 4 * 2**21 and sum(bump.terms.arena.values()) == 7 * 2**21
    for other in (bump, dataflow):
        predicted = other.terms.planned - wic.terms.planned
        assert other.measured - wic.measured == pytest.approx(predicted, rel=0.15)


def test_a_calibration_reproduces_its_sessions_and_predicts_another(sessions):
    calibration = fit_memory("local", [sessions["wic"], sessions["bump"]])
    assert calibration.fixed > 1e6  # a session costs megabytes of its own: the planner model misses them
    assert all(abs(r) < 0.05 * s.measured for r, s in zip(calibration.residuals, calibration.samples))
    dataflow = sessions["dataflow"]
    assert calibration.predict(dataflow.terms) == pytest.approx(dataflow.measured, rel=0.05)
    chosen = choose_model(None, calibration, "local")
    assert chosen.name == "calibrated" and chosen.predict(dataflow.terms) > dataflow.terms.planned


def test_a_split_written_in_the_least_memory_order_runs_right_in_that_order(tflite_model, tmp_path):
    import json
    import subprocess
    import sys

    from solver.memory.order import least_peak_order

    model = tflite_model("two_output_mlp")  # the converter's order keeps two hidden vectors live at once
    best = least_peak_order(model_graph(read_model(model)))
    assert best.method == "exact" and best.peak < best.file_peak and best.order != sorted(best.order)
    (tmp_path / "map.json").write_text(json.dumps({"partition_map": [0] * len(best.order), "num_partitions": 1}))
    done = subprocess.run([sys.executable, "-m", "solver", "split", str(model), str(tmp_path / "map.json"), "--out",
                           str(tmp_path / "parts"), "--op-order", "memory", "--json"], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verify"]["ok"] is True  # onert runs the reordered part and computes the whole model's outputs
    assert report["split"]["parts"][0]["ops"] == best.order
