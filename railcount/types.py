"""Type aliases shared across railcount, kept in one place."""

from __future__ import annotations

from typing import Any, Literal, Mapping, Tuple, Union

#: A bounding box ``(west, south, east, north)``; in lon/lat degrees unless stated.
BBox = Tuple[float, float, float, float]

#: An area of interest: a lon/lat box, or a GeoJSON polygon (geometry, Feature or FeatureCollection).
AOI = Union[BBox, Mapping[str, Any]]

#: How a count was made: one detection per car, or occupied track length divided
#: by a mean car length.
CountMode = Literal["individual", "estimate"]

#: Where an acquisition date came from.
DateSource = Literal["tag", "filename", "caller", "unknown"]
