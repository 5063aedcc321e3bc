"""The learned pixel stage: a small multilayer perceptron kept as plain arrays.

It is trained by ``make train`` (:mod:`railcount.detect.train`) on simulated
scenes with exact truth, and stored as ``.npz`` arrays in ``railcount/data/``,
so that prediction needs numpy only and no pickled estimator (whose format
changes between scikit-learn releases).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ..errors import RailcountError

__all__ = ["PixelModel", "load_model"]


@dataclass(frozen=True, eq=False)
class PixelModel:
    """Standardisation, hidden layers (ReLU) and a logistic output."""

    mean: np.ndarray
    scale: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    meta: dict[str, Any]
    select: np.ndarray | None = None  # indices of the features the model uses (None: all)

    def predict(self, feats: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Return the probability of "railcar body" for each feature vector.

        Works through the input in blocks of about 2**16 vectors, so memory
        beyond the output stays small whatever the input's size.

        Parameters
        ----------
        feats : ndarray, shape (..., n_features)
        mask : ndarray of bool, shape (...), optional
            Evaluate only where True; elsewhere the output is 0.

        Returns
        -------
        ndarray of float32, shape (...)
        """
        shape = feats.shape[:-1]
        n = feats.shape[-1]
        # blocks along the first axis (rows of a frame), flattened one at a time
        lead = feats.reshape((-1,) + feats.shape[-2:]) if feats.ndim > 2 else feats.reshape(-1, 1, n)
        keep = None if mask is None else np.asarray(mask, bool).reshape(lead.shape[:2])
        out = np.zeros(lead.shape[:2], dtype=np.float32)
        step = max(1, (1 << 16) // max(1, lead.shape[1]))
        for i in range(0, lead.shape[0], step):
            block = lead[i : i + step]
            if keep is None:
                out[i : i + step] = self._forward(block.reshape(-1, n)).reshape(block.shape[:2])
            else:
                m = keep[i : i + step]
                out[i : i + step][m] = self._forward(block[m])
        return out.reshape(shape)

    def _forward(self, flat: np.ndarray) -> np.ndarray:
        if self.select is not None:
            flat = flat[:, self.select]
        h = flat - self.mean
        h /= self.scale
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = h @ w
            h += b
            np.maximum(h, 0.0, out=h)
        z = (h @ self.weights[-1])[:, 0]
        z += self.biases[-1][0]
        # logistic, in place: 1 / (1 + exp(-z))
        np.clip(z, -30, 30, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        return np.reciprocal(z, out=z)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays to store with ``numpy.savez``."""
        arrays: dict[str, np.ndarray] = {"mean": self.mean, "scale": self.scale}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"w{i}"] = w
            arrays[f"b{i}"] = b
        arrays["meta"] = np.array(repr(self.meta))
        if self.select is not None:
            arrays["select"] = np.asarray(self.select, np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Any) -> "PixelModel":
        """Rebuild a model from the arrays of :meth:`to_arrays`."""
        n = sum(1 for k in arrays.keys() if k.startswith("w") and k[1:].isdigit())
        import ast

        meta = ast.literal_eval(str(arrays["meta"])) if "meta" in arrays else {}
        return cls(
            mean=np.asarray(arrays["mean"], np.float32),
            scale=np.asarray(arrays["scale"], np.float32),
            weights=tuple(np.asarray(arrays[f"w{i}"], np.float32) for i in range(n)),
            biases=tuple(np.asarray(arrays[f"b{i}"], np.float32) for i in range(n)),
            meta=meta,
            select=np.asarray(arrays["select"], np.int64) if "select" in arrays else None,
        )


@functools.lru_cache(maxsize=4)
def load_model(name: str) -> PixelModel:
    """Load a packaged model, ``railcount/data/<name>.npz``.

    Raises
    ------
    RailcountError
        If the model file is missing (run ``make train``).
    """
    ref = resources.files("railcount") / "data" / f"{name}.npz"
    try:
        with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as arrays:
            return PixelModel.from_arrays(dict(arrays))
    except FileNotFoundError:
        raise RailcountError(f"detector model {name!r} is missing from the package; run `make train`") from None
