"""Scan a raster: read it (in windows when large), detect railcars, count them.

This is the one place where the I/O layer and the detector meet: the detector
sees arrays and a GSD, never a path. Large rasters are read in overlapping
windows, each answering for a square of ``window_px`` and read with
:data:`OVERLAP_M` of context around it; a detection is kept by the one window
whose core holds its centre, so a car on a seam is counted once, and peak
memory is bounded by one window whatever the raster's size.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from . import geo, io
from .detect import DetectorConfig, Frame, Levels, detect_railcars, image_levels, locate_tracks
from .detect.calibration import count_interval
from .detect.geometry import nearest_on_polylines, polyline_length
from .detect.tracks import TrackLine, clip_tracks, join_tracks
from .errors import InputError, NoDataError
from .priors import counting_mode
from .results import Detection, ScanResult, Track, TrackResult
from .types import BBox
from .workers import cap_workers

log = logging.getLogger(__name__)

__all__ = ["scan", "scan_raster", "scan_tracks", "read_windows", "WINDOW_PX", "OVERLAP_M", "SNAP_M"]

#: Side of the square each window of a large raster answers for, in pixels.
WINDOW_PX = 1536
#: Context read around each window's square, metres: more than a car's length
#: plus what the features and track chains look at, so what is found in the
#: square does not depend on the window's size.
OVERLAP_M = 80.0
#: Default tolerance, metres, within which a user's track lines are snapped to the tracks seen.
SNAP_M = 3.0


#: Longest piece, degrees, of a user's line segment projected as a straight line in pixels.
DENSIFY_DEG = 1e-3
#: Most vertices a user's line segment is cut into.
DENSIFY_MAX = 100_000


def _densified(lonlat: np.ndarray) -> np.ndarray:
    """Vertices every :data:`DENSIFY_DEG` or less along each segment: a GeoJSON segment is straight in
    lon/lat (RFC 7946), and so curved in a projected raster; projected piece by piece, a long one keeps its path."""
    seg = np.diff(lonlat, axis=0)
    n = np.clip(np.ceil(np.abs(seg).max(axis=1) / DENSIFY_DEG), 1, DENSIFY_MAX).astype(int)
    parts = [a + d * (np.arange(k) / k)[:, None] for a, d, k in zip(lonlat[:-1], seg, n)]
    return np.concatenate([*parts, lonlat[-1:]])


def _tracks_to_pixels(raster: io.Raster, tracks: dict[str, Any] | None) -> list[np.ndarray] | None:
    """Track lines (GeoJSON, lon/lat) to (row, col) polylines in continuous pixel coordinates of ``raster``."""
    if tracks is None:
        return None
    lines: list[np.ndarray] = []
    for coords in _iter_lines(tracks):
        arr = np.asarray(coords, float)
        if arr.ndim != 2 or arr.shape[0] < 2:
            continue
        arr = _densified(arr[:, :2])
        rows, cols = raster.lonlat_to_pixel(arr[:, 0], arr[:, 1])
        lines.append(np.column_stack([rows, cols]))
    return lines


def _iter_lines(obj: dict[str, Any]):
    kind = obj.get("type")
    if kind == "FeatureCollection":
        for f in obj.get("features", []):
            yield from _iter_lines(f)
    elif kind == "Feature":
        if obj.get("geometry"):
            yield from _iter_lines(obj["geometry"])
    elif kind == "LineString":
        yield obj["coordinates"]
    elif kind == "MultiLineString":
        yield from obj["coordinates"]
    elif kind == "GeometryCollection":
        for g in obj.get("geometries", []):
            yield from _iter_lines(g)


def _georeference(raster: io.Raster, det: Detection, row_off: float, col_off: float) -> Detection:
    corners = tuple((r + row_off, c + col_off) for r, c in det.corners_px)
    lonlat = None
    if raster.transform is not None and raster.crs is not None:
        rr = np.array([r for r, _ in det.corners_px])
        cc = np.array([c for _, c in det.corners_px])
        lon, lat = raster.pixel_to_lonlat(rr, cc)
        lonlat = tuple((float(x), float(y)) for x, y in zip(lon, lat))
    return dataclasses.replace(det, row=det.row + row_off, col=det.col + col_off,
                               corners_px=corners, corners_lonlat=lonlat)


@dataclass(frozen=True)
class _Found:
    """What one window gave: counting mode, detections and track lines in full-raster pixel coordinates."""

    mode: str
    detections: tuple[Detection, ...]
    tracks: tuple[TrackLine, ...]


def _find_in(raster: io.Raster, tracks: dict[str, Any] | None, config: DetectorConfig | None,
             snap_m: float, cars: bool, levels: Levels | None = None) -> _Found:
    """Detect railcars (or only tracks) in one raster or window; shift results to full-raster pixels.

    A window is placed in its raster's frame (:class:`~railcount.detect.Frame`):
    grids laid on the raster and the raster's ``levels``.
    """
    image, mask, f = _square_pixels(raster)
    user = _tracks_to_pixels(raster, tracks)
    if user is not None:
        user = [u * f for u in user]
    r_off, c_off = _offsets(raster)
    shift = np.array([r_off, c_off])
    frame = Frame((int(round(r_off * f[0])), int(round(c_off * f[1]))), levels)
    if cars:
        found = detect_railcars(image, mask, gsd=raster.gsd, tracks=user, snap_m=snap_m, config=config, frame=frame)
        mode, lines = found.mode, found.tracks.tracks
        dets = tuple(_georeference(raster, _unsquare(d, f), r_off, c_off) for d in found.detections)
    else:
        mode, dets = counting_mode(raster.gsd), ()
        lines = locate_tracks(image, mask, gsd=raster.gsd, user=user, snap_m=snap_m, frame=frame).tracks
    return _Found(mode, dets, tuple(dataclasses.replace(t, points=t.points / f + shift) for t in lines))


def _square_pixels(raster: io.Raster) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The raster's image and mask on square pixels of ``raster.gsd`` metres, and the (row, col) scale used.

    Pixels of lon/lat rasters are not square on the ground (a degree of
    longitude is shorter than one of latitude away from the equator); the
    detector measures in metres, so such pixels are resampled first. Square
    pixels come back unchanged (scale 1, 1).
    """
    one = np.ones(2)
    if raster.transform is None or raster.crs is None:
        return raster.image, raster.mask, one
    dx, dy = geo.ground_pixel_size(raster.transform, raster.crs, raster.shape)
    f = np.array([dy, dx]) / raster.gsd
    if np.all(np.abs(f - 1.0) < 0.01):
        return raster.image, raster.mask, one
    from scipy import ndimage

    rows, cols = raster.shape
    shape = (max(1, int(round(rows * f[0]))), max(1, int(round(cols * f[1]))))
    f = np.array([shape[0] / rows, shape[1] / cols])
    # output index i samples input continuous coordinate (i + 0.5) / f, i.e. index (i + 0.5) / f - 0.5
    matrix, offset = 1.0 / f, 0.5 / f - 0.5
    img = raster.image.astype(np.float32)
    bands = [ndimage.affine_transform(img[..., b], matrix, offset, output_shape=shape, order=1, mode="nearest")
             for b in range(img.shape[-1])]
    mask = ndimage.affine_transform(raster.mask.astype(np.float32), matrix, offset, output_shape=shape, order=0,
                                    mode="constant", cval=0.0) > 0.5
    return np.stack(bands, axis=-1), mask, f


def _unsquare(det: Detection, f: np.ndarray) -> Detection:
    """A detection found on square pixels (:func:`_square_pixels`) in the raster's own pixels."""
    if np.all(f == 1.0):
        return det
    corners = tuple((r / f[0], c / f[1]) for r, c in det.corners_px)
    return dataclasses.replace(det, row=det.row / f[0], col=det.col / f[1], corners_px=corners)


def _result_tracks(raster: io.Raster, lines: list[TrackLine], dets: tuple[Detection, ...] | None,
                   offset: tuple[float, float] = (0.0, 0.0)) -> tuple[tuple[Track, ...], tuple[Detection, ...]]:
    """Georeferenced :class:`Track` results (full-raster pixels) and detections renumbered to them.

    ``offset`` is the place of ``raster``'s first pixel in full-raster pixels.
    """
    out: list[Track] = []
    for i, t in enumerate(lines):
        pts = t.points
        lonlat = None
        if raster.transform is not None and raster.crs is not None:
            lon, lat = raster.pixel_to_lonlat(pts[:, 0] - offset[0], pts[:, 1] - offset[1])
            lonlat = tuple((float(x), float(y)) for x, y in zip(lon, lat))
        out.append(Track(coords_px=tuple((float(r), float(c)) for r, c in pts), coords_lonlat=lonlat,
                         length_m=polyline_length(pts) * raster.gsd, score=t.score, source=t.source, track_id=i))
    if dets is None:
        return tuple(out), ()
    dets = _renumber(dets, [t.points for t in lines])
    for i, tr in enumerate(out):
        on = [d for d in dets if d.track_id == i]
        out[i] = dataclasses.replace(tr, n_cars=len(on), occupied_m=float(sum(d.length_m for d in on)))
    return tuple(out), dets


def _renumber(dets: tuple[Detection, ...], lines: list[np.ndarray]) -> tuple[Detection, ...]:
    """Detections with ``track_id`` set to the nearest of ``lines`` (full-raster pixel coordinates)."""
    if not dets or not lines:
        return tuple(dataclasses.replace(d, track_id=-1) for d in dets)
    _, _, which = nearest_on_polylines(np.array([(d.row, d.col) for d in dets]), lines)
    return tuple(dataclasses.replace(d, track_id=int(i)) for d, i in zip(dets, which))


def scan_raster(raster: io.Raster, *, tracks: dict[str, Any] | None = None, snap_m: float = SNAP_M,
                config: DetectorConfig | None = None) -> ScanResult:
    """Scan a raster already in memory.

    Parameters
    ----------
    raster : railcount.io.Raster
    tracks : dict, optional
        GeoJSON (lon/lat) LineStrings of track centrelines; snapped to the
        tracks seen in the image within ``snap_m`` metres.
    snap_m : float
        Snapping tolerance of ``tracks``, metres.
    config : DetectorConfig, optional

    Returns
    -------
    ScanResult
    """
    t0 = time.perf_counter()
    geo.countable_gsd(raster.gsd)
    found = _find_in(raster, tracks, config, snap_m, cars=True)
    track_res, dets = _result_tracks(raster, list(found.tracks), found.detections, _offsets(raster))
    return _result(raster, raster.source, dets, found.mode, track_res, raster.shape, raster.bounds_lonlat(),
                   time.perf_counter() - t0)


def _result(raster, source, dets, mode, tracks, shape, bounds, elapsed) -> ScanResult:
    iv = count_interval(mode, gsd=raster.gsd, scores=[d.score for d in dets] if mode == "individual" else (),
                        estimate=float(sum(d.cars for d in dets)),
                        track_km=float(sum(t.length_m for t in tracks)) / 1000.0)
    return ScanResult(
        source=str(source), count=iv.count, count_low=iv.low, count_high=iv.high, confidence=iv.confidence,
        bounded=iv.bounded, mode=mode,
        gsd=raster.gsd, date=raster.date, date_source=raster.date_source, crs=raster.crs_string,
        bounds_lonlat=bounds, shape=tuple(shape), detections=dets, simulated=raster.simulated,
        elapsed_s=elapsed, n_tracks=len(tracks), tracks=tracks,
    )


def scan(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    aoi: BBox | dict[str, Any] | None = None,
    tracks: dict[str, Any] | None = None,
    snap_m: float = SNAP_M,
    gsd: float | None = None,
    date: _dt.date | str | None = None,
    progress: bool = False,
    window_px: int = WINDOW_PX,
    workers: int = 1,
    config: DetectorConfig | None = None,
) -> ScanResult:
    """Count the railcars in a raster file or URL.

    Parameters
    ----------
    source : path, URL, or sequence of single-band paths to stack
    aoi : (west, south, east, north) or GeoJSON dict, optional
        Area of interest in lon/lat; only its window is read.
    tracks : dict, optional
        GeoJSON (lon/lat) track centrelines, e.g. from OpenStreetMap; cars are
        searched for only along them (snapped to the tracks in the image).
    snap_m : float
        Snapping tolerance of ``tracks``, metres.
    gsd : float, optional
        Ground sample distance in metres (required for unreferenced pictures).
    date : date or str, optional
        Acquisition date when the file does not say.
    progress : bool
        Show a progress bar over windows (stderr).
    window_px : int
        Side of the square each window of a large raster answers for; each is
        read with :data:`OVERLAP_M` of context around it (memory grows with
        the square of the sum).
    workers : int
        Processes that scan the windows of a large raster side by side (each
        needs one window's memory). The result does not depend on it.
    config : DetectorConfig, optional

    Returns
    -------
    ScanResult

    Raises
    ------
    railcount.errors.RailcountError
        For every bad input (see :mod:`railcount.errors`).
    """
    t0 = time.perf_counter()
    got = _scan_windows(source, aoi=aoi, tracks=tracks, snap_m=snap_m, gsd=gsd, date=date, progress=progress,
                        window_px=window_px, workers=workers, config=config, cars=True)
    if isinstance(got, ScanResult):
        return dataclasses.replace(got, elapsed_s=time.perf_counter() - t0)
    first, mode, dets, lines, shape, bounds = got
    track_res, dets = _result_tracks(first, lines, dets, _offsets(first))
    return _result(first, source, dets, mode, track_res, shape, bounds, time.perf_counter() - t0)


def scan_tracks(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    aoi: BBox | dict[str, Any] | None = None,
    tracks: dict[str, Any] | None = None,
    snap_m: float = SNAP_M,
    gsd: float | None = None,
    date: _dt.date | str | None = None,
    progress: bool = False,
    window_px: int = WINDOW_PX,
    workers: int = 1,
) -> TrackResult:
    """Find the track centrelines in a raster file or URL.

    Parameters are those of :func:`scan`; ``tracks`` are a user's lines to
    snap to the tracks seen in the image.

    Returns
    -------
    TrackResult

    Raises
    ------
    railcount.errors.RailcountError
        For every bad input (see :mod:`railcount.errors`).
    """
    t0 = time.perf_counter()
    got = _scan_windows(source, aoi=aoi, tracks=tracks, snap_m=snap_m, gsd=gsd, date=date, progress=progress,
                        window_px=window_px, workers=workers, config=None, cars=False)
    if isinstance(got, ScanResult):  # not returned for cars=False
        raise AssertionError("unreachable")
    first, _, _, lines, shape, bounds = got
    track_res, _ = _result_tracks(first, lines, None, _offsets(first))
    return TrackResult(source=str(source), gsd=first.gsd, tracks=track_res, date=first.date, crs=first.crs_string,
                       bounds_lonlat=bounds, shape=shape, simulated=first.simulated,
                       elapsed_s=time.perf_counter() - t0)


def _scan_windows(source, *, aoi, tracks, snap_m, gsd, date, progress, window_px, workers, config, cars):
    """Read ``source`` whole or in windows and find railcars (``cars``) or only tracks in each.

    Returns a :class:`ScanResult` when a small raster was scanned whole with
    ``cars``; otherwise ``(first_window, mode, detections, track_lines,
    shape, bounds_lonlat)`` with everything in full-raster pixel coordinates,
    each window keeping what lies in its core.
    """
    info = io.raster_info(source, gsd=gsd, date=date)
    geo.countable_gsd(float(info["gsd_m"]))
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a whole number >= 1, got {workers!r}")
    workers, note = cap_workers(workers, what="workers")
    if note:
        log.warning(note)
    rows, cols = int(info["height"]), int(info["width"])
    size, overlap = read_windows(float(info["gsd_m"]), window_px)
    if aoi is None and rows <= size and cols <= size:
        raster = io.read_raster(source, gsd=gsd, date=date)
        if cars:
            return scan_raster(raster, tracks=tracks, snap_m=snap_m, config=config)
        found = _find_in(raster, tracks, None, snap_m, cars=False)
        return raster, found.mode, (), list(found.tracks), raster.shape, raster.bounds_lonlat()
    windows = io.iter_windows(source, size=size, overlap=overlap, aoi=aoi, gsd=gsd, date=date)
    total = io.count_windows(source, size=size, overlap=overlap, aoi=aoi)
    # every window is normalised by the levels of the whole raster (or AOI), not its own
    pixels, valid = io.read_sample(source, aoi=aoi)
    levels = image_levels(np.moveaxis(pixels, 0, -1), valid)
    results = _window_results(windows, tracks, config, snap_m, cars, workers, levels)
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=total, unit="window", desc="scan" if cars else "tracks", leave=False)
    # per window: its offsets, size and what was found (not its pixels: peak
    # memory stays one window per worker whatever the number of windows)
    found_in: list[tuple[float, float, int, int, _Found]] = []
    mode, first = counting_mode(float(info["gsd_m"])), None
    extent = [np.inf, np.inf, -np.inf, -np.inf]  # full-raster row/col extent of the scanned area
    for raster, got in results:
        first = first or raster
        r_off, c_off = _offsets(raster)
        h, w = raster.shape
        extent = [min(extent[0], r_off), min(extent[1], c_off), max(extent[2], r_off + h), max(extent[3], c_off + w)]
        if got is None:  # no valid pixel
            continue
        mode = got.mode
        found_in.append((r_off, c_off, h, w, got))
    if first is None:
        raise NoDataError(f"{source}: nothing to scan in the requested area")
    # each window keeps what lies in its core: the seams run through the middle of
    # each overlap (windows may share more than `overlap` pixels: they are made
    # equally large and spread evenly)
    row_spans = sorted({(r, r + h) for r, _, h, _, _ in found_in})
    col_spans = sorted({(c, c + w) for _, c, _, w, _ in found_in})
    dets: list[Detection] = []
    pieces: list[TrackLine] = []
    for r_off, c_off, h, w, found in found_in:
        r_lo, r_hi = _core(row_spans, (r_off, r_off + h))
        c_lo, c_hi = _core(col_spans, (c_off, c_off + w))
        dets.extend(d for d in found.detections if r_lo <= d.row < r_hi and c_lo <= d.col < c_hi)
        pieces.extend(clip_tracks(found.tracks, (r_lo, c_lo, r_hi, c_hi)))
    dets.sort(key=lambda d: (round(d.row, 3), round(d.col, 3)))
    lines = list(join_tracks(pieces, gap_px=2.0 / float(info["gsd_m"])))
    bounds = _bounds_lonlat(first, extent)
    shape = (int(extent[2] - extent[0]), int(extent[3] - extent[1]))
    return first, mode, tuple(dets), lines, shape, bounds


def read_windows(gsd_m: float, window_px: int = WINDOW_PX) -> tuple[int, int]:
    """Side and overlap, in pixels, of the windows a raster of this GSD is read in.

    Each window answers for a square of ``window_px`` and is read with
    :data:`OVERLAP_M` of the picture around it, so what is found in its square
    saw the same surroundings whatever the window's size.
    """
    context = int(np.ceil(OVERLAP_M / gsd_m))
    return window_px + 2 * context, 2 * context


def _offsets(raster: io.Raster) -> tuple[float, float]:
    win = raster.window
    return (float(win.row_off), float(win.col_off)) if win is not None else (0.0, 0.0)


def _window_results(windows: Iterator[io.Raster], tracks: dict[str, Any] | None,
                    config: DetectorConfig | None, snap_m: float, cars: bool, workers: int,
                    levels: Levels | None) -> Iterator[tuple[io.Raster, _Found | None]]:
    """Yield each window with what :func:`_find_in` found in it (None if it has no valid pixel), in order.

    With several workers, windows are scanned in a process pool; at most
    ``workers + 1`` windows are read ahead, so memory stays bounded.
    """
    if workers == 1:
        for raster in windows:
            yield raster, (_find_in(raster, tracks, config, snap_m, cars, levels) if raster.mask.any() else None)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # no fork: GDAL and BLAS threads do not survive it
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=one_blas_thread) as pool:
        pending: deque = deque()
        for raster in windows:
            fut = pool.submit(_find_in, raster, tracks, config, snap_m, cars, levels) if raster.mask.any() else None
            pending.append((raster, fut))
            while len(pending) > workers:
                raster_done, fut = pending.popleft()
                yield raster_done, (fut.result() if fut is not None else None)
        while pending:
            raster_done, fut = pending.popleft()
            yield raster_done, (fut.result() if fut is not None else None)


def one_blas_thread() -> None:
    """Pool initializer: the processes share the cores, so each does its matrix products on one thread."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _core(spans: list[tuple[float, float]], span: tuple[float, float]) -> tuple[float, float]:
    """The part of ``span`` closer to it than to its neighbours in ``spans``."""
    i = spans.index(span)
    lo = -np.inf if i == 0 else 0.5 * (span[0] + spans[i - 1][1])
    hi = np.inf if i == len(spans) - 1 else 0.5 * (spans[i + 1][0] + span[1])
    return lo, hi


def _bounds_lonlat(raster: io.Raster, extent: list[float]) -> BBox | None:
    if raster.transform is None or raster.crs is None:
        return None
    r_off, c_off = _offsets(raster)
    rr = np.array([extent[0], extent[0], extent[2], extent[2]]) - r_off
    cc = np.array([extent[1], extent[3], extent[1], extent[3]]) - c_off
    lon, lat = raster.pixel_to_lonlat(rr, cc)
    return (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
