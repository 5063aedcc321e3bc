"""Public claims about rail traffic as data, and their check against counts.

A claim is a small TOML file: the site (name, position, bounding box), the
sources that made the claim, dated events, and the claim's *clauses*, each a
testable statement about railcar counts. :func:`parse_claim` builds one from
its parsed TOML (:func:`railcount.catalog.load_claim` reads a file, or a claim
bundled with railcount by name, such as ``"tumangang_2023"``);
:func:`check_claim` tests every clause against counts of the site and returns,
per clause, ``supported``, ``contradicted`` or ``inconclusive`` with the
reason.

Clause kinds
------------
``at_most``
    Railcars at most ``threshold``, with a relative ``tolerance`` for "about"
    (``limit = threshold * (1 + tolerance)``).
``more_than``
    Railcars strictly more than ``threshold``.
``approximately``
    Railcars about ``value``: within the band
    ``value * (1 - tolerance) .. value * (1 + tolerance)``.
``increase``
    The count on ``date`` is more than ``min_ratio`` times every count in the
    window ``start .. end`` (``min_ratio = 1``: more than any count before).

Each clause has either a ``date`` (with ``date_tolerance_days``: the clause
is about the count nearest that date within the tolerance) or a window
``start .. end`` (the clause applies to *every* count in the window); an
``increase`` clause has both: ``date`` for the later count, the window for
the earlier ones.

Rules
-----
One principle decides every verdict: a count's interval ``[low, high]`` is
the set of values the true number of cars may take.

* **supported** when *every* value in the interval satisfies the clause,
* **contradicted** when *no* value does,
* **inconclusive** otherwise (the interval straddles the threshold or the
  band edge), or when there is nothing fit to test.

So ``more_than 70`` is supported by ``low > 70``, contradicted by
``high <= 70``; ``at_most`` is supported by ``high <= limit``, contradicted
by ``low > limit``; ``approximately`` is supported when the interval lies
inside the band, contradicted when it is disjoint from it; ``increase`` is
supported when the low end of the ratio interval (see
:func:`railcount.compare.ratio_interval`) is above ``min_ratio`` against
every earlier count, contradicted when its high end is at most ``min_ratio``
against some earlier count.

Combining counts: a window clause is contradicted if any count in the window
contradicts it, supported if every count supports it, inconclusive otherwise
(a supported window clause covers only the dates that were imaged). A dated
clause uses the counts nearest its date; several counts of that date that
disagree (one supports, one contradicts) make it inconclusive.

Before testing, counts are screened, and every screening shows in the reason:

* undated counts cannot be placed and are ignored;
* counts whose extent does not overlap the site's bounding box are ignored;
  counts covering less than the site's ``min_coverage`` of the box are lower
  bounds for the site (interval ``[low, inf)``): they can support "more
  than", and contradict "at most", never the reverse;
* counts at a GSD too coarse for any count (coarser than 3 m) are ignored
  ("too coarse"); estimates (occupied track length / car length) are used,
  and the reason says that they are estimates;
* verdicts resting on simulated imagery carry :data:`SIMULATED_NOTE`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, get_args

from .compare import Observation, as_observation, ratio_interval
from .dates import as_date
from .errors import AOIError, ClaimError
from .geo import overlap_fraction, validate_bbox
from .priors import ESTIMATE_MAX_GSD
from .results import ScanResult
from .sites import Site

__all__ = [
    "Source",
    "Event",
    "Clause",
    "Claim",
    "ClauseVerdict",
    "ClaimCheck",
    "ClauseKind",
    "Verdict",
    "SIMULATED_NOTE",
    "SIMULATED_BANNER",
    "TUMANGANG_2023",
    "parse_claim",
    "check_claim",
]

logger = logging.getLogger(__name__)

ClauseKind = Literal["at_most", "more_than", "approximately", "increase"]
Verdict = Literal["supported", "contradicted", "inconclusive"]

#: Note carried by every verdict that rests on simulated imagery.
SIMULATED_NOTE = (
    "SIMULATED imagery: this verdict demonstrates the method, it is not evidence about the real site"
)

#: Banner over a whole report that rests on simulated imagery.
SIMULATED_BANNER = (
    "SIMULATED imagery: these verdicts demonstrate the method, they are not evidence about the real site"
)

#: Name of the claim bundled with railcount about Tumangang in October 2023.
TUMANGANG_2023 = "tumangang_2023"



# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Source:
    """Where a claim was made.

    Attributes
    ----------
    id : str
        Short key that clauses refer to.
    title, publisher : str
    date : datetime.date or None
        Publication date.
    url : str or None
        Address of the piece, or of the publisher's site when the exact
        address is not known.
    note : str
        What the source says, or how it reached the project.
    """

    id: str
    title: str
    publisher: str
    date: _dt.date | None = None
    url: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "publisher": self.publisher,
            "date": _iso(self.date), "url": self.url, "note": self.note,
        }


@dataclass(frozen=True)
class Event:
    """A dated event a claim refers to (drawn on time-series plots)."""

    name: str
    date: _dt.date
    approximate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "date": self.date.isoformat(), "approximate": self.approximate}


@dataclass(frozen=True)
class Clause:
    """One testable statement of a claim (see the module docstring for the rules).

    Attributes
    ----------
    id : str
    text : str
        The statement in words, as reports print it.
    kind : {"at_most", "more_than", "approximately", "increase"}
    threshold : float or None
        For ``at_most`` and ``more_than``.
    value : float or None
        For ``approximately``.
    tolerance : float
        Relative slack of "about": ``at_most`` and ``approximately``.
    min_ratio : float or None
        For ``increase``.
    date : datetime.date or None
        The date a dated clause is about.
    date_tolerance_days : int
        Counts up to this many days from ``date`` may stand for it.
    start, end : datetime.date or None
        Window (inclusive) of a window clause, or of the earlier counts of an
        ``increase`` clause.
    sources : tuple of str
        Ids of the claim's sources that make this statement.
    """

    id: str
    text: str
    kind: ClauseKind
    threshold: float | None = None
    value: float | None = None
    tolerance: float = 0.0
    min_ratio: float | None = None
    date: _dt.date | None = None
    date_tolerance_days: int = 0
    start: _dt.date | None = None
    end: _dt.date | None = None
    sources: tuple[str, ...] = ()

    @property
    def limit(self) -> float | None:
        """Upper limit of an ``at_most`` clause: ``threshold * (1 + tolerance)``."""
        if self.kind != "at_most" or self.threshold is None:
            return None
        return self.threshold * (1.0 + self.tolerance)

    @property
    def band(self) -> tuple[float, float] | None:
        """The band ``(low, high)`` of an ``approximately`` clause."""
        if self.kind != "approximately" or self.value is None:
            return None
        return (self.value * (1.0 - self.tolerance), self.value * (1.0 + self.tolerance))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "text": self.text, "kind": self.kind}
        for k in ("threshold", "value", "tolerance", "min_ratio", "date_tolerance_days"):
            d[k] = getattr(self, k)
        for k in ("date", "start", "end"):
            d[k] = _iso(getattr(self, k))
        d["sources"] = list(self.sources)
        return d


@dataclass(frozen=True)
class Claim:
    """A public claim about rail traffic at one site, as data.

    Attributes
    ----------
    id, title : str
    site : Site
    clauses : tuple of Clause
    sources : tuple of Source
    events : tuple of Event
    summary : str
        The claim in a sentence or two.
    notes : tuple of str
        Caveats an analyst should read with the verdicts.
    origin : str
        Where the claim was loaded from (path or bundled name).
    """

    id: str
    title: str
    site: Site
    clauses: tuple[Clause, ...]
    sources: tuple[Source, ...] = ()
    events: tuple[Event, ...] = ()
    summary: str = ""
    notes: tuple[str, ...] = ()
    origin: str = ""

    def clause(self, clause_id: str) -> Clause:
        """Return the clause with id ``clause_id``.

        Raises
        ------
        KeyError
            If there is none.
        """
        for c in self.clauses:
            if c.id == clause_id:
                return c
        raise KeyError(f"claim {self.id!r} has no clause {clause_id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "summary": self.summary, "origin": self.origin,
            "site": self.site.to_dict(),
            "sources": [s.to_dict() for s in self.sources],
            "events": [e.to_dict() for e in self.events],
            "clauses": [c.to_dict() for c in self.clauses],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- loading


_CLAUSE_KEYS = {
    "id", "text", "kind", "threshold", "value", "tolerance", "min_ratio", "date",
    "date_tolerance_days", "start", "end", "sources", "source",
}


def parse_claim(data: Mapping[str, Any], *, origin: str = "<claim>",
                sites: Mapping[str, Site] | None = None) -> Claim:
    """Build a :class:`Claim` from the parsed TOML of a claim file.

    Claim files are read by :func:`railcount.catalog.load_claim`, which calls this.

    Parameters
    ----------
    data : mapping
        The claim as parsed from TOML (see ``railcount/data/tumangang_2023.toml``).
    origin : str
        Where it came from, for error messages.
    sites : mapping of str to Site, optional
        Named sites (e.g. :func:`railcount.catalog.load_sites`) where a
        ``site.key`` without a ``site.bbox`` finds its extent.

    Raises
    ------
    ClaimError
        Naming the offending key when anything is missing or malformed.
    """
    where = f"claim {origin}"
    cid = _req_str(data, "id", where)
    title = _req_str(data, "title", where)

    site_d = data.get("site")
    if not isinstance(site_d, Mapping):
        raise ClaimError(f"{where}: missing [site] table with name, lon, lat and bbox")
    site_key = _opt_str(site_d, "key", f"{where} site")
    bbox = site_d.get("bbox")
    if bbox is None and site_key:
        # One source of truth for the extent: the named site
        known = sites or {}
        if site_key.lower() not in known:
            listed = ", ".join(sorted(known)) or "none given"
            raise ClaimError(f"{where}: site.key: unknown site '{site_key}' (known sites: {listed}); "
                             "give site.bbox instead")
        bbox = list(known[site_key.lower()].bbox)
    if not isinstance(bbox, list) or any(isinstance(v, bool) for v in bbox):
        bbox = None
    try:
        box = validate_bbox(bbox, what=f"{where}: site.bbox")
    except AOIError as exc:
        raise ClaimError(f"{exc} (or give site.key, a built-in site)") from None
    min_cov = _num(site_d, "min_coverage", f"{where} site", default=0.9)
    if not 0.0 < min_cov <= 1.0:
        raise ClaimError(f"{where}: site.min_coverage must be in (0, 1], got {min_cov}")
    site = Site(
        title=_req_str(site_d, "name", f"{where} site"),
        lon=_num(site_d, "lon", f"{where} site", default=(box[0] + box[2]) / 2),
        lat=_num(site_d, "lat", f"{where} site", default=(box[1] + box[3]) / 2),
        bbox=box,
        min_coverage=min_cov,
        key=site_key,
        source=origin,
    )

    sources = []
    for i, s in enumerate(_list_of_tables(data, "sources", where)):
        w = f"{where} sources[{i}]"
        sources.append(Source(
            id=_req_str(s, "id", w), title=_req_str(s, "title", w),
            publisher=_req_str(s, "publisher", w), date=_date(s.get("date"), "date", w),
            url=_opt_str(s, "url", w), note=str(s.get("note", "")),
        ))
    source_ids = {s.id for s in sources}

    events = []
    for i, e in enumerate(_list_of_tables(data, "events", where)):
        w = f"{where} events[{i}]"
        d = _date(e.get("date"), "date", w)
        if d is None:
            raise ClaimError(f"{w}: missing date")
        events.append(Event(name=_req_str(e, "name", w), date=d, approximate=bool(e.get("approximate", False))))

    clauses = []
    seen: set[str] = set()
    for i, c in enumerate(_list_of_tables(data, "clauses", where)):
        clause = _parse_clause(c, f"{where} clauses[{i}]", source_ids)
        if clause.id in seen:
            raise ClaimError(f"{where}: clause id {clause.id!r} is used twice")
        seen.add(clause.id)
        clauses.append(clause)
    if not clauses:
        raise ClaimError(f"{where}: no [[clauses]]; a claim needs at least one clause to check")

    notes = data.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ClaimError(f"{where}: notes must be a list of strings")
    return Claim(
        id=cid, title=title, site=site, clauses=tuple(clauses), sources=tuple(sources),
        events=tuple(events), summary=str(data.get("summary", "")).strip(),
        notes=tuple(notes), origin=origin,
    )


def _parse_clause(c: Mapping[str, Any], where: str, source_ids: set[str]) -> Clause:
    unknown = sorted(set(c) - _CLAUSE_KEYS)
    cid = _req_str(c, "id", where)
    where = f"{where} ({cid})"
    if unknown:
        raise ClaimError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_CLAUSE_KEYS))}")
    kind = _req_str(c, "kind", where)
    kinds = get_args(ClauseKind)
    if kind not in kinds:
        raise ClaimError(f"{where}: kind must be one of {', '.join(kinds)}, got {kind!r}")
    srcs = c.get("sources", c.get("source", []))
    srcs = [srcs] if isinstance(srcs, str) else srcs
    if not isinstance(srcs, list) or not all(isinstance(s, str) for s in srcs):
        raise ClaimError(f"{where}: sources must be a list of source ids")
    missing = [s for s in srcs if s not in source_ids]
    if missing:
        raise ClaimError(f"{where}: unknown source id(s) {', '.join(missing)}; define them under [[sources]]")

    date = _date(c.get("date"), "date", where)
    start = _date(c.get("start"), "start", where)
    end = _date(c.get("end"), "end", where)
    tol_days = c.get("date_tolerance_days", 0)
    if isinstance(tol_days, bool) or not isinstance(tol_days, int) or tol_days < 0:
        raise ClaimError(f"{where}: date_tolerance_days must be a whole number >= 0, got {tol_days!r}")
    if (start is None) != (end is None):
        raise ClaimError(f"{where}: give both start and end of the window, or neither")
    if start is not None and end is not None and start > end:
        raise ClaimError(f"{where}: window start {start} is after its end {end}")
    tolerance = _num(c, "tolerance", where, default=0.0)
    if not 0.0 <= tolerance < 1.0:
        raise ClaimError(f"{where}: tolerance is a fraction in [0, 1) (0.1 for 10%), got {tolerance}")

    threshold = _num(c, "threshold", where, default=None)
    value = _num(c, "value", where, default=None)
    min_ratio = _num(c, "min_ratio", where, default=None)
    needs = {
        "at_most": ("threshold",), "more_than": ("threshold",),
        "approximately": ("value",), "increase": ("min_ratio",),
    }[kind]
    given = {"threshold": threshold, "value": value, "min_ratio": min_ratio}
    for k in needs:
        if given[k] is None:
            raise ClaimError(f"{where}: kind {kind} needs {k}")
        if given[k] < 0 or (k != "threshold" and given[k] == 0):
            raise ClaimError(f"{where}: {k} must be positive, got {given[k]}")
    for k, v in given.items():
        if v is not None and k not in needs:
            raise ClaimError(f"{where}: {k} is not used by kind {kind}; remove it")
    if tolerance and kind not in ("at_most", "approximately"):
        raise ClaimError(f"{where}: tolerance is not used by kind {kind}; remove it")

    if kind == "increase":
        if date is None or start is None:
            raise ClaimError(f"{where}: kind increase needs date (the later count) and start/end (the earlier ones)")
        if end is not None and end >= date - _dt.timedelta(days=tol_days):
            raise ClaimError(f"{where}: the window {start}..{end} must end before {date} minus its tolerance")
    elif (date is None) == (start is None):
        raise ClaimError(f"{where}: give either date (with date_tolerance_days) or a start/end window")
    return Clause(
        id=cid, text=_req_str(c, "text", where), kind=kind,  # type: ignore[arg-type]
        threshold=threshold, value=value, tolerance=tolerance, min_ratio=min_ratio,
        date=date, date_tolerance_days=tol_days, start=start, end=end, sources=tuple(srcs),
    )


def _req_str(d: Mapping[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ClaimError(f"{where}: missing or empty {key!r} (a string)")
    return v.strip()


def _opt_str(d: Mapping[str, Any], key: str, where: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ClaimError(f"{where}: {key} must be a string")
    return v


def _num(d: Mapping[str, Any], key: str, where: str, *, default: Any) -> Any:
    v = d.get(key, default)
    if v is default:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ClaimError(f"{where}: {key} must be a number, got {v!r}")
    return float(v)


def _date(v: Any, key: str, where: str) -> _dt.date | None:
    try:
        return as_date(v)
    except ValueError:
        raise ClaimError(f"{where}: {key} must be a date (YYYY-MM-DD), got {v!r}") from None


def _list_of_tables(d: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, Mapping) for x in v):
        raise ClaimError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return v


def _iso(d: _dt.date | None) -> str | None:
    return d.isoformat() if d else None


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class ClauseVerdict:
    """The verdict on one clause.

    Attributes
    ----------
    clause_id, text : str
    verdict : {"supported", "contradicted", "inconclusive"}
    reason : str
        Why, naming the counts, intervals, thresholds and any screening.
    counts_used : tuple of Observation
        The counts the verdict rests on.
    note : str
        :data:`SIMULATED_NOTE` when any count used is simulated, else ``""``.
    """

    clause_id: str
    text: str
    verdict: Verdict
    reason: str
    counts_used: tuple[Observation, ...] = ()
    note: str = ""

    @property
    def simulated(self) -> bool:
        """True when the verdict rests on simulated imagery."""
        return any(o.simulated for o in self.counts_used)

    def line(self) -> str:
        """One report line: ``"SUPPORTED     reported: <text> — <reason>"``."""
        text = f"{self.verdict.upper():<13} {self.clause_id}: {self.text} — {self.reason}"
        if self.note:
            text += f" [{self.note}]"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "clause_id": self.clause_id, "text": self.text, "verdict": self.verdict,
            "reason": self.reason, "simulated": self.simulated, "note": self.note,
            "counts_used": [o.to_dict() for o in self.counts_used],
        }


@dataclass(frozen=True)
class ClaimCheck:
    """Verdicts on every clause of a claim.

    Attributes
    ----------
    claim : Claim
    verdicts : tuple of ClauseVerdict
        In the claim's clause order.
    simulated : bool
        True when any count given to the check is from simulated imagery.
    observations : tuple of Observation
        Every count given to the check, sorted by date.
    """

    claim: Claim
    verdicts: tuple[ClauseVerdict, ...]
    simulated: bool
    observations: tuple[Observation, ...] = field(default=(), repr=False)

    def verdict(self, clause_id: str) -> ClauseVerdict:
        """Return the verdict on clause ``clause_id`` (KeyError if none)."""
        for v in self.verdicts:
            if v.clause_id == clause_id:
                return v
        raise KeyError(f"no verdict for clause {clause_id!r}")

    def lines(self) -> list[str]:
        """Report lines: a SIMULATED banner when so, then one line per clause."""
        out = []
        if self.simulated:
            out.append(f"*** {SIMULATED_BANNER} ***")
        out.extend(v.line() for v in self.verdicts)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim": {"id": self.claim.id, "title": self.claim.title, "origin": self.claim.origin,
                      "site": self.claim.site.title, "notes": list(self.claim.notes)},
            "simulated": self.simulated,
            "note": SIMULATED_NOTE if self.simulated else "",
            "verdicts": [v.to_dict() for v in self.verdicts],
            "observations": [o.to_dict() for o in self.observations],
        }


@dataclass(frozen=True)
class _Usable:
    """A screened count: its interval for the whole site and how it was screened."""

    obs: Observation
    low: float
    high: float  # inf when the image covers only part of the site
    coverage: float | None  # None: location unknown
    offset: int = 0  # days from the clause date

    def describe(self) -> str:
        return self.obs.describe()


@dataclass
class _Screen:
    """Counts of one clause after screening, and notes on what was set aside."""

    usable: list[_Usable]
    notes: list[str]


def check_claim(claim: Claim, counts: Iterable[ScanResult | Observation]) -> ClaimCheck:
    """Check every clause of a claim against counts of its site.

    Parameters
    ----------
    claim : Claim
        E.g. from :func:`railcount.catalog.load_claim`.
    counts : iterable of ScanResult or Observation
        Counts of the site on any dates; each clause picks the ones its dates
        call for.

    Returns
    -------
    ClaimCheck
        One :class:`ClauseVerdict` per clause, in order.

    Notes
    -----
    See the module docstring for the rules. A verdict is only as good as the
    counts' intervals: they come from the detector's measured error rates at
    each GSD and mode.

    Examples
    --------
    >>> from railcount.compare import Observation
    >>> from railcount.catalog import load_claim
    >>> import datetime as dt
    >>> claim = load_claim("tumangang_2023")
    >>> after = Observation("after.tif", 74, 72, 77, gsd=0.5, date=dt.date(2023, 10, 5))
    >>> check_claim(claim, [after]).verdict("reported").verdict
    'supported'
    """
    obs = tuple(as_observation(c) for c in counts)
    dated = sorted((o for o in obs if o.date), key=lambda o: o.date)  # type: ignore[arg-type,return-value]
    ordered = tuple(dated) + tuple(o for o in obs if not o.date)
    verdicts = []
    for clause in claim.clauses:
        v = _check_clause(claim, clause, ordered)
        if v.simulated:
            v = ClauseVerdict(v.clause_id, v.text, v.verdict, v.reason, v.counts_used, SIMULATED_NOTE)
        logger.info("%s", v.line())
        verdicts.append(v)
    return ClaimCheck(
        claim=claim, verdicts=tuple(verdicts), simulated=any(o.simulated for o in obs),
        observations=ordered,
    )


def _check_clause(claim: Claim, clause: Clause, obs: tuple[Observation, ...]) -> ClauseVerdict:
    def verdict(v: Verdict, reason: str, used: Iterable[_Usable] = ()) -> ClauseVerdict:
        return ClauseVerdict(clause.id, clause.text, v, reason, tuple(u.obs for u in used))

    base = _screen_site(claim.site, obs)
    if clause.kind == "increase":
        after = _select_date(clause, base)
        before = _select_window(clause, base)
        if not after.usable or not before.usable:
            missing = [sel for sel in (after, before) if not sel.usable]
            main = [sel.notes[-1] for sel in missing]
            rest = [n for sel in missing for n in sel.notes[:-1]]
            return verdict("inconclusive", _join("; ".join(main), rest))
        v, reason = _judge_increase(clause, after.usable, before.usable)
        notes = _decorations(after) + _decorations(before, window=True)
        return verdict(v, _join(reason, notes), after.usable + before.usable)

    sel = _select_date(clause, base) if clause.date is not None else _select_window(clause, base)
    if not sel.usable:
        return verdict("inconclusive", "; ".join(sel.notes[-1:] + sel.notes[:-1]))
    judged = [(u, *_judge_one(clause, u)) for u in sel.usable]
    verdicts = {v for _, v, _ in judged}
    if clause.date is not None:
        # Counts of one (nearest) date: they measure the same thing.
        if verdicts == {"supported"} or verdicts == {"contradicted"}:
            v = verdicts.pop()
            reason = "; ".join(f"{u.describe()}: {why}" for u, _, why in judged)
        elif {"supported", "contradicted"} <= verdicts:
            v = "inconclusive"
            reason = "counts of the same date disagree: " + "; ".join(
                f"{u.describe()}: {why}" for u, _, why in judged)
        else:
            v = "contradicted" if "contradicted" in verdicts else "inconclusive"
            reason = "; ".join(f"{u.describe()}: {why}" for u, vv, why in judged if vv != "supported")
    else:
        # A window clause holds for every count in the window.
        n = len(judged)
        if "contradicted" in verdicts:
            v = "contradicted"
            bad = [(u, why) for u, vv, why in judged if vv == "contradicted"]
            reason = f"{len(bad)} of {n} count(s) in {_window(clause)}: " + "; ".join(
                f"{u.describe()}: {why}" for u, why in bad)
        elif verdicts == {"supported"}:
            v = "supported"
            top = max(judged, key=lambda t: (t[0].high, t[0].obs.count))
            reason = (f"all {n} count(s) in {_window(clause)} support it; the highest, "
                      f"{top[0].describe()}: {top[2]}; dates not imaged are not covered")
        else:
            v = "inconclusive"
            unsure = [(u, why) for u, vv, why in judged if vv == "inconclusive"]
            reason = f"{len(unsure)} of {n} count(s) in {_window(clause)}: " + "; ".join(
                f"{u.describe()}: {why}" for u, why in unsure)
    return verdict(v, _join(reason, _decorations(sel, window=clause.date is None)), sel.usable)


def _screen_site(site: Site, obs: tuple[Observation, ...]) -> _Screen:
    """Drop undated and off-site counts; make partial-coverage counts lower bounds."""
    usable, notes = [], []
    off, undated, unbounded = [], [], []
    for o in obs:
        if o.date is None:
            undated.append(o.name)
            continue
        cov = None
        low, high = float(o.count_low), float(o.count_high)
        if not o.bounded:  # the count says nothing about the truth
            unbounded.append(o.name)
            low, high = 0.0, math.inf
        if o.bounds_lonlat is not None:
            cov = overlap_fraction(o.bounds_lonlat, site.bbox)
            if cov == 0.0:
                off.append(o.name)
                continue
            if cov < site.min_coverage:
                high = math.inf
        usable.append(_Usable(o, low, high, cov))
    if unbounded:
        notes.append(f"{len(unbounded)} count(s) cannot be bounded at their GSD ({', '.join(unbounded)})")
    if undated:
        notes.append(f"{len(undated)} undated count(s) ignored ({', '.join(undated)})")
    if off:
        notes.append(f"{len(off)} count(s) outside the site ignored ({', '.join(off)})")
    return _Screen(usable, notes)


def _split_coarse(items: list[_Usable]) -> tuple[list[_Usable], list[_Usable]]:
    fine = [u for u in items if u.obs.resolvable]
    return fine, [u for u in items if not u.obs.resolvable]


def _coarse_text(coarse: list[_Usable]) -> str:
    gsds = ", ".join(f"{u.obs.gsd:g} m" for u in coarse)
    return (f"too coarse to count railcars (GSD {gsds}; estimates need {ESTIMATE_MAX_GSD:g} m "
            "or finer)")


def _select_date(clause: Clause, screen: _Screen) -> _Screen:
    """The counts nearest the clause's date, within its tolerance."""
    assert clause.date is not None
    notes = list(screen.notes)
    tol = clause.date_tolerance_days
    near = [u for u in screen.usable if abs((u.obs.date - clause.date).days) <= tol]  # type: ignore[operator]
    fine, coarse = _split_coarse(near)
    if not fine:
        if coarse:
            notes.append(f"the imagery within {tol} days of {clause.date} is {_coarse_text(coarse)}")
        elif screen.usable:
            nearest = min(screen.usable, key=lambda u: abs((u.obs.date - clause.date).days))  # type: ignore[operator]
            off = abs((nearest.obs.date - clause.date).days)  # type: ignore[operator]
            notes.append(f"no imagery within {tol} days of {clause.date}; nearest is {off} days off "
                         f"({nearest.obs.date})")
        else:
            notes.append(f"no dated imagery of the site for {clause.date}")
        return _Screen([], notes)
    best = min(abs((u.obs.date - clause.date).days) for u in fine)  # type: ignore[operator]
    chosen = [_with_offset(u, (u.obs.date - clause.date).days) for u in fine  # type: ignore[operator]
              if abs((u.obs.date - clause.date).days) == best]  # type: ignore[operator]
    if coarse:
        notes.append(f"{len(coarse)} image(s) near {clause.date} ignored as {_coarse_text(coarse)}")
    if best:
        signed = chosen[0].offset
        notes.append(f"the date is off by {best} day(s): imagery of {chosen[0].obs.date} "
                     f"({'after' if signed > 0 else 'before'} {clause.date}) stands for that date")
    return _Screen(chosen, notes)


def _select_window(clause: Clause, screen: _Screen) -> _Screen:
    """Every count in the clause's window."""
    assert clause.start is not None and clause.end is not None
    notes = list(screen.notes)
    inside = [u for u in screen.usable if clause.start <= u.obs.date <= clause.end]  # type: ignore[operator]
    fine, coarse = _split_coarse(inside)
    if not fine:
        if coarse:
            notes.append(f"the imagery in {_window(clause)} is {_coarse_text(coarse)}")
        else:
            outside = len(screen.usable)
            notes.append(f"no imagery in {_window(clause)}"
                         + (f" ({outside} dated count(s) fall outside it)" if outside else ""))
        return _Screen([], notes)
    if coarse:
        notes.append(f"{len(coarse)} image(s) in the window ignored as {_coarse_text(coarse)}")
    return _Screen(fine, notes)


def _with_offset(u: _Usable, offset: int) -> _Usable:
    return _Usable(u.obs, u.low, u.high, u.coverage, offset)


def _window(clause: Clause) -> str:
    return f"{clause.start}..{clause.end}"


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else (f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}")


def _interval_text(u: _Usable) -> str:
    return f"{_fmt(u.low)}-{_fmt(u.high)}"


def _judge_one(clause: Clause, u: _Usable) -> tuple[Verdict, str]:
    """Verdict of one screened count on a threshold or band clause."""
    iv = _interval_text(u)
    if clause.kind == "more_than":
        t = clause.threshold
        assert t is not None
        if u.low > t:
            return "supported", f"the whole interval is above {_fmt(t)}"
        if u.high <= t:
            return "contradicted", f"the whole interval is at or below {_fmt(t)}"
        return "inconclusive", f"the interval {iv} straddles the threshold {_fmt(t)}"
    if clause.kind == "at_most":
        lim = clause.limit
        assert lim is not None and clause.threshold is not None
        what = (f"{_fmt(lim)} (about {_fmt(clause.threshold)} + {clause.tolerance:.0%})"
                if clause.tolerance else _fmt(lim))
        if u.high <= lim:
            return "supported", f"the interval stays at or below {what}"
        if u.low > lim:
            return "contradicted", f"the whole interval exceeds {what}"
        if math.isinf(u.high):
            return "inconclusive", f"a lower bound at most {what} cannot show the site held at most that"
        return "inconclusive", f"the interval {iv} straddles the limit {what}"
    if clause.kind == "approximately":
        band = clause.band
        assert band is not None and clause.value is not None
        lo, hi = math.ceil(band[0] - 1e-9), math.floor(band[1] + 1e-9)
        what = f"{lo}-{hi} ({_fmt(clause.value)} ± {clause.tolerance:.0%})"
        if u.low >= band[0] and u.high <= band[1]:
            return "supported", f"the interval lies within {what}"
        if u.high < band[0] or u.low > band[1]:
            return "contradicted", f"the interval {iv} lies outside {what}"
        return "inconclusive", f"the interval {iv} overlaps {what} but reaches beyond it"
    raise AssertionError(clause.kind)  # pragma: no cover


def _judge_increase(clause: Clause, after: list[_Usable], before: list[_Usable]) -> tuple[Verdict, str]:
    """Ratio of the later count(s) to every earlier one against ``min_ratio``."""
    r = clause.min_ratio
    assert r is not None
    what = "more than any earlier count" if r == 1 else f"more than {r:g} times every earlier count"
    pairs = []
    for a in after:
        for b in before:
            lo, hi = ratio_interval((b.low, b.high), (a.low, a.high))  # type: ignore[arg-type]
            pairs.append((lo, hi, a, b))
    n = len(before)

    def pair_text(lo: float, hi: float, a: _Usable, b: _Usable, *, highest: bool = False) -> str:
        which = (f"the highest of {n} earlier count(s) in {_window(clause)}, " if highest
                 else "")
        return f"{a.describe()} against {which}{b.describe()}: ratio {_ratio(lo)}-{_ratio(hi)}"

    bad = [p for p in pairs if p[1] <= r]
    if bad:
        p = min(bad, key=lambda p: p[1])
        return "contradicted", f"{pair_text(*p)}, not above {r:g} ({what} is needed)"
    if all(p[0] > r for p in pairs):
        p = min(pairs, key=lambda p: p[0])
        return "supported", f"{pair_text(*p, highest=True)}, above {r:g}"
    p = min((p for p in pairs if p[0] <= r), key=lambda p: p[0])
    return "inconclusive", f"{pair_text(*p)} straddles {r:g}"


def _ratio(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2f}"


def _decorations(sel: _Screen, *, window: bool = False) -> list[str]:
    """Screening notes plus what the used counts are (estimates, partial, unlocated)."""
    notes = list(sel.notes)
    est = [u for u in sel.usable if u.obs.mode == "estimate"]
    if est:
        gsds = ", ".join(sorted({f"{u.obs.gsd:g} m" for u in est}))
        notes.append(f"{'an estimate' if len(est) == 1 else f'{len(est)} estimates'} from occupied "
                     f"track length at {gsds} GSD, not a count of individual cars")
    part = [u for u in sel.usable if u.coverage is not None and math.isinf(u.high)]
    if part:
        notes.append("; ".join(
            f"{u.obs.name} covers only {u.coverage:.0%} of the site: its count is a lower bound"
            for u in part))
    unloc = [u for u in sel.usable if u.coverage is None]
    if unloc:
        notes.append(f"location not verified for {', '.join(u.obs.name for u in unloc)} "
                     "(no georeference)")
    return notes


def _join(reason: str, notes: list[str]) -> str:
    parts = [reason]
    for n in notes:
        if n not in parts:
            parts.append(n)
    return "; ".join(parts)
