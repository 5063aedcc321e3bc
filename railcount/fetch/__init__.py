"""Getting real public imagery: web-map tiles (XYZ) and satellite scenes (STAC).

Together with :mod:`railcount.io`, this package is the only part of railcount
that touches the network. Servers are treated as untrusted: every request has a
timeout, a size cap, a redirect limit and retries with backoff, every tile is
decoded and checked before use, and cache and output paths are derived by
railcount, never taken from what a server or a template says.

Examples
--------
>>> from railcount.fetch import fetch_xyz, fetch_stac
>>> from railcount.catalog import get_site
>>> site = get_site("tumangang")
>>> fetch_xyz(site, 18, provider="Esri.WorldImagery", out="tumangang_z18.tif")  # doctest: +SKIP
>>> fetch_stac(site, "2023-09-01/2023-10-31", out_dir="s2")  # doctest: +SKIP
"""

from __future__ import annotations

from .http import USER_AGENT
from .stac import (
    DEFAULT_API,
    DEFAULT_ASSET,
    DEFAULT_COLLECTION,
    ItemSummary,
    check_datetime,
    fetch_items,
    fetch_stac,
    search_stac,
)
from .xyz import (
    CACHE_ENV,
    DEFAULT_MAX_TILES,
    DEFAULT_RATE,
    TileSource,
    default_cache_dir,
    fetch_xyz,
    resolve_source,
    tile_range,
)

__all__ = [
    "USER_AGENT",
    "DEFAULT_API",
    "DEFAULT_ASSET",
    "DEFAULT_COLLECTION",
    "ItemSummary",
    "check_datetime",
    "fetch_items",
    "fetch_stac",
    "search_stac",
    "CACHE_ENV",
    "DEFAULT_MAX_TILES",
    "DEFAULT_RATE",
    "TileSource",
    "default_cache_dir",
    "fetch_xyz",
    "resolve_source",
    "tile_range",
]
