"""Tests of the scene simulator: truth against pixels, determinism, layout facts, CLI, sample tiles."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from railcount.cli import cli
from railcount.errors import GSDError
from railcount.priors import CAR_TYPES, COUPLING_GAP_M, TRACK_SPACING_M
from railcount.synth import (
    CapacityError,
    SceneSpec,
    benchmark_specs,
    iter_scene_tiles,
    render_scene,
    tumangang_specs,
    write_scene,
)
from railcount.synth.layout import BODY_SHORTENING_M, make_layout, scene_bounds
from railcount.synth.sets import SAMPLE_TILE_NAMES

#: A clean sensor: no blur, noise, haze, JPEG or band offsets.
CLEAN = dict(noise=0.0, haze=0.0, blur=0.0, jpeg_quality=None, misregistration_px=0.0)


def _pixel_centres(scene):
    rows, cols = scene.shape
    c, r = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    t = scene.transform
    return t.c + c * t.a, t.f + r * t.e


def _diff(a, b):
    return np.abs(a.pixels.astype(int) - b.pixels.astype(int)).max(axis=0)


# --------------------------------------------------------------------------- truth vs pixels
@pytest.mark.parametrize("car_type,seed", [("tank", 1), ("boxcar", 2), ("gondola", 3), ("flatcar", 4)])
def test_single_car_centroid_matches_truth(car_type, seed):
    """On a clean render with the sun overhead, the changed pixels are centred on the truth car."""
    spec = SceneSpec(gsd=0.5, width_m=90, height_m=70, n_cars=1, seed=seed, n_tracks=1, car_types=(car_type,),
                     lookalikes=False, masts=False, sun_azimuth_deg=180, sun_elevation_deg=90, **CLEAN)
    with_car = render_scene(spec)
    empty = render_scene(spec.replace(n_cars=0))
    (car,) = with_car.cars
    changed = _diff(with_car, empty) > 3
    xs, ys = _pixel_centres(with_car)
    assert changed.sum() > 0.6 * car.length_m * car.width_m / 0.25
    cx, cy = xs[changed].mean(), ys[changed].mean()
    assert abs(cx - car.centre_xy[0]) < 0.5 * spec.gsd
    assert abs(cy - car.centre_xy[1]) < 0.5 * spec.gsd
    # the changed pixels lie on the footprint (one pixel of anti-aliasing allowed)
    poly = Polygon(car.corners_xy).buffer(spec.gsd)
    outside = [not poly.contains(Point(x, y)) for x, y in zip(xs[changed], ys[changed])]
    assert sum(outside) == 0


@pytest.fixture(scope="module")
def busy_pair():
    spec = SceneSpec(gsd=0.5, width_m=160, height_m=120, n_cars=30, seed=7, n_tracks=8)
    return render_scene(spec), render_scene(spec.replace(n_cars=0))


def test_truth_cars_cover_their_pixels(busy_pair):
    """Pixels inside each truth polygon differ from the same scene without cars; far pixels do not."""
    scene, empty = busy_pair
    assert len(scene.cars) == 30 and len(empty.cars) == 0
    d = _diff(scene, empty)
    xs, ys = _pixel_centres(scene)
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    from shapely import contains_xy

    for car in scene.cars:
        inner = Polygon(car.corners_xy).buffer(-scene.gsd)
        inside = contains_xy(inner, pts[:, 0], pts[:, 1]).reshape(d.shape)
        assert inside.sum() > 20
        assert (d[inside] > 6).mean() > 0.9, car
    # far from every car (beyond shadows, blur and 16 px JPEG blocks) nothing changes
    near = unary_union([Polygon(c.corners_xy) for c in scene.cars]).buffer(6.0 / math.tan(math.radians(20)) + 8 * scene.gsd + 16 * scene.gsd)
    far = ~contains_xy(near, pts[:, 0], pts[:, 1]).reshape(d.shape)
    assert far.sum() > 1000
    assert (d[far] == 0).all()


def test_shadows_fall_away_from_the_sun():
    """With a low sun from the south, the ground north of a car darkens, south of it does not."""
    spec = SceneSpec(gsd=0.5, width_m=90, height_m=70, n_cars=1, seed=5, n_tracks=1, car_types=("boxcar",),
                     yard_angle_deg=0.0, curvature=0.0, lookalikes=False, masts=False, sun_azimuth_deg=180.0,
                     sun_elevation_deg=30.0, **CLEAN)
    a, b = render_scene(spec), render_scene(spec.replace(n_cars=0))
    (car,) = a.cars
    lum_a, lum_b = a.pixels.astype(float).mean(0), b.pixels.astype(float).mean(0)
    xs, ys = _pixel_centres(a)
    cx, cy = car.centre_xy
    along = np.abs(xs - cx) < car.length_m / 2 - 1
    north = along & (ys > cy + car.width_m / 2 + 0.5) & (ys < cy + car.width_m / 2 + 3.0)
    south = along & (ys < cy - car.width_m / 2 - 0.5) & (ys > cy - car.width_m / 2 - 3.0)
    assert (lum_b[north] - lum_a[north]).mean() > 25
    assert abs((lum_b[south] - lum_a[south]).mean()) < 1


def test_truth_geojson_is_rfc7946_and_in_the_scene_crs(busy_pair):
    from pyproj import Transformer

    scene, _ = busy_pair
    gj = scene.truth_geojson()
    assert gj["type"] == "FeatureCollection" and gj["simulated"] is True
    assert len(gj["features"]) == len(scene.cars)
    back = Transformer.from_crs("EPSG:4326", scene.crs, always_xy=True)
    x0, y0, x1, y1 = scene_bounds(scene.spec)
    for feat, car in zip(gj["features"], scene.cars):
        ring = feat["geometry"]["coordinates"][0]
        assert feat["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 5
        lon, lat = np.array(ring).T
        x, y = back.transform(lon, lat)
        assert np.allclose(np.column_stack([x, y])[:4], np.array(car.corners_xy), atol=0.02)
        # counter-clockwise exterior ring (shoelace area > 0)
        assert 0.5 * np.sum(lon[:-1] * lat[1:] - lon[1:] * lat[:-1]) > 0
        assert (x0 <= x).all() and (x <= x1).all() and (y1 <= y).all() and (y <= y0).all()
        p = feat["properties"]
        assert p["car_type"] in CAR_TYPES and p["simulated"] is True
        assert p["length_m"] == pytest.approx(car.length_m, abs=1e-3)
        assert p["width_m"] == pytest.approx(CAR_TYPES[p["car_type"]].width_m)


# --------------------------------------------------------------------------- layout facts
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layout_follows_the_priors(seed):
    spec = SceneSpec(gsd=0.5, width_m=300, height_m=300, n_cars=120, seed=seed, n_tracks=14)
    lay = make_layout(spec)
    assert len(lay.cars) == 120
    offsets = sorted(t.offset for t in lay.tracks)
    gaps = np.diff(offsets)
    assert ((gaps >= TRACK_SPACING_M[0]) & (gaps <= TRACK_SPACING_M[1])).all()
    x0, y0, x1, y1 = scene_bounds(spec)
    polys = [Polygon(c.truth.corners_xy) for c in lay.cars]
    for c, p in zip(lay.cars, polys):
        t = c.truth
        nominal = CAR_TYPES[t.car_type].length_m - BODY_SHORTENING_M
        assert abs(t.length_m / nominal - 1) < 0.04
        assert t.width_m == CAR_TYPES[t.car_type].width_m
        bx0, by0, bx1, by1 = p.bounds
        assert bx0 > x0 and bx1 < x1 and by0 > y1 and by1 < y0
    # no two cars overlap
    for i, p in enumerate(polys):
        for q in polys[i + 1:]:
            assert p.intersection(q).area < 1e-6
    # coupled neighbours are 0.8-1.2 m apart (body to body, along the track)
    by_consist: dict[int, list] = {}
    for c in lay.cars:
        by_consist.setdefault(c.truth.consist_id, []).append(c.truth)
    n_gaps = 0
    for cars in by_consist.values():
        s = [(lay.frame.arclength(lay.frame.from_map(*c.centre_xy)[0]), c.length_m) for c in cars]
        s.sort()
        for (s1, l1), (s2, l2) in zip(s, s[1:]):
            gap = (s2 - l2 / 2) - (s1 + l1 / 2)
            assert COUPLING_GAP_M[0] - 0.01 <= gap <= COUPLING_GAP_M[1] + 0.01
            n_gaps += 1
    assert n_gaps > 50


def test_too_many_cars_is_an_error():
    with pytest.raises(CapacityError, match="do not fit"):
        make_layout(SceneSpec(gsd=1.0, width_m=100, height_m=100, n_cars=400, n_tracks=2))


@pytest.mark.parametrize("gsd", [0, -1, 0.01, 3.5, float("nan"), float("inf")])
def test_bad_gsd_is_rejected(gsd):
    with pytest.raises(GSDError):
        SceneSpec(gsd=gsd)


# --------------------------------------------------------------------------- determinism
def test_same_spec_same_pixels_and_tiling_does_not_matter():
    spec = SceneSpec(gsd=0.6, width_m=120, height_m=90, n_cars=12, seed=11)
    a = render_scene(spec)
    b = render_scene(spec, tile=32)
    assert a.pixels.shape == (3, 150, 200)
    assert np.array_equal(a.pixels, b.pixels)
    assert a.cars == b.cars and a.tags == b.tags
    c = render_scene(spec.replace(seed=12))
    assert not np.array_equal(a.pixels, c.pixels)


def test_layout_seed_keeps_the_site():
    spec = SceneSpec(gsd=1.0, width_m=150, height_m=100, n_cars=10, seed=1, layout_seed=5)
    a, b = make_layout(spec), make_layout(spec.replace(seed=2, n_cars=25))
    assert a.tracks == b.tracks and a.objects == b.objects
    assert [c.truth for c in a.cars] != [c.truth for c in b.cars]


@pytest.mark.parametrize("gsd", [0.25, 1.5, 3.0])
def test_gsd_range_renders(gsd):
    spec = SceneSpec(gsd=gsd, width_m=120, height_m=80, n_cars=8, seed=3)
    s = render_scene(spec)
    assert s.pixels.shape == (3, round(80 / gsd), round(120 / gsd)) and s.pixels.dtype == np.uint8
    assert s.transform.a == gsd and s.transform.e == -gsd
    assert s.pixels.std() > 5


def test_no_wall_clock_in_tags():
    s = render_scene(SceneSpec(gsd=2.0, width_m=100, height_m=100, n_cars=2, date="2023-10-05T02:00:00"),
                     pixels=False)
    assert s.tags["TIFFTAG_DATETIME"] == "2023:10:05 02:00:00"
    assert s.tags["RAILCOUNT_SIMULATED"] == "yes" and "SIMULATED" in s.tags["DESCRIPTION"]
    assert not any(re.search(r"20(2[4-9]|[3-9]\d)", v) for v in s.tags.values())


# --------------------------------------------------------------------------- sets
def test_benchmark_set_definition():
    specs = benchmark_specs()
    assert len(specs) >= 40
    assert specs == benchmark_specs()
    gsds = {s.gsd for s in specs}
    assert min(gsds) == 0.25 and max(gsds) == 3.0 and len(gsds) >= 8
    assert sum(s.n_cars == 0 for s in specs) >= 3
    assert max(s.n_cars for s in specs) > 150
    assert len({s.name for s in specs}) == len(specs)
    assert any(s.lookalike_density > 2 for s in specs)
    assert {s.car_types for s in specs if len(s.car_types) == 1} >= {("gondola",), ("tank",)}
    for s in specs:
        assert s.width_m == 300 and s.height_m == 300
    # the densest scenes really hold their cars
    for s in sorted(specs, key=lambda s: -s.n_cars)[:3]:
        assert len(make_layout(s).cars) == s.n_cars


def test_tumangang_specs_facts():
    from pyproj import Transformer

    specs = tumangang_specs()
    assert {k: s.n_cars for k, s in specs.items()} == {"2023-08-28": 20, "2023-10-05": 73}
    for s in specs.values():
        assert s.crs == "EPSG:32652" and s.gsd == 0.5 and s.n_tracks == 5 and s.layout == "station"
        x0, y0, x1, y1 = scene_bounds(s)
        lon, lat = Transformer.from_crs(s.crs, "EPSG:4326", always_xy=True).transform((x0 + x1) / 2, (y0 + y1) / 2)
        assert abs(lon - 130.6081) < 0.001 and abs(lat - 42.4214) < 0.001
        assert "locomotive" not in s.car_types  # the claim counts freight railcars


# --------------------------------------------------------------------------- sample tiles
def test_sample_tiles_reproduce(sample_dir):
    import rasterio

    for key, spec in tumangang_specs().items():
        tif = sample_dir / SAMPLE_TILE_NAMES[key]
        truth = tif.with_name(tif.stem + ".truth.geojson")
        assert "SIMULATED" in tif.name
        assert tif.stat().st_size < 2_000_000
        scene = render_scene(spec, pixels=False)
        assert json.loads(truth.read_text()) == json.loads(json.dumps(scene.truth_geojson()))
        with rasterio.open(tif) as src:
            assert src.tags()["RAILCOUNT_SIMULATED"] == "yes"
            assert "SIMULATED" in src.tags()["DESCRIPTION"]
            assert src.crs.to_epsg() == 32652 and src.res == (0.5, 0.5)
            assert src.tags()["TIFFTAG_DATETIME"] == key.replace("-", ":") + " 02:00:00"
            assert int(src.tags()["RAILCOUNT_TRUTH_COUNT"]) == spec.n_cars
            first = src.read(window=((0, 128), (0, 128)))
        if key == "2023-10-05":  # pixels: regenerate one tile (tiles equal the whole render)
            r0, c0, block = next(iter_scene_tiles(spec, tile=128))
            assert (r0, c0) == (0, 0)
            assert np.array_equal(block, first)


def test_sample_readme_states_the_facts(sample_dir):
    text = (sample_dir / "README.md").read_text()
    assert "SIMULATED" in text and "EPSG:32652" in text and "0.5 m" in text
    for name in SAMPLE_TILE_NAMES.values():
        assert name in text
    assert "railcount fetch xyz" in text and "railcount fetch stac" in text
    assert re.search(r"\b73\b", text) and re.search(r"\b20\b", text)


# --------------------------------------------------------------------------- CLI
def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_writes_scene_and_truth_byte_identically(tmp_path):
    runner = CliRunner()
    args = ["--cars", "9", "--gsd", "1.0", "--seed", "4", "--width-m", "120", "--height-m", "100",
            "--date", "2023-10-05"]
    r1 = runner.invoke(cli, ["simulate", str(tmp_path / "a.tif"), *args])
    assert r1.exit_code == 0, r1.output
    assert "SIMULATED" in r1.output and "a.tif" in r1.output and "a.truth.geojson" in r1.output
    r2 = runner.invoke(cli, ["simulate", str(tmp_path / "b.tif"), *args])
    assert r2.exit_code == 0, r2.output
    assert _sha(tmp_path / "a.tif") == _sha(tmp_path / "b.tif")
    assert _sha(tmp_path / "a.truth.geojson") == _sha(tmp_path / "b.truth.geojson")
    truth = json.loads((tmp_path / "a.truth.geojson").read_text())
    assert len(truth["features"]) == 9
    import rasterio

    with rasterio.open(tmp_path / "a.tif") as src:
        assert src.count == 3 and src.dtypes[0] == "uint8" and src.res == (1.0, 1.0)
        assert src.crs.to_epsg() == 32652 and src.profile["tiled"] and src.compression is not None
        assert src.tags()["RAILCOUNT_SIMULATED"] == "yes"
        assert src.tags()["TIFFTAG_DATETIME"] == "2023:10:05 00:00:00"


@pytest.mark.parametrize("gsd", ["0", "-0.5", "5", "1e9", "nan", "abc"])
def test_cli_bad_gsd(tmp_path, gsd):
    r = CliRunner().invoke(cli, ["simulate", str(tmp_path / "x.tif"), "--gsd", gsd])
    assert r.exit_code != 0
    assert "gsd" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.tif").exists()


def test_cli_unwritable_output(tmp_path):
    r = CliRunner().invoke(cli, ["simulate", str(tmp_path / "missing" / "x.tif"), "--gsd", "1"])
    assert r.exit_code != 0 and "cannot write" in r.output and len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(cli, ["simulate", str(tmp_path), "--gsd", "1"])
    assert r.exit_code != 0 and "cannot write" in r.output


def test_cli_needs_one_output(tmp_path):
    r = CliRunner().invoke(cli, ["simulate"])
    assert r.exit_code != 0 and "exactly one" in r.output


def test_cli_too_many_cars(tmp_path):
    r = CliRunner().invoke(cli, ["simulate", str(tmp_path / "x.tif"), "--gsd", "1", "--cars", "900",
                                 "--width-m", "100", "--height-m", "100", "--tracks", "2"])
    assert r.exit_code != 0 and "do not fit" in r.output and "Traceback" not in r.output


def test_write_scene_paths(tmp_path):
    s = render_scene(SceneSpec(gsd=2.0, width_m=64, height_m=64, n_cars=1, n_tracks=2))
    tif, truth = write_scene(s, tmp_path / "one_SIMULATED.tif")
    assert tif.exists() and truth.name == "one_SIMULATED.truth.geojson"
