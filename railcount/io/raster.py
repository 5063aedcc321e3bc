"""The in-memory raster: pixels, validity mask, georeference, GSD, date and provenance."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from .. import geo
from ..errors import GeoreferenceError
from ..types import BBox, DateSource

__all__ = ["Raster"]


@dataclass(frozen=True, eq=False)
class Raster:
    """Pixels of one raster (or one window of it) with everything needed to use them.

    Attributes
    ----------
    pixels : ndarray, shape (bands, rows, cols)
        Pixel values as stored (uint8, uint16, int16, float32 or float64);
        1 band (grey) or 3 (R, G, B). Read-only.
    mask : ndarray of bool, shape (rows, cols)
        True where the pixel is valid (not nodata, not NaN, alpha > 0, inside a
        polygon AOI). Read-only.
    transform : affine.Affine or None
        Pixel-to-map transform of *these* pixels (window-adjusted); ``None``
        without a georeference.
    crs : rasterio.crs.CRS or None
        Coordinate reference system; ``None`` without a georeference.
    gsd : float
        Ground sample distance in metres per pixel.
    date : datetime.date or None
        Acquisition date, when known.
    date_source : {"tag", "filename", "caller", "unknown"}
        Where the date came from.
    source : str
        Path or URL as given (for a stack: the first file).
    tags : mapping of str to str
        The dataset's tags (a copy).
    simulated : bool
        True if the tag ``RAILCOUNT_SIMULATED`` is truthy or "simulated" is
        in the file name.
    window : rasterio.windows.Window or None
        Where these pixels sit in the full file; ``None`` for the whole file.
    full_shape : (rows, cols)
        Size of the whole file.

    Notes
    -----
    Pixel coordinates ``(row, col)`` taken and returned by the methods are
    floats in which the centre of the pixel with index ``(i, j)`` is at
    ``(i + 0.5, j + 0.5)``, so the transform applied to ``(col, row)`` is the map
    position and ``numpy.floor`` of a result is the pixel index.
    """

    pixels: np.ndarray
    mask: np.ndarray
    transform: Affine | None
    crs: CRS | None
    gsd: float
    date: _dt.date | None = None
    date_source: DateSource = "unknown"
    source: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    simulated: bool = False
    window: Window | None = None
    full_shape: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        pixels = np.asarray(self.pixels)
        if pixels.ndim == 2:
            pixels = pixels[np.newaxis]
        if pixels.ndim != 3:
            raise ValueError(f"pixels must have shape (bands, rows, cols), got {pixels.shape}")
        if self.mask is None:
            mask = np.ones(pixels.shape[1:], dtype=bool)
        else:
            mask = np.asarray(self.mask, dtype=bool)
        if mask.shape != pixels.shape[1:]:
            raise ValueError(f"mask shape {mask.shape} does not match pixels {pixels.shape[1:]}")
        pixels, mask = pixels.view(), mask.view()
        pixels.flags.writeable = False
        mask.flags.writeable = False
        if (self.transform is None) != (self.crs is None):
            raise ValueError("transform and crs must both be given or both be None")
        object.__setattr__(self, "pixels", pixels)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "gsd", geo.validate_gsd(self.gsd))
        object.__setattr__(self, "tags", dict(self.tags))
        if tuple(self.full_shape) == (0, 0):
            object.__setattr__(self, "full_shape", tuple(pixels.shape[1:]))

    def __repr__(self) -> str:
        bands, rows, cols = self.pixels.shape
        where = "" if self.window is None else (
            f", window=(row {int(self.window.row_off)}, col {int(self.window.col_off)}) of {self.full_shape}")
        return (f"Raster({self.source!r}, {rows} x {cols} px x {bands} {self.pixels.dtype}, "
                f"crs={self.crs_string if self.crs is None or self.crs.to_epsg() else 'WKT'}, "
                f"gsd={self.gsd:.4g} m, date={self.date}, valid={self.mask.mean():.0%}"
                f"{', SIMULATED' if self.simulated else ''}{where})")

    @property
    def image(self) -> np.ndarray:
        """The pixels as ``(rows, cols, bands)`` (a read-only view)."""
        return np.moveaxis(self.pixels, 0, -1)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of these pixels."""
        return (int(self.pixels.shape[1]), int(self.pixels.shape[2]))

    @property
    def georeferenced(self) -> bool:
        """True when the raster has a transform and a CRS."""
        return self.transform is not None and self.crs is not None

    @property
    def crs_string(self) -> str | None:
        """``"EPSG:xxxx"`` when the CRS has an EPSG code, else its WKT; ``None`` without CRS."""
        return geo.crs_to_string(self.crs)

    def _require_georef(self) -> tuple[Affine, CRS]:
        if self.transform is None or self.crs is None:
            raise GeoreferenceError(
                f"{self.source or 'this raster'} has no georeference: only pixel coordinates are known")
        return self.transform, self.crs

    def bounds_lonlat(self) -> BBox | None:
        """Extent of these pixels as ``(west, south, east, north)`` in WGS84 degrees.

        Returns ``None`` without a georeference.
        """
        if not self.georeferenced:
            return None
        transform, crs = self._require_georef()
        return geo.bounds_lonlat(transform, crs, self.shape)

    def pixel_to_map(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Convert pixel coordinates to map coordinates of the raster's CRS.

        Parameters
        ----------
        rows, cols : float or array_like
            Pixel coordinates (centre of pixel ``(i, j)`` at ``(i + 0.5, j + 0.5)``).

        Returns
        -------
        x, y : ndarray of float

        Raises
        ------
        GeoreferenceError
            Without a georeference.
        """
        transform, _ = self._require_georef()
        x, y = geo.apply_affine(transform, cols, rows)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def pixel_to_lonlat(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Convert pixel coordinates to WGS84 longitude and latitude.

        Parameters
        ----------
        rows, cols : float or array_like
            Pixel coordinates (centre of pixel ``(i, j)`` at ``(i + 0.5, j + 0.5)``).

        Returns
        -------
        lon, lat : ndarray of float
            Degrees.

        Raises
        ------
        GeoreferenceError
            Without a georeference.
        """
        _, crs = self._require_georef()
        x, y = self.pixel_to_map(rows, cols)
        return geo.to_lonlat(crs, x, y)

    def lonlat_to_pixel(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Convert WGS84 longitude and latitude to pixel coordinates.

        Parameters
        ----------
        lon, lat : float or array_like
            Degrees.

        Returns
        -------
        rows, cols : ndarray of float
            Pixel coordinates (centre of pixel ``(i, j)`` at ``(i + 0.5, j + 0.5)``;
            ``numpy.floor`` gives the pixel index). May lie outside the raster.

        Raises
        ------
        GeoreferenceError
            Without a georeference.
        """
        transform, crs = self._require_georef()
        x, y = geo.from_lonlat(crs, lon, lat)
        cols, rows = geo.apply_affine(~transform, x, y)
        return np.asarray(rows, dtype=float), np.asarray(cols, dtype=float)

