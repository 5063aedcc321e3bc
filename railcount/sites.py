"""Named sites: areas of interest with a bounding box, a reference point and a note.

One :class:`Site` type serves the named-site registry (``--site KEY`` of the
fetch commands) and the claims (:attr:`railcount.claims.Claim.site`).

The built-in registry ships inside the package as ``railcount/data/sites.toml``
(the one source of truth). Users add or override sites with TOML files of the
same format, named by the ``--sites FILE`` option of the command line or by the
``RAILCOUNT_SITES`` environment variable (several files joined with
:data:`os.pathsep`). Later files win: built-ins, then ``RAILCOUNT_SITES``,
then ``--sites``. This module parses such text (:func:`parse_sites`); the
files are read by :func:`railcount.catalog.load_sites`.

File format::

    [sites.my-yard]
    title = "My yard"
    bbox = [west, south, east, north]   # lon/lat degrees, EPSG:4326
    note = "What is there, where the coordinates come from."
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from dataclasses import dataclass

from .errors import AOIError
from .geo import validate_bbox
from .types import BBox

__all__ = ["Site", "parse_sites", "SITES_ENV", "BUILT_IN"]

logger = logging.getLogger(__name__)

#: Environment variable naming the user's own site files.
SITES_ENV = "RAILCOUNT_SITES"
#: :attr:`Site.source` of the sites of the built-in registry.
BUILT_IN = "built-in"

_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Site:
    """A named area of interest.

    Attributes
    ----------
    title : str
        Human-readable name.
    bbox : (west, south, east, north)
        The extent, lon/lat degrees (EPSG:4326). For a claim: the extent whose
        railcars the claim counts.
    key : str or None
        Name used on the command line (``--site KEY``), lower case; ``None``
        for a site a claim file describes without a registry name.
    note : str
        What is there and where the coordinates come from.
    source : str
        The file the site was read from (:data:`BUILT_IN` for the registry).
    lon, lat : float
        A reference point, WGS84 degrees; the middle of ``bbox`` unless given.
    min_coverage : float
        Fraction of ``bbox`` an image must cover for its count to stand for
        the whole site; a count of less is a lower bound (see
        :mod:`railcount.claims`).
    """

    title: str
    bbox: BBox
    key: str | None = None
    note: str = ""
    source: str = BUILT_IN
    lon: float = math.nan
    lat: float = math.nan
    min_coverage: float = 0.9

    def __post_init__(self) -> None:
        w, s, e, n = self.bbox
        if math.isnan(self.lon):
            object.__setattr__(self, "lon", (w + e) / 2.0)
        if math.isnan(self.lat):
            object.__setattr__(self, "lat", (s + n) / 2.0)

    @property
    def center(self) -> tuple[float, float]:
        """``(lon, lat)`` of the middle of the bounding box."""
        w, s, e, n = self.bbox
        return ((w + e) / 2.0, (s + n) / 2.0)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {
            "key": self.key, "title": self.title, "lon": self.lon, "lat": self.lat,
            "bbox": list(self.bbox), "min_coverage": self.min_coverage, "note": self.note,
            "source": self.source,
        }


def parse_sites(text: str, source: str = BUILT_IN) -> dict[str, Site]:
    """Parse the TOML text of a site file.

    Parameters
    ----------
    text : str
        TOML with one ``[sites.KEY]`` table per site (see the module docstring).
    source : str
        Where the text came from, for messages and :attr:`Site.source`.

    Returns
    -------
    dict of str to Site
        Keyed by lower-case site name, in file order.

    Raises
    ------
    AOIError
        If the text is not TOML, has no sites, or a site is malformed.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AOIError(f"sites file {source} is not valid TOML: {exc}") from None
    table = doc.get("sites")
    if table is None:
        raise AOIError(f"sites file {source} has no [sites.NAME] tables; see railcount/data/sites.toml "
                       "for the format")
    if not isinstance(table, dict):
        raise AOIError(f"sites file {source}: 'sites' must be a table of [sites.NAME] entries")
    out: dict[str, Site] = {}
    for raw_key, entry in table.items():
        key = str(raw_key).lower()
        where = f"sites file {source}, site '{raw_key}'"
        if not _KEY_RE.match(key):
            raise AOIError(f"{where}: a site name must be 1-64 letters, digits, '-' or '_'")
        if not isinstance(entry, dict):
            raise AOIError(f"{where}: must be a table with title, bbox and note")
        if "bbox" not in entry:
            raise AOIError(f"{where}: has no bbox = [west, south, east, north]")
        bbox = entry["bbox"]
        if not isinstance(bbox, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 for v in bbox):
            raise AOIError(f"{where}: bbox must be a list of 4 numbers [west, south, east, north]")
        bbox_t = validate_bbox(bbox, what=f"{where}: bbox", web_mercator=True)
        title = entry.get("title", key)
        note = entry.get("note", "")
        if not isinstance(title, str) or not isinstance(note, str):
            raise AOIError(f"{where}: title and note must be strings")
        unknown = set(entry) - {"title", "bbox", "note"}
        if unknown:
            logger.warning("%s: ignoring unknown field(s) %s", where, ", ".join(sorted(unknown)))
        if key in out:
            raise AOIError(f"{where}: defined twice (names are case-insensitive)")
        out[key] = Site(key=key, title=title, bbox=bbox_t, note=note.strip(), source=source)
    return out
