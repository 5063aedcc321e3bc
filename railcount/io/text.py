"""Small text files a user names: GeoJSON (AOIs, track lines), manifests, claims, site lists.

Also the text files bundled in the package (the site registry and the
claims in ``railcount/data/``): reading them is I/O too, and the modules that
parse them (:mod:`railcount.sites`, :mod:`railcount.claims`) stay pure.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from .. import geo
from ..claims import Claim, parse_claim
from ..errors import AOIError, ClaimError, InputError, RailcountError
from ..sites import BUILT_IN, SITES_ENV, Site, parse_sites
from ..types import BBox

__all__ = ["read_text", "read_geojson", "parse_aoi", "load_sites", "get_site", "load_claim", "bundled_claims"]

logger = logging.getLogger(__name__)

#: Claim loaded when none is named.
DEFAULT_CLAIM = "tumangang_2023"

_GEOJSON_TYPES = {
    "FeatureCollection", "Feature", "GeometryCollection", "Point", "MultiPoint",
    "LineString", "MultiLineString", "Polygon", "MultiPolygon",
}


def read_geojson(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a GeoJSON file (e.g. an AOI polygon or track lines).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict
        The parsed GeoJSON object (coordinates are not checked here).

    Raises
    ------
    InputError
        If the file is missing, not UTF-8 JSON, or not a GeoJSON object.
    """
    return _parse_geojson_text(read_text(path, what="GeoJSON file"), str(path))


def read_text(path: str | os.PathLike[str], *, what: str = "file", hint: str = "check the path",
              error: type[RailcountError] = InputError) -> str:
    """Read a small UTF-8 text file a user named (GeoJSON, manifest, claim, site list).

    Parameters
    ----------
    path : path-like
        ``~`` is expanded; a UTF-8 byte-order mark is dropped.
    what : str
        What the file is, for messages ("batch manifest", "claim file", ...).
    hint : str
        What to do when the file does not exist.
    error : RailcountError subclass
        The error to raise.

    Raises
    ------
    error
        With a one-line message if the file does not exist, is a folder, is
        not UTF-8 text or cannot be read.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise error(f"no such {what}: {path}; {hint}")
    if p.is_dir():
        raise error(f"{path} is a folder; give a {what}")
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None


def _parse_geojson_text(text: str, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                         "check the GeoJSON") from None
    if not isinstance(obj, dict) or obj.get("type") not in _GEOJSON_TYPES:
        raise InputError(f"{where} is JSON but not GeoJSON: it needs a \"type\" such as FeatureCollection, "
                         "Feature or Polygon")
    return obj


def parse_aoi(text: str) -> BBox | dict[str, Any]:
    """Parse an area of interest given on a command line.

    Parameters
    ----------
    text : str
        ``"west,south,east,north"`` in degrees, a path to a GeoJSON file of
        polygons (lon/lat), or GeoJSON text.

    Returns
    -------
    (west, south, east, north) or dict
        A box of floats, or the GeoJSON object (checked to hold a polygon).

    Raises
    ------
    AOIError
        If the text is neither, the box is malformed, or the file is missing,
        not GeoJSON, or holds no polygon.

    Examples
    --------
    >>> parse_aoi("7.585, 47.527, 7.59, 47.53")
    (7.585, 47.527, 7.59, 47.53)
    """
    s = str(text).strip()
    if not s:
        raise AOIError("AOI is empty; give west,south,east,north in degrees or a GeoJSON file")
    parts = [p.strip() for p in s.split(",")]
    if len(parts) == 4:
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = None
        if values is not None:
            return geo.validate_bbox(values)
    try:
        if s.startswith("{"):
            obj = _parse_geojson_text(s, "the AOI text")
        elif Path(s).exists() or s.lower().endswith((".geojson", ".json")):
            obj = read_geojson(s)
        else:
            raise AOIError(f"AOI must be west,south,east,north in degrees (e.g. 7.585,47.527,7.59,47.53) "
                           f"or a GeoJSON file; got {text!r}")
    except InputError as exc:
        raise AOIError(f"AOI: {exc}") from None
    geo.aoi_geometry(obj)
    return obj



# --------------------------------------------------------------------------- bundled data


def _data_text(name: str) -> str | None:
    """Text of a file of ``railcount/data/``, or ``None`` if there is none of that name."""
    resource = resources.files("railcount").joinpath("data", name)
    if not resource.is_file():
        return None
    return resource.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- sites


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
    >>> sites = load_sites(env={})
    >>> sites["tumangang"].bbox
    (130.6056, 42.4202, 130.6106, 42.4226)
    """
    env = os.environ if env is None else env
    sites = parse_sites(_data_text("sites.toml") or "", BUILT_IN)
    files: list[str | os.PathLike[str]] = [f for f in env.get(SITES_ENV, "").split(os.pathsep) if f.strip()]
    if extra is not None:
        if isinstance(extra, (str, os.PathLike)):
            files.append(extra)
        else:
            files.extend(extra)
    for f in files:
        p = Path(f).expanduser()
        text = read_text(p, what="sites file", hint=f"check the path given with --sites or {SITES_ENV}",
                         error=AOIError)
        for key, site in parse_sites(text, str(p)).items():
            if key in sites:
                logger.info("site '%s' from %s replaces the one from %s", key, site.source, sites[key].source)
            sites[key] = site
    return sites


def get_site(name: str, *, extra: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
             env: Mapping[str, str] | None = None) -> Site:
    """Look up one site by name (case-insensitive), as :func:`load_sites` finds them.

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


# --------------------------------------------------------------------------- claims


def bundled_claims() -> list[str]:
    """Names of the claims bundled with railcount (e.g. ``["tumangang_2023"]``)."""
    folder = resources.files("railcount").joinpath("data")
    names = []
    if folder.is_dir():
        for item in folder.iterdir():
            if item.name.endswith(".toml"):
                try:
                    data = tomllib.loads(item.read_text(encoding="utf-8"))
                except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
                    continue
                if "clauses" in data:
                    names.append(item.name[: -len(".toml")])
    return sorted(names)


def load_claim(source: str | os.PathLike[str] = DEFAULT_CLAIM) -> Claim:
    """Load a claim from a TOML file, or one bundled with railcount by name.

    Parameters
    ----------
    source : path-like or str, default "tumangang_2023"
        A claim file, or the name of a bundled claim (see
        :func:`bundled_claims`). A path that exists wins over a bundled name.

    Returns
    -------
    Claim
        A ``site.key`` in the file takes the site from the built-in registry
        (the user's ``RAILCOUNT_SITES`` files are not read, so that a claim
        means the same for everyone).

    Raises
    ------
    ClaimError
        If the file does not exist (and no bundled claim has that name),
        cannot be read, is not TOML, or is not a valid claim.

    Examples
    --------
    >>> claim = load_claim("tumangang_2023")
    >>> [c.id for c in claim.clauses][:3]
    ['baseline', 'reported', 'about_73']
    """
    path = Path(source)
    if path.is_file():
        text = read_text(path, what="claim file", error=ClaimError)
        origin = str(path)
    else:
        name = str(source)
        bundled_text = None
        if not (os.sep in name or "/" in name or name.endswith(".toml")):
            bundled_text = _data_text(f"{name}.toml")
        if bundled_text is None:
            bundled = ", ".join(bundled_claims()) or "none"
            raise ClaimError(
                f"claim file {source} does not exist; give a path to a claim TOML file "
                f"or the name of a bundled claim ({bundled})"
            )
        text, origin = bundled_text, f"bundled:{name}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClaimError(f"claim file {origin} is not valid TOML: {exc}") from None
    return parse_claim(data, origin=origin, sites=load_sites(env={}))
