"""The railcar detector: pixels, a validity mask and a GSD in; detections out.

Pipeline (see ``docs/design.md``):

1. normalise luminance and chroma by the image's own contrast;
2. find the dominant track directions (or take them from user track lines);
3. per direction, resample to a working GSD in a frame where tracks run along
   the columns;
4. per-pixel features of car bodies -> a small learned model -> probability;
5. runs along lanes -> consists -> cars by dynamic programming with car-length
   priors and gap evidence (individual mode), or occupied length divided by a
   mean car pitch (estimate mode);
6. back to input pixel coordinates; duplicates across directions suppressed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..priors import CAR_TYPES, COUPLING_GAP_M, ESTIMATE_MAX_GSD, MIN_GSD, counting_mode
from ..results import Detection
from .consist import Lane, SplitParams, find_lanes, gap_evidence, split_consist
from .features import pixel_features
from .frame import TrackFrame, check_image, dominant_orientations, to_luminance
from .geometry import nearest_on_polylines
from .tracks import TrackSet, locate_tracks
from .model import PixelModel, load_model

log = logging.getLogger(__name__)

__all__ = ["DetectorConfig", "DetectionSet", "detect_railcars", "mean_car_pitch_m", "frame_features",
           "probability_frames", "cars_from_frames", "ProbabilityFrame"]

#: Finest working GSD: finer imagery is area-averaged to it (a 1 m coupling gap
#: is still 3 pixels there), which keeps the work per square metre bounded.
FINEST_WORK_GSD = 0.3


def packaged_split_params() -> SplitParams:
    """The splitting parameters chosen by ``make train`` (defaults if absent)."""
    import json
    from importlib import resources

    ref = resources.files("railcount") / "data" / "split_params.json"
    try:
        return SplitParams(**json.loads(ref.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return SplitParams()


def mean_car_pitch_m() -> float:
    """Mean length over couplers plus coupling gap of the car types in the priors."""
    return float(np.mean([t.length_m for t in CAR_TYPES.values() if t.name != "locomotive"]))


@dataclass(frozen=True)
class DetectorConfig:
    """Options of :func:`detect_railcars` that a user may change."""

    split: SplitParams = field(default_factory=lambda: packaged_split_params())
    max_orientations: int = 2
    model_fine: str = "pixel_fine"
    model_coarse: str = "pixel_coarse"


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
    n_tracks : int
        Number of lanes (tracks) on which cars were searched.
    angles_deg : tuple of float
        Track directions used.
    tracks : TrackSet
        The tracks searched along; a detection's ``track_id`` indexes them.
    """

    detections: tuple[Detection, ...]
    mode: str
    cars: float
    n_tracks: int
    angles_deg: tuple[float, ...]
    tracks: TrackSet = field(default_factory=lambda: TrackSet((), 1.0))


def frame_features(lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray, gsd: float, angle: float,
                   work_gsd: float) -> tuple[TrackFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Warp an image into a track-aligned frame and compute its features.

    Returns
    -------
    frame, lum_f, valid_f, feats
    """
    frame = TrackFrame.build(lum.shape, angle, work_gsd / gsd)
    lum_f = frame.warp(lum)
    chroma_f = frame.warp(chroma)
    valid_f = frame.warp(mask.astype(np.float32), order=1) > 0.999
    feats = pixel_features(lum_f, chroma_f, valid_f, work_gsd)
    return frame, lum_f, valid_f, feats


def _angles(lum: np.ndarray, mask: np.ndarray, gsd: float, tracks: list[np.ndarray] | None,
            max_orientations: int) -> list[float]:
    if tracks:
        hist = np.zeros(180)
        for line in tracks:
            d = np.diff(np.asarray(line, float), axis=0)
            if d.size == 0:
                continue
            ang = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 180.0
            np.add.at(hist, ang.astype(int) % 180, np.hypot(d[:, 0], d[:, 1]))
        kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
        hist = ndimage.convolve1d(hist, kernel, mode="wrap")
        out = []
        for _ in range(max_orientations):
            i = int(np.argmax(hist))
            if hist[i] <= 0 or (out and hist[i] < 0.2 * hist.max()):
                break
            out.append(i + 0.5)
            for k in range(-15, 16):
                hist[(i + k) % 180] = 0
        return out
    # orientation from a decimated copy: structure at metre scale is enough
    step = max(1, int(0.5 / gsd))
    return dominant_orientations(lum[::step, ::step], mask[::step, ::step], max_orientations=max_orientations)


def _corridor(frame: TrackFrame, tracks: list[np.ndarray], gsd_in: float, shape: tuple[int, int]) -> np.ndarray:
    """Mask of the frame within 2.5 m of the user's track lines."""
    from skimage.draw import line as draw_line

    inv = np.linalg.inv(frame.matrix)
    canvas = np.zeros(frame.shape, bool)
    for ln in tracks:
        pts = (np.asarray(ln, float) - frame.offset) @ inv.T
        for (r0, c0), (r1, c1) in zip(pts[:-1], pts[1:]):
            rr, cc = draw_line(int(round(r0)), int(round(c0)), int(round(r1)), int(round(c1)))
            ok = (rr >= 0) & (rr < canvas.shape[0]) & (cc >= 0) & (cc < canvas.shape[1])
            canvas[rr[ok], cc[ok]] = True
    work_gsd = gsd_in * frame.step
    dist = ndimage.distance_transform_edt(~canvas) * work_gsd
    return dist <= 2.5


def detect_railcars(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    gsd: float,
    tracks: list[np.ndarray] | None = None,
    snap_m: float = 3.0,
    config: DetectorConfig | None = None,
    model: PixelModel | None = None,
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
        them, the tracks found in the image are used. Cars are searched for
        only within 2.5 m of a track.
    snap_m : float
        Snapping tolerance of user track lines, metres.
    config : DetectorConfig, optional
    model : PixelModel, optional
        Override the packaged pixel model (used in training).

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
    if model is None:
        model = load_model(cfg.model_fine if mode == "individual" else cfg.model_coarse)
    found = locate_tracks(img, m, gsd=gsd, user=tracks, snap_m=snap_m)
    lines = [t.points - 0.5 for t in found.tracks]  # index coordinates
    if not lines:
        return DetectionSet((), mode, 0.0, 0, (), found)
    frames = probability_frames(img, m, gsd, model, tracks=lines, max_orientations=cfg.max_orientations)
    result = cars_from_frames(frames, gsd, cfg.split)
    return dataclasses.replace(result, detections=_on_tracks(result.detections, lines), tracks=found,
                               n_tracks=len(found))


def _on_tracks(dets: tuple[Detection, ...], lines: list[np.ndarray]) -> tuple[Detection, ...]:
    """Detections with ``track_id`` set to the nearest track's index."""
    if not dets:
        return dets
    centres = np.array([(d.row - 0.5, d.col - 0.5) for d in dets])
    _, _, which = nearest_on_polylines(centres, lines)
    return tuple(dataclasses.replace(d, track_id=int(i)) for d, i in zip(dets, which))


@dataclass(frozen=True, eq=False)
class ProbabilityFrame:
    """A track-aligned frame with its luminance and railcar-body probability."""

    frame: TrackFrame
    lum: np.ndarray
    prob: np.ndarray


def probability_frames(img: np.ndarray, m: np.ndarray, gsd: float, model: PixelModel, *,
                       tracks: list[np.ndarray] | None = None, max_orientations: int = 2
                       ) -> list[ProbabilityFrame]:
    """Stages 1-5 of the detector: one probability map per track direction."""
    if not m.any():
        return []
    lum, chroma = to_luminance(img, m)
    if float(np.ptp(lum[m])) == 0.0:
        return []
    work_gsd = max(gsd, FINEST_WORK_GSD)
    out = []
    for angle in _angles(lum, m, gsd, tracks, max_orientations):
        frame, lum_f, valid_f, feats = frame_features(lum, chroma, m, gsd, angle, work_gsd)
        prob = model.predict(feats, valid_f)
        del feats  # before the next direction's features are computed
        if tracks:
            prob[~_corridor(frame, tracks, gsd, m.shape)] = 0.0
        out.append(ProbabilityFrame(frame, lum_f, prob))
    return out


def cars_from_frames(frames: list[ProbabilityFrame], gsd: float, split: SplitParams) -> DetectionSet:
    """Stage 6 of the detector: lanes, consists and cars from probability frames."""
    mode = counting_mode(gsd)
    work_gsd = max(gsd, FINEST_WORK_GSD)
    found: list[Detection] = []
    n_tracks = 0
    for pf in frames:
        lanes = find_lanes(pf.prob, work_gsd, split)
        track_rows = _track_ids(lanes, work_gsd)
        n_tracks += len(set(track_rows))
        for lane, tid in zip(lanes, track_rows):
            if mode == "individual":
                gaps = gap_evidence(pf.lum, pf.prob, lane, work_gsd)
                for s, e in split_consist(lane.c1 - lane.c0, gaps, work_gsd, split):
                    found.append(_car(pf.frame, pf.prob, lane, lane.c0 + s, lane.c0 + e, work_gsd, tid))
            else:
                det = _car(pf.frame, pf.prob, lane, lane.c0, lane.c1, work_gsd, tid, kind="occupied")
                found.append(dataclasses.replace(det, cars=det.length_m / mean_car_pitch_m()))
    found = _suppress_duplicates(found, gsd)
    found.sort(key=lambda d: (round(d.row, 3), round(d.col, 3)))
    cars = float(len(found)) if mode == "individual" else float(sum(d.cars for d in found))
    return DetectionSet(tuple(found), mode, cars, n_tracks, tuple(pf.frame.angle_deg for pf in frames))


def _track_ids(lanes: list[Lane], gsd: float) -> list[int]:
    """Group lanes whose centre rows are within 2 m into tracks."""
    if not lanes:
        return []
    mids = np.array([lane.row_at((lane.c0 + lane.c1) / 2) for lane in lanes])
    order = np.argsort(mids)
    ids = np.empty(len(lanes), int)
    tid, last = -1, -np.inf
    for i in order:
        if mids[i] - last > 2.0 / gsd:
            tid += 1
        ids[i] = tid
        last = mids[i]
    return ids.tolist()


def _car(frame: TrackFrame, prob: np.ndarray, lane: Lane, c0: int, c1: int, gsd: float, tid: int,
         kind: str = "car") -> Detection:
    width_m = float(np.clip(lane.width_px * gsd, 2.3, 3.5))
    half_w = 0.5 * width_m / gsd
    cm = 0.5 * (c0 + c1 - 1)
    rm = float(lane.row_at(cm))
    rows = np.clip(np.round(lane.row_at(np.arange(c0, c1))).astype(int), 0, prob.shape[0] - 1)
    score = float(prob[rows, np.clip(np.arange(c0, c1), 0, prob.shape[1] - 1)].mean())
    # frame corners (row, col); index coordinates, pixel centres on integers
    fc = np.array([
        [lane.row_at(c0 - 0.5) - half_w, c0 - 0.5],
        [lane.row_at(c1 - 0.5) - half_w, c1 - 0.5],
        [lane.row_at(c1 - 0.5) + half_w, c1 - 0.5],
        [lane.row_at(c0 - 0.5) + half_w, c0 - 0.5],
    ])
    r_in, c_in = frame.to_input(fc[:, 0], fc[:, 1])
    rc, cc = frame.to_input(np.array([rm]), np.array([cm]))
    # +0.5: from index coordinates to continuous pixel coordinates (pixel i spans [i, i+1))
    corners = tuple((float(r) + 0.5, float(c) + 0.5) for r, c in zip(r_in, c_in))
    angle = frame.angle_deg + math.degrees(math.atan(lane.row_b))
    angle = (angle + 90.0) % 180.0 - 90.0
    return Detection(
        row=float(rc[0]) + 0.5, col=float(cc[0]) + 0.5, length_m=(c1 - c0) * gsd, width_m=width_m,
        angle_deg=-angle, score=score, track_id=tid, corners_px=corners, kind=kind,
    )


def _suppress_duplicates(dets: list[Detection], gsd: float) -> list[Detection]:
    """Drop a detection whose centre lies within another, better-scored one's outline.

    Detections are visited best score first; only kept detections whose
    outline can reach a candidate's centre (found with a k-d tree) are tested.
    """
    if len(dets) < 2:
        return dets
    from scipy.spatial import cKDTree

    centres = np.array([(d.row, d.col) for d in dets])
    corners = np.array([d.corners_px if len(d.corners_px) == 4 else [(np.nan, np.nan)] * 4 for d in dets], float)
    reach = np.nanmax(np.linalg.norm(corners - centres[:, None, :], axis=-1), axis=1)
    radius = float(np.nanmax(reach)) if np.isfinite(reach).any() else 0.0
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
