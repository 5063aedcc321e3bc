"""Count intervals: the arithmetic on constructed detections of known probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from railcount.detect.calibration import (
    count_interval,
    interval_from,
    load_calibration,
    negative_binomial,
    poisson_binomial,
)

#: A calibration whose score map is the identity and whose misses are set by the test.
IDENTITY = {
    "confidence": 0.9,
    "individual": {"score_x": [0.0, 1.0], "score_q": [0.0, 1.0],
                   "bands": {"0.0-0.4 m": {"per_km": 0.0, "per_car": 0.0, "dispersion": None},
                             "0.4-0.8 m": {"per_km": 10.0, "per_car": 0.0, "dispersion": 4.0}}},
    "estimate": {"bands": {"0.8-1.5 m": {"log_ratio_low": -0.2, "log_ratio_median": 0.0, "log_ratio_high": 0.3},
                           "1.5-3 m": {"log_ratio_low": None, "log_ratio_median": None, "log_ratio_high": None}}},
}


def test_poisson_binomial_is_the_binomial_for_equal_probabilities():
    pmf = poisson_binomial(np.full(30, 0.3))
    assert np.allclose(pmf, stats.binom.pmf(np.arange(31), 30, 0.3))
    q = np.array([0.1, 0.9, 0.5, 1.0, 0.0])
    pmf = poisson_binomial(q)
    assert pmf.sum() == pytest.approx(1.0) and (pmf @ np.arange(6)) == pytest.approx(q.sum())


def test_negative_binomial_mean_and_variance():
    pmf = negative_binomial(8.0, 2.0, 400)
    k = np.arange(400)
    mean = pmf @ k
    assert mean == pytest.approx(8.0, rel=1e-6)
    assert pmf @ (k - mean) ** 2 == pytest.approx(8.0 + 64.0 / 2.0, rel=1e-4)
    assert negative_binomial(0.0, 2.0, 5).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert np.allclose(negative_binomial(3.0, math.inf, 50), stats.poisson.pmf(np.arange(50), 3.0))
    k = np.arange(300)
    for mean, dispersion in ((0.3, 0.5), (8.0, 2.0), (120.0, 40.0)):
        expected = stats.nbinom.pmf(k, dispersion, dispersion / (dispersion + mean))
        np.testing.assert_allclose(negative_binomial(mean, dispersion, 300), expected, rtol=1e-9, atol=1e-15)


def test_interval_of_certain_detections_and_no_misses_is_exact():
    assert interval_from(np.ones(73), 0.0, math.inf) == (73, 73)
    assert interval_from(np.zeros(12), 0.0, math.inf) == (0, 0)


def test_interval_is_the_quantiles_of_hits_plus_misses():
    lo, hi = interval_from(np.full(100, 0.5), 0.0, math.inf)
    assert (lo, hi) == (int(stats.binom.ppf(0.05, 100, 0.5)), int(stats.binom.ppf(0.95, 100, 0.5)))
    lo, hi = interval_from(np.zeros(0), 10.0, math.inf)
    assert (lo, hi) == (int(stats.poisson.ppf(0.05, 10.0)), int(stats.poisson.ppf(0.95, 10.0)))


def test_interval_holds_the_truth_as_often_as_it_says():
    """Monte Carlo: true counts drawn from the model fall in its 90 % interval 88-94 % of the time."""
    rng = np.random.default_rng(7)
    hits = 0
    trials = 1500
    for _ in range(trials):
        q = rng.uniform(0.3, 1.0, size=int(rng.integers(0, 60)))
        mean, disp = float(rng.uniform(0, 15)), float(rng.uniform(1, 20))
        truth = int((rng.random(len(q)) < q).sum()) + int(rng.negative_binomial(disp, disp / (disp + mean)))
        lo, hi = interval_from(q, mean, disp)
        hits += lo <= truth <= hi
    assert 0.88 <= hits / trials <= 0.96  # discrete quantiles: at least 90 %, a little more


def test_count_interval_scales_with_the_evidence():
    # no track and nothing found: nothing there
    for mode, gsd in (("individual", 0.3), ("estimate", 1.0)):
        iv = count_interval(mode, gsd=gsd, calibration=IDENTITY)
        assert (iv.count, iv.low, iv.high, iv.bounded) == (0, 0, 0, True)
    # certain detections, no misses in the band: exact
    iv = count_interval("individual", gsd=0.3, scores=[1.0] * 20, track_km=2.0, calibration=IDENTITY)
    assert (iv.count, iv.low, iv.high, iv.bounded) == (20, 20, 20, True)
    # misses per km of track: the interval's upper end grows with the track searched
    short = count_interval("individual", gsd=0.5, scores=[1.0] * 20, track_km=0.5, calibration=IDENTITY)
    long = count_interval("individual", gsd=0.5, scores=[1.0] * 20, track_km=3.0, calibration=IDENTITY)
    assert short.count == long.count == 20 and short.low >= 20 and short.high < long.high
    # doubtful detections: the lower end drops below the count
    iv = count_interval("individual", gsd=0.3, scores=[0.6] * 20, track_km=1.0, calibration=IDENTITY)
    assert iv.low < 20 == iv.count == iv.high


def test_estimate_interval_and_an_unbounded_band():
    iv = count_interval("estimate", gsd=1.0, estimate=39.0, track_km=1.0, calibration=IDENTITY)
    assert iv.count == 39 and iv.low == math.floor(40 * math.exp(-0.2) - 1) and iv.high == math.ceil(
        40 * math.exp(0.3) - 1)
    iv = count_interval("estimate", gsd=2.0, estimate=39.0, track_km=1.0, calibration=IDENTITY)
    assert not iv.bounded


def test_packaged_calibration_is_complete():
    cal = load_calibration()
    assert cal["confidence"] == 0.9
    x, q = np.array(cal["individual"]["score_x"]), np.array(cal["individual"]["score_q"])
    assert len(x) == len(q) >= 2 and np.all(np.diff(x) >= 0) and np.all(np.diff(q) >= 0)
    assert np.all((q >= 0) & (q <= 1))
    for band in cal["individual"]["bands"].values():
        assert band["per_km"] >= 0 and band["per_car"] >= 0
    iv = count_interval("individual", gsd=0.5, scores=[0.9] * 30, track_km=1.5)
    assert iv.low <= iv.count <= iv.high
