"""Small text files: those a user names (GeoJSON AOIs and track lines, manifests, claims,
site lists) and those bundled in the package (``railcount/data/``).

Reading them is I/O; parsing what they hold is not: :mod:`railcount.catalog`
turns claim and site files into :class:`~railcount.claims.Claim` and
:class:`~railcount.sites.Site` objects with the pure parsers of
:mod:`railcount.claims` and :mod:`railcount.sites`.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from .. import geo
from ..errors import AOIError, InputError, RailcountError
from ..types import BBox

__all__ = ["read_text", "read_geojson", "parse_aoi", "read_data_text", "data_names"]

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


def read_data_text(name: str) -> str | None:
    """Text of a file bundled in ``railcount/data/``, or ``None`` if there is none of that name.

    Parameters
    ----------
    name : str
        A file name (no folders), e.g. ``"sites.toml"``.
    """
    if not name or "/" in name or os.sep in name or name.startswith("."):
        return None
    resource = resources.files("railcount").joinpath("data", name)
    if not resource.is_file():
        return None
    return resource.read_text(encoding="utf-8")


def data_names(suffix: str) -> list[str]:
    """Names of the files bundled in ``railcount/data/`` that end with ``suffix``, sorted."""
    folder = resources.files("railcount").joinpath("data")
    if not folder.is_dir():
        return []
    return sorted(item.name for item in folder.iterdir() if item.name.endswith(suffix))
