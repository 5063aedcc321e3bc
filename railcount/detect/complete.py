"""Tracks found by the cars standing on them.

Where long trains stand side by side, no rail is seen between them, and a
track under a train can be missed. But yard tracks are parallel, 4.5-5.5 m
apart (:data:`~railcount.priors.TRACK_SPACING_M`), and a train shows itself:
so beside every track found, lines at those distances are read with the car
body model (:mod:`railcount.detect.cars`), and a long run of car bodies there
becomes a track if the car stage finds and verifies at least two cars on it
(a train, not a slab of roof or road). New tracks are searched beside in
turn, so a yard of full tracks is filled in from the tracks at its edges.
The chains the track finder doubted (a whole train hides every rail) are
read the same way, along themselves and beside them up to a car's width
(such a chain may be the train's shadow or edge), where they run inside a yard.
First, each track found is moved across onto the train standing on it where
the car stage verifies plainly more cars there: a track placed from a train's
edge runs a little off the cars' axis, one found on its shadow up to a car's
width off, and its cars, read across it, are lost. Every track, found or added,
is then followed past its ends for as long as a train on it runs on (to the
picture's edge, or beyond the neighbour it was found beside). Last, the pieces
of one track (a track found either side of a train and the run added along the
train) are joined into one, so the car stage reads the train from end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..priors import TRACK_SPACING_M
from .cars import SLAB_P, CarModels, bodies_beside, candidates_of, taken
from .geometry import near_polylines, near_polylines_each, polyline_length, resample_polyline, runs
from .strips import STEP_M, Strip, position_features, strip_signals, track_strips
from .tracks import MIN_SPACING_M, TrackLine, TrackSet, join_tracks

__all__ = ["complete_tracks", "OFFSETS_M", "MIN_TRAIN_M", "YARD_M"]

#: Distances beside a track at which a neighbour is looked for, metres.
OFFSETS_M = tuple(np.arange(TRACK_SPACING_M[0] - 0.25, TRACK_SPACING_M[1] + 0.26, 0.5))
#: Shortest run of car bodies taken as a track: about two cars.
MIN_TRAIN_M = 25.0
#: Car-body probability, averaged along the line over :data:`SMOOTH_M`, that a run must hold.
BODY_P = 0.45
#: Cars the car stage must find and verify on a run before it is taken as a track (a train, not a slab).
MIN_CARS = 2
#: A doubted chain is read for trains where it runs within this distance of a found track
#: (two track spacings: a yard's tracks lie side by side), metres.
YARD_M = 2 * TRACK_SPACING_M[1]
#: Offsets across a doubted chain at which its train is looked for, metres: up to a car's width (3 m)
#: either side. A chain the track finder doubts is often not the track under a train but the train's
#: shadow or one of its long edges, which run beside the cars' axis as straight as a track does; where
#: the chain is joined across a gap it may also run a little off the track.
ACROSS_M = tuple(float(d) for d in np.arange(-3.0, 3.01, 0.5))
#: Positions read along each candidate line (every this many strip samples).
EVERY = 4
#: Shifts across a found track at which the car stage reads it again, metres: up to a car's width either
#: side (a track placed from a train's edge runs a little off the cars' axis, one placed on its shadow as
#: much as a car's width off, and the cars are then lost).
SHIFTS_M = (-3.0, -2.5, -2.0, -1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
#: Share of its length over which a track moved across may come closer than tracks can
#: (:data:`~railcount.detect.tracks.MIN_SPACING_M`) to another found track, beyond what it did as found: there
#: it would read the neighbour's train.
CROWDED_SHARE = 0.1
#: Car-body probability (averaged over :data:`SMOOTH_M`) below which no train stands on or beside a
#: track anywhere along it, so it is not read at other shifts.
NO_TRAIN_P = 0.3
#: Shifts (of :data:`SHIFTS_M`) at which a track is read, besides as found, for a train beside it: the car-body
#: model reads a car within about a metre of its axis only, and a track on a train's shadow runs 2-3 m off it.
NEAR_SHIFTS_M = (-2.5, -1.5, 1.5, 2.5)
#: A track whose rails are plainly seen along at least this share of it lies where its rails are: not moved.
RAILS_SEEN = 0.3
#: Longest gap between the ends of two pieces of one track that are joined, metres: the gap completion leaves
#: between a track and the run it adds along a train beyond it, and a little more.
JOIN_GAP_M = MIN_SPACING_M + 1.5
#: How far across from the line of one piece's end the other's may lie and still be joined to it, metres.
JOIN_LAT_M = 0.5
#: Stretch over which car-body probability is averaged along a candidate line, metres (about a car:
#: coupling gaps, car ends and a doubtful stretch of body do not break a train).
SMOOTH_M = 10.0
#: A track is followed past its ends along a train in steps this long, metres.
FOLLOW_STEP_M = 30.0
#: How far across its straight prolongation each step may end, metres: a track on the sharpest yard curve
#: (300 m radius) leaves the line of its last stretch by 1.5 m over 30 m.
FOLLOW_BEND_M = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)
#: Length of a track's end whose direction it is followed in, metres.
FOLLOW_TAIL_M = 15.0
#: A train may begin this far past a track's end and still be followed (a coupling gap, a buffer stop), metres.
FOLLOW_LEAD_M = 5.0
#: Farthest a track is followed past one of its ends, metres (a long train).
FOLLOW_MAX_M = 1500.0


def _normals(points: np.ndarray) -> np.ndarray:
    tan = np.gradient(points, axis=0)
    tan /= np.maximum(np.hypot(tan[:, 0], tan[:, 1]), 1e-12)[:, None]
    return np.column_stack([tan[:, 1], -tan[:, 0]])


@dataclass(frozen=True)
class _Reading:
    """One line as the car stage reads it: its strip, the strip's signals and position features."""

    strip: Strip
    signals: np.ndarray
    features: np.ndarray

    def body(self, models: CarModels, every: int = 1) -> np.ndarray:
        """Car-body probability every ``every`` strip samples (0 where the cross-section is not all valid)."""
        return np.where(self.strip.core_valid()[::every], models.body.predict_proba(self.features[::every]), 0.0)

    def verified_cars(self, models: CarModels) -> int:
        """How many cars the car stage finds and verifies along the line."""
        if models.verify is None:
            return 0
        p_body = self.body(models)
        p_gap = models.gap.predict_proba(self.features)
        cands = candidates_of([p_body], [p_gap])
        if not cands:
            return 0
        _, keep = taken(cands, [p_body], [p_gap], [self.signals], [self.strip], models, self.strip.gsd)
        return int(keep.sum())


def _read(lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray, line: np.ndarray, gsd: float) -> _Reading | None:
    """Sample the image along ``line`` and read its signals; None where it gives no strip."""
    strips = track_strips(lum, chroma, mask, TrackSet((TrackLine(line, 1.0),), gsd))
    if not strips:
        return None
    signals = strip_signals(strips[0])
    return _Reading(strips[0], signals, position_features(signals, gsd))


def _body_along(lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray, line: np.ndarray, gsd: float,
                models: CarModels) -> tuple[np.ndarray, np.ndarray]:
    """Car-body probability every ``EVERY`` strip samples along ``line``, and those samples' positions."""
    r = _read(lum, chroma, mask, line, gsd)
    if r is None:
        return np.zeros(0), np.zeros((0, 2))
    return r.body(models, EVERY), r.strip.centre[::EVERY]


def _verified_cars(lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray, line: np.ndarray, gsd: float,
                   models: CarModels) -> int:
    """How many cars the car stage finds and verifies along ``line``."""
    r = _read(lum, chroma, mask, line, gsd)
    return 0 if r is None else r.verified_cars(models)


def complete_tracks(lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray, tracks: TrackSet, models: CarModels,
                    *, rounds: int = 4) -> TrackSet:
    """Add the tracks that trains beside the found ones show.

    Parameters
    ----------
    lum, chroma : ndarray, shape (rows, cols)
        Contrast-normalised luminance and chroma.
    mask : ndarray of bool
    tracks : TrackSet
        Tracks found (user lines used as given are not searched beside).
    models : CarModels
    rounds : int
        How many times to search beside the tracks added last.

    Returns
    -------
    TrackSet
        ``tracks`` and the tracks added.
    """
    gsd = tracks.gsd
    kept = _followed(_recentred(list(tracks.tracks), lum, chroma, mask, gsd, models), [], lum, chroma, mask,
                     gsd, models)
    # first the doubted chains themselves, where they run inside a yard (near a track found): a train
    # verified along one makes it a track
    added: list[TrackLine] = []
    for t in tracks.doubtful:
        base = resample_polyline(t.points, STEP_M / gsd)
        if len(base) < 2 or not kept:
            continue
        near = near_polylines(base, [k.points for k in kept], YARD_M / gsd)
        nrm = _normals(base)
        for a, b in runs(near):
            if b - a >= 2:
                _trains_on([base[a:b] + off / gsd * nrm[a:b] for off in ACROSS_M], lum, chroma, mask, gsd, models,
                           kept, added)
    kept += _followed(added, kept, lum, chroma, mask, gsd, models)
    frontier = [t for t in kept if t.source == "image"]
    for _ in range(rounds):
        added = []
        for t in frontier:
            base = resample_polyline(t.points, STEP_M / gsd)
            if len(base) < 2:
                continue
            nrm = _normals(base)
            for side in (-1.0, 1.0):
                _trains_on([base + side * off / gsd * nrm for off in OFFSETS_M], lum, chroma, mask, gsd, models,
                           kept, added)
        if not added:
            break
        added = _followed(added, kept, lum, chroma, mask, gsd, models)
        kept += added
        frontier = added
    # a track found either side of a train and the run added along it are one track, left MIN_SPACING_M
    # apart (nothing is added that close to a kept track)
    return TrackSet(tuple(join_tracks(kept, gap_px=JOIN_GAP_M / gsd, lat_px=JOIN_LAT_M / gsd)), gsd)


def _recentred(lines: list[TrackLine], lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray, gsd: float,
               models: CarModels) -> list[TrackLine]:
    """The found tracks, each moved across onto the train standing on it.

    A track found from a train's edge runs a little off the cars' axis, and
    one found on a train's shadow (a dark band as long, straight and nearly
    as wide as the train) as much as a car's width off; the car stage, which
    reads a car across its track, then loses them. Each track with a train
    on or beside it (car-body probability of at least :data:`NO_TRAIN_P`
    averaged over :data:`SMOOTH_M` somewhere along it or along one of
    :data:`NEAR_SHIFTS_M` beside it) is read by the car stage at
    :data:`SHIFTS_M` across it and moved to the shift that verifies the most
    cars, if that is at least :data:`MIN_CARS` more than the track as found (a
    lone doubtful car does not move a track), and not onto a line closer to
    another found track than tracks can be (:data:`CROWDED_SHARE`). A track
    whose rails are seen (:data:`RAILS_SEEN`) stays.
    """
    out: list[TrackLine] = []
    for t in lines:
        if t.source != "image" or len(t.points) < 2 or t.rails >= RAILS_SEEN:
            out.append(t)
            continue
        base = resample_polyline(t.points, STEP_M / gsd)
        nrm = _normals(base)
        at = {d: base + d / gsd * nrm for d in SHIFTS_M}  # the track shifted across (NEAR_SHIFTS_M among them)
        # each shift is read once: first for a train on or beside the track, then for its cars
        reads = {d: _read(lum, chroma, mask, at[d], gsd) for d in (0.0, *NEAR_SHIFTS_M)}
        own = reads[0.0]
        readings = [r for r in reads.values() if r is not None]  # a line off the picture gives none
        if own is None or max(_smoothed(r.body(models, EVERY)).max() for r in readings) < NO_TRAIN_P:
            out.append(t)  # no train anywhere on or beside this track
            continue
        # a shift that brings the track closer than tracks can be to another is the neighbour's train
        others = [x.points for x in lines if x is not t]
        near = near_polylines_each([at[d] for d in SHIFTS_M], others, MIN_SPACING_M / gsd)
        share = {d: float(n.mean()) for d, n in zip(SHIFTS_M, near)}
        shifts = [d for d in SHIFTS_M if d != 0 and share[d] <= share[0.0] + CROWDED_SHARE]
        cars = []
        for d in shifts:  # a reading is let go once its cars are counted (long tracks: large strips)
            r = reads.pop(d) if d in reads else _read(lum, chroma, mask, at[d], gsd)
            cars.append(0 if r is None else r.verified_cars(models))
        k = int(np.argmax(cars)) if cars else -1  # the first of equals
        if cars and cars[k] >= own.verified_cars(models) + MIN_CARS:
            t = TrackLine(at[shifts[k]], t.score, t.source, t.rails)
        out.append(t)
    return out


def _followed(lines: list[TrackLine], others: list[TrackLine], lum: np.ndarray, chroma: np.ndarray,
              mask: np.ndarray, gsd: float, models: CarModels) -> list[TrackLine]:
    """``lines``, each prolonged past its ends as far as a train on it runs on.

    A track is found where its rails or its cars show it, and a train that
    runs on past the end of what was found (to the picture's edge, or beyond
    the neighbour it was found beside) would lose its cars there. From each
    end, the line is read ahead in steps of :data:`FOLLOW_STEP_M`, bent across
    by up to :data:`FOLLOW_BEND_M` to follow a curve, and prolonged along the
    bend with the most car bodies for as long as car-body probability
    (averaged over :data:`SMOOTH_M`) stays at :data:`BODY_P` or more and the
    lines :data:`~railcount.detect.cars.SLAB_SIDE_M` either side do not both
    show car bodies too (:data:`~railcount.detect.cars.SLAB_P`: a slab such as
    a container stack, as the car stage judges a car); it stops short of the
    other tracks. A prolongation is kept where the car stage verifies a car
    on it (two on one of :data:`MIN_TRAIN_M` or more).
    """
    out: list[TrackLine] = []
    for i, t in enumerate(lines):
        if t.source != "image" or len(t.points) < 2:
            out.append(t)
            continue
        rest = [x.points for x in others + out + lines[i + 1 :]]  # the others as prolonged so far
        pts = resample_polyline(t.points, STEP_M / gsd)
        ahead = _ahead(pts, rest, lum, chroma, mask, gsd, models)
        behind = _ahead(pts[::-1], rest, lum, chroma, mask, gsd, models)
        if len(ahead) or len(behind):
            t = TrackLine(np.vstack([behind[::-1], pts, ahead]), t.score, t.source, t.rails)
        out.append(t)
    return out


def _ahead(pts: np.ndarray, rest: list[np.ndarray], lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray,
           gsd: float, models: CarModels) -> np.ndarray:
    """Points prolonging the polyline ``pts`` (sampled every :data:`STEP_M`) past its last point along a train,
    or none (see :func:`_followed`)."""
    step = STEP_M / gsd
    n_tail = max(2, int(round(FOLLOW_TAIL_M / STEP_M)))
    n_lead = int(round(FOLLOW_LEAD_M / STEP_M))
    n_step = int(round(FOLLOW_STEP_M / STEP_M))
    reach = FOLLOW_STEP_M + SMOOTH_M
    line, new = pts, []
    while polyline_length(line) * gsd < FOLLOW_MAX_M + polyline_length(pts) * gsd:
        tail = line[-n_tail:]
        u = tail[-1] - tail[0]
        if not np.hypot(*u) > 0:
            break
        u = u / np.hypot(*u)
        nrm = np.array([u[1], -u[0]])
        best: tuple[float, _Reading, np.ndarray, np.ndarray] | None = None
        for d in sorted(FOLLOW_BEND_M, key=abs):  # straight on first
            # read on for another SMOOTH_M, so that the step's last stretch is averaged like the rest
            ext = resample_polyline(np.vstack([tail[-1], tail[-1] + (reach * u + d * nrm) / gsd]), step)[1:]
            r = _read(lum, chroma, mask, np.vstack([tail, ext]), gsd)
            if r is None:
                break
            body = r.body(models)
            p = body[r.strip.span[0] + len(tail):][:n_step]
            if d == 0 and not (_smoothed(body, 1)[r.strip.span[0] + len(tail):][: n_lead + 1] >= BODY_P / 2).any():
                break  # plainly no train begins here (the bends part by less than 0.4 m this close to the end)
            if best is None or p.mean() > best[0]:
                best = (float(p.mean()), r, ext, body)
        if best is None:
            break
        _, r, ext, body = best
        # car bodies along the bend, and none beside it where the next row of a slab would stand
        ext = ext[:n_step]
        own, left, right = (_smoothed(x, 1)[r.strip.span[0] + len(tail):][:n_step]
                            for x in (body, *bodies_beside(r.strip, models)))
        on = (own >= BODY_P) & (np.minimum(left, right) < SLAB_P)
        first = int(np.argmax(on)) if on.any() else len(on)
        if first > n_lead:
            break
        stop = len(on) if on[first:].all() else first + int(np.argmin(on[first:]))
        ext = ext[:stop]
        near = near_polylines(ext, rest, MIN_SPACING_M / gsd)
        if near.any():
            ext = ext[: int(np.argmax(near))]
        if len(ext) < 2:
            break
        new.append(ext)
        line = np.vstack([line, ext])
        if stop < len(on) or len(ext) < stop:
            break
    if not new:
        return np.zeros((0, 2))
    piece = np.vstack([pts[-1:], *new])
    need = MIN_CARS if polyline_length(piece) * gsd >= MIN_TRAIN_M else 1
    return piece[1:] if _verified_cars(lum, chroma, mask, piece, gsd, models) >= need else np.zeros((0, 2))


def _smoothed(p: np.ndarray, every: int = EVERY) -> np.ndarray:
    """Car-body probability read every ``every`` strip samples, averaged along its last axis over
    :data:`SMOOTH_M`."""
    width = max(1, int(round(SMOOTH_M / (every * STEP_M))))
    return ndimage.uniform_filter1d(p, width, axis=-1, mode="nearest")


def _trains_on(lines: list[np.ndarray], lum: np.ndarray, chroma: np.ndarray, mask: np.ndarray, gsd: float,
               models: CarModels, kept: list[TrackLine], added: list[TrackLine]) -> None:
    """Append to ``added`` the trains found along the best of ``lines`` (parallel candidates), stretch by stretch.

    A stretch is a run at least :data:`MIN_TRAIN_M` long of car-body
    probability of at least :data:`BODY_P` (averaged along the line over
    :data:`SMOOTH_M`), away from the tracks already kept or added, on which the
    car stage verifies at least :data:`MIN_CARS` cars.
    """
    step_px = EVERY * STEP_M / gsd
    probs, sampled = [], []
    for line in lines:
        p, at = _body_along(lum, chroma, mask, line, gsd, models)
        probs.append(p)
        sampled.append(at)  # where each probability was read (the strip runs on past the line's ends)
    n = min(len(p) for p in probs)
    if n < 2:
        return
    P = _smoothed(np.array([p[:n] for p in probs]))
    on = P.max(axis=0) >= BODY_P
    for a, b in runs(on):
        if (b - a) * step_px * gsd < MIN_TRAIN_M:
            continue
        k = int(np.argmax(P[:, a:b].mean(axis=1)))
        seg = sampled[k][a:b]
        free = ~near_polylines(seg, [x.points for x in kept + added], MIN_SPACING_M / gsd)
        for c, d in runs(free):
            piece = seg[c:d]
            if len(piece) < 2 or polyline_length(piece) * gsd < MIN_TRAIN_M:
                continue
            if _verified_cars(lum, chroma, mask, piece, gsd, models) >= MIN_CARS:
                added.append(TrackLine(piece, float(P[k, a + c : a + d].mean()), "image", 0.0))
