"""Fitting the engine's costs from timings: a link's ``seconds = overhead + bytes / bandwidth`` on a loaded link
and ``idle + bytes beyond its burst / bandwidth`` alone on an idle one (:func:`fit_link`), a device's occupancy
``task + bytes / pipe bandwidth``, a request's latency ``request + stages * hop``, the CPU a device's core spends
per task, byte and message (:func:`fit_core`), and the scheduler's and client's (:func:`fit_host`). Lines are
least squares through the median of each size: a sample slowed by other work on a shared machine moves a mean,
not a median."""

from __future__ import annotations

import math
import itertools
from collections.abc import Sequence

import numpy as np

from solver.errors import CheckError
from solver.io.linkfile import CoreCost, DeviceFit, HostFit, LinkFit


def fit_link(source: str, target: str, samples: Sequence[tuple[int, float]]) -> LinkFit:
    """From ``(bytes, seconds)`` samples of transfers, each on an idle link (a ping-pong): the cost of a message on
    a loaded link, ``overhead + bytes / bandwidth``, and alone on the link, idle before it.

    Model: t(b) = i + max(b - beta, 0) / B on an idle link: the first beta bytes pass at once (tbf's bucket, TCP's
    first window), the rest at the link's rate B, and every message pays ``i``. A pipeline's saturated link pays
    every byte: o + b / B with o = i - beta / B, the intercept of the idle line's rising part, set to zero when
    below (a negative intercept is the idle link's credit, no saturated link's). A request alone in the
    pipeline (its latency) meets idle links: ``idle_us`` = i, ``burst_bytes`` = beta.

    Fit, to the median time of each size (a transfer slowed by other work on a shared machine moves a mean, not
    a median): ``i`` is the smallest size's (1 kB: within any burst); the line o + b / B is least squares over
    the larger sizes (over all of them when there are only two), so beta = (i - o) * B, at least 0 (o before
    its clipping), and at most the line's smallest size (a slow smallest transfer must not make a message alone
    cost more than the transfers measured). The smallest size is not on that line: through it as well, the
    slope read 1.1-1.7% fast on the lab's 6.5 Mbit/s links (787-790 against 776-779 kB/s on the same transfers;
    the link-bound rows came in at +1.9..+2.9%), and through the origin, as this fit once did, 4-5% fast; and
    with the overhead clipped a message alone paid its burst (MobileNetV2's 31 kB on 6.5 Mbit/s: predicted 39.9
    ms, measured 35.2 ms). ``rms_us`` is over the medians of the line's sizes. Needs two distinct sizes at
    least; CheckError when the times do not grow with the bytes.
    """
    what = f"link {source} -> {target}"
    medians = _medians(samples)
    line = medians[1:] if len(medians) > 2 else medians
    intercept, slope, rms = _line(line, what, "transfers of two sizes", clip=False)
    if not slope > 0:
        raise CheckError(f"{what}: transfer times do not grow with their size; no bandwidth to fit")
    idle = medians[0][1]
    burst = min(max(idle - intercept, 0.0) / slope, line[0][0])
    return LinkFit(source, target, max(intercept, 0.0) * 1e6, 1.0 / slope, len(samples), rms * 1e6, idle * 1e6, burst)


# A device whose occupancy does not grow with the bytes through its session: its pipe is this fast (bytes/s).
FASTEST_PIPE = 1e15


def fit_device(name: str, occupancy: Sequence[tuple[int, float]], hops: Sequence[float],
               chains: Sequence[tuple[int, float]], cpu: Sequence = (), idle: float = 0.0,
               received_s: Sequence[float] | None = None) -> DeviceFit:  # fmt: skip
    """A device's per-request costs from ``devices.placed.probe_device``'s timings (seconds).

    Model: the occupancy of a stage task reading and writing b bytes (through its session, both ways) is
    ``task + b / pipe_bandwidth``, least squares over the median of each size (an intercept below zero set to zero
    and the slope fitted again through the origin; a slope of zero or below, a pipe that costs nothing
    measurable, is a pipe of ``FASTEST_PIPE``); ``rms_us`` is that fit's. A request through k stages waits
    ``request + k * hop``: ``hop`` is the median of the hand-offs timed on the worker, ``request`` the median
    over the chains of their latency less their hand-offs (at least zero). CheckError without two sizes, a
    hand-off or a chain. ``cpu`` (``devices.placed.CpuSample``, the probes' CPU per request) and ``idle`` (the
    worker's CPU per second with nothing to run), ``received_s`` (per ``cpu`` sample, its received bytes' seconds on
    their link): the core's CPU cost (:func:`fit_core`).
    """
    what = f"device {name}"
    task, per_byte, rms = _line(_medians(occupancy), what, "tasks of two sizes")
    if not hops or not chains:
        raise CheckError(f"{what}: fitting needs timed hand-offs and chains")
    hop = float(np.median(hops))
    request = max(float(np.median([seconds - length * hop for length, seconds in chains])), 0.0)
    pipe = 1.0 / per_byte if per_byte > 1.0 / FASTEST_PIPE else FASTEST_PIPE
    return DeviceFit(name, task * 1e6, pipe, hop * 1e6, request * 1e6, len(occupancy) + len(hops) + len(chains),
                     rms * 1e6, fit_core(name, cpu, idle, received_s) if cpu else None)  # fmt: skip


def fit_core(name: str, samples: Sequence, idle: float = 0.0, received_s: Sequence[float] | None = None) -> CoreCost:
    """The CPU a device's core spends on the engine, from streams of probe requests (``devices.placed.CpuSample``:
    per request the tasks, bytes through the session, messages and bytes sent and received, the CPU seconds
    beyond the compute and the stream's period), ``idle``, the worker's CPU per second when nothing runs, and
    ``received_s``, per sample the seconds its received bytes spend on their link (bytes / the link's bandwidth;
    None: 0 for every sample).

    Model: engine CPU per request = idle * loop + task * tasks + pipe * MB through the session + send * messages
    sent + send_mb * MB sent + receive * messages received + receive_mb * MB received + receive_s * seconds on the
    link (a slow link trickles its bytes in and the receiving event loop wakes per trickle); every coefficient >=
    0, least squares (exact non-negative least squares over the seven columns) on the samples less ``idle *
    loop``, ``loop`` the part of the period the worker's event loop was free (``CpuSample.background_s``: a
    background callback due while the engine holds the loop is skipped, so it is not charged). A column no sample
    exercises (a device without links never sends) gets 0; the two receiving slopes are told apart only by links
    of different rates, and with one rate the per-MB one takes it all (of equal fits the support found first, per
    MB before per second, is kept). CheckError with fewer samples than two.
    """
    if len(samples) < 2:
        raise CheckError(f"device {name}: fitting its CPU needs two probe streams at least")
    seconds = [0.0] * len(samples) if received_s is None else list(received_s)
    a = np.array([[s.tasks, s.pipe_bytes * 1e-6, s.sends, s.sent * 1e-6, s.receives, s.received * 1e-6, t]
                  for s, t in zip(samples, seconds, strict=True)], dtype=float)  # fmt: skip
    y = np.array([(s.engine_s - idle * s.background_s) * 1e6 for s in samples])
    x, rms = _nnls(a, y)
    return CoreCost(*map(float, x[:6]), idle_us_per_s=idle * 1e6, samples=len(samples), rms_us=rms,
                    receive_us_per_s=float(x[6]))  # fmt: skip


def fit_host(samples: Sequence, idle: float = 0.0) -> HostFit:
    """The scheduler's and the client's CPU from probe streams (``devices.placed.HostSample``: tasks per request,
    CPU seconds per request, the period) and ``idle``, their CPU per second when nothing runs: per request
    ``idle * period + request + task * tasks``, both coefficients >= 0, least squares. CheckError without a
    sample."""
    if not samples:
        raise CheckError("the scheduler's and the client's CPU: no probe stream to fit")
    a = np.array([[1.0, s.tasks] for s in samples])
    x, rms = _nnls(a, np.array([(s.cpu_s - idle * s.period_s) * 1e6 for s in samples]))
    return HostFit(float(x[0]), float(x[1]), idle * 1e6, len(samples), rms)


def _nnls(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """``argmin |a x - y|, x >= 0`` and its rms residual, by least squares on every support (few columns): the
    optimum is the unconstrained least squares of its own support."""
    best, best_x = float(np.sum(y**2)), np.zeros(a.shape[1])
    for size in range(1, a.shape[1] + 1):
        for support in itertools.combinations(range(a.shape[1]), size):
            cols = list(support)
            sub, *_ = np.linalg.lstsq(a[:, cols], y, rcond=None)
            if np.all(sub >= 0):
                residual = float(np.sum((a[:, cols] @ sub - y) ** 2))
                if residual < best - 1e-12 * max(best, 1.0):
                    best, best_x = residual, np.zeros(a.shape[1])
                    best_x[cols] = sub
    return best_x, math.sqrt(best / len(y))


def _line(medians: Sequence[tuple[int, float]], what: str, needs: str, clip: bool = True) -> tuple[float, float, float]:
    """``(intercept, slope, rms)`` of the least-squares line through ``medians`` (``(x, median y)``, from
    :func:`_medians`). With ``clip`` an intercept below zero is set to zero and the slope fitted again through the
    origin; without, the line is returned as fitted. CheckError with fewer than two points or no finite line."""
    x = np.array([b for b, _ in medians], dtype=float)
    y = np.array([t for _, t in medians])
    if len(x) < 2:
        raise CheckError(f"{what}: fitting needs {needs} at least")
    slope, intercept = (float(v) for v in np.polyfit(x, y, 1))
    if not math.isfinite(slope) or not math.isfinite(intercept):
        raise CheckError(f"{what}: the timings are not finite; nothing to fit")
    if clip and intercept < 0:
        slope, intercept = float(x @ y / (x @ x)), 0.0
    return intercept, slope, float(np.sqrt(np.mean((y - intercept - slope * x) ** 2)))


def _medians(samples: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Per distinct ``x`` of ``(x, y)`` samples, in increasing ``x``, the median ``y``."""
    by_x: dict[int, list[float]] = {}
    for x_value, seconds in samples:
        by_x.setdefault(int(x_value), []).append(float(seconds))
    return [(b, float(np.median(by_x[b]))) for b in sorted(by_x)]
