"""Track finding on drawn scenes with known track lines, user lines snapped, and `railcount tracks`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import build_raster
from drawn import arc, draw_tracks

from railcount.cli import cli
from railcount.detect import locate_tracks
from railcount.detect.tracks import (
    BLOCK_M,
    MAX_BLOCK_M,
    MIN_BLOCK_PX,
    TrackLine,
    TrackSet,
    block_side_m,
    clip_tracks,
    join_tracks,
    snap_tracks,
)
from railcount.evaluate import score_tracks

GSD = 0.3
SIZE = (150.0, 150.0)


def straight(row_m, c0=0.0, c1=150.0):
    return np.array([[row_m, c0], [row_m, c1]])


def found_m(ts: TrackSet) -> list[np.ndarray]:
    return [t.points * ts.gsd for t in ts.tracks]


def assert_tracks(ts: TrackSet, lines, *, recall=0.9, precision=0.9):
    s = score_tracks([np.asarray(ln, float) for ln in lines], found_m(ts), (0.0, 0.0, *SIZE))
    assert s.recall >= recall and s.precision >= precision, s


def test_parallel_straight_tracks():
    lines = [straight(r) for r in (50.0, 55.0, 60.5)]
    img, _ = draw_tracks(lines, gsd=GSD, size_m=SIZE)
    assert_tracks(locate_tracks(img, gsd=GSD), lines)


def test_curved_track():
    lines = [arc((400.0, 75.0), 340.0, -120.0, -60.0)]  # a 340 m radius across the picture
    img, _ = draw_tracks(lines, gsd=GSD, size_m=SIZE)
    assert_tracks(locate_tracks(img, gsd=GSD), lines)


def test_diagonal_crossing_tracks():
    lines = [np.array([[20.0, 0.0], [130.0, 150.0]]), np.array([[130.0, 0.0], [20.0, 150.0]])]
    img, _ = draw_tracks(lines, gsd=GSD, size_m=SIZE)
    assert_tracks(locate_tracks(img, gsd=GSD), lines, recall=0.85)


def test_track_runs_on_under_a_long_consist():
    lines = [straight(60.0), straight(65.0)]
    cars = [(0, 10.0 + 15.0 * i, 14.9, (60, 55, 50) if i % 2 else (70, 62, 55)) for i in range(8)]
    img, _ = draw_tracks(lines, gsd=GSD, size_m=SIZE, cars=cars)
    ts = locate_tracks(img, gsd=GSD)
    assert_tracks(ts, lines)
    # the occupied stretch itself (10-130 m along the first track) is covered
    s = score_tracks([np.array([[60.0, 20.0], [60.0, 120.0]])], found_m(ts), (0.0, 0.0, *SIZE), inset=0.0)
    assert s.recall >= 0.9, s


def test_blocks_hold_as_many_pixels_at_coarse_gsd_as_at_half_a_metre():
    """16 m blocks to 0.5 m; coarser, blocks of MIN_BLOCK_PX pixels (rails two pixels apart need the averaging)."""
    assert block_side_m(0.25) == block_side_m(0.5) == BLOCK_M
    assert block_side_m(0.8) == pytest.approx(0.8 * MIN_BLOCK_PX) and block_side_m(0.8) > BLOCK_M
    assert block_side_m(0.8) / 0.8 == pytest.approx(BLOCK_M / 0.5)
    assert block_side_m(0.8, 40.0) == 40.0  # a longer block asked for is kept
    assert block_side_m(3.0) == MAX_BLOCK_M  # no longer than a curved track is straight


def test_no_track_on_a_road_or_a_container_stack():
    lines = [straight(30.0)]
    boxes = [(100.0, 75.0, 150.0, 7.0, 0.0, (85, 85, 90))]  # a road across the picture
    boxes += [(100.0, 20.0 + 15.0 * i, 12.0, 2.5, 0.0, (200, 200, 200)) for i in range(5)]  # trucks on it
    boxes += [(120.0 + 2.6 * j, 40.0 + 12.5 * i, 12.19, 2.44, 0.0, (170 - 30 * j, 60 + 20 * i, 50))
              for i in range(4) for j in range(4)]  # a container stack
    img, _ = draw_tracks(lines, gsd=GSD, size_m=SIZE, boxes=boxes)
    assert_tracks(locate_tracks(img, gsd=GSD), lines)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_blank_image_has_no_track(dtype):
    assert len(locate_tracks(np.full((300, 300, 3), 9, dtype), gsd=0.5)) == 0


def test_user_lines_are_snapped_or_used_as_given():
    lines = [straight(50.0), straight(55.5)]
    img, _ = draw_tracks(lines, gsd=GSD, size_m=SIZE)
    user = [np.array([[51.8, 0.0], [51.8, 150.0]]) / GSD,  # 1.8 m off the first track, 3.7 m off the second
            np.array([[110.0, 0.0], [110.0, 150.0]]) / GSD]  # where there is no track
    ts = locate_tracks(img, gsd=GSD, user=user, snap_m=3.0)
    image = [t for t in ts.tracks if t.source == "image"]
    given = [t for t in ts.tracks if t.source == "user"]
    assert image and given
    assert all(abs(np.median(t.points[:, 0]) * GSD - 50.0) < 1.0 for t in image)
    assert all(abs(np.median(t.points[:, 0]) * GSD - 110.0) < 0.1 for t in given)
    # a tighter tolerance snaps nothing: both lines are used as given
    tight = locate_tracks(img, gsd=GSD, user=user, snap_m=1.0)
    assert {t.source for t in tight.tracks} == {"user"}


def test_user_line_running_far_past_the_picture_is_cut_to_it():
    """A line exported for a whole network (here 600 km long, two vertices) is cut to the picture, not
    resampled along its length: same tracks as the line drawn across the picture only, and at once."""
    img, _ = draw_tracks([straight(50.0)], gsd=GSD, size_m=SIZE)
    cols = SIZE[1] / GSD
    short = [np.array([[51.0 / GSD, -1.0], [51.0 / GSD, cols + 1.0]])]
    long = [np.array([[51.0 / GSD, -3e5 / GSD], [51.0 / GSD, 3e5 / GSD]])]
    near = locate_tracks(img, gsd=GSD, user=short)
    far = locate_tracks(img, gsd=GSD, user=long)
    assert len(far) == len(near) >= 1
    assert {t.source for t in far.tracks} == {t.source for t in near.tracks}
    assert abs(far.length_m - near.length_m) < 1.0
    assert max(np.abs(t.points[:, 1]).max() for t in far.tracks) < cols + 20.0


def test_snap_keeps_only_found_tracks_near_user_lines():
    found = TrackSet((TrackLine(np.array([[10.0, 0.0], [10.0, 200.0]]), 0.9),
                      TrackLine(np.array([[40.0, 0.0], [40.0, 200.0]]), 0.9)), 0.5)
    out = snap_tracks([np.array([[12.0, 0.0], [12.0, 200.0]])], found, tol_m=3.0)
    assert [t.source for t in out.tracks] == ["image"]
    assert np.allclose(out.tracks[0].points[:, 0], 10.0)


def test_clip_and_join_give_back_one_track():
    t = TrackLine(np.array([[5.0, 0.0], [5.0, 100.0]]), 0.8)
    pieces = clip_tracks([t], (-np.inf, -np.inf, np.inf, 40.0)) + clip_tracks([t], (-np.inf, 40.0, np.inf, np.inf))
    assert len(pieces) == 2
    joined = join_tracks(pieces, gap_px=1.0)
    assert len(joined) == 1 and abs(joined[0].length_px() - 100.0) < 1e-6


def test_pieces_of_one_track_either_side_of_a_gap_are_joined_but_not_a_neighbour():
    """A track found either side of a train and the run added along it (gaps of 4 m) become one track, with
    the length-weighted share of rails seen; a piece 1 m across, or one pointing another way, stays apart."""
    left = TrackLine(np.array([[50.0, 0.0], [50.0, 100.0]]), 0.9, "image", 0.8)
    train = TrackLine(np.array([[50.2, 104.0], [50.2, 204.0]]), 0.5, "image", 0.0)
    right = TrackLine(np.array([[50.0, 208.0], [50.0, 308.0]]), 0.9, "image", 0.8)
    beside = TrackLine(np.array([[51.0, 312.0], [51.0, 400.0]]), 0.9, "image", 0.8)  # 1 m across
    turned = TrackLine(np.array([[50.0, 104.0], [0.0, 200.0]]), 0.9, "image", 0.8)
    joined = join_tracks([left, train, right, beside], gap_px=5.0, lat_px=0.5)
    assert sorted(round(t.length_px()) for t in joined) == [88, 308]
    one = max(joined, key=lambda t: t.length_px())
    assert abs(one.rails - (0.8 * 200 + 0.0 * 100) / 300) < 0.01
    assert len(join_tracks([left, turned], gap_px=5.0, lat_px=0.5)) == 2


def test_cli_tracks_writes_rfc7946_geojson(tmp_path):
    lines = [straight(r) for r in (50.0, 55.0)]
    img, _ = draw_tracks(lines, gsd=GSD, size_m=SIZE)
    tif = build_raster(tmp_path / "yard.tif", data=np.moveaxis(img, -1, 0), shape=img.shape[:2], res=GSD)
    out, png = tmp_path / "tracks.geojson", tmp_path / "tracks.png"
    r = CliRunner().invoke(cli, ["tracks", str(tif), "--out", str(out), "--overlay", str(png)])
    assert r.exit_code == 0, r.output
    assert "tracks:" in r.output and png.stat().st_size > 1000
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) >= 2
    for f in doc["features"]:
        assert f["geometry"]["type"] == "LineString"
        lon, lat = np.array(f["geometry"]["coordinates"]).T
        assert np.all((-180 <= lon) & (lon <= 180) & (-90 <= lat) & (lat <= 90))
        assert f["properties"]["source"] == "image" and f["properties"]["length_m"] > 20


def test_cli_tracks_bad_output_folder_writes_nothing(tmp_path):
    img, _ = draw_tracks([straight(50.0)], gsd=GSD, size_m=SIZE)
    tif = build_raster(tmp_path / "yard.tif", data=np.moveaxis(img, -1, 0), shape=img.shape[:2], res=GSD)
    out = tmp_path / "tracks.geojson"
    r = CliRunner().invoke(cli, ["tracks", str(tif), "--out", str(out), "--overlay", str(tmp_path / "no" / "t.png")])
    assert r.exit_code != 0 and "does not exist" in r.output
    assert not out.exists() and list(tmp_path.iterdir()) == [tif]


def test_cli_tracks_on_a_missing_file():
    r = CliRunner().invoke(cli, ["tracks", "no_such_tile.tif"])
    assert r.exit_code != 0 and "no_such_tile.tif" in r.output and "Traceback" not in r.output


def test_a_window_in_its_raster_frame_finds_what_the_whole_finds_there():
    """A window given its place and the raster's levels (``Frame``) sees the blocks the whole raster does."""
    from railcount.detect import Frame, image_levels

    gsd = 0.15  # finer than 0.2 m: the working image averages 2x2 pixels, laid on the raster too
    lines = [straight(r) for r in (50.0, 55.0, 60.5, 90.0)]
    img, _ = draw_tracks(lines, gsd=gsd, size_m=SIZE, seed=3)
    whole = locate_tracks(img, gsd=gsd)
    r0, c0 = 37, 211  # an offset that is a multiple of neither the averaging cell nor the block
    crop = img[r0:, c0:]
    levels = image_levels(img, np.ones(img.shape[:2], bool))
    framed = locate_tracks(crop, gsd=gsd, frame=Frame((r0, c0), levels))
    box = (r0 + 100.0, c0 + 100.0, img.shape[0] - 100.0, img.shape[1] - 100.0)  # well inside the crop
    a = [t.points for t in clip_tracks(whole.tracks, box)]
    b = [t.points + np.array([r0, c0]) for t in clip_tracks(
        framed.tracks, (box[0] - r0, box[1] - c0, box[2] - r0, box[3] - c0))]
    assert len(a) == len(b) >= 3
    # the same lines, not merely lines close by: framed vertices lie on the whole's tracks
    from railcount.detect.geometry import nearest_on_polylines

    dist = nearest_on_polylines(np.vstack(b), a)[0]
    assert np.median(dist) < 1e-3, np.median(dist)
