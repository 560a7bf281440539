"""The measured link model of a platform: per directed link, a per-message overhead and a bandwidth.

A hand-off over link (a, b) costs ``overhead_us + bytes / bandwidth``, fitted from a ping-pong of tensor sizes
through the engine that runs placements (``solve pipeline --platform P --calibrate-links``; the fit is
``solver.deploy.linkfit``). The file sits next to the platform (``P.links.json`` by default):

    {"schema": "nnpart.links/1", "platform": "P.json",
     "links": [{"from": "a", "to": "b", "overhead_us": 850.0, "bandwidth": 812000.0, "samples": 15, "rms_us": 40.0}]}

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

SCHEMA = "nnpart.links/1"


@dataclass(frozen=True)
class LinkFit:
    """One directed link's fitted cost: ``overhead_us + bytes * 1e6 / bandwidth`` microseconds per message."""

    source: str
    target: str
    overhead_us: float
    bandwidth: float  # bytes/s
    samples: int
    rms_us: float  # root mean square of the fit's residuals

    def to_json(self) -> dict:
        return {"from": self.source, "to": self.target, "overhead_us": self.overhead_us, "bandwidth": self.bandwidth,
                "samples": self.samples, "rms_us": self.rms_us}  # fmt: skip


def default_path(platform: str | Path) -> Path:
    """Where a platform's measured links live: ``P.links.json`` beside ``P.json``."""
    platform = Path(platform)
    return platform.with_name(f"{platform.name.removesuffix('.json')}.links.json")


def write_links(path: str | Path, platform: Platform, fits: list[LinkFit]) -> Path:
    return write_json(path, {"schema": SCHEMA, "platform": platform.source.name, "links": [f.to_json() for f in fits]},
                      indent=2)  # fmt: skip


def read_links(path: str | Path) -> list[LinkFit]:
    """The fits in ``path``; PlatformError naming the file and the entry when it is not a links file."""
    path = Path(path)
    doc = read_json(path, "measured links", PlatformError, dict)
    if doc.get("schema") != SCHEMA:
        raise PlatformError(f"{path}: not a measured links file (schema {SCHEMA!r} expected)")
    entries = doc.get("links")
    if not isinstance(entries, list):
        raise PlatformError(f"{path}: expected a 'links' list")
    fits = []
    for i, entry in enumerate(entries):
        where = f"{path}: links[{i}]"
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("from", "to")):
            raise PlatformError(f"{where}: expected an object with 'from' and 'to' device names")
        numbers = {}
        for key, (low, high) in (("overhead_us", LATENCY_RANGE), ("bandwidth", BANDWIDTH_RANGE)):
            value = entry.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not low <= value <= high or (key == "bandwidth" and value <= 0):  # fmt: skip
                raise PlatformError(f"{where}: '{key}' must be a number in [{low:g}, {high:g}]")
            numbers[key] = float(value)
        samples, rms = entry.get("samples", 0), entry.get("rms_us", 0.0)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise PlatformError(f"{where}: 'samples' must be a count")
        if isinstance(rms, bool) or not isinstance(rms, (int, float)) or not math.isfinite(rms) or rms < 0:
            raise PlatformError(f"{where}: 'rms_us' must be a number >= 0")
        fits.append(LinkFit(entry["from"], entry["to"], numbers["overhead_us"], numbers["bandwidth"], samples,
                            float(rms)))  # fmt: skip
    return fits


def calibrated(platform: Platform, fits: list[LinkFit], source: str | Path = "the measured links") -> Platform:
    """``platform`` with the fitted links in place of its own; PlatformError for a link between unknown devices."""
    names = set(platform.names)
    links = dict(platform.links)
    for fit in fits:
        if fit.source not in names or fit.target not in names:
            raise PlatformError(f"{source}: link {fit.source} -> {fit.target} joins devices {platform.source} does not have")
        links[fit.source, fit.target] = Link(fit.bandwidth, fit.overhead_us)
    return dataclasses.replace(platform, links=links)


def read_platform_with_links(platform: str | Path, links: str | Path | None) -> Platform:
    """The platform file, its links replaced by the measured ones in ``links`` when given (``--calibrated-links``)."""
    read = read_platform(platform)
    return calibrated(read, read_links(links), links) if links else read
