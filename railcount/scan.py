"""Scan a raster: read it (in windows when large), detect railcars, count them.

This is the one place where the I/O layer and the detector meet: the detector
sees arrays and a GSD, never a path. Large rasters are read in overlapping
windows; a detection is kept by the one window whose core (the window less half
the overlap on each inner side) holds its centre, so a car on a seam is counted
once, and peak memory is bounded by one window whatever the raster's size.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import time
from typing import Any, Iterator, Sequence

import numpy as np

from . import io
from .detect import DetectorConfig, detect_railcars
from .detect.calibration import count_interval
from .errors import InputError, NoDataError, ResolutionTooCoarseError
from .priors import ESTIMATE_MAX_GSD, counting_mode, max_cars_in
from .results import Detection, ScanResult
from .types import BBox

log = logging.getLogger(__name__)

__all__ = ["scan", "scan_raster", "WINDOW_PX", "OVERLAP_M"]

#: Side of the windows a large raster is read in, in pixels.
WINDOW_PX = 2048
#: Overlap between windows, metres: more than a car's length plus the context
#: the features look at, so a car whose centre lies in a window's core is whole.
OVERLAP_M = 80.0


def _guard_gsd(gsd: float) -> None:
    if counting_mode(gsd) == "none":
        raise ResolutionTooCoarseError(
            f"railcars cannot be counted at a GSD of {gsd:.3g} m (coarser than {ESTIMATE_MAX_GSD} m): "
            "use imagery of 3 m or finer (0.8 m or finer for individual cars)")


def _tracks_to_pixels(raster: "io.Raster", tracks: dict[str, Any] | None) -> list[np.ndarray] | None:
    """Track lines (GeoJSON, lon/lat) to (row, col) index-coordinate polylines of ``raster``."""
    if tracks is None:
        return None
    lines: list[np.ndarray] = []
    for coords in _iter_lines(tracks):
        arr = np.asarray(coords, float)
        if arr.ndim != 2 or arr.shape[0] < 2:
            continue
        rows, cols = raster.lonlat_to_pixel(arr[:, 0], arr[:, 1])
        lines.append(np.column_stack([rows, cols]) - 0.5)
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


def _georeference(raster: "io.Raster", det: Detection, row_off: float, col_off: float) -> Detection:
    corners = tuple((r + row_off, c + col_off) for r, c in det.corners_px)
    lonlat = None
    if raster.transform is not None and raster.crs is not None:
        rr = np.array([r for r, _ in det.corners_px])
        cc = np.array([c for _, c in det.corners_px])
        lon, lat = raster.pixel_to_lonlat(rr, cc)
        lonlat = tuple((float(x), float(y)) for x, y in zip(lon, lat))
    return dataclasses.replace(det, row=det.row + row_off, col=det.col + col_off,
                               corners_px=corners, corners_lonlat=lonlat)


def _detect_in(raster: "io.Raster", tracks: dict[str, Any] | None, config: DetectorConfig | None):
    found = detect_railcars(raster.image, raster.mask, gsd=raster.gsd,
                            tracks=_tracks_to_pixels(raster, tracks), config=config)
    return found


def scan_raster(raster: "io.Raster", *, tracks: dict[str, Any] | None = None,
                config: DetectorConfig | None = None) -> ScanResult:
    """Scan a raster already in memory.

    Parameters
    ----------
    raster : railcount.io.Raster
    tracks : dict, optional
        GeoJSON (lon/lat) LineStrings of track centrelines.
    config : DetectorConfig, optional

    Returns
    -------
    ScanResult
    """
    t0 = time.perf_counter()
    _guard_gsd(raster.gsd)
    found = _detect_in(raster, tracks, config)
    dets = tuple(_georeference(raster, d, 0.0, 0.0) for d in found.detections)
    return _result(raster, raster.source, dets, found.mode, found.cars, found.n_tracks,
                   raster.shape, raster.bounds_lonlat(), time.perf_counter() - t0)


def _result(raster, source, dets, mode, cars, n_tracks, shape, bounds, elapsed) -> ScanResult:
    capacity = max_cars_in(float(shape[0]) * float(shape[1]) * raster.gsd ** 2)
    count, low, high, conf = count_interval(cars, mode, capacity=capacity)
    return ScanResult(
        source=str(source), count=count, count_low=low, count_high=high, confidence=conf, mode=mode,
        gsd=raster.gsd, date=raster.date, date_source=raster.date_source, crs=raster.crs_string,
        bounds_lonlat=bounds, shape=tuple(shape), detections=dets, simulated=raster.simulated,
        elapsed_s=elapsed, n_tracks=n_tracks,
    )


def scan(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    aoi: BBox | dict[str, Any] | None = None,
    tracks: dict[str, Any] | None = None,
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
        GeoJSON (lon/lat) track centrelines, e.g. from OpenStreetMap.
    gsd : float, optional
        Ground sample distance in metres (required for unreferenced pictures).
    date : date or str, optional
        Acquisition date when the file does not say.
    progress : bool
        Show a progress bar over windows (stderr).
    window_px : int
        Window side for large rasters.
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
    info = io.raster_info(source, gsd=gsd, date=date)
    _guard_gsd(float(info["gsd_m"]))
    rows, cols = int(info["height"]), int(info["width"])
    if aoi is None and rows <= window_px and cols <= window_px:
        raster = io.read_raster(source, gsd=gsd, date=date)
        res = scan_raster(raster, tracks=tracks, config=config)
        return dataclasses.replace(res, elapsed_s=time.perf_counter() - t0)
    overlap = int(np.ceil(OVERLAP_M / float(info["gsd_m"])))
    overlap = min(overlap, window_px // 2)
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a whole number >= 1, got {workers!r}")
    windows = io.iter_windows(source, size=window_px, overlap=overlap, aoi=aoi, gsd=gsd, date=date)
    total = io.count_windows(source, size=window_px, overlap=overlap, aoi=aoi)
    results = _window_results(windows, tracks, config, workers)
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=total, unit="window", desc="scan", leave=False)
    # per window: its offsets, size and georeferenced detections (not its pixels:
    # peak memory stays one window per worker whatever the number of windows)
    found_in: list[tuple[float, float, int, int, tuple[Detection, ...]]] = []
    mode, n_tracks, first = "individual", 0, None
    extent = [np.inf, np.inf, -np.inf, -np.inf]  # full-raster row/col extent of the scanned area
    for raster, found in results:
        first = first or raster
        r_off, c_off = _offsets(raster)
        h, w = raster.shape
        extent = [min(extent[0], r_off), min(extent[1], c_off), max(extent[2], r_off + h), max(extent[3], c_off + w)]
        if found is None:  # no valid pixel
            continue
        mode = found[0]
        n_tracks = max(n_tracks, found[1])
        found_in.append((r_off, c_off, h, w, found[2]))
    # each window keeps what lies in its core: the seams run through the middle of
    # each overlap (windows may share more than `overlap` pixels: they are made
    # equally large and spread evenly)
    row_spans = sorted({(r, r + h) for r, _, h, _, _ in found_in})
    col_spans = sorted({(c, c + w) for _, c, _, w, _ in found_in})
    dets: list[Detection] = []
    cars = 0.0
    for r_off, c_off, h, w, detections in found_in:
        r_lo, r_hi = _core(row_spans, (r_off, r_off + h))
        c_lo, c_hi = _core(col_spans, (c_off, c_off + w))
        for d in detections:  # already in full-raster pixel coordinates
            if r_lo <= d.row < r_hi and c_lo <= d.col < c_hi:
                dets.append(d)
                cars += d.cars
    if first is None:
        raise NoDataError(f"{source}: nothing to scan in the requested area")
    dets.sort(key=lambda d: (round(d.row, 3), round(d.col, 3)))
    bounds = _bounds_lonlat(first, extent)
    shape = (int(extent[2] - extent[0]), int(extent[3] - extent[1]))
    return _result(first, source, tuple(dets), mode, cars, n_tracks, shape, bounds, time.perf_counter() - t0)


def _offsets(raster: "io.Raster") -> tuple[float, float]:
    win = raster.window
    return (float(win.row_off), float(win.col_off)) if win is not None else (0.0, 0.0)


def _scan_window(raster: "io.Raster", tracks: dict[str, Any] | None, config: DetectorConfig | None
                 ) -> tuple[str, int, tuple[Detection, ...]]:
    """Mode, tracks and detections (in full-raster pixel coordinates, georeferenced) of one window."""
    found = _detect_in(raster, tracks, config)
    r_off, c_off = _offsets(raster)
    return found.mode, found.n_tracks, tuple(_georeference(raster, d, r_off, c_off) for d in found.detections)


def _window_results(windows: Iterator["io.Raster"], tracks: dict[str, Any] | None,
                    config: DetectorConfig | None, workers: int
                    ) -> Iterator[tuple["io.Raster", tuple[str, int, tuple[Detection, ...]] | None]]:
    """Yield each window with what :func:`_scan_window` found in it (None if it has no valid pixel), in order.

    With several workers, windows are scanned in a process pool; at most
    ``workers + 1`` windows are read ahead, so memory stays bounded.
    """
    if workers == 1:
        for raster in windows:
            yield raster, (_scan_window(raster, tracks, config) if raster.mask.any() else None)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # no fork: GDAL and BLAS threads do not survive it
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=one_blas_thread) as pool:
        pending: deque = deque()
        for raster in windows:
            pending.append((raster, pool.submit(_scan_window, raster, tracks, config) if raster.mask.any() else None))
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


def _bounds_lonlat(raster: "io.Raster", extent: list[float]) -> BBox | None:
    if raster.transform is None or raster.crs is None:
        return None
    r_off, c_off = _offsets(raster)
    rr = np.array([extent[0], extent[0], extent[2], extent[2]]) - r_off
    cc = np.array([extent[1], extent[3], extent[1], extent[3]]) - c_off
    lon, lat = raster.pixel_to_lonlat(rr, cc)
    return (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
