"""Writing outputs: every file is written beside its target and renamed, all or nothing."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ..errors import OutputError

__all__ = ["atomic_output", "atomic_outputs", "write_json", "write_text", "write_bytes", "write_geotiff"]


@contextlib.contextmanager
def atomic_outputs(*paths: str | os.PathLike[str] | None) -> Iterator[list[Path | None]]:
    """Yield temporary paths for several outputs; rename them all to their targets, or none.

    Every folder is checked before anything is written, so a command with a
    bad second output path fails before writing its first. ``None`` entries
    stay ``None``. The temporary files keep their target's suffix (so writers
    that pick a format by extension work). If the block raises, no target is
    touched and no temporary file is left.

    Raises
    ------
    OutputError
        If a folder does not exist or is not writable, or a target is a folder.
    """
    targets = [None if p is None else Path(p) for p in paths]
    for t in targets:
        if t is None:
            continue
        folder = t.parent if str(t.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"cannot write {t}: folder {folder} does not exist; create it first")
        if t.is_dir():
            raise OutputError(f"cannot write {t}: it is a folder; give a file name")
        if not os.access(folder, os.W_OK):
            raise OutputError(f"cannot write {t}: folder {folder} is not writable; choose a writable location")
    temps: list[Path | None] = []
    try:
        for t in targets:
            if t is None:
                temps.append(None)
                continue
            folder = t.parent if str(t.parent) else Path(".")
            try:
                fd, tmp_name = tempfile.mkstemp(prefix=f".{t.stem}.", suffix=f".part{t.suffix}", dir=folder)
            except OSError as exc:
                raise OutputError(f"cannot write {t}: {exc.strerror}; choose a writable location") from None
            os.close(fd)
            temps.append(Path(tmp_name))
        yield temps
        umask = os.umask(0)
        os.umask(umask)
        for tmp, t in zip(temps, targets):
            if tmp is not None and t is not None:
                os.chmod(tmp, 0o666 & ~umask)
                os.replace(tmp, t)
    except BaseException:
        for tmp in temps:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    The one-output case of :func:`atomic_outputs`: nothing is left at
    ``path`` (nor a temporary file) if the block raises, so that a failed
    command never leaves a partial output file.

    Raises
    ------
    OutputError
        If the folder does not exist or is not writable, or ``path`` is a folder.
    """
    with atomic_outputs(path) as (tmp,):
        assert tmp is not None
        yield tmp


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes (e.g. a downloaded tile) atomically.

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text (e.g. a CSV table) atomically.

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    return write_bytes(path, text.encode("utf-8"))


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

