"""The I/O layer: the only part of railcount that touches files and URLs.

The raster loader reads a tile, or the window of an area of interest, into a
small immutable :class:`Raster` (pixels, validity mask, transform, CRS, GSD in
metres, acquisition date, provenance). Everything downstream works on that
object and never sees a path.

The package's modules say what they hold:

- :mod:`~railcount.io.raster`: the :class:`Raster` type;
- :mod:`~railcount.io.read`: reading rasters (GeoTIFF/COG local or over
  HTTP, PNG/JPEG with an explicit GSD, band stacks), windows of large rasters
  (:func:`iter_windows`), metadata without pixels (:func:`raster_info`);
- :mod:`~railcount.io.dates`: acquisition dates from tags, names or the caller;
- :mod:`~railcount.io.names`: what a source's name says (remote, file name);
- :mod:`~railcount.io.text`: small text files, those a user names (GeoJSON,
  AOIs, manifests, claims, site lists) and those bundled in ``railcount/data/``;
- :mod:`~railcount.io.write`: outputs, written atomically, all or nothing.

Every failure is one of :mod:`railcount.errors` with a one-line message that
says what to do. The public names are all importable from here::

    from railcount import io
    raster = io.read_raster("yard.tif", aoi=(7.585, 47.527, 7.590, 47.530))

Examples
--------
>>> from railcount.io import read_raster                      # doctest: +SKIP
>>> r = read_raster("yard.tif", aoi=(7.585, 47.527, 7.590, 47.530))  # doctest: +SKIP
>>> r.shape, r.gsd, r.crs_string, r.date                      # doctest: +SKIP
((412, 337), 0.255, 'EPSG:2056', None)
"""

from __future__ import annotations

from ..types import AOI
from .dates import DATE_TAGS, date_from_name, date_from_tags, parse_date
from .names import SourceLike, Sources
from .raster import Raster
from .read import (
    HTTP_DEFAULTS,
    SUPPORTED_DTYPES,
    WINDOWED_DEFAULTS,
    count_windows,
    iter_windows,
    raster_info,
    read_raster,
    read_sample,
    tile_windows,
)
from .text import data_names, parse_aoi, read_data_text, read_geojson, read_text
from .write import atomic_output, atomic_outputs, write_bytes, write_geotiff, write_json, write_text

__all__ = [
    "AOI",
    "SourceLike",
    "Sources",
    "Raster",
    "read_raster",
    "read_sample",
    "raster_info",
    "iter_windows",
    "count_windows",
    "tile_windows",
    "parse_aoi",
    "read_geojson",
    "read_text",
    "read_data_text",
    "data_names",
    "date_from_tags",
    "date_from_name",
    "parse_date",
    "DATE_TAGS",
    "SUPPORTED_DTYPES",
    "HTTP_DEFAULTS",
    "WINDOWED_DEFAULTS",
    "atomic_output",
    "atomic_outputs",
    "write_json",
    "write_text",
    "write_bytes",
    "write_geotiff",
]
