"""The measured engine model of a platform: per directed link an overhead and a bandwidth, per device what a
stage costs it beyond its compute.

A hand-off over link (a, b) costs ``overhead_us + bytes / bandwidth``, fitted from a ping-pong of tensor sizes
through the engine that runs placements (``solve pipeline --platform P --calibrate-links``; the fits are
``solver.deploy.linkfit``); a message alone on the link, idle before it (a request's latency), costs ``idle_us +
max(bytes - burst_bytes, 0) / bandwidth`` (optional; absent in older files: as on a loaded link). A stage on device
d occupies it, per request, ``task_us + bytes / pipe_bandwidth`` beyond its compute (``bytes``: its inputs and
outputs, which go through its session's pipe), and a request waits ``hop_us`` per stage it passes and
``request_us`` once (``devices.placed.probe_device``). Schema 3 adds per device ``cpu`` (:class:`CoreCost`: the CPU
the engine takes from its core per task, session MB, message and MB sent and received, and its worker's background
per second; optionally ``receive_us_per_s``, per second the received bytes spend on their link, absent in older
files: 0) and ``host`` (:class:`HostFit`: the scheduler's and client's CPU). The file sits next to the platform
(``P.links.json`` by default):

    {"schema": "nnpart.links/3", "platform": "P.json",
     "links": [{"from": "a", "to": "b", "overhead_us": 850.0, "bandwidth": 812000.0, "idle_us": 2100.0,
                "burst_bytes": 5200.0, "samples": 15, "rms_us": 40.0}],
     "devices": [{"name": "a", "task_us": 1100.0, "pipe_bandwidth": 9.0e8, "hop_us": 2300.0, "request_us": 1500.0,
                  "samples": 80, "rms_us": 60.0,
                  "cpu": {"task_us": 2300.0, "pipe_us_per_mb": 300.0, "send_us": 900.0, "send_us_per_mb": 500.0,
                          "receive_us": 1200.0, "receive_us_per_mb": 600.0, "receive_us_per_s": 30000.0,
                          "idle_us_per_s": 17000.0}}],
     "host": {"request_us": 1000.0, "task_us": 3400.0, "idle_us_per_s": 14000.0}}

Files of schema ``nnpart.links/2`` (no CPU) and ``nnpart.links/1`` (links only) are still read. An optional
``parts`` list (read in any schema; absent in older files) holds each part's compute timed where the run
computes it (:class:`PartCompute`: the part file's name and sha256, the device, CPU and wall per inference with
every part inferring at once, ``busy``, and one at a time, ``alone``; median and IQR in us, and the runs):

     "parts": [{"part": "part_0_a.tflite", "sha256": "9f2c...", "device": "a",
                "busy": {"cpu_us": 25400.0, "cpu_iqr_us": 300.0, "wall_us": 25600.0, "wall_iqr_us": 350.0, "runs": 10},
                "alone": {...}}]

``calibrated(platform, fits)`` is the platform with those links replaced (the overhead as ``latency_us``, so
every reader of platforms, ``solve place --calibrated-links`` among them, uses it unchanged); links not in
the file keep the platform's figures.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from solver.errors import PlatformError
from solver.io.files import read_json, write_json
from solver.io.platform import BANDWIDTH_RANGE, LATENCY_RANGE, Link, Platform, read_platform

SCHEMA = "nnpart.links/3"
SCHEMAS = ("nnpart.links/1", "nnpart.links/2", SCHEMA)  # what is read
BYTES_RANGE = (0.0, 1e15)  # a link's burst


@dataclass(frozen=True)
class LinkFit:
    """One directed link's fitted cost: ``overhead_us + bytes * 1e6 / bandwidth`` microseconds per message on a
    loaded link; a message alone on it, the link idle before it, ``idle_us + max(bytes - burst_bytes, 0) * 1e6 /
    bandwidth`` (``solver.io.platform.Link``; ``idle_us`` None: not measured, as a loaded link)."""

    source: str
    target: str
    overhead_us: float
    bandwidth: float  # bytes/s
    samples: int
    rms_us: float  # root mean square of the fit's residuals
    idle_us: float | None = None
    burst_bytes: float = 0.0

    def to_json(self) -> dict:
        idle = {} if self.idle_us is None else {"idle_us": self.idle_us, "burst_bytes": self.burst_bytes}
        return {"from": self.source, "to": self.target, "overhead_us": self.overhead_us, "bandwidth": self.bandwidth,
                **idle, "samples": self.samples, "rms_us": self.rms_us}  # fmt: skip


@dataclass(frozen=True)
class CoreCost:
    """The CPU time the engine takes from a device's core per request beyond the part's compute (us): per stage
    task it runs, per MB (1e6 bytes) through its sessions (both ways), per message and per MB it sends to other
    devices and receives from them (serialisation, the comms, the kernel's network stack), and per second the
    bytes it receives spend on their link (``receive_us_per_s``: a slow link trickles them in, and the event loop
    wakes per trickle; 34-54 ms/MB measured on a 6.5 Mbit/s link against 0.7 ms/MB on 1 Gbit/s)."""

    task_us: float
    pipe_us_per_mb: float
    send_us: float
    send_us_per_mb: float
    receive_us: float
    receive_us_per_mb: float
    idle_us_per_s: float = 0.0  # the worker's CPU per second its event loop is free (heartbeats, monitors)
    samples: int = 0
    rms_us: float = 0.0  # root mean square of the fit's residuals
    receive_us_per_s: float = 0.0

    def busy_us(self, tasks: float, pipe_bytes: float, sends: float = 0.0, sent: float = 0.0, receives: float = 0.0,
                received: float = 0.0, received_s: float = 0.0) -> float:  # fmt: skip
        """The core's CPU time for a request that runs ``tasks`` stage tasks there, puts ``pipe_bytes`` through their
        sessions, sends ``sends`` messages of ``sent`` bytes in all and receives ``receives`` of ``received``, which
        spend ``received_s`` seconds on their links (bytes / bandwidth)."""
        return (tasks * self.task_us + pipe_bytes * 1e-6 * self.pipe_us_per_mb + sends * self.send_us
                + sent * 1e-6 * self.send_us_per_mb + receives * self.receive_us
                + received * 1e-6 * self.receive_us_per_mb + received_s * self.receive_us_per_s)  # fmt: skip

    def to_json(self) -> dict:
        return {key: getattr(self, key) for key in _CORE_KEYS + ("receive_us_per_s", "samples", "rms_us")}


_CORE_KEYS = ("task_us", "pipe_us_per_mb", "send_us", "send_us_per_mb", "receive_us", "receive_us_per_mb",
              "idle_us_per_s")


@dataclass(frozen=True)
class DeviceFit:
    """One device's fitted per-request cost of a stage beyond its compute (see the module docstring)."""

    name: str
    task_us: float  # occupancy per stage task, a request dealt to the device
    pipe_bandwidth: float  # bytes/s of a stage's inputs and outputs through its session
    hop_us: float  # latency per stage: the scheduler hears the task before finished and sends this one
    request_us: float  # latency once per request: its submission and the completion notice at the client
    samples: int
    rms_us: float  # root mean square of the occupancy fit's residuals
    cpu: CoreCost | None = None  # the CPU the engine takes from the device's core (schema 3)

    def busy_us(self, nbytes: float) -> float:
        """The device's occupancy by one stage task reading and writing ``nbytes`` (beyond its compute)."""
        return self.task_us + nbytes * 1e6 / self.pipe_bandwidth

    def to_json(self) -> dict:
        return {"name": self.name, "task_us": self.task_us, "pipe_bandwidth": self.pipe_bandwidth,
                "hop_us": self.hop_us, "request_us": self.request_us, "samples": self.samples,
                "rms_us": self.rms_us, **({"cpu": self.cpu.to_json()} if self.cpu else {})}  # fmt: skip


@dataclass(frozen=True)
class HostFit:
    """The CPU time the Dask scheduler and the client take per request (us): ``request_us`` once and ``task_us``
    per task of the request, and ``idle_us_per_s`` per second of wall time, busy or not. They are not pinned, so
    on the machine of the devices they take it from any core."""

    request_us: float
    task_us: float
    idle_us_per_s: float = 0.0
    samples: int = 0
    rms_us: float = 0.0

    def busy_us(self, tasks: float) -> float:
        return self.request_us + tasks * self.task_us

    def to_json(self) -> dict:
        return {"request_us": self.request_us, "task_us": self.task_us, "idle_us_per_s": self.idle_us_per_s,
                "samples": self.samples, "rms_us": self.rms_us}  # fmt: skip


@dataclass(frozen=True)
class ComputeTiming:
    """A part's timed inferences in its session: the median and IQR of their CPU time and of their wall time (us),
    and the median of the machine probe timed right after each on the same core (``devices.placed.machine_ms``;
    None: not probed, as in older files)."""

    cpu_us: float
    cpu_iqr_us: float
    wall_us: float
    wall_iqr_us: float
    runs: int
    machine_ms: float | None = None

    def to_json(self) -> dict:
        return {key: getattr(self, key) for key in _TIMING_KEYS + ("runs",)} | (
            {"machine_ms": self.machine_ms} if self.machine_ms is not None else {})


_TIMING_KEYS = ("cpu_us", "cpu_iqr_us", "wall_us", "wall_iqr_us")


@dataclass(frozen=True)
class PartCompute:
    """One part's compute measured on one device where a run computes it (``devices.placed.time_parts``): ``busy``
    with every part inferring at once, ``alone`` one at a time (None: not timed alone). It belongs to the part
    file of that name and content (``sha256``): another split's part of the same name is not this one."""

    part: str  # the part model's file name
    sha256: str
    device: str
    busy: ComputeTiming
    alone: ComputeTiming | None = None

    def to_json(self) -> dict:
        return {"part": self.part, "sha256": self.sha256, "device": self.device, "busy": self.busy.to_json(),
                **({"alone": self.alone.to_json()} if self.alone else {})}  # fmt: skip


@dataclass(frozen=True)
class Calibration:
    """A platform's measured links and devices (a links file), and the parts of the split it was measured with."""

    links: list[LinkFit]
    devices: list[DeviceFit]
    host: HostFit | None = None  # the scheduler's and the client's CPU (schema 3)
    parts: tuple[PartCompute, ...] = ()  # each part's compute in the run's sessions (an optional 'parts' list)


def default_path(platform: str | Path) -> Path:
    """Where a platform's measured links live: ``P.links.json`` beside ``P.json``."""
    platform = Path(platform)
    return platform.with_name(f"{platform.name.removesuffix('.json')}.links.json")


def write_links(path: str | Path, platform: Platform, fits: list[LinkFit], devices: list[DeviceFit] = (),
                host: HostFit | None = None, parts: tuple[PartCompute, ...] = ()) -> Path:  # fmt: skip
    return write_json(path, {"schema": SCHEMA, "platform": platform.source.name, "links": [f.to_json() for f in fits],
                             "devices": [d.to_json() for d in devices],
                             **({"host": host.to_json()} if host else {}),
                             **({"parts": [p.to_json() for p in parts]} if parts else {})}, indent=2)  # fmt: skip


def read_links(path: str | Path) -> list[LinkFit]:
    """The link fits in ``path``; PlatformError naming the file and the entry when it is not a links file."""
    return read_calibration(path).links


def read_calibration(path: str | Path) -> Calibration:
    """The link and device fits in ``path`` (schema 1: links only); PlatformError naming the file and the entry
    when it is not a links file."""
    path = Path(path)
    doc = read_json(path, "measured links", PlatformError, dict)
    if doc.get("schema") not in SCHEMAS:
        raise PlatformError(f"{path}: not a measured links file (schema {' or '.join(map(repr, SCHEMAS))} expected)")
    entries = doc.get("links")
    if not isinstance(entries, list):
        raise PlatformError(f"{path}: expected a 'links' list")
    fits = []
    for i, entry in enumerate(entries):
        where = f"{path}: links[{i}]"
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("from", "to")):
            raise PlatformError(f"{where}: expected an object with 'from' and 'to' device names")
        numbers = {key: _number(entry, key, low, high, where)
                   for key, (low, high) in (("overhead_us", LATENCY_RANGE), ("bandwidth", BANDWIDTH_RANGE))}  # fmt: skip
        samples, rms = _quality(entry, where)
        idle = {}
        if "idle_us" in entry or "burst_bytes" in entry:  # both or neither (older files): then as on a loaded link
            idle = {key: _number(entry, key, low, high, where)
                    for key, (low, high) in (("idle_us", LATENCY_RANGE), ("burst_bytes", BYTES_RANGE))}  # fmt: skip
        fits.append(LinkFit(entry["from"], entry["to"], numbers["overhead_us"], numbers["bandwidth"], samples, rms,
                            **idle))  # fmt: skip
    host = doc.get("host")
    if host is not None:
        host = HostFit(**_numbers(host, ("request_us", "task_us", "idle_us_per_s"), f"{path}: host"),
                       **_quality_of(host, f"{path}: host"))  # fmt: skip
    return Calibration(fits, _read_devices(path, doc.get("devices", [])), host, _read_parts(path, doc.get("parts", [])))


def _read_parts(path: Path, entries) -> tuple[PartCompute, ...]:
    if not isinstance(entries, list):
        raise PlatformError(f"{path}: expected a 'parts' list")
    parts = []
    for i, entry in enumerate(entries):
        where = f"{path}: parts[{i}]"
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("part", "sha256", "device")):
            raise PlatformError(f"{where}: expected an object with the 'part' file, its 'sha256' and the 'device'")
        timings = [_timing(entry[mode], f"{where}: {mode}") if entry.get(mode) is not None else None
                   for mode in ("busy", "alone")]  # fmt: skip
        if timings[0] is None:
            raise PlatformError(f"{where}: expected its 'busy' timing")
        parts.append(PartCompute(entry["part"], entry["sha256"], entry["device"], *timings))
    return tuple(parts)


def _timing(entry, where: str) -> ComputeTiming:
    runs = entry.get("runs") if isinstance(entry, dict) else None
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise PlatformError(f"{where}: 'runs' must be a count of at least 1")
    machine = _numbers(entry, ("machine_ms",), where) if "machine_ms" in entry else {}
    return ComputeTiming(**_numbers(entry, _TIMING_KEYS, where), runs=runs, **machine)


def _read_devices(path: Path, entries) -> list[DeviceFit]:
    if not isinstance(entries, list):
        raise PlatformError(f"{path}: expected a 'devices' list")
    fits = []
    for i, entry in enumerate(entries):
        where = f"{path}: devices[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise PlatformError(f"{where}: expected an object with the device's 'name'")
        numbers = {}
        for key, (low, high) in (("task_us", LATENCY_RANGE), ("pipe_bandwidth", BANDWIDTH_RANGE),
                                 ("hop_us", LATENCY_RANGE), ("request_us", LATENCY_RANGE)):  # fmt: skip
            numbers[key] = _number(entry, key, low, high, where)
        cpu = entry.get("cpu")
        if cpu is not None:
            slow = _numbers(cpu, ("receive_us_per_s",), f"{where}: cpu") if "receive_us_per_s" in cpu else {}
            cpu = CoreCost(**_numbers(cpu, _CORE_KEYS, f"{where}: cpu"), **_quality_of(cpu, f"{where}: cpu"), **slow)
        fits.append(DeviceFit(entry["name"], **numbers, **_quality_of(entry, where), cpu=cpu))
    return fits


def _numbers(entry, keys: tuple[str, ...], where: str) -> dict[str, float]:
    """``keys`` of an object of CPU times, each in ``LATENCY_RANGE``."""
    if not isinstance(entry, dict):
        raise PlatformError(f"{where}: expected an object")
    return {key: _number(entry, key, *LATENCY_RANGE, where) for key in keys}


def _quality_of(entry: dict, where: str) -> dict:
    return dict(zip(("samples", "rms_us"), _quality(entry, where)))


def _number(entry: dict, key: str, low: float, high: float, where: str) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:  # fmt: skip
        raise PlatformError(f"{where}: '{key}' must be a number in [{low:g}, {high:g}]")
    return float(value)


def _quality(entry: dict, where: str) -> tuple[int, float]:
    """An entry's ``samples`` and ``rms_us`` (0 when absent)."""
    samples, rms = entry.get("samples", 0), entry.get("rms_us", 0.0)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise PlatformError(f"{where}: 'samples' must be a count")
    if isinstance(rms, bool) or not isinstance(rms, (int, float)) or not math.isfinite(rms) or rms < 0:
        raise PlatformError(f"{where}: 'rms_us' must be a number >= 0")
    return samples, float(rms)


def calibrated(platform: Platform, fits: list[LinkFit], source: str | Path = "the measured links") -> Platform:
    """``platform`` with the fitted links in place of its own; PlatformError for a link between unknown devices."""
    names = set(platform.names)
    links = dict(platform.links)
    for fit in fits:
        if fit.source not in names or fit.target not in names:
            raise PlatformError(f"{source}: link {fit.source} -> {fit.target} joins devices {platform.source} does not have")
        links[fit.source, fit.target] = Link(fit.bandwidth, fit.overhead_us, fit.idle_us, fit.burst_bytes)
    return dataclasses.replace(platform, links=links)


def device_fits(platform: Platform, calibration: Calibration | None,
                source: str | Path = "the measured links") -> dict[str, DeviceFit]:  # fmt: skip
    """The measured devices of ``calibration`` by name (none without one); PlatformError for a device the
    platform does not have."""
    fits = {} if calibration is None else {d.name: d for d in calibration.devices}
    unknown = sorted(set(fits) - set(platform.names))
    if unknown:
        raise PlatformError(f"{source}: measured device(s) {', '.join(unknown)} that {platform.source} does not have")
    return fits


def read_platform_with_links(platform: str | Path, links: str | Path | None) -> Platform:
    """The platform file, its links replaced by the measured ones in ``links`` when given (``--calibrated-links``)."""
    read = read_platform(platform)
    return calibrated(read, read_links(links), links) if links else read
