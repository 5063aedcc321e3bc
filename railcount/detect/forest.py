"""Gradient-boosted trees kept as plain arrays, evaluated with numpy.

The detector's learned stages are scikit-learn
:class:`~sklearn.ensemble.HistGradientBoostingClassifier` models trained by
``make train`` on simulated scenes. A pickled estimator is tied to the
scikit-learn release that wrote it, so the trees are stored instead as a few
flat arrays in an ``.npz`` file (:func:`export_hgb` writes them,
:class:`Forest` evaluates them): prediction needs numpy only and loads under
any release.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ..errors import RailcountError

__all__ = ["Forest", "export_hgb", "load_forest"]

#: Rows a forest walks at once (their (row, tree) pairs are held as flat arrays).
CHUNK_ROWS = 8192


@dataclass(frozen=True, eq=False)
class Forest:
    """A binary classifier made of regression trees whose raw outputs are summed.

    Attributes
    ----------
    feature, threshold, left, right, value, leaf, missing_left : ndarray
        One entry per node of all trees; ``left``/``right`` index the same arrays.
    roots : ndarray of int
        Index of each tree's root node.
    baseline : float
        Raw score before any tree.
    depth : int
        Depth of the deepest tree.
    meta : dict
        What the model was trained on (feature names, threshold, training figures).
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    missing_left: np.ndarray
    roots: np.ndarray
    baseline: float
    depth: int
    meta: dict[str, Any]

    @property
    def n_features(self) -> int:
        return int(self.meta.get("n_features", int(self.feature.max()) + 1))

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Sum of the trees' outputs (log-odds) for each row of ``X`` (n, n_features).

        Every (row, tree) pair walks down its tree until it reaches a leaf; the
        pairs still walking are kept in one flat array that shrinks at every
        level, so the work is the pairs' own path lengths, not the deepest
        tree's depth for every pair. Rows are taken :data:`CHUNK_ROWS` at a time.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected X of shape (n, {self.n_features}), got {X.shape}")
        n = X.shape[0]
        out = np.full(n, self.baseline)
        roots, feature, threshold, children, right_if_missing = self._walk_arrays
        n_trees, n_features = len(roots), X.shape[1]
        for start in range(0, n, CHUNK_ROWS):
            chunk = X[start : start + CHUNK_ROWS]
            m, flat = len(chunk), chunk.ravel()
            has_nan = bool(np.isnan(flat).any())
            node = np.tile(roots, m)  # pair j is (row j // n_trees, tree j % n_trees)
            row_at = np.repeat(np.arange(m, dtype=np.intp) * n_features, n_trees)
            walking = np.flatnonzero(~self.leaf[node])
            while walking.size:
                i = node[walking]
                x = flat[row_at[walking] + feature[i]]
                go_right = ~(x <= threshold[i])
                if has_nan:
                    go_right = np.where(np.isnan(x), right_if_missing[i], go_right)
                i = children[2 * i + go_right]
                node[walking] = i
                walking = walking[~self.leaf[i]]
            out[start : start + m] += self.value[node].reshape(m, n_trees).sum(axis=1)
        return out

    @functools.cached_property
    def _walk_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Roots, split feature and threshold, both children of each node (``children[2 * i + go_right]``)
        and where a missing value goes (right: True); a leaf's entries are never read."""
        children = np.stack([self.left, self.right], axis=1).astype(np.intp).ravel()
        return (self.roots.astype(np.intp), self.feature.astype(np.intp), self.threshold.astype(np.float64),
                children, ~self.missing_left.astype(bool))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row of ``X``."""
        return 1.0 / (1.0 + np.exp(-self.raw(X)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays :func:`load_forest` reads back."""
        return {
            "feature": self.feature, "threshold": self.threshold, "left": self.left, "right": self.right,
            "value": self.value, "leaf": self.leaf, "missing_left": self.missing_left, "roots": self.roots,
            "baseline": np.array(self.baseline), "depth": np.array(self.depth),
            "meta": np.array(json.dumps(self.meta, sort_keys=True)),
        }


def export_hgb(model: Any, meta: dict[str, Any]) -> Forest:
    """Turn a fitted binary ``HistGradientBoostingClassifier`` into a :class:`Forest`.

    Parameters
    ----------
    model : sklearn.ensemble.HistGradientBoostingClassifier
        Fitted on numeric features, two classes, no categorical features.
    meta : dict
        Stored with the trees (JSON-serialisable).
    """
    trees = [stage[0] for stage in model._predictors]
    feature, threshold, left, right, value, leaf, missing_left, roots = ([] for _ in range(8))
    depth = 0
    offset = 0
    for tree in trees:
        nodes = tree.nodes
        if np.any(nodes["is_categorical"]):
            raise ValueError("categorical splits are not supported")
        roots.append(offset)
        feature.append(nodes["feature_idx"].astype(np.int32))
        threshold.append(nodes["num_threshold"].astype(np.float64))
        leaf_ = nodes["is_leaf"].astype(bool)
        left.append(np.where(leaf_, 0, nodes["left"]).astype(np.int64) + offset)
        right.append(np.where(leaf_, 0, nodes["right"]).astype(np.int64) + offset)
        value.append(nodes["value"].astype(np.float64))
        leaf.append(leaf_)
        missing_left.append(nodes["missing_go_to_left"].astype(bool))
        depth = max(depth, int(nodes["depth"].max()) + 1)
        offset += len(nodes)
    base = float(np.ravel(model._baseline_prediction)[0])
    meta = dict(meta, n_features=int(model.n_features_in_))
    return Forest(np.concatenate(feature), np.concatenate(threshold), np.concatenate(left),
                  np.concatenate(right), np.concatenate(value), np.concatenate(leaf),
                  np.concatenate(missing_left), np.asarray(roots, np.int64), base, depth, meta)


def forest_from_arrays(arrs: Any) -> Forest:
    """Build a :class:`Forest` from the arrays of :meth:`Forest.to_arrays` (e.g. an open ``.npz``)."""
    return Forest(
        feature=np.asarray(arrs["feature"], np.int32), threshold=np.asarray(arrs["threshold"], np.float64),
        left=np.asarray(arrs["left"], np.int64), right=np.asarray(arrs["right"], np.int64),
        value=np.asarray(arrs["value"], np.float64), leaf=np.asarray(arrs["leaf"], bool),
        missing_left=np.asarray(arrs["missing_left"], bool), roots=np.asarray(arrs["roots"], np.int64),
        baseline=float(arrs["baseline"]), depth=int(arrs["depth"]), meta=json.loads(str(arrs["meta"])),
    )


@functools.cache
def load_forest(name: str) -> Forest:
    """Load a packaged model ``railcount/data/<name>.npz``.

    Raises
    ------
    RailcountError
        If the model file is missing (run ``make train``).
    """
    ref = resources.files("railcount") / "data" / f"{name}.npz"
    try:
        with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as arrs:
            return forest_from_arrays(arrs)
    except FileNotFoundError:
        raise RailcountError(f"the detector model {name!r} is missing from the package: run `make train`") from None
