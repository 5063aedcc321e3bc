"""Vector layout of a simulated rail site: tracks, railcars, look-alikes, masts.

Everything here is geometry in metres, drawn from numpy Generators seeded by
the scene spec only. Tracks are described in a curved *yard frame*: ``u``
runs along the yard axis, ``w`` across it, and the axis bends with a constant
curvature (``V = w + curvature * u**2 / 2`` before rotating to map
coordinates). A track is a lane at a fixed ``w`` over ``[u_start, u_end]``,
optionally entered and left by turnouts (smooth S-curves from a neighbouring
lane) or ended by a buffer stop; a crossover is a track of its own that leaves
one lane at a turnout, runs straight at 1:9 to 1:12 and joins the neighbouring
lane at a second turnout. Cars are rectangles centred on a lane, tangent to it.

Three independent random streams keep a site stable: the site seed draws the
geometry (tracks, buildings, masts), a second stream of it the crossovers, and
the style seed the look of every track (:class:`TrackLook`) and of the floor.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field

import numpy as np

from ..priors import CAR_TYPES, COUPLING_GAP_M, GAUGE_M, TRACK_SPACING_M
from .spec import XY, SceneSpec, TruthCar

__all__ = ["YardFrame", "Track", "TrackLook", "Box", "PlacedCar", "Layout", "make_layout", "CapacityError"]

logger = logging.getLogger(__name__)

#: Gap between car bodies is about 1 m; the body is this much shorter than the
#: length over couplers listed in :data:`railcount.priors.CAR_TYPES`, so that the
#: pitch of a coupled train equals the length over couplers.
BODY_SHORTENING_M = 1.0


class CapacityError(ValueError):
    """The requested cars do not fit on the scene's tracks."""


@dataclass(frozen=True)
class YardFrame:
    """The curved yard frame: ``u`` along the tracks, ``w`` across them."""

    cx: float
    cy: float
    angle_deg: float
    curvature: float

    @property
    def cos(self) -> float:
        return math.cos(math.radians(self.angle_deg))

    @property
    def sin(self) -> float:
        return math.sin(math.radians(self.angle_deg))

    def to_map(self, u: np.ndarray | float, w: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates of yard-frame points."""
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(w, dtype=np.float64) + 0.5 * self.curvature * u * u
        return self.cx + u * self.cos - v * self.sin, self.cy + u * self.sin + v * self.cos

    def from_map(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Yard-frame ``(u, w)`` of map points."""
        dx = np.asarray(x, dtype=np.float64) - self.cx
        dy = np.asarray(y, dtype=np.float64) - self.cy
        u = dx * self.cos + dy * self.sin
        v = -dx * self.sin + dy * self.cos
        return u, v - 0.5 * self.curvature * u * u

    def heading_deg(self, u: float) -> float:
        """Direction of the tracks at ``u``, degrees counter-clockwise from east."""
        return self.angle_deg + math.degrees(math.atan(self.curvature * u))

    def arclength(self, u: np.ndarray | float) -> np.ndarray:
        """Arc length along a lane from ``u = 0`` (lanes are parallel to the axis)."""
        u = np.asarray(u, dtype=np.float64)
        k = self.curvature
        if abs(k) < 1e-12:
            return u
        ku = k * u
        return 0.5 * (u * np.sqrt(1.0 + ku * ku) + np.arcsinh(ku) / k)

    def u_at(self, s: np.ndarray | float) -> np.ndarray:
        """Inverse of :meth:`arclength` (Newton iterations)."""
        s = np.asarray(s, dtype=np.float64)
        u = s.copy()
        for _ in range(6):
            u = u - (self.arclength(u) - s) / np.sqrt(1.0 + (self.curvature * u) ** 2)
        return u


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _crossover_ramp(t: np.ndarray, length: float, slope: float, curve: float) -> tuple[np.ndarray, np.ndarray]:
    """Lateral shift and its slope along a crossover, ``t`` metres from its start (of ``length``).

    A turnout curve of constant curvature over ``curve`` metres, a straight at
    ``slope`` and a second curve back to parallel: ``|shift|`` runs from 0 to
    ``slope * (length - curve)``.
    """
    t = np.clip(t, 0.0, length)
    back = length - t
    shift = np.where(t < curve, 0.5 * slope * t * t / curve,
                     np.where(back < curve, slope * (length - curve) - 0.5 * slope * back * back / curve,
                              slope * (t - 0.5 * curve)))
    grad = slope * np.minimum(1.0, np.minimum(t, back) / curve)
    return shift, grad


@dataclass(frozen=True)
class TrackLook:
    """How a track looks from above; drawn per track from the style seed.

    Attributes
    ----------
    rails : {"polished", "rusty"}
        Rail heads polished bright by wheels (running lines) or rusted dark
        (sidings, little-used tracks).
    head : (r, g, b)
        Albedo of the rail head (0.072 m wide).
    foot : (r, g, b)
        Albedo of the rail foot and web seen either side of the head (dark
        rust and grease), 0.15 m over all.
    rail_contrast : float
        0-1: how strongly foot, web and the stained ballast beside each rail
        darken; dust and fresh ballast make rails faint, grease makes them strong.
    stain_m : float
        Width of the band of rust- and brake-dust-stained ballast along each rail, metres.
    sleepers : {"concrete", "timber"}
    sleeper : (r, g, b)
        Sleeper albedo: light grey concrete or dark brown timber.
    sleeper_pitch, sleeper_width : float
        Sleeper spacing (0.55-0.65 m) and width across the track, metres.
    sleeper_cover : float
        0-1: how much ballast hides the sleepers (it varies sleeper by sleeper).
    bed_half_m : float
        Half the width of the ballast bed (beds of 3.2-5 m).
    bed_edge_m : float
        Width of the sloping shoulder over which the bed fades into the floor, metres.
    ballast : (r, g, b)
        Ballast albedo (grey, brown-grey, dark, rusty or fresh light granite).
    crib : float
        0-1: how much darker the ballast between the sleepers is than on the
        shoulders (fines, brake dust): the 2.6-3 m dark strip of a real track bed.
    weeds : float
        0-1: how overgrown the bed is.
    dirt : float
        0-1: oil and dirt darkening the bed between the rails.
    """

    rails: str
    head: tuple[float, float, float]
    foot: tuple[float, float, float]
    rail_contrast: float
    stain_m: float
    sleepers: str
    sleeper: tuple[float, float, float]
    sleeper_pitch: float
    sleeper_width: float
    sleeper_cover: float
    bed_half_m: float
    bed_edge_m: float
    ballast: tuple[float, float, float]
    crib: float
    weeds: float
    dirt: float


@dataclass(frozen=True)
class Track:
    """A track: a lane at offset ``offset`` over ``[u_start, u_end]`` with optional turnouts.

    ``lead_in``/``lead_out`` are ``(offset_of_other_lane, length)``: an S-curve
    from the other lane over ``[u_start - length, u_start]`` (or away from this
    lane over ``[u_end, u_end + length]``). Without a lead the track ends at a
    buffer stop.

    A crossover (``kind="crossover"``) has ``cross = (to_offset, slope, curve)``:
    it leaves the lane at ``offset`` at ``u_start`` on a turnout curve of
    ``curve`` metres (constant curvature), runs straight with ``|dw/du| = slope``
    and joins the lane at ``to_offset`` at ``u_end`` on a second curve.
    """

    track_id: int
    offset: float
    u_start: float
    u_end: float
    lead_in: tuple[float, float] | None = None
    lead_out: tuple[float, float] | None = None
    gauge: str = "1435"
    kind: str = "yard"
    look: TrackLook | None = None
    cross: tuple[float, float, float] | None = None

    @property
    def laid_look(self) -> TrackLook:
        """The look of a laid track: every track of a layout has one (:func:`make_layout`)."""
        if self.look is None:
            raise RuntimeError(f"track {self.track_id} has no look; make_layout gives every track one")
        return self.look

    @property
    def extent(self) -> tuple[float, float]:
        """``u`` range of the whole track, turnouts included."""
        a = self.u_start - (self.lead_in[1] if self.lead_in else 0.0)
        b = self.u_end + (self.lead_out[1] if self.lead_out else 0.0)
        return a, b

    @property
    def buffer_stops(self) -> tuple[bool, bool]:
        """Whether the track ends at a buffer stop at ``u_start`` and at ``u_end``."""
        if self.cross is not None:
            return False, False
        return self.lead_in is None, self.lead_out is None

    def offset_at(self, u: np.ndarray) -> np.ndarray:
        """Centreline ``w`` at ``u`` (NaN outside the track)."""
        u = np.asarray(u, dtype=np.float64)
        w = np.full(u.shape, self.offset, dtype=np.float64)
        if self.cross:
            to, slope, curve = self.cross
            w = w + math.copysign(1.0, to - self.offset) * _crossover_ramp(u - self.u_start, self.u_end - self.u_start,
                                                                          slope, curve)[0]
        if self.lead_in:
            o, L = self.lead_in
            t = (u - (self.u_start - L)) / L
            w = np.where(u < self.u_start, o + (self.offset - o) * _smoothstep(t), w)
        if self.lead_out:
            o, L = self.lead_out
            t = (u - self.u_end) / L
            w = np.where(u > self.u_end, self.offset + (o - self.offset) * _smoothstep(t), w)
        a, b = self.extent
        return np.where((u >= a) & (u <= b), w, np.nan)

    def slope_at(self, u: np.ndarray) -> np.ndarray:
        """``dw/du`` of the centreline (non-zero on turnouts and crossovers only)."""
        u = np.asarray(u, dtype=np.float64)
        g = np.zeros(u.shape)
        if self.cross:
            to, slope, curve = self.cross
            g = math.copysign(1.0, to - self.offset) * _crossover_ramp(u - self.u_start, self.u_end - self.u_start,
                                                                       slope, curve)[1]
        if self.lead_in:
            o, L = self.lead_in
            t = np.clip((u - (self.u_start - L)) / L, 0, 1)
            g = np.where(u < self.u_start, (self.offset - o) * 6 * t * (1 - t) / L, g)
        if self.lead_out:
            o, L = self.lead_out
            t = np.clip((u - self.u_end) / L, 0, 1)
            g = np.where(u > self.u_end, (o - self.offset) * 6 * t * (1 - t) / L, g)
        return g

    @property
    def gauge_m(self) -> float:
        return GAUGE_M["1520"] if self.gauge == "1520" else GAUGE_M["1435"]


@dataclass(frozen=True)
class Box:
    """A rotated rectangle (or, with ``kind='tree'``, a disc of diameter ``length``) to draw.

    ``height`` is the top above ground in metres; ``overhead`` objects (gantry
    beams, cantilever arms) float at ``height`` and cast a detached shadow.
    """

    kind: str
    cx: float
    cy: float
    length: float
    width: float
    angle_deg: float
    height: float
    colour: tuple[float, float, float]
    variant: str = ""
    key: int = 0
    overhead: bool = False

    def corners(self) -> np.ndarray:
        return _rect_corners(self.cx, self.cy, self.length, self.width, self.angle_deg)


@dataclass(frozen=True)
class PlacedCar:
    """A railcar to draw: its truth, plus its look."""

    truth: TruthCar
    colour: tuple[float, float, float]
    load_colour: tuple[float, float, float]
    variant: str
    key: int
    flip: bool = False


@dataclass(frozen=True)
class Layout:
    """The vector content of a scene."""

    frame: YardFrame
    tracks: tuple[Track, ...]
    cars: tuple[PlacedCar, ...]
    ground: tuple[Box, ...]
    objects: tuple[Box, ...]
    yard_w: tuple[float, float]
    yard_floor: tuple[float, float, float]
    floor_kind: str = "gravel"
    extras: dict = field(default_factory=dict)


def _rect_corners(cx: float, cy: float, length: float, width: float, angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    ux, uy = math.cos(a), math.sin(a)
    vx, vy = -uy, ux
    hl, hw = length / 2, width / 2
    return np.array(
        [
            (cx - hl * ux - hw * vx, cy - hl * uy - hw * vy),
            (cx + hl * ux - hw * vx, cy + hl * uy - hw * vy),
            (cx + hl * ux + hw * vx, cy + hl * uy + hw * vy),
            (cx - hl * ux + hw * vx, cy - hl * uy + hw * vy),
        ]
    )


def _norm_angle(a: float) -> float:
    return (a + 90.0) % 180.0 - 90.0


# --------------------------------------------------------------------------- colours
#: Body colours (sRGB albedo, 0-255) by car type; drawn per consist, varied per car.
_PALETTE: dict[str, list[tuple[float, float, float]]] = {
    "gondola": [(62, 48, 40), (88, 60, 44), (48, 46, 46), (105, 70, 50), (60, 72, 58), (92, 40, 34)],
    "hopper": [(70, 56, 46), (118, 84, 60), (150, 148, 140), (185, 180, 170), (96, 44, 36), (60, 60, 62)],
    "tank": [(205, 205, 200), (175, 176, 172), (40, 40, 42), (222, 220, 212), (150, 150, 148), (70, 90, 120)],
    "boxcar": [(120, 54, 40), (140, 66, 44), (70, 86, 110), (90, 110, 80), (170, 170, 165), (150, 90, 60)],
    "flatcar": [(70, 60, 52), (55, 52, 50)],
    "locomotive": [(52, 98, 70), (160, 40, 36), (40, 70, 130), (210, 180, 60), (90, 90, 95)],
}


def _muted(colours, amount: float = 0.3):
    """Colours blended towards their grey: paint seen from orbit is dusty and faded."""
    out = []
    for c in colours:
        g = sum(c) / 3.0
        out.append(tuple(float(v + (g - v) * amount) for v in c))
    return out


_PALETTE = {k: _muted(v) for k, v in _PALETTE.items()}
_PALETTE["tank"] += [(215, 214, 208), (196, 198, 196)]
_PALETTE["boxcar"] += [(190, 160, 140), (150, 170, 185)]
_CONTAINER_COLOURS = [
    (170, 40, 30), (40, 80, 150), (30, 110, 70), (200, 200, 195), (210, 120, 40), (120, 120, 120),
    (150, 60, 100), (60, 60, 65), (190, 170, 60), (90, 150, 170),
]
_LOADS = {
    "coal": (30, 30, 32), "ore": (110, 62, 42), "scrap": (96, 80, 70), "timber": (150, 118, 80),
    "gravel": (150, 145, 135), "empty": (60, 48, 40),
}
_HEIGHTS = {t: CAR_TYPES[t].height_m for t in CAR_TYPES}


def _jitter(rng: np.random.Generator, colour, amount: float) -> tuple[float, float, float]:
    c = np.asarray(colour, dtype=float)
    c = c * (1.0 + rng.normal(0, amount)) + rng.normal(0, amount * 60, 3)
    r, g, b = (float(v) for v in np.clip(c, 8, 250))
    return r, g, b


def _car_look(rng: np.random.Generator, ctype: str, base, amount: float) -> tuple:
    colour = _jitter(rng, base, amount)
    variant = ""
    load: tuple[float, float, float] = _LOADS["empty"]
    if ctype == "gondola":
        variant = str(rng.choice(["coal", "ore", "scrap", "timber", "gravel", "empty"], p=[.3, .2, .15, .1, .1, .15]))
        load = _LOADS[variant]
    elif ctype == "hopper":
        variant = str(rng.choice(["covered", "open"], p=[.5, .5]))
        load = _LOADS[str(rng.choice(["ore", "coal", "gravel"]))]
    elif ctype == "flatcar":
        variant = str(rng.choice(["40ft", "2x20ft", "20ft", "empty"], p=[.45, .3, .1, .15]))
        load = _CONTAINER_COLOURS[int(rng.integers(len(_CONTAINER_COLOURS)))]
    elif ctype == "tank":
        variant = str(rng.choice(["plain", "walkway"], p=[.5, .5]))
    elif ctype == "boxcar":
        variant = str(rng.choice(["ribbed", "plain"]))
    elif ctype == "locomotive":
        variant = "diesel"
        load = _jitter(rng, (200, 200, 195), 0.05)
    return colour, tuple(float(v) for v in load), variant


# --------------------------------------------------------------------------- layout
def scene_bounds(spec: SceneSpec) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)``: left, top, right, bottom map coordinates of the scene."""
    x0, y0 = spec.origin if spec.origin is not None else default_origin(spec.crs)
    rows, cols = spec.shape
    return x0, y0, x0 + cols * spec.gsd, y0 - rows * spec.gsd


def default_origin(crs: str) -> tuple[float, float]:
    """A fixed top-left corner for scenes without an ``origin``: a round point of the CRS's area."""
    if str(crs).upper().startswith("EPSG:326") or str(crs).upper().startswith("EPSG:327"):
        return (500000.0, 4700000.0)
    return (0.0, 0.0)


def _visible_interval(frame: YardFrame, track: Track, bounds, margin: float) -> tuple[float, float] | None:
    """Longest ``u`` interval of the lane whose centreline stays ``margin`` inside the scene."""
    x0, y0, x1, y1 = bounds
    u = np.arange(track.u_start, track.u_end + 0.25, 0.25)
    if u.size < 2:
        return None
    x, y = frame.to_map(u, np.full(u.shape, track.offset))
    inside = (x > x0 + margin) & (x < x1 - margin) & (y < y0 - margin) & (y > y1 + margin)
    if not inside.any():
        return None
    # longest run of True
    d = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    i = int(np.argmax(ends - starts))
    return float(u[starts[i]]), float(u[ends[i] - 1])


def make_layout(spec: SceneSpec) -> Layout:
    """Lay out the site and place the railcars of ``spec``.

    Raises
    ------
    CapacityError
        If ``spec.n_cars`` cars do not fit on the tracks.
    """
    site = np.random.default_rng(np.random.SeedSequence([spec.site_seed, 11]))
    bounds = scene_bounds(spec)
    x0, y0, x1, y1 = bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    angle = spec.yard_angle_deg if spec.yard_angle_deg is not None else float(site.uniform(-90, 90))
    half_diag = math.hypot(x1 - x0, y0 - y1) / 2
    ext = half_diag + 80.0
    # shift the yard across its axis a little so it is not always centred
    yard_span = (spec.n_tracks - 1) * float(np.mean(TRACK_SPACING_M))
    room = max(0.0, min(x1 - x0, y0 - y1) / 2 - yard_span / 2 - 30.0)
    shift = 0.0 if spec.layout == "station" else float(site.uniform(-0.4, 0.4) * room)
    frame = YardFrame(cx, cy, angle, spec.curvature * (1 if site.random() < 0.5 else -1))

    # --- tracks
    style = np.random.default_rng(np.random.SeedSequence([spec.look_seed, 17]))
    palette = _site_palette(style)
    spacings = site.uniform(*TRACK_SPACING_M, size=max(0, spec.n_tracks - 1))
    offsets = np.concatenate([[0.0], np.cumsum(spacings)])
    offsets = offsets - offsets.mean() + shift
    gauges = _gauges(spec, site, spec.n_tracks)
    tracks: list[Track] = []
    if spec.layout == "station":
        tracks = _station_tracks(spec, site, style, palette, offsets, gauges, ext)
    else:
        tracks = _yard_tracks(spec, site, style, palette, offsets, gauges, ext)
    cross_rng = np.random.default_rng(np.random.SeedSequence([spec.site_seed, 13]))
    tracks += _crossovers(spec, cross_rng, style, palette, frame, tracks, bounds)

    # --- cars
    cars_rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 23]))
    cars = _place_cars(spec, cars_rng, frame, tracks, bounds)

    # --- ground, look-alikes, masts
    w_lo, w_hi = float(offsets.min()) - 2.5, float(offsets.max()) + 2.5
    floor = {
        "gravel": palette["gravel"],
        "soil": (150, 132, 108),
        "vegetated": (110, 122, 80),
        "ballast": palette["ballast"],
    }[spec.ground]
    floor = _jitter(site, floor, 0.03)
    ground, objects = _surroundings(spec, site, frame, (w_lo, w_hi), ext, tracks)
    return Layout(frame, tuple(tracks), tuple(cars), tuple(ground), tuple(objects), (w_lo, w_hi), floor, spec.ground)


def _gauges(spec: SceneSpec, rng: np.random.Generator, n: int) -> list[str]:
    if spec.gauge != "mixed":
        return [spec.gauge] * n
    base = "1520" if rng.random() < 0.5 else "1435"
    out = []
    for _ in range(n):
        r = rng.random()
        out.append("dual" if r < 0.12 else (base if r < 0.85 else ("1435" if base == "1520" else "1520")))
    return out


#: Ballast albedos: weathered grey, brown-grey (limestone, rust and dust), dark
#: (basalt, oil), rusty brown, fresh light granite.
_BALLASTS = ((134, 132, 126), (128, 120, 108), (94, 90, 85), (120, 106, 94), (156, 153, 146))
_BALLAST_P = (0.35, 0.27, 0.13, 0.1, 0.15)
#: Light grey yard gravel (as at Muttenz) and a sandier variant.
_GRAVELS = ((162, 164, 166), (170, 166, 156))
_RUSTY_HEADS = ((104, 78, 60), (86, 70, 58), (120, 94, 72), (70, 62, 56))


def _site_palette(rng: np.random.Generator) -> dict:
    """Site-wide tendencies of the look: the usual ballast, how many rails shine, concrete or timber, ..."""
    return dict(
        ballast=_jitter(rng, _BALLASTS[int(rng.choice(len(_BALLASTS), p=_BALLAST_P))], 0.04),
        gravel=_jitter(rng, _GRAVELS[int(rng.integers(len(_GRAVELS)))], 0.03),
        p_polished=float(rng.uniform(0.1, 0.6)),
        p_concrete=float(rng.uniform(0.2, 0.95)),
        contrast=float(rng.uniform(0.35, 1.0)),
        weedy=float(rng.uniform(0.0, 0.5)) if rng.random() < 0.4 else 0.0,
    )


def _track_look(rng: np.random.Generator, palette: dict, kind: str) -> TrackLook:
    """The look of one track: mostly the site's, sometimes renewed or neglected."""
    polished = rng.random() < (0.85 if kind == "main" else palette["p_polished"])
    concrete = rng.random() < palette["p_concrete"]
    if rng.random() < 0.75:
        ballast = _jitter(rng, palette["ballast"], 0.04)
    else:
        ballast = _jitter(rng, _BALLASTS[int(rng.integers(len(_BALLASTS)))], 0.05)
    weedy = rng.random() < (0.15 + palette["weedy"]) * (0.3 if kind == "main" else 1.0)
    return TrackLook(
        rails="polished" if polished else "rusty",
        head=_jitter(rng, (196, 194, 190) if polished else _RUSTY_HEADS[int(rng.integers(len(_RUSTY_HEADS)))], 0.05),
        foot=_jitter(rng, (50, 43, 38), 0.1),
        rail_contrast=float(np.clip(palette["contrast"] + rng.normal(0, 0.12), 0.25, 1.0)),
        stain_m=float(rng.uniform(0.15, 0.45)),
        sleepers="concrete" if concrete else "timber",
        sleeper=_jitter(rng, (172, 168, 160) if concrete else (80, 66, 54), 0.06),
        sleeper_pitch=float(rng.uniform(0.55, 0.65)),
        sleeper_width=float(rng.uniform(0.24, 0.30) if concrete else rng.uniform(0.22, 0.28)),
        sleeper_cover=float(rng.uniform(0.0, 0.4)),
        bed_half_m=1.6 + 0.9 * float(rng.random()) ** 1.5,
        bed_edge_m=float(rng.uniform(0.3, 1.2)),
        ballast=ballast,
        crib=float(rng.uniform(0.05, 0.3)),
        weeds=float(rng.uniform(0.05, 0.5)) if weedy else 0.0,
        dirt=float(rng.uniform(0.1, 0.4)) if rng.random() < 0.35 else 0.0,
    )


def _yard_tracks(spec, rng, style, palette, offsets, gauges, ext) -> list[Track]:
    n = len(offsets)
    n_main = 0 if n < 3 else int(rng.integers(1, 3))
    tracks: list[Track] = []
    main_side_low = rng.random() < 0.5
    order = list(range(n)) if main_side_low else list(range(n))[::-1]
    mains = set(order[:n_main])
    lanes: dict[int, tuple[float, float]] = {}
    for i in range(n):
        if i in mains:
            lanes[i] = (-ext, ext)
            continue
        a = -ext if rng.random() < 0.45 else float(rng.uniform(-ext * 0.75, ext * 0.1))
        b = ext if rng.random() < 0.45 else float(rng.uniform(max(a + 60, -ext * 0.1), max(a + 61, ext * 0.8)))
        lanes[i] = (a, min(b, ext))
    for i in range(n):
        kind = "main" if i in mains else "yard"
        a, b = lanes[i]
        lead_in = lead_out = None
        nbrs = [j for j in (i - 1, i + 1) if 0 <= j < n]
        if a > -ext:
            L = float(rng.uniform(38, 55))
            for j in rng.permutation(nbrs):
                ja, jb = lanes[int(j)]
                if ja <= a - L and jb >= a:
                    lead_in = (float(offsets[int(j)]), L)
                    break
        if b < ext:
            L = float(rng.uniform(38, 55))
            for j in rng.permutation(nbrs):
                ja, jb = lanes[int(j)]
                if ja <= b and jb >= b + L:
                    lead_out = (float(offsets[int(j)]), L)
                    break
        tracks.append(Track(i, float(offsets[i]), a, b, lead_in, lead_out, gauges[i], kind,
                            _track_look(style, palette, kind)))
    return tracks


def _station_tracks(spec, rng, style, palette, offsets, gauges, ext) -> list[Track]:
    """A through station: one main line across the scene, the other tracks leave it at both ends."""
    n = len(offsets)
    main = n // 2
    tracks = []
    span = ext * 0.55
    for i in range(n):
        if i == main:
            tracks.append(Track(i, float(offsets[i]), -ext, ext, None, None, gauges[i], "main",
                                _track_look(style, palette, "main")))
            continue
        # turnouts fan out from the neighbour towards the main line
        toward = i + 1 if i < main else i - 1
        L = 45.0
        stagger = abs(i - main) * (L + 8.0)
        a = -span + stagger * 0.3
        b = span - stagger * 0.3
        tracks.append(
            Track(i, float(offsets[i]), a - stagger, b + stagger, (float(offsets[toward]), L),
                  (float(offsets[toward]), L), gauges[i], "station", _track_look(style, palette, "station"))
        )
    # neighbour-lane extents must cover the turnouts: make inner tracks longer than outer ones
    fixed = []
    for t in tracks:
        if t.kind == "station":
            k = abs(t.track_id - main)
            a = -span - 20.0 + k * ((t.lead_in[1] if t.lead_in else 0.0) + 5.0)
            b = span + 20.0 - k * ((t.lead_out[1] if t.lead_out else 0.0) + 5.0)
            t = dataclasses.replace(t, u_start=a, u_end=b)
        fixed.append(t)
    return fixed


#: Crossover turnouts: slopes 1:9 to 1:12 on curves of 190-300 m radius.
_CROSSOVER_RATIO = (9.0, 12.0)
_TURNOUT_RADIUS_M = (190.0, 300.0)
#: Clearance kept between a crossover and any other turnout on the same lane, metres.
_JUNCTION_CLEARANCE_M = 10.0


def _lane_junctions(tracks: list[Track]) -> dict[float, list[tuple[float, float]]]:
    """``u`` intervals of each lane (keyed by offset) taken by the turnouts of other tracks."""
    busy: dict[float, list[tuple[float, float]]] = {}
    for t in tracks:
        if t.lead_in:
            busy.setdefault(t.lead_in[0], []).append((t.u_start - t.lead_in[1], t.u_start))
        if t.lead_out:
            busy.setdefault(t.lead_out[0], []).append((t.u_end, t.u_end + t.lead_out[1]))
    return busy


def _crossovers(spec, rng, style, palette, frame: YardFrame, tracks: list[Track], bounds) -> list[Track]:
    """Crossovers between neighbouring lanes of one gauge, inside the scene and clear of other turnouts.

    Each is a track of its own (``kind="crossover"``, ids after the parallel
    tracks): a turnout off one lane, a straight at 1:9 to 1:12 and a turnout
    onto the neighbouring lane, going either way.
    """
    n = int(rng.choice(4, p=(0.35, 0.3, 0.2, 0.15))) if spec.crossovers is None else spec.crossovers
    lanes = sorted(tracks, key=lambda t: t.offset)
    pairs = [(a, b) for a, b in zip(lanes, lanes[1:])
             if a.gauge == b.gauge or "dual" in (a.gauge, b.gauge)]
    busy = _lane_junctions(tracks)
    c = _JUNCTION_CLEARANCE_M
    out: list[Track] = []
    for _ in range(40 * n if pairs else 0):
        if len(out) == n:
            break
        a, b = pairs[int(rng.integers(len(pairs)))]
        if rng.random() < 0.5:  # which way the diagonal runs
            a, b = b, a
        slope = 1.0 / float(rng.uniform(*_CROSSOVER_RATIO))
        curve = float(rng.uniform(*_TURNOUT_RADIUS_M)) * slope
        length = abs(b.offset - a.offset) / slope + curve
        iv_a, iv_b = (_visible_interval(frame, t, bounds, 5.0) for t in (a, b))
        if iv_a is None or iv_b is None:
            continue
        lo = max(iv_a[0], iv_b[0]) + c
        hi = min(iv_a[1], iv_b[1]) - c - length
        if hi <= lo:
            continue
        u0 = float(rng.uniform(lo, hi))
        u1 = u0 + length
        if any(p < u1 + c and q > u0 - c for t in (a, b) for p, q in busy.get(t.offset, [])):
            continue
        look = dataclasses.replace(_track_look(style, palette, "crossover"), ballast=a.laid_look.ballast)
        gauge = b.gauge if a.gauge == "dual" else a.gauge
        out.append(Track(len(tracks) + len(out), a.offset, u0, u1, None, None, gauge, "crossover", look,
                         (b.offset, slope, curve)))
        for t in (a, b):
            busy.setdefault(t.offset, []).append((u0, u1))
    if spec.crossovers is not None and len(out) < n:
        logger.warning("only %d of %d crossovers fit between the tracks of this scene", len(out), n)
    return out


def _four(corners: np.ndarray) -> tuple[XY, XY, XY, XY]:
    """The four corners of a car's outline as a tuple of ``(x, y)`` floats."""
    a, b, c, d = ((float(p[0]), float(p[1])) for p in corners)
    return a, b, c, d


def _cut(intervals: list[list[float]], lo: float, hi: float, shortest: float) -> list[list[float]]:
    """``intervals`` without ``[lo, hi]``, dropping pieces shorter than ``shortest``."""
    out: list[list[float]] = []
    for a, b in intervals:
        pieces = [(a, min(b, lo)), (max(a, hi), b)] if lo < b and hi > a else [(a, b)]
        out.extend([p, q] for p, q in pieces if q - p > shortest)
    return out


def _consist_sizes(rng: np.random.Generator, n: int) -> list[int]:
    sizes = []
    left = n
    while left > 0:
        r = rng.random()
        if r < 0.15:
            k = 1
        elif r < 0.5:
            k = int(rng.integers(2, 7))
        else:
            k = int(rng.integers(8, 41))
        k = min(k, left)
        sizes.append(k)
        left -= k
    return sizes


def _place_cars(spec, rng, frame: YardFrame, tracks: list[Track], bounds) -> list[PlacedCar]:
    if spec.n_cars == 0:
        return []
    margin = 2.5
    free: dict[int, list[list[float]]] = {}
    crossings = [x for x in tracks if x.kind == "crossover"]
    for t in tracks:
        iv = _visible_interval(frame, t, bounds, margin + 1.8) if t.kind != "crossover" else None
        if iv is None:
            continue
        s0, s1 = float(frame.arclength(iv[0])), float(frame.arclength(iv[1]))
        # keep the half-length of the car off the image edge: cars are placed by body extent
        ivs = [[s0 + margin, s1 - margin]]
        # no car stands on a crossover's turnouts (nor beside its diagonal)
        for xo in crossings:
            if xo.cross is not None and t.offset in (xo.offset, xo.cross[0]):
                ivs = _cut(ivs, float(frame.arclength(xo.u_start)) - 2.0, float(frame.arclength(xo.u_end)) + 2.0,
                           12.0)
        ivs = [iv for iv in ivs if iv[1] - iv[0] > 12.0]
        if ivs:
            free[t.track_id] = ivs
    capacity = sum(b - a for ivs in free.values() for a, b in ivs)
    types = list(spec.car_types)
    wagon_types = [t for t in types if t != "locomotive"] or types
    sizes = sorted(_consist_sizes(rng, spec.n_cars), reverse=True)
    placed: list[PlacedCar] = []
    consist_id = 0
    occupied_tracks: set[int] = set()
    queue = list(sizes)
    while queue:
        k = queue.pop(0)
        # build the consist's cars: long consists are mostly unit trains of one type and colour
        block = rng.random() < (0.85 if k >= 8 else 0.55)
        ctype_block = str(rng.choice(wagon_types))
        base = {t: _PALETTE[t][int(rng.integers(len(_PALETTE[t])))] for t in CAR_TYPES}
        jit = 0.03 if block else 0.12
        kinds = []
        for c in range(k):
            if c == 0 and k >= 6 and "locomotive" in types and rng.random() < 0.5:
                kinds.append("locomotive")
            elif block:
                kinds.append(ctype_block)
            else:
                kinds.append(str(rng.choice(wagon_types)))
        scale = {t: float(rng.uniform(0.97, 1.03)) for t in CAR_TYPES}
        lengths = [CAR_TYPES[t].length_m * scale[t] - BODY_SHORTENING_M for t in kinds]
        gaps = rng.uniform(*COUPLING_GAP_M, size=max(0, k - 1))
        total = sum(lengths) + float(gaps.sum())
        # choose a track interval that fits
        sep = float(rng.uniform(1.5, 6.0))
        cands = [
            (tid, j) for tid, ivs in free.items() for j, (a, b) in enumerate(ivs)
            if b - a >= total + (2 * sep if b - a > total + 2 * sep else 0)
        ]
        if not cands:
            if k > 1:
                queue[0:0] = [k // 2, k - k // 2]
                continue
            raise CapacityError(
                f"n_cars={spec.n_cars} do not fit on {spec.n_tracks} tracks of this "
                f"{spec.width_m:g} x {spec.height_m:g} m scene (about {capacity / 15.5:.0f} cars fit); "
                "use more tracks, a larger scene or fewer cars"
            )
        w = np.array([3.0 if tid in occupied_tracks else 1.0 for tid, _ in cands])
        tid, j = cands[int(rng.choice(len(cands), p=w / w.sum()))]
        a, b = free[tid][j]
        slack = (b - a) - total
        r = rng.random()
        if r < 0.35:
            start = a + min(sep, slack)
        elif r < 0.7:
            start = b - total - min(sep, slack)
        else:
            start = a + rng.uniform(0, slack)
        start = float(np.clip(start, a, b - total))
        end = start + total
        kept = [iv for iv in ([a, start - sep], [end + sep, b]) if iv[1] - iv[0] > 11.0]
        ivs = free[tid][:j] + kept + free[tid][j + 1:]
        if ivs:
            free[tid] = ivs
        else:
            del free[tid]
        occupied_tracks.add(tid)
        track = tracks[tid]
        if rng.random() < 0.12:  # dusty cars the colour of the ballast they stand on (low contrast)
            base = {t: _jitter(rng, track.laid_look.ballast, 0.04) for t in CAR_TYPES}
        flip = rng.random() < 0.5
        s = start
        order = list(range(k)) if not flip else list(range(k))[::-1]
        for idx_pos, c in enumerate(order):
            ctype = kinds[c]
            L = lengths[c]
            sc = s + L / 2
            uc = float(frame.u_at(sc))
            x, y = frame.to_map(uc, track.offset)
            ang = frame.heading_deg(uc)
            W = CAR_TYPES[ctype].width_m
            corners = _rect_corners(float(x), float(y), L, W, ang)
            colour, load, variant = _car_look(rng, ctype, base[ctype], jit)
            truth = TruthCar(
                centre_xy=(float(x), float(y)), length_m=float(L), width_m=float(W), angle_deg=_norm_angle(ang),
                car_type=ctype, track_id=tid, corners_xy=_four(corners),
                height_m=_HEIGHTS[ctype], consist_id=consist_id, variant=variant,
            )
            placed.append(PlacedCar(truth, colour, load, variant, int(rng.integers(1 << 30)),
                                    flip=bool(rng.random() < 0.5)))
            s += L + (gaps[min(idx_pos, len(gaps) - 1)] if idx_pos < k - 1 else 0.0)
        consist_id += 1
    return placed


def _surroundings(spec, rng, frame: YardFrame, yard_w, ext, tracks) -> tuple[list[Box], list[Box]]:
    """Ground patches (roads, paved areas, platforms) and raised objects around the yard."""
    ground: list[Box] = []
    objects: list[Box] = []
    w_lo, w_hi = yard_w
    key = iter(range(1, 1 << 30))

    def at(u: float, w: float) -> tuple[float, float]:
        x, y = frame.to_map(u, w)
        return float(x), float(y)

    def heading(u: float) -> float:
        return frame.heading_deg(u)

    density = spec.lookalike_density if spec.lookalikes else 0.0
    side = 1 if rng.random() < 0.5 else -1  # which side gets the road and container terminal
    edge_road = (w_hi if side > 0 else w_lo) + side * float(rng.uniform(7, 12))
    edge_other = (w_lo if side > 0 else w_hi)

    # service road along the yard (always: roads are part of yards), with trucks on it
    seg = 40.0
    for u in np.arange(-ext, ext, seg):
        uc = float(u + seg / 2)
        ground.append(Box("road", *at(uc, edge_road), seg + 0.6, 7.0, heading(uc), 0.0, (92, 92, 94), key=next(key)))
    if density > 0:
        n_trucks = int(rng.poisson(6 * density * ext / 250))
        for _ in range(n_trucks):
            u = float(rng.uniform(-ext, ext))
            lane = edge_road + (1.75 if rng.random() < 0.5 else -1.75)
            objects.extend(_truck(rng, at, heading, u, lane, next(key)))
        # parked trucks off the road, parallel to the tracks (hard look-alikes)
        for _ in range(int(rng.poisson(3 * density))):
            u0 = float(rng.uniform(-ext * 0.6, ext * 0.6))
            wpark = edge_road + side * 8.0
            nj = int(rng.integers(2, 7))
            ground.append(Box("paved", *at(u0, wpark + side * (nj - 1) * 1.8), 22.0, nj * 3.6 + 3.0, heading(u0), 0.0,
                              (140, 140, 136), key=next(key)))
            for j in range(nj):
                objects.extend(_truck(rng, at, heading, u0, wpark + side * j * 3.6, next(key)))
        # container terminal beyond the road
        if rng.random() < 0.85:
            ua = float(rng.uniform(-ext * 0.5, ext * 0.2))
            ub = ua + float(rng.uniform(70, 180))
            w0 = edge_road + side * 14.0
            nrows = int(rng.integers(3, 9))
            width = nrows * 2.75 + 6
            pc = at((ua + ub) / 2, w0 + side * width / 2)
            ground.append(Box("paved", *pc, ub - ua + 14, width + 8, heading((ua + ub) / 2), 0.0, (150, 150, 146),
                              key=next(key)))
            for r in range(nrows):
                wr = w0 + side * (3.0 + r * 2.75)
                u = ua
                while u < ub:
                    clen = 12.19 if rng.random() < 0.65 else 6.06
                    if rng.random() < 0.85 * min(1.0, density):
                        stack = int(rng.integers(1, 4))
                        col = _CONTAINER_COLOURS[int(rng.integers(len(_CONTAINER_COLOURS)))]
                        objects.append(Box("container", *at(u + clen / 2, wr), clen, 2.44, heading(u), 2.6 * stack,
                                           _jitter(rng, col, 0.06), key=next(key)))
                    u += clen + float(rng.uniform(0.3, 1.5))
        # long buildings on the other side
        for _ in range(int(rng.poisson(2.0 * density)) + 1):
            u = float(rng.uniform(-ext * 0.7, ext * 0.7))
            length = float(rng.uniform(40, 140))
            width = float(rng.uniform(10, 28))
            wb = edge_other - (side) * (float(rng.uniform(12, 40)) + width / 2)
            roofs = [(150, 150, 152), (120, 70, 60), (100, 110, 125), (185, 185, 180), (140, 130, 115)]
            col = roofs[int(rng.integers(5))]
            objects.append(Box("building", *at(u, wb), length, width, heading(u) + float(rng.normal(0, 2)),
                               float(rng.uniform(5, 11)), _jitter(rng, col, 0.05),
                               variant="gable" if rng.random() < 0.5 else "flat",
                               key=next(key)))
        # platforms beside the outer tracks
        if rng.random() < 0.6 or spec.layout == "station":
            for sgn, wedge in ((-1, w_lo), (1, w_hi)):
                if spec.layout != "station" and rng.random() < 0.5:
                    continue
                u = float(rng.uniform(-ext * 0.3, ext * 0.3))
                L = float(rng.uniform(120, 260))
                width = float(rng.uniform(4.0, 7.0))
                ground.append(Box("platform", *at(u, wedge + sgn * (2.2 + width / 2)), L, width, heading(u), 0.8,
                                  (178, 176, 170), key=next(key)))
    # trees and scrub
    n_trees = int(rng.poisson(25 * (ext / 250) ** 2 * (0.5 + 0.5 * (spec.ground in ("soil", "vegetated")))))
    for _ in range(n_trees):
        u = float(rng.uniform(-ext, ext))
        wq = float(rng.uniform(-ext, ext))
        if w_lo - 22 < wq < w_hi + 22 or abs(wq - edge_road) < 30:
            continue
        d = float(rng.uniform(3, 10))
        objects.append(Box("tree", *at(u, wq), d, d, 0.0, float(rng.uniform(4, 14)), _jitter(rng, (60, 85, 45), 0.1),
                           key=next(key)))
    # catenary: portal gantries across the yard and cantilever masts
    if spec.masts:
        spacing = float(rng.uniform(50, 70))
        u = float(rng.uniform(-spacing, 0)) - ext
        # wide yards: portals also stand on masts between tracks, every few tracks
        lanes = sorted(t.offset for t in tracks if t.kind != "crossover")
        every = int(rng.integers(3, 7))
        between = [(p + q) / 2 for p, q in zip(lanes[every - 1::every], lanes[every::every])]
        while u < ext:
            a_w, b_w = w_lo - 1.5, w_hi + 1.5
            centres = np.array([t.offset_at(np.array(u)) for t in tracks], dtype=np.float64)
            inner = [wm for wm in between if not (np.abs(centres - wm) < 1.9).any()]
            for wm in (a_w, b_w, *inner):
                objects.append(Box("mast", *at(u, wm), 0.7, 0.7, heading(u), 9.5, (175, 175, 170), key=next(key)))
            objects.append(Box("beam", *at(u, (a_w + b_w) / 2), b_w - a_w, 1.0, heading(u) + 90.0, 8.8,
                               (170, 170, 166), overhead=True, key=next(key)))
            # mid-span single masts with an arm over the outer track
            um = u + spacing / 2
            for wm, sgn in ((w_lo - 1.5, 1), (w_hi + 1.5, -1)):
                if rng.random() < 0.7:
                    objects.append(Box("mast", *at(um, wm), 0.45, 0.45, heading(um), 8.0, (150, 150, 148),
                                       key=next(key)))
                    objects.append(Box("arm", *at(um, wm + sgn * 2.2), 4.4, 0.2, heading(um) + 90.0, 7.2,
                                       (140, 140, 140), overhead=True, key=next(key)))
            u += spacing
    # light poles
    if density > 0:
        for _ in range(int(rng.poisson(2 * density))):
            u = float(rng.uniform(-ext * 0.8, ext * 0.8))
            wq = edge_other - side * float(rng.uniform(3, 8))
            objects.append(Box("mast", *at(u, wq), 0.5, 0.5, 0.0, float(rng.uniform(15, 22)), (120, 120, 120),
                               key=next(key)))
    return ground, objects


def _truck(rng, at, heading, u: float, w: float, key: int) -> list[Box]:
    """A tractor with a semi-trailer (12-16.5 m x 2.5 m over all), along the road."""
    total = float(rng.uniform(12.0, 16.5))
    cab = 2.4
    trailer = total - cab - 0.4
    d = 1 if rng.random() < 0.5 else -1
    h = heading(u)
    a = math.radians(h)
    ux, uy = math.cos(a), math.sin(a)
    cx, cy = at(u, w)
    tx, ty = cx - d * (cab + 0.4) / 2 * ux, cy - d * (cab + 0.4) / 2 * uy
    kx, ky = cx + d * (trailer + 0.4) / 2 * ux, cy + d * (trailer + 0.4) / 2 * uy
    tcol = [(215, 215, 212), (190, 190, 188), (160, 40, 35), (40, 70, 140), (70, 70, 72)][int(rng.integers(5))]
    ccol = [(200, 30, 30), (230, 230, 230), (30, 60, 150), (240, 180, 30), (40, 40, 40)][int(rng.integers(5))]
    return [
        Box("trailer", tx, ty, trailer, 2.5, h, 4.0, _jitter(rng, tcol, 0.05), key=key),
        Box("cab", kx, ky, cab, 2.5, h, 3.5, _jitter(rng, ccol, 0.05), key=key + 1),
    ]
