"""``python -m railcount.training`` (``make train``): retrain the detector's models on simulated scenes.

Renders the training scenes of :func:`railcount.synth.training_specs` (cached
as ``.npz`` files, so a second run only refits; ``--oblique-share`` sees some
of them off nadir), then fits

- the track-point and track-chain models (:mod:`railcount.training.tracks`),
- the car body, coupling-gap and verifier models (:mod:`railcount.training.cars`;
  ``--grey-share`` of the scenes seen as one grey band),

and writes them as plain arrays to ``railcount/data/``; then scans validation
scenes (other seeds) with them and measures the errors the count intervals
are made of (:mod:`railcount.training.calibration`, ``calibration.json``). Every choice made
from data (thresholds) is made on out-of-fold predictions; no real image and
no benchmark scene is used.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("railcount.training")

DATA = Path(__file__).resolve().parents[1] / "data"
#: Training scenes the packaged models are fitted on.
SCENES = 90
#: Share of them seen off nadir (cars lean, their sides show, as in orthophotos and off-nadir satellite images);
#: the packaged models see every scene straight down.
OBLIQUE_SHARE = 0.0
#: Share of the scenes the car models see as one grey band (panchromatic imagery has no colour); the
#: packaged models see every scene in colour.
GREY_SHARE = 0.0


def render_cached(n: int, cache: Path, seed0: int = 20000, oblique_share: float = 0.0) -> list[Path]:
    """Render (or reuse) the first ``n`` training scenes from ``seed0`` as ``.npz`` files in ``cache``."""
    from ..synth import render_scene
    from ..synth.sets import training_specs

    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in training_specs(n, seed0=seed0, oblique_share=oblique_share):
        path = cache / f"{spec.name}.npz"
        paths.append(path)
        if path.exists():
            continue
        scene = render_scene(spec)
        inv = ~scene.transform
        tracks = []
        for t in scene.tracks:
            xy = np.asarray(t, float).reshape(-1, 2)
            c, r = inv * (xy[:, 0], xy[:, 1])
            tracks.append(np.column_stack([r, c]))
        cars = []
        for car in scene.cars:
            c, r = inv * car.centre_xy
            cars.append((r, c, car.angle_deg, car.length_m, car.width_m, car.track_id))
        tmp = path.with_suffix(".part.npz")
        arrays: dict[str, Any] = {f"track{i}": t for i, t in enumerate(tracks)}
        arrays.update(pixels=scene.pixels, gsd=scene.gsd, cars=np.asarray(cars, float).reshape(-1, 6),
                      ntracks=len(tracks))
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
        log.info("rendered %s (%.2f m, %d cars)", spec.name, spec.gsd, len(scene.cars))
    return paths


def load_scene(path: Path) -> tuple[np.ndarray, float, list[np.ndarray], np.ndarray]:
    """Image ``(rows, cols, 3)``, GSD, true track centrelines (pixels) and cars of a cached scene."""
    with np.load(path) as d:
        tracks = [d[f"track{k}"] for k in range(int(d["ntracks"]))]
        return np.moveaxis(d["pixels"], 0, -1), float(d["gsd"]), [t for t in tracks if len(t) > 1], d["cars"]


def _save(name: str, model, meta: dict) -> None:
    from ..detect.forest import export_hgb, load_forest

    arrays: dict[str, Any] = export_hgb(model, meta).to_arrays()
    np.savez_compressed(DATA / f"{name}.npz", **arrays)
    load_forest.cache_clear()  # later steps (the car step mines the new track finder's false tracks) load it anew
    log.info("wrote %s", DATA / f"{name}.npz")


def train_tracks(paths: list[Path]) -> dict:
    from ..detect.tracks import CHAIN_NAMES, CONTEXT_NAMES, CUE_NAMES
    from .tracks import fit_track_models, scene_candidates

    scenes = []
    for p in paths:
        image, gsd, tracks, _ = load_scene(p)
        scenes.append(scene_candidates(image, gsd, tracks))
    stage1, stage2, chains, (thr, cthr), report = fit_track_models(scenes)
    _save("track_points_1", stage1, {"features": list(CUE_NAMES), **report})
    _save("track_points_2", stage2, {"features": list(CUE_NAMES) + list(CONTEXT_NAMES), "threshold": thr, **report})
    _save("track_chains", chains, {"features": list(CHAIN_NAMES), "threshold": cthr, **report})
    return report


def train_cars(paths: list[Path], seed: int = 0, grey_share: float = GREY_SHARE) -> dict:
    from ..detect.cars import CANDIDATE_NAMES
    from ..detect.strips import POSITION_NAMES
    from ..priors import INDIVIDUAL_MAX_GSD
    from .cars import fit_car_models, scene_strips

    rng = np.random.default_rng(seed)
    grey_rng = np.random.default_rng([seed, 71])  # a stream of its own: the other draws do not move with the share
    scenes = []
    for p in paths:
        image, gsd, tracks, cars = load_scene(p)
        grey = bool(grey_rng.random() < grey_share)
        if gsd <= INDIVIDUAL_MAX_GSD:
            scenes.append(scene_strips(image, gsd, tracks, cars, rng=rng, grey=grey))
    body, gap, verify, thr, report = fit_car_models(scenes, seed=seed)
    _save("car_body", body, {"features": list(POSITION_NAMES), **report})
    _save("car_gap", gap, {"features": list(POSITION_NAMES), **report})
    # the detector takes cars at its own threshold (detect.cars.VERIFY_P); this one is the verifier's best alone
    _save("car_verify", verify, {"features": list(CANDIDATE_NAMES), "oof_best_threshold": thr, **report})
    return report


def calibrate(paths: list[Path]) -> dict:
    from .calibration import fit_calibration, scene_errors

    scenes = []
    for p in paths:
        image, gsd, _, cars = load_scene(p)
        scenes.append(scene_errors(image, gsd, cars))
        log.info("scanned %s", p.name)
    cal = fit_calibration(scenes)
    path = DATA / "calibration.json"
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(cal, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    log.info("wrote %s", path)
    return cal


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m railcount.training", description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=SCENES, help=f"number of training scenes (default {SCENES})")
    ap.add_argument("--cache", type=Path,
                    help="scene cache folder (default build/train; build/train_oblique<share> for another share)")
    ap.add_argument("--oblique-share", type=float, default=OBLIQUE_SHARE,
                    help=f"share of the scenes seen off nadir (default {OBLIQUE_SHARE:g})")
    ap.add_argument("--grey-share", type=float, default=GREY_SHARE,
                    help=f"share of the scenes the car models see as one grey band (default {GREY_SHARE:g})")
    ap.add_argument("--only", choices=("tracks", "cars", "calibration"), help="fit one part only")
    ap.add_argument("--validation", type=int, default=80,
                    help="number of validation scenes the count intervals are calibrated on (default 80)")
    args = ap.parse_args(argv)
    for name in ("oblique_share", "grey_share"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            ap.error(f"--{name.replace('_', '-')} must be between 0 and 1")
    if args.cache is None:  # a scene seen off nadir has the name of the same scene seen straight down
        other = args.oblique_share != OBLIQUE_SHARE
        args.cache = Path("build/train" + (f"_oblique{args.oblique_share:g}" if other else ""))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    paths = [] if args.only == "calibration" else render_cached(args.scenes, args.cache,
                                                                 oblique_share=args.oblique_share)
    reports = {}
    if args.only in (None, "tracks"):
        reports["tracks"] = train_tracks(paths)
    if args.only in (None, "cars"):
        reports["cars"] = train_cars(paths, grey_share=args.grey_share)
    if args.only in (None, "calibration"):
        # after the models: the intervals describe the errors of the models just written
        from .calibration import VALIDATION_SEED0

        val = render_cached(args.validation, args.cache.with_name(args.cache.name + "_validation"), VALIDATION_SEED0,
                            args.oblique_share)
        reports["calibration"] = calibrate(val)
    print(json.dumps(reports, indent=1))
    print(f"trained in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
