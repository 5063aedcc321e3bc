"""Find track centrelines in an overhead image.

A track is two rails at the gauge (1.435 m standard, 1.520 m broad) on
sleepers about 2.6 m long in a ballast bed; a car on it is a body 2.5-3.3 m
wide centred on the same line. Seen across the track, all of these are
mirror-symmetric about the centreline. The finder works block by block:

1. the image is cut into square blocks of ``block_m`` metres (at least
   :data:`MIN_BLOCK_PX` pixels: see :func:`block_side_m`); in each, the
   dominant line directions come from a histogram of gradient orientations on a
   copy decimated to about 0.5 m (sleepers and noise are gone at that scale);
2. each block is projected across its direction: every pixel is binned by its
   distance across the track, so the block gives one finely sampled
   *across-track profile* (the pixels of a long block fall at every sub-pixel
   phase, so the profile resolves rails finer than a pixel);
3. physical cues are measured along each profile at every candidate centre:
   a pair of thin lines at the rail spacing ("lower than both sides", so an
   edge is not a line), bars of sleeper or car width (two opposite edges),
   mirror symmetry, contrast, and the along-track texture (sleepers vary along
   the track, rails and car bodies do not);
4. a small gradient-boosted model trained on simulated scenes
   (:mod:`railcount.training.tracks`) turns the cues into the probability that
   a track's centreline runs through the candidate;
5. the track points of all blocks are linked into chains: each point to its
   nearest collinear neighbours along its direction, one-to-one, then chain
   ends to collinear chain ends further along (a track continues under parked
   cars and through stretches where the rails are hidden);
6. each chain becomes a smoothed polyline; short, weak chains are dropped.

Everything is metric and vectorised over blocks (a few passes over the
pixels).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..priors import GAUGE_M, TRACK_SPACING_M
from .forest import Forest
from .geometry import near_polylines, polyline_length, resample_polyline, runs

__all__ = [
    "TrackLine",
    "TrackSet",
    "find_tracks",
    "snap_tracks",
    "block_side_m",
    "BLOCK_M",
    "MIN_BLOCK_PX",
    "MAX_BLOCK_M",
    "clip_tracks",
    "join_tracks",
    "RAIL_SPACING_M",
    "CUE_NAMES",
    "BlockProfiles",
    "block_profiles",
    "track_candidates",
]

#: Centre-to-centre spacing of the two rail heads: gauge plus one head width
#: (about 0.07 m), for standard and broad gauge.
RAIL_SPACING_M = (GAUGE_M["1435"] + 0.07, GAUGE_M["1520"] + 0.07)
#: A rail is a line "lower (or higher) than both sides" this many pixels away: about one pixel, the
#: width a rail takes in an image whatever its GSD (it is only 7 cm wide).
RAIL_SIDE_PX = 0.9
#: Side of the blocks the image is cut into, metres (when that is at least :data:`MIN_BLOCK_PX` pixels).
BLOCK_M = 16.0
#: Fewest pixels along a block's side. A block's profile averages its pixels along the track, and rails
#: two pixels apart show against noise only over about as many pixels as a 16 m block holds at 0.5 m:
#: at 0.8 m a 16 m block has 20.
MIN_BLOCK_PX = 32
#: Longest block: a track on the sharpest yard curve (300 m radius) stays within 0.28 m of a straight
#: line over 26 m (the sagitta, length**2 / (8 * radius)), so a block's profile still shows its rails.
MAX_BLOCK_M = 26.0


def block_side_m(gsd: float, block_m: float = BLOCK_M) -> float:
    """Side of the blocks tracks are looked for in at pixel size ``gsd``.

    ``block_m``, or :data:`MIN_BLOCK_PX` pixels where that is longer
    (coarser than 0.5 m), up to :data:`MAX_BLOCK_M`: there a block's profile
    averages as many pixels as the blocks the track models learnt from at
    0.2-0.5 m (they are fitted on 16 m blocks at every GSD).
    """
    return max(float(block_m), min(MIN_BLOCK_PX * float(gsd), MAX_BLOCK_M))


#: Half-widths of the bars looked for: sleepers (2.6 m long) and car bodies
#: (2.5-3.3 m wide), and wider ballast beds.
BAR_HALF_WIDTHS_M = (1.25, 1.45, 1.65, 1.95, 2.35)
#: Profiles are sampled no coarser than this across the track, metres.
MAX_BIN_M = 0.1
#: Half-width of the window the symmetry and contrast cues look at, metres.
WINDOW_M = 2.4
#: Names of the cue features, in the order of :func:`track_candidates`'s columns.
CUE_NAMES = (
    "pair_dark", "pair_bright", *(f"bar{w:g}_dark" for w in BAR_HALF_WIDTHS_M),
    *(f"bar{w:g}_bright" for w in BAR_HALF_WIDTHS_M), "symmetry", "contrast", "centre_level",
    "along_sd_centre", "along_sd_rails", "line_dark", "line_bright", "gsd",
    *(f"even{o:g}" for o in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0)),
    *(f"odd{o:g}" for o in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0)),
    "neighbour_track",
)
#: Candidates below this first-stage probability get no second look (probability 0).
CASCADE_MIN_P = 0.005
#: Candidates at or above this first-stage probability lend context to others.
CONTEXT_MIN_P = 0.05
#: Names of the context features of the second stage (from first-stage probabilities of other points).
CONTEXT_NAMES = ("p1", "ahead_max", "behind_max", "ahead_mean", "behind_mean", "along_count", "side_max")
#: Offsets across the track at which the profile's shape is sampled, metres.
SHAPE_OFFSETS_M = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0)


@dataclass(frozen=True, eq=False)
class TrackLine:
    """One track centreline.

    Attributes
    ----------
    points : ndarray, shape (n, 2)
        Polyline vertices as (row, col) in continuous pixel coordinates of the
        input image (pixel ``(i, j)`` spans ``[i, i+1) x [j, j+1)``).
    score : float
        Mean probability of the track points found on it (1 for user lines).
    source : {"image", "user"}
        Found in the image, or a user's line used as given.
    rails : float
        Share of its points at which a pair of rails is plainly seen.
    """

    points: np.ndarray
    score: float
    source: str = "image"
    rails: float = 0.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrackLine):
            return NotImplemented
        return (self.score == other.score and self.source == other.source and self.rails == other.rails
                and np.array_equal(self.points, other.points))

    __hash__ = None  # type: ignore[assignment]

    def length_px(self) -> float:
        """Length of the polyline in pixels."""
        d = np.diff(self.points, axis=0)
        return float(np.hypot(d[:, 0], d[:, 1]).sum())


@dataclass(frozen=True)
class TrackSet:
    """Tracks found in one image.

    Attributes
    ----------
    tracks : tuple of TrackLine
    gsd : float
        Ground sample distance of the image, metres.
    doubtful : tuple of TrackLine
        Chains the chain model doubted (no rail seen along a whole train looks
        like this): not tracks, but lines on which
        :func:`~railcount.detect.complete.complete_tracks` looks for a train.
    """

    tracks: tuple[TrackLine, ...]
    gsd: float
    doubtful: tuple[TrackLine, ...] = ()

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def length_m(self) -> float:
        """Total length of the tracks, metres."""
        return float(sum(t.length_px() for t in self.tracks) * self.gsd)


@dataclass(frozen=True)
class BlockGrid:
    """Square blocks covering an image, the first one starting ``offset`` (rows, cols) pixels before its corner.

    Two grids, one shifted by half a block, give every stretch of track a
    block that holds it well.
    """

    block_px: int
    offset: tuple[int, int]
    shape: tuple[int, int]

    @classmethod
    def cover(cls, image_shape: tuple[int, int], block_px: int, row_offset: int = 0, col_offset: int | None = None
              ) -> BlockGrid:
        rows, cols = image_shape
        off = (int(row_offset), int(row_offset if col_offset is None else col_offset))
        return cls(block_px, off, (max(1, math.ceil((rows + off[0]) / block_px)),
                                   max(1, math.ceil((cols + off[1]) / block_px))))

    @property
    def n(self) -> int:
        return self.shape[0] * self.shape[1]

    def index(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Block row and column of pixel rows and columns."""
        bi = np.minimum((rows + self.offset[0]) // self.block_px, self.shape[0] - 1)
        bj = np.minimum((cols + self.offset[1]) // self.block_px, self.shape[1] - 1)
        return bi, bj

    def centres_px(self) -> np.ndarray:
        """Block centres as (row, col) index coordinates, shape (blocks, 2)."""
        b = np.arange(self.n)
        nbx = self.shape[1]
        return np.stack([(b // nbx + 0.5) * self.block_px - self.offset[0],
                         (b % nbx + 0.5) * self.block_px - self.offset[1]], 1).astype(float)


@dataclass(frozen=True)
class BlockProfiles:
    """Across-track profiles of every block of a grid.

    Attributes
    ----------
    mean, along_sd : ndarray, shape (blocks, bins)
        Mean luminance and its standard deviation along the track at each
        distance across it.
    valid : ndarray of bool, shape (blocks, bins)
        Bins that enough pixels fell into.
    angles : ndarray, shape (blocks,)
        Track direction of each block, degrees (NaN: block not projected).
    du : float
        Bin size across the track, metres.
    gsd : float
        Pixel size of the image projected, metres.
    grid : BlockGrid
    """

    mean: np.ndarray
    along_sd: np.ndarray
    valid: np.ndarray
    angles: np.ndarray
    du: float
    gsd: float
    grid: BlockGrid

    @property
    def nbins(self) -> int:
        return int(self.mean.shape[1])

    def normals(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit across (normal) and along (tangent) vectors as (row, col), shape (blocks, 2) each."""
        a = np.radians(np.nan_to_num(self.angles))
        return np.stack([np.cos(a), -np.sin(a)], 1), np.stack([np.sin(a), np.cos(a)], 1)


def _block_mean(arr: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return arr
    r, c = (arr.shape[0] // k) * k, (arr.shape[1] // k) * k
    return arr[:r, :c].reshape(r // k, k, c // k, k).mean(axis=(1, 3))


def block_orientations(lum: np.ndarray, mask: np.ndarray, gsd: float, grid: BlockGrid,
                       origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Up to two line directions per block and their strengths.

    Returns
    -------
    angles : ndarray, shape (blocks, 2)
        Directions in degrees in ``[0, 180)`` from the column axis towards
        increasing rows: the track runs across its gradient.
    strength : ndarray, shape (blocks, 2)
        Height of each direction's histogram peak.
    """
    k = max(1, int(round(0.5 / gsd)))
    # averaging cells laid on the raster whose pixel `origin` is the image's first
    sr, sc = (-int(origin[0])) % k, (-int(origin[1])) % k
    small = _block_mean(lum[sr:, sc:], k)
    vmask = (_block_mean(mask[sr:, sc:].astype(np.float32), k) > 0.999) if k > 1 else mask
    sm = ndimage.gaussian_filter(small, 1.0)
    gr = np.zeros_like(sm)
    gc = np.zeros_like(sm)
    gr[1:-1] = 0.5 * (sm[2:] - sm[:-2])
    gc[:, 1:-1] = 0.5 * (sm[:, 2:] - sm[:, :-2])
    w = np.where(vmask, gr * gr + gc * gc, 0.0)
    nbin = 180
    ang = (np.degrees(np.arctan2(gr, gc)) + 90.0) % 180.0
    abin = np.minimum((ang * (nbin / 180.0)).astype(np.int64), nbin - 1)
    bi, bj = grid.index(sr + np.arange(sm.shape[0]) * k + k // 2, sc + np.arange(sm.shape[1]) * k + k // 2)
    bid = bi[:, None] * grid.shape[1] + bj[None, :]
    hist = np.bincount((bid * nbin + abin).ravel(), weights=w.ravel(), minlength=grid.n * nbin)
    hist = ndimage.gaussian_filter1d(hist.reshape(grid.n, nbin), 1.5, axis=1, mode="wrap")
    angles = np.full((grid.n, 2), np.nan)
    strength = np.zeros((grid.n, 2))
    work = hist.copy()
    rows = np.arange(work.shape[0])
    for j in range(2):
        i = np.argmax(work, axis=1)
        b = work[rows, i]
        a = work[rows, (i - 1) % nbin]
        c = work[rows, (i + 1) % nbin]
        den = a - 2 * b + c
        off = np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
        angles[:, j] = np.where(b > 0, ((i + 0.5 + off) * (180.0 / nbin)) % 180.0, np.nan)
        strength[:, j] = b
        dist = np.abs((np.arange(nbin)[None, :] - i[:, None] + nbin // 2) % nbin - nbin // 2)
        work = np.where(dist <= 10, 0.0, work)
    return angles, strength


def block_profiles(lum: np.ndarray, mask: np.ndarray, gsd: float, grid: BlockGrid, angles: np.ndarray
                   ) -> BlockProfiles:
    """Project every block across its track direction.

    Parameters
    ----------
    lum : ndarray, shape (rows, cols)
    mask : ndarray of bool, shape (rows, cols)
    gsd : float
        Pixel size, metres.
    grid : BlockGrid
    angles : ndarray, shape (blocks,)
        Track direction of each block in degrees; NaN skips a block.

    Returns
    -------
    BlockProfiles
    """
    block_px = grid.block_px
    du = min(MAX_BIN_M, gsd / 3.0)
    half = 0.5 * math.sqrt(2.0) * block_px * gsd + 1.0
    nbins = int(2 * math.ceil(half / du)) + 1
    rows, cols = lum.shape
    bi, bj = grid.index(np.arange(rows), np.arange(cols))
    bid = bi[:, None] * grid.shape[1] + bj[None, :]
    a = np.radians(np.nan_to_num(angles))
    scale = gsd / du
    centres = grid.centres_px()
    nr = (np.cos(a) * scale)[bid]
    nc = (-np.sin(a) * scale)[bid]
    u = (np.arange(rows)[:, None] - centres[bid, 0]) * nr
    u += (np.arange(cols)[None, :] - centres[bid, 1]) * nc
    k = np.rint(u).astype(np.int64) + nbins // 2
    del u, nr, nc
    ok = mask & (k >= 0) & (k < nbins) & np.isfinite(angles)[bid]
    flat = (bid * nbins + k)[ok]
    vals = lum[ok].astype(np.float64)
    n = grid.n * nbins
    s = np.bincount(flat, weights=vals, minlength=n).reshape(grid.n, nbins)
    q = np.bincount(flat, weights=vals * vals, minlength=n).reshape(grid.n, nbins)
    cnt = np.bincount(flat, minlength=n).reshape(grid.n, nbins).astype(np.float64)
    # normalised convolution over the pixel footprint fills bins between pixel phases
    sig = max(1.0, 0.4 * gsd / du)
    s, q, cnt = (ndimage.gaussian_filter1d(x, sig, axis=1, mode="constant") for x in (s, q, cnt))
    mean = s / np.maximum(cnt, 1e-9)
    sd = np.sqrt(np.maximum(q / np.maximum(cnt, 1e-9) - mean * mean, 0.0))
    valid = (cnt >= 2.0) & (cnt >= 0.3 * cnt.max(axis=1, keepdims=True))
    return BlockProfiles(np.where(valid, mean, 0.0), np.where(valid, sd, 0.0), valid, np.asarray(angles, float),
                         du, gsd, grid)


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """``out[:, i] = a[:, i - k]`` with edge values repeated (not wrapped)."""
    if k == 0:
        return a
    out = np.empty_like(a)
    if k > 0:
        out[:, k:] = a[:, :-k]
        out[:, :k] = a[:, :1]
    else:
        out[:, :k] = a[:, -k:]
        out[:, k:] = a[:, -1:]
    return out


def _cues(p: BlockProfiles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cue maps (cues, blocks, bins), where they are defined (blocks, bins), and each block's contrast scale."""
    du, gsd = p.du, p.gsd
    mu = p.mean
    e = max(1, int(round(max(0.2, 0.5 * gsd) / du)))
    edge = _shift(mu, -e) - _shift(mu, e)  # derivative across the track (increasing u)
    win = int(round(WINDOW_M / du))
    span = win + int(round(0.6 / du))
    ok = p.valid & _shift(p.valid, span) & _shift(p.valid, -span)
    # contrast scale of each block: its typical edge strength (a floor keeps flat blocks from exploding)
    good = p.valid.any(axis=1)
    sc = np.full(len(mu), np.nan)
    sc[good] = np.nanmedian(np.where(p.valid, np.abs(edge), np.nan)[good], axis=1)
    ref = float(np.median(sc[good])) if good.any() else 1.0
    sc = np.maximum(np.where(good, sc, ref), 0.5 * ref + 1e-9)[:, None]
    d = max(2, int(round(max(0.25, RAIL_SIDE_PX * gsd) / du)))
    line_d = np.minimum(_shift(mu, d) - mu, _shift(mu, -d) - mu) / sc
    line_b = np.minimum(mu - _shift(mu, d), mu - _shift(mu, -d)) / sc
    pair_d = np.full(mu.shape, -np.inf)
    pair_b = np.full(mu.shape, -np.inf)
    for h in sorted({int(round(0.5 * s / du)) for s in np.arange(RAIL_SPACING_M[0], RAIL_SPACING_M[1] + du, du)}):
        pair_d = np.maximum(pair_d, np.minimum(_shift(line_d, h), _shift(line_d, -h)))
        pair_b = np.maximum(pair_b, np.minimum(_shift(line_b, h), _shift(line_b, -h)))
    edge_n = edge / sc
    bars_d, bars_b = [], []
    tol = max(1, int(round(0.1 / du)))
    e_max = ndimage.maximum_filter1d(edge_n, 2 * tol + 1, axis=1)
    e_min = ndimage.minimum_filter1d(edge_n, 2 * tol + 1, axis=1)
    for w in BAR_HALF_WIDTHS_M:
        h = int(round(w / du))
        # dark bar: falling edge on the low side, rising on the high side
        bars_d.append(np.minimum(-_shift(e_min, h), _shift(e_max, -h)))
        bars_b.append(np.minimum(_shift(e_max, h), -_shift(e_min, -h)))
    # mirror symmetry and contrast over the window
    num = np.zeros_like(mu)
    den = np.zeros_like(mu)
    m1 = np.zeros_like(mu)
    m2 = np.zeros_like(mu)
    step = max(1, int(round(0.1 / du)))
    offs = range(step, win + 1, step)
    for o in offs:
        a, b = _shift(mu, o), _shift(mu, -o)
        num += np.abs(a - b)
        m1 += a + b
        m2 += a * a + b * b
    cnt = 2 * len(offs) + 1
    m1 += mu
    m2 += mu * mu
    wmean = m1 / cnt
    wsd = np.sqrt(np.maximum(m2 / cnt - wmean * wmean, 0.0))
    for o in offs:
        den += np.abs(_shift(mu, o) - wmean) + np.abs(_shift(mu, -o) - wmean)
    symmetry = 1.0 - num / np.maximum(den, 1e-9)
    contrast = wsd / sc
    far = int(round((WINDOW_M + 0.5) / du))
    centre_level = (mu - 0.5 * (_shift(mu, far) + _shift(mu, -far))) / sc
    sd = p.along_sd
    hr = int(round(0.5 * np.mean(RAIL_SPACING_M) / du))
    along_c = sd / sc
    along_r = 0.5 * (_shift(sd, hr) + _shift(sd, -hr)) / sc
    gsd_map = np.full(mu.shape, gsd)
    cues = np.stack([pair_d, pair_b, *bars_d, *bars_b, symmetry, contrast, centre_level, along_c, along_r,
                     line_d, line_b, gsd_map]).astype(np.float32)
    return cues, ok, sc[:, 0]


def _shape_features(p: BlockProfiles, blk: np.ndarray, kk: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The profile's shape around each candidate: its even and odd parts at :data:`SHAPE_OFFSETS_M`.

    Even: mean of the two sides less the centre; odd: absolute half-difference
    of the two sides (the sign of ``u`` is arbitrary). Both in units of the
    block's contrast scale.
    """
    mu = p.mean
    last = p.nbins - 1
    centre = mu[blk, kk]
    out = np.empty((len(blk), 2 * len(SHAPE_OFFSETS_M)), np.float32)
    for i, o in enumerate(SHAPE_OFFSETS_M):
        h = int(round(o / p.du))
        a = mu[blk, np.clip(kk - h, 0, last)]
        b = mu[blk, np.clip(kk + h, 0, last)]
        out[:, i] = (0.5 * (a + b) - centre) / scale[blk]
        out[:, len(SHAPE_OFFSETS_M) + i] = 0.5 * np.abs(a - b) / scale[blk]
    return out


def track_candidates(p: BlockProfiles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate track centres of every block and their cue features.

    Candidates are local maxima (within 0.5 m) of the rail-pair and bar cues.

    Returns
    -------
    block : ndarray of int, shape (n,)
    u_m : ndarray of float, shape (n,)
        Distance across the track from the block centre, metres.
    features : ndarray of float32, shape (n, len(CUE_NAMES))
    """
    cues, ok, scale = _cues(p)
    nb = len(BAR_HALF_WIDTHS_M)
    pair = np.maximum(cues[0], cues[1])
    bar = cues[2 : 2 + 2 * nb].max(axis=0)
    w = max(1, int(round(0.5 / p.du)))
    cand = np.zeros(pair.shape, bool)
    for c in (pair, bar):
        cmax = ndimage.maximum_filter1d(c, 2 * w + 1, axis=1)
        cand |= (c >= cmax) & (c > 0)
    cand &= ok
    blk, kk = np.nonzero(cand)
    # a yard's tracks are parallel 4.5-5.5 m apart: the best candidate score at that distance on either side
    score = np.where(cand, np.maximum(pair, bar), 0.0)
    lo, hi = int(round(4.3 / p.du)), int(round(5.7 / p.du))
    near = ndimage.maximum_filter1d(score, hi - lo + 1, axis=1)
    mid = (lo + hi) // 2
    neighbour = np.maximum(_shift(near, mid), _shift(near, -mid))[blk, kk]
    feats = np.hstack([cues[:, blk, kk].T, _shape_features(p, blk, kk, scale), neighbour[:, None]])
    u_m = (kk - p.nbins // 2) * p.du
    return blk, u_m, feats.astype(np.float32)


@dataclass(frozen=True)
class Candidates:
    """Candidate track points of an image, from every block of both grids and both block directions.

    Attributes
    ----------
    xy : ndarray, shape (n, 2)
        Position as (row, col) in metres of the working image's index coordinates.
    t : ndarray, shape (n, 2)
        Unit track direction (row, col).
    features : ndarray, shape (n, len(CUE_NAMES))
    angle : ndarray, shape (n,)
        Track direction in degrees.
    """

    xy: np.ndarray
    t: np.ndarray
    features: np.ndarray
    angle: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)


def context_features(xy: np.ndarray, t: np.ndarray, p1: np.ndarray, *, reach_m: float = 40.0) -> np.ndarray:
    """Second-stage features of each candidate from the first-stage probabilities of the others.

    A track is long: a true track point has likely points ahead of and behind
    it on the same line; and yards have parallel tracks 4.5-5.5 m apart.

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Candidate positions, metres.
    t : ndarray, shape (n, 2)
        Unit directions.
    p1 : ndarray, shape (n,)
        First-stage probabilities.

    Returns
    -------
    ndarray, shape (n, len(CONTEXT_NAMES))
    """
    from scipy.spatial import cKDTree

    n = len(xy)
    out = np.zeros((n, len(CONTEXT_NAMES)), np.float32)
    out[:, 0] = p1
    src = np.nonzero(p1 >= CONTEXT_MIN_P)[0]  # only likely points lend context
    if n < 2 or not len(src):
        return out
    near = cKDTree(xy[src]).query_ball_point(xy, reach_m)
    counts = np.fromiter((len(v) for v in near), int, n)
    if not counts.sum():
        return out
    i = np.repeat(np.arange(n), counts)
    j = src[np.concatenate([np.asarray(v, int) for v in near if len(v)])]
    keep = i != j
    i, j = i[keep], j[keep]
    d = xy[j] - xy[i]
    along = (d * t[i]).sum(1)
    lat = np.abs(d[:, 0] * t[i, 1] - d[:, 1] * t[i, 0])
    par = np.abs((t[i] * t[j]).sum(1)) >= math.cos(math.radians(6.0))
    same = par & (lat <= 0.5 + 0.02 * np.abs(along)) & (np.abs(along) >= 3.0)
    side = par & (lat >= 4.0) & (lat <= 6.0) & (np.abs(along) <= 10.0)
    pj = p1[j]
    for col, sel in ((1, same & (along > 0)), (2, same & (along < 0))):
        np.maximum.at(out[:, col], i[sel], pj[sel])
        s_ = np.bincount(i[sel], weights=pj[sel], minlength=n)
        c_ = np.bincount(i[sel], minlength=n)
        out[:, col + 2] = np.where(c_ > 0, s_ / np.maximum(c_, 1), 0.0)
    out[:, 5] = np.bincount(i[same], weights=(pj[same] >= 0.5).astype(float), minlength=n)
    np.maximum.at(out[:, 6], i[side], pj[side])
    return out


@dataclass(frozen=True)
class Working:
    """The image tracks are looked for in (see :func:`working_image`).

    Attributes
    ----------
    lum, mask : ndarray
        Luminance and valid pixels on the working grid.
    gsd : float
        Working pixel size, metres (a whole multiple of the input's).
    skip : (int, int)
        Input rows and columns before the first working pixel.
    origin : (int, int)
        The first working pixel in working pixels of the whole raster.
    """

    lum: np.ndarray
    mask: np.ndarray
    gsd: float
    skip: tuple[int, int]
    origin: tuple[int, int]


def working_image(lum: np.ndarray, mask: np.ndarray, gsd: float, origin: tuple[int, int] = (0, 0)) -> Working:
    """The image tracks are looked for in: imagery finer than 0.2 m is area-averaged to 0.2-0.4 m.

    ``origin`` is the image's first pixel in the raster it was cut from: the
    averaging cells are laid on the raster, so a window averages the pixels
    the whole raster would.
    """
    k = max(1, int(0.2 / gsd)) if gsd < 0.2 else 1
    if k == 1:
        return Working(lum, mask, gsd, (0, 0), (int(origin[0]), int(origin[1])))
    sr, sc = (-int(origin[0])) % k, (-int(origin[1])) % k
    return Working(_block_mean(lum[sr:, sc:], k), _block_mean(mask[sr:, sc:].astype(np.float32), k) > 0.999,
                   gsd * k, (sr, sc), ((int(origin[0]) + sr) // k, (int(origin[1]) + sc) // k))


def image_candidates(lum: np.ndarray, mask: np.ndarray, gsd: float, *, block_m: float = BLOCK_M,
                     origin: tuple[int, int] = (0, 0)) -> Candidates:
    """Candidate track points of a (working) image.

    Two block grids, the second shifted by half a block, both laid on the
    raster whose pixel ``origin`` is the image's first; in each block the
    dominant direction and, where it is at least 30 % as strong, the second one.
    """
    block_px = max(8, int(round(block_m / gsd)))
    xs, ts, fs, angs = [], [], [], []
    for phase in (0, block_px // 2):
        grid = BlockGrid.cover(lum.shape, block_px, (int(origin[0]) - phase) % block_px,
                               (int(origin[1]) - phase) % block_px)
        ang, strength = block_orientations(lum, mask, gsd, grid, origin)
        for j in range(2):
            angles = ang[:, j] if j == 0 else np.where(strength[:, 1] >= 0.3 * strength[:, 0], ang[:, 1], np.nan)
            if not np.isfinite(angles).any():
                continue
            prof = block_profiles(lum, mask, gsd, grid, angles)
            blk, u_m, feats = track_candidates(prof)
            nrm, tan = prof.normals()
            centre = grid.centres_px()[blk] * gsd
            xy = centre + u_m[:, None] * nrm[blk]
            inside = np.all(np.abs(xy - centre) <= 0.5 * block_px * gsd, axis=1)
            xs.append(xy[inside])
            ts.append(tan[blk][inside])
            fs.append(feats[inside])
            angs.append(angles[blk][inside])
    if not xs:
        return Candidates(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, len(CUE_NAMES)), np.float32), np.zeros(0))
    return Candidates(np.concatenate(xs), np.concatenate(ts), np.concatenate(fs), np.concatenate(angs))


def _link(xy: np.ndarray, t: np.ndarray, score: np.ndarray, *, max_dist: float, lat_tol: float,
          max_angle_deg: float, min_along: float, slope: float = 0.06) -> list[list[int]]:
    """Link points into chains: each to at most one neighbour on each side along its direction.

    Candidate links are taken cheapest first (distance plus a heavy penalty on
    lateral offset); a link is kept when both its points still have a free
    side facing each other.
    """
    from scipy.spatial import cKDTree

    n = len(xy)
    if n == 0:
        return []
    pairs = cKDTree(xy).query_pairs(max_dist, output_type="ndarray")
    nb = np.full((n, 2), -1, dtype=np.int64)
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        d = xy[j] - xy[i]
        ti, tj = t[i], t[j]
        along_i = (d * ti).sum(1)
        along_j = (d * tj).sum(1)
        lat_i = np.abs(d[:, 0] * ti[:, 1] - d[:, 1] * ti[:, 0])
        lat_j = np.abs(d[:, 0] * tj[:, 1] - d[:, 1] * tj[:, 0])
        lat = np.maximum(lat_i, lat_j)
        cosang = np.abs((ti * tj).sum(1))
        dist = np.hypot(d[:, 0], d[:, 1])
        keep = (lat <= lat_tol + slope * dist) & (cosang >= math.cos(math.radians(max_angle_deg))) \
            & (np.abs(along_i) >= min_along)
        i, j, along_i, along_j, lat, dist = (x[keep] for x in (i, j, along_i, along_j, lat, dist))
        cost = dist + 10.0 * lat - 2.0 * np.minimum(score[i], score[j])
        for k in np.argsort(cost, kind="stable"):
            a, b = int(i[k]), int(j[k])
            sa = 0 if along_i[k] > 0 else 1
            sb = 1 if along_j[k] > 0 else 0
            if nb[a, sa] >= 0 or nb[b, sb] >= 0:
                continue
            nb[a, sa] = b
            nb[b, sb] = a
    return _walk(nb)


def _walk(nb: np.ndarray) -> list[list[int]]:
    """Chains of a graph where each node has at most two neighbours (``-1``: none)."""
    n = len(nb)
    seen = np.zeros(n, bool)
    chains: list[list[int]] = []
    for s in range(n):
        if seen[s]:
            continue
        # walk to one end (or all the way round a loop)
        prev, cur = -1, s
        while True:
            nxt = [int(x) for x in nb[cur] if x >= 0 and x != prev]
            if not nxt or nxt[0] == s:
                break
            prev, cur = cur, nxt[0]
        chain = [cur]
        seen[cur] = True
        prev = -1
        while True:
            nxt = [int(x) for x in nb[cur] if x >= 0 and x != prev and not seen[x]]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            chain.append(cur)
            seen[cur] = True
        chains.append(chain)
    return chains


def _suppress(xy: np.ndarray, t: np.ndarray, score: np.ndarray, radius: float, lat_tol: float) -> np.ndarray:
    """Indices of points kept: a point within ``radius`` along and ``lat_tol`` across a better, parallel one goes."""
    from scipy.spatial import cKDTree

    order = np.argsort(-score, kind="stable")
    if len(order) < 2:
        return order
    tree = cKDTree(xy)
    keep = np.zeros(len(xy), bool)
    dropped = np.zeros(len(xy), bool)
    for i in order:
        if dropped[i]:
            continue
        keep[i] = True
        for j in tree.query_ball_point(xy[i], radius):
            if j == i or keep[j]:
                continue
            d = xy[j] - xy[i]
            lat = abs(d[0] * t[i][1] - d[1] * t[i][0])
            if lat <= lat_tol and abs(t[i] @ t[j]) > math.cos(math.radians(10)):
                dropped[j] = True
    return np.nonzero(keep)[0]


@dataclass(frozen=True)
class Chains:
    """Linked track points of an image, before each chain is judged a track or not.

    Attributes
    ----------
    xy, t : ndarray, shape (n, 2)
        Point positions (metres, working-image index coordinates) and unit directions.
    p : ndarray, shape (n,)
        Second-stage probability of each point.
    features : ndarray, shape (n, len(CUE_NAMES))
        Cue features of each point.
    chains : list of list of int
        Points of each chain, in order along it.
    gsd : float
        Pixel size of the working image, metres.
    threshold : float
        The point model's threshold (a point at or above it is "strong").
    """

    xy: np.ndarray
    t: np.ndarray
    p: np.ndarray
    features: np.ndarray
    chains: list[list[int]]
    gsd: float
    threshold: float

    def polyline(self, k: int, extend_m: float) -> np.ndarray:
        """Chain ``k`` as a polyline (metres), its ends extended by ``extend_m`` along their direction."""
        ch = self.chains[k]
        pts = smooth_polyline(self.xy[ch])
        e0 = pts[0] + extend_m * _outward(self.t[ch[0]], pts[0] - pts[1])
        e1 = pts[-1] + extend_m * _outward(self.t[ch[-1]], pts[-1] - pts[-2])
        return np.vstack([e0, pts, e1])


def smooth_polyline(pts: np.ndarray, *, half_window: float = 20.0, outlier: float = 0.5) -> np.ndarray:
    """Each vertex moved onto a line fitted to the vertices within ``half_window`` along the polyline.

    The fit is repeated once without vertices more than ``outlier`` off the
    first fit, so one misplaced point does not bend the track. A track's
    curvature is small over 40 m (a 300 m radius bends 0.7 m there), so the
    local line keeps curves while averaging out the scatter of single points.
    """
    pts = np.asarray(pts, float)
    n = len(pts)
    if n < 3:
        return pts
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    out = pts.copy()
    for i in range(n):
        near = np.abs(s - s[i]) <= half_window
        if near.sum() < 3:
            continue
        use = near.copy()
        for _ in range(2):
            ss, pp = s[use], pts[use]
            a = np.polyfit(ss, pp, 1)  # (2, 2): slope and intercept of both coordinates
            fit = np.outer(s, a[0]) + a[1]
            resid = np.hypot(*(pts - fit).T)
            keep = near & (resid <= outlier)
            if keep.sum() < 3 or np.array_equal(keep, use):
                break
            use = keep
        out[i] = s[i] * a[0] + a[1]
    return out


def track_chains(lum: np.ndarray, mask: np.ndarray | None = None, *, gsd: float, block_m: float = BLOCK_M,
                 weak: float = 0.3, bridge_m: float = 120.0,
                 models: tuple[Forest, Forest] | None = None, origin: tuple[int, int] = (0, 0)) -> Chains:
    """Track points of an image linked into chains (stages 1-5 of the finder).

    Points of at least ``weak`` times the point threshold take part
    (hysteresis: weak points may extend chains that strong points start);
    chains of one point are dropped. ``origin``: the image's first pixel in
    the raster it was cut from (see :func:`working_image`).
    """
    from .forest import load_forest

    stage1, stage2 = models if models is not None else (load_forest("track_points_1"), load_forest("track_points_2"))
    thr = float(stage2.meta.get("threshold", 0.5))
    m = np.ones(np.shape(lum), bool) if mask is None else np.asarray(mask, bool)
    w = working_image(np.asarray(lum, np.float32), m, gsd, origin)
    g = w.gsd
    cand = image_candidates(w.lum, w.mask, g, block_m=block_m, origin=w.origin)
    # positions in metres from the input's first pixel (less half a working pixel)
    cand = dataclasses.replace(cand, xy=cand.xy + np.array(w.skip, float) * gsd)
    empty = Chains(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros((0, len(CUE_NAMES)), np.float32),
                   [], g, thr)
    if not len(cand):
        return empty
    p1 = stage1.predict_proba(cand.features)
    prob = np.zeros(len(p1))
    live = p1 >= CASCADE_MIN_P
    ctx = context_features(cand.xy, cand.t, p1)
    prob[live] = stage2.predict_proba(np.hstack([cand.features[live], ctx[live]]))
    return link_points(cand, prob, gsd=g, threshold=thr, block_m=block_m, weak=weak, bridge_m=bridge_m)


def link_points(cand: Candidates, prob: np.ndarray, *, gsd: float, threshold: float, block_m: float = BLOCK_M,
                weak: float = 0.3, bridge_m: float = 120.0) -> Chains:
    """Link the candidates likely enough to be track points into chains.

    Candidates of at least ``weak * threshold`` take part; of those within a
    third of a block along and 1.5 m across each other only the likeliest;
    chains of one point are dropped.
    """
    sel = np.nonzero(prob >= weak * threshold)[0]
    sel = sel[_suppress(cand.xy[sel], cand.t[sel], prob[sel], 0.3 * block_m, 1.5)]
    xy, t, pr = cand.xy[sel], cand.t[sel], prob[sel]
    chains = _link(xy, t, pr, max_dist=2.5 * block_m, lat_tol=0.6, max_angle_deg=8.0, min_along=0.15 * block_m)
    chains = [ch for ch in chains if len(ch) >= 2]
    chains = _join_ends(chains, xy, max_gap=bridge_m, lat_tol=0.6)
    return Chains(xy, t, pr, cand.features[sel], chains, gsd, threshold)


#: Parallel tracks are at least 4.5 m apart (centre to centre, :data:`~railcount.priors.TRACK_SPACING_M`):
#: of two found more than a metre closer than that, one is not a track (or both are the same one).
MIN_SPACING_M = TRACK_SPACING_M[0] - 1.0
#: Names of the features of a whole chain (see :func:`chain_features`).
CHAIN_NAMES = ("length_m", "n_points", "p_mean", "p_max", "p_min", "strong_share", "pair_mean", "pair_share",
               "bar_mean", "contrast_mean", "symmetry_mean", "lateral_rms", "angle_sd", "gap_max",
               "parallel_share", "gsd")


def chain_features(c: Chains, *, extend_m: float = 4.0) -> np.ndarray:
    """Features of each chain as a whole (its length, evidence, straightness, neighbours).

    Returns
    -------
    ndarray, shape (len(c.chains), len(CHAIN_NAMES))
    """
    from scipy.spatial import cKDTree

    names = {n: i for i, n in enumerate(CUE_NAMES)}
    pair = np.maximum(c.features[:, names["pair_dark"]], c.features[:, names["pair_bright"]])
    bars = [i for n, i in names.items() if n.startswith("bar")]
    bar = c.features[:, bars].max(axis=1)
    owner = np.full(len(c.xy), -1)
    for k, ch in enumerate(c.chains):
        owner[ch] = k
    tree = cKDTree(c.xy) if len(c.xy) else None
    out = np.zeros((len(c.chains), len(CHAIN_NAMES)), np.float32)
    for k, ch in enumerate(c.chains):
        pts = c.xy[ch]
        poly = c.polyline(k, extend_m)
        gaps = np.hypot(*np.diff(pts, axis=0).T)
        # straightness: residuals from a quadratic along the chain's main axis
        centred = pts - pts.mean(0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        s_along = centred @ axis
        s_across = centred @ np.array([-axis[1], axis[0]])
        deg = min(2, len(ch) - 1)
        resid = s_across * 0
        if len(ch) > deg + 1:
            resid = s_across - np.polyval(np.polyfit(s_along, s_across, deg), s_along)
        ang = np.degrees(np.arctan2(c.t[ch, 0], c.t[ch, 1])) % 180.0
        ang = (ang - ang[0] + 90.0) % 180.0 - 90.0
        # parallel neighbours: points of other chains 4-6 m across
        par = 0.0
        if tree is not None:
            near = tree.query_ball_point(pts, 6.0)
            hits = 0
            for i, idx in zip(ch, near):
                d = c.xy[idx] - c.xy[i]
                lat = np.abs(d[:, 0] * c.t[i, 1] - d[:, 1] * c.t[i, 0])
                hits += bool(np.any((lat >= 4.0) & (owner[idx] != k) & (owner[idx] >= 0)))
            par = hits / len(ch)
        p = c.p[ch]
        out[k] = (polyline_length(poly), len(ch), p.mean(), p.max(), p.min(), np.mean(p >= c.threshold),
                  pair[ch].mean(), np.mean(pair[ch] >= 1.5), bar[ch].mean(),
                  c.features[ch, names["contrast"]].mean(), c.features[ch, names["symmetry"]].mean(),
                  float(np.sqrt(np.mean(resid ** 2))), float(np.std(ang)), float(gaps.max()), par, c.gsd)
    return out


def find_tracks(
    lum: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    gsd: float,
    block_m: float = BLOCK_M,
    min_length_m: float = 20.0,
    models: tuple[Forest, Forest, Forest] | None = None,
    origin: tuple[int, int] = (0, 0),
) -> TrackSet:
    """Find track centrelines in a luminance image.

    Parameters
    ----------
    lum : ndarray, shape (rows, cols)
        Luminance (any scale; e.g. from :func:`railcount.detect.image.to_luminance`).
    mask : ndarray of bool, optional
        Valid pixels.
    gsd : float
        Ground sample distance, metres.
    block_m : float
        Side of the blocks in which rails are projected, metres (at least
        :data:`MIN_BLOCK_PX` pixels, :func:`block_side_m`).
    min_length_m : float
        Shortest track kept.
    models : (Forest, Forest, Forest), optional
        Override the packaged models (track points, first and second stage;
        whole chains).
    origin : (int, int)
        The image's first pixel in the raster it was cut from: block grids
        are laid on the raster, so a window finds what the whole would.

    Returns
    -------
    TrackSet
    """
    from .forest import load_forest

    if models is None:
        models = (load_forest("track_points_1"), load_forest("track_points_2"), load_forest("track_chains"))
    block_m = block_side_m(gsd, block_m)
    c = track_chains(lum, mask, gsd=gsd, block_m=block_m, models=models[:2], origin=origin)
    lines: list[TrackLine] = []
    doubtful: list[TrackLine] = []
    if c.chains:
        cf = chain_features(c)
        pc = models[2].predict_proba(cf)
        rails_seen = cf[:, CHAIN_NAMES.index("pair_share")]
        thr = float(models[2].meta.get("threshold", 0.5))
        for k in range(len(c.chains)):
            poly = c.polyline(k, 0.25 * block_m)
            if polyline_length(poly) < min_length_m:
                continue
            # index metres of the working grid -> continuous pixel coordinates of the input
            line = TrackLine(points=(poly + 0.5 * c.gsd) / gsd, score=float(pc[k]), rails=float(rails_seen[k]))
            (lines if pc[k] >= thr else doubtful).append(line)
    rows, cols = np.shape(lum)
    box = (0.0, 0.0, float(rows), float(cols))
    lines = _drop_overlaps(clip_tracks(lines, box), gsd, min_length_m)
    return TrackSet(tuple(lines), gsd, tuple(clip_tracks(doubtful, box)))


def _drop_overlaps(lines: list[TrackLine], gsd: float, min_length_m: float, tol_m: float = MIN_SPACING_M
                   ) -> list[TrackLine]:
    """Keep one track where two run closer than tracks can (``tol_m``): the better one.

    Better is the one on which rails are plainly seen more often (a band
    between two tracks can look like one, but it has no rails), then the
    likelier and longer one. Stretches of the other that run beside a kept
    track are cut out; what remains of it is kept where at least
    ``min_length_m`` long.
    """
    order = sorted(range(len(lines)),
                   key=lambda i: (-round(lines[i].rails, 1), -lines[i].score * lines[i].length_px()))
    kept: list[TrackLine] = []
    for i in order:
        t = lines[i]
        s = resample_polyline(t.points, 1.0 / gsd)
        free = ~near_polylines(s, [k.points for k in kept], tol_m / gsd)
        for a, b in runs(free):
            if (b - a) >= max(2, min_length_m):
                kept.append(TrackLine(s[a:b], t.score, t.source, t.rails))
    return kept


def _end_line(pts: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """End point and outward unit direction of a chain's first point, fitted over ``reach`` metres."""
    d = np.hypot(*(pts - pts[0]).T)
    near = pts[d <= max(reach, float(np.sort(d)[1]) + 1e-9)]
    centred = near - near.mean(0)
    v = np.linalg.svd(centred, full_matrices=False)[2][0]
    v = v if float(v @ (pts[0] - pts[min(len(pts) - 1, 1)])) >= 0 else -v
    return pts[0], v


def _join_ends(chains: list[list[int]], xy: np.ndarray, *, max_gap: float, lat_tol: float,
               reach: float = 40.0, touch: float = 0.0) -> list[list[int]]:
    """Join chains whose ends face each other on one straight line across a gap (a track under cars).

    An end's direction is fitted over its last ``reach`` metres; two ends join
    when each lies within ``lat_tol`` (plus 0.5 % of the gap) of the other's
    line, they point at each other, and the gap is at most ``max_gap``.
    Ends closer than ``touch`` join when their directions agree (within 10
    degrees) wherever they point. Nearest pairs join first.
    """
    if len(chains) < 2:
        return chains
    ends = []  # (chain index, which end, point, outward direction)
    for ci, ch in enumerate(chains):
        pts = xy[ch]
        p0, v0 = _end_line(pts, reach)
        p1, v1 = _end_line(pts[::-1], reach)
        ends.append((ci, 0, p0, v0))
        ends.append((ci, 1, p1, v1))
    cand = []
    for a in range(len(ends)):
        ca, _, pa, va = ends[a]
        for b in range(a + 1, len(ends)):
            cb, _, pb, vb = ends[b]
            if ca == cb:
                continue
            d = pb - pa
            gap = float(np.hypot(*d))
            if gap > max_gap:
                continue
            if gap <= touch:
                if float(va @ vb) > -math.cos(math.radians(10.0)):
                    continue
            else:
                if float(d @ va) <= 0 or float(-d @ vb) <= 0 or float(va @ vb) > -math.cos(math.radians(4.0)):
                    continue
                tol = lat_tol + 0.005 * gap
                if abs(d[0] * va[1] - d[1] * va[0]) > tol or abs(d[0] * vb[1] - d[1] * vb[0]) > tol:
                    continue
            cand.append((gap, a, b))
    used: set[int] = set()
    parent = list(range(len(chains)))
    link: dict[tuple[int, int], tuple[int, int]] = {}
    for _gap, a, b in sorted(cand):
        if a in used or b in used:
            continue
        ca, cb = ends[a][0], ends[b][0]
        ra, rb = ca, cb
        while parent[ra] != ra:
            ra = parent[ra]
        while parent[rb] != rb:
            rb = parent[rb]
        if ra == rb:
            continue  # would close a loop
        parent[rb] = ra
        used.update((a, b))
        link[(ca, ends[a][1])] = (cb, ends[b][1])
        link[(cb, ends[b][1])] = (ca, ends[a][1])
    # walk the joined chains
    out: list[list[int]] = []
    seen = set()
    for ci in range(len(chains)):
        if ci in seen:
            continue
        # go to the start: an end with no link
        cur, end = ci, 0
        visited = {ci}
        while (cur, end) in link:
            nxt, nend = link[(cur, end)]
            if nxt in visited:
                break
            visited.add(nxt)
            cur, end = nxt, 1 - nend
        # walk from (cur, end) through the chain towards its other end
        joined: list[int] = []
        while True:
            seen.add(cur)
            joined.extend(chains[cur] if end == 0 else chains[cur][::-1])
            step = link.get((cur, 1 - end))
            if step is None or step[0] in seen:
                break
            cur, end = step
        out.append(joined)
    return out


def _outward(t: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``t`` or ``-t``, whichever points along ``d``."""
    return t if float(t @ d) >= 0 else -t


def snap_tracks(user: list[np.ndarray], found: TrackSet, *, tol_m: float = 3.0, min_run_m: float = 10.0
                ) -> TrackSet:
    """The tracks to search along when the user gives track lines.

    Found tracks that run within ``tol_m`` of a user line (and roughly
    parallel to it) are used where they do, so lines a few metres off or
    digitised on an older image still lead to the tracks in this image. Where
    no found track is near a user line, the line is used as given (its
    ``source`` is ``"user"``).

    Parameters
    ----------
    user : list of ndarray, shape (n, 2)
        User track lines as (row, col) in continuous pixel coordinates.
    found : TrackSet
        Tracks found in the image (:func:`find_tracks`).
    tol_m : float
        Snapping tolerance, metres.
    min_run_m : float
        Shorter stretches (of a found track near a user line, or of a user line
        with no found track near) are not kept.

    Returns
    -------
    TrackSet
    """
    from skimage.measure import approximate_polygon

    gsd = found.gsd
    step, tol = 1.0 / gsd, tol_m / gsd
    min_run = max(2, int(round(min_run_m)))
    user = [np.asarray(u, float) for u in user if len(u) >= 2]
    found_lines = [t.points for t in found.tracks]
    out: list[TrackLine] = []
    for t in found.tracks:
        s = resample_polyline(t.points, step)
        for a, b in runs(near_polylines(s, user, tol)):
            if b - a >= min_run:
                out.append(TrackLine(approximate_polygon(s[a:b], 0.1 / gsd), t.score, "image", t.rails))
    for u in user:
        s = resample_polyline(u, step)
        for a, b in runs(~near_polylines(s, found_lines, tol)):
            if b - a >= min_run:
                out.append(TrackLine(approximate_polygon(s[a:b], 0.1 / gsd), 1.0, "user"))
    return TrackSet(tuple(out), gsd)





def clip_tracks(lines: tuple[TrackLine, ...] | list[TrackLine], box: tuple[float, float, float, float]
                ) -> list[TrackLine]:
    """The parts of track lines inside a box ``(row_min, col_min, row_max, col_max)`` (bounds may be infinite)."""
    from shapely.geometry import LineString
    from shapely.geometry import box as make_box

    big = 1e12
    r0, c0, r1, c1 = (float(np.clip(v, -big, big)) for v in box)
    clip = make_box(c0, r0, c1, r1)
    out: list[TrackLine] = []
    for t in lines:
        part = LineString(t.points[:, ::-1]).intersection(clip)
        for g in getattr(part, "geoms", [part]):
            if g.geom_type == "LineString" and not g.is_empty and g.length > 0:
                out.append(TrackLine(np.asarray(g.coords)[:, ::-1].copy(), t.score, t.source, t.rails))
    return out


def join_tracks(pieces: list[TrackLine], *, gap_px: float, lat_px: float | None = None) -> list[TrackLine]:
    """Join pieces of track whose ends meet (within ``gap_px``) and run on in the same direction.

    Pieces cut at window seams become one track again, and so do the pieces
    of one track found either side of a train and along it; pieces of
    different sources stay apart. ``lat_px`` (default ``gap_px``) is how far
    across one end may lie from the line of the other.
    """
    lat = gap_px if lat_px is None else lat_px
    out: list[TrackLine] = []
    for source in ("image", "user"):
        group = [p for p in pieces if p.source == source and len(p.points) >= 2]
        if not group:
            continue
        xy = np.vstack([p.points for p in group])
        sizes = [len(p.points) for p in group]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        chains = [list(range(a, a + n)) for a, n in zip(starts, sizes)]
        owner = np.repeat(np.arange(len(group)), sizes)
        lengths = np.array([polyline_length(p.points) for p in group])
        for ch in _join_ends(chains, xy, max_gap=gap_px, lat_tol=lat, reach=20 * gap_px, touch=min(gap_px, lat)):
            pts = xy[ch]
            keep = np.concatenate([[True], np.hypot(*np.diff(pts, axis=0).T) > 1e-9])
            used = np.unique(owner[ch])
            w = np.maximum(lengths[used], 1e-9)
            score = float(np.average([group[i].score for i in used], weights=w))
            rails = float(np.average([group[i].rails for i in used], weights=w))
            out.append(TrackLine(pts[keep], score, source, rails))
    return out
