"""Track-aligned working frames.

The detector works in a frame where the tracks run along the columns: the image
is resampled to a working GSD and rotated so that the dominant track direction
is horizontal. :class:`TrackFrame` holds the exact affine map between that frame
and the input pixels, so every detection goes back to input (row, col) exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import GSDError, ResolutionTooCoarseError, UnsupportedRasterError
from ..priors import ESTIMATE_MAX_GSD, MIN_GSD

__all__ = ["check_image", "dominant_orientations", "TrackFrame", "to_luminance"]


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
    if not (isinstance(gsd, (int, float, np.floating)) and math.isfinite(gsd)) or gsd <= 0:
        raise GSDError(f"gsd must be a positive number of metres, got {gsd!r}")
    if gsd < MIN_GSD:
        raise GSDError(f"gsd={gsd} m is finer than any overhead imagery ({MIN_GSD} m); is it in metres?")
    if gsd > ESTIMATE_MAX_GSD:
        raise ResolutionTooCoarseError(
            f"railcars cannot be counted at a GSD of {gsd:.3g} m (coarser than {ESTIMATE_MAX_GSD} m): "
            "use imagery of 3 m or finer (0.8 m or finer for individual cars)")
    m = np.ones(img.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    if m.shape != img.shape[:2]:
        raise UnsupportedRasterError(f"mask shape {m.shape} does not match image shape {img.shape[:2]}")
    if img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    if np.issubdtype(img.dtype, np.floating):
        m = m & np.isfinite(img if img.ndim == 2 else img.sum(axis=-1))
        img = np.nan_to_num(img)
    return img, m


def to_luminance(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return contrast-normalised luminance and chroma of an image.

    Both are scaled by the image's own robust spread (2nd-98th percentile of
    luminance over valid pixels), so that haze, dtype and exposure do not move
    any threshold downstream.

    Parameters
    ----------
    image : ndarray, shape (rows, cols) or (rows, cols, bands)
        Any numeric dtype; 3 or more bands are read as R, G, B.
    mask : ndarray of bool, shape (rows, cols)
        True where pixels are valid.

    Returns
    -------
    lum, chroma : ndarray of float32, shape (rows, cols)
        Luminance centred on its median and divided by the spread; chroma
        (max - min over R, G, B) divided by the same spread (zero for one band).
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        y = img
        chroma = np.zeros_like(y)
    else:
        rgb = img[..., :3] if img.shape[-1] >= 3 else np.repeat(img[..., :1], 3, axis=-1)
        y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
        chroma = rgb.max(axis=-1) - rgb.min(axis=-1)
    valid = y[mask]
    if valid.size == 0:
        return np.zeros_like(y), np.zeros_like(y)
    sample = valid[:: max(1, valid.size // 200_000)]
    lo, med, hi = np.percentile(sample, [2, 50, 98])
    spread = float(hi - lo) or 1.0
    lum = (y - med) / spread
    lum[~mask] = 0.0
    chroma = chroma / spread
    chroma[~mask] = 0.0
    return lum.astype(np.float32), chroma.astype(np.float32)


def dominant_orientations(lum: np.ndarray, mask: np.ndarray, *, max_orientations: int = 2,
                          min_share: float = 0.35) -> list[float]:
    """Find the dominant directions of linear structure (tracks, rails, car edges).

    Parameters
    ----------
    lum : ndarray, shape (rows, cols)
        Luminance.
    mask : ndarray of bool
        Valid pixels.
    max_orientations : int
        How many directions to return at most.
    min_share : float
        A secondary direction is kept only if its histogram peak reaches this
        share of the main one.

    Returns
    -------
    list of float
        Track directions in degrees in ``[0, 180)``, measured from the column
        axis towards increasing rows (clockwise on screen), strongest first.
    """
    sm = ndimage.gaussian_filter(lum, 1.0)
    gr = ndimage.sobel(sm, axis=0)
    gc = ndimage.sobel(sm, axis=1)
    mag = np.hypot(gr, gc)
    inner = ndimage.binary_erosion(mask, iterations=3)
    mag = np.where(inner, mag, 0.0)
    # gradient direction, mod 180; the track runs perpendicular to it
    ang = (np.degrees(np.arctan2(gr, gc)) + 90.0) % 180.0
    hist, _ = np.histogram(ang, bins=180, range=(0, 180), weights=mag**2)
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    smooth = ndimage.convolve1d(hist, kernel, mode="wrap")
    found: list[float] = []
    work = smooth.copy()
    for _ in range(max_orientations):
        i = int(np.argmax(work))
        if work[i] <= 0 or (found and work[i] < min_share * smooth.max()):
            break
        # parabolic refinement of the peak
        a, b, c = work[(i - 1) % 180], work[i], work[(i + 1) % 180]
        denom = a - 2 * b + c
        off = 0.5 * (a - c) / denom if denom != 0 else 0.0
        found.append(float((i + 0.5 + off) % 180.0))
        for k in range(-20, 21):  # suppress the neighbourhood of this peak
            work[(i + k) % 180] = 0.0
    return found


@dataclass(frozen=True)
class TrackFrame:
    """A resampled, rotated frame in which tracks run along the columns.

    Frame pixel ``(fr, fc)`` maps to input pixel ``(r, c)`` by
    ``[r, c] = matrix @ [fr, fc] + offset``.
    """

    angle_deg: float
    step: float  # input pixels per frame pixel
    matrix: np.ndarray
    offset: np.ndarray
    shape: tuple[int, int]

    @classmethod
    def build(cls, input_shape: tuple[int, int], angle_deg: float, step: float) -> "TrackFrame":
        """Make the frame for an input of ``input_shape`` whose tracks run at ``angle_deg``."""
        a = math.radians(angle_deg)
        t = np.array([math.sin(a), math.cos(a)])  # along track, (row, col)
        n = np.array([math.cos(a), -math.sin(a)])  # across track, (row, col)
        matrix = np.column_stack([n, t]) * step
        rows, cols = input_shape
        corners = np.array([[0, 0], [0, cols], [rows, 0], [rows, cols]], dtype=float)
        inv = np.linalg.inv(matrix)
        fc = corners @ inv.T
        lo = np.floor(fc.min(axis=0))
        hi = np.ceil(fc.max(axis=0))
        shape = (int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1)
        offset = matrix @ lo
        return cls(angle_deg, step, matrix, offset, shape)

    def warp(self, arr: np.ndarray, *, order: int = 1, cval: float = 0.0) -> np.ndarray:
        """Resample a 2-D input array into this frame."""
        src = arr.astype(np.float32, copy=False)
        if self.step > 1.0 and order > 0:
            # area-average before decimating, so that fine noise does not alias
            src = ndimage.uniform_filter(src, size=max(1, int(round(self.step))))
        return ndimage.affine_transform(src, self.matrix, self.offset, output_shape=self.shape,
                                        order=order, cval=cval, prefilter=False)

    def to_input(self, fr: np.ndarray, fc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map frame pixel coordinates to input pixel coordinates."""
        pts = np.stack([np.asarray(fr, float), np.asarray(fc, float)], axis=-1)
        out = pts @ self.matrix.T + self.offset
        return out[..., 0], out[..., 1]
