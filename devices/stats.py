"""Statistics of repeated timings: summaries, outlier runs, drift, and whether a measurement is stable.

Pure functions on plain lists of numbers, so profiling, brute force, the Pareto search and the pipeline
report all judge spread with the same words. Conventions:

- quantiles are linearly interpolated (numpy's default, "type 7");
- ``iqr`` is the interquartile range q75 - q25; ``cv`` is the sample standard deviation over the mean;
  ``robust_cv`` is ``IQR / 1.349 / median``, the same figure for normal data, but one a few wild runs
  cannot inflate: the stopping rule of a measurement uses it, the report shows both;
- a run far from the median lies more than ``OUTLIER_MADS`` scaled median absolute deviations from it (the
  Hampel filter), with the MAD floored at 5% of the median (the default target CV) so that runs as close as a
  stable measurement may be flag nothing (a quiet 0.09 ms model ran in two modes 12% apart); above the
  median it is an outlier run; below it, a fast run: noise only adds time, so the others were slowed, and
  the measurement is unstable for it (a fast run is never discarded as an outlier);
- a drift is a monotone trend of the runs in time order: the Mann-Kendall test (normal approximation,
  two-sided, ``DRIFT_Z``) that also moves the median of the last third of the runs away from the first
  third by more than ``DRIFT_SHIFT`` of the overall median (so a significant but tiny trend is no drift).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import asdict, dataclass

OUTLIER_MADS = 3.5
DRIFT_Z = 2.58  # two-sided p < 0.01
DRIFT_SHIFT = 0.05
MAD_FLOOR = 0.05  # of the median: the default target CV, so runs within the spread we accept flag nothing
OUTLIER_SHARE = 0.1  # more outlier runs than this share makes a measurement unstable
DEFAULT_TARGET_CV = 0.05

ESTIMATORS = ("median", "min", "mean")  # and "pNN": the NNth percentile
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0 <= q <= 1) of ``values``, linearly interpolated; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def check_estimator(name: str) -> str:
    """``name`` if it is ``median``, ``min``, ``mean`` or ``pNN`` (0 <= NN <= 99), else ValueError."""
    if name in ESTIMATORS or _PERCENTILE.match(name):
        return name
    raise ValueError(f"unknown weight estimator {name!r} (use median, min, mean or pNN, e.g. p90)")


def estimate(values: list[float], estimator: str = "median") -> float:
    """One figure for ``values``: their median, minimum, mean or ``pNN`` percentile (see :func:`check_estimator`)."""
    check_estimator(estimator)
    if not values:
        return float("nan")
    if estimator == "median":
        return statistics.median(values)
    if estimator == "min":
        return min(values)
    if estimator == "mean":
        return statistics.fmean(values)
    return quantile(values, float(estimator[1:]) / 100)


@dataclass(frozen=True)
class Summary:
    """Median, minimum, mean, quartiles and spread of a sample."""

    n: int
    median: float
    min: float
    max: float
    mean: float
    q25: float
    q75: float
    iqr: float
    cv: float  # sample standard deviation / mean (0 for one value, nan for none)
    robust_cv: float  # IQR / 1.349 / median

    def to_json(self) -> dict:
        return {key: (value if not isinstance(value, float) or math.isfinite(value) else None)
                for key, value in asdict(self).items()}  # fmt: skip


def summarize(values: list[float]) -> Summary:
    """The :class:`Summary` of ``values`` (nan figures for an empty sample)."""
    if not values:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    median = statistics.median(values)
    mean = statistics.fmean(values)
    q25, q75 = quantile(values, 0.25), quantile(values, 0.75)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    cv = sd / mean if mean > 0 else (0.0 if sd == 0 else float("inf"))
    robust = (q75 - q25) / 1.349 / median if median > 0 else (0.0 if q75 == q25 else float("inf"))
    return Summary(len(values), median, min(values), max(values), mean, q25, q75, q75 - q25, cv, robust)


def outlier_runs(values: list[float], mads: float = OUTLIER_MADS) -> list[int]:
    """Positions of the values more than ``mads`` scaled MADs from the median (see the module docstring)."""
    if len(values) < 3:
        return []
    median = statistics.median(values)
    mad = 1.4826 * statistics.median(abs(v - median) for v in values)
    mad = max(mad, MAD_FLOOR * abs(median))
    if mad == 0:
        return []
    return [i for i, v in enumerate(values) if abs(v - median) > mads * mad]


@dataclass(frozen=True)
class Drift:
    """A trend of the runs in time order: Mann-Kendall's z and the relative shift of the last third's median."""

    z: float
    shift: float  # (median of the last third - median of the first third) / overall median

    @property
    def significant(self) -> bool:
        return abs(self.z) >= DRIFT_Z and abs(self.shift) >= DRIFT_SHIFT


def drift(values: list[float]) -> Drift:
    """Mann-Kendall trend statistic of ``values`` in time order and the shift between its first and last thirds.

    S = sum over pairs i < j of sign(x_j - x_i); without ties Var(S) = n(n-1)(2n+5)/18 (ties are few in
    timings and only make the test conservative); z = (S - sign(S)) / sqrt(Var(S)).
    """
    n = len(values)
    if n < 6:
        return Drift(0.0, 0.0)
    s = sum((values[j] > values[i]) - (values[j] < values[i]) for i in range(n) for j in range(i + 1, n))
    var = n * (n - 1) * (2 * n + 5) / 18
    z = (s - math.copysign(1, s)) / math.sqrt(var) if s else 0.0
    third = n // 3
    median = statistics.median(values)
    shift = (statistics.median(values[-third:]) - statistics.median(values[:third])) / median if median else 0.0
    return Drift(z, shift)


@dataclass(frozen=True)
class Stability:
    """Whether a series of runs (in time order) is a measurement to trust, and if not, why."""

    stable: bool
    reasons: tuple[str, ...]
    summary: Summary
    outliers: tuple[int, ...]  # positions of slow outlier runs (far above the median)
    drift: Drift
    fast: tuple[int, ...] = ()  # positions of runs far below the median: the others were slowed, not these


    def to_json(self) -> dict:
        return {
            "stable": self.stable, "reasons": list(self.reasons), "outlier_runs": list(self.outliers),
            "fast_runs": list(self.fast),
            "drift_z": self.drift.z, "drift_shift": self.drift.shift,
        }  # fmt: skip


def stability(runs: list[float], target_cv: float = DEFAULT_TARGET_CV, unit: str = "ms") -> Stability:
    """Judge ``runs`` (totals of whole runs, in the order they ran): stable when their robust CV is at most
    ``target_cv``, at most ``OUTLIER_SHARE`` of them are outliers and they do not drift."""
    summary = summarize(runs)
    reasons = []
    if summary.n < 3:
        reasons.append(f"only {summary.n} run(s): too few to judge the spread")
    elif not summary.robust_cv <= target_cv:
        reasons.append(
            f"run totals spread: robust CV {100 * summary.robust_cv:.1f}% > target {100 * target_cv:.1f}% "
            f"(IQR {summary.iqr:.3g} {unit}, from {summary.min:.3g} to {summary.max:.3g} {unit})"
        )
    far = outlier_runs(runs)
    outliers = [i for i in far if runs[i] > summary.median]
    fast = [i for i in far if runs[i] < summary.median]
    if len(outliers) > OUTLIER_SHARE * summary.n:
        shown = ", ".join(f"{runs[i]:.3g}" for i in outliers[:5]) + (", ..." if len(outliers) > 5 else "")
        reasons.append(f"{len(outliers)} outlier run(s) of {summary.n} ({shown} {unit} vs median {summary.median:.3g})")
    if fast:
        # Noise only adds time: a run far below the median is the model's own time showing through a
        # measurement whose other runs were slowed (shared cores), not a run to discard.
        shown = ", ".join(f"{runs[i]:.3g}" for i in fast[:5]) + (", ..." if len(fast) > 5 else "")
        reasons.append(f"{len(fast)} run(s) of {summary.n} far faster than the median ({shown} {unit} vs "
                       f"{summary.median:.3g}): the other runs were slowed, e.g. by cores shared with other work")  # fmt: skip
    trend = drift(runs)
    if trend.significant:
        way = "slower" if trend.shift > 0 else "faster"
        reasons.append(f"drift over time: the last third of the runs is {100 * abs(trend.shift):.0f}% {way} than the first")
    return Stability(not reasons, tuple(reasons), summary, tuple(outliers), trend, tuple(fast))
