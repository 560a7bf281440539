"""The platform file: devices of different speed, memory and op support, and the links between them.

See docs/platform-format.md. The reader checks every field and returns plain data; turning a model and a
platform into op times per device is the placement room's job (``solver.placement.problem``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solver.errors import PlatformError
from solver.io.files import read_json

# Seed 002's network: bandwidth in Mbit/s falls with distance d as log2(1 + 283230 / d^2) (6.5 Mbit/s on
# average over positions uniform in [1, 150]^2); no latency.
SEED002_LAW = "seed002"
_SEED002_SNR = 283230.0

# What the numbers may be. Beyond these no platform is real, and op and transfer times (microseconds, integers
# in CP-SAT) would leave 64 bits: a speed of 1e-300 or a bandwidth of 1e-300 bytes/s made them overflow.
SPEED_RANGE = (1e-6, 1e6)  # times the trace's speed
BANDWIDTH_RANGE = (1.0, 1e15)  # bytes/s: from a byte a second to a petabyte a second
LATENCY_RANGE = (0.0, 3.6e9)  # microseconds: up to an hour
MAX_POS = 1e4  # seed 002's positions lie in [1, 150]; 1e4 still gives the law's bandwidth above 1 byte/s


@dataclass(frozen=True)
class DeviceSpec:
    """One device: its speed relative to the trace's, memory in bytes (None: unlimited), op types it runs."""

    name: str
    speed: float = 1.0
    memory: int | None = None
    supports: frozenset[str] | None = None  # TFLite op type names; None: every op
    trace: Path | None = None  # per-op times measured on this device (relative paths resolved)
    pos: tuple[float, float] | None = None


@dataclass(frozen=True)
class Link:
    """A directed link: ``latency_us + bytes / bandwidth`` (bytes/s) microseconds per tensor sent.

    A measured link (``solver.io.linkfile``) may also know a message sent alone on it, the link idle before it
    (``idle_us``; None: as a loaded one): it takes ``idle_us`` and its bytes beyond the first ``burst_bytes``
    pay the bandwidth (tbf's bucket, the first TCP window: an idle link's first bytes pass at once). A request
    alone in the pipeline (its latency) meets idle links; a saturated link pays every byte (its throughput)."""

    bandwidth: float
    latency_us: float = 0.0
    idle_us: float | None = None
    burst_bytes: float = 0.0

    def transfer_us(self, nbytes: int) -> int:
        """Microseconds to send ``nbytes`` over this link, rounded up (CP-SAT works in integers)."""
        return math.ceil(self.latency_us + nbytes * 1e6 / self.bandwidth) if nbytes or self.latency_us else 0

    def idle_transfer_us(self, nbytes: int) -> int:
        """Microseconds to send ``nbytes`` as a message alone on this link, idle before it, rounded up."""
        if self.idle_us is None:
            return self.transfer_us(nbytes)
        return (math.ceil(self.idle_us + max(nbytes - self.burst_bytes, 0.0) * 1e6 / self.bandwidth)
                if nbytes or self.idle_us else 0)


@dataclass(frozen=True)
class Platform:
    """Devices and the links between them; ``link(a, b)`` is None when a and b cannot exchange tensors."""

    source: Path
    devices: tuple[DeviceSpec, ...]
    links: dict[tuple[str, str], Link]
    default_link: Link | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.devices)

    def link(self, a: str, b: str) -> Link | None:
        if a == b:
            return None
        return self.links.get((a, b), self.default_link)


def read_platform(path: str | Path) -> Platform:
    """Read and check a platform file (docs/platform-format.md).

    Raises
    ------
    PlatformError
        Not JSON, a missing or mistyped field, a non-finite or non-positive speed or bandwidth, a negative
        memory or latency, a duplicate device, a link to an unknown device, or positions without the law.
    """
    path = Path(path)
    doc = read_json(path, "platform", PlatformError, dict)
    entries = doc.get("devices")
    if not isinstance(entries, list) or not entries:
        raise PlatformError(f"{path}: expected a non-empty 'devices' list")
    devices = tuple(_device(path, i, entry) for i, entry in enumerate(entries))
    names = [d.name for d in devices]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise PlatformError(f"{path}: device {duplicate!r} is listed twice")
    law = doc.get("bandwidth_law")
    if law is not None:
        if law != SEED002_LAW:
            raise PlatformError(f"{path}: unknown bandwidth_law {law!r}; the one known is {SEED002_LAW!r}")
        return Platform(path, devices, _seed002_links(path, devices), None)
    links = {}
    for i, entry in enumerate(_list(path, doc, "links")):
        where = f"{path}: links[{i}]"
        if not isinstance(entry, dict):
            raise PlatformError(f"{where}: expected an object")
        ends = tuple(entry.get(k) for k in ("from", "to"))
        for end in ends:
            if end not in names:
                raise PlatformError(f"{where}: unknown device {end!r} (devices: {', '.join(names)})")
        if ends[0] == ends[1]:
            raise PlatformError(f"{where}: a link joins two different devices")
        links[ends] = _link(where, entry)
    default = doc.get("default_link")
    if default is not None and not isinstance(default, dict):
        raise PlatformError(f"{path}: 'default_link' must be an object or null")
    return Platform(path, devices, links, _link(f"{path}: default_link", default) if default is not None else None)


def seed002_bandwidth(distance: float) -> float:
    """Seed 002's bandwidth law in bytes/s: ``log2(1 + 283230 / d^2)`` Mbit/s."""
    return math.log2(1 + _SEED002_SNR / max(distance, 1e-9) ** 2) * 1e6 / 8


def _seed002_links(path: Path, devices: tuple[DeviceSpec, ...]) -> dict[tuple[str, str], Link]:
    missing = [d.name for d in devices if d.pos is None]
    if missing:
        raise PlatformError(f"{path}: bandwidth_law {SEED002_LAW!r} needs 'pos' on every device; missing on {missing[0]!r}")
    return {
        (a.name, b.name): Link(seed002_bandwidth(math.dist(a.pos, b.pos)))
        for a in devices
        for b in devices
        if a.name != b.name
    }


def _device(path: Path, i: int, entry: Any) -> DeviceSpec:
    where = f"{path}: devices[{i}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise PlatformError(f"{where}: expected an object with a non-empty 'name'")
    speed = _number(where, entry, "speed", 1.0, SPEED_RANGE)
    memory = entry.get("memory")
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or not 0 <= memory < 2**63):
        raise PlatformError(f"{where}: 'memory' must be a byte count >= 0 (below 2^63) or null, not {memory!r}")
    supports = entry.get("supports")
    if supports is not None:
        if not isinstance(supports, list) or not supports or not all(isinstance(s, str) and s for s in supports):
            raise PlatformError(f"{where}: 'supports' must be a non-empty list of op type names (or null: every op)")
        supports = frozenset(supports)
    trace = entry.get("trace")
    if trace is not None:
        if not isinstance(trace, str) or not trace or "\0" in trace:
            raise PlatformError(f"{where}: 'trace' must be a file name")
        trace = (path.parent / trace).resolve()
    pos = entry.get("pos")
    if pos is not None:
        if not isinstance(pos, list) or len(pos) != 2 or not all(_finite(x) and abs(x) <= MAX_POS for x in pos):
            raise PlatformError(f"{where}: 'pos' must be [x, y], numbers within +-{MAX_POS:g}")
        pos = (float(pos[0]), float(pos[1]))
    return DeviceSpec(entry["name"], speed, memory, supports, trace, pos)


def _link(where: str, entry: dict) -> Link:
    return Link(_number(where, entry, "bandwidth", None, BANDWIDTH_RANGE),
                _number(where, entry, "latency_us", 0.0, LATENCY_RANGE))  # fmt: skip


def _number(where: str, entry: dict, key: str, default: float | None, bounds: tuple[float, float]) -> float:
    """A finite number within ``bounds`` (inclusive)."""
    value = entry.get(key, default)
    if value is None:
        raise PlatformError(f"{where}: '{key}' is required")
    if not _finite(value):
        raise PlatformError(f"{where}: '{key}' must be a finite number, not {value!r}")
    low, high = bounds
    if low > 0 >= value:
        raise PlatformError(f"{where}: '{key}' must be positive, not {float(value)}")
    if not low <= value <= high:
        raise PlatformError(f"{where}: '{key}' must be between {low:g} and {high:g}, not {value!r}")
    return float(value)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _list(path: Path, doc: dict, key: str) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise PlatformError(f"{path}: '{key}' must be a list")
    return value
