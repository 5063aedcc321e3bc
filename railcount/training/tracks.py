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

from ..detect.geometry import nearest_on_polylines, polyline_length, resample_polyline
from ..detect.image import to_luminance
from ..detect.tracks import (
    CASCADE_MIN_P,
    Candidates,
    Chains,
    chain_features,
    context_features,
    image_candidates,
    link_points,
    working_image,
)

log = logging.getLogger(__name__)

__all__ = ["SceneCandidates", "scene_candidates", "chain_labels", "fit_track_models", "POS_M", "NEG_M"]

#: Largest distance of a positive candidate from its true track, metres.
POS_M = 0.35
#: Smallest distance of a negative candidate from every true track, metres.
NEG_M = 0.6
#: Share of the negative candidates the point models are fitted on.
NEG_SHARE = 0.35


@dataclass(frozen=True)
class SceneCandidates:
    """Every track candidate of one simulated scene, labelled (1, 0, or -1: left out), with the scene's truth.

    Attributes
    ----------
    cand : Candidates
    y : ndarray of int8
    truth_m : list of ndarray
        True track centrelines in metres of the working image's index coordinates.
    gsd : float
        Pixel size of the working image, metres.
    """

    cand: Candidates
    y: np.ndarray
    truth_m: list[np.ndarray]
    gsd: float


def scene_candidates(image: np.ndarray, gsd: float, tracks_px: list[np.ndarray], *, block_m: float = 16.0
                     ) -> SceneCandidates:
    """Every track candidate of one scene, labelled against its true track centrelines.

    Parameters
    ----------
    image : ndarray, shape (rows, cols, bands) or (rows, cols)
    gsd : float
    tracks_px : list of ndarray, shape (n, 2)
        True track centrelines as (row, col) in continuous pixel coordinates.
    """
    mask = np.ones(image.shape[:2], bool)
    lum, _ = to_luminance(image, mask)
    w = working_image(lum, mask, gsd)
    g = w.gsd
    # 16 m blocks at every GSD: the detector widens them to MIN_BLOCK_PX pixels where 16 m is fewer
    # (block_side_m), so that coarse images are read as the blocks the models learnt from at 0.2-0.5 m
    cand = image_candidates(w.lum, w.mask, g, block_m=block_m)
    lines_m = [(np.asarray(t, float) * gsd - 0.5 * g) for t in tracks_px if len(t) > 1]
    dist, sang, _ = nearest_on_polylines(cand.xy, lines_m)
    dang = np.abs((sang - cand.angle + 90.0) % 180.0 - 90.0)
    y = np.full(len(cand), -1, np.int8)
    y[dist >= NEG_M] = 0
    y[(dist <= POS_M) & (dang <= 3.0)] = 1
    return SceneCandidates(cand, y, lines_m, g)


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
        out[te] = _fit(X, y, tr, seed, max_iter).predict_proba(X[te])[:, 1]
    return out


def _fit(X: np.ndarray, y: np.ndarray, rows: np.ndarray, seed: int, max_iter: int):
    """Fit on ``rows`` with a third of the (plentiful) negatives, weighted back up (reproducible)."""
    rng = np.random.default_rng(seed)
    use = rows & ((y == 1) | (rng.random(len(y)) < NEG_SHARE))
    w = np.where(y[use] == 1, 1.0, 1.0 / NEG_SHARE)
    return _classifier(seed, max_iter).fit(X[use], y[use], sample_weight=w)


def _context(scenes: list[SceneCandidates], p1: list[np.ndarray]) -> list[np.ndarray]:
    return [context_features(sc.cand.xy, sc.cand.t, p) for sc, p in zip(scenes, p1)]


def _best_threshold(p: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """Threshold maximising (weighted) F1, and (F1, precision, recall) there."""
    w = np.ones(len(y)) if w is None else w
    best = (0.5, 0.0, 0.0, 0.0)
    for thr in np.arange(0.1, 0.91, 0.02):
        pred = p >= thr
        tp = float(w[pred & (y == 1)].sum())
        n_pred, n_pos = float(w[pred].sum()), float(w[y == 1].sum())
        f1 = 2 * tp / max(1e-9, n_pred + n_pos)
        if f1 > best[1]:
            best = (float(thr), f1, tp / max(1e-9, n_pred), tp / max(1e-9, n_pos))
    return best


def chain_labels(chains: Chains, truth_m: list[np.ndarray], *, extend_m: float = 4.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Label each chain by the share of its length within 1 m of a true track.

    Returns ``(y, length_m)``: 1 at 80 % or more, 0 at 30 % or less, -1 between.
    """
    y = np.full(len(chains.chains), -1, np.int8)
    length = np.zeros(len(chains.chains))
    for k in range(len(chains.chains)):
        poly = chains.polyline(k, extend_m)
        length[k] = polyline_length(poly)
        pts = resample_polyline(poly, 1.0)
        share = float(np.mean(nearest_on_polylines(pts, truth_m)[0] <= 1.0)) if truth_m else 0.0
        y[k] = 1 if share >= 0.8 else (0 if share <= 0.3 else -1)
    return y, length


def fit_track_models(scenes: list[SceneCandidates], *, seed: int = 0, max_iter: int = 150):
    """Fit the point stages and the chain model; return ``(stage1, stage2, chain_model, thresholds, report)``.

    Every stage is judged (and its threshold chosen) on out-of-fold
    predictions: scenes are held out in turn, 4 folds.
    """
    from sklearn.model_selection import GroupKFold

    X = np.concatenate([sc.cand.features for sc in scenes])
    y = np.concatenate([sc.y for sc in scenes])
    groups = np.concatenate([np.full(len(sc.y), i) for i, sc in enumerate(scenes)])
    bounds = np.cumsum([0] + [len(sc.y) for sc in scenes])
    lab = y >= 0
    p1_oof = _oof(X, y, groups, lab, seed, max_iter)
    ctx = np.concatenate(_context(scenes, [p1_oof[a:b] for a, b in zip(bounds[:-1], bounds[1:])]))
    X2 = np.hstack([X, ctx])
    live = p1_oof >= CASCADE_MIN_P
    p2_oof = np.zeros(len(y))
    p2_oof[live] = _oof(X2[live], y[live], groups[live], lab[live], seed, max_iter)
    thr, f1, prec, rec = _best_threshold(p2_oof[lab], y[lab])
    _, f1_1, _, _ = _best_threshold(p1_oof[lab], y[lab])
    stage1 = _fit(X, y, lab, seed, max_iter)
    stage2 = _fit(X2, y, lab & live, seed, max_iter)
    # chains of each scene from the out-of-fold point probabilities
    CF, CY, CW, CG = [], [], [], []
    for i, (sc, a, b) in enumerate(zip(scenes, bounds[:-1], bounds[1:])):
        ch = link_points(sc.cand, p2_oof[a:b], gsd=sc.gsd, threshold=thr)
        if not ch.chains:
            continue
        cy, cw = chain_labels(ch, sc.truth_m)
        CF.append(chain_features(ch))
        CY.append(cy)
        CW.append(cw)
        CG.append(np.full(len(cy), i))
    CFa, CYa, CWa, CGa = (np.concatenate(v) for v in (CF, CY, CW, CG))
    clab = CYa >= 0
    pc_oof = np.zeros(len(CYa))
    for tr, te in GroupKFold(n_splits=4).split(CFa, CYa, CGa):
        trl = tr[clab[tr]]
        model = _classifier(seed, max_iter).fit(CFa[trl], CYa[trl], sample_weight=CWa[trl])
        pc_oof[te] = model.predict_proba(CFa[te])[:, 1]
    cthr, cf1, cprec, crec = _best_threshold(pc_oof[clab], CYa[clab], CWa[clab])
    chain_model = _classifier(seed, max_iter).fit(CFa[clab], CYa[clab], sample_weight=CWa[clab])
    report = {
        "n_samples": int(lab.sum()), "n_positive": int((y == 1).sum()), "n_scenes": len(scenes),
        "oof_f1_stage1": round(f1_1, 4), "oof_f1": round(f1, 4), "oof_precision": round(prec, 4),
        "oof_recall": round(rec, 4), "n_chains": int(clab.sum()), "chain_oof_f1_by_length": round(cf1, 4),
        "chain_oof_precision": round(cprec, 4), "chain_oof_recall": round(crec, 4),
    }
    return stage1, stage2, chain_model, (thr, cthr), report
