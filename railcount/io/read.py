"""Reading rasters: opening GeoTIFF/COG, PNG/JPEG and band stacks, windows, AOIs, metadata.

Sources are GeoTIFF / Cloud-Optimized GeoTIFF from a local path or an
``http(s)://`` URL (read through GDAL's ``/vsicurl/``: only the bytes of the
requested window travel), plain PNG/JPEG pictures with an explicit GSD, and
stacks of single-band files (e.g. Landsat B4/B3/B2). Every failure is one of
:mod:`railcount.errors` with a one-line message that says what to do.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.windows import Window

from .. import geo
from ..errors import (
    AOIError,
    GeoreferenceError,
    GSDError,
    InputError,
    NoDataError,
    TileNotFoundError,
    TileReadError,
    UnsupportedRasterError,
    one_line,
)
from ..priors import counting_mode
from ..types import AOI
from .dates import parse_date, resolve_date
from .names import Sources, as_names, basename, is_remote
from .raster import Raster

__all__ = [
    "SUPPORTED_DTYPES",
    "HTTP_DEFAULTS",
    "WINDOWED_DEFAULTS",
    "read_raster",
    "raster_info",
    "iter_windows",
    "count_windows",
    "tile_windows",
]

logger = logging.getLogger(__name__)

#: Pixel types the loader reads (as stored; no conversion).
SUPPORTED_DTYPES = ("uint8", "uint16", "int16", "float32", "float64")

#: GDAL options for remote reads, used unless set in the environment or an
#: enclosing ``rasterio.Env``.
HTTP_DEFAULTS = {
    "GDAL_HTTP_TIMEOUT": "30",
    "GDAL_HTTP_CONNECTTIMEOUT": "10",
    "GDAL_HTTP_MAX_RETRY": "2",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}

#: GDAL options while a raster is read window by window: a small block cache
#: (GDAL's default is 5 % of RAM), since windows share few blocks; it keeps the
#: memory of a windowed scan bounded by one window. Unless set by the caller.
WINDOWED_DEFAULTS: dict[str, Any] = {"GDAL_CACHEMAX": 64}

_TRUE = {"1", "true", "yes", "y", "on"}


def _env(remote: bool) -> rasterio.Env:
    """A rasterio environment with HTTP defaults for remote sources.

    Options already set in the process environment or in an enclosing
    ``rasterio.Env`` are left alone, so callers (and tests) can shorten the
    timeouts.
    """
    return _defaults_env(HTTP_DEFAULTS if remote else {})


def _defaults_env(defaults: dict[str, Any]) -> rasterio.Env:
    """A rasterio environment setting those of ``defaults`` the caller has not set."""
    try:
        current = rasterio.env.getenv()
    except rasterio.errors.EnvError:
        current = {}
    return rasterio.Env(**{k: v for k, v in defaults.items() if k not in os.environ and k not in current})


@contextlib.contextmanager
def _gdal(remote: bool) -> Iterator[None]:
    """Enter the GDAL environment and silence rasterio's 'not georeferenced' warning."""
    with _env(remote), warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        yield


def _sniff(path: str) -> str | None:
    """Name the image format from the first bytes of a local file, if recognisable."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:4] == b"\x89PNG":
        return "PNG"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    return None


def _http_status(url: str) -> int | None:
    """The HTTP status of a one-byte range request for ``url`` (None if it cannot be asked or answered).

    GDAL's message for a remote file it could not open does not always say
    whether the server lacks the file or the file is not a raster; the
    server's answer does.
    """
    import urllib.error
    import urllib.request

    if not url.lower().startswith(("http://", "https://")):
        return None
    req = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
    try:
        timeout = float(os.environ.get("GDAL_HTTP_TIMEOUT", "10"))
        with urllib.request.urlopen(req, timeout=timeout) as answer:  # http(s) only, checked above
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def _open_error(name: str, exc: BaseException, remote: bool) -> TileReadError:
    msg = one_line(exc)
    low = msg.lower()
    if remote:
        status = _http_status(name)
        if status in (404, 410) or (status is None and ("404" in low or "no such file" in low
                                                         or "does not exist" in low)):
            return TileNotFoundError(f"not found: {name} (HTTP 404 or no such file on the server); check the URL")
        if "range" in low and "not supported" in low:
            return TileReadError(f"cannot read {name}: the server does not answer HTTP range requests; "
                                 "download the file and give its path")
        if "not recognized" in low or (status is not None and 200 <= status < 300):
            return TileReadError(f"not a raster: {name} is not a GeoTIFF, PNG or JPEG that GDAL can read")
        if any(k in low for k in ("curl error", "connect", "resolve", "timed out", "timeout",
                                  "http response code", "http error")):
            return TileReadError(f"cannot reach {name}: {msg}; check the URL and the network")
        return TileReadError(f"cannot read {name}: {msg}")
    kind = _sniff(name)
    if kind is not None:
        return TileReadError(f"corrupt or truncated {kind}: {name} cannot be opened ({msg}); "
                             "re-download or re-export the file")
    return TileReadError(f"not a raster: {name} is not a GeoTIFF, PNG or JPEG that GDAL can read")


def _read_error(name: str, exc: BaseException, remote: bool) -> TileReadError:
    cause = exc.__cause__ or exc
    msg = one_line(cause)
    if remote:
        return TileReadError(f"cannot read the pixels of {name} ({msg}): the connection failed or the file "
                             "is corrupt; retry, or download the file and check it")
    return TileReadError(f"corrupt or truncated raster: the pixels of {name} cannot be read ({msg}); "
                         "re-download or re-export the file")


def _open_one(name: str) -> rasterio.io.DatasetReader:
    remote = is_remote(name)
    if not remote:
        path = Path(name)
        if not path.exists():
            raise TileNotFoundError(f"no such file: {name}; check the path")
        if path.is_dir():
            raise TileReadError(f"{name} is a folder, not a raster file; give a GeoTIFF, PNG or JPEG file")
        if path.stat().st_size == 0:
            raise TileReadError(f"not a raster: {name} is empty (0 bytes)")
    logger.debug("opening %s", name)
    try:
        with _gdal(remote):
            return rasterio.open(name)
    except rasterio.errors.RasterioIOError as exc:
        raise _open_error(name, exc, remote) from None




def is_simulated(names: list[str], tags: Mapping[str, str]) -> bool:
    upper = {str(k).upper(): str(v) for k, v in tags.items()}
    if upper.get("RAILCOUNT_SIMULATED", "").strip().lower() in _TRUE:
        return True
    return any("simulated" in basename(n).lower() for n in names)



class _Source:
    """One raster file, or several single-band files stacked, open for reading.

    Checks band count, dtype and georeference on opening; :meth:`read` returns
    the pixels and validity mask of a window.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.name = names[0]
        self.remote = any(is_remote(n) for n in names)
        self._stack = contextlib.ExitStack()
        try:
            self.datasets = []
            for n in names:
                ds = _open_one(n)
                # close() rather than the dataset's own context manager, whose
                # __enter__ would push a GDAL environment of its own
                self._stack.callback(ds.close)
                self.datasets.append(ds)
            self._layout()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    # ---- layout and checks
    def _layout(self) -> None:
        first = self.datasets[0]
        self.height, self.width = int(first.height), int(first.width)
        self.driver = first.driver
        # per dataset: band indexes to read, band index of an unflagged alpha (or None)
        self.reads: list[tuple[list[int], int | None]] = []
        self.alpha = False
        if len(self.datasets) == 1:
            self.reads.append(self._bands_of(first, self.name))
        else:
            self._check_stack()
            self.reads = [([1], None)] * len(self.datasets)
        self.count = sum(len(idx) for idx, _ in self.reads)
        dtypes = {dt for ds, (idx, _) in zip(self.datasets, self.reads) for dt in (ds.dtypes[i - 1] for i in idx)}
        if len(dtypes) != 1:
            raise UnsupportedRasterError(f"{self.name}: bands of different pixel types ({', '.join(sorted(dtypes))}) "
                                         "cannot be read together; convert them to one type")
        self.dtype = dtypes.pop()
        if self.dtype not in SUPPORTED_DTYPES:
            raise UnsupportedRasterError(
                f"unsupported pixel type: {self.name} holds {self.dtype}; railcount reads "
                f"{', '.join(SUPPORTED_DTYPES)} (convert it, e.g. gdal_translate -ot UInt16)")
        self.nodata = first.nodata
        tags: dict[str, str] = {}
        for ds in reversed(self.datasets):  # the first file's tags win
            with _gdal(self.remote):
                tags.update(ds.tags())
        self.tags = tags
        crs = first.crs if first.crs else None
        transform = first.transform
        self.has_gcps = bool(first.gcps[0]) if hasattr(first, "gcps") else False
        self.georeferenced = crs is not None and not transform.is_identity
        self.transform: Affine | None = transform if self.georeferenced else None
        self.crs: CRS | None = crs if self.georeferenced else None
        #: ``(transform, crs)`` of a georeferenced source, else ``None``
        self.georef: tuple[Affine, CRS] | None = (transform, crs) if crs is not None and self.georeferenced else None
        self.no_georef_reason = (
            "" if self.georeferenced else
            "it has ground control points but no geotransform; warp it first (gdalwarp)" if self.has_gcps else
            "it has a geotransform but no CRS" if not transform.is_identity else
            "it has no CRS and no geotransform"
        )

    def _bands_of(self, ds: Any, name: str) -> tuple[list[int], int | None]:
        count = ds.count
        interp = list(ds.colorinterp)
        if count in (1, 3):
            return list(range(1, count + 1)), None
        if count == 4:
            self.alpha = True
            if interp[3] == ColorInterp.alpha:
                return [1, 2, 3], None  # GDAL's dataset mask reads the alpha band
            logger.info("%s: band 4 is not flagged as alpha; reading it as the alpha of RGBA", name)
            return [1, 2, 3], 4
        if count == 2 and interp[1] == ColorInterp.alpha:
            self.alpha = True
            return [1], None
        raise UnsupportedRasterError(
            f"unsupported band count: {name} has {count} band{'s' if count != 1 else ''}; railcount reads "
            "1 (grey), 3 (RGB) or 4 (RGBA) bands: pick bands first (e.g. gdal_translate -b 1 -b 2 -b 3) "
            "or stack single-band files")

    def _check_stack(self) -> None:
        first = self.datasets[0]
        for name, ds in zip(self.names, self.datasets):
            if ds.count != 1:
                raise UnsupportedRasterError(
                    f"cannot stack {name}: it has {ds.count} bands; stacking takes single-band files")
            if (ds.height, ds.width) != (first.height, first.width):
                raise UnsupportedRasterError(
                    f"cannot stack {name} ({ds.width} x {ds.height} px) with {self.name} "
                    f"({first.width} x {first.height} px): the files must share one pixel grid")
            if (ds.crs or None) != (first.crs or None) or not ds.transform.almost_equals(first.transform, 1e-6):
                raise UnsupportedRasterError(
                    f"cannot stack {name} with {self.name}: their CRS or transform differ; "
                    "the files must share one pixel grid (resample them first)")
        if len(self.datasets) not in (1, 3):
            raise UnsupportedRasterError(
                f"unsupported band count: stacking {len(self.datasets)} files; give 3 single-band files "
                "in R, G, B order (e.g. Landsat B4 B3 B2), or one")

    # ---- derived metadata
    def gsd(self, given: float | None) -> float:
        """The GSD in metres: the caller's, else from the georeference."""
        if given is not None:
            value = geo.validate_gsd(given, what="the GSD given")
            if self.georef is not None:
                try:
                    own = geo.raster_gsd(*self.georef, (self.height, self.width))
                except GSDError:
                    return value
                if abs(own / value - 1.0) > 0.05:
                    logger.warning("%s: the GSD given (%.4g m) overrides the georeference's %.4g m",
                                   self.name, value, own)
            return value
        if self.georef is None:
            raise GeoreferenceError(
                f"{self.name} has no georeference ({self.no_georef_reason}): give its ground sample "
                "distance in metres per pixel (--gsd, or gsd=)")
        own = geo.raster_gsd(*self.georef, (self.height, self.width))
        try:
            return geo.validate_gsd(own)
        except GSDError:
            raise GSDError(f"{self.name}: its georeference gives a GSD of {own:.4g} m, which is implausible; "
                           "check its CRS and transform, or give the GSD (--gsd)") from None

    def full_window(self) -> Window:
        return Window(0, 0, self.width, self.height)

    # ---- areas of interest
    def aoi_window(self, aoi: AOI | None) -> tuple[Window, Any]:
        """Window covering an AOI, and the AOI polygon in pixel coordinates (or None for a box).

        Raises
        ------
        AOIError
            If the AOI is malformed, the raster has no georeference, or the AOI
            lies outside the raster.
        """
        if aoi is None:
            return self.full_window(), None
        import shapely
        import shapely.geometry

        geom, is_polygon = geo.aoi_geometry(aoi)
        if self.georef is None:
            raise AOIError(f"{self.name} has no georeference, so a lon/lat AOI cannot be placed on it; "
                           "drop the AOI or use a georeferenced raster")
        transform, crs = self.georef
        bounds = geo.bounds_lonlat(transform, crs, (self.height, self.width))
        where = ", ".join(f"{v:.6f}" for v in bounds)
        outside = AOIError(f"AOI lies outside {self.name}, which covers lon/lat {where} "
                           "(west,south,east,north); check the AOI's coordinates")
        # clip to (a margin around) the raster first: parts of a large AOI may lie
        # where the raster's CRS is undefined
        bw, bs, be, bn = bounds
        margin = 0.05 * max(be - bw, bn - bs) + 1e-6
        geom = geom.intersection(shapely.geometry.box(bw - margin, bs - margin, be + margin, bn + margin))
        if geom.is_empty:
            raise outside
        w, s, e, n = geom.bounds
        dense = shapely.segmentize(geom, max(max(e - w, n - s) / 32.0, 1e-7))
        finite = [True]

        def to_pixels(coords: np.ndarray) -> np.ndarray:
            x, y = geo.from_lonlat(crs, coords[:, 0], coords[:, 1])
            cols, rows = geo.apply_affine(~transform, x, y)
            out = np.column_stack([np.asarray(cols, float), np.asarray(rows, float)])
            if not np.all(np.isfinite(out)):
                finite[0] = False
                out = np.nan_to_num(out, nan=-1e12, posinf=1e12, neginf=-1e12)
            return out

        px = shapely.transform(dense, to_pixels)
        full = shapely.geometry.box(0, 0, self.width, self.height)
        if not finite[0] or not px.intersects(full):
            raise outside
        minx, miny, maxx, maxy = px.bounds
        eps = 1e-6
        col0 = max(0, math.floor(minx + eps))
        row0 = max(0, math.floor(miny + eps))
        col1 = min(self.width, math.ceil(maxx - eps))
        row1 = min(self.height, math.ceil(maxy - eps))
        if col1 <= col0 or row1 <= row0:
            raise outside
        return Window(col0, row0, col1 - col0, row1 - row0), (px if is_polygon else None)

    # ---- pixels
    def read(self, window: Window, polygon: Any = None, out_shape: tuple[int, int] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Read the pixels and validity mask of a window (integer offsets, inside the file).

        With ``out_shape`` (rows, cols), the window is read decimated to that
        shape (nearest pixels, from overviews where the file has them).
        """
        rows, cols = (int(window.height), int(window.width)) if out_shape is None else out_shape
        kw: dict[str, Any] = {"window": window}
        if out_shape is not None:
            kw.update(out_shape=(rows, cols), resampling=Resampling.nearest)
        valid = np.ones((rows, cols), dtype=bool)
        parts = []
        for name, ds, (indexes, extra_alpha) in zip(self.names, self.datasets, self.reads):
            try:
                with _gdal(self.remote):
                    bands = ds.read(indexes, **kw)
                    parts.append(bands if bands.ndim == 3 else bands[None])
                    valid &= ds.dataset_mask(**kw) > 0
                    if extra_alpha is not None:
                        valid &= ds.read(extra_alpha, **kw) > 0
            except rasterio.errors.RasterioError as exc:
                raise _read_error(name, exc, self.remote) from None
        pixels = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        if pixels.dtype.kind == "f":
            valid &= np.isfinite(pixels).all(axis=0)
        if polygon is not None:
            valid &= _polygon_mask(polygon, window, (rows, cols))
        return pixels, valid

    def verify(self) -> None:
        """Read the file's last block, which fails on a truncated file."""
        bh, bw = self.datasets[0].block_shapes[0]
        row0 = (self.height - 1) // max(bh, 1) * max(bh, 1)
        col0 = (self.width - 1) // max(bw, 1) * max(bw, 1)
        self.read(Window(col0, row0, self.width - col0, self.height - row0))


def _polygon_mask(polygon: Any, window: Window, shape: tuple[int, int] | None = None) -> np.ndarray:
    """True where a pixel centre of ``window`` (read as ``shape``) lies inside a polygon in full-file pixels."""
    import shapely.geometry
    from rasterio.features import geometry_mask

    h, w = int(window.height), int(window.width)
    rows, cols = shape or (h, w)
    c0, r0 = float(window.col_off), float(window.row_off)
    if not polygon.intersects(shapely.geometry.box(c0, r0, c0 + w, r0 + h)):
        return np.zeros((rows, cols), dtype=bool)
    return geometry_mask([shapely.geometry.mapping(polygon)], out_shape=(rows, cols),
                         transform=Affine.translation(c0, r0) @ Affine.scale(w / cols, h / rows), invert=True)


def tile_windows(region: Window, size: int, overlap: int) -> list[Window]:
    """Overlapping windows of at most ``size`` covering ``region`` in row-major order.

    Along each axis the fewest windows that cover the region with at least
    ``overlap`` shared pixels are made equally large and spread evenly, so no
    pixel is read more often than the overlap requires.
    """

    def spans(offset: int, length: int) -> tuple[list[int], int]:
        if length <= size:
            return [offset], length
        n = -(-(length - overlap) // (size - overlap))
        side = min(size, -(-(length + (n - 1) * overlap) // n) + 1)  # +1: starts are rounded down
        return [offset + i * (length - side) // (n - 1) for i in range(n)], side

    rows, h = spans(int(region.row_off), int(region.height))
    cols, w = spans(int(region.col_off), int(region.width))
    return [Window(c, r, w, h) for r in rows for c in cols]


def _check_tiling(size: int, overlap: int) -> None:
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise InputError(f"window size must be a whole number of pixels >= 16, got {size!r}")
    if not isinstance(overlap, (int, np.integer)) or overlap < 0 or overlap >= size:
        raise InputError(f"window overlap must be a whole number of pixels in [0, size), got {overlap!r} "
                         f"for size {size}")


class _Meta:
    """What the loader derives from a source besides pixels (GSD, date, flags)."""

    def __init__(self, src: _Source, gsd: float | None, date: _dt.date | str | None) -> None:
        self.gsd = src.gsd(gsd)
        self.date, self.date_source = resolve_date(src.names, src.tags, date)
        self.simulated = is_simulated(src.names, src.tags)


def _make_raster(src: _Source, meta: _Meta, window: Window, pixels: np.ndarray, mask: np.ndarray,
                 *, keep_window: bool) -> Raster:
    whole = (int(window.col_off), int(window.row_off), int(window.width), int(window.height)) == \
        (0, 0, src.width, src.height)
    transform = None
    if src.georef is not None:
        transform = geo.shift_affine(src.georef[0], int(window.col_off), int(window.row_off))
    return Raster(
        pixels=pixels, mask=mask, transform=transform, crs=src.crs, gsd=meta.gsd, date=meta.date,
        date_source=meta.date_source, source=src.name, tags=src.tags, simulated=meta.simulated,
        window=None if (whole and not keep_window) else window, full_shape=(src.height, src.width),
    )



def read_raster(
    source: Sources,
    *,
    aoi: AOI | None = None,
    gsd: float | None = None,
    date: _dt.date | str | None = None,
    max_pixels: int | None = None,
) -> Raster:
    """Read a raster, or the window of an area of interest, into a :class:`Raster`.

    Parameters
    ----------
    source : path, URL, or sequence of paths/URLs
        A GeoTIFF/COG (local or ``http(s)://``), a PNG/JPEG picture, or
        single-band files to stack in the order given (R, G, B; e.g. Landsat
        B4, B3, B2), which must share one pixel grid.
    aoi : (west, south, east, north) or dict, optional
        Area of interest in WGS84 lon/lat: a box, or a GeoJSON geometry,
        Feature or FeatureCollection of polygons. Only its window is read,
        whatever the raster's CRS; pixels outside a polygon are masked.
    gsd : float, optional
        Ground sample distance in metres; overrides the georeference's and is
        required for pictures without one.
    date : datetime.date or str, optional
        Acquisition date (``YYYY-MM-DD``) used when neither the file's tags
        nor its name give one.
    max_pixels : int, optional
        Refuse to read more than this many pixels (rows x cols).

    Returns
    -------
    Raster
        ``pixels`` of shape (bands, rows, cols) with 1 or 3 bands (an alpha
        band becomes the mask), ``mask`` of shape (rows, cols).

    Raises
    ------
    TileNotFoundError
        No such file, or HTTP 404.
    TileReadError
        Not a raster, corrupt or truncated, or the URL cannot be reached.
    UnsupportedRasterError
        Band count or pixel type that railcount cannot use; files that cannot
        be stacked; a read larger than ``max_pixels``.
    GeoreferenceError
        No georeference and no ``gsd``.
    GSDError
        ``gsd`` zero, negative or absurd.
    AOIError
        Malformed AOI, or outside the raster.
    NoDataError
        Every pixel read is nodata.
    InputError
        Malformed ``date``.

    Examples
    --------
    >>> r = read_raster("yard_2021-06-01.tif", aoi=(7.585, 47.527, 7.59, 47.53))  # doctest: +SKIP
    >>> r.pixels.shape, r.date, r.date_source                                 # doctest: +SKIP
    ((3, 412, 337), datetime.date(2021, 6, 1), 'filename')
    >>> read_raster("press_photo.jpg", gsd=0.5).transform is None             # doctest: +SKIP
    True
    """
    names = as_names(source)
    parse_date(date)  # a bad date fails before any I/O
    with _Source(names) as src:
        meta = _Meta(src, gsd, date)
        window, polygon = src.aoi_window(aoi)
        n = int(window.width) * int(window.height)
        if max_pixels is not None and n > max_pixels:
            raise UnsupportedRasterError(
                f"{src.name}: reading {int(window.width)} x {int(window.height)} px exceeds the limit of "
                f"{max_pixels} px; give a smaller area (--aoi) or process it in windows (iter_windows)")
        logger.debug("reading %s window %s", src.name, window)
        pixels, mask = src.read(window, polygon)
        if not mask.any():
            what = "the AOI" if aoi is not None else "the raster"
            raise NoDataError(f"{src.name}: every pixel of {what} is nodata; choose an area with imagery")
        return _make_raster(src, meta, window, pixels, mask, keep_window=False)


def read_sample(
    source: Sources,
    *,
    aoi: AOI | None = None,
    max_pixels: int = 1_000_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th pixel of a raster (or of its AOI window): a small read for statistics of the whole.

    Parameters
    ----------
    source : path, URL, or sequence of paths/URLs
        As for :func:`read_raster`.
    aoi : (west, south, east, north) or dict, optional
        As for :func:`read_raster`.
    max_pixels : int
        Largest sample read, pixels.

    Returns
    -------
    pixels : ndarray, shape (bands, rows, cols)
        Nearest pixels on a grid decimated evenly along both axes (read from
        overviews where the file has them).
    mask : ndarray of bool, shape (rows, cols)

    Raises
    ------
    As :func:`read_raster`.
    """
    with _Source(as_names(source)) as src:
        window, polygon = src.aoi_window(aoi)
        h, w = int(window.height), int(window.width)
        k = max(1, math.ceil(math.sqrt(h * w / max(1, max_pixels))))
        return src.read(window, polygon, (max(1, h // k), max(1, w // k)) if k > 1 else None)


def raster_info(
    source: Sources,
    *,
    gsd: float | None = None,
    date: _dt.date | str | None = None,
    verify: bool = True,
) -> dict[str, Any]:
    """Describe a raster without reading its pixels.

    Parameters
    ----------
    source : path, URL, or sequence of paths/URLs
        As for :func:`read_raster`.
    gsd : float, optional
        Ground sample distance in metres (overrides; required without georeference).
    date : datetime.date or str, optional
        Acquisition date when the file does not give one.
    verify : bool
        Read the file's last block (a few kB) to catch truncated files.

    Returns
    -------
    dict
        JSON-ready: ``source``, ``width``, ``height``, ``bands`` (in the
        file), ``dtype``, ``crs`` (``"EPSG:xxxx"``, WKT or None), ``gsd_m``,
        ``bounds_lonlat`` ([west, south, east, north] or None), ``date``
        (ISO or None), ``date_source``, ``counting_mode`` ("individual",
        "estimate" or "none"), ``simulated``, ``nodata`` (number, "nan" or
        None), ``tags``; also ``driver``, ``alpha`` (an alpha band gives the
        mask) and ``georeferenced``; for a stack, ``stack`` lists the files
        (``source`` is the first, as in :attr:`Raster.source`).

    Raises
    ------
    As :func:`read_raster` (except :class:`NoDataError`).
    """
    names = as_names(source)
    parse_date(date)
    with _Source(names) as src:
        meta = _Meta(src, gsd, date)
        if verify:
            src.verify()
        bounds = None
        if src.georef is not None:
            bounds = [round(v, 7) for v in geo.bounds_lonlat(*src.georef, (src.height, src.width))]
        nodata: Any = src.nodata
        if nodata is not None and isinstance(nodata, float) and math.isnan(nodata):
            nodata = "nan"
        elif nodata is not None and float(nodata).is_integer():
            nodata = int(nodata)
        return {
            "source": src.name,
            "driver": src.driver,
            "width": src.width,
            "height": src.height,
            "bands": sum(ds.count for ds in src.datasets),
            "dtype": src.dtype,
            "alpha": src.alpha,
            "georeferenced": src.georeferenced,
            "crs": geo.crs_to_string(src.crs),
            "gsd_m": round(meta.gsd, 6),
            "bounds_lonlat": bounds,
            "date": meta.date.isoformat() if meta.date else None,
            "date_source": meta.date_source,
            "counting_mode": counting_mode(meta.gsd),
            "simulated": meta.simulated,
            "nodata": nodata,
            "tags": dict(src.tags),
            **({"stack": list(names)} if len(names) > 1 else {}),
        }


def iter_windows(
    source: Sources,
    *,
    size: int = 2048,
    overlap: int = 128,
    aoi: AOI | None = None,
    gsd: float | None = None,
    date: _dt.date | str | None = None,
) -> Iterator[Raster]:
    """Read a raster in overlapping windows, one at a time.

    The source is checked (and the AOI placed) when this is called; pixels
    are read as the iterator advances, so peak memory is one window whatever
    the raster's size.

    Parameters
    ----------
    source : path, URL, or sequence of paths/URLs
        As for :func:`read_raster`.
    size : int
        Largest side of a window in pixels.
    overlap : int
        Pixels neighbouring windows share at least, in ``[0, size)``.
    aoi, gsd, date
        As for :func:`read_raster`; with an AOI the windows cover its window.

    Yields
    ------
    Raster
        One per window, in row-major order, with ``window`` set (offsets in
        the full file) and ``transform`` adjusted. Along each axis the fewest
        windows that fit are made equally large (at most ``size``) and spread
        evenly from edge to edge. Windows with no valid pixel are
        yielded too (their mask is all False), so the count matches
        :func:`count_windows`.

    Raises
    ------
    As :func:`read_raster`, when called; :class:`TileReadError` during
    iteration if a window cannot be read. :class:`InputError` for a bad
    ``size`` or ``overlap``.
    """
    _check_tiling(size, overlap)
    names = as_names(source)
    parse_date(date)
    with _Source(names) as src:  # check everything up front
        meta = _Meta(src, gsd, date)
        region, polygon = src.aoi_window(aoi)
    windows = tile_windows(region, size, overlap)
    return _window_iterator(names, meta, windows, polygon)


def _window_iterator(names: list[str], meta: _Meta, windows: list[Window], polygon: Any) -> Iterator[Raster]:
    with _defaults_env(WINDOWED_DEFAULTS), _Source(names) as src:
        for window in windows:
            logger.debug("reading %s window %s", src.name, window)
            pixels, mask = src.read(window, polygon)
            yield _make_raster(src, meta, window, pixels, mask, keep_window=True)


def count_windows(
    source: Sources,
    *,
    size: int = 2048,
    overlap: int = 128,
    aoi: AOI | None = None,
) -> int:
    """Return how many windows :func:`iter_windows` yields (for progress bars).

    Parameters are as for :func:`iter_windows`; no pixels are read.
    """
    _check_tiling(size, overlap)
    with _Source(as_names(source)) as src:
        region, _ = src.aoi_window(aoi)
    return len(tile_windows(region, size, overlap))

