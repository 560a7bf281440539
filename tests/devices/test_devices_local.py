"""The local onert device on real models: traces, assignments, invalid configurations, time-outs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from devices import open_device
from devices.base import BackendConfig, MeasureSettings
from devices.local import LocalDevice
from devices.worker import compare_outputs
from solver.io.optypes import types_agree
from solver.io.tflite import read_model

RUY = ("cpu", "ruy")
QUICK = MeasureSettings(warmup=1, repeats=2)


@pytest.fixture(scope="module")
def device(tmp_path_factory) -> LocalDevice:
    return LocalDevice(tmp_path_factory.mktemp("cache"))


def traced_ops(trace: dict) -> dict[int, tuple[str, str]]:
    """op index -> (type name, backend) of the op events of a Chrome trace."""
    ops = {}
    for event in trace["traceEvents"]:
        match = re.match(r"@(\d+) (\S+)$", event.get("name", ""))
        if match and event.get("ph") == "B":
            ops[int(match[1])] = (match[2], event["tid"].rsplit(",", 1)[-1].strip())
    return ops


def test_backends_come_from_the_device(device):
    offered = device.backends()
    assert offered["cpu"] is None
    assert offered["ruy"] == frozenset({"Conv2D", "FullyConnected"})
    assert "train" not in offered


def test_trace_matches_the_tflite_reader(device, branchy_cnn):
    m = device.measure(branchy_cnn, BackendConfig(), MeasureSettings(warmup=1, repeats=3, trace=True))
    assert m.valid, m.reason
    assert len(m.times_ms) == 3 and all(t > 0 for t in m.times_ms)
    assert m.peak_rss_kb > 10_000
    # The session's own memory: what it added to a process that had imported onert already.
    assert m.memory is not None and 10_000 < m.memory.before_kb < m.memory.peak_kb <= m.peak_rss_kb
    assert 0 < m.memory.session_kb < m.peak_rss_kb - 10_000
    model = read_model(branchy_cnn)
    ops = traced_ops(m.trace)
    assert sorted(ops) == list(range(model.num_ops))
    for op in model.operators:
        assert types_agree(op.type, ops[op.index][0]), (op, ops[op.index])
        assert ops[op.index][1] == "cpu"


def test_per_index_assignment_lands_on_the_requested_backends(device, branchy_cnn):
    config = BackendConfig(RUY, op_indices=((0, "ruy"), (9, "ruy")))
    m = device.measure(branchy_cnn, config, MeasureSettings(repeats=1, trace=True))
    assert m.valid, m.reason
    backends = {i: b for i, (_, b) in traced_ops(m.trace).items()}
    assert backends[0] == backends[9] == "ruy"
    assert {b for i, b in backends.items() if i not in (0, 9)} == {"cpu"}


def test_unsupported_assignment_is_invalid_with_onerts_reason(device, branchy_cnn):
    m = device.measure(branchy_cnn, BackendConfig(RUY, op_indices=((2, "ruy"),)), QUICK)
    assert not m.valid
    assert "NYI for operation 'DepthwiseConv2D'" in m.reason
    assert m.reason.startswith("prepare failed")


def test_backend_not_loaded_is_invalid(device, branchy_cnn):
    m = device.measure(branchy_cnn, BackendConfig(("cpu",), op_types=(("Conv2D", "ruy"),)), QUICK)
    assert not m.valid and "Fail to find backend" in m.reason


def test_shared_bias_across_backends_is_caught(device, branchy_cnn):
    # branchy_cnn's convs share one all-zero bias: splitting them across cpu and ruy computes wrong outputs.
    wrong = BackendConfig(RUY, op_indices=((0, "ruy"), (1, "ruy"), (3, "ruy")))
    m = device.measure(branchy_cnn, wrong, QUICK)
    assert not m.valid
    assert "differs from the all-cpu reference" in m.reason
    unchecked = device.measure(branchy_cnn, wrong, MeasureSettings(repeats=1, check_outputs=False))
    assert unchecked.valid


def test_outputs_with_nan_never_agree():
    ref = [np.array([[0.1, 0.2, 0.7]], dtype=np.float32)]
    ok, reason, _ = compare_outputs([np.array([[0.1, np.nan, 0.7]], dtype=np.float32)], ref)
    assert not ok and "NaN" in reason
    assert compare_outputs([ref[0] + 1e-6], ref)[0]
    assert not compare_outputs([ref[0] + 0.01], ref)[0]
    assert not compare_outputs([ref[0][:, :2]], ref)[0]


def test_same_seed_same_outputs_so_all_cpu_is_valid(device, tflite_model):
    m = device.measure(tflite_model("two_output_mlp"), BackendConfig(), QUICK)
    assert m.valid, m.reason


def test_timeout_is_an_invalid_result(device, branchy_cnn):
    m = device.measure(branchy_cnn, BackendConfig(), MeasureSettings(repeats=10**7, timeout=1, check_outputs=False))
    assert not m.valid and m.reason.startswith("timed out")


def test_missing_model_is_a_device_error(device, tmp_path):
    from devices.errors import DeviceError

    with pytest.raises(DeviceError, match="nothing.tflite"):
        device.measure(tmp_path / "nothing.tflite", BackendConfig(), QUICK)


def test_not_a_model_is_invalid(device, tmp_path):
    bogus = tmp_path / "bogus.tflite"
    bogus.write_bytes(b"not a flatbuffer at all")
    m = device.measure(bogus, BackendConfig(), QUICK)
    assert not m.valid and m.reason


def test_open_device_specs(tmp_path):
    from devices.errors import DeviceSpecError

    assert open_device("local", cache_dir=tmp_path).name == "local"
    with pytest.raises(DeviceSpecError, match="not a device"):
        open_device("ftp://x")
    with pytest.raises(DeviceSpecError, match="needs a host"):
        open_device("ssh://")
    with pytest.raises(DeviceSpecError, match="unknown device option"):
        open_device("local", colour="blue")
