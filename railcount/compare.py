"""Counts of one site across dates: tables, before/after differences and ratios.

A scan gives a count with an interval, a date, a GSD and a mode. This module
puts such counts side by side:

* :class:`Observation` is the part of a :class:`~railcount.results.ScanResult`
  a comparison needs (it can also be built by hand, e.g. for a published count);
* :func:`compare` gives the difference and ratio of two counts with
  conservative intervals;
* :func:`series_table` gives a time series of one site as a dict of columns,
  and :func:`comparability_notes` says where the counts are not like for like
  (different GSD or counting mode, missing dates).

Checks of public claims against such counts live in :mod:`railcount.claims`.

Interval arithmetic
-------------------
Each count carries an interval ``[low, high]``. Nothing is assumed about how
the errors of two scans are related, so the intervals of derived quantities
are the conservative (worst-case) ones:

* difference ``after - before``: ``[after_low - before_high, after_high - before_low]``;
* ratio ``after / before``: ``[after_low / before_high, after_high / before_low]``,
  with ``inf`` as the upper bound when the before interval reaches zero.

Their coverage is at least that of the input intervals' joint coverage; they
are wider than an interval computed under independence.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io as _stdio
import logging
import math
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Iterable, Mapping, Sequence

from .geo import overlap_fraction
from .priors import ESTIMATE_MAX_GSD, counting_mode
from .results import ScanResult, interval_phrase

__all__ = [
    "Observation",
    "Comparison",
    "as_observation",
    "compare",
    "difference_interval",
    "ratio_interval",
    "series_table",
    "sort_by_date",
    "SERIES_COLUMNS",
    "comparability_notes",
    "table_to_csv",
    "format_count",
    "DATE_HINT",
]

logger = logging.getLogger(__name__)

#: How a user gives a tile its acquisition date (for messages about undated tiles).
DATE_HINT = ("to place a tile in time, put its date in the file name (e.g. yard_2023-10-05.tif) "
             "or in its ACQUISITION_DATE tag")

#: GSDs differing by more than this factor are flagged as not like for like.
GSD_RATIO_NOTE = 1.25


@dataclass(frozen=True)
class Observation:
    """One count of a site on one date: what comparisons and claim checks use.

    Attributes
    ----------
    source : str
        Path or URL of the raster (or a citation, for a count made by hand).
    count : int
        Best estimate of the number of railcars.
    count_low, count_high : int
        The interval around ``count`` at ``confidence``.
    confidence : float
        Coverage of the interval, e.g. 0.9.
    mode : str
        ``"individual"`` or ``"estimate"`` (see :class:`~railcount.results.ScanResult`).
    gsd : float
        Ground sample distance in metres.
    date : datetime.date or None
        Acquisition date, when known.
    date_source : str
        Where the date came from (``"tag"``, ``"filename"``, ``"caller"``, ``"unknown"``).
    simulated : bool
        True when the count comes from a simulated scene.
    bounds_lonlat : (west, south, east, north) or None
        Extent of the counted pixels in WGS84 degrees, when known.
    bounded : bool
        False when the evidence could not bound the count (its interval then
        means nothing, and claims about it are inconclusive).
    """

    source: str
    count: int
    count_low: int
    count_high: int
    mode: str = "individual"
    gsd: float = math.nan
    confidence: float = 0.9
    date: _dt.date | None = None
    date_source: str = "unknown"
    simulated: bool = False
    bounds_lonlat: tuple[float, float, float, float] | None = None
    bounded: bool = True

    def __post_init__(self) -> None:
        if not self.count_low <= self.count <= self.count_high:
            raise ValueError(
                f"count_low <= count <= count_high must hold, got "
                f"{self.count_low} <= {self.count} <= {self.count_high} for {self.source!r}"
            )

    @classmethod
    def from_result(cls, result: ScanResult) -> Observation:
        """Take the count, interval, date, GSD, mode and extent of a scan result."""
        return cls(
            source=result.source,
            count=result.count,
            count_low=result.count_low,
            count_high=result.count_high,
            mode=result.mode,
            gsd=float(result.gsd),
            confidence=result.confidence,
            date=result.date,
            date_source=result.date_source,
            simulated=result.simulated,
            bounds_lonlat=result.bounds_lonlat,
            bounded=result.bounded,
        )

    @property
    def interval(self) -> tuple[int, int]:
        """The count's interval ``(low, high)``."""
        return (self.count_low, self.count_high)

    @property
    def name(self) -> str:
        """A short name for reports: the file name of :attr:`source`."""
        return PurePath(self.source).name or self.source

    @property
    def resolvable(self) -> bool:
        """False when the GSD is too coarse for any count (coarser than 3 m).

        A count at such a GSD can say whether a track is occupied, not how
        many cars stand on it (see :func:`railcount.priors.counting_mode`).
        """
        return math.isnan(self.gsd) or counting_mode(self.gsd) != "none"

    def describe(self) -> str:
        """One phrase: ``"count 73 (90% interval 70-76) on 2023-10-05"``."""
        when = self.date.isoformat() if self.date else "an unknown date"
        return f"{format_count(self)} on {when}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "source": self.source,
            "simulated": self.simulated,
            "date": self.date.isoformat() if self.date else None,
            "date_source": self.date_source,
            "count": self.count,
            "count_low": self.count_low,
            "count_high": self.count_high,
            "confidence": self.confidence,
            "mode": self.mode,
            "gsd_m": None if math.isnan(self.gsd) else round(self.gsd, 4),
            "bounds_lonlat": list(self.bounds_lonlat) if self.bounds_lonlat else None,
            "bounded": self.bounded,
        }


def as_observation(item: ScanResult | Observation) -> Observation:
    """Return ``item`` as an :class:`Observation`.

    Raises
    ------
    TypeError
        If ``item`` is neither a ScanResult nor an Observation.
    """
    if isinstance(item, Observation):
        return item
    if isinstance(item, ScanResult):
        return Observation.from_result(item)
    raise TypeError(f"expected a ScanResult or an Observation, got {type(item).__name__}")


def format_count(obs: Observation | ScanResult) -> str:
    """Format a count with its interval: ``"count 73 (90% interval 70-76)"``."""
    return f"count {obs.count} ({interval_phrase(obs)})"


def difference_interval(before: tuple[int, int], after: tuple[int, int]) -> tuple[int, int]:
    """Conservative interval of ``after - before`` from the two count intervals.

    Parameters
    ----------
    before, after : (low, high)
        The count intervals.

    Returns
    -------
    (low, high)
        ``(after_low - before_high, after_high - before_low)``.

    Examples
    --------
    >>> difference_interval((15, 21), (70, 76))
    (49, 61)
    """
    return (after[0] - before[1], after[1] - before[0])


def ratio_interval(before: tuple[int, int], after: tuple[int, int]) -> tuple[float, float]:
    """Conservative interval of ``after / before`` from the two count intervals.

    Parameters
    ----------
    before, after : (low, high)
        The count intervals.

    Returns
    -------
    (low, high)
        ``(after_low / before_high, after_high / before_low)``. Where a
        denominator is zero the bound is ``inf`` (a positive numerator: any
        ratio is possible) or ``0.0`` (``0 / 0``: no increase can be shown).

    Examples
    --------
    >>> ratio_interval((15, 20), (70, 80))
    (3.5, 5.333333333333333)
    >>> ratio_interval((0, 4), (10, 12))
    (2.5, inf)
    """
    def _div(num: float, den: float) -> float:
        if den > 0:
            return num / den
        return math.inf if num > 0 else 0.0

    return (_div(after[0], before[1]), _div(after[1], before[0]))


@dataclass(frozen=True)
class Comparison:
    """Before/after comparison of two counts of one site.

    Attributes
    ----------
    before, after : Observation
        The two counts.
    difference : int
        ``after.count - before.count``.
    difference_low, difference_high : int
        Conservative interval of the difference (see :func:`difference_interval`).
    ratio : float or None
        ``after.count / before.count``; ``None`` when the before count is 0.
    ratio_low, ratio_high : float
        Conservative interval of the ratio (see :func:`ratio_interval`);
        ``ratio_high`` is ``inf`` when the before interval reaches 0.
    days : int or None
        Days from the before date to the after date, when both are known.
    notes : tuple of str
        Why the two counts may not be like for like (GSD, mode, dates,
        extents, simulated imagery).
    """

    before: Observation
    after: Observation
    difference: int
    difference_low: int
    difference_high: int
    ratio: float | None
    ratio_low: float
    ratio_high: float
    days: int | None
    notes: tuple[str, ...] = ()

    @property
    def simulated(self) -> bool:
        """True when either count comes from simulated imagery."""
        return self.before.simulated or self.after.simulated

    def describe(self) -> str:
        """One line: ``"+55 railcars (interval +49 to +61), ratio 4.06x (3.33-5.07) over 34 days"``."""
        text = (
            f"{self.difference:+d} railcars (interval {self.difference_low:+d} to "
            f"{self.difference_high:+d})"
        )
        if self.ratio is None:
            text += ", ratio undefined (before count 0)"
        else:
            text += f", ratio {self.ratio:.2f}x ({_fmt_ratio(self.ratio_low)}-{_fmt_ratio(self.ratio_high)})"
        if self.days is not None:
            text += f" over {self.days} days"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (an unbounded ratio is ``null`` with a note)."""

        def _finite(x: float | None) -> float | None:
            if x is None or not math.isfinite(x):
                return None
            return round(x, 4)

        return {
            "simulated": self.simulated,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "difference": self.difference,
            "difference_low": self.difference_low,
            "difference_high": self.difference_high,
            "ratio": _finite(self.ratio),
            "ratio_low": _finite(self.ratio_low),
            "ratio_high": _finite(self.ratio_high),
            "days": self.days,
            "notes": list(self.notes),
        }


def _fmt_ratio(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2f}"


def compare(before: ScanResult | Observation, after: ScanResult | Observation) -> Comparison:
    """Compare two counts of one site: difference and ratio with intervals.

    Parameters
    ----------
    before, after : ScanResult or Observation
        The earlier and the later count.

    Returns
    -------
    Comparison
        Difference and ratio with conservative intervals, the days between
        the two dates and notes on anything that makes them not like for like.

    Notes
    -----
    The intervals are worst-case combinations of the two count intervals
    (see the module docstring); they make no independence assumption.

    Examples
    --------
    >>> from railcount.compare import Observation, compare
    >>> c = compare(Observation("a.tif", 18, 15, 21, gsd=0.5),
    ...             Observation("b.tif", 73, 70, 76, gsd=0.5))
    >>> c.difference, (c.difference_low, c.difference_high)
    (55, (49, 61))
    """
    b, a = as_observation(before), as_observation(after)
    d_low, d_high = difference_interval(b.interval, a.interval)
    r_low, r_high = ratio_interval(b.interval, a.interval)
    ratio = a.count / b.count if b.count > 0 else None
    days = (a.date - b.date).days if (a.date and b.date) else None
    notes = list(comparability_notes([b, a]))
    if days is not None and days < 0:
        notes.append(f"the AFTER image ({a.date}) is dated before the BEFORE image ({b.date})")
    if b.bounds_lonlat and a.bounds_lonlat and overlap_fraction(b.bounds_lonlat, a.bounds_lonlat) == 0.0:
        notes.append("the two images do not overlap: they show different places")
    if math.isinf(r_high):
        notes.append("the ratio has no upper bound: the BEFORE interval reaches 0")
    result = Comparison(
        before=b, after=a,
        difference=a.count - b.count, difference_low=d_low, difference_high=d_high,
        ratio=ratio, ratio_low=r_low, ratio_high=r_high, days=days, notes=tuple(notes),
    )
    logger.debug("compare %s -> %s: %s", b.name, a.name, result.describe())
    return result


def comparability_notes(items: Iterable[ScanResult | Observation]) -> tuple[str, ...]:
    """Say why counts of one site on several dates may not be like for like.

    Parameters
    ----------
    items : iterable of ScanResult or Observation

    Returns
    -------
    tuple of str
        Notes on differing GSDs (by more than a factor of 1.25), differing
        counting modes, GSDs too coarse to count, undated counts and
        simulated imagery. Empty when the counts are comparable.
    """
    obs = [as_observation(i) for i in items]
    notes: list[str] = []
    gsds = [o.gsd for o in obs if not math.isnan(o.gsd)]
    if gsds and max(gsds) > GSD_RATIO_NOTE * min(gsds):
        listed = ", ".join(f"{o.gsd:.2f} m ({o.date or o.name})" for o in obs if not math.isnan(o.gsd))
        notes.append(
            f"GSD differs between the images ({listed}): the counts have different error rates"
        )
    modes = sorted({o.mode for o in obs})
    if len(modes) > 1:
        est = ", ".join(str(o.date or o.name) for o in obs if o.mode == "estimate")
        notes.append(
            f"counting mode differs ({' and '.join(modes)}): the estimate(s) ({est}) come from "
            "occupied track length, not from individual cars"
        )
    coarse = [o for o in obs if not o.resolvable]
    if coarse:
        notes.append(
            "too coarse to count railcars (coarser than "
            f"{ESTIMATE_MAX_GSD:g} m): " + ", ".join(f"{o.name} ({o.gsd:g} m)" for o in coarse)
        )
    undated = [o for o in obs if o.date is None]
    if undated:
        names = sorted(o.name for o in undated)
        notes.append("no acquisition date (listed last, by name): " + ", ".join(names)
                     + f"; {DATE_HINT}")
    if obs and all(o.simulated for o in obs):
        notes.append("SIMULATED imagery: the counts demonstrate the method, they are not evidence")
    elif any(o.simulated for o in obs):
        notes.append(
            "some images are SIMULATED: " + ", ".join(o.name for o in obs if o.simulated)
        )
    return tuple(notes)


#: Columns of :func:`series_table`, in order.
SERIES_COLUMNS = (
    "date", "count", "count_low", "count_high", "confidence", "mode", "gsd_m",
    "date_source", "simulated", "source", "note",
)


def series_table(results: Iterable[ScanResult | Observation]) -> dict[str, list[Any]]:
    """Return counts of one site as a dict of columns, sorted by date.

    Parameters
    ----------
    results : iterable of ScanResult or Observation
        Counts of one site; undated ones go last, ordered by file name.

    Returns
    -------
    dict of str to list
        Columns ``date`` (ISO string or None), ``count``, ``count_low``,
        ``count_high``, ``confidence``, ``mode``, ``gsd_m``, ``date_source``,
        ``simulated``, ``source`` and ``note``, ready for
        ``pandas.DataFrame``. ``note`` says where a row is not like for like
        with the first row (GSD, mode), is too coarse, undated or simulated.
    """
    obs = sort_by_date(as_observation(r) for r in results)
    table: dict[str, list[Any]] = {k: [] for k in SERIES_COLUMNS}
    ref = obs[0] if obs else None
    for o in obs:
        d = o.to_dict()
        for k in SERIES_COLUMNS[:-1]:
            table[k].append(d["gsd_m"] if k == "gsd_m" else d[k])
        table["note"].append("; ".join(_row_notes(o, ref)))
    return table


def sort_by_date(items: Iterable[Observation]) -> list[Observation]:
    """Sort observations by date; undated ones last, ordered by file name (:attr:`Observation.name`)."""
    items = list(items)
    dated = sorted((o for o in items if o.date), key=lambda o: o.date)  # type: ignore[arg-type,return-value]
    return dated + sorted((o for o in items if not o.date), key=lambda o: (o.name, o.source))


def _row_notes(o: Observation, ref: Observation | None) -> list[str]:
    notes = []
    if o.simulated:
        notes.append("SIMULATED")
    if o.date is None:
        notes.append("undated")
    if not o.resolvable:
        notes.append(f"too coarse to count ({o.gsd:g} m)")
    if o.mode == "estimate":
        notes.append("estimate from occupied track length")
    if ref is not None and o is not ref:
        if not (math.isnan(o.gsd) or math.isnan(ref.gsd)) and (
            max(o.gsd, ref.gsd) > GSD_RATIO_NOTE * min(o.gsd, ref.gsd)
        ):
            notes.append(f"GSD {o.gsd:.2f} m vs {ref.gsd:.2f} m in the first row")
        if o.mode != ref.mode:
            notes.append(f"mode {o.mode} vs {ref.mode} in the first row")
    return notes


def table_to_csv(table: Mapping[str, Sequence[Any]]) -> str:
    """Render a dict of equal-length columns as CSV text (header row first).

    ``None`` becomes an empty field. Write the text with
    :func:`railcount.io.atomic_output`.
    """
    out = _stdio.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(table)
    writer.writerow(keys)
    n = len(next(iter(table.values()))) if table else 0
    for i in range(n):
        writer.writerow(["" if table[k][i] is None else table[k][i] for k in keys])
    return out.getvalue()
