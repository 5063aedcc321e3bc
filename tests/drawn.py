"""Scenes drawn with numpy for detector tests: known truth, no files, no simulator.

A yard of horizontal tracks on grey ballast (rails, sleeper texture, noise);
railcars are coloured rectangles with a shadow on one side.
"""

from __future__ import annotations

import numpy as np


def draw_yard(*, gsd=0.3, size_m=(120.0, 240.0), tracks_m=(30.0, 35.0, 40.0, 70.0, 75.0, 80.0),
              cars=(), lookalikes=(), seed=0, angle_deg=0.0):
    """Draw a yard.

    Parameters
    ----------
    gsd : float
        Metres per pixel.
    size_m : (height, width)
    tracks_m : sequence of float
        Track centre rows, metres from the top.
    cars : sequence of (track_index, start_m, length_m, rgb)
    lookalikes : sequence of (row_m, start_m, length_m, width_m, rgb), off the tracks
    angle_deg : float
        Rotate the finished scene (counter-clockwise) to test orientations.

    Returns
    -------
    image : ndarray (rows, cols, 3) uint8
    centres : ndarray (n, 2) of (row, col) continuous pixel coordinates of the cars
    """
    rng = np.random.default_rng(seed)
    h, w = int(size_m[0] / gsd), int(size_m[1] / gsd)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (150, 145, 138)
    img += rng.normal(0, 10, (h, w, 1))
    rows_m = (np.arange(h) + 0.5) * gsd
    cols_m = (np.arange(w) + 0.5) * gsd
    for t in tracks_m:
        bed = np.abs(rows_m - t) < 1.6
        img[bed] = img[bed] * 0.85 + np.array([120, 110, 100]) * 0.15
        for rail in (t - 0.72, t + 0.72):
            r = int(rail / gsd)
            img[r] = img[r] * 0.5 + np.array([90, 85, 80]) * 0.5
        sleepers = (np.floor(cols_m / 0.6) % 2 == 0)
        img[np.ix_(bed, sleepers)] *= 0.93
    centres = []
    for track, start, length, rgb in cars:
        t = tracks_m[track]
        r0, r1 = int((t - 1.45) / gsd), int((t + 1.45) / gsd)
        c0, c1 = int(start / gsd), int((start + length) / gsd)
        sh0, sh1 = r1, int((t + 1.45 + 2.0) / gsd)
        img[sh0:sh1, c0:c1] *= 0.45
        img[r0:r1, c0:c1] = np.array(rgb, np.float32) + rng.normal(0, 4, (r1 - r0, c1 - c0, 1))
        centres.append(((r0 + r1) / 2, (c0 + c1) / 2))
    for row, start, length, width, rgb in lookalikes:
        r0, r1 = int((row - width / 2) / gsd), int((row + width / 2) / gsd)
        c0, c1 = int(start / gsd), int((start + length) / gsd)
        img[r1 : r1 + int(1.5 / gsd), c0:c1] *= 0.45
        img[r0:r1, c0:c1] = rgb
    img = np.clip(img, 0, 255).astype(np.uint8)
    centres = np.array(centres, float).reshape(-1, 2)
    if angle_deg:
        from skimage.transform import rotate

        out = rotate(img, angle_deg, resize=False, order=1, preserve_range=True, mode="edge").astype(np.uint8)
        a = np.radians(angle_deg)
        cy, cx = (h - 1) / 2, (w - 1) / 2
        y, x = centres[:, 0] - cy, centres[:, 1] - cx
        centres = np.column_stack([cy + y * np.cos(a) - x * np.sin(a), cx + x * np.cos(a) + y * np.sin(a)])
        img = out
    return img, centres


def consist(track, start_m, n, length_m=13.92, gap_m=1.0, colours=((70, 55, 45),)):
    """``n`` coupled cars on one track starting at ``start_m``."""
    out = []
    pos = start_m
    for i in range(n):
        out.append((track, pos, length_m, colours[i % len(colours)]))
        pos += length_m + gap_m
    return out
