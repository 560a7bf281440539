"""devices.stats: summaries, outlier runs, drift and the stability verdict, against numpy and by construction."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.stats import check_estimator, drift, estimate, outlier_runs, quantile, stability, summarize

samples = st.lists(st.floats(0.001, 1e6, allow_nan=False), min_size=1, max_size=40)


@given(samples, st.floats(0, 1))
def test_quantile_is_numpys_linear_quantile(values, q):
    assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)), rel=1e-9, abs=1e-9)


@given(samples)
def test_summary_agrees_with_numpy(values):
    s = summarize(values)
    assert s.n == len(values) and s.min == min(values) and s.max == max(values)
    assert s.median == pytest.approx(float(np.median(values)))
    assert s.iqr == pytest.approx(float(np.quantile(values, 0.75) - np.quantile(values, 0.25)), abs=1e-6)
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    assert s.cv == pytest.approx(sd / float(np.mean(values)), rel=1e-6, abs=1e-9)


def test_estimators():
    values = [5.0, 1.0, 3.0, 100.0]
    assert estimate(values, "median") == 4.0 and estimate(values, "min") == 1.0
    assert estimate(values, "mean") == 27.25 and estimate(values, "p50") == 4.0
    assert estimate(values, "p0") == 1.0 and estimate(values, "p90") == pytest.approx(np.quantile(values, 0.9))
    for bad in ("max", "p100", "p-1", "median "):
        with pytest.raises(ValueError, match="unknown weight estimator"):
            check_estimator(bad)


def test_outliers_and_a_quiet_series():
    rng = random.Random(1)
    quiet = [20 + rng.gauss(0, 0.2) for _ in range(30)]
    assert outlier_runs(quiet) == [] and stability(quiet).stable
    noisy = list(quiet)
    noisy[4] = noisy[17] = noisy[25] = noisy[29] = 60.0
    verdict = stability(noisy)
    assert outlier_runs(noisy) == [4, 17, 25, 29]
    assert not verdict.stable and any("4 outlier run(s) of 30" in r for r in verdict.reasons)
    # Identical runs: no spread, no outliers, no drift.
    assert stability([7.0] * 10).stable
    # Two modes 12% apart (a quiet tiny model): within the floor of the spread we accept, not outliers.
    bimodal = [0.0905] * 21 + [0.080] * 9
    assert outlier_runs(bimodal) == []


def test_drift_is_found_and_a_shuffled_series_has_none():
    rng = random.Random(2)
    rising = [20 + 0.3 * i + rng.gauss(0, 0.2) for i in range(30)]
    assert drift(rising).significant and drift(rising).shift > 0.2
    assert any("drift over time" in r and "slower" in r for r in stability(rising, target_cv=1).reasons)
    shuffled = list(rising)
    rng.shuffle(shuffled)
    assert not drift(shuffled).significant


def test_spread_and_too_few_runs_are_reasons():
    rng = random.Random(3)
    wide = [rng.uniform(10, 70) for _ in range(30)]
    assert any("run totals spread" in r for r in stability(wide).reasons)
    assert stability([10.0, 10.0]).reasons == ("only 2 run(s): too few to judge the spread",)


def test_fast_runs_of_a_slowed_measurement_are_not_its_outliers():
    # The case: a model of 2.6 ms measured at ~65 ms beside other work, with a few runs showing through.
    rng = random.Random(3)
    slowed = [65 + rng.gauss(0, 1.5) for _ in range(30)]
    slowed[3] = slowed[11] = 2.9
    verdict = stability(slowed)
    assert verdict.outliers == () and verdict.fast == (3, 11)
    assert not verdict.stable
    assert any(r.startswith("2 run(s) of 30 far faster than the median (2.9, 2.9 ms") and "slowed" in r
               for r in verdict.reasons)  # fmt: skip
    assert verdict.to_json()["fast_runs"] == [3, 11] and verdict.to_json()["outlier_runs"] == []
