"""Type aliases shared across railcount, kept in one place."""

from __future__ import annotations

from typing import Literal, Tuple

#: A bounding box ``(west, south, east, north)``; in lon/lat degrees unless stated.
BBox = Tuple[float, float, float, float]

#: How a count was made: one detection per car, or occupied track length divided
#: by a mean car length.
CountMode = Literal["individual", "estimate"]

#: Where an acquisition date came from.
DateSource = Literal["tag", "filename", "caller", "unknown"]
