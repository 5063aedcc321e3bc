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


def _polyline_at(line: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Point and unit tangent of a polyline (metres) at arc length ``s``."""
    seg = np.diff(line, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    i = int(np.clip(np.searchsorted(cum, s) - 1, 0, len(seg) - 1))
    t = seg[i] / lengths[i]
    return line[i] + t * (s - cum[i]), t


def arc(centre, radius, a0_deg, a1_deg, n=60):
    """A circular arc as an (n, 2) polyline of (row, col) metres."""
    a = np.radians(np.linspace(a0_deg, a1_deg, n))
    return np.column_stack([centre[0] + radius * np.sin(a), centre[1] + radius * np.cos(a)])


def draw_tracks(lines_m, *, gsd=0.3, size_m=(150.0, 150.0), cars=(), boxes=(), seed=0):
    """Draw tracks along polylines, with cars on them and boxes anywhere.

    Parameters
    ----------
    lines_m : sequence of ndarray (n, 2)
        Track centrelines as (row, col) in metres from the top-left corner.
    cars : sequence of (line_index, start_m, length_m, rgb)
        A car along a track, from arc length ``start_m``.
    boxes : sequence of (row_m, col_m, length_m, width_m, angle_deg, rgb)
        Rectangles anywhere (roads, roofs, containers, trucks), each with a shadow.

    Returns
    -------
    image : ndarray (rows, cols, 3) uint8
    car_centres : ndarray (n, 2) of (row, col) continuous pixel coordinates
    """
    from scipy import ndimage
    from skimage.draw import line as draw_line
    from skimage.draw import polygon

    k = 4  # drawn at a quarter of the pixel, then averaged
    f = gsd / k
    h, w = int(size_m[0] / gsd) * k, int(size_m[1] / gsd) * k
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (120, 132, 95)  # grass
    img += rng.normal(0, 8, (h, w, 1))
    centre = np.zeros((h, w), bool)
    for ln in lines_m:
        p = np.asarray(ln, float) / f
        for (r0, c0), (r1, c1) in zip(p[:-1], p[1:]):
            rr, cc = draw_line(int(r0), int(c0), int(r1), int(c1))
            ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            centre[rr[ok], cc[ok]] = True
    dist = ndimage.distance_transform_edt(~centre) * f
    bed = dist < 2.0
    img[bed] = np.array((150, 145, 138)) + rng.normal(0, 10, (int(bed.sum()), 1))
    sleeper = (dist < 1.3) & (rng.random((h, w)) < 0.5)
    img[sleeper] *= 0.9
    rail = np.abs(dist - 0.75) < 0.05
    img[rail] = (70, 62, 55)
    shadow = np.zeros((h, w), bool)

    def put(cr, cc_, length, width, angle_t, rgb):
        t = np.asarray(angle_t, float)
        n = np.array([t[1], -t[0]])
        signs = ((-1, -1), (1, -1), (1, 1), (-1, 1))
        corners = np.array([cr + s * t * length / 2 + q * n * width / 2 for s, q in signs])
        sh = corners + np.array([1.5, 1.0])  # shadow cast down and right
        rr, cc = polygon(sh[:, 0] / f, sh[:, 1] / f, (h, w))
        shadow[rr, cc] = True
        rr, cc = polygon(corners[:, 0] / f, corners[:, 1] / f, (h, w))
        return rr, cc, rgb

    painted = []
    centres = []
    for li, start, length, rgb in cars:
        ln = np.asarray(lines_m[li], float)
        mid, t = _polyline_at(ln, start + length / 2)
        painted.append(put(mid, None, length - 1.0, 2.9, t, rgb))
        centres.append(mid / gsd)
    for row, col, length, width, angle, rgb in boxes:
        a = np.radians(angle)
        painted.append(put(np.array([row, col]), None, length, width, (-np.sin(a), np.cos(a)), rgb))
    img[shadow] *= 0.5
    for rr, cc, rgb in painted:
        img[rr, cc] = np.array(rgb, np.float32) + rng.normal(0, 4, (len(rr), 1))
    img = img.reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3))
    return np.clip(img, 0, 255).astype(np.uint8), np.array(centres, float).reshape(-1, 2)
