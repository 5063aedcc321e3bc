"""Per-pixel features of railcar bodies, computed in a track-aligned frame.

In a :class:`~railcount.detect.frame.TrackFrame` the tracks run along the
columns, so every feature below is a cheap separable filter with metric sizes
taken from :mod:`railcount.priors`:

- luminance and chroma at two scales;
- long edges across the track at half a car width above and below (car sides);
- bar contrast of a car-wide band against the bands either side;
- darkness at a shadow's distance above and below;
- rail texture (fine ridges along the track), which a car hides, its average
  along the whole lane (is this a track at all?), and the luminance against a
  background taken from *visible-rail* stretches of the same lane.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["FEATURE_NAMES", "pixel_features"]

FEATURE_NAMES = (
    "lum_fine",
    "lum_box",
    "chroma_box",
    "edge_min",
    "edge_max",
    "bar_contrast",
    "bar_abs",
    "shadow_min",
    "shadow_max",
    "rail_texture",
    "lane_rails",
    "lum_vs_lane",
    "along_std",
    "edge_centre",
    "rail_long",
    "edge_min_long",
    "bar_long",
    "lum_vs_lane_long",
    "shadow_depth",
)


def _px(metres: float, gsd: float) -> float:
    return metres / gsd


def _shift_rows(a: np.ndarray, k: int) -> np.ndarray:
    """``out[r] = a[r - k]`` with edge values repeated (k may be negative)."""
    if k == 0:
        return a
    out = np.empty_like(a)
    if k > 0:
        out[k:] = a[:-k]
        out[:k] = a[:1]
    else:
        out[:k] = a[-k:]
        out[k:] = a[-1:]
    return out


def _max_shifted(a: np.ndarray, shifts: list[int]) -> np.ndarray:
    """Element-wise maximum of ``a`` shifted along rows by each of ``shifts``."""
    out = _shift_rows(a, shifts[0]).copy()  # a fresh array even for a shift of 0
    for k in shifts[1:]:
        np.maximum(out, _shift_rows(a, k), out=out)
    return out


def _box(a: np.ndarray, rows_px: float, cols_px: float) -> np.ndarray:
    return ndimage.uniform_filter(a, size=(max(1, int(round(rows_px))), max(1, int(round(cols_px)))),
                                  mode="nearest")


def pixel_features(lum: np.ndarray, chroma: np.ndarray, valid: np.ndarray, gsd: float) -> np.ndarray:
    """Compute the feature stack of a track-aligned frame.

    Parameters
    ----------
    lum, chroma : ndarray of float32, shape (rows, cols)
        Normalised luminance and chroma in the frame (tracks along columns).
    valid : ndarray of bool, shape (rows, cols)
        Valid pixels of the frame.
    gsd : float
        Frame pixel size in metres.

    Returns
    -------
    ndarray of float32, shape (rows, cols, len(FEATURE_NAMES))
        A view of feature planes stored one after the other (not C-contiguous).
    """
    f = np.float32
    g = gsd
    # one contiguous plane per feature; the caller sees (rows, cols, features)
    planes = np.empty((len(FEATURE_NAMES),) + lum.shape, f)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}

    def put(name: str, a: np.ndarray) -> None:
        planes[col[name]] = a

    # Each feature goes into ``planes`` as soon as it is known and intermediates
    # are dropped early: peak memory is the stack plus a handful of frame arrays.
    # Texture and edge strengths are divided by this image's own typical values,
    # so that sharpness, noise and rail contrast of a sensor do not shift them.
    step = max(1, int(valid.sum()) // 100_000)

    def rel(a: np.ndarray, q: float = 90.0) -> np.ndarray:
        ref = float(np.percentile(a[valid][::step], q)) if valid.any() else 1.0
        return a / (ref + 1e-6)

    put("lum_fine", ndimage.gaussian_filter(lum, max(0.3 / g, 0.5)))
    lum_box = _box(lum, _px(1.0, g), _px(3.0, g))
    put("lum_box", lum_box)
    put("chroma_box", _box(chroma, _px(1.0, g), _px(3.0, g)))

    # long edges across the track: car sides run a car's length
    ey = np.abs(ndimage.sobel(ndimage.gaussian_filter(lum, max(0.4 / g, 0.5)), axis=0)) / 4.0
    ey = _box(ey, 1, _px(4.0, g))
    half_widths = [int(round(_px(w, g))) for w in (1.2, 1.45, 1.7)]
    up = _max_shifted(ey, half_widths)
    down = _max_shifted(ey, [-k for k in half_widths])
    edge_min = rel(np.minimum(up, down))
    put("edge_min", edge_min)
    put("edge_min_long", _box(edge_min, 1, _px(10.0, g)))
    del edge_min
    put("edge_max", rel(np.maximum(up, down)))
    del up, down
    put("edge_centre", rel(ey))
    del ey

    # a car-wide band against the bands either side
    band = _box(lum, _px(2.2, g), _px(3.0, g))
    off = int(round(_px(2.4, g)))
    bar = band - 0.5 * (_shift_rows(band, off) + _shift_rows(band, -off))
    del band
    put("bar_contrast", bar)
    put("bar_abs", np.abs(bar))
    put("bar_long", _box(bar, 1, _px(10.0, g)))
    del bar

    # shadows fall beside a car (which side depends on the sun)
    soff = int(round(_px(2.6, g)))
    shadow_up = _shift_rows(lum_box, soff)
    shadow_down = _shift_rows(lum_box, -soff)
    shadow_min = np.minimum(shadow_up, shadow_down)
    put("shadow_min", shadow_min)
    put("shadow_max", np.maximum(shadow_up, shadow_down))
    del shadow_up, shadow_down
    put("shadow_depth", _box(lum_box - shadow_min, 1, _px(6.0, g)))
    del shadow_min

    # rails: fine ridges across the track, averaged along it
    rail = _box(np.abs(lum - ndimage.gaussian_filter1d(lum, max(0.6 / g, 1.0), axis=0)), _px(1.6, g), _px(3.0, g))
    put("lane_rails", rel(_box(rail * valid, _px(0.6, g), _px(80.0, g)) / np.maximum(
        _box(valid.astype(f), _px(0.6, g), _px(80.0, g)), 1e-3)))

    # background from stretches of the same lane where rails are visible
    w = (rail / (np.median(rail[valid]) + 1e-6)).clip(0, 3) ** 2 * valid
    lane_bg = _box(lum_box * w, _px(1.0, g), _px(60.0, g))
    lane_bg /= np.maximum(_box(w, _px(1.0, g), _px(60.0, g)), 1e-3)
    del w
    rail = rel(rail)
    put("rail_texture", rail)
    put("rail_long", _box(rail, 1, _px(10.0, g)))
    del rail
    lum_vs_lane = lum_box - lane_bg
    del lane_bg, lum_box
    put("lum_vs_lane", lum_vs_lane)
    put("lum_vs_lane_long", _box(np.abs(lum_vs_lane), 1, _px(10.0, g)))
    del lum_vs_lane

    mean = _box(lum, 1, _px(3.0, g))
    along_std = np.sqrt(np.maximum(_box(lum * lum, 1, _px(3.0, g)) - mean * mean, 0))
    del mean
    put("along_std", rel(_box(along_std, _px(1.5, g), 1)))
    del along_std

    planes[:, ~valid] = 0.0
    return np.moveaxis(planes, 0, -1)
