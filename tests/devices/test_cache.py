"""The measurement cache: the second measurement of the same thing never runs onert."""

from __future__ import annotations

import os

import pytest

from devices import open_device
from devices.base import BackendConfig, Measurement, MeasureSettings
from devices.cache import CachedDevice, MeasurementCache, machine_cpus, measurement_key, pinned_cpus


class CountingDevice:
    """Wraps a device and counts real measurements."""

    def __init__(self, device):
        self.device, self.name, self.calls = device, device.name, 0

    def backends(self):
        return self.device.backends()

    def measure(self, model, config, settings):
        self.calls += 1
        return self.device.measure(model, config, settings)


def test_cache_returns_without_rerunning(tmp_path, branchy_cnn):
    local = open_device("local", cache=False, cache_dir=tmp_path)
    counting = CountingDevice(local)
    device = CachedDevice(counting, MeasurementCache(tmp_path / "measurements"))
    settings = MeasureSettings(repeats=2)
    config = BackendConfig(("cpu", "ruy"), op_types=(("FullyConnected", "ruy"),))
    first = device.measure(branchy_cnn, config, settings)
    again = device.measure(branchy_cnn, config, settings)
    assert first.valid and again == first and counting.calls == 1
    # A new process (a resumed run) finds it on disk too, the session's memory with it.
    fresh = CachedDevice(counting, MeasurementCache(tmp_path / "measurements"))
    from_disk = fresh.measure(branchy_cnn, config, settings)
    assert from_disk == first and counting.calls == 1
    assert first.memory is not None and from_disk.memory == first.memory
    # Other settings or another configuration are other measurements.
    fresh.measure(branchy_cnn, config, MeasureSettings(repeats=2, seed=1))
    assert counting.calls == 2
    invalid = fresh.measure(branchy_cnn, BackendConfig(("ruy",)), settings)
    assert not invalid.valid and fresh.measure(branchy_cnn, BackendConfig(("ruy",)), settings) == invalid
    assert counting.calls == 3 and fresh.hits == 2


def test_key_depends_on_everything():
    base = measurement_key("a" * 64, BackendConfig(), "local", MeasureSettings())
    assert base == measurement_key("a" * 64, BackendConfig(), "local", MeasureSettings())
    assert base != measurement_key("b" * 64, BackendConfig(), "local", MeasureSettings())
    assert base != measurement_key("a" * 64, BackendConfig(("ruy",)), "local", MeasureSettings())
    assert base != measurement_key("a" * 64, BackendConfig(), "ssh://x", MeasureSettings())
    assert base != measurement_key("a" * 64, BackendConfig(), "local", MeasureSettings(repeats=5))


def test_timeouts_are_not_kept_and_corrupt_entries_are_ignored(tmp_path):
    class Slow:
        name = "slow"

        def __init__(self):
            self.calls = 0

        def measure(self, model, config, settings):
            self.calls += 1
            return Measurement(False, "timed out after 1 s")

    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    slow = Slow()
    cache = MeasurementCache(tmp_path / "c")
    device = CachedDevice(slow, cache)
    device.measure(model, BackendConfig(), MeasureSettings())
    device.measure(model, BackendConfig(), MeasureSettings())
    assert slow.calls == 2
    key = "ab" + "0" * 62
    (tmp_path / "c" / "ab").mkdir(parents=True)
    (tmp_path / "c" / "ab" / f"{key}.json").write_text("{truncated")
    assert cache.get(key) is None


def test_answers_say_they_came_from_the_cache_and_refresh_replaces_them(tmp_path, branchy_cnn):
    counting = CountingDevice(open_device("local", cache=False, cache_dir=tmp_path))
    cache = MeasurementCache(tmp_path / "measurements")
    settings = MeasureSettings(repeats=2)
    first = CachedDevice(counting, cache).measure(branchy_cnn, BackendConfig(), settings)
    assert first.valid and not first.from_cache and first.measured_at.startswith("20")
    again = CachedDevice(counting, cache).measure(branchy_cnn, BackendConfig(), settings)
    assert again.from_cache and again.measured_at == first.measured_at and counting.calls == 1
    refreshed = CachedDevice(counting, cache, refresh=True).measure(branchy_cnn, BackendConfig(), settings)
    assert not refreshed.from_cache and counting.calls == 2
    after = CachedDevice(counting, cache).measure(branchy_cnn, BackendConfig(), settings)
    assert after.from_cache and after.times_ms == refreshed.times_ms and counting.calls == 2
    # Each round of a repeated measurement is its own fresh measurement and entry; discard forgets one.
    device = CachedDevice(counting, cache)
    device.measure(branchy_cnn, BackendConfig(), MeasureSettings(repeats=2, round=1))
    assert counting.calls == 3
    device.discard(branchy_cnn, BackendConfig(), settings)
    assert not device.measure(branchy_cnn, BackendConfig(), settings).from_cache and counting.calls == 4


def test_round_zero_keeps_the_key_it_had_before_rounds_and_layouts():
    import dataclasses
    import hashlib
    import json

    settings = MeasureSettings()
    old = {k: v for k, v in dataclasses.asdict(settings).items() if k not in ("round", "layout")}  # newer fields
    parts = {"model": "a" * 64, "config": json.loads(json.dumps(dataclasses.asdict(BackendConfig()))),
             "device": "local", "settings": old}  # fmt: skip
    assert measurement_key("a" * 64, BackendConfig(), "local", settings) == hashlib.sha256(
        json.dumps(parts, sort_keys=True).encode()
    ).hexdigest()
    assert measurement_key("a" * 64, BackendConfig(), "local", MeasureSettings(round=1)) != measurement_key(
        "a" * 64, BackendConfig(), "local", settings
    )
    assert measurement_key("a" * 64, BackendConfig(), "local", MeasureSettings(layout=1)) != measurement_key(
        "a" * 64, BackendConfig(), "local", settings
    )


def test_calibrations_are_kept_per_device_identity(tmp_path):
    from devices.cache import device_identity, load_calibration, store_calibration

    local = device_identity("local")
    assert local.startswith("local@") and device_identity("ssh://pi@board") == "ssh://pi@board"
    assert load_calibration(local, "memory", tmp_path) is None
    store_calibration(local, "memory", {"fixed_bytes": 1.0}, tmp_path)
    assert load_calibration(local, "memory", tmp_path) == {"fixed_bytes": 1.0}
    assert load_calibration("ssh://pi@board", "memory", tmp_path) is None
    path = next((tmp_path / "calibrations").iterdir())
    path.write_text("{not json")
    assert load_calibration(local, "memory", tmp_path) is None


def test_a_measurement_pinned_to_fewer_cpus_has_its_own_key_and_an_unpinned_one_keeps_the_old_key(tmp_path,
                                                                                                   branchy_cnn):  # fmt: skip
    settings = MeasureSettings(repeats=2)
    unpinned = measurement_key("a" * 64, BackendConfig(), "local", settings)
    assert measurement_key("a" * 64, BackendConfig(), "local", settings, None) == unpinned  # old entries stay
    one, other = (measurement_key("a" * 64, BackendConfig(), "local", settings, (c,)) for c in (0, 1))
    assert len({unpinned, one, other}) == 3
    allowed = os.sched_getaffinity(0)
    if allowed < machine_cpus() or len(allowed) < 2:
        pytest.skip(f"this process may use CPUs {sorted(allowed)} only: it cannot pin itself to fewer and back")
    counting = CountingDevice(open_device("local", cache=False, cache_dir=tmp_path))
    device = CachedDevice(counting, MeasurementCache(tmp_path / "measurements"))
    assert pinned_cpus() is None
    free = device.measure(branchy_cnn, BackendConfig(), settings)
    os.sched_setaffinity(0, [min(allowed)])
    try:
        assert pinned_cpus() == (min(allowed),)
        pinned = device.measure(branchy_cnn, BackendConfig(), settings)
        assert not pinned.from_cache and counting.calls == 2
        assert device.measure(branchy_cnn, BackendConfig(), settings).from_cache and counting.calls == 2
    finally:
        os.sched_setaffinity(0, allowed)
    assert device.measure(branchy_cnn, BackendConfig(), settings) == free and counting.calls == 2
