"""Gradient-boosted trees kept as plain arrays, evaluated by a compiled walk.

The detector's learned stages are scikit-learn
:class:`~sklearn.ensemble.HistGradientBoostingClassifier` models trained by
``make train`` on simulated scenes. A pickled estimator is tied to the
scikit-learn release that wrote it, so the trees are stored instead as a few
flat arrays in an ``.npz`` file (:func:`export_hgb` writes them,
:class:`Forest` evaluates them with a small numba kernel): prediction needs
neither scikit-learn nor pickles and loads under any release.
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


@functools.cache
def _walk() -> Any:
    """The compiled tree walk (numba; compiled on first use and cached on disk, so ``import`` stays quick).

    ``walk(X, roots, feature, threshold, left, right, leaf, right_if_missing, value, baseline)`` returns, for
    each row of ``X``, ``baseline`` plus the value of the leaf it reaches in each tree, summed tree by tree.
    """
    import numba

    @numba.njit(cache=True, nogil=True)
    def walk(X, roots, feature, threshold, left, right, leaf, right_if_missing, value, baseline):
        out = np.empty(X.shape[0])
        for r in range(X.shape[0]):
            s = 0.0
            for t in range(roots.shape[0]):
                i = roots[t]
                while not leaf[i]:
                    x = X[r, feature[i]]
                    if np.isnan(x):
                        go_right = right_if_missing[i]
                    else:
                        go_right = x > threshold[i]
                    i = right[i] if go_right else left[i]
                s += value[i]
            out[r] = baseline + s
        return out

    return walk


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

        Each row walks down every tree to a leaf in compiled code (:func:`_walk`),
        so the work is the rows' own path lengths and nothing is held per (row, tree)
        pair. A missing value (NaN) takes the side the tree learned for it.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected X of shape (n, {self.n_features}), got {X.shape}")
        return _walk()(X, *self._walk_arrays, self.baseline)

    @functools.cached_property
    def _walk_arrays(self) -> tuple[np.ndarray, ...]:
        """Roots, split feature and threshold, both children of each node, whether it is a leaf, where a
        missing value goes (right: True) and each node's value; a leaf's split entries are never read."""
        return (self.roots.astype(np.intp), self.feature.astype(np.intp), self.threshold.astype(np.float64),
                self.left.astype(np.intp), self.right.astype(np.intp), self.leaf.astype(np.bool_),
                ~self.missing_left.astype(np.bool_), self.value.astype(np.float64))

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
