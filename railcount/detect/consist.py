"""From a railcar-body probability map to individual cars.

Runs of high probability along a lane of the track-aligned frame are consists
(a single car or a train of coupled cars). Each consist is split into cars by
dynamic programming over cut positions: a cut earns the gap evidence at its
position (a notch in the body and shadow profiles, a change of colour, a dip in
probability), and each car between cuts earns the log-likelihood of its length
under the mixture of car lengths in :data:`railcount.priors.CAR_TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..priors import CAR_TYPES, COUPLING_GAP_M

__all__ = ["SplitParams", "Lane", "find_lanes", "split_consist", "length_logprior"]


@dataclass(frozen=True)
class SplitParams:
    """Parameters of lane finding and consist splitting (trained on simulated scenes)."""

    threshold: float = 0.5
    gap_weight: float = 1.0
    cut_cost: float = 0.0
    min_car_m: float = 9.5
    max_car_m: float = 21.0
    length_sigma_m: float = 0.8
    min_run_m: float = 6.0
    bridge_m: float = 2.5
    smooth_along_m: float = 0.4


@dataclass(frozen=True)
class Lane:
    """A run of railcar bodies along one lane of the frame."""

    c0: int
    c1: int
    row_a: float  # centre row = row_a + row_b * col
    row_b: float
    width_px: float
    score: float

    def row_at(self, col: np.ndarray | float) -> np.ndarray | float:
        return self.row_a + self.row_b * np.asarray(col)


def length_logprior(lengths_m: np.ndarray, sigma_m: float) -> np.ndarray:
    """Log-likelihood of car lengths (over couplers) under the car-type mixture."""
    lengths_m = np.asarray(lengths_m, float)
    means = np.array([t.length_m for t in CAR_TYPES.values()])
    dens = np.exp(-0.5 * ((lengths_m[..., None] - means) / sigma_m) ** 2).mean(axis=-1)
    dens /= sigma_m * np.sqrt(2 * np.pi)
    return np.log(dens + 1e-4)


def find_lanes(prob: np.ndarray, gsd: float, params: SplitParams) -> list[Lane]:
    """Find runs of railcar bodies along the columns of a frame.

    Parameters
    ----------
    prob : ndarray of float, shape (rows, cols)
        Probability of "railcar body" in a frame whose tracks run along columns.
    gsd : float
        Frame pixel size in metres.
    params : SplitParams

    Returns
    -------
    list of Lane
    """
    px = lambda m: max(1, int(round(m / gsd)))  # noqa: E731
    sm = ndimage.gaussian_filter(prob, (0.5, max(0.5, params.smooth_along_m / gsd)))
    binary = sm > params.threshold
    binary = ndimage.binary_opening(binary, structure=np.ones((px(1.2), 1), bool))
    binary = ndimage.binary_opening(binary, structure=np.ones((1, px(2.0)), bool))
    # bridge short breaks along the lane (coupling gaps, partial loads)
    binary = ndimage.binary_closing(binary, structure=np.ones((1, px(params.bridge_m)), bool))
    labels, n = ndimage.label(binary)
    lanes: list[Lane] = []
    if n == 0:
        return lanes
    objects = ndimage.find_objects(labels)
    min_sep = px(3.8)
    for i, sl in enumerate(objects, start=1):
        comp = labels[sl] == i
        weights = np.where(comp, sm[sl], 0.0)
        rows_profile = weights.sum(axis=1)
        # a component spanning several lanes: split it at the row profile's valleys
        peaks = _profile_peaks(rows_profile, min_sep)
        # split between neighbouring lanes at the lowest row of the profile
        cuts = [a + int(np.argmin(rows_profile[a : b + 1])) for a, b in zip(peaks, peaks[1:])]
        bounds = [0] + cuts + [comp.shape[0]]
        for r0, r1 in zip(bounds, bounds[1:]):
            part = weights[r0:r1]
            lane = _lane_from_part(part, sl[0].start + r0, sl[1].start, gsd, params)
            if lane is not None:
                lanes.append(lane)
    return lanes


def _profile_peaks(profile: np.ndarray, min_sep: int) -> list[int]:
    if profile.size <= min_sep * 1.5:
        return [int(np.argmax(profile))]
    sm = ndimage.uniform_filter1d(profile, max(1, min_sep // 3))
    order = np.argsort(-sm)
    peaks: list[int] = []
    top = sm[order[0]]
    for idx in order:
        if sm[idx] < 0.3 * top:
            break
        if all(abs(idx - p) >= min_sep for p in peaks):
            peaks.append(int(idx))
    return sorted(peaks)


def _lane_from_part(part: np.ndarray, row0: int, col0: int, gsd: float, params: SplitParams) -> Lane | None:
    colw = part.sum(axis=0)
    cols = np.nonzero(colw > 0.5)[0]
    if cols.size == 0:
        return None
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    if (c1 - c0) * gsd < params.min_run_m:
        return None
    rows = np.arange(part.shape[0], dtype=float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (part * rows).sum(axis=0) / colw
    ok = colw > 0.5
    cc = np.arange(part.shape[1], dtype=float)[ok]
    rr = centre[ok]
    w = colw[ok]
    if cc.size >= 2 and np.ptp(cc) > 0:
        b, a = np.polyfit(cc, rr, 1, w=np.sqrt(w))
        b = float(np.clip(b, -0.05, 0.05))
        a = float(np.average(rr - b * cc, weights=w))
    else:
        a, b = float(np.average(rr, weights=w)), 0.0
    width = float(np.median(colw[c0:c1][colw[c0:c1] > 0.5]))
    width_m = width * gsd
    if width_m > 4.0 or width_m < 1.2:
        return None
    score = float(part[:, c0:c1].max(axis=0).mean())
    return Lane(c0=col0 + c0, c1=col0 + c1, row_a=row0 + a - b * col0, row_b=b, width_px=width, score=score)


def gap_evidence(lum: np.ndarray, prob: np.ndarray, lane: Lane, gsd: float) -> np.ndarray:
    """Evidence of a coupling gap at each column of a lane, as a robust z-score.

    Parameters
    ----------
    lum, prob : ndarray, shape (rows, cols)
        Frame luminance and body probability.
    lane : Lane
    gsd : float

    Returns
    -------
    ndarray of float, shape (lane.c1 - lane.c0,)
    """
    pad = max(2, int(round(4.0 / gsd)))
    c0 = max(0, lane.c0 - pad)
    c1 = min(lum.shape[1], lane.c1 + pad)
    cols = np.arange(c0, c1)
    centre = lane.row_at(cols)

    def band(arr: np.ndarray, off_m: float, half_m: float) -> np.ndarray:
        offs = np.arange(-half_m, half_m + 1e-9, gsd / 2) + off_m
        rr = np.clip(np.round(centre[None, :] + offs[:, None] / gsd).astype(int), 0, arr.shape[0] - 1)
        return arr[rr, cols[None, :]].mean(axis=0)

    body = band(lum, 0.0, 0.9)
    occ = band(prob, 0.0, 0.9)
    side_a = band(lum, 2.4, 0.5)
    side_b = band(lum, -2.4, 0.5)
    shadow = np.minimum(side_a, side_b)

    d = max(1, int(round(1.3 / gsd)))
    s = max(2, int(round(3.0 / gsd)))

    def notch(x: np.ndarray) -> np.ndarray:
        xp = np.pad(x, d, mode="edge")
        return np.abs(x - 0.5 * (xp[: -2 * d] + xp[2 * d :]))

    def step(x: np.ndarray) -> np.ndarray:
        cs = np.concatenate([[0.0], np.cumsum(np.pad(x, s, mode="edge"))])
        n = x.size
        left = (cs[s : s + n] - cs[0:n]) / s
        right = (cs[2 * s : 2 * s + n] - cs[s : s + n]) / s
        return np.abs(right - left)

    sm = lambda x: ndimage.gaussian_filter1d(x, max(0.5, 0.3 / gsd))  # noqa: E731
    parts = [notch(sm(body)), step(body), notch(sm(shadow)), np.maximum(0, np.median(occ) - occ)]
    total = np.zeros_like(body)
    for p in parts:
        med = np.median(p)
        mad = np.median(np.abs(p - med)) * 1.4826 + 1e-6
        total += np.clip((p - med) / mad, -3, 8)
    total /= len(parts)
    return total[lane.c0 - c0 : lane.c1 - c0]


def split_consist(length_px: int, gaps: np.ndarray, gsd: float, params: SplitParams) -> list[tuple[int, int]]:
    """Split a consist into cars by dynamic programming.

    Parameters
    ----------
    length_px : int
        Length of the consist in frame pixels.
    gaps : ndarray, shape (length_px,)
        Gap evidence at each column (see :func:`gap_evidence`).
    gsd : float
    params : SplitParams

    Returns
    -------
    list of (start, end)
        Car extents in columns relative to the consist's start.
    """
    n = length_px
    lo = max(1, int(round(params.min_car_m / gsd)))
    hi = max(lo + 1, int(round(params.max_car_m / gsd)))
    half_gap = 0.5 * np.mean(COUPLING_GAP_M)
    if n * gsd < params.min_car_m * 1.4:
        return [(0, n)]  # one car (or a short fragment of one)
    lengths = np.arange(0, hi + 1) * gsd
    # a car between two cuts spans its length over couplers; the end cars lose half a gap
    lp_inner = length_logprior(lengths, params.length_sigma_m)
    lp_end = length_logprior(lengths + half_gap, params.length_sigma_m)
    best = np.full(n + 1, -np.inf)
    back = np.zeros(n + 1, dtype=int)
    best[0] = 0.0
    cut_gain = params.gap_weight * gaps - params.cut_cost
    for e in range(lo, n + 1):
        starts = np.arange(max(0, e - hi), e - lo + 1)
        if starts.size == 0:
            continue
        seg = e - starts
        is_first = starts == 0
        is_last = e == n
        lp = np.where(is_first | is_last, lp_end[seg], lp_inner[seg])
        if is_first.any() and is_last:
            lp = np.where(is_first, length_logprior(seg * gsd + 2 * half_gap, params.length_sigma_m), lp)
        gain = np.where(is_first, 0.0, cut_gain[np.minimum(starts, n - 1)])
        cand = best[starts] + lp + gain
        k = int(np.argmax(cand))
        best[e] = cand[k]
        back[e] = starts[k]
    if not np.isfinite(best[n]):
        # no split fits the priors (too short for two cars, too long for one)
        k = max(1, int(round(n * gsd / 14.5)))
        edges = np.linspace(0, n, k + 1).round().astype(int)
        return list(zip(edges[:-1], edges[1:]))
    cars: list[tuple[int, int]] = []
    e = n
    while e > 0:
        s = back[e]
        cars.append((int(s), int(e)))
        e = s
    return cars[::-1]
