"""Render simulated scenes, write them, and define the benchmark set and the sample tiles.

A :class:`Scene` is the pixels of a rendered :class:`~railcount.synth.spec.SceneSpec`
with its georeference, its truth railcars and its tags. :func:`render_scene`
draws it tile by tile (bounded memory); :func:`iter_scene_tiles` yields the
tiles one at a time for scenes too large to hold at once.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from affine import Affine

from ..priors import CAR_TYPES
from . import sensor
from .layout import Layout, make_layout, scene_bounds
from .render import Lighting, View, render_window
from .spec import SceneSpec, TruthCar

__all__ = [
    "Scene",
    "render_scene",
    "iter_scene_tiles",
    "write_scene",
    "truth_path_for",
    "tracks_path_for",
    "scene_lighting",
    "sun_position",
    "TILE_ALIGN",
]

logger = logging.getLogger(__name__)

#: Output tiles are aligned to this many pixels (JPEG blocks with 2x2 chroma subsampling).
TILE_ALIGN = 16
#: Scenes are rendered in tiles whose fine-grid window holds at most about this many pixels a side.
_FINE_TILE = 2048

XY = tuple[float, float]


@dataclass(frozen=True)
class Scene:
    """A rendered, georeferenced simulated scene with its truth.

    Attributes
    ----------
    pixels : ndarray, shape (3, rows, cols), uint8
        RGB pixels.
    transform : affine.Affine
        Pixel-to-map transform (north-up, ``gsd`` metres per pixel).
    crs : str
        CRS of the map coordinates.
    gsd : float
        Ground sample distance, metres.
    cars : tuple of TruthCar
        Every railcar in the scene (bodies, not shadows), in map coordinates.
    tracks : tuple of tuple of (x, y)
        Track centrelines in map coordinates, indexed by ``track_id``: the
        whole drawn track (turnout curves included) where it lies within 5 m
        of the scene, points about 1 m apart; empty where a track is not in
        the scene. Crossovers are tracks of their own.
    tags : dict of str
        GeoTIFF tags (RAILCOUNT_SIMULATED=yes, DESCRIPTION, date tags, ...).
    spec : SceneSpec
        What was rendered.
    track_gauges : tuple of str
        Gauge of each track (``"1435"``, ``"1520"`` or ``"dual"``).
    track_kinds : tuple of str
        Kind of each track: ``"main"``, ``"yard"``, ``"station"`` or ``"crossover"``.
    """

    pixels: np.ndarray
    transform: Affine
    crs: str
    gsd: float
    cars: tuple[TruthCar, ...]
    tracks: tuple[tuple[XY, ...], ...]
    tags: dict[str, str]
    spec: SceneSpec | None = None
    track_gauges: tuple[str, ...] = field(default=())
    track_kinds: tuple[str, ...] = field(default=())

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return self.pixels.shape[1], self.pixels.shape[2]

    def truth_geojson(self) -> dict[str, Any]:
        """The truth as an RFC 7946 FeatureCollection in lon/lat, one Polygon per railcar.

        Rings are closed and counter-clockwise; coordinates are rounded to
        1e-7 degrees (about 1 cm). Each feature has ``car_type``,
        ``length_m``, ``width_m``, ``angle_deg``, ``track_id``, ``consist_id``,
        ``height_m``, its map centre and ``"simulated": true``; the collection
        carries ``"simulated": true`` and a ``railcount`` member describing the scene.
        """
        from pyproj import Transformer

        tr = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        feats = []
        for i, car in enumerate(self.cars):
            xs = [p[0] for p in car.corners_xy] + [car.corners_xy[0][0]]
            ys = [p[1] for p in car.corners_xy] + [car.corners_xy[0][1]]
            lon, lat = tr.transform(xs, ys)
            ring = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]
            feats.append({
                "type": "Feature",
                "id": i,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "car_type": car.car_type,
                    "length_m": round(car.length_m, 3),
                    "width_m": round(car.width_m, 3),
                    "angle_deg": round(car.angle_deg, 3),
                    "height_m": round(car.height_m, 2),
                    "track_id": car.track_id,
                    "consist_id": car.consist_id,
                    "centre_x": round(car.centre_xy[0], 3),
                    "centre_y": round(car.centre_xy[1], 3),
                    "simulated": True,
                },
            })
        return self._collection(feats, "SIMULATED truth", {
            "date": self.tags.get("ACQUISITION_DATE"),
            "counts_by_type": {t: sum(c.car_type == t for c in self.cars) for t in CAR_TYPES
                               if any(c.car_type == t for c in self.cars)},
        })

    def tracks_geojson(self) -> dict[str, Any]:
        """The track truth as an RFC 7946 FeatureCollection in lon/lat, one LineString per track.

        Each feature is a track centreline of :attr:`tracks` (tracks not in the
        scene are left out), simplified within 1 cm and rounded to 1e-7
        degrees, with ``track_id``, ``gauge``, ``kind`` (``"main"``, ``"yard"``,
        ``"station"`` or ``"crossover"``), ``length_m`` (the centreline's length
        in the scene's CRS, as far as :attr:`tracks` holds it) and
        ``"simulated": true``; the collection carries ``"simulated": true`` and
        a ``railcount`` member describing the scene.
        """
        from pyproj import Transformer
        from shapely.geometry import LineString

        tr = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        feats = []
        for tid, line in enumerate(self.tracks):
            if len(line) < 2:
                continue
            geom = LineString(line)
            xs, ys = np.asarray(geom.simplify(0.01, preserve_topology=False).coords).T
            lon, lat = tr.transform(xs, ys)
            feats.append({
                "type": "Feature",
                "id": tid,
                "geometry": {"type": "LineString",
                             "coordinates": [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]},
                "properties": {
                    "track_id": tid,
                    "gauge": self.track_gauges[tid],
                    "kind": self.track_kinds[tid],
                    "length_m": round(geom.length, 2),
                    "simulated": True,
                },
            })
        return self._collection(feats, "SIMULATED track truth")

    def _collection(self, feats: list[dict[str, Any]], what: str,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A truth FeatureCollection marked SIMULATED, with a ``railcount`` member describing the scene."""
        return {
            "type": "FeatureCollection",
            "simulated": True,
            "railcount": {
                "simulated": True,
                "note": f"{what} of a SIMULATED scene (railcount.synth); not an observation",
                "name": self.tags.get("RAILCOUNT_SCENE", ""),
                "count": len(feats),
                "gsd": self.gsd,
                "crs": self.crs,
                **(extra or {}),
            },
            "features": feats,
        }


# --------------------------------------------------------------------------- sun
def _parse_date(text: str) -> tuple[_dt.date, _dt.datetime | None]:
    t = text.strip().replace("Z", "")
    try:
        if len(t) == 10:
            return _dt.date.fromisoformat(t), None
        d = _dt.datetime.fromisoformat(t)
        return d.date(), d
    except ValueError:
        raise ValueError(f"date must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC), got {text!r}") from None


def sun_position(when: _dt.datetime, lon: float, lat: float) -> tuple[float, float]:
    """Solar azimuth (clockwise from north) and elevation in degrees at a UTC time and place.

    Uses the NOAA general solar position approximation (accurate to a few
    tenths of a degree), enough for plausible shadows.
    """
    doy = when.timetuple().tm_yday
    hour = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * math.pi / 365 * (doy - 1 + (hour - 12) / 24)
    eqt = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                    - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    tst = hour * 60 + eqt + 4 * lon
    ha = math.radians(tst / 4 - 180)
    phi = math.radians(lat)
    cz = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    el = 90 - math.degrees(math.acos(max(-1.0, min(1.0, cz))))
    az = (math.degrees(math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi)))
          + 180) % 360
    return az, el


def scene_lighting(spec: SceneSpec) -> tuple[Lighting, float, tuple[float, float, float]]:
    """The sun, sky, exposure gain and colour balance of a scene (from its spec and seed)."""
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 31]))
    az0, el0 = float(rng.uniform(120, 235)), float(rng.uniform(28, 65))
    az, el = spec.sun_azimuth_deg, spec.sun_elevation_deg
    if (az is None or el is None) and spec.date:
        _, when = _parse_date(spec.date)
        if when is not None:
            from pyproj import Transformer

            x0, y0, x1, y1 = scene_bounds(spec)
            to_lonlat = Transformer.from_crs(spec.crs, "EPSG:4326", always_xy=True)
            lon, lat = to_lonlat.transform((x0 + x1) / 2, (y0 + y1) / 2)
            saz, sel = sun_position(when, lon, lat)
            if sel > 5:
                az0, el0 = saz, sel
    light = Lighting(az if az is not None else az0, max(5.0, min(90.0, el if el is not None else el0)),
                     ambient=0.17 + 0.5 * spec.haze)
    gain = spec.illumination * float(np.exp(rng.normal(0, 0.05)))
    balance = tuple(float(v) for v in np.exp(rng.normal(0, 0.03, 3)))
    return light, gain, balance  # type: ignore[return-value]


# --------------------------------------------------------------------------- render
def _margin_px(spec: SceneSpec, layout: Layout, light: Lighting, view: View) -> int:
    h = min(max([c.truth.height_m for c in layout.cars] + [b.height for b in layout.objects] + [1.5]), 25.0)
    shadow = h / math.tan(math.radians(max(light.elevation_deg, 5.0)))
    m = shadow + h * view.lean + 3.5 * spec.blur * spec.gsd + 2 * spec.misregistration_px * spec.gsd + 2.0
    return int(math.ceil(m / spec.gsd)) + 2


def iter_scene_tiles(spec: SceneSpec, *, tile: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
    """Render ``spec`` tile by tile.

    Parameters
    ----------
    spec : SceneSpec
        What to render.
    tile : int, optional
        Output tile size in pixels (rounded up to a multiple of
        :data:`TILE_ALIGN`); by default chosen so that the fine-resolution
        window of a tile stays near 2048 pixels a side.

    Yields
    ------
    row0, col0 : int
        Position of the tile in the output raster.
    pixels : ndarray, shape (3, rows, cols), uint8

    Notes
    -----
    Tiles are exactly the corresponding parts of a whole-scene render: every
    random texture and noise value is a function of position, and each tile
    is rendered with a margin wide enough for shadows, blur and band offsets.
    This is how to make very large scenes (e.g. 16k x 16k pixels for a speed
    benchmark) without holding a fine raster of the whole scene: write each
    tile into a windowed GeoTIFF as it comes.
    """
    layout = make_layout(spec)
    yield from _tiles(spec, layout, tile)


def _tiles(spec: SceneSpec, layout: Layout, tile: int | None) -> Iterator[tuple[int, int, np.ndarray]]:
    light, gain, balance = scene_lighting(spec)
    k = sensor.oversampling(spec.gsd)
    f = spec.gsd / k
    rows, cols = spec.shape
    x0, y0, _, _ = scene_bounds(spec)
    view = View(spec.off_nadir_deg, spec.lean_azimuth_deg)
    M = _margin_px(spec, layout, light, view)
    if tile is None:
        tile = max(TILE_ALIGN, (_FINE_TILE // k - 2 * M) // TILE_ALIGN * TILE_ALIGN)
    tile = int(math.ceil(tile / TILE_ALIGN) * TILE_ALIGN)
    for r0 in range(0, rows, tile):
        nr = min(tile, rows - r0)
        for c0 in range(0, cols, tile):
            nc = min(tile, cols - c0)
            fine = render_window(layout, x0=x0, y0=y0, f=f, r0=(r0 - M) * k, c0=(c0 - M) * k,
                                 nr=(nr + 2 * M) * k, nc=(nc + 2 * M) * k, seed=spec.site_seed, light=light,
                                 view=view)
            img = sensor.optics(fine, k=k, blur_px=spec.blur, misregistration_px=spec.misregistration_px)
            del fine
            img = img[:, M:M + nr, M:M + nc]
            img = sensor.radiometry(img, row0=r0, col0=c0, gsd=spec.gsd, seed=spec.seed, haze=spec.haze,
                                    noise=spec.noise, gain=gain, balance=balance)
            if spec.jpeg_quality is not None:
                img = sensor.jpeg_like(img, spec.jpeg_quality)
            yield r0, c0, sensor.to_uint8(img)


def render_scene(spec: SceneSpec, *, tile: int | None = None, pixels: bool = True) -> Scene:
    """Render a simulated rail-yard scene and its truth.

    Parameters
    ----------
    spec : SceneSpec
        Everything that defines the scene; equal specs give identical pixels.
    tile : int, optional
        Output tile size used internally (see :func:`iter_scene_tiles`); the
        result does not depend on it.
    pixels : bool
        ``False`` skips drawing: the scene's truth, tracks and tags are
        complete but ``pixels`` is an empty ``(3, 0, 0)`` array (fast).

    Returns
    -------
    Scene

    Raises
    ------
    GSDError
        If the spec's GSD is out of range (raised when the spec is made).
    CapacityError
        If the cars do not fit on the tracks (a ``ValueError``).

    Examples
    --------
    >>> from railcount.synth import SceneSpec, render_scene
    >>> scene = render_scene(SceneSpec(gsd=1.0, width_m=120, height_m=100, n_cars=5, seed=1))
    >>> scene.pixels.shape, len(scene.cars)
    ((3, 100, 120), 5)
    """
    layout = make_layout(spec)
    rows, cols = spec.shape
    if pixels:
        img = np.empty((3, rows, cols), dtype=np.uint8)
        for r0, c0, block in _tiles(spec, layout, tile):
            img[:, r0:r0 + block.shape[1], c0:c0 + block.shape[2]] = block
    else:
        img = np.zeros((3, 0, 0), dtype=np.uint8)
    x0, y0, x1, y1 = scene_bounds(spec)
    transform = Affine(spec.gsd, 0.0, x0, 0.0, -spec.gsd, y0)
    tracks = tuple(_centreline(layout, t, (x0, y0, x1, y1)) for t in layout.tracks)
    cars = tuple(c.truth for c in layout.cars)
    light, _, _ = scene_lighting(spec)
    return Scene(img, transform, spec.crs, spec.gsd, cars, tracks, scene_tags(spec, len(cars), light),
                 spec, tuple(t.gauge for t in layout.tracks), tuple(t.kind for t in layout.tracks))


def _centreline(layout: Layout, track, bounds) -> tuple[XY, ...]:
    """The track's centreline from end to end (both ends exactly), where within 5 m of the scene."""
    x0, y0, x1, y1 = bounds
    a, b = track.extent
    n = max(2, int(math.ceil(b - a)) + 1)
    u = np.linspace(a, b, n)
    x, y = layout.frame.to_map(u, track.offset_at(u))
    m = 5.0
    inside = (x > x0 - m) & (x < x1 + m) & (y < y0 + m) & (y > y1 - m)
    return tuple((round(float(p), 3), round(float(q), 3)) for p, q in zip(x[inside], y[inside]))


def scene_tags(spec: SceneSpec, n_cars: int, light: Lighting) -> dict[str, str]:
    """GeoTIFF tags of a simulated scene: SIMULATED markers, date, truth count, the spec.

    No creation time is written, so equal specs give byte-identical files.
    """
    desc = (f"SIMULATED rail-yard scene rendered by railcount.synth; not real imagery. "
            f"{n_cars} railcars, GSD {spec.gsd:g} m.")
    if spec.description:
        desc += " " + spec.description
    tags = {
        "RAILCOUNT_SIMULATED": "yes",
        "DESCRIPTION": desc,
        "TIFFTAG_IMAGEDESCRIPTION": desc,
        "TIFFTAG_SOFTWARE": "railcount.synth (SIMULATED)",
        "RAILCOUNT_TRUTH_COUNT": str(n_cars),
        "RAILCOUNT_GSD": f"{spec.gsd:g}",
        "RAILCOUNT_SEED": str(spec.seed),
        "RAILCOUNT_SUN": f"azimuth {light.azimuth_deg:.1f} deg, elevation {light.elevation_deg:.1f} deg",
        "RAILCOUNT_SPEC": json.dumps(spec.to_dict(), sort_keys=True),
    }
    if spec.name:
        tags["RAILCOUNT_SCENE"] = spec.name
    if spec.date:
        day, when = _parse_date(spec.date)
        tags["ACQUISITION_DATE"] = day.isoformat() if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")
        tags["TIFFTAG_DATETIME"] = (when or _dt.datetime(day.year, day.month, day.day)).strftime("%Y:%m:%d %H:%M:%S")
    return tags


def truth_path_for(path: str | os.PathLike[str]) -> Path:
    """``<stem>.truth.geojson`` beside ``path``."""
    p = Path(path)
    return p.with_name(p.stem + ".truth.geojson")


def tracks_path_for(path: str | os.PathLike[str]) -> Path:
    """``<stem>.tracks.geojson`` beside ``path``."""
    p = Path(path)
    return p.with_name(p.stem + ".tracks.geojson")


def write_scene(scene: Scene, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a scene as a tiled, compressed RGB GeoTIFF, with its car and track truth beside it.

    Parameters
    ----------
    scene : Scene
        A rendered scene.
    path : path-like
        The GeoTIFF to write; the railcar truth goes to ``<stem>.truth.geojson``
        (:meth:`Scene.truth_geojson`) and the track truth to
        ``<stem>.tracks.geojson`` (:meth:`Scene.tracks_geojson`, see
        :func:`tracks_path_for`).

    Returns
    -------
    (Path, Path)
        The GeoTIFF and the railcar truth file.

    Raises
    ------
    OutputError
        If a file cannot be written (then none of the three is: nothing partial is left behind).
    """
    from .. import io

    tif = Path(path)
    truth = truth_path_for(tif)
    with io.atomic_outputs(tif, truth, tracks_path_for(tif)) as (tmp_tif, tmp_truth, tmp_tracks):
        assert tmp_tif is not None and tmp_truth is not None and tmp_tracks is not None
        io.write_geotiff(tmp_tif, scene.pixels, transform=scene.transform, crs=scene.crs, tags=scene.tags)
        io.write_json(tmp_truth, scene.truth_geojson())
        io.write_json(tmp_tracks, scene.tracks_geojson())
    return tif, truth
