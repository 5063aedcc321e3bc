"""Measure the detector's errors on simulated validation scenes: the data of its count intervals.

The validation scenes are :func:`railcount.synth.sets.training_specs` with
seeds from :data:`VALIDATION_SEED0` on, disjoint from the training scenes
(20000 on) and the benchmark (9000 on). Each is scanned by the packaged
detector exactly as a user's tile is, and scored against its truth:

- individual mode (0.8 m or finer): each detection's score and whether it
  matched a true car give a monotone map from score to the probability of
  being a real car (isotonic regression); the cars missed in each scene are
  modelled, per GSD band, as a negative binomial whose mean is a measured
  share of the cars found and whose dispersion is fitted by the method of
  moments;
- estimate mode (0.8-3 m): the ratio ``(true + 1) / (estimate + 1)`` per
  scene gives, per GSD band, quantiles that turn an estimate into an interval.

Everything goes into ``railcount/data/calibration.json``, read by
:mod:`railcount.detect.calibration`. Nothing at run time imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detect import detect_railcars
from ..detect.calibration import BANDS, CONFIDENCE
from ..detect.geometry import polyline_length
from ..evaluate import match_flags

__all__ = ["VALIDATION_SEED0", "SceneErrors", "scene_errors", "fit_calibration"]

#: Seed of the first validation scene.
VALIDATION_SEED0 = 30000


@dataclass(frozen=True)
class SceneErrors:
    """What the detector did on one validation scene."""

    gsd: float
    mode: str
    n_true: int
    cars: float  # detections (individual) or the occupied-length estimate
    scores: np.ndarray  # per detection (individual mode)
    matched: np.ndarray  # per detection: matched a true car
    track_km: float  # length of the tracks searched


def scene_errors(image: np.ndarray, gsd: float, cars_px: np.ndarray) -> SceneErrors:
    """Scan one simulated scene and score it against its true cars (``(row, col, ...)`` pixels)."""
    found = detect_railcars(image, gsd=gsd)
    pos = np.array([(d.row, d.col) for d in found.detections], float).reshape(-1, 2) * gsd
    truth = np.asarray(cars_px, float).reshape(-1, cars_px.shape[-1] if cars_px.ndim == 2 else 2)[:, :2] * gsd
    matched = match_flags(truth, pos) if found.mode == "individual" else np.zeros(len(pos), bool)
    km = sum(polyline_length(t.points) for t in found.tracks.tracks) * gsd / 1000.0
    return SceneErrors(gsd, found.mode, len(truth), float(found.cars),
                       np.array([d.score for d in found.detections], float), matched, float(km))


def _band(gsd: float, mode: str) -> str:
    for name, (lo, hi) in BANDS[mode].items():
        if lo <= gsd <= hi:
            return name
    raise ValueError(f"no {mode} band holds {gsd} m")


def _misses(scenes: list[SceneErrors]) -> dict[str, float | int | None]:
    """Mean cars missed per car found, and the negative binomial's dispersion (method of moments).

    Misses scale with the cars found (a detector that finds 70 % of a yard's
    cars misses about 30 more for every 70 found), so an empty yard, where
    nothing is found, is not given misses it cannot have.
    """
    if not scenes:
        return {"per_km": 0.0, "per_car": 0.0, "dispersion": None, "n_scenes": 0}
    miss = np.array([s.n_true - int(s.matched.sum()) for s in scenes], float)
    found = np.array([len(s.scores) for s in scenes], float)
    rate = float(miss.sum() / max(found.sum(), 1.0))
    mu = rate * found
    excess = float(np.sum((miss - mu) ** 2 - mu))
    inv_k = excess / max(float(np.sum(mu ** 2)), 1e-9)
    # dispersion None: no more spread than a Poisson
    return {"per_km": 0.0, "per_car": rate, "dispersion": float(1.0 / inv_k) if inv_k > 1e-6 else None,
            "n_scenes": len(scenes)}


def fit_calibration(scenes: list[SceneErrors]) -> dict:
    """The calibration written to ``calibration.json`` (see the module docstring)."""
    from sklearn.isotonic import IsotonicRegression

    ind = [s for s in scenes if s.mode == "individual"]
    est = [s for s in scenes if s.mode == "estimate"]
    out: dict = {"confidence": CONFIDENCE, "validation_seed0": VALIDATION_SEED0, "n_scenes": len(scenes)}
    scores = np.concatenate([s.scores for s in ind]) if ind else np.zeros(0)
    matched = np.concatenate([s.matched for s in ind]).astype(float) if ind else np.zeros(0)
    if len(scores) >= 2:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, matched)
        xs, ys = iso.X_thresholds_, iso.y_thresholds_
    else:
        xs, ys = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    out["individual"] = {
        "score_x": [round(float(x), 6) for x in xs], "score_q": [round(float(y), 6) for y in ys],
        "n_detections": int(len(scores)),
        "bands": {b: _misses([s for s in ind if _band(s.gsd, "individual") == b]) for b in BANDS["individual"]},
    }
    bands = {}
    for b in BANDS["estimate"]:
        sel = [s for s in est if _band(s.gsd, "estimate") == b and s.track_km > 0]
        r = np.log(np.array([(s.n_true + 1.0) / (s.cars + 1.0) for s in sel])) if sel else np.zeros(0)
        a = (1.0 - CONFIDENCE) / 2
        # fewer than 5 scenes cannot place a 90 % interval: the band's counts are then unbounded (None)
        q = [float(v) for v in np.quantile(r, [a, 0.5, 1 - a])] if len(r) >= 5 else [None] * 3
        bands[b] = {"log_ratio_low": q[0], "log_ratio_median": q[1], "log_ratio_high": q[2], "n_scenes": len(sel)}
    out["estimate"] = {"bands": bands}
    return out
