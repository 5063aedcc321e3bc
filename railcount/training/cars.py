"""Train the car stage of the detector (:mod:`railcount.detect.cars`) on simulated scenes.

For each simulated scene, strips are sampled along its *true* track
centrelines, each shifted sideways by a random offset (sd ``JITTER_M``) as a
found track may be, and some also well off to one side (0.6-3.5 m, on a
train's edge or its shadow; a share ``SHIFTED_SHARE``), so that the models
learn what a track seen off-centre looks like; every position is labelled against the true cars:

- ``body``: 1 inside a car's body (more than 0.3 m from its ends), 0 off every
  body by more than 0.3 m, left out between;
- ``gap``: 1 between two coupled cars (within 1 m of both their ends), 0 deep
  inside a body (more than 1.5 m from its ends), left out elsewhere.

The candidate cars that :func:`railcount.detect.cars.split_run` cuts from the
body runs of the out-of-fold body and gap probabilities are labelled by
matching their centres to true cars (within ``MATCH_M`` along the track) and
train the verifier.

The strips also run along the lines the track finder takes for tracks, or
nearly does, where no track is (:func:`false_tracks`: along container stacks,
roofs, roads): every car found there is a false car, and the models learn it
from the look-alikes that fool the finder, not from lines drawn at random.
Nothing at run time imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detect.cars import Candidate, candidate_features, candidates_of
from ..detect.geometry import nearest_on_polylines, resample_polyline
from ..detect.image import to_luminance
from ..detect.strips import position_features, strip_signals, track_strips
from ..detect.tracks import TrackLine, TrackSet, find_tracks

__all__ = ["SceneStrips", "scene_strips", "false_tracks", "car_labels", "fit_car_models", "JITTER_M", "MATCH_M",
           "FALSE_TRACK_M", "FALSE_TRACK_SHARE"]

#: Sideways shift of the true centrelines strips are sampled along (sd, metres).
JITTER_M = 0.25
#: Share of true tracks that also give a strip shifted 0.6-3.5 m sideways (onto a car's edge, or its shadow
#: beside it, where a found track may run; from 3.5 m on, the strips beside the tracks take over).
SHIFTED_SHARE = 0.3
#: Share of true tracks that also give a strip 3.5-12 m beside them (another track, or none).
BESIDE_SHARE = 0.4
#: Largest distance of a candidate car's centre from a true car's centre, metres.
MATCH_M = 3.0
#: A line the track finder takes (or doubts) is a false track where less than :data:`FALSE_TRACK_SHARE` of
#: its length lies within :data:`FALSE_TRACK_M` of a true track (nearer lines are the shifted strips' part).
FALSE_TRACK_M = 1.5
FALSE_TRACK_SHARE = 0.3


@dataclass(frozen=True)
class SceneStrips:
    """Position features and labels of every strip of one scene, and its true cars."""

    features: list[np.ndarray]  # per strip: (n, len(POSITION_NAMES))
    signals: list[np.ndarray]  # per strip: (len(SIGNAL_NAMES), n)
    body: list[np.ndarray]  # per strip: (n,) labels
    gap: list[np.ndarray]
    centres: list[np.ndarray]  # per strip: (n, 2) centreline, pixels
    cars: np.ndarray  # (m, 2) true car centres, pixels
    gsd: float


def car_labels(centre: np.ndarray, cars: np.ndarray, gsd: float) -> tuple[np.ndarray, np.ndarray]:
    """Body and gap labels of centreline samples against true cars.

    Parameters
    ----------
    centre : ndarray, shape (n, 2)
        Samples as (row, col), continuous pixel coordinates.
    cars : ndarray, shape (m, 5+)
        True cars: centre row, centre col (continuous pixels), angle (degrees
        counter-clockwise from east), body length and width (metres).
    gsd : float

    Returns
    -------
    body, gap : ndarray of int8, shape (n,)
        1, 0, or -1 (left out).
    """
    n = len(centre)
    if len(cars) == 0:
        return np.zeros(n, np.int8), np.full(n, -1, np.int8)
    a = np.radians(cars[:, 2])
    along_dir = np.stack([-np.sin(a), np.cos(a)], 1)  # (row, col) on a north-up raster
    rel = centre[:, None, :] - cars[None, :, :2]
    along = np.abs((rel * along_dir[None]).sum(-1)) * gsd
    across = np.abs(rel[..., 0] * along_dir[None, :, 1] - rel[..., 1] * along_dir[None, :, 0]) * gsd
    half = cars[:, 3] / 2
    on = across <= cars[:, 4][None] / 2
    inside = on & (along <= half[None] - 0.3)
    near = on & (along <= half[None] + 0.3)
    body = np.zeros(n, np.int8)
    body[inside.any(1)] = 1
    body[~inside.any(1) & near.any(1)] = -1
    beyond = along - half[None]
    between = (on & (beyond > -0.2) & (beyond < 1.0)).sum(1) >= 2
    deep = np.min(np.where(inside, half[None] - along, np.inf), axis=1) > 1.5
    gap = np.where(between, 1, np.where(deep, 0, -1)).astype(np.int8)
    return body, gap


def false_tracks(lum: np.ndarray, mask: np.ndarray, gsd: float, tracks_px: list[np.ndarray]) -> list[TrackLine]:
    """The lines the packaged track finder takes for tracks, or doubts, that lie off every true track.

    Parameters
    ----------
    lum, mask : ndarray, shape (rows, cols)
        Luminance and valid pixels of a scene.
    gsd : float
    tracks_px : list of ndarray
        True track centrelines, pixels.

    Returns
    -------
    list of TrackLine
        Found or doubtful lines of which less than :data:`FALSE_TRACK_SHARE`
        lies within :data:`FALSE_TRACK_M` of a true track.
    """
    found = find_tracks(lum, mask, gsd=gsd)
    truth = [np.asarray(t, float) for t in tracks_px if len(t) > 1]
    out = []
    for t in found.tracks + found.doubtful:
        pts = resample_polyline(t.points, 1.0 / gsd)
        share = float(np.mean(nearest_on_polylines(pts, truth)[0] <= FALSE_TRACK_M / gsd)) if truth else 0.0
        if len(pts) >= 2 and share < FALSE_TRACK_SHARE:
            out.append(TrackLine(t.points, 1.0))
    return out


def scene_strips(image: np.ndarray, gsd: float, tracks_px: list[np.ndarray], cars: np.ndarray, *,
                 rng: np.random.Generator, grey: bool = False) -> SceneStrips:
    """Strips along the (jittered) true tracks of one scene and its false tracks, with position labels.

    ``grey``: see the scene as one band (its luminance), as a panchromatic
    image shows it: no colour.
    """
    mask = np.ones(image.shape[:2], bool)
    lum, chroma = to_luminance(image, mask)
    if grey:
        chroma = np.zeros_like(chroma)
    lines = false_tracks(lum, mask, gsd, tracks_px)
    for t in tracks_px:
        t = np.asarray(t, float)
        if len(t) < 2:
            continue
        tan = np.gradient(t, axis=0)
        tan /= np.maximum(np.hypot(tan[:, 0], tan[:, 1]), 1e-9)[:, None]
        nrm = np.column_stack([tan[:, 1], -tan[:, 0]])
        lines.append(TrackLine(t + nrm * rng.normal(0, JITTER_M) / gsd, 1.0))
        if rng.random() < SHIFTED_SHARE:  # a found track can run off the true one: learn what that looks like
            lines.append(TrackLine(t + nrm * rng.choice([-1, 1]) * rng.uniform(0.6, 3.5) / gsd, 1.0))
        if rng.random() < BESIDE_SHARE:  # and beside the tracks: a neighbour track, a road, a platform, a roof
            lines.append(TrackLine(t + nrm * rng.choice([-1, 1]) * rng.uniform(3.5, 12.0) / gsd, 1.0))
    strips = track_strips(lum, chroma, mask, TrackSet(tuple(lines), gsd))
    feats, sigs, bodies, gaps, centres = [], [], [], [], []
    for s in strips:
        sig = strip_signals(s)
        b, g = car_labels(s.centre, cars, gsd)
        ok = s.core_valid()
        b = np.where(ok, b, -1).astype(np.int8)
        g = np.where(ok, g, -1).astype(np.int8)
        feats.append(position_features(sig, gsd))
        sigs.append(sig)
        bodies.append(b)
        gaps.append(g)
        centres.append(s.centre)
    return SceneStrips(feats, sigs, bodies, gaps, centres, np.asarray(cars, float)[:, :2].reshape(-1, 2), gsd)


def _label_candidates(cands: list[Candidate], sc: SceneStrips) -> np.ndarray:
    """1 where a candidate's centre is within MATCH_M of a true car's (one-to-one), else 0."""
    from scipy.optimize import linear_sum_assignment

    y = np.zeros(len(cands), np.int8)
    if not cands or not len(sc.cars):
        return y
    centres = np.array([sc.centres[c.strip][(c.i0 + c.i1 - 1) // 2] for c in cands])
    d = np.linalg.norm(centres[:, None] - sc.cars[None], axis=-1) * sc.gsd
    r, k = linear_sum_assignment(np.where(d <= MATCH_M, d, 1e6))
    y[r[d[r, k] <= MATCH_M]] = 1
    return y


def fit_car_models(scenes: list[SceneStrips], *, seed: int = 0, max_iter: int = 150):
    """Fit the body, gap and verifier models; return ``(body, gap, verify, verify_threshold, report)``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    def clf():
        return HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=31,
                                              min_samples_leaf=50, l2_regularization=1.0, random_state=seed)

    X = np.concatenate([f for sc in scenes for f in sc.features])
    B = np.concatenate([b for sc in scenes for b in sc.body])
    G = np.concatenate([g for sc in scenes for g in sc.gap])
    grp = np.concatenate([np.full(sum(len(b) for b in sc.body), i) for i, sc in enumerate(scenes)])
    pb_oof, pg_oof = np.zeros(len(B)), np.zeros(len(B))
    folds = list(GroupKFold(n_splits=4).split(X, B, grp))
    for tr, te in folds:
        for y, out in ((B, pb_oof), (G, pg_oof)):
            use = tr[y[tr] >= 0]
            out[te] = clf().fit(X[use], y[use]).predict_proba(X[te])[:, 1]
    body = clf().fit(X[B >= 0], B[B >= 0])
    gap = clf().fit(X[G >= 0], G[G >= 0])
    # candidates from the out-of-fold probabilities, scene by scene
    CF, CY, CG = [], [], []
    pos = 0
    n_true = 0
    for i, sc in enumerate(scenes):
        sizes = [len(b) for b in sc.body]
        pbs = np.split(pb_oof[pos : pos + sum(sizes)], np.cumsum(sizes)[:-1])
        pgs = np.split(pg_oof[pos : pos + sum(sizes)], np.cumsum(sizes)[:-1])
        pos += sum(sizes)
        cands = candidates_of(pbs, pgs)
        n_true += len(sc.cars)
        if not cands:
            continue
        CF.append(candidate_features(cands, pbs, pgs, sc.signals, sc.gsd))
        CY.append(_label_candidates(cands, sc))
        CG.append(np.full(len(cands), i))
    CFa, CYa, CGa = (np.concatenate(v) for v in (CF, CY, CG))
    pv_oof = np.zeros(len(CYa))
    for tr, te in GroupKFold(n_splits=4).split(CFa, CYa, CGa):
        pv_oof[te] = clf().fit(CFa[tr], CYa[tr]).predict_proba(CFa[te])[:, 1]
    best = (0.5, -1.0)
    for thr in np.arange(0.1, 0.91, 0.02):
        tp = float(((pv_oof >= thr) & (CYa == 1)).sum())
        f1 = 2 * tp / max(1.0, (pv_oof >= thr).sum() + n_true)
        if f1 > best[1]:
            best = (float(thr), f1)
    verify = clf().fit(CFa, CYa)
    mb, mg = B >= 0, G >= 0
    report = {
        "n_scenes": len(scenes), "n_positions": int(mb.sum()), "body_oof_accuracy":
            round(float(((pb_oof[mb] >= 0.5) == (B[mb] == 1)).mean()), 4),
        "gap_oof_accuracy": round(float(((pg_oof[mg] >= 0.5) == (G[mg] == 1)).mean()), 4),
        "n_candidates": int(len(CYa)), "n_true_cars": int(n_true),
        "candidate_recall": round(float(CYa.sum()) / max(1, n_true), 4),
        "verified_oof_f1": round(best[1], 4),
    }
    return body, gap, verify, best[0], report

