"""Fitting a link's cost from timed transfers: ``seconds = overhead + bytes / bandwidth``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from solver.errors import CheckError
from solver.io.linkfile import LinkFit


def fit_link(source: str, target: str, samples: Sequence[tuple[int, float]]) -> LinkFit:
    """Least squares over ``(bytes, seconds)`` samples of the line ``overhead + bytes / bandwidth``.

    Model: t(b) = o + b / B. The fit is to the median time of each size (a transfer slowed by other work on a
    shared machine moves a mean, not a median): minimise sum_b (m_b - o - b / B)^2 over o >= 0 and 1/B > 0 (an
    overhead fitted below zero is set to zero and the slope refitted through the origin). ``rms_us`` is over
    the medians. Needs two distinct sizes at least; CheckError when the times do not grow with the bytes.
    """
    by_size: dict[int, list[float]] = {}
    for nbytes, seconds in samples:
        by_size.setdefault(int(nbytes), []).append(float(seconds))
    x = np.array(sorted(by_size), dtype=float)
    y = np.array([float(np.median(by_size[int(b)])) for b in x])
    if len(x) < 2:
        raise CheckError(f"link {source} -> {target}: fitting needs transfers of two sizes at least")
    slope, overhead = np.polyfit(x, y, 1)
    if overhead < 0:
        slope, overhead = float(x @ y / (x @ x)), 0.0
    if not slope > 0 or not math.isfinite(slope):
        raise CheckError(f"link {source} -> {target}: transfer times do not grow with their size; no bandwidth to fit")
    residuals = y - (overhead + slope * x)
    rms = float(np.sqrt(np.mean(residuals**2)))
    return LinkFit(source, target, float(overhead) * 1e6, 1.0 / float(slope), len(samples), rms * 1e6)
