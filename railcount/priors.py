"""Physical priors: railcar and track dimensions, and what a GSD can resolve.

Figures from public sources (see ``docs/facts.md`` for each source):
railcar lengths over couplers and body widths of common 1520 mm and 1435 mm
freight cars, coupling gaps, track spacing in yards. Every size the detector and
the simulator use is metric and comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CarType",
    "CAR_TYPES",
    "COUPLING_GAP_M",
    "TRACK_SPACING_M",
    "GAUGE_M",
    "INDIVIDUAL_MAX_GSD",
    "ESTIMATE_MAX_GSD",
    "MIN_GSD",
    "counting_mode",
]


@dataclass(frozen=True)
class CarType:
    """A railcar type: length over couplers and body width, in metres."""

    name: str
    length_m: float
    width_m: float
    height_m: float


#: Car types and their dimensions (length over couplers x body width).
#: Gondola 12-1303/12-132: 13.92 x 3.15 m; tank car 15-1547: 12.02 x ~3.0 m;
#: container flatcar 13-6724: 15.02 x 2.81 m; Chinese boxcar P70: 17.07 x 3.30 m;
#: hopper (ore/grain, 1520 mm, e.g. 19-752): about 14.7 x 3.2 m;
#: locomotive (e.g. 2TE116 section): about 18.2 x 3.1 m.
CAR_TYPES: dict[str, CarType] = {
    t.name: t
    for t in (
        CarType("gondola", 13.92, 3.15, 2.5),
        CarType("tank", 12.02, 3.00, 3.3),
        CarType("flatcar", 15.02, 2.81, 2.8),  # with containers
        CarType("boxcar", 17.07, 3.30, 3.6),
        CarType("hopper", 14.72, 3.20, 3.5),
        CarType("locomotive", 18.20, 3.10, 4.2),
    )
}

#: Gap between the bodies of two coupled cars, metres (min, max).
COUPLING_GAP_M = (0.8, 1.2)
#: Track centre spacing in yards, metres (min, max).
TRACK_SPACING_M = (4.5, 5.5)


#: Track gauges, metres: Russian broad gauge and standard gauge.
GAUGE_M = {"1520": 1.520, "1435": 1.435}

#: Finest plausible GSD of overhead imagery; anything finer is an error of units.
MIN_GSD = 0.02
#: Coarsest GSD at which individual cars can be separated at their coupling gaps.
INDIVIDUAL_MAX_GSD = 0.8
#: Coarsest GSD at which occupied track length can still be measured.
ESTIMATE_MAX_GSD = 3.0


def counting_mode(gsd: float) -> str:
    """Return what a ground sample distance allows.

    Parameters
    ----------
    gsd : float
        Ground sample distance in metres.

    Returns
    -------
    {"individual", "estimate", "none"}
        ``"individual"`` at :data:`INDIVIDUAL_MAX_GSD` or finer; ``"estimate"``
        (occupied track length / mean car length) up to
        :data:`ESTIMATE_MAX_GSD`; ``"none"`` coarser than that.
    """
    if gsd <= INDIVIDUAL_MAX_GSD:
        return "individual"
    if gsd <= ESTIMATE_MAX_GSD:
        return "estimate"
    return "none"
