"""Railcars along tracks: what stands on each track, position by position, and where one car ends.

For each track strip (:mod:`railcount.detect.strips`) two learned models read
the 1-D signals around every position:

- ``car_body``: the probability that the position lies on a railcar's body;
- ``car_gap``: the probability that it lies in the coupling gap between two
  coupled cars (rather than inside a body).

Runs of body are consists (a car or a train of coupled cars). Each consist
is split into cars by dynamic programming over cut positions: a cut earns the
log-odds of a coupling gap there, and each car the log-likelihood of its
length under the car types of :data:`railcount.priors.CAR_TYPES`
(:func:`split_run`). A third model, ``car_verify``, judges each candidate car
as a whole (its length, how body-like and how track-like it is, the gaps at
its ends, its mean cross-section), and a candidate it gives at least
:data:`VERIFY_P` is a car. The models are trained on simulated scenes by ``make train``
(:mod:`railcount.training.cars`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..priors import CAR_TYPES, COUPLING_GAP_M
from .forest import Forest
from .strips import PROFILE_NAMES, SIGNAL_NAMES, STEP_M, Strip, position_features, strip_signals

__all__ = ["CarModels", "Candidate", "body_runs", "split_run", "candidates_of", "length_loglik", "candidate_features",
           "CANDIDATE_NAMES", "MIN_RUN_M", "mean_car_pitch_m", "in_a_slab", "bodies_beside",
           "SLAB_SIDE_M", "SLAB_P", "VERIFY_P", "COUPLED_P", "coupled", "taken"]

#: Shortest run of car body taken as a car (a short fragment is a shadow, a sign, a gantry).
MIN_RUN_M = 7.0
#: Breaks in a run of body shorter than this are bridged (coupling gaps, loads, catenary shadows).
BRIDGE_M = 1.6
#: Spread of a car's length over couplers around its type's length, metres.
LENGTH_SIGMA_M = 0.9
#: Car lengths over couplers the splitter allows, metres.
MIN_CAR_M, MAX_CAR_M = 9.5, 21.0

#: Distance either side of a car's axis at which no other car's axis lies, metres: tracks are at least
#: 4.5 m apart (:data:`~railcount.priors.TRACK_SPACING_M`), so a car on the next track has its axis 2 m
#: or more beyond this line, while the next row of a container stack has its axis on it.
SLAB_SIDE_M = 2.5
#: Car-body probability, on both sides at :data:`SLAB_SIDE_M`, at which a candidate is taken for part of a
#: slab. Measured on 40 validation scenes at 0.25-0.8 m (seeds disjoint from training and benchmark; 1,721
#: true and 242 false cars verified): at 0.85 the rule drops 21 false cars and 12 true ones; at 0.5, 91 false
#: and 211 true, because between two trains on tracks 4.5 m apart the car-body model sees bodies too.
SLAB_P = 0.85
#: Verifier probability at which a candidate is taken for a car, here and where completion counts the cars on
#: a line: the verifier's own best threshold on its out-of-fold candidates (``oof_best_threshold``, reported by
#: ``make train``). A candidate coupled to a car taken in its consist is taken from :data:`COUPLED_P` on
#: (:func:`coupled`). Measured with the whole detector on 40 validation scenes at 0.25-0.8 m (seeds disjoint
#: from training and benchmark) and on the simulated 2 km yard of the speed benchmark (500 cars): without the
#: consist rule, lower thresholds count the small validation scenes a little better (at 0.02 / 0.04 / 0.07 /
#: 0.12 / 0.2, mean absolute count error 25% / 26% / 26% / 28% / 30%, F1 0.827 / 0.828 / 0.823 / 0.814 /
#: 0.801), but the false cars they let in grow with the empty track searched (2 km yard: F1 0.781 at 0.04, 0.814
#: at 0.1, 0.855 at 0.2; 214, 144 and 76 false cars, most alone on empty track). Cars in a consist with a sure
#: one are rarely false: the consist rule at 0.04 gains 49 true cars and 18 false ones on the validation scenes.
VERIFY_P = 0.32
#: Verifier probability at which a candidate coupled to a car taken in its consist is taken too.
COUPLED_P = 0.04

def mean_car_pitch_m() -> float:
    """Mean length over couplers of the wagon types (locomotives aside): a coupled train's pitch."""
    return float(np.mean([t.length_m for t in CAR_TYPES.values() if t.name != "locomotive"]))


@dataclass(frozen=True)
class CarModels:
    """The three learned models of the car stage."""

    body: Forest
    gap: Forest
    verify: Forest | None = None

    @classmethod
    def packaged(cls) -> CarModels:
        from .forest import load_forest

        return cls(load_forest("car_body"), load_forest("car_gap"), load_forest("car_verify"))


@dataclass(frozen=True)
class Candidate:
    """A candidate car on a strip: samples ``[i0, i1)`` along it."""

    strip: int
    i0: int
    i1: int
    run: int  # index of its consist on the strip
    n_in_run: int

    @property
    def length_m(self) -> float:
        return (self.i1 - self.i0) * STEP_M


def body_runs(p_body: np.ndarray, *, threshold: float = 0.5) -> list[tuple[int, int]]:
    """Runs of railcar body along a strip: ``(start, stop)`` sample indices.

    The body probability is smoothed over 0.5 m; breaks shorter than
    :data:`BRIDGE_M` are bridged; runs shorter than :data:`MIN_RUN_M` dropped.
    """
    sm = ndimage.uniform_filter1d(p_body, 2 * int(round(0.25 / STEP_M)) + 1, mode="nearest")
    on = sm >= threshold
    bridge = max(1, int(round(BRIDGE_M / STEP_M)))
    on = ndimage.binary_closing(np.pad(on, bridge), structure=np.ones(bridge, bool))[bridge:-bridge]
    d = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    starts, stops = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    keep = (stops - starts) * STEP_M >= MIN_RUN_M
    return list(zip(starts[keep].tolist(), stops[keep].tolist()))


def length_loglik(lengths_m: np.ndarray, sigma_m: float = LENGTH_SIGMA_M) -> np.ndarray:
    """Log-likelihood of car lengths over couplers under the mixture of car types."""
    lengths_m = np.asarray(lengths_m, float)
    means = np.array([t.length_m for t in CAR_TYPES.values()])
    dens = np.exp(-0.5 * ((lengths_m[..., None] - means) / sigma_m) ** 2).mean(axis=-1)
    return np.log(dens / (sigma_m * math.sqrt(2 * math.pi)) + 1e-6)


def split_run(n: int, gap_logodds: np.ndarray) -> list[tuple[int, int]]:
    """Split a run of ``n`` body samples into cars by dynamic programming.

    A car between two cuts spans its length over couplers (one coupling gap
    of :data:`~railcount.priors.COUPLING_GAP_M` included); the first and last
    cars of the run lose half a gap each (the run ends at body ends). A cut
    at sample ``i`` earns ``gap_logodds[i]``; each car earns the log-likelihood
    of its length. Trains are mostly of one car type, so the split is made
    once per car type (every car of that type's length) and once for a mix of
    types (each car any type, at a cost of :data:`MIX_COST` per car), and the
    best is taken.

    Returns
    -------
    list of (start, stop)
        Car extents in samples relative to the run's start.
    """
    best_score, best_cars = -np.inf, None
    for means, cost in [((t.length_m,), 0.0) for t in CAR_TYPES.values()] + [(_TYPE_LENGTHS, MIX_COST)]:
        score, cars = _split(n, gap_logodds, np.asarray(means), cost)
        if score > best_score:
            best_score, best_cars = score, cars
    if best_cars is None:
        k = max(1, int(round(n * STEP_M / mean_car_pitch_m())))
        edges = np.linspace(0, n, k + 1).round().astype(int)
        return list(zip(edges[:-1].tolist(), edges[1:].tolist()))
    return best_cars


#: Lengths over couplers of the car types, metres.
_TYPE_LENGTHS = tuple(t.length_m for t in CAR_TYPES.values())
#: Cost per car of a train of mixed types against one of a single type (log-likelihood units).
MIX_COST = 0.7


def _split(n: int, gap_logodds: np.ndarray, means: np.ndarray, cost: float
           ) -> tuple[float, list[tuple[int, int]] | None]:
    """One dynamic programme of :func:`split_run` for cars of the given length(s); (score, cars)."""
    half_gap = 0.5 * float(np.mean(COUPLING_GAP_M))
    lo = max(1, int(round((MIN_CAR_M - 2 * half_gap) / STEP_M)))
    hi = int(round(MAX_CAR_M / STEP_M))
    if n < lo:
        return 0.0, [(0, n)]

    def ll(x: np.ndarray) -> np.ndarray:
        # relative to a car of exactly one of the lengths, so that fewer cars are not favoured by
        # the product of densities below one
        z = (x[..., None] - means) / LENGTH_SIGMA_M
        return np.log(np.exp(-0.5 * z * z).mean(axis=-1) + 1e-9) - cost

    seg_m = np.arange(hi + 1) * STEP_M
    ll_inner, ll_end, ll_both = ll(seg_m), ll(seg_m + half_gap), ll(seg_m + 2 * half_gap)
    best = np.full(n + 1, -np.inf)
    back = np.zeros(n + 1, dtype=int)
    best[0] = 0.0
    seg = hi - np.arange(hi - lo + 1)  # car lengths in samples, for the starts e - hi .. e - lo (ascending)
    # a car is at least lo samples long, so the best splits ending at lo consecutive samples depend only
    # on those ending before them: they are found together
    for e0 in range(lo, n + 1, lo):
        ends = np.arange(e0, min(e0 + lo, n + 1))
        starts = ends[:, None] - seg[None, :]
        first = starts == 0
        lk = np.where(first, ll_end[seg], ll_inner[seg])
        if ends[-1] == n:  # the run's last car
            lk[-1] = np.where(first[-1], ll_both[seg], ll_end[seg])
        at = np.maximum(starts, 0)
        gain = np.where(first, 0.0, gap_logodds[np.minimum(at, n - 1)])
        cand = np.where(starts >= 0, best[at] + lk + gain, -np.inf)
        k = np.argmax(cand, axis=1)  # the first of equals
        best[ends] = cand[np.arange(len(ends)), k]
        back[ends] = starts[np.arange(len(ends)), k]
    if not np.isfinite(best[n]):
        return -np.inf, None
    cars, e = [], n
    while e > 0:
        s = int(back[e])
        cars.append((s, e))
        e = s
    return float(best[n]), cars[::-1]


#: Names of the features of a candidate car (see :func:`candidate_features`).
CANDIDATE_NAMES = (
    "length_m", "length_loglik", "body_mean", "body_min", "body_q10", "gap_start", "gap_end", "run_length_m",
    "n_in_run", "rail_mean", "dev_mean", "edges_mean", "shadow_mean", "texture_mean", "ends_max", "chroma_mean",
    "gsd", *(f"{n}_car" for n in PROFILE_NAMES),
)


def candidate_features(cands: list[Candidate], p_body: list[np.ndarray], p_gap: list[np.ndarray],
                       signals: list[np.ndarray], gsd: float) -> np.ndarray:
    """Features of each candidate car as a whole: its length, its body and gap evidence, its mean signals
    and its mean folded cross-section (:data:`~railcount.detect.strips.PROFILE_NAMES`).

    Returns
    -------
    ndarray of float32, shape (len(cands), len(CANDIDATE_NAMES))
    """
    out = np.zeros((len(cands), len(CANDIDATE_NAMES)), np.float32)
    for j, c in enumerate(cands):
        pb = p_body[c.strip][c.i0 : c.i1]
        pg = p_gap[c.strip]
        sig = signals[c.strip][:, c.i0 : c.i1]
        n = len(pg)
        ends = signals[c.strip][7, max(0, c.i0 - 4) : min(n, c.i1 + 4)]
        ll = float(length_loglik(np.array([c.length_m + float(np.mean(COUPLING_GAP_M))]))[0])
        out[j] = (c.length_m, ll,
                  pb.mean(), pb.min(), np.quantile(pb, 0.1),
                  pg[max(0, c.i0 - 2) : c.i0 + 3].max(), pg[max(0, c.i1 - 3) : min(n, c.i1 + 2)].max(),
                  0.0, c.n_in_run, sig[0].mean(), sig[2].mean(), sig[3].mean(), sig[4].mean(), sig[1].mean(),
                  ends.max() if ends.size else 0.0, sig[6].mean(), gsd, *sig[len(SIGNAL_NAMES) :].mean(axis=1))
    return out


def candidates_of(p_body: list[np.ndarray], p_gap: list[np.ndarray], *, threshold: float = 0.5
                  ) -> list[Candidate]:
    """Candidate cars of every strip: body runs (:func:`body_runs`) split by :func:`split_run`."""
    out: list[Candidate] = []
    for i, (pb, pg) in enumerate(zip(p_body, p_gap)):
        for r, (a, b) in enumerate(body_runs(pb, threshold=threshold)):
            lo = np.log(np.clip(pg[a:b], 1e-3, 1 - 1e-3) / np.clip(1 - pg[a:b], 1e-3, 1))
            cars = split_run(b - a, lo)
            out.extend(Candidate(i, a + s, a + e, r, len(cars)) for s, e in cars)
    return out


def taken(cands: list[Candidate], p_body: list[np.ndarray], p_gap: list[np.ndarray], signals: list[np.ndarray],
          strips: list[Strip], models: CarModels, gsd: float, *, verify: bool = True
          ) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's score and whether it is taken for a car.

    With the verifier (``verify`` and a packaged ``car_verify``), the score is
    its probability and a candidate is taken at :data:`VERIFY_P` or more, or
    at :data:`COUPLED_P` or more where coupled to a car taken (:func:`coupled`);
    without, the score is the candidate's mean body probability and every one
    is taken. Either way a candidate in a slab (:func:`in_a_slab`) is not.
    The car stage and completion (which counts the cars along a line) take
    cars by this one rule.

    Returns
    -------
    score : ndarray of float, shape (len(cands),)
    keep : ndarray of bool, shape (len(cands),)
    """
    if verify and models.verify is not None:
        score = models.verify.predict_proba(candidate_features(cands, p_body, p_gap, signals, gsd))
        keep = coupled(cands, score >= VERIFY_P, score >= COUPLED_P)
    else:
        score = np.array([p_body[c.strip][c.i0 : c.i1].mean() for c in cands])
        keep = np.ones(len(cands), bool)
    keep &= ~in_a_slab(cands, keep, strips, models, gsd)
    return score, keep


def coupled(cands: list[Candidate], sure: np.ndarray, doubtful: np.ndarray) -> np.ndarray:
    """The sure candidates, and the doubtful ones coupled to them: a consist's cars are taken together.

    The candidates of one body run (``run`` on its ``strip``) are the cars of
    one consist, end to end in the order of ``i0``; a doubtful one is taken
    where the car next to it in the consist is taken, so a train is taken car
    by car from each sure one outwards, while a doubtful car alone on a track
    is not.

    Examples
    --------
    >>> cs = [Candidate(0, 0, 60, 0, 3), Candidate(0, 60, 120, 0, 3), Candidate(0, 120, 180, 0, 3)]
    >>> coupled(cs, np.array([False, False, True]), np.array([True, True, False])).tolist()
    [True, True, True]
    >>> coupled(cs, np.array([False, False, False]), np.array([True, True, True])).tolist()
    [False, False, False]
    """
    keep = np.asarray(sure, bool).copy()
    runs: dict[tuple[int, int], list[int]] = {}
    for j, c in enumerate(cands):
        runs.setdefault((c.strip, c.run), []).append(j)
    for members in runs.values():
        order = sorted(members, key=lambda j: cands[j].i0)
        for seq in (order, order[::-1]):  # outwards from each sure car, both ways along the consist
            for a, b in zip(seq[:-1], seq[1:]):
                if keep[a] and not keep[b] and doubtful[b]:
                    keep[b] = True
    return keep


def bodies_beside(strip: Strip, models: CarModels) -> tuple[np.ndarray, np.ndarray]:
    """Car-body probability along the lines :data:`SLAB_SIDE_M` either side of a strip's track, cut from the
    strip (0 where a line's cross-section is not all valid): where both are high, the track runs on a slab."""
    out = []
    for d in (-SLAB_SIDE_M, SLAB_SIDE_M):
        sh = strip.shifted(d)
        f = position_features(strip_signals(sh), strip.gsd)
        out.append(np.where(sh.core_valid(), models.body.predict_proba(f), 0.0))
    return out[0], out[1]


def in_a_slab(cands: list[Candidate], keep: np.ndarray, strips: list[Strip], models: CarModels,
              gsd: float) -> np.ndarray:
    """Which kept candidates have car bodies :data:`SLAB_SIDE_M` beside them on both sides.

    Tracks are at least 4.5 m apart, so no car stands with its axis that
    close to another's: bodies side by side at that distance are a slab (the
    rows of a container stack, a ribbed roof), not a train. The car-body
    model reads the lines either side, cut from the candidate's own strip;
    a candidate is in a slab where its mean body probability along the
    candidate reaches :data:`SLAB_P` on both.
    """
    side = {i: bodies_beside(strips[i], models) for i in sorted({c.strip for c, k in zip(cands, keep) if k})}
    out = np.zeros(len(cands), bool)
    for j, (c, k) in enumerate(zip(cands, keep)):
        if k:
            out[j] = min(float(p[c.i0 : c.i1].mean()) for p in side[c.strip]) >= SLAB_P
    return out
