"""An on-disk cache of measurements, so nothing is measured twice and interrupted runs resume.

One JSON file per measurement under ``<cache dir>/measurements/<key[:2]>/<key>.json``, written
atomically. The key is the sha256 of the model's bytes, the configuration, the device name and the
measurement settings (the round among them), and for the local device the CPUs it may use when it is pinned
to fewer than the machine's (onert's helper threads make a pinned run slower than NUM_THREADS alone says), so
a changed model, setting or pinning never returns a stale answer.
Time-outs are not kept: they may come from a busy machine rather than the configuration. An answer from
the cache has ``from_cache`` set and keeps its ``measured_at``, so callers can say where it came from;
``refresh`` measures again and replaces the entry, and :meth:`CachedDevice.discard` drops entries a caller
judged unstable (the cache keeps single measurements and cannot judge a series of them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
from pathlib import Path

from devices.base import BackendConfig, Device, Measurement, MeasureSettings, SessionMemory, now
from devices.files import write_atomic
from devices.workerdevice import file_digest

ENV_VAR = "NNPART_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$NNPART_CACHE_DIR`` or ``~/.cache/nnpart``."""
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "nnpart")


def measurement_key(model_digest: str, config: BackendConfig, device: str, settings: MeasureSettings,
                    cpus: tuple[int, ...] | None = None) -> str:  # fmt: skip
    """The cache key: sha256 over everything a measurement depends on; ``cpus``, the CPUs a pinned measurement
    may use (None: unpinned, the key it had before pinning was keyed)."""
    # Lists, not tuples, so the key is the same after a JSON round trip of the config.
    parts = {
        "model": model_digest,
        "config": json.loads(json.dumps(dataclasses.asdict(config))),
        "device": device,
        "settings": dataclasses.asdict(settings),
    }
    for default in ("round", "layout"):  # round 0 and layout 0 keep the key they had before these existed
        if not getattr(settings, default):
            del parts["settings"][default]
    if cpus is not None:
        parts["cpus"] = sorted(cpus)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def machine_cpus() -> frozenset[int]:
    """The CPUs any process of this machine (or container) may use: those of its first process, else every CPU
    counted."""
    try:
        return frozenset(os.sched_getaffinity(1))
    except OSError:
        return frozenset(range(os.cpu_count() or 1))


def pinned_cpus() -> tuple[int, ...] | None:
    """The CPUs this process (and the measuring children it starts) is pinned to, or None when it may use every
    CPU of the machine."""
    mine = os.sched_getaffinity(0)
    return None if mine >= machine_cpus() else tuple(sorted(mine))


def device_identity(name: str) -> str:
    """Who a device is, for what is kept about it: its name (a board's spec names its host), and for the
    local device this host's name."""
    return f"{name}@{socket.gethostname()}" if name == "local" else name


def calibration_path(identity: str, kind: str, cache_dir: Path | None = None) -> Path:
    """Where a device's fitted ``kind`` terms (``memory``) are kept: ``<cache>/calibrations/``."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()) / "calibrations" / f"{kind}-{digest}.json"


def store_calibration(identity: str, kind: str, document: dict, cache_dir: Path | None = None) -> Path:
    """Keep ``document`` as the device's ``kind`` calibration (atomically, replacing an older one)."""
    path = calibration_path(identity, kind, cache_dir)
    write_atomic(path, json.dumps({"identity": identity, "kind": kind, "measured_at": now(), "terms": document}))
    return path


def load_calibration(identity: str, kind: str, cache_dir: Path | None = None) -> dict | None:
    """The device's ``kind`` calibration as stored (its ``terms``), or None (also for an unreadable file)."""
    try:
        stored = json.loads(calibration_path(identity, kind, cache_dir).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("identity") != identity or not isinstance(stored.get("terms"), dict):
        return None
    return stored["terms"]


class MeasurementCache:
    """Measurements stored by key in a directory."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or default_cache_dir() / "measurements")

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Measurement | None:
        """The stored measurement, or None (also for an unreadable entry, which is measured again)."""
        try:
            document = json.loads(self._path(key).read_text())
            memory = document.pop("memory", None)
            measurement = Measurement(**document, memory=None if memory is None else SessionMemory(**memory))
        except (OSError, ValueError, TypeError):
            return None
        measurement.from_cache = True
        return measurement

    def put(self, key: str, measurement: Measurement) -> None:
        """Store ``measurement`` (atomically: a concurrent reader sees the old file or the new one)."""
        document = dataclasses.asdict(measurement)
        del document["from_cache"]
        write_atomic(self._path(key), json.dumps(document))

    def discard(self, key: str) -> None:
        """Forget the entry ``key`` (if any)."""
        self._path(key).unlink(missing_ok=True)


class CachedDevice:
    """A device whose measurements go through a :class:`MeasurementCache`.

    ``hits`` and ``misses`` count answers from the cache and real measurements. With ``refresh`` the cache
    is never read, only written: every measurement is made again and replaces its entry.
    """

    def __init__(self, device: Device, cache: MeasurementCache, refresh: bool = False):
        self.device = device
        self.cache = cache
        self.refresh = refresh
        self.name = device.name
        self.hits = 0
        self.misses = 0

    def backends(self) -> dict[str, frozenset[str] | None]:
        return self.device.backends()

    def measure(self, model: Path, config: BackendConfig, settings: MeasureSettings) -> Measurement:
        key = self.key(model, config, settings)
        cached = None if self.refresh else self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        measurement = self.device.measure(model, config, settings)
        if not measurement.measured_at:
            measurement.measured_at = now()
        if measurement.valid or "timed out" not in measurement.reason:
            self.cache.put(key, measurement)
        return measurement

    def key(self, model: Path, config: BackendConfig, settings: MeasureSettings) -> str:
        """The measurement's key; the local device measures in children of this process, which inherit its CPUs."""
        cpus = pinned_cpus() if self.name == "local" else None
        return measurement_key(file_digest(model), config, self.name, settings, cpus)

    def discard(self, model: Path, config: BackendConfig, settings: MeasureSettings) -> None:
        """Drop the cached measurement of (model, config, settings), e.g. one that proved unstable."""
        self.cache.discard(self.key(model, config, settings))
