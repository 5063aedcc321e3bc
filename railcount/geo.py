"""Coordinate maths: CRS names, ground sample distance, lon/lat <-> pixel, AOIs.

Pure functions over affine transforms and CRSs (no file access). Map
coordinates are ``(x, y)`` in the raster's CRS; pixel coordinates are
``(row, col)`` floats in which the centre of the pixel with index ``(i, j)``
sits at ``(i + 0.5, j + 0.5)`` (the convention of GDAL's geotransform, so
that applying the transform to ``(col, row)`` gives map coordinates directly).

Every CRS conversion goes through PROJ (:mod:`pyproj`) with
``always_xy=True``: longitude first, easting first, whatever the CRS's
official axis order.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pyproj

from .errors import AOIError, GSDError, ResolutionTooCoarseError, one_line
from .priors import ESTIMATE_MAX_GSD, MIN_GSD, counting_mode
from .types import BBox

if TYPE_CHECKING:  # pragma: no cover
    import affine
    import shapely.geometry.base
    from rasterio.crs import CRS

__all__ = [
    "MAX_GSD",
    "SCALE_TOLERANCE",
    "crs_to_string",
    "apply_affine",
    "shift_affine",
    "pixel_size",
    "nominal_gsd",
    "ground_gsd",
    "raster_gsd",
    "validate_gsd",
    "countable_gsd",
    "to_lonlat",
    "from_lonlat",
    "bounds_lonlat",
    "validate_bbox",
    "overlap_fraction",
    "MERCATOR_MAX_LAT",
    "aoi_geometry",
]

logger = logging.getLogger(__name__)

#: Coarsest GSD accepted, metres; anything coarser is an error of units.
MAX_GSD = 10_000.0
#: Latitude limit of the web-mercator tile grid (EPSG:3857), in degrees.
MERCATOR_MAX_LAT = 85.0511287798066
#: A projected CRS whose scale at the tile's centre is further than this from
#: true (e.g. Web Mercator away from the equator) has its GSD measured on the
#: ground instead of read from the pixel size.
SCALE_TOLERANCE = 0.01

_WGS84 = "EPSG:4326"


def crs_to_string(crs: CRS | None) -> str | None:
    """Return ``"EPSG:xxxx"`` when the CRS has an EPSG code, else its WKT.

    Parameters
    ----------
    crs : rasterio.crs.CRS or None

    Returns
    -------
    str or None
        ``None`` for ``None``.
    """
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def apply_affine(transform: affine.Affine, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Apply an affine transform to coordinate arrays: ``(x, y) -> transform (x, y)``.

    Written out so that it works alike with every version of :mod:`affine`.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    t = transform
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def shift_affine(transform: affine.Affine, col_off: float, row_off: float) -> affine.Affine:
    """Return the transform of a window whose top-left pixel is ``(row_off, col_off)``."""
    from affine import Affine

    t = transform
    return Affine(t.a, t.b, t.a * col_off + t.b * row_off + t.c,
                  t.d, t.e, t.d * col_off + t.e * row_off + t.f)


_local = threading.local()


def _lonlat_transformer(wkt: str) -> pyproj.Transformer:
    """One transformer per CRS and thread, used both ways so that round trips agree.

    Cached per thread: PROJ objects are not meant to be shared between threads.
    """
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    t = cache.get(wkt)
    if t is None:
        if len(cache) >= 64:
            cache.clear()
        t = cache[wkt] = pyproj.Transformer.from_crs(
            pyproj.CRS.from_user_input(_WGS84), pyproj.CRS.from_user_input(wkt), always_xy=True)
    return t


def _wkt(crs: Any) -> str:
    return crs if isinstance(crs, str) else crs.to_wkt()


def to_lonlat(crs: CRS, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert map coordinates of ``crs`` to WGS84 longitude and latitude (degrees)."""
    t = _lonlat_transformer(_wkt(crs))
    lon, lat = t.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float), direction="INVERSE")
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def from_lonlat(crs: CRS, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 longitude and latitude (degrees) to map coordinates of ``crs``."""
    t = _lonlat_transformer(_wkt(crs))
    x, y = t.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def pixel_size(transform: affine.Affine) -> tuple[float, float]:
    """Return the size of one pixel along columns and rows, in CRS units.

    Works for rotated transforms too (the length of each pixel edge).
    """
    return math.hypot(transform.a, transform.d), math.hypot(transform.b, transform.e)


def nominal_gsd(transform: affine.Affine, crs: CRS) -> float:
    """Return the pixel size of a projected CRS in metres.

    The geometric mean of the column and row pixel sizes times the CRS's
    linear unit (so that a pixel of 1 US survey foot gives 0.3048 m).

    Parameters
    ----------
    transform : affine.Affine
    crs : rasterio.crs.CRS
        A projected CRS.
    """
    xres, yres = pixel_size(transform)
    try:
        _, factor = crs.linear_units_factor
    except Exception:  # rasterio raises CRSError when the unit is unknown
        factor = 1.0
    return math.sqrt(xres * yres) * float(factor)


def ground_pixel_size(transform: affine.Affine, crs: CRS, shape: tuple[int, int]) -> tuple[float, float]:
    """Size on the ground, metres, of the centre pixel of a raster: ``(along columns, along rows)``.

    The two differ where the CRS does not keep shapes (lon/lat degrees away
    from the equator). See :func:`ground_gsd`.
    """
    rows, cols = shape
    r, c = rows / 2.0, cols / 2.0
    # centre, one pixel along the columns, one pixel along the rows
    pc = np.array([c, c + 1.0, c])
    pr = np.array([r, r, r + 1.0])
    x, y = apply_affine(transform, pc, pr)
    lon, lat = to_lonlat(crs, x, y)
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
        raise GSDError("cannot measure the GSD: the raster's centre is outside its CRS's valid area; "
                       "check the georeference or give the GSD (--gsd)")
    geod = pyproj.Geod(ellps="WGS84")
    _, _, dx = geod.inv(lon[0], lat[0], lon[1], lat[1])
    _, _, dy = geod.inv(lon[0], lat[0], lon[2], lat[2])
    return abs(dx), abs(dy)


def ground_gsd(transform: affine.Affine, crs: CRS, shape: tuple[int, int]) -> float:
    """Measure the GSD in metres on the ground at the centre of a raster.

    The centre pixel's edges are taken to lon/lat and their lengths measured
    along the WGS84 ellipsoid (:class:`pyproj.Geod`); the result is the
    geometric mean of the column and row sizes. Works for any CRS, geographic
    ones included.

    Parameters
    ----------
    transform : affine.Affine
        Pixel-to-map transform.
    crs : rasterio.crs.CRS
    shape : (rows, cols)
        Size of the raster.
    """
    dx, dy = ground_pixel_size(transform, crs, shape)
    return math.sqrt(dx * dy)


def raster_gsd(transform: affine.Affine, crs: CRS, shape: tuple[int, int]) -> float:
    """Return the GSD in metres of a georeferenced raster.

    Projected CRSs give their pixel size times the CRS's linear unit
    (:func:`nominal_gsd`). Geographic CRSs, and projected CRSs whose scale at
    the tile's centre is more than :data:`SCALE_TOLERANCE` from true (Web
    Mercator away from the equator: a "metre" of EPSG:3857 at 60 deg N is
    0.5 m on the ground), are measured on the ground at the centre
    (:func:`ground_gsd`).

    Notes
    -----
    Keeping the nominal size for near-true projections (UTM, national grids)
    means a raster written with 0.5 m pixels reports exactly 0.5 m, not the
    0.4998 m that UTM's 0.9996 scale factor would give.
    """
    if crs.is_geographic:
        return ground_gsd(transform, crs, shape)
    nominal = nominal_gsd(transform, crs)
    ground = ground_gsd(transform, crs, shape)
    if nominal > 0 and abs(ground / nominal - 1.0) > SCALE_TOLERANCE:
        logger.info("CRS scale at the tile's centre is %.3f: GSD measured on the ground (%.4g m, "
                    "nominal pixel size %.4g m)", nominal / ground, ground, nominal)
        return ground
    return nominal


def validate_gsd(
    gsd: Any,
    *,
    what: str = "GSD",
    finest: float = MIN_GSD,
    coarsest: float = MAX_GSD,
    purpose: str | None = None,
) -> float:
    """Check that a GSD is a plausible number of metres per pixel.

    The one check of a ground sample distance in railcount: the loader, the
    simulator and the detector all call it (with their own range).

    Parameters
    ----------
    gsd : float
        Ground sample distance in metres.
    what : str
        How to name the value in messages.
    finest, coarsest : float
        The range accepted, metres per pixel. By default what overhead
        imagery can have (:data:`railcount.priors.MIN_GSD` to :data:`MAX_GSD`).
    purpose : str, optional
        What the range is for, for messages (e.g. "the simulator renders");
        give it with a narrower range.

    Returns
    -------
    float

    Raises
    ------
    GSDError
        If it is not a number, not finite, zero or negative, or outside
        ``[finest, coarsest]``.

    Examples
    --------
    >>> validate_gsd("0.5")
    0.5
    """
    if isinstance(gsd, bool):
        raise GSDError(f"{what} must be a number of metres per pixel, got {gsd!r}")
    try:
        value = float(gsd)
    except (TypeError, ValueError):
        raise GSDError(f"{what} must be a number of metres per pixel, got {gsd!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise GSDError(f"{what} must be a positive number of metres per pixel, got {gsd!r}")
    if purpose is not None and not finest <= value <= coarsest:
        raise GSDError(f"{what} of {value:g} m is outside what {purpose} ({finest:g}-{coarsest:g} m per pixel)")
    if value < finest:
        raise GSDError(f"{what} of {value:g} m is finer than {finest:g} m, which no overhead imagery "
                       "has; give it in metres per pixel (e.g. 0.5, not 50 cm)")
    if value > coarsest:
        raise GSDError(f"{what} of {value:g} m is coarser than {coarsest:g} m, which is absurd; "
                       "give it in metres per pixel")
    return value


def countable_gsd(gsd: Any, *, what: str = "GSD") -> float:
    """Check a GSD as :func:`validate_gsd` does, and that railcars can be counted at it.

    The one place that refuses imagery too coarse to count (used by the
    scan before reading pixels and by the detector on its input).

    Returns
    -------
    float
        The GSD, at most :data:`railcount.priors.ESTIMATE_MAX_GSD`.

    Raises
    ------
    GSDError
        As :func:`validate_gsd`.
    ResolutionTooCoarseError
        If the GSD is coarser than :data:`railcount.priors.ESTIMATE_MAX_GSD`.

    Examples
    --------
    >>> countable_gsd(0.5)
    0.5
    """
    value = validate_gsd(gsd, what=what)
    if counting_mode(value) == "none":
        raise ResolutionTooCoarseError(
            f"railcars cannot be counted at a GSD of {value:.3g} m (coarser than {ESTIMATE_MAX_GSD:g} m): "
            "use imagery of 3 m or finer (0.8 m or finer for individual cars)")
    return value


def bounds_lonlat(transform: affine.Affine, crs: CRS, shape: tuple[int, int]) -> BBox:
    """Return the extent of a raster as ``(west, south, east, north)`` in WGS84 degrees.

    The raster's edges are densified before the conversion, so that curved
    edges in lon/lat (e.g. of a UTM tile) are enclosed.
    """
    rows, cols = shape
    n = 21
    t = np.linspace(0.0, 1.0, n)
    edge_c = np.concatenate([t * cols, np.full(n, cols), t[::-1] * cols, np.zeros(n)])
    edge_r = np.concatenate([np.zeros(n), t * rows, np.full(n, rows), t[::-1] * rows])
    x, y = apply_affine(transform, edge_c, edge_r)
    lon, lat = to_lonlat(crs, x, y)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise AOIError("the raster's extent cannot be converted to lon/lat; check its CRS")
    return (float(lon[ok].min()), float(lat[ok].min()), float(lon[ok].max()), float(lat[ok].max()))


def validate_bbox(bbox: Any, *, what: str = "AOI", web_mercator: bool = False) -> BBox:
    """Check a ``(west, south, east, north)`` box in degrees and return it as floats.

    The one bounding-box check of railcount (AOIs, named sites, claims, fetches).

    Parameters
    ----------
    bbox : iterable of 4 numbers
        ``(west, south, east, north)`` in lon/lat degrees.
    what : str
        How to name the box in messages (e.g. ``"--bbox"``).
    web_mercator : bool
        Also require the latitudes to lie within the web-mercator range
        (:data:`MERCATOR_MAX_LAT`) of tile grids and most catalogues.

    Raises
    ------
    AOIError
        If it has not four finite numbers, if west >= east or south >= north,
        or if a value lies outside [-180, 180] (lon) / [-90, 90] (lat), or
        outside the web-mercator range when asked.

    Examples
    --------
    >>> validate_bbox([1, 2, 3, 4])
    (1.0, 2.0, 3.0, 4.0)
    """
    if isinstance(bbox, (str, bytes)) or any(isinstance(v, bool) for v in _iter_or_empty(bbox)):
        raise AOIError(f"{what} must be 4 numbers west,south,east,north in degrees, got {bbox!r}")
    try:
        values = [float(v) for v in bbox]
    except (TypeError, ValueError):
        raise AOIError(f"{what} must be 4 numbers west,south,east,north in degrees, got {bbox!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise AOIError(f"{what} must be 4 numbers west,south,east,north in degrees, got {bbox!r}")
    w, s, e, n = values
    if not (-180 <= w <= 180 and -180 <= e <= 180):
        raise AOIError(f"{what} longitudes must lie in [-180, 180], got west={w:g}, east={e:g}")
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        hint = " (lon and lat swapped? the order is west,south,east,north)" if -180 <= s <= 180 else ""
        raise AOIError(f"{what} latitudes must lie in [-90, 90], got south={s:g}, north={n:g}{hint}")
    if w >= e:
        raise AOIError(f"{what} west ({w:g}) must be less than east ({e:g}); the order is west,south,east,north")
    if s >= n:
        raise AOIError(f"{what} south ({s:g}) must be less than north ({n:g}); the order is west,south,east,north")
    if web_mercator and not (-MERCATOR_MAX_LAT <= s and n <= MERCATOR_MAX_LAT):
        raise AOIError(f"{what} latitudes must lie within +-{MERCATOR_MAX_LAT:.4f} (the web-mercator range of "
                       f"tiles and most catalogues); got south={s:g}, north={n:g}")
    return (w, s, e, n)


def _iter_or_empty(obj: Any) -> list[Any]:
    try:
        return list(obj)
    except TypeError:
        return []


def overlap_fraction(inner: BBox, outer: BBox) -> float:
    """Fraction of the area of box ``outer`` that box ``inner`` covers.

    Both boxes are ``(west, south, east, north)`` in degrees; areas are taken
    in degrees, which is close enough for the small boxes of a site.

    Examples
    --------
    >>> overlap_fraction((0, 0, 1, 1), (0, 0, 2, 1))
    0.5
    """
    w = max(inner[0], outer[0])
    s = max(inner[1], outer[1])
    e = min(inner[2], outer[2])
    n = min(inner[3], outer[3])
    if e <= w or n <= s:
        return 0.0
    area = (outer[2] - outer[0]) * (outer[3] - outer[1])
    return 1.0 if area <= 0 else ((e - w) * (n - s)) / area


def aoi_geometry(aoi: BBox | Mapping[str, Any]) -> tuple[shapely.geometry.base.BaseGeometry, bool]:
    """Turn an AOI into a shapely (Multi)Polygon in lon/lat.

    Parameters
    ----------
    aoi : (west, south, east, north) or dict
        A lon/lat box, or a GeoJSON Polygon/MultiPolygon geometry, Feature
        or FeatureCollection (all polygons are united).

    Returns
    -------
    geometry : shapely geometry
        Valid, non-empty (Multi)Polygon in WGS84 degrees.
    is_polygon : bool
        False for a box (only the window is read), True for a GeoJSON polygon
        (pixels outside it are masked too).

    Raises
    ------
    AOIError
        If the AOI is malformed, empty, has no polygon, or its coordinates are
        not lon/lat degrees.
    """
    import shapely
    import shapely.geometry

    if isinstance(aoi, Mapping):
        try:
            geoms = [shapely.geometry.shape(g) for g in _polygon_geometries(aoi)]
        except AOIError:
            raise
        except Exception as exc:  # shapely raises several kinds on bad coordinates
            raise AOIError(f"AOI polygon has malformed coordinates ({one_line(exc)}); "
                           "give [[lon, lat], ...] rings as in RFC 7946") from None
        geom = shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
            geom = shapely.union_all([g for g in getattr(geom, "geoms", [geom])
                                      if g.geom_type in ("Polygon", "MultiPolygon")])
        if geom.is_empty or geom.area == 0:
            raise AOIError("AOI polygon is empty (zero area); give a polygon with an area")
        validate_bbox(geom.bounds, what="AOI polygon (lon/lat degrees, RFC 7946)")
        return geom, True
    w, s, e, n = validate_bbox(aoi)
    return shapely.geometry.box(w, s, e, n), False


def _polygon_geometries(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Collect the Polygon/MultiPolygon geometries of a GeoJSON object."""
    kind = obj.get("type")
    if kind == "FeatureCollection":
        out: list[Mapping[str, Any]] = []
        for feat in obj.get("features") or []:
            if isinstance(feat, Mapping) and isinstance(feat.get("geometry"), Mapping):
                out.extend(_polygon_geometries(feat["geometry"]))
        if not out:
            raise AOIError("AOI FeatureCollection holds no Polygon or MultiPolygon")
        return out
    if kind == "Feature":
        geometry = obj.get("geometry")
        if not isinstance(geometry, Mapping):
            raise AOIError("AOI Feature has no geometry")
        return _polygon_geometries(geometry)
    if kind == "GeometryCollection":
        out = []
        for g in obj.get("geometries") or []:
            if isinstance(g, Mapping) and g.get("type") in ("Polygon", "MultiPolygon"):
                out.append(g)
        if not out:
            raise AOIError("AOI GeometryCollection holds no Polygon or MultiPolygon")
        return out
    if kind in ("Polygon", "MultiPolygon"):
        coords = obj.get("coordinates")
        if not isinstance(coords, list) or not coords:
            raise AOIError(f"AOI {kind} has no coordinates")
        return [obj]
    if kind in ("Point", "MultiPoint", "LineString", "MultiLineString"):
        raise AOIError(f"AOI must be a polygon, got a {kind}; draw an area around the place of interest")
    raise AOIError(f"AOI is not GeoJSON: unknown type {kind!r}; give a Polygon, Feature or FeatureCollection")
