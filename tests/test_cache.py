"""The measurement cache: the second measurement of the same thing never runs onert."""

from __future__ import annotations

from devices import open_device
from devices.base import BackendConfig, Measurement, MeasureSettings
from devices.cache import CachedDevice, MeasurementCache, measurement_key


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
    # A new process (a resumed run) finds it on disk too.
    fresh = CachedDevice(counting, MeasurementCache(tmp_path / "measurements"))
    assert fresh.measure(branchy_cnn, config, settings) == first and counting.calls == 1
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
