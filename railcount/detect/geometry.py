"""Plane geometry of polylines: resampling, and nearest points on many polylines at once."""

from __future__ import annotations

import numpy as np

__all__ = ["resample_polyline", "nearest_on_polylines", "polyline_length", "runs", "near_polylines",
           "near_polylines_each"]


def polyline_length(points: np.ndarray) -> float:
    """Length of a polyline given as an (n, 2) array."""
    d = np.diff(np.asarray(points, float), axis=0)
    return float(np.hypot(d[:, 0], d[:, 1]).sum())


def resample_polyline(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` along a polyline (its first and last vertex included).

    Parameters
    ----------
    points : ndarray, shape (n, 2)
    step : float
        Spacing, in the polyline's units.

    Returns
    -------
    ndarray, shape (m, 2)
    """
    pts = np.asarray(points, float)
    if len(pts) < 2:
        return pts.copy()
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return pts[:1].copy()
    n = max(1, int(np.ceil(s[-1] / step)))
    t = np.linspace(0.0, s[-1], n + 1)
    return np.column_stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])])


def nearest_on_polylines(points: np.ndarray, lines: list[np.ndarray], *, k: int = 8
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance from each point to the nearest of many polylines, with that line's direction.

    The polylines are cut into pieces at most 2 units long; the ``k`` pieces
    whose middles are nearest each point (a k-d tree) are measured exactly, so
    the answer is exact wherever the nearest line is within a few units.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
    lines : list of ndarray, shape (m_i, 2)
    k : int
        Pieces measured per point.

    Returns
    -------
    dist : ndarray, shape (n,)
        ``inf`` where there is no line.
    angle : ndarray, shape (n,)
        Direction of the nearest piece in degrees in ``[0, 180)``, measured
        from the second axis towards the first (``atan2(d0, d1)``); NaN where
        there is no line.
    line : ndarray of int, shape (n,)
        Index of the nearest line (-1 where there is none).
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(points, float).reshape(-1, 2)
    segs, owner = [], []
    for i, ln in enumerate(lines):
        ln = np.asarray(ln, float)
        if len(ln) < 2:
            continue
        dense = resample_polyline(ln, 2.0) if polyline_length(ln) > 0 else ln
        segs.append(np.hstack([dense[:-1], dense[1:]]))
        owner.append(np.full(len(dense) - 1, i))
    n = len(pts)
    if not segs or n == 0:
        return np.full(n, np.inf), np.full(n, np.nan), np.full(n, -1)
    seg = np.vstack(segs)
    own = np.concatenate(owner)
    a, b = seg[:, :2], seg[:, 2:]
    ab = b - a
    kk = min(k, len(seg))
    _, idx = cKDTree(0.5 * (a + b)).query(pts, k=kk)
    idx = np.asarray(idx).reshape(n, kk)
    aa, vv = a[idx], ab[idx]
    t = np.clip(((pts[:, None] - aa) * vv).sum(-1) / np.maximum((vv ** 2).sum(-1), 1e-12), 0.0, 1.0)
    d = np.linalg.norm(aa + t[..., None] * vv - pts[:, None], axis=-1)
    j = d.argmin(axis=1)
    rows = np.arange(n)
    best = idx[rows, j]
    ang = np.degrees(np.arctan2(ab[best, 0], ab[best, 1])) % 180.0
    return d[rows, j], ang, own[best]


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of every run of True in a 1-D boolean array."""
    f = np.concatenate([[False], np.asarray(flags, bool), [False]])
    d = np.diff(f.astype(np.int8))
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]))


def near_polylines(samples: np.ndarray, lines: list[np.ndarray], tol: float) -> np.ndarray:
    """Samples of a polyline lying within ``tol`` of one of ``lines`` and running within 15 degrees of it."""
    return near_polylines_each([samples], lines, tol)[0]


def near_polylines_each(samples: list[np.ndarray], lines: list[np.ndarray], tol: float) -> list[np.ndarray]:
    """:func:`near_polylines` for each of several sampled polylines, measured against ``lines`` at once."""
    out = [np.zeros(len(s), bool) for s in samples]
    use = [i for i, s in enumerate(samples) if len(s) >= 2]
    if not use or not lines:
        return out
    dist, ang, _ = nearest_on_polylines(np.vstack([samples[i] for i in use]), lines)
    start = 0
    for i in use:
        s = samples[i]
        d = np.gradient(s, axis=0)
        own = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 180.0
        part = slice(start, start + len(s))
        out[i] = (dist[part] <= tol) & (np.abs((own - ang[part] + 90.0) % 180.0 - 90.0) <= 15.0)
        start += len(s)
    return out
