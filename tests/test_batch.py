"""``railcount.batch`` and ``railcount batch``: manifests, parallel scans, failures, resumption, Dask."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from railcount import batch as rb
from railcount.cli import cli
from railcount.errors import ManifestError
from railcount.scan import scan

GSD = 0.4
#: (file name, site, manifest date, railcars in the simulated yard)
GOOD = [
    ("yard_a_2023-05-01.tif", "north", "", 12),
    ("sub/yard_b.tif", "south", "2023-06-02", 8),
    ("yard_c.tif", "", "2023-07-03", 0),
]


def _write_yard(path: Path, cars, seed: int) -> None:
    """A small SIMULATED yard (railcount.synth) with ``cars`` railcars."""
    from railcount.io import write_geotiff
    from railcount.synth import SceneSpec, render_scene

    scene = render_scene(SceneSpec(gsd=GSD, width_m=200.0, height_m=120.0, n_cars=cars, n_tracks=6,
                                   seed=500 + seed, lookalikes=False, origin=(632058.0 + 800.0 * seed, 4697978.0)))
    assert max(scene.pixels.shape[1:]) <= 512
    path.parent.mkdir(parents=True, exist_ok=True)
    write_geotiff(path, scene.pixels, transform=scene.transform, crs=scene.crs, blocksize=128)


def _make_set(folder: Path) -> Path:
    """Three drawn yards, a truncated GeoTIFF among them, and a manifest of relative paths."""
    for i, (name, _, _, cars) in enumerate(GOOD):
        _write_yard(folder / name, cars, seed=i)
    data = (folder / GOOD[0][0]).read_bytes()
    (folder / "corrupt.tif").write_bytes(data[: len(data) // 2])
    lines = ["tile,site,date"]
    lines += [f"{GOOD[0][0]},{GOOD[0][1]},", "corrupt.tif,east,2023-05-09"]
    lines += [f"{name},{site},{date}" for name, site, date, _ in GOOD[1:]]
    manifest = folder / "tiles.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


ORDER = [GOOD[0][0], "corrupt.tif", GOOD[1][0], GOOD[2][0]]


@pytest.fixture(scope="module")
def tileset(tmp_path_factory) -> Path:
    return _make_set(tmp_path_factory.mktemp("batch"))


@pytest.fixture(scope="module")
def direct(tileset):
    """Each good tile scanned in this process, for comparison."""
    return {name: scan(tileset.parent / name) for name, *_ in GOOD}


@pytest.fixture(scope="module")
def local_run(tileset):
    out = tileset.parent / "local" / "results.csv"
    out.parent.mkdir()
    report = rb.run_batch(rb.read_manifest(tileset), out=out, workers=2)
    return report, out


# --------------------------------------------------------------------------- manifest


def test_read_manifest_resolves_and_checks(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("# a comment\nTile, Site ,DATE,gsd,notes\n"
                 "a.tif,x,2023-01-02,,whatever\n\n"
                 "https://example.org/b.tif,,,0.5,\n"
                 "/abs/c.tif,y,,,\n", encoding="utf-8")
    tasks = rb.read_manifest(m)
    assert [t.name for t in tasks] == ["a.tif", "https://example.org/b.tif", "/abs/c.tif"]
    assert tasks[0].tile == str((tmp_path / "a.tif").resolve())
    assert tasks[1].tile == "https://example.org/b.tif" and tasks[1].gsd == 0.5
    assert tasks[2].tile == os.path.abspath("/abs/c.tif")
    assert [t.site for t in tasks] == ["x", None, "y"]
    assert [t.date for t in tasks] == ["2023-01-02", None, None]
    assert [t.line for t in tasks] == [3, 5, 6]


@pytest.mark.parametrize("text, message", [
    ("path,site\na.tif,x\n", "no 'tile' column"),
    ("tile,date\na.tif,2023-13-01\n", "line 2: date must be YYYY-MM-DD"),
    ("tile,date\na.tif,05/01/2023\n", "date must be YYYY-MM-DD"),
    ("", "is empty"),
    ("tile,site,date\n", "lists no tiles"),
    ("tile,site\n,x\n", "line 2: the tile is empty"),
    ("tile,gsd\na.tif,-1\n", "gsd must be a positive number"),
    ("tile,site\na.tif,x,extra\n", "3 fields but the header has 2"),
])
def test_bad_manifests(tmp_path, text, message):
    m = tmp_path / "m.csv"
    m.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=message.replace("(", r"\(")):
        rb.read_manifest(m)


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        rb.read_manifest(tmp_path / "nope.csv")


def test_output_paths():
    assert rb.output_paths("r/x.csv") == (Path("r/x.csv"), Path("r/x.parquet"), Path("r/x.parts"))
    assert rb.output_paths("x.geojson") == (Path("x.csv"), Path("x.geojson"), Path("x.parts"))
    assert rb.output_paths("x.parquet")[1] == Path("x.parquet")


# --------------------------------------------------------------------------- a local batch


@pytest.mark.slow
def test_corrupt_tile_fails_alone(local_run, direct):
    report, out = local_run
    assert [r["tile"] for r in report.rows] == ORDER  # manifest order
    assert (report.n_ok, report.n_failed, report.n_skipped) == (3, 1, 0)
    bad = report.rows[1]
    assert bad["status"] == "error" and "corrupt or truncated" in bad["error"]
    assert bad["count"] is None and bad["site"] == "east" and bad["date"] == "2023-05-09"
    for row in report.rows[:1] + report.rows[2:]:
        res = direct[row["tile"]]
        assert row["status"] == "ok" and row["error"] is None
        assert (row["count"], row["count_low"], row["count_high"]) == (res.count, res.count_low, res.count_high)
        assert row["n_detections"] == len(res.detections)
        assert row["gsd"] == pytest.approx(GSD, rel=1e-3)
    assert report.rows[0]["count"] > 0 and report.rows[2]["count"] > 0
    assert report.n_railcars == sum(r.count for r in direct.values())
    assert report.rows[0]["date"] == "2023-05-01"  # from the file name
    assert report.rows[2]["date"] == "2023-06-02"  # from the manifest


@pytest.mark.slow
def test_tiles_csv(local_run):
    report, out = local_run
    rows = rb.read_tiles_csv(out)
    assert list(rows[0]) == list(rb.TILE_COLUMNS)
    assert [r["tile"] for r in rows] == ORDER
    assert [r["status"] for r in rows] == ["ok", "error", "ok", "ok"]
    assert rows[1]["count"] == "" and "corrupt" in rows[1]["error"]
    assert [int(r["count"]) for r in rows if r["status"] == "ok"] == \
        [r["count"] for r in report.rows if r["status"] == "ok"]
    assert rows[0]["site"] == "north" and rows[3]["site"] == "" and rows[0]["simulated"] == "false"


@pytest.mark.slow
def test_geoparquet(local_run, direct):
    import pyarrow.parquet as pq
    import shapely

    report, out = local_run
    path = out.with_suffix(".parquet")
    assert report.cars_path == path
    table = pq.read_table(path)
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["version"] == "1.0.0" and geo["primary_column"] == "geometry"
    col = geo["columns"]["geometry"]
    assert col["encoding"] == "WKB" and col["geometry_types"] == ["Polygon"]
    assert col["crs"]["id"] == {"authority": "OGC", "code": "CRS84"}
    rows = table.to_pylist()
    n = sum(len(r.detections) for r in direct.values())
    assert len(rows) == report.n_features == n > 0
    assert [r["tile"] for r in rows] == sorted((r["tile"] for r in rows), key=ORDER.index)
    geoms = shapely.from_wkb([r["geometry"] for r in rows])
    assert all(g.geom_type == "Polygon" and g.is_valid for g in geoms)
    xmin, ymin, xmax, ymax = col["bbox"]
    assert 130.5 < xmin < xmax < 130.7 and 42.3 < ymin < ymax < 42.5
    for name, res in direct.items():
        mine = [g for g, r in zip(geoms, rows) if r["tile"] == name]
        assert len(mine) == len(res.detections)
        want = [d.corners_lonlat for d in res.detections]
        for g, corners in zip(mine, want):
            assert np.allclose(sorted(g.exterior.coords[:-1]), sorted(corners), atol=1e-7)
    assert {r["date"].isoformat() for r in rows if r["tile"] == GOOD[1][0]} <= {"2023-06-02"}
    assert all(r["length_m"] > 5 and 0 <= r["score"] <= 1 and r["simulated"] is False for r in rows)


# --------------------------------------------------------------------------- resumption


@pytest.mark.slow
def test_resume_skips_done_and_retries_failed(tmp_path):
    manifest = _make_set(tmp_path)
    out = tmp_path / "res.geojson"
    first = rb.run_batch(rb.read_manifest(manifest), out=out, workers=2)
    assert (first.n_ok, first.n_failed, first.n_skipped) == (3, 1, 0)
    parts = sorted(first.parts_dir.glob("*.json"))
    assert len(parts) == 4
    stamps = {p: p.stat().st_mtime_ns for p in parts}

    # the corrupt file is repaired: only it is scanned again
    _write_yard(tmp_path / "corrupt.tif", 5, seed=7)
    second = rb.run_batch(rb.read_manifest(manifest), out=out, workers=2, progress=True)
    assert (second.n_ok, second.n_failed, second.n_skipped) == (4, 0, 3)
    changed = [p for p in parts if p.stat().st_mtime_ns != stamps[p]]
    assert len(changed) == 1
    assert [r["count"] for i, r in enumerate(second.rows) if i != 1] == \
        [r["count"] for i, r in enumerate(first.rows) if i != 1]
    fc = json.loads(out.read_text())
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == second.n_features == sum(r["n_detections"] for r in second.rows)
    assert {f["properties"]["tile"] for f in fc["features"]} >= {"corrupt.tif"}
    assert all(f["geometry"]["type"] == "Polygon" for f in fc["features"])
    assert rb.read_tiles_csv(tmp_path / "res.csv")[1]["status"] == "ok"

    # everything is done: nothing is scanned and the outputs are rebuilt from the parts
    stamps = {p: p.stat().st_mtime_ns for p in parts}
    (tmp_path / "res.csv").unlink()
    third = rb.run_batch(rb.read_manifest(manifest), out=out, workers=2)
    assert third.n_skipped == 4 and third.rows == second.rows
    assert all(p.stat().st_mtime_ns == stamps[p] for p in parts)
    assert (tmp_path / "res.csv").exists()


def crash_on_corrupt(task, *, window_px=None):
    """A worker that dies like a segfaulting native library on one tile."""
    if "corrupt" in task.tile:
        os._exit(3)
    return {"status": "ok", "error": None, "summary": {"tile": task.name}, "features": []}


@pytest.mark.slow
def test_dead_worker_costs_only_its_tile(tmp_path):
    tasks = [rb.Task(tile=str(tmp_path / n)) for n in ("a.tif", "corrupt.tif", "b.tif", "c.tif", "d.tif")]
    parts = {}
    rb._run_local({str(i): t for i, t in enumerate(tasks)}, lambda k, p: parts.__setitem__(k, p),
                  fn=crash_on_corrupt, workers=2, window_px=512)
    assert sorted(parts) == ["0", "1", "2", "3", "4"]
    assert parts["1"]["status"] == "error" and "worker process" in parts["1"]["error"] and "died" in parts["1"]["error"]
    assert all(parts[k]["status"] == "ok" for k in "0234")


# --------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True)
    try:
        yield lc
    finally:
        lc.close()


@pytest.mark.slow
def test_dask_equals_local(cluster, local_run, tileset):
    import pyarrow.parquet as pq

    report, out = local_run
    dask_out = tileset.parent / "dask" / "results.csv"
    dask_out.parent.mkdir()
    on_dask = rb.run_batch(rb.read_manifest(tileset), out=dask_out, scheduler=cluster.scheduler_address)
    assert on_dask.scheduler == cluster.scheduler_address

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]

    assert strip(rb.read_tiles_csv(dask_out)) == strip(rb.read_tiles_csv(out))
    assert strip(on_dask.rows) == strip(report.rows)
    assert pq.read_table(dask_out.with_suffix(".parquet")).equals(pq.read_table(out.with_suffix(".parquet")))


# --------------------------------------------------------------------------- CLI


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_cli_batch(tmp_path, tileset, local_run):
    # resume from the local run's parts: only the corrupt tile is tried again
    report, out = local_run
    shutil.copytree(report.parts_dir, tmp_path / "r.parts")
    r = run("batch", tileset, "--out", tmp_path / "r.csv", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "4: 3 ok, 1 failed, 3 done by an earlier run" in r.output
    assert f"railcars: {report.n_railcars} in the 3 tiles counted" in r.output
    assert "FAILED (1; run the same command again to retry them):" in r.output
    assert "corrupt.tif: corrupt or truncated" in r.output
    assert (tmp_path / "r.csv").exists() and (tmp_path / "r.parquet").exists()
    r = run("batch", tileset, "--out", tmp_path / "r.csv", "--json")
    summary = json.loads(r.output)
    assert summary["ok"] == 3 and summary["failed"] == 1 and summary["railcars"] == report.n_railcars
    assert summary["errors"][0]["tile"] == "corrupt.tif"


def _report(rows, notes=()):
    ok = [r for r in rows if r["status"] == "ok"]
    base = {c: None for c in rb.TILE_COLUMNS}
    rows = tuple({**base, **r} for r in rows)
    return rb.BatchReport(
        rows=rows, n_ok=len(ok), n_failed=len(rows) - len(ok), n_skipped=0,
        n_railcars=sum(r["count"] for r in ok), n_features=0, tiles_path=Path("r.csv"),
        cars_path=Path("r.parquet"), parts_dir=Path("r.parts"), elapsed_s=1.0, scheduler="processes",
        n_railcars_simulated=sum(r["count"] for r in ok if r["simulated"]), notes=tuple(notes))


def test_report_keeps_simulated_and_real_counts_apart():
    from railcount.cli.batch import format_report

    report = _report([
        {"tile": "real.tif", "status": "ok", "count": 30, "simulated": False},
        {"tile": "sim_SIMULATED.tif", "status": "ok", "count": 12, "simulated": True},
        {"tile": "sim2_SIMULATED.tif", "status": "ok", "count": 8, "simulated": True},
    ])
    text = format_report(report)
    assert "railcars: 30 in 1 tile of real imagery; 20 in 2 tiles of SIMULATED imagery (kept apart)" in text
    summary = report.summary()
    assert (summary["railcars"], summary["railcars_real"], summary["railcars_simulated"]) == (50, 30, 20)
    only_sim = format_report(_report([{"tile": "s.tif", "status": "ok", "count": 4, "simulated": True}]))
    assert "railcars: 4 in the 1 tile counted, all SIMULATED" in only_sim


def test_report_does_not_promise_a_retry_for_tiles_that_cannot_be_counted():
    from railcount.cli.batch import format_report

    text = format_report(_report([
        {"tile": "landsat.tif", "status": "error", "retry": False,
         "error": "railcars cannot be counted at a GSD of 30 m (coarser than 3 m)"},
        {"tile": "remote.tif", "status": "error", "retry": True, "error": "cannot reach https://x/remote.tif"},
        {"tile": "ok.tif", "status": "ok", "count": 3, "simulated": False},
    ], notes=["workers 64 capped at 2, the number of CPUs available"]))
    lines = text.splitlines()
    assert lines[0] == "note:     workers 64 capped at 2, the number of CPUs available"
    final = lines.index("CANNOT BE COUNTED (1; running again will not change that):")
    assert lines[final + 1].startswith("  landsat.tif: railcars cannot be counted")
    retry = lines.index("FAILED (1; run the same command again to retry them):")
    assert lines[retry + 1].startswith("  remote.tif: cannot reach")
    assert "landsat" not in "\n".join(lines[retry:])


def test_a_tile_too_coarse_is_not_retryable(tmp_path):
    from affine import Affine

    from railcount.io import write_geotiff

    coarse = tmp_path / "landsat.tif"
    write_geotiff(coarse, np.full((3, 64, 64), 90, np.uint8), transform=Affine(30.0, 0, 500000, 0, -30.0, 4700000),
                  crs="EPSG:32652")
    part = rb.scan_task(rb.Task(tile=str(coarse)))
    assert part["status"] == "error" and "cannot be counted" in part["error"] and part["retry"] is False
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00" + b"\x00" * 100)  # not readable now; a fixed file may be
    assert rb.scan_task(rb.Task(tile=str(corrupt)))["retry"] is True


def test_workers_are_capped_at_the_cpus_available(monkeypatch):
    from railcount import workers

    monkeypatch.setattr(workers, "available_cpus", lambda: 2)
    assert workers.cap_workers(None) == (2, None)
    assert workers.cap_workers(2) == (2, None)
    n, note = workers.cap_workers(64, what="--workers")
    assert n == 2 and note.startswith("--workers 64 capped at 2, the number of CPUs available")


@pytest.mark.slow
def test_batch_with_more_workers_than_cpus_says_so(tmp_path, tileset, local_run, monkeypatch):
    from railcount import workers

    monkeypatch.setattr(workers, "available_cpus", lambda: 1)
    report, _ = local_run
    shutil.copytree(report.parts_dir, tmp_path / "r.parts")  # nothing good to scan again
    r = run("batch", tileset, "--out", tmp_path / "r.csv", "--workers", 64)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == ("note:     workers 64 capped at 1, the number of CPUs available: "
                                         "more processes than CPUs only compete for them")


def test_cli_errors(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("path\na.tif\n", encoding="utf-8")
    r = run("batch", m)
    assert r.exit_code == 1 and "Error: manifest" in r.output and "no 'tile' column" in r.output
    assert "Traceback" not in r.output
    r = run("batch", m, "--workers", 2, "--scheduler", "tcp://127.0.0.1:1")
    assert r.exit_code == 2 and "not both" in r.output
    # every tile fails: exit 1
    m.write_text("tile\nmissing1.tif\nmissing2.tif\n", encoding="utf-8")
    r = run("batch", m, "--workers", 1, "--out", tmp_path / "x.csv")
    assert r.exit_code == 1
    assert "0 ok, 2 failed" in r.output and "no such file" in r.output and "every tile failed" in r.output
