"""Figures: detections on imagery, before/after pairs and count time series.

Every function draws on a matplotlib ``Axes`` it is given (or makes one) and
returns it; none calls ``plt.show()``. matplotlib is imported inside the
functions, so importing :mod:`railcount` stays light.

Pixel convention: as everywhere in railcount (see :class:`railcount.io.Raster`),
detection coordinates ``(row, col)`` are floats with the centre of the pixel
of index ``(i, j)`` at ``(i + 0.5, j + 0.5)``: ``(0, 0)`` is the outer corner
of the first pixel, and with a pixel-to-map ``transform`` a point is at
``transform * (col, row)``. Images are drawn with matching extents, so
outlines sit on the pixels they were found on, in map or in pixel axes.

To write a file without a display, build the figure with :func:`new_figure`
(a plain ``Figure`` on the Agg canvas, independent of pyplot's backend);
:mod:`railcount.figures` reads the pixels and writes figure files. This
module reads and writes nothing: it draws arrays, results and comparisons it
is given.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Iterable, Protocol, Sequence

import numpy as np

from .errors import InputError
from .results import ScanResult, TrackResult, interval_phrase

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .claims import Claim

__all__ = [
    "plot_detections",
    "plot_tracks",
    "plot_before_after",
    "plot_series",
    "result_title",
    "new_figure",
    "panel_size",
    "Count",
]

logger = logging.getLogger(__name__)

#: Outline colour of detected railcars, of occupied-track estimates and of tracks.
CAR_COLOR = "#00e5ff"
TRACK_COLOR = "#ffd600"
OCCUPIED_COLOR = "#ffa000"
SIMULATED_COLOR = "#d50000"


class Count(Protocol):
    """What the plots need of a count: a :class:`~railcount.results.ScanResult`
    or a :class:`~railcount.compare.Observation` (e.g. a published count) will do."""

    @property
    def source(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def count_low(self) -> int: ...
    @property
    def count_high(self) -> int: ...
    @property
    def confidence(self) -> float: ...
    @property
    def mode(self) -> str: ...
    @property
    def gsd(self) -> float: ...
    @property
    def date(self) -> _dt.date | None: ...
    @property
    def simulated(self) -> bool: ...


# --------------------------------------------------------------------------- figures


def new_figure(*, ncols: int = 1, figsize: tuple[float, float] | None = None) -> tuple[Figure, Any]:
    """Make a figure on the Agg canvas without pyplot, for writing files.

    Parameters
    ----------
    ncols : int
        Number of axes side by side.
    figsize : (width, height) in inches, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes, or array of Axes when ``ncols > 1``
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize or (6.5 * ncols, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=True)
    return fig, axes


def _axes(ax: Axes | None, *, figsize: tuple[float, float] = (7, 7)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


# --------------------------------------------------------------------------- helpers


def result_title(result: Count) -> str:
    """Title of a scan: date, count with interval, mode, GSD, and SIMULATED when so."""
    o = result
    when = o.date.isoformat() if o.date else "undated"
    gsd = "" if math.isnan(o.gsd) else f", {o.gsd:.2f} m GSD"
    head = "SIMULATED — " if o.simulated else ""
    noun = "railcars (estimate)" if o.mode == "estimate" else "railcars"
    name = PurePath(o.source).name or o.source
    return (f"{head}{when}: {o.count} {noun}, {interval_phrase(o)}\n"
            f"{o.mode}{gsd} · {name}")


def _display_array(image: Any) -> tuple[np.ndarray, Any]:
    """Return an imshow-ready array and the transform of a Raster-like input (or None)."""
    transform = None
    if not isinstance(image, np.ndarray) and hasattr(image, "image"):
        transform = getattr(image, "transform", None)
        arr = np.asarray(image.image)
    else:
        arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] > 3:
        arr = arr[:, :, :3]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"image must have shape (rows, cols), (rows, cols, 1) or (rows, cols, 3+), got {arr.shape}")
    if arr.dtype != np.uint8:
        out = np.zeros(arr.shape, dtype=float)
        bands = [arr] if arr.ndim == 2 else [arr[:, :, i] for i in range(arr.shape[2])]
        for i, band in enumerate(bands):
            finite = band[np.isfinite(band)] if band.dtype.kind == "f" else band.ravel()
            lo, hi = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
            scaled = np.clip((band.astype(float) - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
            if arr.ndim == 2:
                out = scaled
            else:
                out[:, :, i] = scaled
        arr = np.nan_to_num(out)
    return arr, transform


def _affine(transform: Any) -> tuple[float, float, float, float, float, float] | None:
    """Coefficients ``(a, b, c, d, e, f)`` of an affine.Affine or a 6-sequence in that order."""
    if transform is None:
        return None
    coeffs = [float(v) for v in tuple(transform)[:6]]
    if len(coeffs) != 6:
        raise ValueError(f"transform must be an affine.Affine or (a, b, c, d, e, f), got {transform!r}")
    a, b, c, d, e, f = coeffs
    return a, b, c, d, e, f


def _north_up(t: tuple[float, ...] | None) -> bool:
    return t is not None and t[1] == 0.0 and t[3] == 0.0


def _to_xy(t: tuple[float, ...] | None, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel ``(row, col)`` to plot coordinates: map x/y, or pixel (col, row) without a transform."""
    rows, cols = np.asarray(rows, float), np.asarray(cols, float)
    if t is None:
        return cols, rows
    a, b, c, d, e, f = t
    return a * cols + b * rows + c, d * cols + e * rows + f


def _is_geographic(crs: str | None) -> bool:
    if not crs:
        return False
    try:
        from pyproj import CRS

        return bool(CRS.from_user_input(crs).is_geographic)
    except Exception:  # an unparseable CRS string: guess from its text
        text = crs.upper()
        return "4326" in text or text.startswith("GEOGCS")


def _nice_length(span_m: float) -> float:
    """A 1/2/5 x 10^k length near a fifth of ``span_m``."""
    target = max(span_m / 5.0, 1e-6)
    exp = math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * 10**exp <= target:
            return m * 10**exp
    return 10**exp  # pragma: no cover


def _scale_bar(ax: Axes, units_per_m: float, width_units: float) -> None:
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    length = _nice_length(width_units / units_per_m)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(
        ax.transData, length * units_per_m, label, loc="lower right", pad=0.4, sep=4,
        color="black", frameon=True, size_vertical=0, fontproperties=FontProperties(size=9),
    )
    bar.patch.set_alpha(0.8)
    ax.add_artist(bar)


def _simulated_badge(ax: Axes) -> None:
    ax.text(0.02, 0.98, "SIMULATED", transform=ax.transAxes, ha="left", va="top",
            color="white", fontsize=11, fontweight="bold",
            bbox=dict(boxstyle="round,pad=0.3", fc=SIMULATED_COLOR, ec="none", alpha=0.9), zorder=10)


# --------------------------------------------------------------------------- detections


def _show_image(ax: Axes, image: Any, result: Any, transform: Any, pixel_offset: tuple[float, float],
                max_display_px: int) -> tuple[tuple[float, ...] | None, float, float]:
    """Draw ``image`` on ``ax`` in map axes (north-up transform) or pixel axes.

    Returns the affine used (``None``: pixel axes), map units per metre and
    the image's width in those units.
    """
    from matplotlib.ticker import MaxNLocator

    arr, raster_transform = _display_array(image)
    t = _affine(transform if transform is not None else raster_transform)
    rows, cols = arr.shape[:2]
    if tuple(result.shape) not in ((0, 0), (rows, cols)) and pixel_offset == (0.0, 0.0):
        logger.warning("image is %dx%d px but the scan result is %dx%d px: outlines may be misplaced",
                       rows, cols, *result.shape)
    if t is not None and not _north_up(t):
        logger.warning("rotated transform: drawing on pixel axes")
        t = None

    cmap = "gray" if arr.ndim == 2 else None
    step = max(1, math.ceil(max(rows, cols) / max_display_px))
    shown = arr[::step, ::step] if step > 1 else arr
    if t is None:
        ax.imshow(shown, cmap=cmap, interpolation="nearest", extent=(0, cols, rows, 0))
        ax.set_xlabel("column (px)")
        ax.set_ylabel("row (px)")
        units_per_m = 1.0 / result.gsd if result.gsd and result.gsd > 0 else math.nan
        width_units = float(cols)
    else:
        a, _, c, _, e, f = t
        extent = (c, c + a * cols, f + e * rows, f)
        ax.imshow(shown, cmap=cmap, interpolation="nearest", extent=extent)
        if _is_geographic(result.crs):
            ax.set_xlabel("longitude (°)")
            ax.set_ylabel("latitude (°)")
        else:
            crs = f", {result.crs}" if result.crs and len(result.crs) < 20 else ""
            ax.set_xlabel(f"easting (m{crs})")
            ax.set_ylabel(f"northing (m{crs})")
            ax.ticklabel_format(useOffset=False, style="plain")
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        units_per_m = abs(a) / result.gsd if result.gsd and result.gsd > 0 else math.nan
        width_units = abs(a) * cols

    return t, units_per_m, width_units


def _draw_tracks(ax: Axes, tracks: Sequence[Any], t: tuple[float, ...] | None,
                 pixel_offset: tuple[float, float]) -> list[Any]:
    """Draw track centrelines (found: solid; user lines used as given: dashed); return legend handles."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    r0, c0 = pixel_offset
    handles = []
    for source, style, label in (("image", "-", "track"), ("user", "--", "track as given")):
        lines = []
        for tr in tracks:
            if tr.source != source or len(tr.coords_px) < 2:
                continue
            rc = np.asarray(tr.coords_px, float)
            x, y = _to_xy(t, rc[:, 0] - r0, rc[:, 1] - c0)
            lines.append(np.column_stack([x, y]))
        if lines:
            ax.add_collection(LineCollection(lines, colors=TRACK_COLOR, linewidths=0.9, linestyles=style,
                                             alpha=0.85, zorder=2))
            handles.append(Line2D([], [], color=TRACK_COLOR, lw=1.2, ls=style, label=f"{label} ({len(lines)})"))
    return handles


def _finish(ax: Axes, handles: list[Any], units_per_m: float, width_units: float, *, simulated: bool,
            title: str) -> None:
    """Legend (when there are handles), scale bar (when ``units_per_m`` is finite), SIMULATED badge, title."""
    if handles:
        leg = ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.85)
        leg.set_zorder(10)
    if math.isfinite(units_per_m):
        _scale_bar(ax, units_per_m, width_units)
    if simulated:
        _simulated_badge(ax)
    ax.set_title(title, fontsize=10)


def plot_detections(
    image: Any,
    result: ScanResult,
    *,
    transform: Any = None,
    ax: Axes | None = None,
    title: str | None = None,
    scale_bar: bool = True,
    legend: bool = True,
    pixel_offset: tuple[float, float] = (0.0, 0.0),
    max_display_px: int = 3000,
) -> Axes:
    """Draw an image with every detection outlined.

    Parameters
    ----------
    image : ndarray or Raster
        ``(rows, cols, 3)`` RGB (uint8 shown as is, other dtypes stretched
        between their 2nd and 98th percentiles), ``(rows, cols)`` grey, or a
        :class:`~railcount.io.Raster` (its ``image`` and ``transform`` are used).
    result : ScanResult
        The scan of these pixels; its detections are in their pixel coordinates.
    transform : affine.Affine or (a, b, c, d, e, f), optional
        Pixel-to-map transform of these pixels; the axes are then map
        coordinates (``imshow(extent=...)``). Without one (or with a rotated
        one) the axes are pixel columns and rows.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str, optional
        Defaults to :func:`result_title` (date, count and interval, mode, GSD).
    scale_bar : bool
        Draw a scale bar in metres (needs the result's GSD).
    legend : bool
        Label the outlines with how many there are.
    pixel_offset : (row, col)
        Where the image's first pixel lies in the frame of the detections'
        pixel coordinates, e.g. the offset of a window read from a larger
        raster whose detections are in full-raster coordinates.
    max_display_px : int
        Larger images are shown subsampled to about this many pixels a side
        (outlines stay at full precision).

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Cars are outlined in cyan; stretches of occupied track (estimate mode)
    in orange, dashed; the tracks searched are drawn in yellow (dashed where a
    user's line was used as given). Simulated results get a red "SIMULATED" badge.
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D

    ax = _axes(ax)
    t, units_per_m, width_units = _show_image(ax, image, result, transform, pixel_offset, max_display_px)


    polys: dict[str, list[np.ndarray]] = {"car": [], "occupied": []}
    points: list[tuple[float, float]] = []
    n_est = 0.0
    r0, c0 = pixel_offset
    for d in result.detections:
        key = "occupied" if d.kind == "occupied" else "car"
        if key == "occupied":
            n_est += d.cars
        if d.corners_px:
            rc = np.asarray(d.corners_px, float)
            x, y = _to_xy(t, rc[:, 0] - r0, rc[:, 1] - c0)
            polys[key].append(np.column_stack([x, y]))
        else:
            x, y = _to_xy(t, np.array([d.row - r0]), np.array([d.col - c0]))
            points.append((float(x[0]), float(y[0])))
    handles = _draw_tracks(ax, result.tracks, t, pixel_offset)
    n_cars = sum(1 for d in result.detections if d.kind != "occupied")
    if polys["car"]:
        ax.add_collection(PolyCollection(polys["car"], facecolors="none", edgecolors=CAR_COLOR,
                                         linewidths=0.9, zorder=3))
    if polys["occupied"]:
        ax.add_collection(PolyCollection(polys["occupied"], facecolors="none", edgecolors=OCCUPIED_COLOR,
                                         linewidths=1.2, linestyles="--", zorder=3))
    if points:
        xs, ys = zip(*points)
        ax.scatter(xs, ys, s=12, marker="o", facecolors="none", edgecolors=CAR_COLOR, zorder=3)
    if n_cars:
        handles.append(Line2D([], [], color=CAR_COLOR, lw=1.5, label=f"railcar ({n_cars})"))
    if polys["occupied"]:
        handles.append(Line2D([], [], color=OCCUPIED_COLOR, lw=1.5, ls="--",
                              label=f"occupied track (≈{n_est:.0f} cars)"))
    _finish(ax, handles if legend else [], units_per_m if scale_bar else math.nan, width_units,
            simulated=result.simulated, title=title if title is not None else result_title(result))
    return ax


def plot_tracks(
    image: Any,
    result: TrackResult,
    *,
    transform: Any = None,
    ax: Axes | None = None,
    title: str | None = None,
    scale_bar: bool = True,
    pixel_offset: tuple[float, float] = (0.0, 0.0),
    max_display_px: int = 3000,
) -> Axes:
    """Draw an image with the tracks found in it.

    Parameters are those of :func:`plot_detections`, with a
    :class:`~railcount.results.TrackResult`.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    t, units_per_m, width_units = _show_image(ax, image, result, transform, pixel_offset, max_display_px)
    handles = _draw_tracks(ax, result.tracks, t, pixel_offset)
    if title is None:
        title = (f"{'SIMULATED — ' if result.simulated else ''}{len(result.tracks)} tracks, "
                 f"{result.length_m:,.0f} m · {result.gsd:.2f} m GSD")
    _finish(ax, handles, units_per_m if scale_bar else math.nan, width_units, simulated=result.simulated,
            title=title)
    return ax


def plot_before_after(
    before_img: Any,
    before_result: ScanResult,
    after_img: Any,
    after_result: ScanResult,
    *,
    axes: Sequence[Axes] | None = None,
    comparison: Any = None,
    transforms: tuple[Any, Any] = (None, None),
    suptitle: str | None = None,
    pixel_offsets: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0)),
) -> Any:
    """Draw two scans of one site side by side, every detection outlined.

    Parameters
    ----------
    before_img, after_img : ndarray or Raster
        The scanned pixels (see :func:`plot_detections`).
    before_result, after_result : ScanResult
    axes : pair of matplotlib Axes, optional
        Where to draw; a new figure with two axes is made when omitted.
    comparison : railcount.compare.Comparison, optional
        The change from before to after (:func:`railcount.compare.compare`);
        the default figure title states it.
    transforms : (before, after)
        Pixel-to-map transforms; ``None`` takes a Raster's own transform or
        draws on pixel axes.
    suptitle : str, optional
        Figure title; defaults to the ``comparison``'s change with its
        interval (and SIMULATED when either scan is simulated), or none
        without a comparison. ``""`` for none.
    pixel_offsets : (before, after)
        Each image's ``pixel_offset`` (see :func:`plot_detections`).

    Returns
    -------
    The two Axes (as given, or an array of two).
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(13, 7), layout="constrained")
    if len(axes) != 2:
        raise ValueError(f"axes must be two Axes, got {len(axes)}")
    plot_detections(before_img, before_result, transform=transforms[0], ax=axes[0],
                    title="BEFORE  " + result_title(before_result), pixel_offset=pixel_offsets[0])
    plot_detections(after_img, after_result, transform=transforms[1], ax=axes[1],
                    title="AFTER  " + result_title(after_result), pixel_offset=pixel_offsets[1])
    if suptitle is None and comparison is not None:
        suptitle = ("SIMULATED imagery — " if comparison.simulated else "") + "change: " + comparison.describe()
    if suptitle:
        axes[0].figure.suptitle(suptitle, fontsize=12,
                                color=SIMULATED_COLOR if "SIMULATED" in suptitle else "black")
    return axes


def panel_size(shape: tuple[int, ...], width: float = 6.5) -> tuple[float, float]:
    """Figure size ``(width, height)`` in inches of one panel showing an image of ``shape`` (rows, cols)."""
    rows, cols = (shape[0], shape[1]) if len(shape) >= 2 and shape[1] else (1, 1)
    return width, min(max(width * rows / cols + 1.3, 3.5), 11.0)


# --------------------------------------------------------------------------- series


def plot_series(
    results: Iterable[Count],
    *,
    claim: Claim | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw counts of one site against date, with intervals and a claim's thresholds.

    Parameters
    ----------
    results : iterable of ScanResult or Observation
        Counts of one site (anything with the fields of :class:`Count`);
        undated ones are left out (with a log warning).
    claim : Claim, optional
        Draws its ``at_most`` limits over their windows, its ``more_than``
        thresholds as horizontal lines, its ``approximately`` bands at their
        dates, and its events (e.g. a summit) as vertical lines.
    ax : matplotlib Axes, optional
    title : str, optional
        Defaults to the claim's site (or "railcar counts"), with SIMULATED
        when any count is simulated.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    InputError
        If no count has a date (there is no time axis to draw them on).
    """
    import matplotlib.dates as mdates

    ax = _axes(ax, figsize=(10, 5.5))
    counts = list(results)
    undated = [PurePath(o.source).name for o in counts if o.date is None]
    if undated:
        logger.warning("left out of the series plot, no date: %s", ", ".join(undated))
    dated = [(o.date, o) for o in counts if o.date is not None]
    dated.sort(key=lambda pair: pair[0])
    obs = [o for _, o in dated]
    if not obs:
        what = f"none of the {len(counts)} counts has" if counts else "no count given has"
        raise InputError(f"a series plot needs dates: {what} an acquisition date; put the date in the "
                         "file name (e.g. yard_2023-10-05.tif) or in its ACQUISITION_DATE tag")
    simulated = any(o.simulated for o in obs)

    markers = {"individual": ("o", "tab:blue"), "estimate": ("s", "white")}
    for mode in sorted({o.mode for o in obs}):
        sel = [(d, o) for d, o in dated if o.mode == mode]
        x = np.array([mdates.date2num(d) for d, _ in sel], float)
        y = np.array([o.count for _, o in sel], float)
        err = np.array([[o.count - o.count_low for _, o in sel], [o.count_high - o.count for _, o in sel]], float)
        pct = f"{sel[0][1].confidence * 100:.0f}%"
        label = f"count, {pct} interval" + (" (estimate)" if mode == "estimate" else "")
        marker, face = markers.get(mode, ("^", "tab:blue"))
        ax.errorbar(x, y, yerr=err, ls="none", color="tab:blue", mec="tab:blue", ms=6, capsize=3,
                    label=label, zorder=4, marker=marker, mfc=face)
        for xi, (_, o) in zip(x, sel):
            ax.annotate(str(o.count), (xi, o.count), textcoords="offset points",
                        xytext=(6, 0), ha="left", va="center", fontsize=8, color="tab:blue", zorder=5,
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))

    dates: list[_dt.date] = [d for d, _ in dated]
    ymax: float = max([o.count_high for o in obs], default=10)
    if claim is not None:
        dates += [e.date for e in claim.events]
        dates += [c.date for c in claim.clauses if c.date and c.kind != "increase"]
        ymax = max([ymax] + [_clause_top(c) for c in claim.clauses])
    lo, hi = min(dates), max(dates)
    pad = max(_dt.timedelta(days=7), (hi - lo) * 0.06)
    xlim = (lo - pad, hi + pad)
    ax.set_xlim(mdates.date2num(xlim[0]), mdates.date2num(xlim[1]))
    if claim is not None:
        _draw_claim(ax, claim, xlim)

    ax.set_ylim(0, ymax * 1.18 + 1)
    ax.set_ylabel("railcars")
    loc = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax.grid(True, axis="y", alpha=0.3)
    if title is None:
        title = f"railcar counts — {claim.site.title}" if claim is not None else "railcar counts"
        if simulated:
            title = "SIMULATED imagery — " + title
    ax.set_title(title, fontsize=11, color=SIMULATED_COLOR if simulated else "black")
    if simulated:
        _simulated_badge(ax)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9, bbox_to_anchor=(0.0, 0.93) if simulated else None)
    return ax


def _clause_top(c: Any) -> float:
    if c.kind == "at_most" and c.limit is not None:
        return float(c.limit)
    if c.kind == "more_than" and c.threshold is not None:
        return float(c.threshold)
    if c.kind == "approximately" and c.band is not None:
        return float(c.band[1])
    return 0.0


def _draw_claim(ax: Axes, claim: Claim, xlim: tuple[_dt.date, _dt.date]) -> None:
    import matplotlib.dates as mdates

    for c in claim.clauses:
        if c.kind == "at_most" and c.threshold is not None and c.limit is not None:
            start, end = c.start or c.date, c.end or c.date
            if start is None or end is None:
                continue
            start, end = max(start, xlim[0]), min(end, xlim[1])
            if start <= end:
                x0, x1 = mdates.date2num(start), mdates.date2num(end)
                ax.hlines(c.threshold, x0, x1, colors="tab:green", linestyles="-", lw=1.5,
                          label=f"{c.id}: at most {'about ' if c.tolerance else ''}{c.threshold:g}", zorder=2)
                if c.limit != c.threshold:
                    ax.fill_between([x0, x1], c.threshold, c.limit, color="tab:green", alpha=0.15,
                                    lw=0, label=f"… with {c.tolerance:.0%} slack (≤ {c.limit:g})", zorder=1)
        elif c.kind == "more_than" and c.threshold is not None:
            ax.axhline(c.threshold, color="tab:red", ls=":", lw=1.5,
                       label=f"{c.id}: more than {c.threshold:g} on {c.date}", zorder=2)
        elif c.kind == "approximately" and c.band is not None and c.value is not None and c.date is not None:
            # The band over the clause's date window: a count inside the box supports it.
            lo, hi = c.band
            tol = _dt.timedelta(days=max(c.date_tolerance_days, 1))
            x0, x1 = mdates.date2num(c.date - tol), mdates.date2num(c.date + tol)
            ax.fill_between([x0, x1], lo, hi, color="tab:orange", alpha=0.3, lw=0, zorder=1,
                            label=f"{c.id}: about {c.value:g} (±{c.tolerance:.0%}), "
                                  f"{c.date} ±{c.date_tolerance_days} d")
            ax.hlines(c.value, x0, x1, colors="tab:orange", lw=1.5, zorder=2)
    for e in claim.events:
        if not xlim[0] <= e.date <= xlim[1]:
            continue
        ax.axvline(float(mdates.date2num(e.date)), color="0.35", ls="--" if e.approximate else "-", lw=1, zorder=1)
        ax.annotate(("≈ " if e.approximate else "") + e.name, (mdates.date2num(e.date), 0.99),
                    xycoords=("data", "axes fraction"), rotation=90, ha="right", va="top",
                    fontsize=7.5, color="0.25", xytext=(-2, 0), textcoords="offset points")
