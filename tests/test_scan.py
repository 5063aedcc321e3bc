"""``railcount.scan`` and ``railcount scan``: the library call and the CLI contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import build_raster

from railcount.cli import cli
from railcount.errors import InputError, ResolutionTooCoarseError
from railcount.scan import scan

GSD = 0.4


@pytest.fixture(scope="module")
def yard_tif(tmp_path_factory):
    """A small SIMULATED yard (railcount.synth, 40 railcars) as a UTM GeoTIFF dated by its name."""
    from railcount.io import write_geotiff
    from railcount.synth import SceneSpec, render_scene

    scene = render_scene(SceneSpec(gsd=GSD, width_m=300.0, height_m=160.0, n_cars=40, n_tracks=8, seed=4242,
                                   origin=(632058.0, 4697978.0)))
    path = tmp_path_factory.mktemp("scan") / "yard_2023-10-05.tif"
    write_geotiff(path, scene.pixels, transform=scene.transform, crs=scene.crs)
    return path, len(scene.cars)


@pytest.fixture(scope="module")
def yard_result(yard_tif):
    return scan(yard_tif[0])


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_scan_result(yard_tif, yard_result):
    res = yard_result
    assert res.mode == "individual" and res.count == len(res.detections) > 0
    assert res.count_low <= res.count <= res.count_high
    assert res.date.isoformat() == "2023-10-05" and res.date_source == "filename"
    assert res.gsd == pytest.approx(GSD) and res.crs == "EPSG:32652"
    assert all(d.corners_lonlat for d in res.detections)


def test_scan_interval_holds_the_truth(yard_tif, yard_result):
    assert yard_result.count_low <= yard_tif[1] <= yard_result.count_high


@pytest.mark.slow
def test_windowed_scan_keeps_no_window_pixels(yard_tif, monkeypatch):
    """Peak memory is one window: a window's pixels are let go once it has been scanned."""
    import gc
    import weakref

    from railcount import io

    refs, alive = [], []
    real = io.iter_windows

    def watched(*args, **kwargs):
        for raster in real(*args, **kwargs):
            gc.collect()
            alive.append(sum(r() is not None for r in refs))  # earlier windows still held by the scan
            refs.append(weakref.ref(raster))
            yield raster

    monkeypatch.setattr(io, "iter_windows", watched)
    res = scan(yard_tif[0], window_px=100)
    assert len(refs) >= 4 and res.count > 0
    # at most the first window (kept for the result's metadata) and the one just scanned,
    # which the scan's loop variable still holds while the next is read
    assert max(alive) <= 2


@pytest.mark.slow
def test_cli_scan_in_smaller_windows(yard_tif, yard_result):
    res = run("scan", yard_tif[0], "--window-px", 256, "--workers", 2, "--json", "--no-progress")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert abs(summary["count"] - yard_result.count) <= max(2, 0.15 * yard_result.count)
    bad = run("scan", yard_tif[0], "--window-px", 10)
    assert bad.exit_code == 2 and "--window-px" in bad.output


@pytest.mark.slow
def test_windows_scanned_in_parallel_give_the_same_result(yard_tif):
    serial = scan(yard_tif[0], window_px=256)
    parallel = scan(yard_tif[0], window_px=256, workers=2)
    assert parallel.count == serial.count > 0
    assert parallel.detections == serial.detections
    assert (parallel.count_low, parallel.count_high, parallel.n_tracks) == (
        serial.count_low, serial.count_high, serial.n_tracks)
    with pytest.raises(InputError, match="workers"):
        scan(yard_tif[0], window_px=256, workers=0)


@pytest.mark.slow
def test_windowed_scan_equals_whole_scan(yard_tif, yard_result):
    """Seams: a car whose centre lies in a window's core is found there once."""
    windowed = scan(yard_tif[0], window_px=256)
    # a track cut by a seam is found from less of it in each window, so counts may differ a little
    assert abs(windowed.count - yard_result.count) <= max(2, 0.15 * yard_result.count)
    a = np.array([[d.row, d.col] for d in yard_result.detections])
    b = np.array([[d.row, d.col] for d in windowed.detections])
    # no car counted twice: no two windowed detections closer than 2.5 m (tracks are 4.5 m apart)
    from scipy.spatial.distance import pdist

    assert pdist(b).min() * GSD > 2.5
    assert np.median(np.min(np.hypot(*(a[:, None] - b[None]).transpose(2, 0, 1)), axis=1)) * GSD < 1.5


def test_cli_summary(yard_tif, yard_result):
    r = run("scan", yard_tif[0])
    assert r.exit_code == 0
    assert f"count: {yard_result.count} railcars" in r.output
    assert f"interval {yard_result.count_low}-{yard_result.count_high}" in r.output
    assert "GSD: 0.400 m" in r.output and "2023-10-05" in r.output


def test_cli_json_geojson_overlay(yard_tif, yard_result, tmp_path):
    path = yard_tif[0]
    n = yard_result.count
    out, png = tmp_path / "cars.geojson", tmp_path / "cars.png"
    r = run("scan", path, "--json", "--out", out, "--overlay", png)
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["count"] == n and summary["mode"] == "individual"
    gj = json.loads(out.read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == n
    for f in gj["features"]:
        ring = f["geometry"]["coordinates"][0]
        assert f["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 5
        lon, lat = np.array(ring).T
        assert (130.5 < lon).all() and (lon < 130.7).all() and (42.3 < lat).all() and (lat < 42.5).all()
        # RFC 7946: exterior rings counter-clockwise (positive shoelace area in lon/lat)
        assert np.sum(lon[:-1] * lat[1:] - lon[1:] * lat[:-1]) > 0
        assert {"length_m", "width_m", "score"} <= f["properties"].keys()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_cli_aoi_reads_only_that_area(yard_tif, yard_result):
    w, s, e, n = yard_result.bounds_lonlat
    cut = (w + e) / 2
    r = run("scan", yard_tif[0], "--aoi", f"{cut},{s},{e},{n}", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["bounds_lonlat"][0] >= cut - 1e-4
    assert summary["count"] > 0
    out = json.loads(run("scan", yard_tif[0], "--aoi", f"{cut},{s},{e},{n}", "--json", "--out",
                         yard_tif[0].with_name("aoi.geojson")).output)
    feats = json.loads(yard_tif[0].with_name("aoi.geojson").read_text())["features"]
    centres = np.array([np.mean(f["geometry"]["coordinates"][0][:4], axis=0) for f in feats])
    assert out["count"] == len(feats) and (centres[:, 0] > cut - 1e-5).all()


def test_too_coarse_is_refused(tmp_path):
    path = build_raster(tmp_path / "coarse.tif", res=10.0, shape=(64, 64))
    with pytest.raises(ResolutionTooCoarseError):
        scan(path)
    r = run("scan", path)
    assert r.exit_code == 1
    assert "cannot be counted" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("case", ["missing", "not_raster", "no_georef", "bad_gsd", "unwritable"])
def test_cli_errors_are_one_line_and_leave_no_file(case, tmp_path, yard_tif):
    path, _ = yard_tif
    out = tmp_path / "nowhere" / "cars.geojson"
    args = {
        "missing": ["scan", tmp_path / "nope.tif"],
        "not_raster": ["scan", tmp_path / "x.txt"],
        "no_georef": ["scan", build_raster(tmp_path / "pic.png", crs=None, driver="PNG", shape=(64, 64))],
        "bad_gsd": ["scan", build_raster(tmp_path / "pic2.png", crs=None, driver="PNG", shape=(64, 64)),
                    "--gsd", "-1"],
        "unwritable": ["scan", path, "--out", out],
    }[case]
    (tmp_path / "x.txt").write_text("hello")
    r = run(*args)
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), r.output
    assert not out.exists()
    assert not list(tmp_path.glob("**/*.part"))


def test_unreferenced_picture_with_gsd_has_pixel_outlines(tmp_path, yard_tif):
    from railcount.io import read_raster

    pixels = read_raster(yard_tif[0]).pixels
    pic = build_raster(tmp_path / "press.png", crs=None, driver="PNG", shape=pixels.shape[1:], data=pixels)
    out = tmp_path / "cars.geojson"
    r = run("scan", pic, "--gsd", GSD, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["bounds_lonlat"] is None and summary["crs"] is None
    feats = json.loads(out.read_text())["features"]
    assert len(feats) == summary["count"] > 0
    assert all(f["geometry"] is None and len(f["properties"]["corners_px"]) == 4 for f in feats)


def test_user_line_follows_its_lon_lat_path_in_a_projected_raster(tmp_path):
    """A GeoJSON segment is straight in lon/lat (RFC 7946); in UTM it curves. A two-vertex line a degree
    long passes through its lon/lat midpoint in pixels too, not along the chord between its projected ends."""
    from railcount import io
    from railcount.scan import _tracks_to_pixels

    raster = io.read_raster(build_raster(tmp_path / "r.tif", center=(15.0, 45.0), shape=(64, 96)))
    line = {"type": "LineString", "coordinates": [[14.0, 44.4], [16.0, 45.6]]}
    (px,) = _tracks_to_pixels(raster, line)
    mid = np.array(raster.lonlat_to_pixel(np.array([15.0]), np.array([45.0]))).ravel()
    ends = np.column_stack(raster.lonlat_to_pixel(np.array([14.0, 16.0]), np.array([44.4, 45.6])))
    chord = ends[0] + (ends[1] - ends[0]) * (((mid - ends[0]) @ (ends[1] - ends[0])) / np.sum((ends[1] - ends[0]) ** 2))
    assert np.hypot(*(chord - mid)) > 50.0  # the chord misses the midpoint by more than 25 m ...
    assert np.hypot(*(px - mid).T).min() < 1.0  # ... the line passes within a pixel of it
