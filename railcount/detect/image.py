"""The detector's input image: checked, and normalised by its own contrast."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedRasterError
from ..geo import countable_gsd

__all__ = ["Frame", "Levels", "check_image", "image_levels", "to_luminance"]

#: Steps per unit of contrast-normalised luminance.
QUANT = 4096.0


@dataclass(frozen=True)
class Levels:
    """The luminance levels an image is normalised by: its median and robust spread (2nd-98th percentile)."""

    median: float
    spread: float


@dataclass(frozen=True)
class Frame:
    """Where an image sits in the raster it was cut from, and that raster's levels.

    A raster scanned in windows gives each window the same frame of
    reference as the whole: the block grids of the track finder are laid on
    the raster (``origin``), and every window is normalised by the raster's
    ``levels``, so a window sees what the whole raster shows there.

    Attributes
    ----------
    origin : (row, col)
        The image's first pixel in raster pixels.
    levels : Levels, optional
        The raster's levels (default: the image's own).
    """

    origin: tuple[int, int] = (0, 0)
    levels: Levels | None = None


def check_image(image: np.ndarray, mask: np.ndarray | None, gsd: float) -> tuple[np.ndarray, np.ndarray]:
    """Check a detector's input and return it as ``(image, mask)``.

    The image comes back as (rows, cols) or (rows, cols, 3) (an alpha band
    dropped), non-finite float pixels zeroed and masked out.

    Raises
    ------
    UnsupportedRasterError
        If the array's shape is not an image's or the mask does not match it.
    GSDError
        If ``gsd`` is not a positive number of metres.
    ResolutionTooCoarseError
        If ``gsd`` is coarser than 3 m: railcars cannot be counted.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] not in (1, 3, 4) and img.shape[0] in (1, 3, 4):
        raise UnsupportedRasterError(
            f"image has shape {img.shape}: pass (rows, cols) or (rows, cols, bands), e.g. Raster.image")
    if img.ndim not in (2, 3):
        raise UnsupportedRasterError(f"image must be 2-D or 3-D, got shape {img.shape}")
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    countable_gsd(gsd, what="gsd")
    m = np.ones(img.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    if m.shape != img.shape[:2]:
        raise UnsupportedRasterError(f"mask shape {m.shape} does not match image shape {img.shape[:2]}")
    if img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    if np.issubdtype(img.dtype, np.floating):
        m = m & np.isfinite(img if img.ndim == 2 else img.sum(axis=-1))
        img = np.nan_to_num(img)
    return img, m


def _luma(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        return img, np.zeros_like(img)
    rgb = img[..., :3] if img.shape[-1] >= 3 else np.repeat(img[..., :1], 3, axis=-1)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    return y, rgb.max(axis=-1) - rgb.min(axis=-1)


def image_levels(image: np.ndarray, mask: np.ndarray) -> Levels | None:
    """The :class:`Levels` of an image's valid pixels (None if it has none).

    ``image`` may be a decimated read of a large raster: percentiles of every
    k-th pixel are those of the whole.
    """
    y, _ = _luma(image)
    valid = y[np.asarray(mask, bool)]
    if valid.size == 0:
        return None
    sample = valid[:: max(1, valid.size // 200_000)]
    lo, med, hi = np.percentile(sample, [2, 50, 98])
    return Levels(float(med), float(hi - lo) or 1.0)


def to_luminance(image: np.ndarray, mask: np.ndarray, levels: Levels | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Return contrast-normalised luminance and chroma of an image.

    Both are scaled by a robust spread of luminance (2nd-98th percentile over
    valid pixels, the image's own unless ``levels`` are given), so that haze,
    dtype and exposure do not move any threshold downstream.

    Parameters
    ----------
    image : ndarray, shape (rows, cols) or (rows, cols, bands)
        Any numeric dtype; 3 or more bands are read as R, G, B.
    mask : ndarray of bool, shape (rows, cols)
        True where pixels are valid.
    levels : Levels, optional
        Normalise by these (e.g. a whole raster's, for one of its windows).

    Returns
    -------
    lum, chroma : ndarray of float32, shape (rows, cols)
        Luminance centred on its median and divided by the spread; chroma
        (max - min over R, G, B) divided by the same spread (zero for one band).
    """
    y, chroma = _luma(image)
    levels = levels or image_levels(image, mask)
    if levels is None:
        return np.zeros_like(y), np.zeros_like(y)
    med, spread = levels.median, levels.spread
    lum = (y - med) / spread
    lum[~mask] = 0.0
    chroma = chroma / spread
    chroma[~mask] = 0.0
    # quantised to 1/4096 of the spread (finer than any sensor's noise), so that the same scene stored
    # as uint8, uint16 or float gives bit-identical input to everything downstream
    return _quantise(lum), _quantise(chroma)


def _quantise(a: np.ndarray) -> np.ndarray:
    return (np.round(np.asarray(a, np.float64) * QUANT) / QUANT).astype(np.float32)
