"""Rasterise a :class:`~railcount.synth.layout.Layout` at a fine resolution.

The scene is drawn window by window on a fine grid (about 0.125 m) in metric
map coordinates: ground cover, ballast beds with sleepers and rails, roads,
platforms, look-alikes, railcars with type-specific tops, masts. Alongside the
albedo a height map is drawn; shadows are cast by marching the height map
towards the sun, so cars shade the ballast and lower neighbours, gondola walls
shade their loads and masts throw long thin shadows across tracks. Overhead
members (gantry beams, cantilever arms) throw detached shadows. Rails are
thinner than the fine grid: each is drawn as exact line coverages of its head,
its dark foot, the stained ballast beside it and its own shadow (which falls
away from the sun), so it reads as a thin line of clear contrast at any GSD.

Every texture is world-anchored (:mod:`railcount.synth.noise`), so any window
renders the same pixels as the whole scene would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import noise as nz
from .layout import Box, Layout, PlacedCar, Track, TrackLook

__all__ = ["Canvas", "render_window", "Lighting", "View"]


@dataclass(frozen=True)
class View:
    """Where the sensor looks from: its off-nadir angle and the azimuth raised things lean towards."""

    off_nadir_deg: float = 0.0
    lean_azimuth_deg: float = 0.0

    @property
    def lean(self) -> float:
        """Metres a point is displaced per metre of height (``tan(off_nadir)``)."""
        return math.tan(math.radians(self.off_nadir_deg))


@dataclass(frozen=True)
class Lighting:
    """Sun and sky: azimuth clockwise from north, elevation, ambient share, sky tint."""

    azimuth_deg: float
    elevation_deg: float
    ambient: float = 0.18
    sky_tint: tuple[float, float, float] = (0.92, 0.97, 1.12)

    @property
    def sun_vec(self) -> np.ndarray:
        """Unit vector towards the sun in map (east, north, up)."""
        az, el = math.radians(self.azimuth_deg), math.radians(self.elevation_deg)
        return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])

    @property
    def flat(self) -> float:
        """Irradiance of open flat ground (sky plus sun); radiance is scaled by it, so flat ground shows its albedo."""
        return self.ambient + (1 - self.ambient) * float(self.sun_vec[2])


class Canvas:
    """A fine-resolution window: albedo (3, rows, cols), height and surface irradiance factor."""

    def __init__(self, x0: float, y0: float, f: float, r0: int, c0: int, nr: int, nc: int, seed: int):
        self.x0, self.y0, self.f = x0, y0, f
        self.r0, self.c0, self.nr, self.nc = r0, c0, nr, nc
        self.seed = seed
        # local metric coordinates of pixel centres (metres from the scene's top-left corner)
        self.ex = (np.arange(c0, c0 + nc) + 0.5) * f
        self.ey = (np.arange(r0, r0 + nr) + 0.5) * f
        self.xs = x0 + self.ex
        self.ys = y0 - self.ey
        self.albedo = np.zeros((3, nr, nc), dtype=np.float32)
        self.z = np.zeros((nr, nc), dtype=np.float32)
        self.cosi: np.ndarray | None = None  # set by render_window
        self.overhead_shadow = np.zeros((nr, nc), dtype=np.float32)
        self.weed_noise: np.ndarray | None = None  # set by the first weedy or dirty track
        # the yard frame's (u, w) coordinates of the pixels, while the floor and the tracks are drawn
        self.frame_uw: tuple[np.ndarray, np.ndarray] | None = None

    def irradiance(self) -> np.ndarray:
        """The surface irradiance factor (set by :func:`render_window` before anything raised is drawn)."""
        if self.cosi is None:
            raise RuntimeError("the canvas has no irradiance yet; render_window sets it first")
        return self.cosi


    def window(self, xmin: float, xmax: float, ymin: float, ymax: float, pad: float = 0.0):
        """Slices and centre coordinates of the canvas pixels inside a map bbox (or None)."""
        f = self.f
        c_lo = int(math.floor((xmin - pad - self.x0) / f)) - self.c0
        c_hi = int(math.ceil((xmax + pad - self.x0) / f)) - self.c0 + 1
        r_lo = int(math.floor((self.y0 - ymax - pad) / f)) - self.r0
        r_hi = int(math.ceil((self.y0 - ymin + pad) / f)) - self.r0 + 1
        c_lo, r_lo = max(c_lo, 0), max(r_lo, 0)
        c_hi, r_hi = min(c_hi, self.nc), min(r_hi, self.nr)
        if c_lo >= c_hi or r_lo >= r_hi:
            return None
        return slice(r_lo, r_hi), slice(c_lo, c_hi), self.xs[c_lo:c_hi], self.ys[r_lo:r_hi]

    def grain(self, key: int, rs: slice, cs: slice) -> np.ndarray:
        """Per-pixel uniform noise in [-0.5, 0.5), anchored to the global fine grid."""
        r = np.arange(self.r0 + rs.start, self.r0 + rs.stop)[:, None]
        c = np.arange(self.c0 + cs.start, self.c0 + cs.stop)[None, :]
        return (nz.uniform(self.seed + key, r, c) - 0.5).astype(np.float32)

    def noise(self, key: int, rs: slice, cs: slice, cell: float, octaves: int = 1) -> np.ndarray:
        """World-anchored value noise in [0, 1] on a sub-window."""
        return nz.fractal_noise(self.seed + key, self.ey[rs], self.ex[cs], cell, octaves=octaves)


def _local(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, angle_deg: float):
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    dx = (xs[None, :] - cx).astype(np.float32)
    dy = (ys[:, None] - cy).astype(np.float32)
    return dx * ca + dy * sa, -dx * sa + dy * ca


def _edge(half: float, d: np.ndarray, f: float) -> np.ndarray:
    """Anti-aliased coverage of ``|d| <= half`` for pixels of size ``f``."""
    return np.clip(0.5 + (half - np.abs(d)) / f, 0.0, 1.0)


def _line_cov(d: np.ndarray, width: float, f: float) -> np.ndarray:
    """Exact 1-D box-filter coverage of a line of ``width`` centred at ``d = 0``."""
    lo = np.maximum(d - f / 2, -width / 2)
    hi = np.minimum(d + f / 2, width / 2)
    return np.clip(hi - lo, 0.0, None) / f


def _blend(dst: np.ndarray, colour, cov: np.ndarray) -> None:
    """``dst[:, ...] = dst * (1 - cov) + colour * cov`` in place (colour (3,) or (3, ...))."""
    col = np.asarray(colour, dtype=np.float32)
    if col.ndim == 1:
        col = col[:, None, None]
    dst += (col - dst) * cov[None]


# --------------------------------------------------------------------------- ground
_COVER = {
    "grass": (92, 116, 60),
    "dry": (142, 138, 96),
    "soil": (156, 138, 110),
}
#: Size of a ballast stone's texture cell, metres.
_STONE_M = 0.3


def _draw_ground(cv: Canvas, layout: Layout) -> None:
    rs, cs = slice(0, cv.nr), slice(0, cv.nc)
    n1 = cv.noise(101, rs, cs, 160.0, octaves=3)
    n2 = cv.noise(102, rs, cs, 14.0, octaves=2)
    n3 = cv.noise(103, rs, cs, 2.5, octaves=2)
    g = cv.grain(104, rs, cs)
    grass = np.asarray(_COVER["grass"], np.float32)[:, None, None]
    dry = np.asarray(_COVER["dry"], np.float32)[:, None, None]
    soil = np.asarray(_COVER["soil"], np.float32)[:, None, None]
    t1 = np.clip((n1 - 0.35) / 0.3, 0, 1)[None]
    t2 = np.clip((n2 - 0.3) / 0.5, 0, 1)[None]
    base = grass * (1 - t1) + dry * t1
    base = base * (1 - t2 * 0.6) + soil * (t2 * 0.6)
    tex = (0.88 + 0.22 * n3 + 0.1 * g)[None]
    cv.albedo[:] = base * tex
    # the yard floor between and beside the tracks
    frame = layout.frame
    U, W = frame.from_map(cv.xs[None, :], cv.ys[:, None])
    w_lo, w_hi = layout.yard_w
    half = (w_hi - w_lo) / 2 + 4.0
    mid = (w_hi + w_lo) / 2
    edge_noise = (n2 - 0.5) * 5.0
    inside = np.clip(0.5 + (half + edge_noise - np.abs(W - mid)) / 1.5, 0, 1).astype(np.float32)
    floor = np.asarray(layout.yard_floor, np.float32)[:, None, None]
    weeds = 0.5 * np.clip((n2 - 0.7) / 0.15, 0, 1) * np.clip((n1 - 0.45) / 0.3, 0, 1)
    if layout.floor_kind == "ballast":  # a yard-wide ballast bed: stony, without a grid
        stone = cv.noise(105, rs, cs, _STONE_M, octaves=2)
        ftex = (0.8 + 0.3 * stone + 0.14 * g + 0.06 * n3)[None]
    else:
        ftex = (0.93 + 0.1 * n3 + 0.08 * g)[None]
    yard = floor * ftex * (1 - 0.6 * weeds[None]) + grass * (0.6 * weeds[None]) * ftex
    cv.albedo += (yard - cv.albedo) * inside[None]
    cv.frame_uw = (U, W)  # reused by the track drawer


def _box_pixels(cv: Canvas, box: Box) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """The canvas slices under a box and the pixels' coordinates along and across it (or None)."""
    c = box.corners()
    win = cv.window(c[:, 0].min(), c[:, 0].max(), c[:, 1].min(), c[:, 1].max(), pad=cv.f)
    if win is None:
        return None
    rs, cs, xs, ys = win
    A, B = _local(xs, ys, box.cx, box.cy, box.angle_deg)
    return rs, cs, A, B


def _draw_flat(cv: Canvas, box: Box) -> None:
    px = _box_pixels(cv, box)
    if px is None:
        return
    rs, cs, A, B = px
    cov = _edge(box.length / 2, A, cv.f) * _edge(box.width / 2, B, cv.f)
    if not cov.any():
        return
    tex = 0.9 + 0.2 * cv.noise(200 + box.key % 97, rs, cs, 3.0) + 0.06 * cv.grain(201, rs, cs)
    col = np.asarray(box.colour, np.float32)[:, None, None] * tex[None]
    if box.kind == "road":
        # dashed centre line
        dash = (np.mod(A + 1000.0, 9.0) < 3.0) & (np.abs(B) < 0.08)
        col = np.where(dash[None], np.float32(200), col)
    elif box.kind == "paved":
        joints = (np.mod(A, 6.0) < 0.08) | (np.mod(B, 6.0) < 0.08)
        col = col * np.where(joints, 0.85, 1.0)[None]
    elif box.kind == "platform":
        line = _line_cov(np.abs(B) - (box.width / 2 - 0.5), 0.12, cv.f)
        col = col * (1 - line[None]) + np.asarray((200, 180, 60), np.float32)[:, None, None] * line[None]
        cv.z[rs, cs] = np.maximum(cv.z[rs, cs], np.where(cov > 0.5, box.height, 0.0).astype(np.float32))
    _blend(cv.albedo[:, rs, cs], col, cov)


# --------------------------------------------------------------------------- tracks
#: Weeds in a ballast bed.
_WEED = np.asarray((96, 108, 70), np.float32)
#: Height of a rail above the sleepers, metres: its shadow is this times cot(sun elevation) long.
_RAIL_HEIGHT_M = 0.17
#: Rail head and foot widths (UIC 60 / R65 class rails), metres.
_HEAD_M, _FOOT_M = 0.072, 0.15
#: Darkening by one rail of full contrast, albedo (0-255) times metres across it: rails of
#: ``rail_contrast`` 0.25-1 darken 2.5-10; a rail at Muttenz (0.25 m) darkens about 5.
_RAIL_SIGNAL = 10.0


@dataclass
class _TrackPixels:
    """The fine pixels near one track and their track coordinates.

    ``d`` is the distance across the track (positive to the left of the yard
    axis), ``s`` the position along it (lines of equal ``s`` are square to the
    track, so sleepers are too), ``heading`` the track's direction (radians
    counter-clockwise from east), ``grain`` per-pixel noise; ``bed_end`` and
    ``rail_end`` fade the ballast (which runs 3 m past a buffer stop) and the
    rails and sleepers out at the track's ends.
    """

    track: Track
    r: np.ndarray
    c: np.ndarray
    d: np.ndarray
    s: np.ndarray
    heading: np.ndarray
    grain: np.ndarray
    bed_end: np.ndarray
    rail_end: np.ndarray


def _track_pixels(cv: Canvas, layout: Layout, track: Track) -> _TrackPixels | None:
    """The canvas pixels within reach of the track's ballast bed (``None`` if there are none)."""
    if cv.frame_uw is None:
        raise RuntimeError("tracks are drawn after the yard floor, which sets the frame coordinates")
    U, W = cv.frame_uw
    a, b = track.extent
    look = track.laid_look
    reach = look.bed_half_m + look.bed_edge_m / 2 + 0.3
    lanes = [track.offset] + [lead[0] for lead in (track.lead_in, track.lead_out) if lead]
    if track.cross:
        lanes.append(track.cross[0])
    near = (W > min(lanes) - reach) & (W < max(lanes) + reach) & (U > a - 3.5) & (U < b + 3.5)
    r, c = np.nonzero(near)
    u = U[r, c]
    sv = layout.frame.curvature * u + track.slope_at(u)
    d = (W[r, c] - np.nan_to_num(track.offset_at(u), nan=1e9)) / np.sqrt(1.0 + sv * sv)
    keep = np.abs(d) < reach
    if not keep.any():
        return None
    r, c, u, sv, d = r[keep], c[keep], u[keep], sv[keep], d[keep]
    f = cv.f
    start_stop, end_stop = track.buffer_stops
    bed_end = np.clip(0.5 + (u - (a - 3.0 * start_stop)) / f, 0, 1) * np.clip(0.5 + (b + 3.0 * end_stop - u) / f, 0, 1)
    rail_end = np.clip(0.5 + (u - a) / f, 0, 1) * np.clip(0.5 + (b - u) / f, 0, 1)
    grain = (nz.uniform(cv.seed + 301, r + cv.r0, c + cv.c0) - 0.5).astype(np.float32)
    heading = (math.radians(layout.frame.angle_deg) + np.arctan(sv)).astype(np.float32)
    return _TrackPixels(track, r, c, d.astype(np.float32), layout.frame.arclength(u) + d * sv, heading, grain,
                        bed_end.astype(np.float32), rail_end.astype(np.float32))


def _weed_noise(cv: Canvas) -> np.ndarray:
    """Patchy noise (metre-scale clumps in 6 m patches) for weeds and dirt, computed once per window."""
    if cv.weed_noise is None:
        rs, cs = slice(0, cv.nr), slice(0, cv.nc)
        cv.weed_noise = cv.noise(310, rs, cs, 6.0, octaves=3)
    return cv.weed_noise


def _draw_bed(cv: Canvas, tp: _TrackPixels) -> None:
    """The ballast bed: stones, a ragged shoulder, weeds and dirt."""
    look = tp.track.laid_look
    d = tp.d
    ad = np.abs(d)
    stone = nz.uniform(cv.seed + 302, np.floor(tp.s / _STONE_M).astype(np.int64),
                       np.floor(d / _STONE_M).astype(np.int64)).astype(np.float32)
    bed = np.clip(0.5 + (look.bed_half_m + 0.25 * (stone - 0.5) - ad) / look.bed_edge_m, 0, 1) * tp.bed_end
    half = (1.3 if tp.track.gauge == "1435" else 1.375) + 0.15  # the sleeper ends and a little more
    crib = 1 - look.crib * np.clip(0.5 + (half - ad) / 0.3, 0, 1)
    col = np.asarray(look.ballast, np.float32)[:, None] * (crib * (0.86 + 0.2 * stone + 0.16 * tp.grain))[None]
    if look.weeds or look.dirt:
        patches = _weed_noise(cv)[tp.r, tp.c]
        if look.dirt:  # oil and dirt between the rails
            between = np.clip(1.2 - ad / 0.8, 0, 1)
            col = col * (1 - look.dirt * between * (0.4 + 0.8 * patches))[None]
        if look.weeds:
            weed = np.clip((patches - (1 - look.weeds)) / 0.12, 0, 1) * stone
            col += (_WEED[:, None] * (0.8 + 0.4 * stone)[None] - col) * weed[None]
    alb = cv.albedo[:, tp.r, tp.c]
    alb += (col - alb) * bed[None]
    cv.albedo[:, tp.r, tp.c] = alb


def _draw_sleepers(cv: Canvas, tp: _TrackPixels) -> None:
    """Sleepers square to the track, partly buried in ballast."""
    track, look, f = tp.track, tp.track.laid_look, cv.f
    half = (2.6 if track.gauge == "1435" else 2.75) / 2
    m = np.abs(tp.d) < half + f
    d, s = tp.d[m], tp.s[m]
    k = np.floor(s / look.sleeper_pitch)
    along = _line_cov(s - (k + 0.5) * look.sleeper_pitch, look.sleeper_width, f)
    vis = 1.0 - look.sleeper_cover * nz.uniform(cv.seed + 303 + track.track_id, k.astype(np.int64))
    cov = (along * _edge(half, d, f) * vis * tp.rail_end[m]).astype(np.float32)
    col = np.asarray(look.sleeper, np.float32)[:, None] * (0.92 + 0.1 * tp.grain[m])[None]
    r, c = tp.r[m], tp.c[m]
    alb = cv.albedo[:, r, c]
    alb += (col - alb) * cov[None]
    cv.albedo[:, r, c] = alb


def _stain_strength(look: TrackLook) -> float:
    """How much the ballast along each rail is darkened, so that the rail reads as a dark line.

    Chosen so that head, foot and stain together darken the bed around them
    (ballast and sleepers) by ``_RAIL_SIGNAL * rail_contrast`` (shadows add to
    that): a polished head, brighter than the bed, never cancels its dark
    foot and stain into an invisible rail.
    """
    share = look.sleeper_width / look.sleeper_pitch * (1 - look.sleeper_cover / 2)
    bed = (1 - share) * float(np.mean(look.ballast)) * (1 - look.crib) + share * float(np.mean(look.sleeper))
    foot = 0.35 + 0.65 * look.rail_contrast
    gain = _HEAD_M * (float(np.mean(look.head)) - bed) + (_FOOT_M - _HEAD_M) * foot * (float(np.mean(look.foot)) - bed)
    return float(np.clip((gain + _RAIL_SIGNAL * look.rail_contrast) / (bed * look.stain_m), 0.05, 0.85))


def _draw_rails(cv: Canvas, tp: _TrackPixels, light: Lighting) -> None:
    """Each rail: stained ballast beside it, the dark foot and web, the head, and its shadow.

    The shadow falls on the side away from the sun, ``_RAIL_HEIGHT_M *
    cot(elevation)`` times the sun's component across the track wide; it is
    drawn into the albedo as the ambient share of the light.
    """
    track, look, f = tp.track, tp.track.laid_look, cv.f
    if track.gauge == "dual":
        rails = [-0.796, 0.796, -0.596, 0.911]
    else:
        hg = track.gauge_m / 2 + _HEAD_M / 2
        rails = [-hg, hg]
    m = np.abs(tp.d) < 1.5
    d, end = tp.d[m], tp.rail_end[m]
    # sun's share across the track (positive: the sun is on the +d side); shadows fall the other way
    across = np.cos(tp.heading[m] + np.float32(math.radians(light.azimuth_deg)))
    length = np.float32(_RAIL_HEIGHT_M / math.tan(math.radians(light.elevation_deg))) * np.abs(across)
    centre = -np.sign(across) * (_HEAD_M / 2 + length / 2)
    dark = np.float32(1 - light.ambient / light.flat)
    head = np.asarray(look.head, np.float32)[:, None]
    foot = np.asarray(look.foot, np.float32)[:, None]
    stain = np.float32(_stain_strength(look))
    foot_strength = np.float32(0.35 + 0.65 * look.rail_contrast)
    r, c = tp.r[m], tp.c[m]
    alb = cv.albedo[:, r, c]
    for rc in rails:
        dd = d - np.float32(rc)
        alb *= (1 - stain * _line_cov(dd, look.stain_m, f) * end)[None]
        alb += (foot - alb) * (foot_strength * _line_cov(dd, _FOOT_M, f) * end)[None]
        alb += (head - alb) * (_line_cov(dd, _HEAD_M, f) * end)[None]
        alb *= (1 - dark * _line_cov(dd - centre, length, f) * end)[None]
    cv.albedo[:, r, c] = alb


def _draw_tracks(cv: Canvas, layout: Layout, light: Lighting) -> None:
    """All tracks: every bed first, then every sleeper, then every rail, so turnouts keep both tracks' rails."""
    pixels = [tp for t in layout.tracks if (tp := _track_pixels(cv, layout, t)) is not None]
    for tp in pixels:
        _draw_bed(cv, tp)
    for tp in pixels:
        _draw_sleepers(cv, tp)
    for tp in pixels:
        _draw_rails(cv, tp, light)


def _buffer_stops(layout: Layout) -> list[Box]:
    out = []
    for t in layout.tracks:
        for end, stop, sgn in ((t.u_start, t.buffer_stops[0], -1), (t.u_end, t.buffer_stops[1], 1)):
            if stop:
                u = end + sgn * 0.8
                x, y = layout.frame.to_map(u, t.offset)
                out.append(Box("bufferstop", float(x), float(y), 1.2, 2.8, layout.frame.heading_deg(u), 1.3,
                               (170, 60, 50), key=t.track_id))
    return out


# --------------------------------------------------------------------------- raised objects
def _surface_cosi(light: Lighting, nx: np.ndarray, ny: np.ndarray, nzc: np.ndarray) -> np.ndarray:
    s = light.sun_vec
    return np.clip(nx * s[0] + ny * s[1] + nzc * s[2], 0.0, None).astype(np.float32)


def _draw_box(cv: Canvas, box: Box, light: Lighting) -> None:
    px = _box_pixels(cv, box)
    if px is None:
        return
    rs, cs, A, B = px
    f = cv.f
    if box.kind == "tree":
        R = box.length / 2
        rad = np.sqrt(A * A + B * B)
        wob = cv.noise(401 + box.key % 89, rs, cs, 1.2)
        cov = np.clip(0.5 + (R * (0.85 + 0.3 * wob) - rad) / f, 0, 1)
        if not cov.any():
            return
        q = np.clip(rad / max(R, 1e-3), 0, 1)
        zt = box.height * (0.55 + 0.45 * np.sqrt(1 - q * q))
        tex = 0.7 + 0.5 * cv.noise(402, rs, cs, 0.7) + 0.15 * cv.grain(403, rs, cs)
        col = np.asarray(box.colour, np.float32)[:, None, None] * tex[None]
        a = math.radians(box.angle_deg)
        nx, ny = A / max(R, 1e-3) * 0.8, B / max(R, 1e-3) * 0.8
        nzc = np.sqrt(np.clip(1 - nx * nx - ny * ny, 0.05, 1))
        ci = _surface_cosi(light, nx * math.cos(a) - ny * math.sin(a), nx * math.sin(a) + ny * math.cos(a), nzc)
        _put(cv, rs, cs, col, cov, zt, ci)
        return
    cov = _edge(box.length / 2, A, f) * _edge(box.width / 2, B, f)
    if not cov.any():
        return
    base = np.asarray(box.colour, np.float32)[:, None, None]
    tex = (0.94 + 0.1 * cv.noise(410 + box.key % 83, rs, cs, 2.0) + 0.05 * cv.grain(411, rs, cs))[None]
    sun = light.sun_vec
    flat = np.full(A.shape, sun[2], np.float32)
    if box.kind == "container":
        ribs = 1.0 - 0.08 * (np.mod(A, 0.3) < 0.1)
        rim = _edge(box.length / 2 - 0.12, A, f) * _edge(box.width / 2 - 0.1, B, f)
        col = base * tex * ribs[None] * (0.85 + 0.15 * rim)[None]
        _put(cv, rs, cs, col, cov, np.float32(box.height), flat)
    elif box.kind in ("trailer", "cab"):
        col = base * tex
        if box.kind == "cab":
            col = col * (1 - 0.5 * (np.abs(A) < box.length * 0.15))[None]
        _put(cv, rs, cs, col, cov, np.float32(box.height), flat)
    elif box.kind == "building":
        if box.variant == "gable":
            t = math.radians(22.0)
            a = math.radians(box.angle_deg)
            sgn = np.sign(B)
            ny_l = 1.0  # the roof's normal across its ridge (x component 0)
            nxm = -sgn * math.sin(t) * math.sin(a) * ny_l
            nym = sgn * math.sin(t) * math.cos(a) * ny_l
            ci = _surface_cosi(light, nxm, nym, np.full(A.shape, math.cos(t), np.float32))
            zb = box.height - np.abs(B) * math.tan(t)
        else:
            ci, zb = flat, np.float32(box.height)
        panels = 1.0 - 0.06 * (np.mod(A, 1.0) < 0.1)
        col = base * tex * panels[None]
        _put(cv, rs, cs, col, cov, zb, ci)
    elif box.kind == "mast":
        lattice = 0.6 + 0.4 * ((np.mod(A * 7.0, 1.0) < 0.5) ^ (np.mod(B * 7.0, 1.0) < 0.5))
        _put(cv, rs, cs, base * lattice[None], cov, np.float32(box.height), flat)
    elif box.kind == "bufferstop":
        stripes = np.where(np.mod(B + 10.0, 0.6) < 0.3, 1.0, 1.6)
        _put(cv, rs, cs, base * stripes[None], cov, np.float32(box.height), flat)
    else:
        _put(cv, rs, cs, base * tex, cov, np.float32(box.height), flat)


def _draw_overhead(cv: Canvas, box: Box, light: Lighting, shadow_pass: bool) -> None:
    """Gantry beams and arms: a lattice seen from above, and its detached shadow."""
    if shadow_pass:
        el = math.radians(light.elevation_deg)
        az = math.radians(light.azimuth_deg)
        off = box.height / math.tan(el)
        cx, cy = box.cx - off * math.sin(az), box.cy - off * math.cos(az)
    else:
        cx, cy = box.cx, box.cy
    c = box.corners() + np.array([cx - box.cx, cy - box.cy])
    win = cv.window(c[:, 0].min(), c[:, 0].max(), c[:, 1].min(), c[:, 1].max(), pad=cv.f)
    if win is None:
        return
    rs, cs, xs, ys = win
    A, B = _local(xs, ys, cx, cy, box.angle_deg)
    cov = _edge(box.length / 2, A, cv.f) * _edge(box.width / 2, B, cv.f)
    # lattice: two chords along the member and diagonals between them
    chord = (_line_cov(np.abs(B) - box.width / 2 + 0.08, 0.14, cv.f) if box.width > 0.4 else np.ones_like(B))
    diag = _line_cov(np.mod(A + B + 100.0, 1.2) - 0.6, 0.16, cv.f)
    dens = np.clip(chord + diag, 0, 1) * cov
    if shadow_pass:
        o = cv.overhead_shadow[rs, cs]
        np.maximum(o, (0.9 * np.clip(1.4 * dens, 0, 1)).astype(np.float32), out=o)
    else:
        _blend(cv.albedo[:, rs, cs], np.asarray(box.colour, np.float32), (0.9 * dens).astype(np.float32))
        ci = cv.irradiance()[rs, cs]
        ci += (light.sun_vec[2] - ci) * dens.astype(np.float32)
        o = cv.overhead_shadow[rs, cs]
        o *= (1 - dens).astype(np.float32)


def _put(cv: Canvas, rs, cs, col, cov, z, ci) -> None:
    """Paint an opaque raised surface: albedo, height (where mostly covered) and irradiance factor."""
    cov = cov.astype(np.float32)
    _blend(cv.albedo[:, rs, cs], col, cov)
    zz = cv.z[rs, cs]
    zval = np.broadcast_to(np.asarray(z, np.float32), cov.shape)
    np.copyto(zz, np.maximum(zz, zval), where=cov >= 0.5)
    cc = cv.irradiance()[rs, cs]
    cc += (np.broadcast_to(np.asarray(ci, np.float32), cov.shape) - cc) * cov


# --------------------------------------------------------------------------- railcars
def _draw_car(cv: Canvas, car: PlacedCar, light: Lighting) -> None:
    t = car.truth
    corners = np.asarray(t.corners_xy)
    win = cv.window(corners[:, 0].min(), corners[:, 0].max(), corners[:, 1].min(), corners[:, 1].max(), pad=cv.f)
    if win is None:
        return
    rs, cs, xs, ys = win
    A, B = _local(xs, ys, t.centre_xy[0], t.centre_xy[1], t.angle_deg)
    if car.flip:
        A = -A
    f = cv.f
    L, Wd, H = t.length_m, t.width_m, t.height_m
    cov = _edge(L / 2, A, f) * _edge(Wd / 2, B, f)
    if not cov.any():
        return
    a = math.radians(t.angle_deg)
    sun = light.sun_vec
    flat = np.full(A.shape, sun[2], np.float32)
    body = np.asarray(car.colour, np.float32)[:, None, None]
    load = np.asarray(car.load_colour, np.float32)[:, None, None]
    dirt = (0.92 + 0.14 * cv.noise(500 + car.key % 101, rs, cs, 1.5) + 0.05 * cv.grain(501, rs, cs))[None]
    kind = t.car_type

    def normal_across(nb: np.ndarray, nzc: np.ndarray) -> np.ndarray:
        # a normal tilted across the car (towards +B) by components (nb, nzc)
        return _surface_cosi(light, -nb * math.sin(a), nb * math.cos(a), nzc)

    if kind == "gondola" or (kind == "hopper" and car.variant == "open"):
        wall = 0.14
        inner = _edge(L / 2 - wall, A, f) * _edge(Wd / 2 - wall, B, f)
        if car.variant == "empty":
            zin = np.float32(1.1)
            ltex = load * (0.9 + 0.15 * (np.mod(A, 1.6) < 0.15))[None]
        else:
            bump = cv.noise(510 + car.key % 97, rs, cs, 0.9, octaves=2)
            grainy = cv.grain(511, rs, cs)
            if car.variant == "scrap":
                ltex = load * (0.55 + 0.9 * bump + 0.35 * grainy)[None]
            elif car.variant == "timber":
                ltex = load * (0.85 + 0.25 * (np.mod(B * 4.0, 1.0) < 0.5) + 0.1 * grainy)[None]
            else:
                ltex = load * (0.8 + 0.35 * bump + 0.25 * grainy)[None]
            # loads are heaped: higher along the middle
            zin = (H - 0.45 + 0.35 * bump - 0.3 * (np.abs(B) / (Wd / 2)) ** 2).astype(np.float32)
        col = body * dirt * 1.15 * (1 - inner[None]) + ltex * inner[None]
        z = np.where(inner > 0.5, zin, np.float32(H))
        _put(cv, rs, cs, col, cov, z, flat)
    elif kind == "hopper":  # covered hopper: curved roof with a row of hatches
        nb = np.clip(B / (Wd / 2), -1, 1) * 0.45
        ci = normal_across(nb, np.sqrt(1 - nb * nb))
        hatch_a = np.mod(A + L, 2.4) - 1.2
        hatch = _edge(0.45, hatch_a, f) * _edge(0.4, B, f) * _edge(L / 2 - 1.5, A, f)
        slope_end = np.clip((np.abs(A) - (L / 2 - 1.3)) / 1.3, 0, 1)
        col = body * dirt * (1 - 0.35 * hatch)[None] * (1 - 0.25 * slope_end)[None]
        z = (H - 0.35 * (B / (Wd / 2)) ** 2 - 1.0 * slope_end).astype(np.float32)
        _put(cv, rs, cs, col, cov, z, ci)
    elif kind == "tank":
        R = Wd / 2
        barrel = _edge(L / 2 - 0.9, A, f)
        # elliptical heads: the barrel narrows over its last 0.9 m
        ea = np.clip((np.abs(A) - (L / 2 - 0.9)) / 0.9, 0, 1)
        rloc = R * np.sqrt(np.clip(1 - ea * ea, 0, 1))
        q = np.clip(B / np.maximum(rloc, 1e-3), -1, 1)
        in_tank = np.clip(0.5 + (rloc - np.abs(B)) / f, 0, 1) * _edge(L / 2, A, f)
        nzc = np.sqrt(np.clip(1 - q * q, 0, 1))
        ci_tank = normal_across(q, nzc)
        spec = np.clip((ci_tank - 0.93) / 0.07, 0, 1) ** 2
        col_t = body * dirt + 45.0 * spec[None]
        if car.variant == "walkway":
            walk = _edge(0.3, B, f) * barrel
            col_t = col_t * (1 - walk[None]) + np.float32(60) * walk[None]
        dome = np.clip(0.5 + (0.55 - np.sqrt(A * A + B * B)) / f, 0, 1)
        col_t = col_t * (1 - 0.3 * dome)[None]
        frame_col = np.asarray((45, 42, 40), np.float32)[:, None, None]
        col = frame_col * (1 - in_tank[None]) + col_t * in_tank[None]
        z = np.where(in_tank > 0.5, (H - R) + R * nzc, np.float32(1.2)).astype(np.float32)
        ci = flat * (1 - in_tank) + ci_tank * in_tank
        _put(cv, rs, cs, col, cov, z, ci)
    elif kind == "boxcar":
        nb = np.clip(B / (Wd / 2), -1, 1) * 0.18
        ci = normal_across(nb, np.sqrt(1 - nb * nb))
        ribs = 1 - (0.1 * (np.mod(A, 0.6) < 0.12) if car.variant == "ribbed" else 0.0)
        walk = _edge(0.25, B, f) * 0.15
        col = body * dirt * np.asarray(ribs, np.float32)[None] * (1 - walk)[None]
        _put(cv, rs, cs, col, cov, np.float32(H), ci)
    elif kind == "flatcar":
        deck = body * dirt * (0.9 + 0.15 * (np.mod(A, 1.2) < 0.2))[None]
        z = np.full(A.shape, 1.25, np.float32)
        col = deck
        boxes: list[tuple[float, float]] = []
        if car.variant == "40ft":
            boxes = [(0.0, 12.19)]
        elif car.variant == "2x20ft":
            boxes = [(-3.1, 6.06), (3.1, 6.06)]
        elif car.variant == "20ft":
            boxes = [(-3.1 if car.flip else 3.1, 6.06)]
        for i, (ca, cl) in enumerate(boxes):
            cb = _edge(cl / 2, A - ca, f) * _edge(1.22, B, f)
            ribs = 1.0 - 0.08 * (np.mod(A, 0.3) < 0.1)
            ccol = load if i == 0 else load * np.asarray((0.8, 1.1, 1.2), np.float32)[:, None, None]
            col = col * (1 - cb[None]) + (ccol * dirt * ribs[None]) * cb[None]
            z = np.where(cb > 0.5, np.float32(1.25 + 2.59), z)
        _put(cv, rs, cs, col, cov, z, flat)
    else:  # locomotive: a long hood on a frame with walkways, radiator fans, a cab at one end
        hood = _edge(L / 2 - 0.6, A, f) * _edge(Wd / 2 - 0.35, B, f)
        fans = np.zeros(A.shape, np.float32)
        for fa in (-0.38 * L, -0.3 * L, -0.22 * L):
            fans = np.maximum(fans, np.clip(0.5 + (0.55 - np.sqrt((A - fa) ** 2 + B * B)) / f, 0, 1))
        cab = np.clip(0.5 + (A - (L / 2 - 3.6)) / f, 0, 1)
        frame_col = np.asarray((50, 50, 52), np.float32)[:, None, None]
        col = body * dirt * (1 - 0.55 * fans)[None] * (1 + 0.12 * cab)[None]
        col = frame_col * (1 - hood[None]) + col * hood[None]
        nb = np.clip(B / (Wd / 2 - 0.35), -1, 1) * 0.25
        ci = flat * (1 - hood) + normal_across(nb, np.sqrt(1 - nb * nb)) * hood
        z = np.where(hood > 0.5, np.float32(H) - 0.3 * (1 - cab), np.float32(1.3)).astype(np.float32)
        _put(cv, rs, cs, col, cov, z, ci)


# --------------------------------------------------------------------------- shadows
def _cast_shadows(cv: Canvas, light: Lighting) -> np.ndarray:
    """Fraction of direct sun blocked at each pixel, from the height map and overhead members."""
    step = 2  # march on a 2x coarser grid
    nr, nc = cv.nr // step * step, cv.nc // step * step
    z = cv.z[:nr, :nc].reshape(nr // step, step, nc // step, step).max(axis=(1, 3))
    sh = np.zeros(z.shape, dtype=bool)
    zmax = float(z.max()) if z.size else 0.0
    if zmax > 0.05 and light.elevation_deg < 89.5:
        tan_e = math.tan(math.radians(light.elevation_deg))
        px = cv.f * step
        n = int(math.ceil(zmax / tan_e / px)) + 1
        az = math.radians(light.azimuth_deg)
        dr, dc = -math.cos(az), math.sin(az)  # towards the sun in (row, col)
        pad = n + 1
        zp = np.pad(z, pad, mode="edge")
        H, Wc = z.shape
        for k in range(1, n + 1):
            oy, ox = int(round(k * dr)), int(round(k * dc))
            rise = math.hypot(oy, ox) * px * tan_e
            sub = zp[pad + oy: pad + oy + H, pad + ox: pad + ox + Wc]
            sh |= sub - np.float32(rise) > z + np.float32(0.05)
    full = np.zeros((cv.nr, cv.nc), dtype=np.float32)
    full[:nr, :nc] = np.repeat(np.repeat(sh.astype(np.float32), step, axis=0), step, axis=1)
    if nr < cv.nr:
        full[nr:, :] = full[nr - 1:nr, :]
    if nc < cv.nc:
        full[:, nc:] = full[:, nc - 1:nc]
    full = ndimage.uniform_filter(full, size=3, mode="nearest")
    return np.maximum(full, cv.overhead_shadow)


# --------------------------------------------------------------------------- relief displacement
#: Height below which a raised thing's side is its dark running gear or plinth, metres.
_UNDERFRAME_M = 1.0


def _lean(rad: np.ndarray, cv: Canvas, light: Lighting, view: View) -> np.ndarray:
    """The radiance as seen off-nadir: raised things drawn leaning away from the sensor.

    Every raised fine pixel is a column from the ground to its height; the
    column is swept towards ``view.lean_azimuth_deg`` one fine pixel per step
    of height and painted lowest first, so higher surfaces hide lower ones:
    its sides (the object's colour, lit by the sun as a wall facing the
    sensor, dark below :data:`_UNDERFRAME_M`) and, last, its top. Shadows
    stay where they fell on the ground.
    """
    t = view.lean
    raised = cv.z > 0.05
    if t <= 1e-6 or not raised.any():
        return rad
    rr, cc = np.nonzero(raised)
    zz = cv.z[rr, cc]
    top = np.rint(zz * t / cv.f).astype(np.int64)
    order = np.argsort(-top, kind="stable")
    rr, cc, top = rr[order], cc[order], top[order]
    phi = math.radians(view.lean_azimuth_deg)
    east, north = math.sin(phi), math.cos(phi)
    # the wall seen faces the sensor: its normal points against the lean
    sun = light.sun_vec
    cos_wall = max(0.0, -(east * sun[0] + north * sun[1]))
    amb = light.ambient
    tint = np.asarray(light.sky_tint, np.float32)[:, None]
    wall = cv.albedo[:, rr, cc] * ((amb * tint + (1 - amb) * cos_wall) / np.float32(light.flat))
    roof = rad[:, rr, cc]
    out = rad.copy()
    # top is descending, so the columns still rising at step s are its first n_at[s] entries
    n_at = np.searchsorted(-top, -np.arange(int(top[0]) + 1), side="right")
    for s in range(int(top[0]) + 1):
        n = int(n_at[s])
        r2 = rr[:n] + int(round(-s * north))
        c2 = cc[:n] + int(round(s * east))
        ok = (r2 >= 0) & (r2 < cv.nr) & (c2 >= 0) & (c2 < cv.nc)
        shade = np.float32(0.45 if s * cv.f / t < _UNDERFRAME_M else 1.0)
        col = np.where(top[:n] == s, roof[:, :n], wall[:, :n] * shade)
        out[:, r2[ok], c2[ok]] = col[:, ok]
    return out


# --------------------------------------------------------------------------- entry point
def _select(layout: Layout, key: str, items: tuple, wb: tuple[float, float, float, float]) -> list:
    """Items whose bounding box (grown by an overhead member's shadow reach) meets the window ``wb``."""
    cache = layout.extras.setdefault("bbox:" + key, None)
    if cache is None:
        boxes = np.zeros((len(items), 4))
        for i, it in enumerate(items):
            c = np.asarray(it.truth.corners_xy) if isinstance(it, PlacedCar) else it.corners()
            reach = 120.0 if getattr(it, "overhead", False) else 0.0  # detached shadows land away from the member
            boxes[i] = (c[:, 0].min() - reach, c[:, 0].max() + reach, c[:, 1].min() - reach, c[:, 1].max() + reach)
        layout.extras["bbox:" + key] = cache = boxes
    if not len(items):
        return []
    x0, x1, y0, y1 = wb
    ok = (cache[:, 1] >= x0) & (cache[:, 0] <= x1) & (cache[:, 3] >= y0) & (cache[:, 2] <= y1)
    return [items[i] for i in np.flatnonzero(ok)]



def render_window(
    layout: Layout, *, x0: float, y0: float, f: float, r0: int, c0: int, nr: int, nc: int,
    seed: int, light: Lighting, view: View = View(),
) -> np.ndarray:
    """Render the fine-grid window ``[r0:r0+nr, c0:c0+nc]`` of a scene.

    Parameters
    ----------
    layout : Layout
        What to draw.
    x0, y0 : float
        Map coordinates of the scene's top-left corner.
    f : float
        Fine pixel size, metres.
    r0, c0, nr, nc : int
        Window on the scene's fine grid (may extend beyond the scene).
    seed : int
        Texture seed (the site seed, so textures stay put between dates).
    light : Lighting
        Sun and sky.
    view : View, optional
        Where the sensor looks from (straight down by default).

    Returns
    -------
    ndarray, shape (3, nr, nc), float32
        Radiance in 8-bit digital-number units (unclipped).
    """
    cv = Canvas(x0, y0, f, r0, c0, nr, nc, seed)
    # only what can touch this window (large scenes hold many thousands of objects)
    wb = (cv.xs[0] - f, cv.xs[-1] + f, cv.ys[-1] - f, cv.ys[0] + f)
    ground_boxes = _select(layout, "ground", layout.ground, wb)
    objects = _select(layout, "objects", layout.objects, wb)
    cars = _select(layout, "cars", layout.cars, wb)
    _draw_ground(cv, layout)
    cv.cosi = np.full((nr, nc), light.sun_vec[2], dtype=np.float32)
    for box in ground_boxes:
        if box.kind != "platform":
            _draw_flat(cv, box)
    _draw_tracks(cv, layout, light)
    for box in ground_boxes:
        if box.kind == "platform":
            _draw_flat(cv, box)
    cv.frame_uw = None
    for box in _buffer_stops(layout):
        _draw_box(cv, box, light)
    for box in objects:
        if box.overhead:
            _draw_overhead(cv, box, light, shadow_pass=True)
    for box in objects:
        if not box.overhead:
            _draw_box(cv, box, light)
    for car in cars:
        _draw_car(cv, car, light)
    for box in objects:
        if box.overhead:
            _draw_overhead(cv, box, light, shadow_pass=False)
    shadow = _cast_shadows(cv, light)
    amb = light.ambient
    direct = (1 - amb) * cv.cosi * (1 - shadow)
    tint = np.asarray(light.sky_tint, np.float32)[:, None, None]
    irr = (amb * tint + direct[None]) / np.float32(light.flat)
    rad = cv.albedo * irr
    return _lean(rad, cv, light, view)
