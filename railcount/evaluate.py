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

__all__ = ["match_centres", "Score", "score_centres"]


def match_centres(truth: np.ndarray, found: np.ndarray, max_dist: float = 6.0) -> int:
    """Return the number of one-to-one matches within ``max_dist``.

    Parameters
    ----------
    truth, found : ndarray, shape (n, 2) and (m, 2)
        Centres in metric coordinates (map x/y, or pixels times GSD).
    max_dist : float
        Largest distance of a match, same unit.
    """
    truth = np.asarray(truth, float).reshape(-1, 2)
    found = np.asarray(found, float).reshape(-1, 2)
    if not len(truth) or not len(found):
        return 0
    d = cdist(truth, found)
    cost = np.where(d <= max_dist, d, 1e9)
    r, c = linear_sum_assignment(cost)
    return int(np.sum(d[r, c] <= max_dist))


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
