"""World-anchored deterministic noise for the scene simulator.

Every random texture and the sensor noise are functions of a seed and of an
integer position (a fine-raster pixel index or a lattice node), computed with a
counter-based hash rather than drawn from a stateful generator. A pixel
therefore gets the same value whichever window or strip of the scene is
rendered, which is what lets large scenes be rendered strip by strip and still
be byte-identical to a single-pass render.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hash_u64", "uniform", "gaussian", "value_noise", "fractal_noise"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (bijective avalanche on uint64)."""
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


def hash_u64(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Hash a seed and integer keys (broadcast together) to uint64.

    Parameters
    ----------
    seed : int
        Stream seed; different seeds give independent streams.
    *keys : int or ndarray of int
        Integer coordinates (may be negative); broadcast against each other.

    Returns
    -------
    ndarray of uint64
    """
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + _GOLDEN))
        for k in keys:
            kk = np.asarray(k, dtype=np.int64).view(np.uint64)
            h = _mix(h ^ (kk + _GOLDEN + (h << np.uint64(6)) + (h >> np.uint64(2))))
    return h


def uniform(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform values in ``[0, 1)`` (float64) from :func:`hash_u64`."""
    return (hash_u64(seed, *keys) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def gaussian(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Approximately standard-normal values (float32) from one hash per key.

    Four 16-bit uniforms of one 64-bit hash are summed (Irwin-Hall, scaled to
    unit variance): cheap, bounded at about +-3.5 sigma, and exactly reproducible.
    """
    h = hash_u64(seed, *keys)
    mask = np.uint64(0xFFFF)
    s = np.zeros(h.shape, dtype=np.float32)
    for shift in (0, 16, 32, 48):
        s += ((h >> np.uint64(shift)) & mask).astype(np.float32)
    # sum of 4 U(0,1): mean 2, variance 4/12
    return (s * (1.0 / 65536.0) - 2.0) * np.float32(np.sqrt(3.0))


def _smooth(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def value_noise(seed: int, ys: np.ndarray, xs: np.ndarray, cell: float) -> np.ndarray:
    """Smooth value noise in ``[0, 1]`` on an axis-aligned grid of positions.

    Parameters
    ----------
    seed : int
        Stream seed.
    ys, xs : ndarray, shape (rows,) and (cols,)
        Positions of the grid rows and columns in metres (any fixed frame).
    cell : float
        Lattice spacing in metres (the feature size of the noise).

    Returns
    -------
    ndarray, shape (rows, cols), float32
        Bilinear-smoothstep interpolation of hashed lattice values; separable,
        so cost is that of two full-array operations.
    """
    fy = np.asarray(ys, dtype=np.float64) / cell
    fx = np.asarray(xs, dtype=np.float64) / cell
    iy = np.floor(fy).astype(np.int64)
    ix = np.floor(fx).astype(np.int64)
    ty = _smooth(fy - iy).astype(np.float32)
    tx = _smooth(fx - ix).astype(np.float32)
    ly = np.arange(iy.min(), iy.max() + 2)
    lx = np.arange(ix.min(), ix.max() + 2)
    lattice = uniform(seed, ly[:, None], lx[None, :]).astype(np.float32)
    ry = iy - ly[0]
    rows = lattice[ry] * (1 - ty)[:, None] + lattice[ry + 1] * ty[:, None]  # (rows, nlx)
    rx = ix - lx[0]
    return rows[:, rx] * (1 - tx)[None, :] + rows[:, rx + 1] * tx[None, :]


def fractal_noise(
    seed: int, ys: np.ndarray, xs: np.ndarray, cell: float, *, octaves: int = 3, gain: float = 0.5
) -> np.ndarray:
    """Sum of ``octaves`` value-noise layers (halving cell size), scaled to ``[0, 1]``."""
    total = np.zeros((len(ys), len(xs)), dtype=np.float32)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        total += np.float32(amp) * value_noise(seed + 7919 * o, ys, xs, cell / (2**o))
        norm += amp
        amp *= gain
    return total / np.float32(norm)
