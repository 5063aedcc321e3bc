"""Tracks completed by the trains on them (`railcount.detect.complete`), on drawn scenes with known lines."""

from __future__ import annotations

import numpy as np
from drawn import draw_tracks

from railcount.detect.cars import CarModels
from railcount.detect.complete import complete_tracks
from railcount.detect.core import _luminance
from railcount.detect.image import check_image
from railcount.detect.tracks import TrackLine, TrackSet
from railcount.evaluate import score_tracks

GSD = 0.3
SIZE = (120.0, 150.0)


def completed(img: np.ndarray, given_m: list[np.ndarray]) -> list[np.ndarray]:
    """The tracks ``complete_tracks`` makes of ``given_m`` (metres), in metres."""
    im, mask = check_image(img, None, GSD)
    lum, chroma = _luminance(im, mask, None)
    given = TrackSet(tuple(TrackLine(np.asarray(g, float) / GSD, 1.0) for g in given_m), GSD)
    out = complete_tracks(lum, chroma, mask, given, CarModels.packaged())
    return [t.points * GSD for t in out.tracks]


def covered(found: list[np.ndarray], line_m: np.ndarray) -> float:
    """Share of ``line_m`` within 1 m of a found track."""
    return score_tracks([line_m], found, (0.0, 0.0, *SIZE), inset=0.0).recall


def test_a_track_is_followed_along_the_train_past_its_end():
    """A track found only where its rails show, before a train that runs to the picture's edge."""
    line = np.array([[60.0, 0.0], [60.0, 150.0]])
    cars = [(0, 40.0 + 15.0 * i, 14.9, (60, 55, 50) if i % 2 else (75, 66, 58)) for i in range(7)]
    img, _ = draw_tracks([line], gsd=GSD, size_m=SIZE, cars=cars)
    found = completed(img, [np.array([[60.0, 2.0], [60.0, 40.0]])])
    assert covered(found, np.array([[60.0, 45.0], [60.0, 140.0]])) >= 0.9
    assert covered(found, np.array([[65.0, 0.0], [65.0, 150.0]])) == 0.0  # and not beside it


def test_a_track_is_not_followed_into_a_container_stack():
    """Rows of containers 2.6 m apart go on where a track ends: bodies beside the line, a slab, not a train."""
    line = np.array([[60.0, 0.0], [60.0, 50.0]])
    boxes = [(60.0 + 2.6 * (j - 1.5), 58.0 + 12.5 * i, 12.19, 2.44, 0.0, (170 - 30 * j, 60 + 20 * i, 50))
             for i in range(7) for j in range(4)]
    img, _ = draw_tracks([line], gsd=GSD, size_m=SIZE, boxes=boxes)
    found = completed(img, [np.array([[60.0, 2.0], [60.0, 48.0]])])
    assert covered(found, np.array([[60.0, 60.0], [60.0, 140.0]])) <= 0.2


TRAIN = [(0, 20.0 + 15.0 * i, 14.9, (60, 55, 50) if i % 2 else (75, 66, 58)) for i in range(8)]


def test_a_track_found_on_a_trains_shadow_is_moved_onto_the_train():
    """A line 2.5 m off the cars' axis, on the shadow band beside them, as a track found there runs."""
    line = np.array([[60.0, 0.0], [60.0, 150.0]])
    img, _ = draw_tracks([line], gsd=GSD, size_m=SIZE, cars=TRAIN)
    found = completed(img, [np.array([[62.5, 2.0], [62.5, 148.0]])])
    assert covered(found, np.array([[60.0, 25.0], [60.0, 135.0]])) >= 0.9
    assert covered(found, np.array([[62.5, 25.0], [62.5, 135.0]])) <= 0.1  # moved, not copied


def test_a_track_is_not_moved_onto_its_neighbours_train():
    """A track found without rails 3.8 m beside a train's track, with a car of its own: a car's width
    across, the train beside it verifies more cars, but it is its neighbour's."""
    lines = [np.array([[60.0, 0.0], [60.0, 150.0]]), np.array([[63.8, 0.0], [63.8, 150.0]])]
    own = [(1, 2.0, 14.9, (70, 60, 52))]
    img, _ = draw_tracks(lines, gsd=GSD, size_m=SIZE, cars=TRAIN + own)
    found = completed(img, [np.array([[60.0, 2.0], [60.0, 148.0]]), np.array([[63.8, 2.0], [63.8, 148.0]])])
    assert covered(found, np.array([[60.0, 25.0], [60.0, 135.0]])) >= 0.9
    assert covered(found, np.array([[63.8, 25.0], [63.8, 135.0]])) >= 0.9
