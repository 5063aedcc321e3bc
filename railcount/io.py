"""The I/O layer: the only part of railcount that touches files and URLs.

(Being built: the raster loader lands here.)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
import json
from typing import Any, Iterator, Mapping

import numpy as np

from .errors import OutputError

__all__ = ["atomic_output", "write_json", "write_geotiff"]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    Nothing is left at ``path`` (nor a temporary file) if the block raises, so
    that a failed command never leaves a partial output file.

    Raises
    ------
    OutputError
        If the folder does not exist or is not writable.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: folder {folder} does not exist; create it first")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror}; choose a writable location") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON (e.g. a GeoJSON FeatureCollection) atomically.

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=indent, ensure_ascii=False)
            fh.write("\n")
    return Path(path)


def write_geotiff(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    transform: Any,
    crs: Any,
    tags: Mapping[str, str] | None = None,
    nodata: float | None = None,
    compress: str = "deflate",
    blocksize: int = 256,
) -> Path:
    """Write a tiled, compressed GeoTIFF atomically.

    Parameters
    ----------
    path : path-like
        Output file.
    pixels : ndarray, shape (bands, rows, cols) or (rows, cols)
        Pixel values; the dtype is kept.
    transform : affine.Affine
        Pixel-to-map transform.
    crs : rasterio.crs.CRS or str
        Coordinate reference system.
    tags : mapping, optional
        Dataset tags (e.g. ``TIFFTAG_DATETIME``, ``RAILCOUNT_SIMULATED``).
    nodata : float, optional
        Nodata value.
    compress, blocksize
        GeoTIFF creation options.

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    import rasterio

    arr = np.asarray(pixels)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    profile = dict(
        driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
        dtype=arr.dtype.name, crs=crs, transform=transform, nodata=nodata,
        tiled=True, blockxsize=blocksize, blockysize=blocksize, compress=compress,
        interleave="pixel",
    )
    if arr.shape[0] == 3 and arr.dtype == np.uint8:
        profile["photometric"] = "RGB"
    with atomic_output(path) as tmp:
        try:
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(arr)
                if tags:
                    dst.update_tags(**{k: str(v) for k, v in tags.items()})
        except rasterio.errors.RasterioIOError as exc:
            raise OutputError(f"cannot write {path}: {exc}") from None
    return Path(path)
