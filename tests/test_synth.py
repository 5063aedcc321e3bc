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
        # some consists are the colour of the ballast on purpose (low contrast): ask for a change, not a strong one
        assert (d[inside] > 2).mean() > 0.9, car
    # far from every car (beyond shadows, blur and 16 px JPEG blocks) nothing changes
    reach = 6.0 / math.tan(math.radians(20)) + 8 * scene.gsd + 16 * scene.gsd
    near = unary_union([Polygon(c.corners_xy) for c in scene.cars]).buffer(reach)
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
    offsets = sorted(t.offset for t in lay.tracks if t.kind != "crossover")  # crossovers leave a lane
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
@pytest.mark.slow
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


def test_cli_adds_tif_to_an_out_without_suffix(tmp_path):
    (tmp_path / "out").mkdir()
    r = CliRunner().invoke(cli, ["simulate", str(tmp_path / "out" / "scene_b"), "--cars", "3", "--gsd", "1",
                                 "--width-m", "80", "--height-m", "60", "--tracks", "2"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "scene_b.tif", "scene_b.tracks.geojson", "scene_b.truth.geojson"]
    assert r.output.startswith(f"wrote {tmp_path / 'out' / 'scene_b.tif'}: SIMULATED scene")
    r = CliRunner().invoke(cli, ["simulate", str(tmp_path / "scene.png"), "--gsd", "1"])
    assert r.exit_code == 1 and "give OUT.tif" in r.output and not (tmp_path / "scene.png").exists()


def test_cli_ground_choices_are_the_simulators(tmp_path):
    from railcount.synth.spec import GROUNDS

    r = CliRunner().invoke(cli, ["simulate", "--help"])
    assert all(g in r.output for g in GROUNDS) and "ballast" in GROUNDS
    r = CliRunner().invoke(cli, ["simulate", str(tmp_path / "b.tif"), "--ground", "ballast", "--cars", "3",
                                 "--gsd", "1", "--width-m", "80", "--height-m", "60", "--tracks", "2"])
    assert r.exit_code == 0, r.output


def test_write_scene_writes_all_three_files_or_none(tmp_path, monkeypatch):
    import railcount.io
    from railcount.errors import OutputError
    from railcount.synth import SceneSpec, render_scene, write_scene

    scene = render_scene(SceneSpec(gsd=1.0, n_cars=2, width_m=60, height_m=50, n_tracks=2))

    def broken(*args, **kwargs):
        raise OutputError("disk full")

    monkeypatch.setattr(railcount.io, "write_json", broken)
    with pytest.raises(OutputError):
        write_scene(scene, tmp_path / "s.tif")
    assert list(tmp_path.iterdir()) == []


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


# --------------------------------------------------------------------------- track looks, floors, crossovers
def _lanes(lay):
    return [t for t in lay.tracks if t.kind != "crossover"]


def test_track_looks_vary_within_their_ranges():
    """Rails, sleepers, ballast width and colour, weeds and dirt are drawn per track, within real ranges."""
    looks = [t.look for s in range(12) for t in make_layout(SceneSpec(gsd=1.0, width_m=200, height_m=200, n_cars=0,
                                                                      seed=s, n_tracks=8)).tracks]
    assert {lk.rails for lk in looks} == {"polished", "rusty"}
    assert {lk.sleepers for lk in looks} == {"concrete", "timber"}
    pitch = [lk.sleeper_pitch for lk in looks]
    assert 0.55 <= min(pitch) < 0.57 and 0.63 < max(pitch) <= 0.65
    bed = [2 * lk.bed_half_m for lk in looks]
    assert 3.2 <= min(bed) < 3.4 and 4.6 < max(bed) <= 5.0
    contrast = [lk.rail_contrast for lk in looks]
    assert min(contrast) < 0.4 and max(contrast) > 0.9
    grey = [np.mean(lk.ballast) for lk in looks]
    assert min(grey) < 100 and max(grey) > 140  # dark to light ballast
    assert any(lk.weeds > 0 for lk in looks) and any(lk.weeds == 0 for lk in looks)
    assert any(lk.dirt > 0 for lk in looks) and any(lk.dirt == 0 for lk in looks)
    for lk in looks:  # concrete sleepers are light, timber dark; rusty heads dark, polished bright
        assert (np.mean(lk.sleeper) > 140) == (lk.sleepers == "concrete")
        assert (np.mean(lk.head) > 150) == (lk.rails == "polished")
        assert np.mean(lk.foot) < 80


def test_style_seed_changes_the_look_not_the_site():
    spec = SceneSpec(gsd=1.0, width_m=200, height_m=150, n_cars=20, seed=3, n_tracks=8)
    a, b = make_layout(spec), make_layout(spec.replace(style_seed=99))
    def geometry(lay):
        return [(t.offset, t.extent, t.kind, t.cross) for t in lay.tracks]

    assert geometry(a) == geometry(b)
    assert [c.truth for c in a.cars] == [c.truth for c in b.cars]
    assert [t.look for t in a.tracks] != [t.look for t in b.tracks]
    # a site keeps its look between dates
    c = make_layout(spec.replace(seed=4, layout_seed=3))
    assert [t.look for t in a.tracks] == [t.look for t in c.tracks]


def _rail_profile(spec):
    """Median luminance across the tracks of a straight east-west yard, sampled every pixel row."""
    scene = render_scene(spec)
    lum = scene.pixels.astype(float).mean(0)
    prof = np.median(lum[:, lum.shape[1] // 3: 2 * lum.shape[1] // 3], axis=1)
    ys = scene.transform.f - (np.arange(len(prof)) + 0.5) * scene.gsd
    return ys, prof


@pytest.mark.parametrize("seed", range(4))
def test_rails_are_dark_lines_on_their_bed(seed):
    """On every straight track each rail is a dark line: darker than the bed half a metre either side.

    The darkest line may sit up to 0.2 m off the rail's centre (the rail's
    shadow and stain lie beside a polished, bright head).
    """
    spec = SceneSpec(gsd=0.25, width_m=60, height_m=50, n_cars=0, seed=seed, n_tracks=4, yard_angle_deg=0.0,
                     curvature=0.0, gauge="1435", lookalikes=False, masts=False, crossovers=0, **CLEAN)
    ys, prof = _rail_profile(spec)
    lay = make_layout(spec)
    checked = 0
    for t in lay.tracks:
        if t.lead_in or t.lead_out or t.u_start > -30 or t.u_end < 30:
            continue
        yc = lay.frame.cy + t.offset

        def at(dy, yc=yc):
            return float(np.interp(yc + dy, ys[::-1], prof[::-1]))

        for side in (-1, 1):
            rail = min(at(side * 0.7535 + dy) for dy in np.linspace(-0.2, 0.2, 9))
            assert rail < at(side * 0.25) - 5 and rail < at(side * 1.25) - 5, (t.look, side)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("seed", [2, 5])
def test_ballast_floor_is_ballast_between_the_tracks(seed):
    """With ground="ballast" the floor beside the tracks is the site's ballast, not light gravel."""
    spec = SceneSpec(gsd=0.25, width_m=60, height_m=50, n_cars=0, seed=seed, n_tracks=4, yard_angle_deg=0.0,
                     curvature=0.0, lookalikes=False, masts=False, crossovers=0, **CLEAN)
    floors = {}
    for ground in ("gravel", "ballast"):
        lay = make_layout(spec.replace(ground=ground))
        outside = lay.frame.cy + max(t.offset for t in _lanes(lay)) + 3.5  # floor beside the outer bed
        scene = render_scene(spec.replace(ground=ground))
        lum = scene.pixels.astype(float).mean(0)
        row = int((scene.transform.f - outside) / scene.gsd)
        floors[ground] = lum[row - 1: row + 2, 20:-20].mean()
        assert abs(floors[ground] - np.mean(lay.yard_floor)) < 15
        if ground == "ballast":  # the site's usual ballast, as on most of its tracks
            site = np.median([np.mean(t.look.ballast) for t in lay.tracks])
            assert abs(np.mean(lay.yard_floor) - site) < 15
        else:
            assert np.mean(lay.yard_floor) > 150
    assert floors["ballast"] < floors["gravel"] - 5
    with pytest.raises(ValueError, match="ground"):
        SceneSpec(ground="tarmac")


def test_crossovers_join_neighbouring_tracks():
    spec = SceneSpec(gsd=0.5, width_m=300, height_m=300, n_cars=60, seed=9, n_tracks=8, crossovers=3)
    lay = make_layout(spec)
    lanes = _lanes(lay)
    xos = [t for t in lay.tracks if t.kind == "crossover"]
    assert len(xos) == 3
    assert [t.track_id for t in lay.tracks] == list(range(len(lay.tracks)))
    offsets = sorted(t.offset for t in lanes)
    for x in xos:
        to, slope, curve = x.cross
        i, j = offsets.index(x.offset), offsets.index(to)
        assert abs(i - j) == 1  # neighbours
        assert 1 / 12 - 1e-9 <= slope <= 1 / 9 + 1e-9
        u = np.linspace(x.u_start, x.u_end, 400)
        w = x.offset_at(u)
        assert w[0] == pytest.approx(x.offset) and w[-1] == pytest.approx(to)
        assert np.abs(x.slope_at(u)).max() == pytest.approx(slope, rel=1e-3)
        assert np.allclose(np.gradient(w, u), x.slope_at(u), atol=2e-3)
        # both lanes run through the whole crossover
        for lane in lanes:
            if lane.offset in (x.offset, to):
                assert lane.u_start < x.u_start and lane.u_end > x.u_end
    # no car stands on or beside a crossover
    from shapely.geometry import LineString

    scene = render_scene(spec, pixels=False)
    assert scene.track_kinds.count("crossover") == 3
    for tid, kind in enumerate(scene.track_kinds):
        if kind == "crossover":
            line = LineString(scene.tracks[tid])
            assert not any(Polygon(c.corners_xy).intersects(line.buffer(1.0)) for c in scene.cars)
    assert len(make_layout(spec.replace(crossovers=0)).tracks) == len(lanes)


def test_crossovers_that_do_not_fit_are_left_out(caplog):
    spec = SceneSpec(gsd=1.0, width_m=120, height_m=100, n_cars=5, seed=1, n_tracks=3, crossovers=12)
    with caplog.at_level("WARNING", logger="railcount.synth.layout"):
        lay = make_layout(spec)
    assert sum(t.kind == "crossover" for t in lay.tracks) < 12 and "crossovers fit" in caplog.text
    with pytest.raises(ValueError, match="crossovers"):
        SceneSpec(crossovers=-1)


@pytest.mark.slow
def test_crossovers_are_drawn_where_their_truth_is():
    """The pixels a crossover changes lie along its centreline (within its ballast bed)."""
    spec = SceneSpec(gsd=0.5, width_m=200, height_m=200, n_cars=0, seed=4, n_tracks=6, crossovers=1,
                     lookalikes=False, masts=False, **CLEAN)
    with_x, without = render_scene(spec), render_scene(spec.replace(crossovers=0))
    (tid,) = [i for i, k in enumerate(with_x.track_kinds) if k == "crossover"]
    from shapely import contains_xy
    from shapely.geometry import LineString

    xs, ys = _pixel_centres(with_x)
    d = _diff(with_x, without)
    near = contains_xy(LineString(with_x.tracks[tid]).buffer(3.5), xs, ys)
    assert (d > 10).sum() > 200
    assert not (d[~near] > 0).any()


def test_scene_tracks_cover_every_visible_track():
    """Each drawn track (turnout curves, crossovers) is in ``Scene.tracks`` wherever it is in the scene."""
    from shapely.geometry import LineString

    spec = SceneSpec(gsd=1.0, width_m=300, height_m=240, n_cars=0, seed=6, n_tracks=9, crossovers=2, curvature=1 / 600)
    scene = render_scene(spec, pixels=False)
    lay = make_layout(spec)
    x0, y0, x1, y1 = scene_bounds(spec)
    assert len(scene.tracks) == len(lay.tracks) == len(scene.track_kinds) == len(scene.track_gauges)
    for t, line in zip(lay.tracks, scene.tracks):
        a, b = t.extent
        u = np.linspace(a, b, int((b - a) / 0.2) + 2)
        x, y = lay.frame.to_map(u, t.offset_at(u))
        inside = (x > x0) & (x < x1) & (y < y0) & (y > y1)
        if not inside.any():
            assert len(line) == 0
            continue
        poly = LineString(line)
        gap = max(poly.distance(Point(p, q)) for p, q in zip(x[inside], y[inside]))
        assert gap < 0.05, (t.track_id, t.kind, gap)


def test_tracks_geojson_is_rfc7946(tmp_path):
    from pyproj import Transformer
    from shapely.geometry import LineString

    from railcount.synth import tracks_path_for

    spec = SceneSpec(gsd=1.0, width_m=200, height_m=160, n_cars=10, seed=5, n_tracks=6, crossovers=1, gauge="mixed")
    scene = render_scene(spec)
    tif, truth = write_scene(scene, tmp_path / "x_SIMULATED.tif")
    path = tracks_path_for(tif)
    assert path.name == "x_SIMULATED.tracks.geojson" and path.exists()
    gj = json.loads(path.read_text())
    assert gj == json.loads(json.dumps(scene.tracks_geojson()))
    assert gj["type"] == "FeatureCollection" and gj["simulated"] is True
    feats = gj["features"]
    assert len(feats) == sum(len(t) > 1 for t in scene.tracks)
    assert {f["properties"]["kind"] for f in feats} >= {"yard", "crossover"}
    back = Transformer.from_crs("EPSG:4326", scene.crs, always_xy=True)
    for f in feats:
        p = f["properties"]
        tid = p["track_id"]
        assert f["geometry"]["type"] == "LineString" and p["simulated"] is True
        assert p["gauge"] == scene.track_gauges[tid] and p["kind"] == scene.track_kinds[tid]
        coords = f["geometry"]["coordinates"]
        assert all(len(str(v).split(".")[-1]) <= 7 for c in coords for v in c)
        assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in coords)
        x, y = back.transform(*np.array(coords).T)
        exact = LineString(scene.tracks[tid])
        assert max(exact.distance(Point(a, b)) for a, b in zip(x, y)) < 0.03
        assert p["length_m"] == pytest.approx(exact.length, abs=0.01)
    assert write_scene(scene, tmp_path / "y.tif")[1].name == "y.truth.geojson"


@pytest.mark.slow
def test_same_spec_same_pixels_with_the_new_looks():
    spec = SceneSpec(gsd=0.4, width_m=100, height_m=80, n_cars=10, seed=13, n_tracks=6, ground="ballast",
                     crossovers=1)
    a, b = render_scene(spec), render_scene(spec, tile=48)
    assert np.array_equal(a.pixels, b.pixels) and a.tracks == b.tracks
    assert not np.array_equal(a.pixels, render_scene(spec.replace(style_seed=1)).pixels)


# --------------------------------------------------------------------------- cars, masts
def test_unit_trains_and_ballast_coloured_cars():
    """Long consists are mostly of one type; some consists are the colour of their track's ballast."""
    unit = long = matching = 0
    for seed in range(6):
        lay = make_layout(SceneSpec(gsd=0.5, width_m=400, height_m=300, n_cars=150, seed=seed, n_tracks=14))
        by_consist: dict[int, list] = {}
        for c in lay.cars:
            by_consist.setdefault(c.truth.consist_id, []).append(c)
        for cars in by_consist.values():
            wagons = [c for c in cars if c.truth.car_type != "locomotive"]
            if len(wagons) >= 8:
                long += 1
                unit += len({c.truth.car_type for c in wagons}) == 1
            ballast = np.asarray(lay.tracks[cars[0].truth.track_id].look.ballast)
            matching += all(np.abs(np.asarray(c.colour) - ballast).max() < 25 for c in wagons) and bool(wagons)
    assert long >= 10 and unit / long > 0.7
    assert matching >= 2


@pytest.mark.slow
def test_mast_shadows_fall_on_cars():
    spec = SceneSpec(gsd=0.5, width_m=150, height_m=150, n_cars=40, seed=21, n_tracks=12, sun_azimuth_deg=200,
                     sun_elevation_deg=25, lookalikes=False, **CLEAN)
    lay = make_layout(spec)
    masts = [b for b in lay.objects if b.kind == "mast"]
    lanes = sorted(t.offset for t in _lanes(lay))
    inner = [b for b in masts if lanes[0] < lay.frame.from_map(b.cx, b.cy)[1] < lanes[-1]]
    assert inner  # wide yards: portal masts also stand between tracks
    a, b = render_scene(spec), render_scene(spec.replace(masts=False))
    assert a.cars == b.cars
    from shapely import contains_xy

    xs, ys = _pixel_centres(a)
    darker = (b.pixels.astype(float) - a.pixels.astype(float)).mean(0) > 20
    shaded = sum(darker[contains_xy(Polygon(c.corners_xy).buffer(-0.5), xs, ys)].sum() > 5 for c in a.cars)
    assert shaded >= 3


# --------------------------------------------------------------------------- training set
@pytest.mark.slow
def test_training_specs_are_varied_and_fit():
    from railcount.synth import training_specs

    specs = training_specs(60)
    assert len(specs) == 60 and specs == training_specs(60)
    assert training_specs(5, seed0=20010) == specs[10:15]
    seeds = [s.seed for s in specs]
    assert min(seeds) >= 20000 and not set(seeds) & {s.seed for s in benchmark_specs()}
    gsd = np.array([s.gsd for s in specs])
    assert gsd.min() >= 0.2 and gsd.max() <= 3.0 and 0.08 < (gsd > 0.8).mean() < 0.35
    grounds = [s.ground for s in specs]
    assert set(grounds) == {"gravel", "soil", "vegetated", "ballast"} and 0.15 < grounds.count("ballast") / 60 < 0.45
    assert {s.layout for s in specs} == {"yard", "station"}
    assert any(s.jpeg_quality is None for s in specs) and any(s.jpeg_quality is not None for s in specs)
    assert any(not s.masts for s in specs) and any(s.masts for s in specs)
    assert any(len(s.car_types) < len(CAR_TYPES) for s in specs)
    for s in specs:
        assert s.width_m == s.height_m and 200 <= s.width_m <= 300
        assert 0 <= s.n_cars <= 150 and 0 <= s.curvature <= 1 / 400
        assert 0 <= s.haze <= 0.3 and 1 <= s.noise <= 8 and 0.2 <= s.blur <= 1.3
        assert 15 <= s.sun_elevation_deg <= 75 and 0 <= s.lookalike_density <= 3
        assert s.jpeg_quality is None or 40 <= s.jpeg_quality <= 95
    blur = np.array([s.blur for s in specs])  # sharp more often than soft, soft ones too
    assert 0.35 < np.median(blur) < 0.65 and (blur > 1.0).any() and (blur < 0.3).any()
    for s in specs[:8]:
        assert len(make_layout(s).cars) == s.n_cars


def test_benchmark_appends_ballast_and_crossover_scenes():
    specs = benchmark_specs()
    assert specs[47].name == "b47_packed3" and specs[0].name == "b00_density0"  # earlier scenes keep their places
    new = specs[48:]
    assert [s.seed for s in new] == [9048 + i for i in range(len(new))]
    ballast = [s for s in new if s.ground == "ballast"]
    assert 2 <= len(ballast) <= 3 and any(s.n_cars == 0 for s in ballast)
    assert all(0.3 <= s.gsd <= 0.5 for s in new)
    (xo,) = [s for s in new if s.name.endswith("crossovers")]
    assert sum(t.kind == "crossover" for t in make_layout(xo).tracks) >= 3


# --------------------------------------------------------------------------- seen off nadir
def test_cars_lean_away_from_the_sensor_and_show_a_side():
    """Off nadir, a car's changed pixels shift towards the lean azimuth by about height x tan(angle)."""
    spec = SceneSpec(gsd=0.25, width_m=60, height_m=50, n_cars=1, seed=5, n_tracks=1, car_types=("boxcar",),
                     yard_angle_deg=0.0, curvature=0.0, lookalikes=False, masts=False, sun_azimuth_deg=180.0,
                     sun_elevation_deg=90.0, **CLEAN)
    nadir = render_scene(spec)
    (car,) = nadir.cars
    xs, ys = _pixel_centres(nadir)
    centres = []
    for angle in (0.0, 30.0):
        view = spec.replace(off_nadir_deg=angle, lean_azimuth_deg=0.0)  # leaning north
        scene, empty = render_scene(view), render_scene(view.replace(n_cars=0))
        assert scene.cars == nadir.cars  # the truth is the footprint whatever the view
        changed = _diff(scene, empty) > 3
        centres.append((xs[changed].mean(), ys[changed].mean(), changed.sum()))
    (x0, y0, n0), (x1, y1, n1) = centres
    shift = car.height_m * math.tan(math.radians(30.0))
    assert abs(x1 - x0) < spec.gsd
    # the top moved north by the full shift, the side fills the footprint's southern half: the middle moves half
    assert 0.3 * shift < y1 - y0 < 0.7 * shift
    assert n1 > n0 * (1 + 0.6 * shift / car.width_m)  # top and side cover more ground than the footprint


@pytest.mark.slow
def test_leaning_scenes_do_not_depend_on_tiling():
    spec = SceneSpec(gsd=0.5, width_m=100, height_m=80, n_cars=10, seed=14, n_tracks=6, off_nadir_deg=30.0,
                     lean_azimuth_deg=235.0)
    a, b = render_scene(spec), render_scene(spec, tile=32)
    assert np.array_equal(a.pixels, b.pixels)
    assert not np.array_equal(a.pixels, render_scene(spec.replace(off_nadir_deg=0.0)).pixels)


def test_off_nadir_range(tmp_path):
    with pytest.raises(ValueError, match="off_nadir_deg"):
        SceneSpec(off_nadir_deg=60.0)
    args = ["simulate", str(tmp_path / "o.tif"), "--cars", "3", "--gsd", "1", "--width-m", "80", "--height-m", "60",
            "--tracks", "2"]
    r = CliRunner().invoke(cli, [*args, "--off-nadir", "60"])
    assert r.exit_code != 0 and "off_nadir_deg must be 0-45" in r.output and not (tmp_path / "o.tif").exists()
    r = CliRunner().invoke(cli, [*args, "--off-nadir", "25", "--lean-azimuth", "135"])
    assert r.exit_code == 0, r.output


def test_training_scenes_seen_off_nadir_differ_in_the_view_only():
    from railcount.synth import training_specs

    nadir = training_specs(12)
    oblique = training_specs(12, oblique_share=1.0)
    assert all(s.off_nadir_deg == 0 for s in nadir)
    assert all(0 < s.off_nadir_deg <= 35 and 0 <= s.lean_azimuth_deg < 360 for s in oblique)
    for a, b in zip(nadir, oblique):
        assert b.replace(off_nadir_deg=0.0, lean_azimuth_deg=0.0, n_cars=a.n_cars) == a
    half = training_specs(40, oblique_share=0.5)
    assert 8 <= sum(s.off_nadir_deg > 0 for s in half) <= 32
