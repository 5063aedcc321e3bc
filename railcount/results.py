"""Small immutable result types of a scan, and their GeoJSON and table forms.

A :class:`Detection` is one railcar; a :class:`ScanResult` is everything a scan
of one raster found. Both are frozen; turn them into RFC 7946 GeoJSON with
:meth:`ScanResult.to_geojson` or into a dict of columns (ready for
``pandas.DataFrame``) with :meth:`ScanResult.to_table`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from .types import CountMode, DateSource

__all__ = ["Detection", "Track", "ScanResult", "TrackResult", "interval_phrase", "tracks_geojson"]

Corners = tuple[tuple[float, float], ...]


def interval_phrase(count: Any) -> str:
    """``"90% interval 70-76"``, or ``"cannot be bounded at 2 m GSD"`` for a count with no interval.

    ``count`` is anything with ``count_low``, ``count_high``, ``confidence``,
    ``gsd`` and (optionally) ``bounded``: a :class:`ScanResult` or an
    :class:`~railcount.compare.Observation`.
    """
    if not getattr(count, "bounded", True):
        return f"cannot be bounded at {count.gsd:g} m GSD"
    return f"{count.confidence * 100:.0f}% interval {count.count_low}-{count.count_high}"


@dataclass(frozen=True)
class Detection:
    """One detected railcar.

    Attributes
    ----------
    row, col : float
        Centre in pixel coordinates of the scanned raster (row, col).
    length_m, width_m : float
        Size of the car's outline in metres.
    angle_deg : float
        Orientation of the car's long axis in degrees, counter-clockwise from
        the image's column axis (east on a north-up raster), in ``[-90, 90)``.
    score : float
        Confidence in ``[0, 1]`` that this is a railcar.
    track_id : int
        Index of the track the car stands on (``-1`` if unknown).
    corners_px : tuple of (row, col)
        The rotated rectangle, four corners in pixel coordinates.
    corners_lonlat : tuple of (lon, lat), or None
        The same corners in WGS84 degrees; ``None`` for rasters without a
        georeference.
    kind : str
        ``"car"`` for a counted railcar, ``"occupied"`` for a stretch of
        occupied track in estimate mode (then ``cars`` says how many cars the
        stretch is estimated to hold).
    cars : float
        Number of cars this feature stands for (1 for a detected car).
    """

    row: float
    col: float
    length_m: float
    width_m: float
    angle_deg: float
    score: float
    track_id: int = -1
    corners_px: Corners = ()
    corners_lonlat: Corners | None = None
    kind: str = "car"
    cars: float = 1.0

    def properties(self) -> dict[str, Any]:
        """Return the GeoJSON/table properties of this detection."""
        return {
            "kind": self.kind,
            "length_m": round(self.length_m, 2),
            "width_m": round(self.width_m, 2),
            "angle_deg": round(self.angle_deg, 1),
            "score": round(self.score, 3),
            "track_id": self.track_id,
            "cars": round(self.cars, 2),
            "row": round(self.row, 1),
            "col": round(self.col, 1),
        }


@dataclass(frozen=True)
class Track:
    """One track centreline a scan searched along.

    Attributes
    ----------
    coords_px : tuple of (row, col)
        Vertices in pixel coordinates of the scanned raster.
    coords_lonlat : tuple of (lon, lat), or None
        The same vertices in WGS84 degrees; ``None`` without a georeference.
    length_m : float
        Length, metres.
    score : float
        Mean probability of the track points found on it (1 for a user's line).
    source : {"image", "user"}
        Found in the image (also where a user's line was snapped to it), or a
        user's line used as given because no track was seen near it.
    track_id : int
        Index of the track in its result; detections refer to it.
    n_cars : int or None
        Railcars found on it (``None`` when cars were not looked for).
    occupied_m : float or None
        Length of it covered by railcars, metres.
    """

    coords_px: Corners
    coords_lonlat: Corners | None
    length_m: float
    score: float
    source: str = "image"
    track_id: int = -1
    n_cars: int | None = None
    occupied_m: float | None = None

    def properties(self) -> dict[str, Any]:
        """Return the GeoJSON/table properties of this track."""
        props: dict[str, Any] = {
            "track_id": self.track_id,
            "source": self.source,
            "length_m": round(self.length_m, 2),
            "score": round(self.score, 3),
        }
        if self.n_cars is not None:
            occ = self.occupied_m or 0.0
            props.update(n_cars=self.n_cars, occupied_m=round(occ, 2),
                         occupied_fraction=round(occ / self.length_m, 3) if self.length_m > 0 else 0.0)
        return props


def tracks_geojson(tracks: tuple[Track, ...], *, simulated: bool, summary: dict[str, Any]) -> dict[str, Any]:
    """RFC 7946 FeatureCollection of tracks: one LineString (lon/lat) per track.

    Tracks of a raster without a georeference get ``geometry: null`` and
    their pixel vertices in the ``coords_px`` property.
    """
    features = []
    for t in tracks:
        props = t.properties()
        props["simulated"] = simulated
        if t.coords_lonlat:
            geometry: dict[str, Any] | None = {
                "type": "LineString", "coordinates": [[round(x, 8), round(y, 8)] for x, y in t.coords_lonlat]}
        else:
            geometry = None
            props["coords_px"] = [[round(r, 2), round(c, 2)] for r, c in t.coords_px]
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features, "railcount": summary}


@dataclass(frozen=True)
class TrackResult:
    """The tracks found in one raster (``railcount tracks``).

    Attributes are those of :class:`ScanResult` that describe the raster,
    plus the tracks.
    """

    source: str
    gsd: float
    tracks: tuple[Track, ...] = field(default=(), repr=False)
    date: _dt.date | None = None
    crs: str | None = None
    bounds_lonlat: tuple[float, float, float, float] | None = None
    shape: tuple[int, int] = (0, 0)
    simulated: bool = False
    elapsed_s: float = 0.0

    @property
    def length_m(self) -> float:
        """Total length of the tracks, metres."""
        return float(sum(t.length_m for t in self.tracks))

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary (no geometry)."""
        return {
            "source": self.source,
            "simulated": self.simulated,
            "n_tracks": len(self.tracks),
            "length_m": round(self.length_m, 1),
            "n_user_tracks": sum(t.source == "user" for t in self.tracks),
            "gsd_m": round(self.gsd, 4),
            "date": self.date.isoformat() if self.date else None,
            "crs": self.crs,
            "bounds_lonlat": list(self.bounds_lonlat) if self.bounds_lonlat else None,
            "shape": list(self.shape),
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def to_geojson(self) -> dict[str, Any]:
        """Return an RFC 7946 FeatureCollection, one LineString Feature per track."""
        return tracks_geojson(self.tracks, simulated=self.simulated, summary=self.summary())


@dataclass(frozen=True)
class ScanResult:
    """Everything one scan of one raster found.

    Attributes
    ----------
    source : str
        Path or URL of the raster.
    count : int
        Best estimate of the number of railcars.
    count_low, count_high : int
        The interval around ``count`` at ``confidence``, from the detector's
        measured error rates at this GSD and mode.
    confidence : float
        Coverage of the interval, e.g. 0.9.
    bounded : bool
        False where the evidence cannot bound the count at this GSD (the
        interval then means nothing; see :mod:`railcount.detect.calibration`).
    mode : {"individual", "estimate"}
        Individual cars detected, or an estimate from occupied track length.
    gsd : float
        Ground sample distance in metres.
    date : datetime.date or None
        Acquisition date, when known.
    date_source : {"tag", "filename", "caller", "unknown"}
        Where the date came from.
    crs : str or None
        CRS of the raster (``"EPSG:32652"`` or WKT), ``None`` without georeference.
    bounds_lonlat : (west, south, east, north) or None
        Extent of the scanned pixels in WGS84 degrees.
    shape : (rows, cols)
        Size of the scanned raster in pixels.
    detections : tuple of Detection
        Every detection, in a deterministic order.
    simulated : bool
        True when the raster is a simulated scene (from its tags or name).
    elapsed_s : float
        Wall time the scan took.
    n_tracks : int
        Number of track centrelines searched.
    tracks : tuple of Track
        The tracks searched along (found in the image or given by the user).
    """

    source: str
    count: int
    count_low: int
    count_high: int
    mode: CountMode
    gsd: float
    confidence: float = 0.9
    date: _dt.date | None = None
    date_source: DateSource = "unknown"
    crs: str | None = None
    bounds_lonlat: tuple[float, float, float, float] | None = None
    shape: tuple[int, int] = (0, 0)
    detections: tuple[Detection, ...] = field(default=(), repr=False)
    simulated: bool = False
    elapsed_s: float = 0.0
    n_tracks: int = 0
    tracks: tuple[Track, ...] = field(default=(), repr=False)
    bounded: bool = True

    @property
    def interval(self) -> tuple[int, int]:
        """The count's interval ``(low, high)``."""
        return (self.count_low, self.count_high)

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary (no per-car features)."""
        return {
            "source": self.source,
            "simulated": self.simulated,
            "count": self.count,
            "count_low": self.count_low,
            "count_high": self.count_high,
            "confidence": self.confidence,
            "bounded": self.bounded,
            "mode": self.mode,
            "gsd_m": round(self.gsd, 4),
            "date": self.date.isoformat() if self.date else None,
            "date_source": self.date_source,
            "crs": self.crs,
            "bounds_lonlat": list(self.bounds_lonlat) if self.bounds_lonlat else None,
            "shape": list(self.shape),
            "n_detections": len(self.detections),
            "n_tracks": self.n_tracks,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def to_geojson(self) -> dict[str, Any]:
        """Return an RFC 7946 FeatureCollection, one Polygon Feature per detection.

        Coordinates are WGS84 lon/lat. Rasters without a georeference have no
        lon/lat: their features carry ``geometry: null`` and pixel corners in
        the ``corners_px`` property.

        Returns
        -------
        dict
            A GeoJSON FeatureCollection; the scan summary is under the
            foreign member ``"railcount"``.
        """
        features = []
        for d in self.detections:
            props = d.properties()
            props["simulated"] = self.simulated
            if d.corners_lonlat:
                ring = [[round(x, 8), round(y, 8)] for x, y in d.corners_lonlat]
                ring = _ccw(ring)
                ring.append(ring[0])
                geometry: dict[str, Any] | None = {"type": "Polygon", "coordinates": [ring]}
            else:
                geometry = None
                props["corners_px"] = [[round(r, 2), round(c, 2)] for r, c in d.corners_px]
            features.append({"type": "Feature", "geometry": geometry, "properties": props})
        return {"type": "FeatureCollection", "features": features, "railcount": self.summary()}

    def tracks_geojson(self) -> dict[str, Any]:
        """Return the tracks searched as an RFC 7946 FeatureCollection of LineStrings (lon/lat)."""
        return tracks_geojson(self.tracks, simulated=self.simulated, summary=self.summary())

    def to_table(self) -> dict[str, list[Any]]:
        """Return the detections as a dict of columns (ready for ``pandas.DataFrame``)."""
        keys = list(Detection(0, 0, 0, 0, 0, 0).properties())
        table: dict[str, list[Any]] = {k: [] for k in keys}
        table["lon"], table["lat"] = [], []
        for d in self.detections:
            for k, v in d.properties().items():
                table[k].append(v)
            if d.corners_lonlat:
                table["lon"].append(sum(p[0] for p in d.corners_lonlat) / len(d.corners_lonlat))
                table["lat"].append(sum(p[1] for p in d.corners_lonlat) / len(d.corners_lonlat))
            else:
                table["lon"].append(None)
                table["lat"].append(None)
        return table


def _ccw(ring: list[list[float]]) -> list[list[float]]:
    """Orient an open ring counter-clockwise, as RFC 7946 asks of exterior rings."""
    area = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        area += x0 * y1 - x1 * y0
    return ring if area >= 0 else ring[::-1]
