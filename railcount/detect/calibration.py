"""Count intervals from an error model that scales with the evidence.

Individual mode (0.8 m or finer): the true number of railcars in a scan is
the number of real cars among its detections plus the number it missed.

- Detection ``i`` is a real car with probability ``q_i``: its verifier score
  mapped through a monotone curve fitted on simulated validation scenes
  (disjoint from training and benchmark scenes).
- The cars missed follow a negative binomial whose mean grows with the
  cars found (and, where the calibration says so, with the track length
  searched), with a dispersion measured on the same scenes, per GSD band.

The real cars among the detections follow a Poisson-binomial distribution;
its convolution with the misses is the distribution of the true count, whose
central quantiles are the interval. A scan with no detection gets 0-0 (an
empty yard included: the misses of a detector scale with what it finds); a
long yard an interval that grows with it.

Estimate mode (0.8-3 m): the estimate (occupied track length / mean car
pitch) is corrected by the median of ``(true + 1) / (estimate + 1)`` seen on
validation scenes of its GSD band, and bounded by that ratio's quantiles.
Where the validation scenes of a band are too few to measure them, the count
cannot be bounded and the result says so.

``python -m railcount.training --only calibration`` measures everything in
``railcount/data/calibration.json``.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["BANDS", "CONFIDENCE", "CountInterval", "count_interval", "interval_from", "load_calibration",
           "negative_binomial", "poisson_binomial"]

#: Confidence of the intervals.
CONFIDENCE = 0.9
#: GSD bands (metres, inclusive) in which errors are measured, per counting mode.
BANDS: dict[str, dict[str, tuple[float, float]]] = {
    "individual": {"0.0-0.4 m": (0.0, 0.4), "0.4-0.8 m": (0.4, 0.8)},
    "estimate": {"0.8-1.5 m": (0.8, 1.5), "1.5-3 m": (1.5, 3.0)},
}


@dataclass(frozen=True)
class CountInterval:
    """A count and its interval.

    Attributes
    ----------
    count, low, high : int
        The count and the ends of its interval (``low <= count <= high``).
    confidence : float
        Probability the interval is meant to hold the true count.
    bounded : bool
        False where the evidence cannot bound the count (``high`` is then
        meaningless and claims about the count are inconclusive).
    """

    count: int
    low: int
    high: int
    confidence: float
    bounded: bool = True


@functools.lru_cache(maxsize=1)
def load_calibration() -> dict[str, Any]:
    """The packaged calibration (``railcount/data/calibration.json``)."""
    ref = resources.files("railcount") / "data" / "calibration.json"
    return json.loads(ref.read_text(encoding="utf-8"))


def poisson_binomial(q: np.ndarray) -> np.ndarray:
    """Distribution of the number of successes of independent Bernoulli trials (exact).

    Parameters
    ----------
    q : ndarray, shape (n,)
        Success probabilities.

    Returns
    -------
    ndarray, shape (n + 1,)
        ``pmf[k]`` = P(k successes).

    Examples
    --------
    >>> poisson_binomial(np.array([0.5, 0.5])).tolist()
    [0.25, 0.5, 0.25]
    """
    pmf = np.zeros(len(q) + 1)
    pmf[0] = 1.0
    for i, p in enumerate(np.clip(np.asarray(q, float), 0.0, 1.0)):
        pmf[1 : i + 2] = pmf[1 : i + 2] * (1 - p) + pmf[: i + 1] * p
        pmf[0] *= 1 - p
    return pmf


def negative_binomial(mean: float, dispersion: float, n: int) -> np.ndarray:
    """Negative binomial pmf on ``0..n-1`` with a mean and a dispersion ``k`` (variance ``mean + mean**2 / k``).

    A mean of zero puts all the mass at 0; an infinite dispersion is a Poisson. Written with
    :func:`scipy.special.gammaln` (a scan need not import :mod:`scipy.stats`, half a second).

    Examples
    --------
    >>> negative_binomial(2.0, float("inf"), 3).round(4).tolist()  # Poisson(2)
    [0.1353, 0.2707, 0.2707]
    >>> negative_binomial(1.0, 1.0, 3).round(4).tolist()  # geometric, p = 1/2
    [0.5, 0.25, 0.125]
    """
    from scipy.special import gammaln

    k = np.arange(n, dtype=float)
    if mean <= 0:
        out = np.zeros(n)
        out[0] = 1.0
        return out
    if not math.isfinite(dispersion):
        return np.exp(k * math.log(mean) - mean - gammaln(k + 1))
    p = dispersion / (dispersion + mean)
    return np.exp(gammaln(k + dispersion) - gammaln(dispersion) - gammaln(k + 1)
                  + dispersion * math.log(p) + k * math.log1p(-p))


def interval_from(q: np.ndarray, miss_mean: float, miss_dispersion: float, *, confidence: float = CONFIDENCE
                  ) -> tuple[int, int]:
    """The central ``confidence`` interval of (real cars among detections) + (cars missed).

    Examples
    --------
    >>> interval_from(np.ones(10), 0.0, float("inf"))
    (10, 10)
    >>> interval_from(np.zeros(0), 0.0, float("inf"))
    (0, 0)
    """
    hits = poisson_binomial(q)
    sd = math.sqrt(miss_mean + (miss_mean ** 2 / miss_dispersion if math.isfinite(miss_dispersion) else 0.0))
    misses = negative_binomial(miss_mean, miss_dispersion, int(miss_mean + 10 * sd + 10))
    total = np.convolve(hits, misses)
    cdf = np.cumsum(total) / total.sum()
    a = (1.0 - confidence) / 2.0
    return int(np.searchsorted(cdf, a - 1e-12)), int(np.searchsorted(cdf, 1.0 - a - 1e-12))


def _band(cal: dict[str, Any], mode: str, gsd: float) -> dict[str, Any]:
    bands = cal[mode]["bands"]
    for name, (lo, hi) in BANDS[mode].items():
        if lo <= gsd <= hi:
            return dict(bands[name])
    # finer than the finest band, or between bands: the nearest one
    name = min(BANDS[mode], key=lambda b: min(abs(gsd - BANDS[mode][b][0]), abs(gsd - BANDS[mode][b][1])))
    return dict(bands[name])


def count_interval(mode: str, *, gsd: float, scores: Sequence[float] = (), estimate: float = 0.0,
                   track_km: float = 0.0, calibration: dict[str, Any] | None = None) -> CountInterval:
    """The count of a scan and its interval.

    Parameters
    ----------
    mode : {"individual", "estimate"}
    gsd : float
        Ground sample distance of the scan, metres.
    scores : sequence of float
        Verifier scores of the detections (individual mode).
    estimate : float
        Occupied track length / mean car pitch (estimate mode).
    track_km : float
        Length of the tracks searched, kilometres.
    calibration : dict, optional
        Defaults to the packaged calibration.

    Returns
    -------
    CountInterval

    Examples
    --------
    >>> count_interval("individual", gsd=0.5).high
    0
    """
    cal = calibration or load_calibration()
    conf = float(cal.get("confidence", CONFIDENCE))
    if mode == "individual":
        n = len(scores)
        if n == 0 and track_km <= 0:
            return CountInterval(0, 0, 0, conf)
        ind = cal["individual"]
        q = np.interp(np.asarray(scores, float), ind["score_x"], ind["score_q"])
        band = _band(cal, mode, gsd)
        mean = float(band["per_km"]) * track_km + float(band["per_car"]) * n
        disp = band["dispersion"]
        low, high = interval_from(q, mean, float("inf") if disp is None else float(disp), confidence=conf)
        return CountInterval(n, min(low, n), max(high, n), conf)
    if mode != "estimate":
        raise ValueError(f"mode must be 'individual' or 'estimate', got {mode!r}")
    band = _band(cal, mode, gsd)
    if any(band.get(k) is None for k in ("log_ratio_low", "log_ratio_median", "log_ratio_high")):
        # the validation scenes of this band could not measure the estimate's errors (e.g. no track
        # was found on them): nothing found here does not mean nothing is there
        count = int(round(estimate))
        return CountInterval(count, count, count, conf, bounded=False)
    if estimate <= 0 and track_km <= 0:
        return CountInterval(0, 0, 0, conf)
    scale = estimate + 1.0
    count = max(0, int(round(scale * math.exp(band["log_ratio_median"]) - 1.0)))
    low = max(0, math.floor(scale * math.exp(band["log_ratio_low"]) - 1.0))
    high = math.ceil(scale * math.exp(band["log_ratio_high"]) - 1.0)
    return CountInterval(count, min(low, count), max(high, count), conf)
