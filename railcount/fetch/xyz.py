"""Web-map (XYZ) tiles: download, cache, mosaic, crop, and write as a GeoTIFF.

Web-map tiles are rendered mosaics with no acquisition date: the GeoTIFFs
written here carry the download date (``RAILCOUNT_DOWNLOADED``) but no
``TIFFTAG_DATETIME``, so ``railcount info`` reports their date as unknown.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import io
import json
import logging
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import AOIError, FetchError, FetchRequestError, OutputError
from ..extras import require
from ..geo import validate_bbox
from ..io import write_bytes, write_geotiff
from ..sites import Site
from ..types import BBox
from .http import HttpPolicy, InvalidResponse, RateLimiter, check_http_url, fetch_bytes, redact_url

__all__ = [
    "TileSource",
    "resolve_source",
    "tile_range",
    "fetch_xyz",
    "default_cache_dir",
    "CACHE_ENV",
    "DEFAULT_MAX_TILES",
    "DEFAULT_RATE",
    "MAX_TILE_BYTES",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the tile cache folder.
CACHE_ENV = "RAILCOUNT_CACHE"
#: Default limit on the number of tiles one request may need.
DEFAULT_MAX_TILES = 256
#: Default request rate, in requests per second.
DEFAULT_RATE = 8.0
#: Default cap on the bytes read for one tile.
MAX_TILE_BYTES = 8 * 1024 * 1024
#: Tile edge lengths accepted, in pixels.
TILE_SIZES = (256, 512)

_EARTH_CIRCUMFERENCE = 2 * math.pi * 6378137.0  # EPSG:3857 world width, metres
_PLACEHOLDERS = ("{z}", "{x}", "{y}", "{-y}")
_LL_EPSILON = 1e-11
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


@dataclass(frozen=True)
class TileSource:
    """Where tiles come from.

    Attributes
    ----------
    name : str
        Provider name (as in xyzservices) or ``"custom"`` for a URL template.
    template : str
        URL template with ``{z}``, ``{x}`` and ``{y}`` (or ``{-y}`` for TMS rows).
    attribution : str
        Text the provider asks to be shown with its imagery.
    max_zoom : int or None
        Highest zoom the provider declares, if any.
    """

    name: str
    template: str
    attribution: str
    max_zoom: int | None = None

    def url(self, z: int, x: int, y: int) -> str:
        """The URL of tile ``z/x/y`` (integers, formatted here)."""
        z, x, y = int(z), int(x), int(y)
        return (self.template.replace("{z}", str(z)).replace("{x}", str(x))
                .replace("{-y}", str((1 << z) - 1 - y)).replace("{y}", str(y)))


def _check_template(template: str) -> str:
    try:
        check_http_url(template, what="tile URL template")
    except ValueError as exc:
        raise FetchRequestError(f"{exc}; e.g. --url 'https://host/tiles/{{z}}/{{x}}/{{y}}.png'") from None
    if "{z}" not in template or "{x}" not in template or ("{y}" not in template and "{-y}" not in template):
        raise FetchRequestError(f"tile URL template {redact_url(template)!r} must contain {{z}}, {{x}} and "
                                "{y} (or {-y} for TMS rows)")
    rest = template
    for ph in _PLACEHOLDERS:
        rest = rest.replace(ph, "")
    if "{" in rest or "}" in rest:
        left = re.findall(r"\{[^}]*\}?", rest)
        raise FetchRequestError(f"tile URL template {redact_url(template)!r} has placeholder(s) "
                                f"{', '.join(left) or '{ }'} railcount cannot fill; only {{z}}, {{x}}, {{y}} "
                                "and {-y} are supported (fill in subdomains, keys and variants yourself)")
    return template


def resolve_source(provider: Any = None, url: str | None = None, *, attribution: str | None = None
                   ) -> TileSource:
    """Turn a provider name, an xyzservices provider or a URL template into a :class:`TileSource`.

    Parameters
    ----------
    provider : str or xyzservices.TileProvider, optional
        A provider name as in xyzservices (e.g. ``"Esri.WorldImagery"``) or a provider object.
    url : str, optional
        A URL template instead (``https://host/{z}/{x}/{y}.png``).
    attribution : str, optional
        Attribution for imagery from ``url`` (or to replace the provider's).

    Returns
    -------
    TileSource

    Raises
    ------
    FetchRequestError
        If neither or both are given, the name is unknown, the provider needs an
        API key, or the template is not an http(s) template with ``{z}/{x}/{y}``.
    """
    if (provider is None) == (url is None):
        raise FetchRequestError("give exactly one of provider (e.g. --provider Esri.WorldImagery) "
                                "or url (--url TEMPLATE)")
    if url is not None:
        template = _check_template(url)
        return TileSource("custom", template, attribution or f"tiles from {redact_url(template)}")

    require("xyzservices", extra="fetch", feature="web-map tile providers")
    import xyzservices
    import xyzservices.providers as xp

    if isinstance(provider, str):
        try:
            prov = xp.query_name(provider)
        except ValueError:
            raise FetchRequestError(f"unknown tile provider {provider!r}; use a name as in xyzservices, "
                                    "e.g. Esri.WorldImagery or OpenStreetMap.Mapnik, or give --url") from None
    else:
        prov = provider
    if not isinstance(prov, xyzservices.TileProvider):
        options = ", ".join(sorted(getattr(prov, "keys", lambda: [])()))[:300]
        raise FetchRequestError(f"{provider!r} is a group of tile providers, not one; pick one of: {options}")
    name = str(prov.get("name", "provider"))
    if prov.requires_token():
        raise FetchRequestError(f"tile provider {name} needs an API key; build its URL yourself and pass "
                                "it with --url (mind the provider's terms)")
    if prov.get("zoomOffset"):
        raise FetchRequestError(f"tile provider {name} uses a zoom offset, which railcount does not "
                                "support; give a plain {z}/{x}/{y} template with --url")
    try:
        # xyzservices fills templates with str.format, which cannot hold leaflet's {-y} (TMS rows)
        raw = str(prov.get("url", ""))
        if "{-y}" in raw:
            prov = xyzservices.TileProvider(prov, url=raw.replace("{-y}", "{railcount_tms_y}"))
            template = prov.build_url(scale_factor="", railcount_tms_y="{-y}")
        else:
            template = prov.build_url(scale_factor="")
    except Exception as exc:  # a hand-made provider object may be incomplete
        raise FetchRequestError(f"tile provider {name} has no usable URL: {exc}") from None
    template = _check_template(template)
    attr = attribution or prov.get("attribution") or prov.get("html_attribution") or name
    max_zoom = prov.get("max_zoom")
    return TileSource(name, template, str(attr), int(max_zoom) if isinstance(max_zoom, (int, float)) else None)


def tile_range(bbox: BBox, zoom: int) -> tuple[range, range]:
    """Columns and rows of the zoom-``zoom`` tiles covering ``bbox`` (lon/lat).

    Returns
    -------
    xs, ys : range
        Tile columns (west to east) and rows (north to south).
    """
    require("mercantile", extra="fetch", feature="web-map tile maths")
    import mercantile

    w, s, e, n = bbox
    ul = mercantile.tile(w + _LL_EPSILON, n - _LL_EPSILON, zoom)
    lr = mercantile.tile(e - _LL_EPSILON, s + _LL_EPSILON, zoom)
    last = (1 << zoom) - 1
    return (range(max(0, ul.x), min(last, lr.x) + 1), range(max(0, ul.y), min(last, lr.y) + 1))


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The tile cache folder: ``$RAILCOUNT_CACHE``, else the platform's user cache folder.

    ``~/.cache/railcount/tiles`` on Linux (or ``$XDG_CACHE_HOME/railcount/tiles``),
    ``~/Library/Caches/railcount/tiles`` on macOS, ``%LOCALAPPDATA%\\railcount\\cache\\tiles``
    on Windows.
    """
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "railcount" / "cache" / "tiles"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "railcount" / "tiles"
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "railcount" / "tiles"


class _TileCache:
    """Tiles on disk at ``root/<hash of template>/<z>/<x>/<y>.tile``.

    Every path component is derived here, from a hash and integers: nothing a
    server or a user typed ends up in a path.
    """

    def __init__(self, root: Path, source: TileSource) -> None:
        self.root = Path(root).expanduser().resolve()
        digest = hashlib.sha256(source.template.encode("utf-8")).hexdigest()[:32]
        self.dir = self.root / digest
        self.source = source

    def path(self, z: int, x: int, y: int) -> Path:
        p = self.dir / str(int(z)) / str(int(x)) / f"{int(y)}.tile"
        if self.root not in p.parents:  # cannot happen with integers; kept as a guard
            raise FetchError(f"tile cache path {p} would lie outside {self.root}")
        return p

    def get(self, z: int, x: int, y: int) -> tuple[bytes, float] | None:
        p = self.path(z, x, y)
        try:
            return p.read_bytes(), p.stat().st_mtime
        except OSError:
            return None

    def put(self, z: int, x: int, y: int, data: bytes) -> None:
        p = self.path(z, x, y)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            meta = self.dir / "source.json"
            if not meta.exists():
                write_bytes(meta, json.dumps({"provider": self.source.name,
                                                "template": redact_url(self.source.template),
                                                "attribution": self.source.attribution}, indent=1).encode())
            write_bytes(p, data)
        except OSError as exc:
            logger.warning("cannot write tile cache %s: %s", p, exc)

    def drop(self, z: int, x: int, y: int) -> None:
        try:
            self.path(z, x, y).unlink()
        except OSError:
            pass


def _decode_tile(data: bytes, headers: Mapping[str, str] | None = None) -> np.ndarray:
    """Decode and check one tile; return it as an RGB array of shape (rows, cols, 3).

    Raises
    ------
    InvalidResponse
        If the bytes are a web page, an unknown format, truncated, or of an odd size.
    """
    if not data:
        raise InvalidResponse("empty response instead of a tile image")
    if not data.startswith(_IMAGE_MAGIC) and not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        head = data[:512].lstrip().lower()
        ctype = (headers.get("Content-Type", "") if headers is not None else "").lower()
        if head.startswith(b"<") or "html" in ctype:
            m = re.search(rb"<title[^>]*>([^<]{0,120})", data[:4096], re.I)
            title = m.group(1).decode("utf-8", "replace").strip() if m else ""
            raise InvalidResponse("server sent a web page instead of a tile image"
                                  + (f" ('{title}')" if title else ""))
        if head.startswith((b"{", b"[")) or "json" in ctype or ctype.startswith("text/"):
            snippet = data[:120].decode("utf-8", "replace").replace("\n", " ")
            raise InvalidResponse(f"server sent text instead of a tile image: {snippet!r}")
        raise InvalidResponse(f"response is not a PNG, JPEG, WEBP or GIF image (Content-Type {ctype or 'none'})")
    require("PIL", extra="fetch", feature="decoding web-map tiles")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in ("PNG", "JPEG", "WEBP", "GIF"):
                raise InvalidResponse(f"tile is a {im.format} image; expected PNG, JPEG, WEBP or GIF")
            w, h = im.size
            if w != h or w not in TILE_SIZES:
                raise InvalidResponse(f"tile is {w} x {h} px; web-map tiles are 256 or 512 px square")
            im.load()
            rgb = im.convert("RGB")
            arr = np.asarray(rgb, dtype=np.uint8)
    except InvalidResponse:
        raise
    except Exception as exc:  # Pillow raises many kinds on corrupt data
        raise InvalidResponse(f"tile image cannot be decoded ({exc.__class__.__name__}: {exc}); "
                              "truncated or not an image") from None
    return arr


def _downloaded_stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_xyz(
    bbox: BBox | Site,
    zoom: int,
    *,
    provider: Any = None,
    url: str | None = None,
    out: str | os.PathLike[str],
    attribution: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    max_tiles: int = DEFAULT_MAX_TILES,
    rate: float = DEFAULT_RATE,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 30.0,
    max_tile_bytes: int = MAX_TILE_BYTES,
    workers: int = 4,
    refresh: bool = False,
    progress: bool = False,
) -> Path:
    """Download the web-map tiles covering ``bbox`` and write them as one GeoTIFF.

    The tiles of zoom ``zoom`` that cover the box are fetched (from the cache
    where present), checked, mosaicked, cropped to the box in EPSG:3857 and
    written atomically as a 3-band uint8 GeoTIFF in EPSG:3857.

    Parameters
    ----------
    bbox : tuple of 4 float or Site
        ``(west, south, east, north)`` in lon/lat degrees, or a named site.
    zoom : int
        Web-map zoom level, 0-24 (at 42.4 N, zoom 18 is about 0.44 m/px on the ground).
    provider : str or xyzservices.TileProvider, optional
        Provider name as in xyzservices (e.g. ``"Esri.WorldImagery"``).
    url : str, optional
        URL template instead of a provider (``https://host/{z}/{x}/{y}.png``).
    out : path-like
        Output GeoTIFF; its folder must exist.
    attribution : str, optional
        Attribution for ``url`` imagery (written to ``RAILCOUNT_ATTRIBUTION``).
    cache_dir : path-like, optional
        Tile cache folder (default :func:`default_cache_dir`).
    max_tiles : int
        Refuse areas that need more tiles than this.
    rate : float
        Most requests per second to the server.
    retries : int
        Further attempts per tile after a transient failure.
    backoff : float
        Seconds before the first retry, doubled at each further one.
    timeout : float
        Seconds to wait for a connection or a read.
    max_tile_bytes : int
        Largest tile accepted, in bytes.
    workers : int
        Tiles downloaded at once (the rate limit still holds).
    refresh : bool
        Download every tile again, ignoring (and replacing) cached ones.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    AOIError
        If the box is malformed.
    FetchRequestError
        If the zoom, provider or template is invalid, or the area needs more than
        ``max_tiles`` tiles.
    FetchError
        If a tile cannot be downloaded or is not a valid image after all retries.
    OutputError
        If the GeoTIFF cannot be written.

    Notes
    -----
    Tags written: ``RAILCOUNT_SOURCE`` (provider and URL template, secrets
    redacted), ``RAILCOUNT_ATTRIBUTION``, ``RAILCOUNT_DOWNLOADED`` (UTC time of
    the oldest tile used, ISO 8601), ``RAILCOUNT_ZOOM``, ``RAILCOUNT_BBOX``,
    ``RAILCOUNT_GROUND_GSD_M`` (pixel size on the ground at the centre: EPSG:3857
    pixels are ``1 / cos(latitude)`` times larger on the map than on the ground),
    and ``RAILCOUNT_SITE`` for a named site. There is no ``TIFFTAG_DATETIME``:
    web-map mosaics have no single acquisition date.

    Examples
    --------
    >>> fetch_xyz((130.600, 42.415, 130.616, 42.427), 18, provider="Esri.WorldImagery",
    ...           out="tumangang_z18.tif")  # doctest: +SKIP
    PosixPath('tumangang_z18.tif')
    """
    require("mercantile", extra="fetch", feature="web-map tile maths")
    import mercantile
    from tqdm import tqdm


    site = bbox if isinstance(bbox, Site) else None
    box = validate_bbox(site.bbox if site is not None else bbox, what="bbox", web_mercator=True)
    if isinstance(zoom, bool) or not isinstance(zoom, (int, np.integer)) or not 0 <= int(zoom) <= 24:
        raise FetchRequestError(f"zoom must be an integer from 0 to 24; got {zoom!r}")
    zoom = int(zoom)
    if max_tiles < 1:
        raise FetchRequestError(f"max_tiles must be at least 1; got {max_tiles}")
    if not rate > 0:
        raise FetchRequestError(f"rate must be a positive number of requests per second; got {rate}")
    if retries < 0 or workers < 1 or timeout <= 0 or max_tile_bytes < 1:
        raise FetchRequestError("retries must be >= 0, workers >= 1, timeout and max_tile_bytes > 0")
    if Path(out).is_dir():
        raise OutputError(f"--out {out} is a folder; give a file name such as {Path(out) / 'area.tif'}")
    source = resolve_source(provider, url, attribution=attribution)
    if source.max_zoom is not None and zoom > source.max_zoom:
        raise FetchRequestError(f"zoom {zoom} is above {source.name}'s highest zoom {source.max_zoom}; "
                                f"use --zoom {source.max_zoom} or less")

    xs, ys = tile_range(box, zoom)
    count = len(xs) * len(ys)
    if count > max_tiles:
        lower = [(z, len(a) * len(b)) for z in range(zoom - 1, -1, -1)
                 for a, b in [tile_range(box, z)] if len(a) * len(b) <= max_tiles][:1]
        hint = f"zoom {lower[0][0]} needs {lower[0][1]}" if lower else "no zoom fits"
        raise FetchRequestError(f"this area needs {count} tiles at zoom {zoom} ({len(xs)} x {len(ys)}), more "
                                f"than the limit of {max_tiles}; use a smaller area, a lower --zoom "
                                f"({hint}), or raise --max-tiles")
    if count == 0:
        raise AOIError(f"bbox {box} covers no tiles at zoom {zoom}")

    cache = _TileCache(Path(cache_dir) if cache_dir is not None else default_cache_dir(), source)
    policy = HttpPolicy(timeout=timeout, retries=retries, backoff=backoff, max_bytes=max_tile_bytes)
    limiter = RateLimiter(rate)
    logger.info("fetching %d tiles (%d x %d) at zoom %d from %s", count, len(xs), len(ys), zoom, source.name)

    def get_tile(x: int, y: int) -> tuple[int, int, np.ndarray, float]:
        if not refresh:
            hit = cache.get(zoom, x, y)
            if hit is not None:
                try:
                    return x, y, _decode_tile(hit[0]), hit[1]
                except InvalidResponse as exc:
                    logger.warning("cached tile %d/%d/%d is unusable (%s); downloading it again", zoom, x, y, exc)
                    cache.drop(zoom, x, y)
        data, arr = fetch_bytes(source.url(zoom, x, y), policy=policy, limiter=limiter, validate=_decode_tile,
                                accept="image/png,image/jpeg,image/webp,image/*;q=0.8",
                                what=f"tile {zoom}/{x}/{y} from {source.name}")
        cache.put(zoom, x, y, data)
        assert arr is not None
        return x, y, arr, dt.datetime.now(dt.UTC).timestamp()

    mosaic: np.ndarray | None = None
    size = 0
    oldest = math.inf
    jobs = [(x, y) for y in ys for x in xs]
    bar = tqdm(total=count, unit="tile", desc="tiles", file=sys.stderr, disable=not progress, leave=False)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, count))
    try:
        futures = [pool.submit(get_tile, x, y) for x, y in jobs]
        for fut in concurrent.futures.as_completed(futures):
            x, y, arr, stamp = fut.result()
            if mosaic is None:
                size = arr.shape[0]
                mosaic = np.zeros((3, len(ys) * size, len(xs) * size), dtype=np.uint8)
            elif arr.shape[0] != size:
                raise FetchError(f"tile {zoom}/{x}/{y} is {arr.shape[0]} px but others are {size} px; "
                                 "the server mixes tile sizes")
            r0, c0 = (y - ys.start) * size, (x - xs.start) * size
            mosaic[:, r0:r0 + size, c0:c0 + size] = np.moveaxis(arr, -1, 0)
            oldest = min(oldest, stamp)
            bar.update(1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    assert mosaic is not None

    res = _EARTH_CIRCUMFERENCE / ((1 << zoom) * size)
    ox = -_EARTH_CIRCUMFERENCE / 2 + xs.start * _EARTH_CIRCUMFERENCE / (1 << zoom)
    oy = _EARTH_CIRCUMFERENCE / 2 - ys.start * _EARTH_CIRCUMFERENCE / (1 << zoom)
    west_m, north_m = mercantile.xy(box[0], box[3])
    east_m, south_m = mercantile.xy(box[2], box[1])
    rows, cols = mosaic.shape[1:]
    c0 = min(max(0, math.floor((west_m - ox) / res + 1e-6)), cols - 1)
    c1 = max(min(cols, math.ceil((east_m - ox) / res - 1e-6)), c0 + 1)
    r0 = min(max(0, math.floor((oy - north_m) / res + 1e-6)), rows - 1)
    r1 = max(min(rows, math.ceil((oy - south_m) / res - 1e-6)), r0 + 1)
    pixels = mosaic[:, r0:r1, c0:c1]

    from affine import Affine

    transform = Affine(res, 0.0, ox + c0 * res, 0.0, -res, oy - r0 * res)
    lat_c = (box[1] + box[3]) / 2
    tags = {
        "RAILCOUNT_SOURCE": f"web-map tiles: {source.name} {redact_url(source.template)}",
        "RAILCOUNT_ATTRIBUTION": source.attribution,
        "RAILCOUNT_DOWNLOADED": _downloaded_stamp(oldest),
        "RAILCOUNT_ZOOM": str(zoom),
        "RAILCOUNT_BBOX": " ".join(f"{v:.7f}" for v in box),
        "RAILCOUNT_GROUND_GSD_M": f"{res * math.cos(math.radians(lat_c)):.4f}",
    }
    if site is not None and site.key:
        tags["RAILCOUNT_SITE"] = site.key
    path = write_geotiff(out, pixels, transform=transform, crs="EPSG:3857", tags=tags)
    logger.info("wrote %s: %d x %d px, %.3f m/px on the map, %s m/px on the ground", path, pixels.shape[2],
                pixels.shape[1], res, tags["RAILCOUNT_GROUND_GSD_M"])
    return path
