"""The sensor model: from fine-grid radiance to 8-bit output pixels.

In order: band misregistration (red and blue shifted against green), a
Gaussian point-spread function, area averaging down to the GSD, haze (a
bright, bluish path radiance that varies slowly across the scene), exposure
and colour balance of the date, sensor noise (signal-dependent), and a
JPEG-like 8x8 DCT quantisation with 2x2 chroma subsampling. Noise and haze
are world-anchored, so a strip of the output is the same whether it is
rendered alone or as part of the whole scene.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft, ndimage

from . import noise as nz

__all__ = ["optics", "radiometry", "jpeg_like", "quant_tables"]

_LUMA_Q = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float32).reshape(8, 8)
_CHROMA_Q = np.full((8, 8), 99, dtype=np.float32)
_CHROMA_Q[:4, :4] = np.array([17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 99, 47, 66, 99, 99],
                             dtype=np.float32).reshape(4, 4)


def quant_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """Luma and chroma quantisation tables scaled as by the IJG library for ``quality`` (1-100)."""
    q = int(min(max(quality, 1), 100))
    scale = 5000 / q if q < 50 else 200 - 2 * q
    lum = np.clip(np.floor((_LUMA_Q * scale + 50) / 100), 1, 255)
    chr_ = np.clip(np.floor((_CHROMA_Q * scale + 50) / 100), 1, 255)
    return lum.astype(np.float32), chr_.astype(np.float32)


def optics(fine: np.ndarray, *, k: int, blur_px: float, misregistration_px: float) -> np.ndarray:
    """Misregister bands, blur with the PSF and area-average ``k x k`` fine pixels to one.

    Parameters
    ----------
    fine : ndarray, shape (3, rows, cols)
        Fine-grid radiance; rows and cols multiples of ``k``.
    k : int
        Fine pixels per output pixel.
    blur_px : float
        PSF sigma in output pixels.
    misregistration_px : float
        Red is shifted by ``+m`` and blue by ``-m/2`` output pixels (diagonally) against green.

    Returns
    -------
    ndarray, shape (3, rows // k, cols // k), float32
    """
    out = []
    for band in range(3):
        img = fine[band]
        shift = {0: misregistration_px, 1: 0.0, 2: -0.6 * misregistration_px}[band] * k
        if shift:
            img = ndimage.shift(img, (shift * 0.6, shift * 0.8), order=1, mode="nearest")
        if blur_px > 0:
            img = ndimage.gaussian_filter(img, sigma=blur_px * k, mode="nearest", truncate=3.0)
        r, c = img.shape
        out.append(img.reshape(r // k, k, c // k, k).mean(axis=(1, 3), dtype=np.float32))
    return np.stack(out)


def radiometry(
    img: np.ndarray, *, row0: int, col0: int, gsd: float, seed: int, haze: float, noise: float,
    gain: float, balance: tuple[float, float, float],
) -> np.ndarray:
    """Haze, exposure, colour balance and noise on output pixels (global index ``row0, col0``)."""
    _, nr, nc = img.shape
    ys = (np.arange(row0, row0 + nr) + 0.5) * gsd
    xs = (np.arange(col0, col0 + nc) + 0.5) * gsd
    out = img * np.asarray(balance, np.float32)[:, None, None] * np.float32(gain)
    if haze > 0:
        hv = nz.fractal_noise(seed + 901, ys, xs, 250.0, octaves=2)
        h = np.clip(haze * (0.6 + 0.8 * hv), 0, 0.95)[None]
        path = np.asarray((205, 212, 225), np.float32)[:, None, None]
        out = out * (1 - h) + path * h
    if noise > 0:
        r = np.arange(row0, row0 + nr)[:, None]
        c = np.arange(col0, col0 + nc)[None, :]
        for band in range(3):
            g = nz.gaussian(seed + 911 + band, r, c)
            sigma = noise * np.sqrt(np.clip(out[band], 1, None) / 128.0)
            out[band] = out[band] + g * sigma.astype(np.float32)
    return out


def jpeg_like(img: np.ndarray, quality: int) -> np.ndarray:
    """Quantise 8x8 DCT blocks of YCbCr (chroma subsampled 2x2), as a JPEG round trip does.

    Parameters
    ----------
    img : ndarray, shape (3, rows, cols), float
        RGB in 0-255; rows and cols should be multiples of 16 for exact blocks
        (other sizes are padded by edge replication and cropped back).
    quality : int
        1-100.

    Returns
    -------
    ndarray, same shape, float32
    """
    _, nr, nc = img.shape
    pr, pc = (-nr) % 16, (-nc) % 16
    x = np.pad(np.clip(img, 0, 255), ((0, 0), (0, pr), (0, pc)), mode="edge").astype(np.float32)
    r, g, b = x
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    ql, qc = quant_tables(quality)

    def q(ch: np.ndarray, table: np.ndarray) -> np.ndarray:
        h, w = ch.shape
        blocks = ch.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
        d = fft.dctn(blocks, type=2, axes=(2, 3), norm="ortho")
        d = np.round(d / table) * table
        back = fft.idctn(d, type=2, axes=(2, 3), norm="ortho")
        return back.transpose(0, 2, 1, 3).reshape(h, w).astype(np.float32)

    y = q(y - 128.0, ql) + 128.0
    H, W = cb.shape

    def sub(ch: np.ndarray) -> np.ndarray:
        s = ch.reshape(H // 2, 2, W // 2, 2).mean(axis=(1, 3))
        s = q(s, qc)
        return np.repeat(np.repeat(s, 2, axis=0), 2, axis=1)

    cb, cr = sub(cb), sub(cr)
    out = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb])
    return out[:, :nr, :nc]


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Round and clip to uint8."""
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def oversampling(gsd: float) -> int:
    """Fine pixels per output pixel: fine grid near 0.125 m, at least 2 and at most 12 per pixel."""
    return int(min(12, max(2, math.ceil(gsd / 0.125 - 1e-9))))
