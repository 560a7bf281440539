"""Fitting the engine's costs from timings: a link's ``seconds = overhead + bytes / bandwidth``, a device's
occupancy ``task + bytes / pipe bandwidth`` and a request's latency ``request + stages * hop``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from solver.errors import CheckError
from solver.io.linkfile import DeviceFit, LinkFit


def fit_link(source: str, target: str, samples: Sequence[tuple[int, float]]) -> LinkFit:
    """Least squares over ``(bytes, seconds)`` samples of the line ``overhead + bytes / bandwidth``.

    Model: t(b) = o + b / B. The fit is to the median time of each size (a transfer slowed by other work on a
    shared machine moves a mean, not a median): minimise sum_b (m_b - o - b / B)^2 over o >= 0 and 1/B > 0 (an
    overhead fitted below zero is set to zero and the slope refitted through the origin). ``rms_us`` is over
    the medians. Needs two distinct sizes at least; CheckError when the times do not grow with the bytes.
    """
    what = f"link {source} -> {target}"
    overhead, slope, rms = _line(samples, what, "transfers of two sizes")
    if not slope > 0:
        raise CheckError(f"{what}: transfer times do not grow with their size; no bandwidth to fit")
    return LinkFit(source, target, overhead * 1e6, 1.0 / slope, len(samples), rms * 1e6)


# A device whose occupancy does not grow with the bytes through its session: its pipe is this fast (bytes/s).
FASTEST_PIPE = 1e15


def fit_device(name: str, occupancy: Sequence[tuple[int, float]], hops: Sequence[float],
               chains: Sequence[tuple[int, float]]) -> DeviceFit:  # fmt: skip
    """A device's per-request costs from ``devices.placed.probe_device``'s timings (seconds).

    Model: the occupancy of a stage task reading and writing b bytes (through its session, both ways) is
    ``task + b / pipe_bandwidth``, fitted as :func:`fit_link` fits a link (least squares over the median of each
    size, an intercept below zero set to zero; a slope of zero or below, a pipe that costs nothing measurable,
    is a pipe of ``FASTEST_PIPE``); ``rms_us`` is that fit's. A request through k stages waits
    ``request + k * hop``: ``hop`` is the median of the hand-offs timed on the worker, ``request`` the median
    over the chains of their latency less their hand-offs (at least zero). CheckError without two sizes, a
    hand-off or a chain.
    """
    what = f"device {name}"
    task, per_byte, rms = _line(occupancy, what, "tasks of two sizes")
    if not hops or not chains:
        raise CheckError(f"{what}: fitting needs timed hand-offs and chains")
    hop = float(np.median(hops))
    request = max(float(np.median([seconds - length * hop for length, seconds in chains])), 0.0)
    pipe = 1.0 / per_byte if per_byte > 1.0 / FASTEST_PIPE else FASTEST_PIPE
    return DeviceFit(name, task * 1e6, pipe, hop * 1e6, request * 1e6, len(occupancy) + len(hops) + len(chains),
                     rms * 1e6)  # fmt: skip


def _line(samples: Sequence[tuple[int, float]], what: str, needs: str) -> tuple[float, float, float]:
    """``(intercept, slope, rms)`` of the line through the median ``y`` of each ``x`` (module docstring)."""
    by_x: dict[int, list[float]] = {}
    for x_value, seconds in samples:
        by_x.setdefault(int(x_value), []).append(float(seconds))
    x = np.array(sorted(by_x), dtype=float)
    y = np.array([float(np.median(by_x[int(b)])) for b in x])
    if len(x) < 2:
        raise CheckError(f"{what}: fitting needs {needs} at least")
    slope, intercept = np.polyfit(x, y, 1)
    if intercept < 0:
        slope, intercept = float(x @ y / (x @ x)), 0.0
    if not math.isfinite(slope) or not math.isfinite(intercept):
        raise CheckError(f"{what}: the timings are not finite; nothing to fit")
    residuals = y - (intercept + slope * x)
    return float(intercept), float(slope), float(np.sqrt(np.mean(residuals**2)))
