"""Shared fixtures. Tests that read ``../shared`` skip cleanly where it is absent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL = SHARED / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """``../shared/real``: real imagery for development (skips when absent)."""
    if not REAL.is_dir():
        pytest.skip("../shared/real is not present in this checkout")
    return REAL


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled (simulated) sample tiles."""
    return ROOT / "sample_tiles"


def build_raster(
    path: str | Path,
    *,
    crs: str | None = "EPSG:32633",
    center: tuple[float, float] = (15.0, 45.0),
    res: float = 0.5,
    shape: tuple[int, int] = (64, 96),
    bands: int = 3,
    dtype: str = "uint8",
    data: np.ndarray | None = None,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
    driver: str = "GTiff",
    colorinterp: list[str] | None = None,
    blocksize: int | None = None,
) -> Path:
    """Write a small test raster and return its path.

    Parameters
    ----------
    path : path-like
        Output file (``.tif``, ``.png``, ``.jpg``).
    crs : str or None
        CRS of the grid; ``None`` writes no georeference (as for a press picture).
    center : (lon, lat)
        Where the raster's centre lies, in degrees.
    res : float
        Pixel size in CRS units (metres, feet or degrees).
    shape : (rows, cols)
    bands : int
    dtype : str
    data : ndarray, shape (bands, rows, cols), optional
        Pixel values; by default a deterministic pattern that differs per band
        and per pixel (so that window reads can be checked against slices).
    nodata : float, optional
    tags : dict, optional
        Dataset tags (e.g. ``TIFFTAG_DATETIME``, ``RAILCOUNT_SIMULATED``).
    driver : {"GTiff", "COG", "PNG", "JPEG"}
    colorinterp : list of str, optional
        Colour interpretation per band, e.g. ``["red", "green", "blue", "alpha"]``.
    blocksize : int, optional
        Tile size (GTiff/COG); default untiled GTiff, 256 for COG.
    """
    import warnings

    import numpy as np
    import pyproj
    import rasterio
    import rasterio.errors
    from affine import Affine
    from rasterio.enums import ColorInterp

    rows, cols = shape
    if data is None:
        rr, cc = np.mgrid[0:rows, 0:cols]
        data = np.stack([(rr * 7 + cc * 3 + b * 50) % 251 for b in range(bands)])
        if np.dtype(dtype).kind == "f":
            data = data.astype(dtype) / 10.0
        elif np.dtype(dtype).itemsize > 1:
            data = data * 100 + 1000
    data = np.asarray(data).astype(dtype)
    profile: dict = dict(driver=driver, width=cols, height=rows, count=data.shape[0], dtype=dtype)
    if crs is not None:
        x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(*center)
        profile.update(crs=crs, transform=Affine(res, 0.0, x - cols / 2 * res, 0.0, -res, y + rows / 2 * res))
    if nodata is not None:
        profile["nodata"] = nodata
    if driver == "GTiff" and blocksize:
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    if driver == "COG":
        profile.update(blocksize=blocksize or 256, compress="deflate")
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
            if tags:
                dst.update_tags(**tags)
            if colorinterp:
                dst.colorinterp = [ColorInterp[c] for c in colorinterp]
    return path


@pytest.fixture
def make_raster(tmp_path: Path):
    """Factory ``make_raster(name, **options) -> Path`` writing into ``tmp_path``.

    See :func:`build_raster` for the options (CRS, centre, pixel size, shape,
    bands, dtype, data, nodata, tags, driver, colour interpretation).
    """

    def make(name: str = "tile.tif", **options) -> Path:
        return build_raster(tmp_path / name, **options)

    return make
