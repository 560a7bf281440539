"""The lookup device built from a parsed dump: ONE's ids from configurations, answers by id, misses as errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.base import BackendConfig, MeasureSettings
from devices.errors import DeviceSpecError, LookupMiss
from devices.lookup import LookupDevice
from solver.assignment.offline import offline_source, open_spec
from solver.assignment.oneids import id_to_digits
from solver.errors import DumpError, UsageError
from solver.io.dumps import parse_dump, read_dump

# The seed's name-mode dump (ONE's README): 5 op types, 2 backends, ids 0..31 (only some kept here).
ONE_DUMP = {
    "oplist": ["Pool2D", "BinaryArithmetic", "DepthwiseConv2D", "Conv2D", "Reshape"],
    "solutions": [{"memory": 56388, "id": 0, "time": 72.525}, {"memory": 73016, "id": 4, "time": 69.634},
                  {"memory": 404476, "id": 15, "time": 7.801}, {"memory": 403568, "id": 31, "time": 8.034}],
}  # fmt: skip
SETTINGS = MeasureSettings()


def write(tmp_path, dump, name="dump.json"):
    path = tmp_path / name
    path.write_text(json.dumps(dump))
    return path


def lookup(path, backends=None) -> LookupDevice:
    """The lookup device of the dump file ``path``."""
    return offline_source(read_dump(path), backends).device


def test_name_mode_ids_follow_one(tmp_path):
    device = lookup(write(tmp_path, ONE_DUMP), backends=("cpu", "acl_cl"))
    config = BackendConfig(("cpu", "acl_cl"), op_types=(("DepthwiseConv2D", "acl_cl"),))
    assert device.id_of(config) == 4
    m = device.measure(tmp_path / "any.tflite", config, SETTINGS)
    assert m.valid and m.time_ms == 69.634 and m.peak_rss_kb == 73016
    assert device.measure_id(31).time_ms == 8.034


def test_missing_id_is_a_lookup_miss(tmp_path):
    device = lookup(write(tmp_path, ONE_DUMP), backends=("cpu", "acl_cl"))
    with pytest.raises(LookupMiss, match="no solution with id 1"):
        device.measure(tmp_path / "m.tflite", BackendConfig(("cpu", "acl_cl"), op_types=(("Pool2D", "acl_cl"),)), SETTINGS)
    with pytest.raises(LookupMiss, match="no backend 'ruy'"):
        device.id_of(BackendConfig(("cpu", "ruy"), op_types=(("Pool2D", "ruy"),)))
    with pytest.raises(LookupMiss, match="per-op-index"):
        device.id_of(BackendConfig(("cpu", "acl_cl"), op_indices=((0, "acl_cl"),)))


def test_incomplete_dump_without_backends_is_refused(tmp_path):
    with pytest.raises(DumpError, match="dump.json: the dump has no 'backends' list"):
        lookup(write(tmp_path, ONE_DUMP))


def test_complete_dump_infers_ones_backend_numbering(tmp_path):
    dump = {"oplist": ["Conv2D", "Softmax"], "solutions": [{"id": i, "time": i, "memory": 1} for i in range(9)]}
    assert offline_source(parse_dump(dump)).device.backend_names == ("cpu", "acl_cl", "acl_neon")


INDEX_DUMP = {
    "oplist": ["Conv2D", "DepthwiseConv2D"],
    "opmap": [0, 1, 0, 2],
    "opname_by_indx": ["Conv2D", "DepthwiseConv2D", "Conv2D", "Conv2D"],
    "backends": ["cpu", "ruy"],
    "solutions": [{"id": i, "time": 10.0 + i, "memory": 100 + i} for i in range(8) if i != 6]
    + [{"id": 6, "time": None, "memory": None, "valid": False, "reason": "prepare failed: NYI"}],
}


def test_index_mode_groups_and_invalid_entries(tmp_path):
    device = open_spec(str(write(tmp_path, INDEX_DUMP)))
    assert isinstance(device, LookupDevice)
    assert device.backends() == {"cpu": None, "ruy": None}
    # ops 0 and 2 form group 0, op 3 is group 2: digits (1, 0, 1) -> id 5
    config = BackendConfig(("cpu", "ruy"), op_indices=((0, "ruy"), (2, "ruy"), (3, "ruy")))
    assert device.id_of(config) == 5
    assert device.id_of(BackendConfig(("cpu", "ruy"), op_types=(("Conv2D", "ruy"),))) == 5
    with pytest.raises(LookupMiss, match="splits op group 0"):
        device.id_of(BackendConfig(("cpu", "ruy"), op_indices=((0, "ruy"),)))
    bad = device.measure_id(6)
    assert not bad.valid and "NYI" in bad.reason


@given(st.integers(0, 7))
def test_every_index_id_round_trips(tmp_path_factory, solution_id):
    device = lookup(write(tmp_path_factory.mktemp("d"), INDEX_DUMP))
    digits = id_to_digits(solution_id, 2, 3)
    ops = tuple((i, device.backend_names[digits[g]]) for i, g in enumerate(INDEX_DUMP["opmap"]))
    assert device.id_of(BackendConfig(("cpu", "ruy"), op_indices=ops)) == solution_id


def test_model_mismatch_is_refused(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"model bytes")
    device = lookup(write(tmp_path, {**INDEX_DUMP, "model_sha256": "0" * 64}))
    with pytest.raises(DeviceSpecError, match="another model"):
        device.measure(model, BackendConfig(), SETTINGS)


def test_a_dump_spec_takes_no_device_options(tmp_path):
    path = str(write(tmp_path, INDEX_DUMP))
    with pytest.raises(UsageError, match="a dump takes no device option"):
        open_spec(path, identity="key")
    with pytest.raises(UsageError, match="only a dump takes a list of backend names"):
        open_spec("local", backends=("cpu",))


def test_a_device_table_needs_no_file():
    from devices.base import Measurement

    device = LookupDevice("table", ("cpu",), {0: Measurement(True, times_ms=[1.5], peak_rss_kb=10)}, lambda c: 0)
    assert device.measure(None, BackendConfig(), SETTINGS).time_ms == 1.5
    assert device.name == "table" and device.backends() == {"cpu": None}
