"""Scoring detections against truth: one-to-one matching of centres.

A detection matches a true car when its centre lies within ``max_dist`` metres
of the true car's centre; each true car and each detection is used at most
once (an optimal assignment, so the score does not depend on order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

__all__ = ["match_centres", "match_flags", "Score", "score_centres", "TrackScore", "score_tracks"]


def match_flags(truth: np.ndarray, found: np.ndarray, max_dist: float = 6.0) -> np.ndarray:
    """Which of ``found`` match a true centre, one to one, within ``max_dist``.

    Parameters
    ----------
    truth, found : ndarray, shape (n, 2) and (m, 2)
        Centres in metric coordinates (map x/y, or pixels times GSD).
    max_dist : float
        Largest distance of a match, same unit.

    Returns
    -------
    ndarray of bool, shape (m,)
    """
    truth = np.asarray(truth, float).reshape(-1, 2)
    found = np.asarray(found, float).reshape(-1, 2)
    flags = np.zeros(len(found), bool)
    if not len(truth) or not len(found):
        return flags
    d = cdist(truth, found)
    cost = np.where(d <= max_dist, d, 1e9)
    r, c = linear_sum_assignment(cost)
    flags[c[d[r, c] <= max_dist]] = True
    return flags


def match_centres(truth: np.ndarray, found: np.ndarray, max_dist: float = 6.0) -> int:
    """Return the number of one-to-one matches within ``max_dist`` (see :func:`match_flags`)."""
    return int(match_flags(truth, found, max_dist).sum())


@dataclass(frozen=True)
class Score:
    """Precision, recall, F1 and count error of one scene."""

    n_true: int
    n_found: int
    tp: int

    @property
    def precision(self) -> float:
        return self.tp / self.n_found if self.n_found else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_true if self.n_true else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score_centres(truth: np.ndarray, found: np.ndarray, max_dist: float = 6.0) -> Score:
    """Match centres and return a :class:`Score`."""
    truth = np.asarray(truth, float).reshape(-1, 2)
    found = np.asarray(found, float).reshape(-1, 2)
    return Score(len(truth), len(found), match_centres(truth, found, max_dist))


@dataclass(frozen=True)
class TrackScore:
    """How well found track centrelines cover the true ones.

    Attributes
    ----------
    true_m, found_m : float
        Length of true and found track that was scored (metres sampled).
    recall : float
        Share of true track length within ``tol`` of a found track.
    precision : float
        Share of found track length within ``tol`` of a true track.
    """

    true_m: float
    found_m: float
    recall: float
    precision: float


def score_tracks(truth: list[np.ndarray], found: list[np.ndarray], extent: tuple[float, float, float, float], *,
                 tol: float = 1.0, inset: float = 10.0, step: float = 1.0) -> TrackScore:
    """Score found track centrelines against true ones.

    Both are sampled every ``step``; samples closer than ``inset`` to the
    edge of ``extent`` are not scored (a track crossing a picture's edge is
    hard to see there).

    Parameters
    ----------
    truth, found : list of ndarray, shape (n, 2)
        Polylines in one metric coordinate system (map x/y, or pixels times GSD).
    extent : (min0, min1, max0, max1)
        The picture's extent in the same coordinates.
    tol : float
        Largest distance of a matched sample.
    """
    from .detect.geometry import nearest_on_polylines, resample_polyline

    lo0, lo1, hi0, hi1 = extent

    def samples(lines: list[np.ndarray]) -> np.ndarray:
        pts = [resample_polyline(np.asarray(ln, float), step) for ln in lines if len(ln) >= 2]
        p = np.vstack(pts) if pts else np.zeros((0, 2))
        keep = ((p[:, 0] > lo0 + inset) & (p[:, 0] < hi0 - inset) & (p[:, 1] > lo1 + inset) & (p[:, 1] < hi1 - inset))
        return p[keep]

    t, f = samples(truth), samples(found)
    rec = float(np.mean(nearest_on_polylines(t, found)[0] <= tol)) if len(t) else 1.0
    prec = float(np.mean(nearest_on_polylines(f, truth)[0] <= tol)) if len(f) else 1.0
    return TrackScore(len(t) * step, len(f) * step, rec, prec)
