"""Parts of the detector with exact answers: the tree evaluator, strips, splitting consists."""

from __future__ import annotations

import numpy as np
import pytest

from railcount.detect.cars import body_runs, length_loglik, split_run
from railcount.detect.forest import export_hgb, forest_from_arrays
from railcount.detect.geometry import near_polylines, near_polylines_each, nearest_on_polylines, resample_polyline
from railcount.detect.strips import HALF_M, STEP_M, track_strips
from railcount.detect.tracks import TrackLine, TrackSet
from railcount.priors import CAR_TYPES


def test_forest_matches_scikit_learn_and_survives_a_round_trip(tmp_path):
    sklearn = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 6))
    X[rng.uniform(size=X.shape) < 0.05] = np.nan  # missing values take their learned side
    y = ((np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) ** 2) > 0.5).astype(int)
    model = sklearn.HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    forest = export_hgb(model, {"note": "test"})
    np.testing.assert_allclose(forest.predict_proba(X), model.predict_proba(X)[:, 1], rtol=0, atol=1e-9)
    full = np.nan_to_num(X)  # no missing value: the walk skips the NaN test
    np.testing.assert_allclose(forest.predict_proba(full), model.predict_proba(full)[:, 1], rtol=0, atol=1e-9)
    np.savez(tmp_path / "m.npz", **forest.to_arrays())
    with np.load(tmp_path / "m.npz", allow_pickle=False) as arrs:
        back = forest_from_arrays(arrs)
    np.testing.assert_array_equal(back.predict_proba(X), forest.predict_proba(X))
    assert back.meta["note"] == "test" and back.meta["n_features"] == 6
    whole = forest.predict_proba(X)
    np.testing.assert_array_equal(forest.predict_proba(X[700:1400]), whole[700:1400])  # a row's sum is its own
    np.testing.assert_array_equal(forest.predict_proba(np.asfortranarray(X)), whole)
    assert forest.predict_proba(X[:0]).shape == (0,)


def test_nearest_on_polylines():
    lines = [np.array([[0.0, 0.0], [0.0, 100.0]]), np.array([[10.0, 0.0], [10.0, 100.0]])]
    d, ang, which = nearest_on_polylines(np.array([[3.0, 50.0], [8.0, 20.0], [20.0, 50.0]]), lines)
    np.testing.assert_allclose(d, [3.0, 2.0, 10.0])
    assert list(which) == [0, 1, 1] and np.allclose(ang, 0.0)
    assert len(resample_polyline(lines[0], 1.0)) == 101


def test_near_polylines_each_measures_every_line_as_alone():
    lines = [np.array([[0.0, 0.0], [0.0, 100.0]])]
    along = resample_polyline(np.array([[2.0, 10.0], [2.0, 60.0]]), 1.0)  # parallel, 2 off
    across = resample_polyline(np.array([[-20.0, 50.0], [20.0, 50.0]]), 1.0)  # crosses at right angles
    far = resample_polyline(np.array([[9.0, 0.0], [9.0, 50.0]]), 1.0)
    each = near_polylines_each([along, across, far, along[:1]], lines, 3.0)
    assert each[0].all() and not each[1].any() and not each[2].any() and not each[3].any()
    for got, s in zip(each, [along, across, far]):
        np.testing.assert_array_equal(got, near_polylines(s, lines, 3.0))
    assert [len(x) for x in near_polylines_each([along], [], 3.0)] == [len(along)]


def test_strip_samples_across_and_along_the_track():
    # a diagonal ramp: value = row + col, so across-track samples change linearly
    rows, cols = np.mgrid[0:200, 0:200].astype(np.float32)
    lum = (rows + cols) / 400.0
    line = np.array([[50.5, 20.5], [150.5, 120.5]])  # 45 degrees, continuous pixel coordinates
    strips = track_strips(lum, np.zeros_like(lum), np.ones(lum.shape, bool), TrackSet((TrackLine(line, 1.0),), 0.5))
    s = strips[0]
    k = int(round(HALF_M / STEP_M))
    assert s.lum.shape[0] == 2 * k + 1
    assert abs(s.length_m - np.hypot(100, 100) * 0.5) < STEP_M
    # the centre row follows the line: row + col grows by 2 px per px along (index coordinates)
    a, b = s.span
    centre = s.lum[k, a:b]
    expected = (s.centre[a:b, 0] - 0.5 + s.centre[a:b, 1] - 0.5) / 400.0
    np.testing.assert_allclose(centre, expected, atol=1e-4)
    # across a 45-degree track, row + col does not change
    mid = (a + b) // 2
    np.testing.assert_allclose(s.lum[:, mid], s.lum[k, mid], atol=1e-4)
    # the strip runs on past the track's ends, straight on
    assert a > 0 and b < s.n and np.allclose(np.diff(s.centre[:a + 2], axis=0), np.diff(s.centre[a:a + 2], axis=0))


def test_a_shifted_strip_is_the_strip_of_the_line_beside():
    # a ramp across a horizontal track: value = row, so the strip of a line d metres across reads row + d / gsd
    rows, cols = np.mgrid[0:200, 0:200].astype(np.float32)
    lum, mask, gsd = rows / 200.0, np.ones(rows.shape, bool), 0.5
    line = np.array([[100.5, 20.5], [100.5, 180.5]])
    s = track_strips(lum, np.zeros_like(lum), mask, TrackSet((TrackLine(line, 1.0),), gsd))[0]
    for d in (-2.5, 1.0):
        sh = s.shifted(d)
        beside = track_strips(lum, np.zeros_like(lum), mask,
                              TrackSet((TrackLine(line + s.normal[0] * d / gsd, 1.0),), gsd))[0]
        k, kb = (sh.lum.shape[0] - 1) // 2, (beside.lum.shape[0] - 1) // 2
        assert k == int(round((HALF_M - abs(d)) / STEP_M))
        np.testing.assert_allclose(sh.centre, beside.centre, atol=1e-6)
        np.testing.assert_allclose(sh.lum, beside.lum[kb - k : kb + k + 1], atol=1e-5)
        assert sh.span == s.span
    with pytest.raises(ValueError, match="leaves nothing"):
        s.shifted(HALF_M)


def test_the_cross_section_is_read_the_same_from_either_side_of_a_track():
    # a track drawn with a dark band (a shadow) on one side: reading it along the track one way or the
    # other swaps the sides, and the folded cross-section must not change, while the band shows in it
    from railcount.detect.cars import SLAB_SIDE_M
    from railcount.detect.strips import PROFILE_NAMES, PROFILE_OFFSETS_M, SIGNAL_NAMES, strip_signals

    gsd = 0.5
    rng = np.random.default_rng(3)
    lum = rng.normal(0.0, 0.05, (200, 200)).astype(np.float32)
    lum[104:108, 40:160] -= 1.0  # 2-4 m below the track's middle row
    mask = np.ones(lum.shape, bool)
    line = np.array([[100.0, 20.0], [100.0, 180.0]])
    ways = [track_strips(lum, np.zeros_like(lum), mask, TrackSet((TrackLine(p, 1.0),), gsd))[0]
            for p in (line, line[::-1])]
    rows = [strip_signals(s)[len(SIGNAL_NAMES):] for s in ways]
    np.testing.assert_allclose(rows[0], rows[1][:, ::-1], atol=1e-5)
    side = PROFILE_NAMES.index("lum_side3")
    mid = ways[0].n // 2
    assert rows[0][side, mid] > 0.5 and rows[0][PROFILE_NAMES.index("lum_side0.5"), mid] < 0.2
    # the farthest distance read fits in a strip shifted to the slab rule's lines beside a track
    assert strip_signals(ways[0].shifted(SLAB_SIDE_M)).shape[0] == len(SIGNAL_NAMES) + len(PROFILE_NAMES)
    assert max(PROFILE_OFFSETS_M) <= HALF_M - SLAB_SIDE_M


def test_split_run_cuts_at_the_gaps_of_equal_cars():
    length = CAR_TYPES["gondola"].length_m  # over couplers
    gap = 1.0
    n_cars = 6
    body = length - gap
    total = n_cars * body + (n_cars - 1) * gap
    n = int(round(total / STEP_M))
    evidence = np.full(n, -2.0)
    cuts = [int(round((i * (body + gap) - gap / 2) / STEP_M)) for i in range(1, n_cars)]
    for c in cuts:
        evidence[c - 1 : c + 2] = 3.0
    cars = split_run(n, evidence)
    assert len(cars) == n_cars
    assert all(abs(a - c) <= 2 for (a, _), c in zip(cars[1:], cuts))


def test_split_run_without_gap_evidence_follows_the_length_prior():
    n = int(round(4 * CAR_TYPES["tank"].length_m / STEP_M))
    assert len(split_run(n, np.zeros(n))) == 4
    assert length_loglik(np.array([14.0]))[0] > length_loglik(np.array([30.0]))[0]


def test_body_runs_bridge_short_breaks_and_drop_fragments():
    p = np.zeros(400)
    p[40:120] = 0.9  # 20 m
    p[124:200] = 0.9  # a 1 m break: one run
    p[300:310] = 0.9  # 2.5 m: a fragment
    runs = body_runs(p)
    assert runs == [(40, 200)]


def test_training_sees_grey_scenes_without_colour():
    """A scene trained on as one grey band has the colour signal of a one-band image, and nothing else moves."""
    from drawn import consist, draw_yard

    from railcount.detect.strips import PROFILE_NAMES, SIGNAL_NAMES
    from railcount.training.cars import scene_strips

    gsd = 0.3
    img, centres = draw_yard(gsd=gsd, cars=consist(0, 20.0, 3, colours=((200, 60, 40),)))
    cols = np.arange(0.0, img.shape[1], 4.0)
    tracks = [np.column_stack([np.full(cols.size, t / gsd), cols]) for t in (30.0, 35.0)]
    cars = np.column_stack([centres, np.zeros((len(centres), 4))])
    colour, grey = (scene_strips(img, gsd, tracks, cars, rng=np.random.default_rng(1), grey=g) for g in (False, True))
    c = [i for i, name in enumerate(SIGNAL_NAMES + PROFILE_NAMES) if name.startswith("chroma")]
    assert len(c) == 1 + 2 * 4
    assert max(float(s[c].max()) for s in colour.signals) > 0.1
    for a, b in zip(colour.signals, grey.signals, strict=True):
        assert not b[c].any()
        np.testing.assert_array_equal(np.delete(a, c, axis=0), np.delete(b, c, axis=0))


def test_training_takes_found_lines_off_every_true_track_for_false_tracks():
    """A line the track finder takes where the truth has no track is a false track; a line along a true
    track is not."""
    from drawn import draw_tracks

    from railcount.detect.image import to_luminance
    from railcount.training.cars import false_tracks

    gsd = 0.3
    lines_m = [np.array([[r, 0.0], [r, 150.0]]) for r in (50.0, 80.0)]
    img, _ = draw_tracks(lines_m, gsd=gsd, size_m=(150.0, 150.0))
    mask = np.ones(img.shape[:2], bool)
    lum, _ = to_luminance(img, mask)
    px = [ln / gsd for ln in lines_m]

    def along(lines, row_m):  # lines running within a metre of the track at row_m
        return [t for t in lines if np.mean(np.abs(t.points[:, 0] * gsd - row_m) < 1.0) >= 0.3]

    assert along(false_tracks(lum, mask, gsd, px), 50.0) == along(false_tracks(lum, mask, gsd, px), 80.0) == []
    false = false_tracks(lum, mask, gsd, px[:1])  # a truth that knows only the track at 50 m
    assert along(false, 50.0) == []
    assert len(along(false, 80.0)) == 1 and along(false, 80.0)[0].length_px() * gsd > 100.0


@pytest.mark.parametrize("half_width_m", [0.0, 0.125, 0.25])
@pytest.mark.parametrize("off_m", [0.0, 0.25])
def test_rails_show_whether_thin_or_wide_and_a_little_off_centre(half_width_m, off_m):
    """Two dark lines at the rail spacing read as rails, a pixel to half a metre wide, on a strip centred
    up to 0.25 m off them; one line, a uniform body or a wide dark band do not."""
    from railcount.detect.strips import _rail_pair
    from railcount.detect.tracks import RAIL_SPACING_M

    k = int(round(HALF_M / STEP_M))
    u = np.arange(-k, k + 1) * STEP_M

    def profile(centres, width):
        dark = np.zeros_like(u)
        for c in centres:
            dark = np.maximum(dark, np.clip(1 - np.maximum(np.abs(u - c) - width, 0) / STEP_M, 0, 1))
        return np.repeat((0.5 - 0.4 * dark)[:, None], 40, axis=1)

    half = RAIL_SPACING_M[0] / 2
    both = _rail_pair(profile((off_m - half, off_m + half), half_width_m), 0.25)
    one = _rail_pair(profile((off_m - half,), half_width_m), 0.25)
    assert both.min() > 0.3
    assert one.max() < 0.05
    assert _rail_pair(np.full((2 * k + 1, 40), 0.5), 0.25).max() == 0
    band = _rail_pair(profile((0.0,), 1.5), 0.25)  # a dark car body 3.5 m wide
    assert band.max() < 0.05
