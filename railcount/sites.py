"""Named sites: areas of interest with a bounding box and a note.

The built-in registry ships inside the package as ``railcount/data/sites.toml``
(the one source of truth). Users add or override sites with TOML files of the
same format, named by the ``extra`` argument of :func:`load_sites` (the
``--sites FILE`` option of the command line) or by the ``RAILCOUNT_SITES``
environment variable (several files joined with :data:`os.pathsep`). Later
files win: built-ins, then ``RAILCOUNT_SITES``, then ``extra``.

File format::

    [sites.my-yard]
    title = "My yard"
    bbox = [west, south, east, north]   # lon/lat degrees, EPSG:4326
    note = "What is there, where the coordinates come from."
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

from . import io
from .errors import AOIError
from .geo import validate_bbox
from .types import BBox

__all__ = ["Site", "load_sites", "get_site", "check_bbox", "SITES_ENV", "MERCATOR_MAX_LAT"]

logger = logging.getLogger(__name__)

#: Environment variable naming the user's own site files.
SITES_ENV = "RAILCOUNT_SITES"

#: Latitude limit of the web-mercator tile grid (EPSG:3857), in degrees.
MERCATOR_MAX_LAT = 85.0511287798066

_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Site:
    """A named area of interest.

    Attributes
    ----------
    key : str
        Name used on the command line (``--site KEY``), lower case.
    title : str
        Human-readable name.
    bbox : tuple of 4 float
        ``(west, south, east, north)`` in lon/lat degrees (EPSG:4326).
    note : str
        What is there and where the coordinates come from.
    source : str
        The file the site was read from (``"built-in"`` for the registry).
    """

    key: str
    title: str
    bbox: BBox
    note: str = ""
    source: str = "built-in"

    @property
    def center(self) -> tuple[float, float]:
        """``(lon, lat)`` of the middle of the bounding box."""
        w, s, e, n = self.bbox
        return ((w + e) / 2.0, (s + n) / 2.0)


def check_bbox(bbox: Iterable[float], *, name: str = "bbox") -> BBox:
    """Check a lon/lat bounding box for fetching and return it as a tuple of floats.

    As :func:`railcount.geo.validate_bbox`, and within the web-mercator latitude range.

    Parameters
    ----------
    bbox : iterable of 4 numbers
        ``(west, south, east, north)`` in degrees.
    name : str
        Name of the parameter, used in error messages.

    Returns
    -------
    tuple of 4 float

    Raises
    ------
    AOIError
        If the box does not have 4 finite numbers, is empty or inverted, crosses
        the antimeridian, or lies outside the web-mercator latitude range.
    """
    w, s, e, n = validate_bbox(bbox, what=name)
    if not (-MERCATOR_MAX_LAT <= s <= MERCATOR_MAX_LAT and -MERCATOR_MAX_LAT <= n <= MERCATOR_MAX_LAT):
        raise AOIError(f"{name} latitudes must lie within +-{MERCATOR_MAX_LAT:.4f} (the web-mercator range of "
                       f"tiles and most catalogues); got south={s:g}, north={n:g}")
    return (w, s, e, n)


def _parse(text: str, source: str) -> dict[str, Site]:
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
        bbox_t = check_bbox(bbox, name=f"{where}: bbox")
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


def _read_user_file(path: str | os.PathLike[str]) -> dict[str, Site]:
    p = Path(path).expanduser()
    text = io.read_text(p, what="sites file", hint=f"check the path given with --sites or {SITES_ENV}",
                        error=AOIError)
    return _parse(text, str(p))


def _builtin() -> dict[str, Site]:
    text = resources.files("railcount").joinpath("data", "sites.toml").read_text(encoding="utf-8")
    return _parse(text, "built-in")


def load_sites(extra: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
               *, env: Mapping[str, str] | None = None) -> dict[str, Site]:
    """Load the named sites: built-ins, then the user's files merged over them.

    Parameters
    ----------
    extra : path-like or iterable of path-like, optional
        The user's own site file(s) (``--sites FILE``); read last, so they win.
    env : mapping, optional
        Environment to read ``RAILCOUNT_SITES`` from (default :data:`os.environ`).

    Returns
    -------
    dict of str to Site
        Keyed by lower-case site name, built-ins first.

    Raises
    ------
    AOIError
        If a site file is missing, not TOML, or has a malformed site.

    Examples
    --------
    >>> sites = load_sites()
    >>> sites["tumangang"].bbox  # doctest: +SKIP
    (130.6, 42.415, 130.616, 42.427)
    """
    env = os.environ if env is None else env
    sites = _builtin()
    files: list[str | os.PathLike[str]] = [f for f in env.get(SITES_ENV, "").split(os.pathsep) if f.strip()]
    if extra is not None:
        if isinstance(extra, (str, os.PathLike)):
            files.append(extra)
        else:
            files.extend(extra)
    for f in files:
        user = _read_user_file(f)
        for key, site in user.items():
            if key in sites:
                logger.info("site '%s' from %s replaces the one from %s", key, site.source, sites[key].source)
            sites[key] = site
    return sites


def get_site(name: str, *, extra: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
             env: Mapping[str, str] | None = None) -> Site:
    """Look up one site by name (case-insensitive).

    Raises
    ------
    AOIError
        If no site has that name; the message lists the known ones.
    """
    sites = load_sites(extra, env=env)
    key = name.strip().lower()
    if key not in sites:
        raise AOIError(f"unknown site '{name}'; known sites: {', '.join(sorted(sites))}. "
                       f"Add your own in a TOML file given with --sites or {SITES_ENV}, or use --bbox")
    return sites[key]
