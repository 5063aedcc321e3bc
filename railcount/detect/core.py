"""The railcar detector: pixels, a validity mask and a GSD in; tracks and railcars out.

Pipeline (see ``docs/design.md``):

1. normalise luminance and chroma by the image's own contrast;
2. find the tracks (:mod:`railcount.detect.tracks`), or snap a user's track
   lines to them; nothing off every track is a railcar;
3. sample the image along each track into a straight strip and read 1-D
   signals along it (:mod:`railcount.detect.strips`);
4. learned models say, position by position, whether a car body stands there
   and whether a coupling gap does; runs of body are consists
   (:mod:`railcount.detect.cars`);
5. individual mode (0.8 m or finer): each consist is split into cars by
   dynamic programming over gap evidence and car-length priors, and a
   verifier judges each car, and a car with car bodies 2.5 m beside it on
   both sides (a slab, such as a container stack) is dropped; estimate mode
   (0.8-3 m): occupied track length divided by the mean car pitch;
6. back to input pixel coordinates; a car found on two overlapping tracks is
   kept once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from ..priors import counting_mode
from ..results import Detection
from .cars import CarModels, body_runs, candidates_of, mean_car_pitch_m, taken
from .complete import complete_tracks
from .image import Frame, Levels, check_image, image_levels, to_luminance
from .strips import STEP_M, Strip, position_features, strip_signals, track_strips
from .tracks import TrackLine, TrackSet, clip_tracks, find_tracks, snap_tracks

log = logging.getLogger(__name__)

__all__ = ["DetectorConfig", "DetectionSet", "Frame", "Levels", "detect_railcars", "image_levels", "locate_tracks",
           "mean_car_pitch_m"]

#: Width given to a detected car's outline, metres (the middle of 2.5-3.3 m).
CAR_WIDTH_M = 3.0


@dataclass(frozen=True)
class DetectorConfig:
    """Options of :func:`detect_railcars`.

    Attributes
    ----------
    verify : bool
        Judge each candidate car with the verifier (off: every split of a
        consist is a car).
    body_threshold : float
        Probability of car body above which a position is occupied.
    """

    verify: bool = True
    body_threshold: float = 0.5


@dataclass(frozen=True)
class DetectionSet:
    """What :func:`detect_railcars` found in one image.

    Attributes
    ----------
    detections : tuple of Detection
        Cars (individual mode) or occupied stretches (estimate mode), in
        input pixel coordinates, sorted by row then column.
    mode : {"individual", "estimate"}
    cars : float
        Number of railcars found: detections in individual mode, occupied
        length / mean car pitch in estimate mode.
    tracks : TrackSet
        The tracks searched along; a detection's ``track_id`` indexes them.
    """

    detections: tuple[Detection, ...]
    mode: str
    cars: float
    tracks: TrackSet = field(default_factory=lambda: TrackSet((), 1.0))

    @property
    def n_tracks(self) -> int:
        return len(self.tracks)


def detect_railcars(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    gsd: float,
    tracks: list[np.ndarray] | None = None,
    snap_m: float = 3.0,
    config: DetectorConfig | None = None,
    models: CarModels | None = None,
    frame: Frame | None = None,
) -> DetectionSet:
    """Find railcars in an overhead image.

    Parameters
    ----------
    image : ndarray, shape (rows, cols) or (rows, cols, bands)
        Pixels of any numeric dtype; 3 or 4 bands are read as RGB(A).
    mask : ndarray of bool, shape (rows, cols), optional
        True where pixels are valid (default: all).
    gsd : float
        Ground sample distance in metres.
    tracks : list of ndarray of shape (n, 2), optional
        A user's track centrelines as (row, col) polylines in continuous pixel
        coordinates; they are snapped to the tracks found in the image within
        ``snap_m`` (:func:`~railcount.detect.tracks.snap_tracks`). Without
        them, the tracks found in the image are used.
    snap_m : float
        Snapping tolerance of user track lines, metres.
    config : DetectorConfig, optional
    models : CarModels, optional
        Override the packaged car models.
    frame : Frame, optional
        Where ``image`` lies in the raster it was cut from and that raster's
        levels: a window of a raster then gives what the whole raster gives
        there.

    Returns
    -------
    DetectionSet

    Raises
    ------
    GSDError
        If ``gsd`` is not a positive number of metres.
    ResolutionTooCoarseError
        If ``gsd`` is coarser than 3 m: railcars cannot be counted.

    Notes
    -----
    At 0.8 m or finer each car is detected (individual mode); from 0.8 to 3 m
    the coupling gaps are invisible and the result is occupied track length
    divided by the mean car pitch (estimate mode).

    Examples
    --------
    >>> import numpy as np
    >>> found = detect_railcars(np.zeros((200, 200), np.uint8), gsd=0.5)
    >>> found.cars
    0.0
    """
    cfg = config or DetectorConfig()
    img, m = check_image(image, mask, gsd)
    mode = counting_mode(gsd)
    lum, chroma = _luminance(img, m, frame)
    models = models or CarModels.packaged()
    found = _tracks(lum, chroma, m, gsd, tracks, snap_m, models, frame)
    if not len(found):
        return DetectionSet((), mode, 0.0, found)
    strips = track_strips(lum, chroma, m, found)
    signals = [strip_signals(s) for s in strips]
    feats = [position_features(sig, gsd) for sig in signals]
    # a car is only seen where the whole cross-section of its body lies inside the valid image
    p_body = [np.where(s.core_valid(), models.body.predict_proba(f), 0.0) for s, f in zip(strips, feats)]
    dets: list[Detection] = []
    if mode == "individual":
        p_gap = [models.gap.predict_proba(f) for f in feats]
        cands = candidates_of(p_body, p_gap, threshold=cfg.body_threshold)
        if cands:
            score, keep = taken(cands, p_body, p_gap, signals, strips, models, gsd, verify=cfg.verify)
            dets = [_outline(strips[c.strip], c.i0, c.i1, float(sc), "car")
                    for c, sc, k in zip(cands, score, keep) if k]
    else:
        pitch = mean_car_pitch_m()
        for s, pb in zip(strips, p_body):
            for a, b in body_runs(pb, threshold=cfg.body_threshold):
                d = _outline(s, a, b, float(pb[a:b].mean()), "occupied")
                dets.append(_with_cars(d, d.length_m / pitch))
    dets = _suppress_duplicates(dets)
    dets.sort(key=lambda d: (round(d.row, 3), round(d.col, 3)))
    cars = float(sum(d.cars for d in dets))
    return DetectionSet(tuple(dets), mode, cars, found)


def locate_tracks(image: np.ndarray, mask: np.ndarray | None = None, *, gsd: float,
                  user: list[np.ndarray] | None = None, snap_m: float = 3.0,
                  models: CarModels | None = None, frame: Frame | None = None) -> TrackSet:
    """The tracks of an image: found in it, or a user's lines snapped to those found.

    Tracks are found from the image (:func:`~railcount.detect.tracks.find_tracks`),
    then completed by the trains standing beside them
    (:func:`~railcount.detect.complete.complete_tracks`).

    Parameters
    ----------
    image : ndarray, shape (rows, cols) or (rows, cols, bands)
        Pixels of any numeric dtype; 3 or 4 bands are read as RGB(A).
    mask : ndarray of bool, optional
        Valid pixels.
    gsd : float
        Ground sample distance, metres.
    user : list of ndarray, shape (n, 2), optional
        A user's track lines as (row, col) in continuous pixel coordinates
        (see :func:`~railcount.detect.tracks.snap_tracks`).
    snap_m : float
        Snapping tolerance of user lines, metres.
    models : CarModels, optional
        Override the packaged car models.
    frame : Frame, optional
        As for :func:`detect_railcars`.

    Returns
    -------
    TrackSet

    Raises
    ------
    GSDError, ResolutionTooCoarseError, UnsupportedRasterError
        For bad inputs (see :func:`railcount.detect.image.check_image`).

    Examples
    --------
    >>> import numpy as np
    >>> len(locate_tracks(np.zeros((200, 200), np.uint8), gsd=0.5))
    0
    """
    img, m = check_image(image, mask, gsd)
    lum, chroma = _luminance(img, m, frame)
    return _tracks(lum, chroma, m, gsd, user, snap_m, models or CarModels.packaged(), frame)


def _luminance(img: np.ndarray, mask: np.ndarray, frame: Frame | None) -> tuple[np.ndarray, np.ndarray]:
    if not mask.any():
        return np.zeros(mask.shape, np.float32), np.zeros(mask.shape, np.float32)
    return to_luminance(img, mask, frame.levels if frame is not None else None)


def _tracks(lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray, gsd: float, user: list[np.ndarray] | None,
            snap_m: float, models: CarModels, frame: Frame | None) -> TrackSet:
    if not (math.isfinite(snap_m) and snap_m >= 0):
        raise ValueError(f"snap_m must be a non-negative number of metres, got {snap_m!r}")
    found = TrackSet((), gsd)
    if mask.any() and float(np.ptp(lum[mask])) > 0:
        origin = frame.origin if frame is not None else (0, 0)
        found = complete_tracks(lum, chroma, mask, find_tracks(lum, mask, gsd=gsd, origin=origin), models)
    if user is None:
        return found
    # only what lies on the picture (and within snapping reach of it) can be snapped or searched: a line
    # exported for a whole network may run on for hundreds of kilometres, and is cut here, not resampled
    reach = snap_m / gsd + 1.0
    box = (-reach, -reach, mask.shape[0] + reach, mask.shape[1] + reach)
    near = clip_tracks([TrackLine(np.asarray(u, float), 1.0, "user") for u in user if len(u) >= 2], box)
    return snap_tracks([t.points for t in near], found, tol_m=snap_m)


def _with_cars(d: Detection, cars: float) -> Detection:
    import dataclasses

    return dataclasses.replace(d, cars=cars)


def _outline(strip: Strip, i0: int, i1: int, score: float, kind: str) -> Detection:
    """A detection covering samples ``[i0, i1)`` of a strip, in continuous pixel coordinates."""
    gsd = strip.gsd
    c = strip.centre
    a, b = c[i0], c[max(i0, i1 - 1)]
    mid = 0.5 * (a + b)
    direction = b - a
    norm = math.hypot(*direction)
    t = direction / norm if norm > 0 else np.array([0.0, 1.0])
    n = np.array([t[1], -t[0]])
    half_len = 0.5 * (i1 - i0) * STEP_M / gsd
    half_w = 0.5 * CAR_WIDTH_M / gsd
    corners = tuple((float(p[0]), float(p[1])) for p in (
        mid - t * half_len - n * half_w, mid + t * half_len - n * half_w,
        mid + t * half_len + n * half_w, mid - t * half_len + n * half_w))
    # counter-clockwise from the column axis as seen on screen (rows grow downwards)
    angle = (math.degrees(math.atan2(-t[0], t[1])) + 90.0) % 180.0 - 90.0
    return Detection(row=float(mid[0]), col=float(mid[1]), length_m=(i1 - i0) * STEP_M, width_m=CAR_WIDTH_M,
                     angle_deg=angle, score=score, track_id=strip.track, corners_px=corners, kind=kind)


def _suppress_duplicates(dets: list[Detection]) -> list[Detection]:
    """Drop a detection whose centre lies within another, better-scored one's outline.

    Two overlapping tracks (a turnout, a track found twice) see the same car;
    detections are visited best score first and only kept ones whose outline
    can reach a candidate's centre (found with a k-d tree) are tested.
    """
    if len(dets) < 2:
        return dets
    from scipy.spatial import cKDTree

    centres = np.array([(d.row, d.col) for d in dets])
    corners = np.array([d.corners_px for d in dets], float)
    radius = float(np.max(np.linalg.norm(corners - centres[:, None, :], axis=-1)))
    near = cKDTree(centres).query_ball_point(centres, radius + 1e-9)
    order = sorted(range(len(dets)), key=lambda i: -dets[i].score)
    kept = np.zeros(len(dets), bool)
    for i in order:
        others = [j for j in near[i] if kept[j]]
        if not others or not _inside_any(centres[i], corners[others]):
            kept[i] = True
    return [dets[i] for i in order if kept[i]]


def _inside_any(point: np.ndarray, quads: np.ndarray) -> bool:
    """True if ``point`` (row, col) lies inside or on any convex quadrilateral of ``quads`` (n, 4, 2)."""
    p0 = quads
    p1 = np.roll(quads, -1, axis=1)
    cross = (p1[..., 0] - p0[..., 0]) * (point[1] - p0[..., 1]) - (p1[..., 1] - p0[..., 1]) * (point[0] - p0[..., 0])
    inside = (cross >= 0).all(axis=1) | (cross <= 0).all(axis=1)
    return bool(inside.any())
