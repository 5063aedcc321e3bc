"""Figure files: read the pixels a scan saw, draw them with :mod:`railcount.plot`, write PNGs.

:mod:`railcount.plot` draws arrays, results and comparisons on axes it is
given and touches no file; this module is where the two meet the I/O layer.
The pixels of a scanned raster are read here through :mod:`railcount.io`
(the same window the scan saw), and every PNG is written atomically (nothing
is left at the path on failure).

Examples
--------
>>> from railcount.scan import scan                                   # doctest: +SKIP
>>> from railcount.figures import save_overlay                        # doctest: +SKIP
>>> result = scan("tile.tif")                                         # doctest: +SKIP
>>> save_overlay("tile.tif", result, "overlay.png")                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from . import io, plot
from .results import ScanResult, TrackResult
from .types import AOI

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .claims import Claim
    from .compare import Comparison

__all__ = ["save_figure", "read_scanned", "save_overlay", "save_before_after", "save_series"]

logger = logging.getLogger(__name__)


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Write ``fig`` as PNG atomically (nothing is left at ``path`` on failure).

    Raises
    ------
    OutputError
        If the folder does not exist or is not writable.
    """
    with io.atomic_output(path) as tmp:  # savefig renders PNG with Agg whatever the canvas
        fig.savefig(tmp, format="png", dpi=dpi)
    logger.info("wrote %s", path)
    return Path(path)


def read_scanned(source: Any, result: ScanResult | TrackResult, *, aoi: AOI | None = None,
                 gsd: float | None = None) -> tuple[io.Raster, tuple[float, float]]:
    """Read the pixels a scan saw, for drawing: ``(raster, pixel_offset)``.

    Parameters
    ----------
    source : path, URL or Raster
        What was scanned; a Raster (anything with an ``image``) is returned
        as it is.
    result : ScanResult or TrackResult
        Its scan (for the date, when the file gives none).
    aoi, gsd
        As given to the scan, so that the same pixels are read.

    Returns
    -------
    raster : railcount.io.Raster
    pixel_offset : (row, col)
        The raster window's place in the frame of the result's detections
        (non-zero when an AOI window of a larger raster is read); see
        :func:`railcount.plot.plot_detections`.

    Raises
    ------
    RailcountError
        If the raster cannot be read.
    """
    if hasattr(source, "image"):
        return source, (0.0, 0.0)
    raster = io.read_raster(source, aoi=aoi, gsd=gsd, date=result.date)
    win = raster.window
    if aoi is not None and win is not None:
        return raster, (float(win.row_off), float(win.col_off))
    return raster, (0.0, 0.0)


def save_overlay(
    source: Any,
    result: ScanResult | TrackResult,
    path: str | os.PathLike[str],
    *,
    aoi: AOI | None = None,
    gsd: float | None = None,
    dpi: int = 150,
) -> Path:
    """Write a PNG of a scanned raster with every detection (or track) drawn on it.

    Parameters
    ----------
    source : path, URL or Raster
        The raster that was scanned (read again through the I/O layer), or a
        Raster already in memory.
    result : ScanResult or TrackResult
        Its scan (detections outlined) or its tracks (centrelines drawn).
    path : path-like
        Output PNG, written atomically.
    aoi, gsd
        As given to the scan, so that the same pixels are read.
    dpi : int

    Raises
    ------
    RailcountError
        If the raster cannot be read or the file cannot be written.
    """
    raster, offset = read_scanned(source, result, aoi=aoi, gsd=gsd)
    fig, ax = plot.new_figure(figsize=plot.panel_size(np.shape(raster.image)[:2], width=8.0))
    if isinstance(result, TrackResult):
        plot.plot_tracks(raster, result, ax=ax, pixel_offset=offset)
    else:
        plot.plot_detections(raster, result, ax=ax, pixel_offset=offset)
    return save_figure(fig, path, dpi=dpi)


def save_before_after(
    path: str | os.PathLike[str],
    before: tuple[Any, ScanResult],
    after: tuple[Any, ScanResult],
    comparison: Comparison,
    *,
    aoi: AOI | None = None,
    gsd: float | None = None,
    dpi: int = 150,
) -> Path:
    """Write a PNG of two scans of one site side by side, every detection outlined.

    Parameters
    ----------
    path : path-like
        Output PNG, written atomically.
    before, after : (source, ScanResult)
        Each scan with what was scanned (path, URL or Raster).
    comparison : railcount.compare.Comparison
        The change from before to after; the figure's title states it.
    aoi, gsd
        As given to the scans.
    dpi : int

    Raises
    ------
    RailcountError
        If a raster cannot be read or the file cannot be written.
    """
    ras_b, off_b = read_scanned(before[0], before[1], aoi=aoi, gsd=gsd)
    ras_a, off_a = read_scanned(after[0], after[1], aoi=aoi, gsd=gsd)
    w, h = plot.panel_size(np.shape(ras_a.image)[:2])
    fig, axes = plot.new_figure(ncols=2, figsize=(2 * w, h + 0.4))
    plot.plot_before_after(ras_b, before[1], ras_a, after[1], axes=axes, comparison=comparison,
                           pixel_offsets=(off_b, off_a))
    return save_figure(fig, path, dpi=dpi)


def save_series(path: str | os.PathLike[str], results: Iterable[plot.Count], *,
                claim: Claim | None = None, dpi: int = 150) -> Path:
    """Write a PNG of the counts of one site against date (see :func:`railcount.plot.plot_series`).

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    fig, ax = plot.new_figure(figsize=(10, 5.5))
    plot.plot_series(results, claim=claim, ax=ax)
    return save_figure(fig, path, dpi=dpi)
