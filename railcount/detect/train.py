"""Reproducible training of the detector on simulated scenes (``make train``).

1. Render training scenes with :mod:`railcount.synth` (seeds disjoint from the
   benchmark set and from the validation scenes).
2. Fit a small multilayer perceptron on per-pixel features (car body or not),
   separately for fine (<= 0.8 m) and coarse (0.8-3 m) imagery, and store its
   arrays as ``railcount/data/pixel_{fine,coarse}.npz``.
3. Choose the splitting parameters (threshold, gap weight, cut cost) by grid
   search for the best F1 on training scenes; store ``split_params.json``.
4. Measure count errors on validation scenes and store the quantiles that set
   count intervals: ``calibration.json``.

Nothing here reads the real imagery the benchmarks report on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parents[1] / "data"
TRAIN_SEED0 = 100_000
VALID_SEED0 = 200_000


def _specs(gsds, seed0, n_per_gsd, *, dense_every=3):
    from ..synth import SceneSpec

    specs = []
    rng = np.random.default_rng(seed0)
    for gi, gsd in enumerate(gsds):
        for k in range(n_per_gsd):
            seed = seed0 + 100 * gi + k
            n_tracks = int(rng.choice([6, 8, 10, 12]))
            cap = 12 * n_tracks  # comfortably below what fits on n_tracks of 300 m
            n_cars = int(rng.choice([0, 8, 20, 40, 70, 100])) if k % dense_every else int(rng.integers(40, 120))
            specs.append(SceneSpec(gsd=float(gsd), n_cars=min(n_cars, cap), n_tracks=n_tracks, seed=seed,
                                   width_m=300.0, height_m=250.0))
    return specs


def _render(spec):
    """Render a spec; a scene too full for its layout gets 15% fewer cars until it fits."""
    from ..synth import render_scene
    from ..synth.layout import CapacityError

    while True:
        try:
            return render_scene(spec)
        except CapacityError:
            spec = spec.replace(n_cars=int(spec.n_cars * 0.85))


def render_all(specs, workers=2):
    """Render scenes in parallel (deterministic: each scene depends on its spec only)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(_render, specs))


def _corridor_mask(scene, shape, half_m=3.5):
    """Pixels within ``half_m`` of any track centreline (hard negatives live here)."""
    from scipy import ndimage
    from skimage.draw import line

    inv = ~scene.transform
    canvas = np.zeros(shape, bool)
    for track in scene.tracks:
        pts = np.array([inv * tuple(p) for p in getattr(track, "points", track)])
        for (c0, r0), (c1, r1) in zip(pts[:-1], pts[1:]):
            rr, cc = line(int(r0), int(c0), int(r1), int(c1))
            ok = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
            canvas[rr[ok], cc[ok]] = True
    return ndimage.distance_transform_edt(~canvas) * scene.gsd <= half_m


def _truth_mask(scene, shape):
    from skimage.draw import polygon

    inv = ~scene.transform
    mask = np.zeros(shape, bool)
    for car in scene.cars:
        pts = np.array([inv * (x, y) for x, y in car.corners_xy])  # (col, row), continuous
        rr, cc = polygon(pts[:, 1] - 0.5, pts[:, 0] - 0.5, shape)
        mask[rr, cc] = True
    return mask


def _augment(img, rng):
    """Random photometric changes (gamma, contrast, colour balance, blur, noise).

    They widen the range of looks the model sees beyond the simulator's own,
    so that it leans on structure (edges, shadows, hidden rails) more than on
    particular brightness or colour.
    """
    from scipy import ndimage

    x = img.astype(np.float32) / 255.0
    x = x ** rng.uniform(0.7, 1.4)
    x = x * rng.uniform(0.85, 1.15, size=3) * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08)
    sigma = rng.uniform(0.0, 1.0)
    if sigma > 0.3:
        x = ndimage.gaussian_filter(x, (sigma, sigma, 0))
    x = x + rng.normal(0, rng.uniform(0, 0.02), x.shape)
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def _scene_samples(scene, rng, n_samples, model=None):
    from ..detect.core import FINEST_WORK_GSD, _angles, frame_features
    from ..detect.frame import to_luminance

    img = _augment(scene.pixels.transpose(1, 2, 0), rng)
    m = np.ones(img.shape[:2], bool)
    lum, chroma = to_luminance(img, m)
    truth = _truth_mask(scene, m.shape).astype(np.float32)
    from scipy import ndimage

    near_cars = ndimage.binary_dilation(truth > 0, iterations=max(1, int(6.0 / scene.gsd)))
    hard_mask = (_corridor_mask(scene, m.shape) | near_cars).astype(np.float32)
    work = max(scene.gsd, FINEST_WORK_GSD)
    xs, ys = [], []
    for angle in _angles(lum, m, scene.gsd, None, 1):
        frame, _, valid, feats = frame_features(lum, chroma, m, scene.gsd, angle, work)
        lab = frame.warp(truth, order=0) > 0.5
        hard = frame.warp(hard_mask, order=0) > 0.5
        flat = feats.reshape(-1, feats.shape[-1])
        idx_pos = np.flatnonzero(lab & valid)
        idx_hard = np.flatnonzero(~lab & hard & valid)
        idx_easy = np.flatnonzero(~lab & ~hard & valid)
        k = n_samples // 2
        groups = [(idx_pos, k, 1), (idx_hard, (2 * k) // 3, 0), (idx_easy, k // 3, 0)]
        if model is not None:
            # hard negative mining: what the previous round mistook for a car
            prob = model.predict(feats)
            groups.append((np.flatnonzero((prob > 0.4) & ~lab & valid), k // 2, 0))
        for idx, n, y in groups:
            n = min(n, idx.size)
            if n:
                xs.append(flat[rng.choice(idx, n, replace=False)])
                ys.append(np.full(n, y))
    return np.concatenate(xs), np.concatenate(ys)


def fit_pixel_model(scenes, *, seed=0, n_samples=8000, hidden=(32, 16), rounds=2, select=None):
    """Fit the pixel model on rendered scenes; return a PixelModel.

    Each round after the first adds the negatives the previous model scored
    above 0.4 (hard negative mining: look-alikes, empty track beds, shadows).
    """
    from sklearn.neural_network import MLPClassifier

    from .model import PixelModel

    model = None
    for rnd in range(rounds):
        rng = np.random.default_rng(seed + rnd)
        X, y = [], []
        for sc in scenes:
            a, b = _scene_samples(sc, rng, n_samples, model)
            X.append(a if select is None else a[:, select])
            y.append(b)
        X = np.concatenate(X)
        y = np.concatenate(y)
        mean = X.mean(axis=0)
        scale = X.std(axis=0) + 1e-6
        clf = MLPClassifier(hidden_layer_sizes=hidden, alpha=1e-3, max_iter=400, early_stopping=True,
                            random_state=seed, n_iter_no_change=20)
        clf.fit((X - mean) / scale, y)
        log.info("pixel model round %d: %d samples, %.1f%% positive, validation score %.3f", rnd + 1, len(y),
                 100 * y.mean(), clf.best_validation_score_)
        model = PixelModel(mean.astype(np.float32), scale.astype(np.float32),
                           tuple(w.astype(np.float32) for w in clf.coefs_),
                           tuple(b.astype(np.float32) for b in clf.intercepts_),
                           {"samples": int(len(y)), "hidden": list(hidden), "rounds": rnd + 1,
                            "val_score": float(clf.best_validation_score_)},
                           None if select is None else np.asarray(select, np.int64))
    return model


def prob_frames(scenes, model):
    """Probability frames of each scene (the expensive, parameter-free stages)."""
    from .core import probability_frames

    out = []
    for sc in scenes:
        img = sc.pixels.transpose(1, 2, 0)
        out.append(probability_frames(img, np.ones(img.shape[:2], bool), sc.gsd, model))
    return out


def evaluate(scenes, frames, split):
    """Score the detector on rendered scenes: per-scene (true, found, tp, n_detections)."""
    from ..evaluate import match_centres
    from .core import cars_from_frames

    out = []
    for sc, fr in zip(scenes, frames):
        found = cars_from_frames(fr, sc.gsd, split)
        true_rc = _truth_centres(sc)
        det_rc = np.array([[d.row, d.col] for d in found.detections]).reshape(-1, 2)
        tp = match_centres(true_rc * sc.gsd, det_rc * sc.gsd, 6.0) if found.mode == "individual" else 0
        out.append((len(true_rc), found.cars, tp, len(det_rc)))
    return out


def _truth_centres(scene):
    inv = ~scene.transform
    pts = [inv * car.centre_xy for car in scene.cars]
    return np.array([[r, c] for c, r in pts]).reshape(-1, 2)


def _f1(rows):
    t = sum(r[0] for r in rows)
    tp = sum(r[2] for r in rows)
    f = sum(r[3] for r in rows)
    p = tp / f if f else 1.0
    r = tp / t if t else 1.0
    return 2 * p * r / (p + r) if p + r else 0.0


def main(argv=None):
    from .consist import SplitParams

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DATA))
    ap.add_argument("--quick", action="store_true", help="fewer scenes (for a smoke test)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    n = 2 if args.quick else 5
    t0 = time.time()
    result = {}
    for band, gsds in (("fine", [0.25, 0.3, 0.4, 0.5, 0.6, 0.75]), ("coarse", [0.9, 1.2, 1.6, 2.0, 2.5, 3.0])):
        scenes = render_all(_specs(gsds, TRAIN_SEED0 + (0 if band == "fine" else 50_000), n))
        model = fit_pixel_model(scenes)
        np.savez_compressed(out / f"pixel_{band}.npz", **model.to_arrays())
        log.info("%s: model fitted on %d scenes (%.0f s)", band, len(scenes), time.time() - t0)
        result[band] = (model, scenes)
    # splitting parameters: grid search on the fine training scenes
    model, scenes = result["fine"]
    frames = prob_frames(scenes, model)
    best = None
    for thr in (0.3, 0.4, 0.5):
        for bridge in (2.5, 5.0):
            for smooth in (0.4, 3.0):
                split = SplitParams(threshold=thr, bridge_m=bridge, smooth_along_m=smooth)
                f1 = _f1(evaluate(scenes, frames, split))
                if best is None or f1 > best[0]:
                    best = (f1, split)
                log.info("threshold %.1f bridge %.1f m smooth %.1f m: F1 %.3f", thr, bridge, smooth, f1)
    f1, split = best
    log.info("chosen split parameters %s (training F1 %.3f)", split, f1)
    (out / "split_params.json").write_text(json.dumps(dataclasses.asdict(split), indent=1) + "\n")
    # calibration on validation scenes
    cal = {"confidence": 0.9}
    for band, gsds in (("individual", [0.25, 0.35, 0.5, 0.6, 0.75]), ("estimate", [0.9, 1.3, 1.8, 2.4, 3.0])):
        vs = render_all(_specs(gsds, VALID_SEED0 + (0 if band == "individual" else 50_000), n))
        mdl = result["fine" if band == "individual" else "coarse"][0]
        rows = evaluate(vs, prob_frames(vs, mdl), split)
        rel = np.array([(f - t) / t for t, f, _, _ in rows if t >= 5])
        small = np.array([abs(f - t) for t, f, _, _ in rows if t < 5] or [0.0])
        cal[band] = {"rel_q_low": float(np.quantile(rel, 0.05)), "rel_q_high": float(np.quantile(rel, 0.95)),
                     "rel_median": float(np.median(rel)),
                     "abs_small": float(np.ceil(np.quantile(small, 0.9))), "n_scenes": len(rows),
                     "validation_f1": _f1(rows)}
        log.info("%s calibration: %s", band, cal[band])
    (out / "calibration.json").write_text(json.dumps(cal, indent=1) + "\n")
    log.info("done in %.0f s", time.time() - t0)


if __name__ == "__main__":
    main()
