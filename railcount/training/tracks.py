"""Train the track-point models of :mod:`railcount.detect.tracks` on simulated scenes.

Each simulated scene is cut into blocks as the finder cuts an image; every
candidate track centre of every block is labelled against the scene's true
track centrelines:

- positive where a true track runs within ``POS_M`` of the candidate, in the
  block's direction (within 3 degrees);
- negative where no true track of any direction comes within ``NEG_M``;
- left out in between (a candidate half a metre off a track is neither).

Two histogram gradient-boosting classifiers are fitted: the first on the cue
features of each candidate alone, the second on those plus context features
computed from the first stage's probabilities of the other candidates of the
same scene (out-of-fold, so the second stage learns from predictions like
those it will see). Both are exported as plain arrays
(:mod:`railcount.detect.forest`). Nothing at run time imports this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..detect.frame import to_luminance
from ..detect.geometry import nearest_on_polylines
from ..detect.tracks import (CASCADE_MIN_P, CONTEXT_NAMES, CUE_NAMES, context_features, image_candidates,
                             working_image)

log = logging.getLogger(__name__)

__all__ = ["TrackSamples", "scene_track_samples", "fit_track_models", "POS_M", "NEG_M"]

#: Largest distance of a positive candidate from its true track, metres.
POS_M = 0.35
#: Smallest distance of a negative candidate from every true track, metres.
NEG_M = 1.2


@dataclass(frozen=True)
class TrackSamples:
    """All candidates of one or more scenes, with labels (1, 0, or -1: left out)."""

    X: np.ndarray
    y: np.ndarray
    group: np.ndarray  # scene index of each candidate
    xy: np.ndarray
    t: np.ndarray

    @staticmethod
    def concat(parts: list["TrackSamples"]) -> "TrackSamples":
        return TrackSamples(*(np.concatenate([getattr(p, k) for p in parts])
                              for k in ("X", "y", "group", "xy", "t")))


def scene_track_samples(image: np.ndarray, gsd: float, tracks_px: list[np.ndarray], *, group: int = 0,
                        block_m: float = 16.0) -> TrackSamples:
    """Every track candidate of one scene, labelled.

    Parameters
    ----------
    image : ndarray, shape (rows, cols, bands) or (rows, cols)
    gsd : float
    tracks_px : list of ndarray, shape (n, 2)
        True track centrelines as (row, col) in continuous pixel coordinates.
    group : int
        Scene index stored with the samples.
    """
    mask = np.ones(image.shape[:2], bool)
    lum, _ = to_luminance(image, mask)
    work, wmask, g, _ = working_image(lum, mask, gsd)
    cand = image_candidates(work, wmask, g, block_m=block_m)
    # truth in metres of the working grid's index coordinates
    lines_m = [(np.asarray(t, float) * gsd - 0.5 * g) for t in tracks_px if len(t) > 1]
    dist, sang, _ = nearest_on_polylines(cand.xy, lines_m)
    dang = np.abs((sang - cand.angle + 90.0) % 180.0 - 90.0)
    y = np.full(len(cand), -1, np.int8)
    y[dist >= NEG_M] = 0
    y[(dist <= POS_M) & (dang <= 3.0)] = 1
    return TrackSamples(cand.features, y, np.full(len(cand), group, np.int32), cand.xy, cand.t)


def _classifier(seed: int, max_iter: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=15, max_depth=6,
                                          min_samples_leaf=40, l2_regularization=1.0, random_state=seed)


def _oof(X: np.ndarray, y: np.ndarray, groups: np.ndarray, fit_rows: np.ndarray, seed: int, max_iter: int
         ) -> np.ndarray:
    """Out-of-fold probabilities for every row (scenes held out in turn, 4 folds)."""
    from sklearn.model_selection import GroupKFold

    out = np.zeros(len(y))
    ug = np.unique(groups)
    folds = GroupKFold(n_splits=min(4, len(ug)))
    for tr_g, te_g in folds.split(ug, groups=ug):
        tr = fit_rows & np.isin(groups, ug[tr_g])
        te = np.isin(groups, ug[te_g])
        out[te] = _classifier(seed, max_iter).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    return out


def _context(samples: TrackSamples, p1: np.ndarray) -> np.ndarray:
    ctx = np.zeros((len(p1), len(CONTEXT_NAMES)), np.float32)
    for g in np.unique(samples.group):
        rows = samples.group == g
        ctx[rows] = context_features(samples.xy[rows], samples.t[rows], p1[rows])
    return ctx


def _best_threshold(p: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Threshold maximising F1, and (F1, precision, recall) there."""
    best = (0.5, 0.0, 0.0, 0.0)
    for thr in np.arange(0.1, 0.91, 0.02):
        pred = p >= thr
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / max(1.0, pred.sum() + (y == 1).sum())
        if f1 > best[1]:
            best = (float(thr), f1, tp / max(1.0, pred.sum()), tp / max(1.0, (y == 1).sum()))
    return best


def fit_track_models(samples: TrackSamples, *, seed: int = 0, max_iter: int = 150):
    """Fit both stages; return ``(stage1, stage2, threshold, report)``.

    The threshold maximises F1 of the second stage's out-of-fold predictions.
    """
    X, y, groups = samples.X, samples.y, samples.group
    lab = y >= 0
    p1_oof = _oof(X, y, groups, lab, seed, max_iter)
    X2 = np.hstack([X, _context(samples, p1_oof)])
    # the second stage sees only what the cascade passes on; the rest stays at 0
    live = p1_oof >= CASCADE_MIN_P
    p2_oof = np.zeros(len(y))
    p2_oof[live] = _oof(X2[live], y[live], groups[live], lab[live], seed, max_iter)
    thr, f1, prec, rec = _best_threshold(p2_oof[lab], y[lab])
    _, f1_1, _, _ = _best_threshold(p1_oof[lab], y[lab])
    stage1 = _classifier(seed, max_iter).fit(X[lab], y[lab])
    stage2 = _classifier(seed, max_iter).fit(X2[lab & live], y[lab & live])
    report = {
        "n_samples": int(lab.sum()), "n_positive": int((y == 1).sum()), "n_scenes": int(len(np.unique(groups))),
        "oof_f1_stage1": round(f1_1, 4), "oof_f1": round(f1, 4), "oof_precision": round(prec, 4),
        "oof_recall": round(rec, 4),
    }
    return stage1, stage2, thr, report
