"""Accuracy benchmark of railcount's tracks and railcars (``make bench-accuracy``).

Scores ``railcount.scan`` against truth on
  (a) the simulator's benchmark scene set (regenerated deterministically; SIMULATED),
  (b) packagings of some of those scenes that must not change the answer
      (rotated, grey, uint16, float with NaN, RGBA, JPEG, EPSG:4326, EPSG:3857,
      small windows, several workers),
  (c) the real Muttenz yard at 0.255 m and 0.51 m (``../shared/real``, if present),
  (d) real tiles with no railcars (``../shared/real/no_railcars``, if present).

Cars: a match is a detection whose centre lies within 6 m of a true car's
centre, one-to-one. Tracks: recall is the share of true track length (sampled
every metre, more than 10 m inside the picture) within 1 m of a found track,
precision the share of found track length within 1 m of a true track. On
Muttenz only wagons whose centres lie more than 10 m inside the picture are
labelled, so detections within 10 m of its edge are not scored; its tracks are
scored by the share of labelled wagons whose centre lies within 1 m of a found
track running within 5 degrees of the wagon's long axis.

Every miss and every false car is put down to a stage: a miss with no found
track within 1 m of its centre is "no track found", else "not found on its
track" (consist, split or verifier); a false car on a track that is not a true
track is "false track", else "on a true track" (a wrong split or an empty
stretch taken for a car).

Writes ``docs/accuracy.md`` and ``benchmarks/results/accuracy.json``; prints a summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from variants import make_variant  # noqa: E402

from railcount import io  # noqa: E402
from railcount.errors import RailcountError, ResolutionTooCoarseError  # noqa: E402
from railcount.evaluate import score_centres, score_tracks  # noqa: E402
from railcount.scan import scan  # noqa: E402

#: Scenes whose packagings are scanned too (names of railcount.synth.benchmark_specs()).
VARIANT_SCENES = ("b13_gsd0.5", "b11_gsd0.3", "b29_curved", "b48_ballast", "b51_crossovers", "b05_density75")
VARIANT_KINDS = ("rotated", "grey", "uint16", "float_nan", "rgba", "jpeg", "epsg4326", "epsg3857")


def _to_map(lonlat: np.ndarray, crs) -> np.ndarray:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lonlat[:, 0], lonlat[:, 1])
    return np.column_stack([x, y])


def _car_centres(geojson: dict, crs) -> np.ndarray:
    pts = [np.asarray(f["geometry"]["coordinates"][0], float)[:-1].mean(0) for f in geojson["features"]]
    return _to_map(np.asarray(pts).reshape(-1, 2), crs)


def _detections(res, crs) -> np.ndarray:
    pts = [np.asarray(d.corners_lonlat).mean(0) for d in res.detections if d.corners_lonlat]
    return _to_map(np.asarray(pts).reshape(-1, 2), crs)


def _found_tracks(res, crs) -> list[np.ndarray]:
    return [_to_map(np.asarray(t.coords_lonlat), crs) for t in res.tracks if t.coords_lonlat]


def _true_tracks(path: Path, crs) -> list[np.ndarray]:
    doc = io.read_geojson(path)
    return [_to_map(np.asarray(f["geometry"]["coordinates"], float), crs) for f in doc["features"]
            if f.get("geometry") and len(f["geometry"]["coordinates"]) >= 2]


def _extent(raster_path: Path, crs) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of a raster's footprint in ``crs`` (its corners, reprojected)."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(raster_path) as src:
        t, w, h, src_crs = src.transform, src.width, src.height, src.crs
    cs = np.array([t * (0, 0), t * (w, 0), t * (0, h), t * (w, h)])
    x, y = Transformer.from_crs(src_crs, crs, always_xy=True).transform(cs[:, 0], cs[:, 1])
    return float(min(x)), float(min(y)), float(max(x)), float(max(y))


def _inner(extent, margin):
    x0, y0, x1, y1 = extent
    return (x0 + margin, y0 + margin, x1 - margin, y1 - margin)


def _attribute(truth: np.ndarray, found: np.ndarray, true_tracks, found_tracks) -> dict[str, int]:
    """Put each miss and each false car down to a stage (see the module docstring)."""
    from scipy.optimize import linear_sum_assignment

    from railcount.detect.geometry import nearest_on_polylines

    out = {"miss_no_track": 0, "miss_on_track": 0, "false_on_false_track": 0, "false_on_true_track": 0}
    matched_t, matched_f = np.zeros(len(truth), bool), np.zeros(len(found), bool)
    if len(truth) and len(found):
        d = np.linalg.norm(truth[:, None] - found[None], axis=-1)
        r, c = linear_sum_assignment(np.where(d <= 6.0, d, 1e9))
        ok = d[r, c] <= 6.0
        matched_t[r[ok]] = True
        matched_f[c[ok]] = True
    miss = truth[~matched_t]
    if len(miss):
        near = nearest_on_polylines(miss, found_tracks)[0] <= 1.0
        out["miss_no_track"], out["miss_on_track"] = int((~near).sum()), int(near.sum())
    false = found[~matched_f]
    if len(false):
        on_true = nearest_on_polylines(false, true_tracks)[0] <= 1.0
        out["false_on_true_track"], out["false_on_false_track"] = int(on_true.sum()), int((~on_true).sum())
    return out


def _row(name, kind, gsd, n_true, res, score=None, tracks=None, attribution=None, note="", **extra):
    row = {"scene": name, "set": kind, "gsd": round(gsd, 3), "true": n_true, "count": res.count if res else None,
           "low": res.count_low if res else None, "high": res.count_high if res else None,
           "mode": res.mode if res else "refused", "seconds": round(res.elapsed_s, 2) if res else None,
           "n_tracks": len(res.tracks) if res else None, "note": note}
    if score is not None:
        row.update(found=score.n_found, tp=score.tp, precision=round(score.precision, 3),
                   recall=round(score.recall, 3), f1=round(score.f1, 3))
    if tracks is not None:
        row.update(track_true_m=tracks.true_m, track_found_m=tracks.found_m,
                   track_recall=round(tracks.recall, 3), track_precision=round(tracks.precision, 3))
    if attribution:
        row.update(attribution)
    if res is not None:
        row["count_err"] = res.count - n_true
        row["rel_err"] = round((res.count - n_true) / n_true, 4) if n_true else None
        row["bounded"] = res.bounded
        # a count that cannot be bounded has no interval to hold the truth: reported, not scored
        row["covered"] = bool(res.count_low <= n_true <= res.count_high) if res.bounded else None
    row.update(extra)
    return row


def _scene_files(scene_dir: Path, spec) -> tuple[Path, Path, Path]:
    from railcount.synth import render_scene, write_scene

    path = scene_dir / f"{spec.name}_SIMULATED.tif"  # as `make scenes` names them
    truth = path.with_suffix(".truth.geojson")
    tracks = path.with_suffix(".tracks.geojson")
    if not (path.exists() and truth.exists() and tracks.exists()):
        write_scene(render_scene(spec), path)
    return path, truth, tracks


def score_scene(path: Path, truth_path: Path, tracks_path: Path, name: str, kind: str, gsd: float,
                variant: str | None = None, metric_crs=None, **scan_kw):
    """Scan one scene and score it in ``metric_crs`` (default: the raster's own CRS, which must be in metres)."""
    res = scan(path, **scan_kw)
    crs = metric_crs or res.crs
    truth = _car_centres(io.read_geojson(truth_path), crs)
    found = _detections(res, crs)
    true_tracks = _true_tracks(tracks_path, crs)
    found_tracks = _found_tracks(res, crs)
    extent = _extent(path, crs)
    ts = score_tracks(true_tracks, found_tracks, (extent[0], extent[1], extent[2], extent[3]))
    if res.mode == "individual":
        sc = score_centres(truth, found)
        attr = _attribute(truth, found, true_tracks, found_tracks)
    else:
        sc, attr = None, None
    extra = {"variant": variant} if variant else {}
    return _row(name, kind, gsd, len(truth), res, sc, ts, attr, **extra)


def simulated(scene_dir: Path, limit: int | None) -> list[dict]:
    from railcount.synth import benchmark_specs

    rows = []
    specs = benchmark_specs()[:limit] if limit else benchmark_specs()
    scene_dir.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        path, truth, tracks = _scene_files(scene_dir, spec)
        row = score_scene(path, truth, tracks, path.name, "simulated", spec.gsd)
        rows.append(row)
        interval = f"[{row['low']}-{row['high']}]" if row["bounded"] else "[cannot be bounded]"
        print(f"  {path.name} gsd {spec.gsd:.2f} true {row['true']:3d} count {row['count']:3d} {interval}"
              + (f" F1 {row['f1']:.3f}" if "f1" in row else "")
              + f" tracks R {row['track_recall']:.3f} P {row['track_precision']:.3f}", file=sys.stderr)
    return rows


def variants(scene_dir: Path) -> list[dict]:
    from railcount.synth import benchmark_specs

    rows = []
    specs = {s.name: s for s in benchmark_specs()}
    out_dir = scene_dir / "variants"
    for name in VARIANT_SCENES:
        if name not in specs:
            continue
        spec = specs[name]
        path, truth, tracks = _scene_files(scene_dir, spec)
        # every packaging is scored in the original's metric CRS (degrees, or the stretched metres of
        # EPSG:3857, would make the 1 m and 6 m tolerances meaningless)
        metric = io.raster_info(path)["crs"]
        base = score_scene(path, truth, tracks, path.name, "variant", spec.gsd, variant="original")
        rows.append(base)
        jobs = [(k, make_variant(k, path, out_dir), {}) for k in VARIANT_KINDS]
        jobs += [("windows256", path, {"window_px": 256}), ("windows1024", path, {"window_px": 1024}),
                 ("workers2", path, {"window_px": 512, "workers": 2})]
        for kind, vpath, kw in jobs:
            row = score_scene(vpath, truth, tracks, f"{path.name}:{kind}", "variant", spec.gsd, variant=kind,
                              metric_crs=metric, **kw)
            row["count_vs_original"] = round((row["count"] - base["count"]) / max(1, base["count"]), 4)
            rows.append(row)
            print(f"  {name}:{kind} count {row['count']} (original {base['count']}) tracks R {row['track_recall']:.3f}"
                  f" P {row['track_precision']:.3f}", file=sys.stderr)
    return rows


def _wagons(truth_doc: dict, crs) -> tuple[np.ndarray, np.ndarray]:
    centres, axes = [], []
    for f in truth_doc["features"]:
        ring = _to_map(np.asarray(f["geometry"]["coordinates"][0], float)[:-1], crs)
        q = ring - ring.mean(0)
        v = np.linalg.eigh(q.T @ q)[1][:, -1]
        centres.append(ring.mean(0))
        axes.append(math.degrees(math.atan2(v[1], v[0])) % 180.0)
    return np.asarray(centres), np.asarray(axes)


def muttenz() -> list[dict]:
    from railcount.detect.geometry import nearest_on_polylines

    rows = []
    folder = REAL / "muttenz_west"
    if not folder.is_dir():
        return rows
    truth_doc = io.read_geojson(folder / "muttenz_west_truth.geojson")
    for name in ("muttenz_west_025cm.tif", "muttenz_west_051cm.tif"):
        res = scan(folder / name)
        crs = res.crs
        t, axes = _wagons(truth_doc, crs)
        d = _detections(res, crs)
        x0, y0, x1, y1 = _inner(_extent(folder / name, crs), 10.0)
        inner = (d[:, 0] > x0) & (d[:, 0] < x1) & (d[:, 1] > y0) & (d[:, 1] < y1)
        sc = score_centres(t, d[inner])
        found_tracks = _found_tracks(res, crs)
        dist, ang, _ = nearest_on_polylines(t, found_tracks)
        # nearest_on_polylines measures angles from the second axis (y) towards the first (x)
        ang_xy = (90.0 - ang) % 180.0
        on = (dist <= 1.0) & (np.abs((ang_xy - axes + 90.0) % 180.0 - 90.0) <= 5.0)
        n_inner = int(inner.sum())
        res_inner = dataclasses.replace(res, count=n_inner)
        rows.append(_row(name, "real", res.gsd, len(t), res_inner, sc,
                         attribution=_attribute(t, d[inner], [], found_tracks),
                         note=f"{res.count} in the whole picture, {n_inner} more than 10 m inside",
                         wagons_on_track=int(on.sum())))
    return rows


def no_railcars() -> list[dict]:
    rows = []
    folder = REAL / "no_railcars"
    if not folder.is_dir():
        return rows
    res = scan(folder / "hro_colorado_springs_0.15m.tif")
    rows.append(_row("hro_colorado_springs_0.15m.tif", "no railcars", res.gsd, 0, res))
    bands = [folder / f"LC08_016037_20170813_B{b}.TIF" for b in (4, 3, 2)]
    try:
        res = scan(bands)
        rows.append(_row("LC08 B4/B3/B2 stack", "no railcars", res.gsd, 0, res))
    except ResolutionTooCoarseError as exc:
        rows.append(_row("LC08 B4/B3/B2 stack", "no railcars", 900.0, 0, None, note=f"refused: {exc}"))
    return rows


def _pooled_f1(rs: list[dict]) -> float:
    tp = sum(r["tp"] for r in rs)
    found = sum(r["found"] for r in rs)
    true = sum(r["true"] for r in rs)
    p = tp / found if found else 1.0
    rc = tp / true if true else 1.0
    return 2 * p * rc / (p + rc) if p + rc else 0.0


def summarise(rows: list[dict]) -> dict:
    sim = [r for r in rows if r["set"] == "simulated"]
    fine = [r for r in sim if r["gsd"] <= 0.8 and r["mode"] == "individual"]
    est = [r for r in sim if r["mode"] == "estimate"]
    out: dict = {}
    if fine:
        occupied = [r for r in fine if r["true"] > 0]
        out["sim_f1_pooled"] = round(_pooled_f1(fine), 4)
        out["sim_f1_min"] = min(r["f1"] for r in occupied) if occupied else None
        out["sim_mean_abs_rel_count_err"] = round(float(np.mean([abs(r["rel_err"]) for r in occupied])), 4)
        out["sim_scenes"] = len(fine)
        tt = sum(r["track_true_m"] for r in fine)
        tf = sum(r["track_found_m"] for r in fine)
        out["sim_track_recall_pooled"] = round(sum(r["track_recall"] * r["track_true_m"] for r in fine) / max(tt, 1), 4)
        out["sim_track_precision_pooled"] = round(
            sum(r["track_precision"] * r["track_found_m"] for r in fine) / max(tf, 1), 4)
        for k in ("miss_no_track", "miss_on_track", "false_on_false_track", "false_on_true_track"):
            out[f"sim_{k}"] = int(sum(r.get(k, 0) for r in fine))
    if est:
        out["sim_estimate_scenes"] = len(est)
        out["sim_estimate_unbounded"] = sum(not r["bounded"] for r in est)
    empty = [r for r in sim if r["true"] == 0 and r["mode"] == "individual"]
    out["sim_empty_false_cars_per_scene"] = round(float(np.mean([r["count"] for r in empty])), 2) if empty else None
    var = [r for r in rows if r["set"] == "variant" and r.get("variant") != "original"]
    if var:
        out["variants_max_abs_count_change"] = max(abs(r["count_vs_original"]) for r in var)
        out["variants_within_3pct"] = f"{sum(abs(r['count_vs_original']) <= 0.03 for r in var)}/{len(var)}"
        tt = sum(r["track_true_m"] for r in var)
        tf = sum(r["track_found_m"] for r in var)
        out["variants_track_recall_pooled"] = round(
            sum(r["track_recall"] * r["track_true_m"] for r in var) / max(tt, 1), 4)
        out["variants_track_precision_pooled"] = round(
            sum(r["track_precision"] * r["track_found_m"] for r in var) / max(tf, 1), 4)
    out.update(interval_summary(rows))
    for r in rows:
        if r["set"] == "real":
            out[f"{r['scene']}_f1"] = r["f1"]
            out[f"{r['scene']}_count"] = f"{r['count']}/{r['true']}"
            out[f"{r['scene']}_wagons_on_track"] = f"{r['wagons_on_track']}/{r['true']}"
        if r["set"] == "no railcars":
            out[f"{r['scene']}_count"] = r["count"] if r["count"] is not None else "refused"
            if r["n_tracks"] is not None:
                out[f"{r['scene']}_tracks"] = r["n_tracks"]
    return out


def _interval_groups(rows: list[dict]) -> dict[str, list[dict]]:
    """Scored scenes (simulated and real, not variants) by counting mode and GSD band."""
    from railcount.detect.calibration import BANDS

    groups: dict[str, list[dict]] = {}
    for mode, bands in BANDS.items():
        for band, (lo, hi) in bands.items():
            sel = [r for r in rows if r["set"] in ("simulated", "real") and r["mode"] == mode
                   and lo <= r["gsd"] <= hi and r.get("covered") is not None]
            if sel:
                groups[f"{mode} {band}"] = sel
    return groups


def interval_summary(rows: list[dict]) -> dict:
    """Per mode and GSD band: the share of scenes whose interval holds the truth, and the median width.

    The width is ``high - low`` over the true count; the target allows
    ``max(0.25 * true, 4)`` (at most 25 % of the true count, at least +-2 cars),
    and ``width_vs_target`` is the median of width over that allowance (<= 1
    meets it).
    """
    out = {}
    for name, sel in _interval_groups(rows).items():
        key = name.replace(" ", "_")
        width = [(r["high"] - r["low"]) for r in sel]
        out[f"interval_{key}_coverage"] = f"{sum(r['covered'] for r in sel)}/{len(sel)}"
        out[f"interval_{key}_median_rel_width"] = round(float(np.median(
            [w / r["true"] for w, r in zip(width, sel) if r["true"] > 0] or [np.nan])), 3)
        out[f"interval_{key}_width_vs_target"] = round(float(np.median(
            [w / max(0.25 * r["true"], 4.0) for w, r in zip(width, sel)])), 3)
    return out


def interval_figure(rows: list[dict], path: Path) -> None:
    """Reliability of the intervals: coverage per mode and GSD band against the nominal 90 %, and
    every scene's interval against its true count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _interval_groups(rows)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    names = list(groups)
    cov = [np.mean([r["covered"] for r in groups[n]]) for n in names]
    ax1.bar(range(len(names)), cov, color="tab:blue")
    ax1.axhspan(0.85, 0.95, color="tab:green", alpha=0.2, label="target 85-95 %")
    ax1.axhline(0.9, color="k", lw=0.8, ls="--", label="nominal 90 %")
    ax1.set_xticks(range(len(names)), [f"{n}\n({len(groups[n])} scenes)" for n in names], fontsize=8)
    ax1.set_ylim(0, 1)
    ax1.set_ylabel("share of scenes whose interval holds the truth")
    ax1.legend(fontsize=8, loc="lower right")
    for n, colour in zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        g = groups[n]
        t = np.array([r["true"] for r in g], float)
        c = np.array([r["count"] for r in g], float)
        err = np.array([[r["count"] - r["low"] for r in g], [r["high"] - r["count"] for r in g]], float)
        ax2.errorbar(t, c, yerr=err, fmt="o", ms=3, lw=0.8, color=colour, label=n)
    top = max([r["high"] for g in groups.values() for r in g] + [1])
    ax2.plot([0, top], [0, top], "k--", lw=0.8)
    ax2.set_xlabel("true railcars")
    ax2.set_ylabel("count and 90 % interval")
    ax2.legend(fontsize=8)
    fig.suptitle("Count intervals on the benchmark scenes (simulated and real)")
    fig.tight_layout()
    with io.atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def write_report(rows: list[dict], summary: dict, seconds: float) -> None:
    docs = ROOT / "docs"
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    io.write_json(res_dir / "accuracy.json", {"summary": summary, "rows": rows, "seconds": round(seconds, 1)})
    cols = ["scene", "set", "gsd", "mode", "true", "count", "low", "high", "bounded", "found", "tp", "precision",
            "recall", "f1", "track_recall", "track_precision", "miss_no_track", "miss_on_track", "false_on_false_track",
            "false_on_true_track", "note"]
    lines = ["# Accuracy", "",
             "Produced by `make bench-accuracy` (`python benchmarks/accuracy.py`); do not edit by hand. "
             "How each figure is measured: see the docstring of `benchmarks/accuracy.py`.", "",
             "Simulated scenes come from `railcount.synth.benchmark_specs()` (SIMULATED, seeds disjoint from "
             "training); real scenes from `../shared/real/`.", "", "## Summary", ""]
    lines += [f"- `{k}`: {v}" for k, v in summary.items()]
    interval_figure(rows, docs / "accuracy_intervals.png")
    lines += ["", "## Count intervals", "",
              "Coverage (share of scenes whose 90 % interval holds the true count) per counting mode and "
              "GSD band, and every scene's interval against its truth:", "",
              "![interval reliability](accuracy_intervals.png)"]
    lines += ["", f"Run time {seconds:.0f} s.", "", "## Per scene", "", "| " + " | ".join(cols) + " |",
              "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + " |")
    with io.atomic_output(docs / "accuracy.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", default=str(ROOT / "benchmarks" / "scenes"), help="where scenes are cached")
    ap.add_argument("--limit", type=int, default=None, help="only the first N simulated scenes")
    ap.add_argument("--no-variants", action="store_true", help="skip the packaging variants")
    args = ap.parse_args(argv)
    t0 = time.time()
    rows = muttenz() + no_railcars() + simulated(Path(args.scenes), args.limit)
    if not args.no_variants:
        rows += variants(Path(args.scenes))
    summary = summarise(rows)
    write_report(rows, summary, time.time() - t0)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except RailcountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
