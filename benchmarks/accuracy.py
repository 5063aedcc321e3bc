"""Accuracy benchmark of the railcar detector (``make bench-accuracy``).

Scores ``railcount.scan`` against truth on
  (a) the simulator's benchmark scene set (regenerated deterministically),
  (b) the real Muttenz yard at 0.255 m and 0.51 m (``../shared/real``, if present),
  (c) real tiles with no railcars (``../shared/real/no_railcars``, if present).

A match is a detection whose centre lies within 6 m of a true car's centre,
one-to-one. On Muttenz only wagons whose centres lie more than 10 m inside the
picture are labelled, so detections within 10 m of its edge are not scored.

Writes ``docs/accuracy.md``, ``docs/accuracy_count_error.png`` and
``benchmarks/results/accuracy.json``; prints one summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real"
sys.path.insert(0, str(ROOT))

from railcount import io  # noqa: E402
from railcount.errors import RailcountError, ResolutionTooCoarseError  # noqa: E402
from railcount.evaluate import score_centres  # noqa: E402
from railcount.scan import scan  # noqa: E402


def _centres_map(geojson: dict, crs) -> np.ndarray:
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    out = []
    for f in geojson["features"]:
        ring = np.asarray(f["geometry"]["coordinates"][0], float)[:-1]
        x, y = tr.transform(ring[:, 0], ring[:, 1])
        out.append([np.mean(x), np.mean(y)])
    return np.asarray(out).reshape(-1, 2)


def _detections_map(result, crs) -> np.ndarray:
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    out = []
    for d in result.detections:
        pts = np.asarray(d.corners_lonlat)
        x, y = tr.transform(pts[:, 0], pts[:, 1])
        out.append([np.mean(x), np.mean(y)])
    return np.asarray(out).reshape(-1, 2)


def _row(name, kind, gsd, n_true, res, score=None, note=""):
    row = {"scene": name, "set": kind, "gsd": round(gsd, 3), "true": n_true, "count": res.count if res else None,
           "low": res.count_low if res else None, "high": res.count_high if res else None,
           "mode": res.mode if res else "refused", "seconds": round(res.elapsed_s, 2) if res else None, "note": note}
    if score is not None:
        row.update(found=score.n_found, tp=score.tp, precision=round(score.precision, 3),
                   recall=round(score.recall, 3), f1=round(score.f1, 3))
    if res is not None:
        row["count_err"] = res.count - n_true
        row["rel_err"] = round((res.count - n_true) / n_true, 4) if n_true else None
        row["covered"] = bool(res.count_low <= n_true <= res.count_high)
    return row


def simulated(scene_dir: Path, limit: int | None) -> list[dict]:
    from railcount.synth import benchmark_specs, render_scene, write_scene

    rows = []
    specs = benchmark_specs()[:limit] if limit else benchmark_specs()
    scene_dir.mkdir(parents=True, exist_ok=True)
    for i, spec in enumerate(specs):
        path = scene_dir / f"{spec.name}_SIMULATED.tif"  # as `make scenes` names them
        truth_path = path.with_suffix(".truth.geojson")
        if not path.exists() or not truth_path.exists():
            write_scene(render_scene(spec), path)
        truth = io.read_geojson(truth_path)
        res = scan(path)
        crs = res.crs
        t = _centres_map(truth, crs)
        sc = score_centres(t, _detections_map(res, crs)) if res.mode == "individual" else None
        rows.append(_row(path.name, "simulated", spec.gsd, len(t), res, sc))
        print(f"  {path.name} gsd {spec.gsd:.2f} true {len(t):3d} count {res.count:3d} "
              f"[{res.count_low}-{res.count_high}]" + (f" F1 {sc.f1:.3f}" if sc else ""), file=sys.stderr)
    return rows


def muttenz() -> list[dict]:
    rows = []
    folder = REAL / "muttenz_west"
    if not folder.is_dir():
        return rows
    truth = io.read_geojson(folder / "muttenz_west_truth.geojson")
    for name in ("muttenz_west_025cm.tif", "muttenz_west_051cm.tif"):
        res = scan(folder / name)
        info = io.raster_info(folder / name)
        raster = io.read_raster(folder / name)
        t = _centres_map(truth, res.crs)
        d = _detections_map(res, res.crs)
        # score only detections more than 10 m inside the picture, as the truth is
        x0, y0 = raster.transform * (0, 0)
        x1, y1 = raster.transform * (raster.shape[1], raster.shape[0])
        inner = ((d[:, 0] > min(x0, x1) + 10) & (d[:, 0] < max(x0, x1) - 10)
                 & (d[:, 1] > min(y0, y1) + 10) & (d[:, 1] < max(y0, y1) - 10))
        sc = score_centres(t, d[inner])
        n_inner = int(inner.sum())
        # the count compared is the count of the scored area (detections inside the 10 m margin)
        import dataclasses

        res_inner = dataclasses.replace(res, count=n_inner)
        rows.append(_row(name, "real", float(info["gsd_m"]), len(t), res_inner, sc,
                         note=f"{res.count} in the whole picture, {n_inner} more than 10 m inside"))
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


def summarise(rows: list[dict]) -> dict:
    sim = [r for r in rows if r["set"] == "simulated"]
    fine = [r for r in sim if r["gsd"] <= 0.6 and r["mode"] == "individual"]
    est = [r for r in sim if r["mode"] == "estimate"]

    def agg_f1(rs):
        tp = sum(r["tp"] for r in rs)
        found = sum(r["found"] for r in rs)
        true = sum(r["true"] for r in rs)
        p = tp / found if found else 1.0
        rc = tp / true if true else 1.0
        return 2 * p * rc / (p + rc) if p + rc else 0.0

    out = {}
    if fine:
        occupied = [r for r in fine if r["true"] > 0]
        out["sim_fine_f1_pooled"] = round(agg_f1(fine), 4)
        out["sim_fine_f1_mean"] = round(float(np.mean([r["f1"] for r in occupied])), 4) if occupied else None
        out["sim_fine_mean_abs_rel_count_err"] = round(float(np.mean([abs(r["rel_err"]) for r in occupied])), 4) if occupied else None
        out["sim_fine_scenes"] = len(fine)
    if est:
        occ = [r for r in est if r["true"] > 0]
        out["sim_estimate_coverage"] = round(float(np.mean([r["covered"] for r in occ])), 3) if occ else None
        out["sim_estimate_scenes"] = len(est)
    empty = [r for r in sim if r["true"] == 0]
    out["sim_empty_false_cars"] = int(sum(r["count"] or 0 for r in empty))
    for r in rows:
        if r["set"] == "real":
            out[f"{r['scene']}_f1"] = r["f1"]
            out[f"{r['scene']}_count"] = f"{r['count']}/{r['true']}"
        if r["set"] == "no railcars":
            out[f"{r['scene']}_count"] = r["count"] if r["count"] is not None else "refused"
    return out


def write_report(rows: list[dict], summary: dict, seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = ROOT / "docs"
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    io.write_json(res_dir / "accuracy.json", {"summary": summary, "rows": rows, "seconds": round(seconds, 1)})
    fig, ax = plt.subplots(figsize=(7, 4))
    for kind, marker in (("simulated", "o"), ("real", "s")):
        rs = [r for r in rows if r["set"] == kind and r["true"] and r["count"] is not None]
        if rs:
            ax.scatter([r["gsd"] for r in rs], [100 * r["rel_err"] for r in rs], marker=marker,
                       label=f"{kind} scenes" + (" (SIMULATED)" if kind == "simulated" else " (Muttenz)"), alpha=0.7)
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0.8, color="grey", ls="--", lw=0.8)
    ax.text(0.82, ax.get_ylim()[1] * 0.9, "estimate mode", fontsize=8, color="grey")
    ax.set_xlabel("GSD (m)")
    ax.set_ylabel("count error (%)")
    ax.set_title("railcount: count error against GSD")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with io.atomic_output(docs / "accuracy_count_error.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    cols = ["scene", "set", "gsd", "mode", "true", "count", "low", "high", "found", "tp", "precision", "recall", "f1", "note"]
    lines = ["# Detector accuracy", "",
             "Produced by `make bench-accuracy` (`python benchmarks/accuracy.py`); do not edit by hand.", "",
             "A match is a detection whose centre lies within 6 m of a true car's centre, one-to-one. "
             "Simulated scenes come from `railcount.synth.benchmark_specs()` (SIMULATED, seeds disjoint from "
             "training); real scenes from `../shared/real/`.", "", "## Summary", ""]
    lines += [f"- `{k}`: {v}" for k, v in summary.items()]
    lines += ["", f"Run time {seconds:.0f} s.", "", "![count error against GSD](accuracy_count_error.png)", "",
              "## Per scene", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + " |")
    with io.atomic_output(docs / "accuracy.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", default=str(ROOT / "benchmarks" / "scenes"), help="where scenes are cached")
    ap.add_argument("--limit", type=int, default=None, help="only the first N simulated scenes")
    args = ap.parse_args(argv)
    t0 = time.time()
    rows = muttenz() + no_railcars() + simulated(Path(args.scenes), args.limit)
    summary = summarise(rows)
    write_report(rows, summary, time.time() - t0)
    print("accuracy: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except RailcountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1)
