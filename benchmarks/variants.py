"""Packagings of one scene that must not change what railcount finds in it.

Each function reads a GeoTIFF and writes another holding the same ground:
rotated against the pixel grid (a rotated geotransform), one grey band,
uint16, float32 with NaN nodata around it, RGBA, JPEG-compressed, or
reprojected to EPSG:4326 or EPSG:3857. Map coordinates of the ground stay
put, so the scene's truth (in lon/lat) holds for every variant.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject
from scipy import ndimage

__all__ = ["VARIANTS", "make_variant"]


def _read(path: Path):
    with rasterio.open(path) as src:
        return src.read(), src.transform, src.crs, src.tags()


def _write(path: Path, arr: np.ndarray, transform, crs, tags, **extra) -> Path:
    profile = dict(driver="GTiff", height=arr.shape[1], width=arr.shape[2], count=arr.shape[0], dtype=arr.dtype,
                   transform=transform, crs=crs, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    profile.update(extra)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
        dst.update_tags(**tags)
    return path


def rotated(src: Path, dst: Path, angle_deg: float = 33.0) -> Path:
    """The pixels turned by ``angle_deg`` against the ground; the geotransform turns with them."""
    arr, t, crs, tags = _read(src)
    h, w = arr.shape[1:]
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])  # new (row, col) -> old
    corners = np.array([[0, 0], [0, w], [h, 0], [h, w]], float) - [h / 2, w / 2]
    span = np.abs(corners @ np.linalg.inv(rot).T)
    H, W = int(math.ceil(2 * span[:, 0].max())), int(math.ceil(2 * span[:, 1].max()))
    # old continuous pixel p = rot (q - c_new) + c_old, with q the new continuous pixel (row, col)
    off = np.array([h / 2, w / 2]) - rot @ np.array([H / 2, W / 2])
    idx_off = rot @ np.array([0.5, 0.5]) + off - 0.5
    out = np.zeros((arr.shape[0], H, W), arr.dtype)
    for b in range(arr.shape[0]):
        out[b] = ndimage.affine_transform(arr[b].astype(np.float32), rot, idx_off, output_shape=(H, W), order=1,
                                          cval=0.0).round().clip(0, 255).astype(arr.dtype)
    valid = ndimage.affine_transform(np.ones((h, w), np.float32), rot, idx_off, output_shape=(H, W), order=0,
                                     cval=0.0) > 0.5
    # pixel (col', row') -> old (col, row): col = r10 row' + r11 col' + off1, row = r00 row' + r01 col' + off0
    pix = Affine(rot[1, 1], rot[1, 0], off[1], rot[0, 1], rot[0, 0], off[0])
    alpha = (valid * 255).astype(arr.dtype)[None]
    return _write(dst, np.concatenate([out, alpha]), t * pix, crs, tags, photometric="RGB")


def grey(src: Path, dst: Path) -> Path:
    arr, t, crs, tags = _read(src)
    y = (0.299 * arr[0] + 0.587 * arr[1] + 0.114 * arr[2]).round().astype(np.uint8)
    return _write(dst, y[None], t, crs, tags)


def uint16(src: Path, dst: Path) -> Path:
    arr, t, crs, tags = _read(src)
    return _write(dst, (arr.astype(np.uint16) * 257), t, crs, tags)


def float_nan(src: Path, dst: Path) -> Path:
    arr, t, crs, tags = _read(src)
    f = arr.astype(np.float32) / 255.0
    pad = 32
    out = np.full((f.shape[0], f.shape[1] + 2 * pad, f.shape[2] + 2 * pad), np.nan, np.float32)
    out[:, pad:-pad, pad:-pad] = f
    return _write(dst, out, t * Affine.translation(-pad, -pad), crs, tags, nodata=float("nan"))


def rgba(src: Path, dst: Path) -> Path:
    arr, t, crs, tags = _read(src)
    return _write(dst, np.concatenate([arr, np.full((1, *arr.shape[1:]), 255, arr.dtype)]), t, crs, tags,
                  photometric="RGB")


def jpeg(src: Path, dst: Path) -> Path:
    arr, t, crs, tags = _read(src)
    return _write(dst, arr, t, crs, tags, compress="jpeg", jpeg_quality=60, photometric="YCBCR")


def _reprojected(src: Path, dst: Path, crs_to: str) -> Path:
    arr, t, crs, tags = _read(src)
    h, w = arr.shape[1:]
    left, top = t * (0, 0)
    right, bottom = t * (w, h)
    tt, W, H = calculate_default_transform(crs, crs_to, w, h, left=left, bottom=bottom, right=right, top=top)
    out = np.zeros((arr.shape[0] + 1, H, W), arr.dtype)
    for b in range(arr.shape[0]):
        reproject(arr[b], out[b], src_transform=t, src_crs=crs, dst_transform=tt, dst_crs=crs_to,
                  resampling=Resampling.bilinear)
    ones = np.full((h, w), 255, np.uint8)
    reproject(ones, out[-1], src_transform=t, src_crs=crs, dst_transform=tt, dst_crs=crs_to,
              resampling=Resampling.nearest)
    return _write(dst, out, tt, crs_to, tags, photometric="RGB")


def epsg4326(src: Path, dst: Path) -> Path:
    return _reprojected(src, dst, "EPSG:4326")


def epsg3857(src: Path, dst: Path) -> Path:
    return _reprojected(src, dst, "EPSG:3857")


#: Variant name -> function(src, dst).
VARIANTS = {"rotated": rotated, "grey": grey, "uint16": uint16, "float_nan": float_nan, "rgba": rgba,
            "jpeg": jpeg, "epsg4326": epsg4326, "epsg3857": epsg3857}


def make_variant(kind: str, src: Path, out_dir: Path) -> Path:
    """Write the ``kind`` variant of ``src`` into ``out_dir`` (reused if present)."""
    dst = out_dir / f"{src.stem}.{kind}.tif"
    if not dst.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        VARIANTS[kind](src, dst)
    return dst
