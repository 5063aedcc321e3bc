"""What defines a simulated scene (:class:`SceneSpec`) and one truth railcar (:class:`TruthCar`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ..geo import validate_gsd
from ..priors import CAR_TYPES

__all__ = ["SceneSpec", "TruthCar", "MIN_SIM_GSD", "MAX_SIM_GSD", "GROUNDS", "Ground", "Gauge", "LayoutKind", "XY",
           "check_gsd"]

#: Finest and coarsest GSD the simulator renders (metres per pixel).
MIN_SIM_GSD = 0.1
MAX_SIM_GSD = 3.0

#: A kind of yard floor (``SceneSpec.ground``).
Ground = Literal["gravel", "soil", "vegetated", "ballast"]
#: Kinds of yard floor the simulator draws.
GROUNDS: tuple[Ground, ...] = get_args(Ground)
#: A kind of site (``SceneSpec.layout``).
LayoutKind = Literal["yard", "station"]
#: Track gauges of a scene (``SceneSpec.gauge``).
Gauge = Literal["mixed", "1435", "1520", "dual"]

XY = tuple[float, float]


def check_gsd(gsd: Any) -> float:
    """Return ``gsd`` as a float, or raise :class:`~railcount.errors.GSDError`.

    :func:`railcount.geo.validate_gsd` with the simulator's range.

    Raises
    ------
    GSDError
        If ``gsd`` is not a finite number in ``[MIN_SIM_GSD, MAX_SIM_GSD]``.
    """
    return validate_gsd(gsd, what="gsd", finest=MIN_SIM_GSD, coarsest=MAX_SIM_GSD,
                        purpose="the simulator renders")


@dataclass(frozen=True)
class SceneSpec:
    """Everything that defines a simulated rail-yard scene; all sizes metric.

    Two specs that compare equal render byte-identical scenes.

    Attributes
    ----------
    gsd : float
        Ground sample distance of the output raster, metres per pixel (0.1-3).
    width_m, height_m : float
        Extent of the scene on the ground, metres.
    n_cars : int
        Exact number of railcars (locomotives included) in the scene and its truth.
    seed : int
        Seed of everything that is not the site layout (cars, colours, sensor).
    layout_seed : int or None
        Seed of the site (tracks, buildings, look-alikes, ground); ``None`` uses
        ``seed``. Fix it to image the same site on several dates.
    style_seed : int or None
        Seed of the site's look: per track the rails (polished or rusty, faint
        or strong), sleepers (concrete or timber, pitch), ballast bed (width,
        colour, weeds, dirt), and the yard floor's tint. ``None`` derives it
        from the site seed, so a site keeps its look between dates; vary it
        alone to see one layout in many looks.
    n_tracks : int
        Number of yard (or station) tracks, main lines included.
    curvature : float
        Curvature of the yard axis, 1/metres (1/2000 is a 2 km radius); 0 is straight.
    yard_angle_deg : float or None
        Direction of the tracks, degrees counter-clockwise from east; ``None``
        draws it from ``layout_seed``.
    layout : {"yard", "station"}
        A freight yard (tracks that begin and end at turnouts and buffer stops
        anywhere) or a through station (station tracks leaving the main line at
        turnouts near both ends, with platforms).
    crossovers : int or None
        Number of crossovers (two turnouts joined by a short diagonal, 1:9 to
        1:12) between neighbouring parallel tracks; ``None`` draws 0-3 from the
        site seed. Fewer are laid where the tracks leave no room.
    car_types : tuple of str
        Names of :data:`railcount.priors.CAR_TYPES` that may appear.
    gauge : {"mixed", "1435", "1520", "dual"}
        Track gauge; ``"dual"`` lays four-rail 1435/1520 track everywhere,
        ``"mixed"`` draws per track.
    sun_azimuth_deg, sun_elevation_deg : float or None
        Sun position (azimuth clockwise from north). ``None``: computed from
        ``date`` (when it has a time of day) and the scene's location, else drawn
        from ``seed``.
    off_nadir_deg : float
        How far from straight down the sensor looks, degrees (0-45). Raised
        things lean away from it: a point ``h`` metres up is seen
        ``h * tan(off_nadir_deg)`` metres towards ``lean_azimuth_deg``, so the
        tops of cars, buildings and masts are displaced and their sides show,
        as in orthophotos and off-nadir satellite images. The truth stays the
        footprint on the ground.
    lean_azimuth_deg : float
        Direction raised things lean towards (away from the sensor), degrees
        clockwise from north.
    haze : float
        Fraction (0-1) of the signal replaced by a bright, bluish path radiance.
    noise : float
        Standard deviation of the sensor noise in 8-bit digital numbers.
    blur : float
        Gaussian point-spread sigma in output pixels (on top of pixel averaging).
    jpeg_quality : int or None
        Quality (1-100) of the JPEG-like 8x8 DCT quantisation applied last;
        ``None`` for none.
    misregistration_px : float
        Offset of the red and blue bands against green, output pixels.
    illumination : float
        Overall brightness gain (exposure differences between dates).
    lookalikes : bool
        Put off-track look-alikes in the scene: container stacks, trucks on
        roads, long buildings, platforms.
    lookalike_density : float
        Multiplier on how many look-alikes there are.
    masts : bool
        Catenary masts and portal gantries, with their shadows across tracks.
    ground : {"gravel", "soil", "vegetated", "ballast"}
        The yard floor between tracks: light grey gravel (as at Muttenz), bare
        soil, grass and weeds, or a yard-wide ballast bed (empty tracks are then
        rails and sleepers on ballast, the commonest background of real yards).
    crs : str
        Projected CRS of the output, in metres.
    origin : (x, y) or None
        Map coordinates of the top-left corner; ``None`` places the scene at a
        fixed point of the CRS's area.
    date : str or None
        Acquisition date ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SS`` (UTC),
        written to the tags; no wall-clock time is ever written.
    name : str or None
        Scene name, written to the tags.
    description : str or None
        Extra text for the DESCRIPTION tag (the tag always says SIMULATED).
    """

    gsd: float = 0.5
    width_m: float = 400.0
    height_m: float = 300.0
    n_cars: int = 40
    seed: int = 0
    layout_seed: int | None = None
    style_seed: int | None = None
    n_tracks: int = 8
    curvature: float = 1.0 / 2500.0
    yard_angle_deg: float | None = None
    layout: LayoutKind = "yard"
    crossovers: int | None = None
    car_types: tuple[str, ...] = tuple(CAR_TYPES)
    gauge: Gauge = "mixed"
    sun_azimuth_deg: float | None = None
    sun_elevation_deg: float | None = None
    off_nadir_deg: float = 0.0
    lean_azimuth_deg: float = 0.0
    haze: float = 0.06
    noise: float = 2.5
    blur: float = 0.5
    jpeg_quality: int | None = 85
    misregistration_px: float = 0.15
    illumination: float = 1.0
    lookalikes: bool = True
    lookalike_density: float = 1.0
    masts: bool = True
    ground: Ground = "gravel"
    crs: str = "EPSG:32652"
    origin: XY | None = None
    date: str | None = None
    name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        check_gsd(self.gsd)
        for attr in ("width_m", "height_m"):
            v = getattr(self, attr)
            if not (math.isfinite(v) and 20.0 <= v <= 20000.0):
                raise ValueError(f"{attr} must be 20-20000 m, got {v!r}")
        if self.n_cars < 0:
            raise ValueError(f"n_cars must be >= 0, got {self.n_cars}")
        if not 1 <= self.n_tracks <= 60:
            raise ValueError(f"n_tracks must be 1-60, got {self.n_tracks}")
        if abs(self.curvature) > 1.0 / 300.0:
            raise ValueError(f"curvature {self.curvature} 1/m is sharper than a 300 m radius; yards are gentler")
        unknown = [t for t in self.car_types if t not in CAR_TYPES]
        if unknown or not self.car_types:
            raise ValueError(f"car_types must be a non-empty subset of {sorted(CAR_TYPES)}, got {self.car_types!r}")
        if not 0.0 <= self.haze < 1.0:
            raise ValueError(f"haze must be in [0, 1), got {self.haze}")
        if self.noise < 0 or self.blur < 0 or self.misregistration_px < 0:
            raise ValueError("noise, blur and misregistration_px must be >= 0")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1-100 or None, got {self.jpeg_quality}")
        if self.sun_elevation_deg is not None and not 5.0 <= self.sun_elevation_deg <= 90.0:
            raise ValueError(f"sun_elevation_deg must be 5-90, got {self.sun_elevation_deg}")
        if not 0.0 <= self.off_nadir_deg <= 45.0:
            raise ValueError(f"off_nadir_deg must be 0-45, got {self.off_nadir_deg}")
        if self.layout not in ("yard", "station"):
            raise ValueError(f"layout must be 'yard' or 'station', got {self.layout!r}")
        if self.gauge not in ("mixed", "1435", "1520", "dual"):
            raise ValueError(f"gauge must be mixed, 1435, 1520 or dual, got {self.gauge!r}")
        if self.ground not in GROUNDS:
            raise ValueError(f"ground must be one of {', '.join(GROUNDS)}, got {self.ground!r}")
        if self.crossovers is not None and not 0 <= self.crossovers <= 60:
            raise ValueError(f"crossovers must be 0-60 or None, got {self.crossovers!r}")

    @property
    def site_seed(self) -> int:
        """The seed of the site layout."""
        return self.seed if self.layout_seed is None else self.layout_seed

    @property
    def look_seed(self) -> int:
        """The seed of the site's look (see ``style_seed``)."""
        return self.site_seed if self.style_seed is None else self.style_seed

    @property
    def shape(self) -> tuple[int, int]:
        """Output raster shape ``(rows, cols)``."""
        return (max(1, int(round(self.height_m / self.gsd))), max(1, int(round(self.width_m / self.gsd))))

    def replace(self, **changes: Any) -> SceneSpec:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["car_types"] = list(self.car_types)
        d["origin"] = None if self.origin is None else list(self.origin)
        return d


@dataclass(frozen=True)
class TruthCar:
    """One simulated railcar: the footprint of its body, in map coordinates.

    Attributes
    ----------
    centre_xy : (x, y)
        Centre of the body footprint, map coordinates of the scene's CRS.
    length_m, width_m : float
        Body length (end to end, couplers excluded) and width, metres.
    angle_deg : float
        Direction of the long axis, degrees counter-clockwise from east, in ``[-90, 90)``.
    car_type : str
        A key of :data:`railcount.priors.CAR_TYPES`.
    track_id : int
        Track the car stands on (index into the scene's tracks).
    corners_xy : tuple of four (x, y)
        The body rectangle, counter-clockwise.
    height_m : float
        Height of the top above the rail, metres.
    consist_id : int
        Cars coupled together share a consist id.
    """

    centre_xy: XY
    length_m: float
    width_m: float
    angle_deg: float
    car_type: str
    track_id: int
    corners_xy: tuple[XY, XY, XY, XY]
    height_m: float = 0.0
    consist_id: int = -1
    variant: str = field(default="", compare=False)
