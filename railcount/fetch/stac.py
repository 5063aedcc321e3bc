"""Satellite scenes from a STAC API: search, pick the least cloudy, read a window.

The search goes through pystac-client; the pixels are read with rasterio
straight from the asset's URL (GDAL ``/vsicurl/``), which fetches only the byte
ranges of the window asked for when the asset is a Cloud-Optimized GeoTIFF.
Each window is written as a GeoTIFF in the asset's own CRS, with the item's
acquisition time in ``TIFFTAG_DATETIME``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from .. import io
from ..errors import AOIError, FetchError, FetchRequestError, OutputError, RailcountError, one_line
from ..extras import require
from ..geo import validate_bbox
from ..sites import Site
from ..types import BBox
from .http import USER_AGENT, check_http_url, redact_url, session

__all__ = [
    "ItemSummary",
    "search_stac",
    "fetch_items",
    "fetch_stac",
    "check_datetime",
    "DEFAULT_API",
    "DEFAULT_COLLECTION",
    "DEFAULT_ASSET",
    "MAX_RESPONSE_BYTES",
]

logger = logging.getLogger(__name__)

#: Earth Search (Element 84): public Sentinel-2 and Landsat COGs on AWS, no key needed.
DEFAULT_API = "https://earth-search.aws.element84.com/v1"
#: Sentinel-2 level-2A surface reflectance; its ``visual`` asset is a true-colour 10 m COG.
DEFAULT_COLLECTION = "sentinel-2-l2a"
#: Asset read by default: the true-colour (RGB uint8) image.
DEFAULT_ASSET = "visual"
#: Largest STAC API response accepted, in bytes.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: Largest window read, in pixels per band.
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024

_FULL_COVER = 0.99
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

#: Attributions by collection-name prefix, for the licences that ask for one.
_ATTRIBUTIONS = (
    ("sentinel-2", "Contains modified Copernicus Sentinel data {year}"),
    ("sentinel-1", "Contains modified Copernicus Sentinel data {year}"),
    ("landsat", "Landsat imagery courtesy of the U.S. Geological Survey"),
    ("naip", "NAIP imagery: USDA Farm Production and Conservation Business Center"),
)


@dataclass(frozen=True)
class ItemSummary:
    """What railcount needs to know about one STAC item.

    Attributes
    ----------
    id : str
        Item id (as the server gave it; never used as a path unchecked).
    collection : str or None
        Collection id.
    datetime : datetime.datetime or None
        Acquisition time (UTC); the start of the range for items with only a range.
    cloud_cover : float or None
        ``eo:cloud_cover`` in percent, if the item has it.
    coverage : float
        Fraction (0-1) of the search box inside the item's footprint; ``nan`` if
        the item has no usable geometry.
    gsd : float or None
        Ground sample distance in metres, if the item states it.
    platform : str or None
        E.g. ``"sentinel-2b"``.
    assets : mapping of str to str
        Asset key to href.
    """

    id: str
    collection: str | None
    datetime: dt.datetime | None
    cloud_cover: float | None
    coverage: float
    gsd: float | None = None
    platform: str | None = None
    assets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetime as ISO 8601)."""
        return {
            "id": self.id, "collection": self.collection,
            "datetime": self.datetime.isoformat() if self.datetime else None,
            "cloud_cover": self.cloud_cover,
            "coverage": None if math.isnan(self.coverage) else self.coverage,
            "gsd": self.gsd, "platform": self.platform, "assets": sorted(self.assets),
        }


def _parse_instant(text: str, *, end: bool) -> dt.datetime:
    text = text.strip()
    if _DATE_RE.match(text):
        parts = [int(p) for p in text.split("-")]
        year, month, day = (parts + [1, 1])[:3]
        start = dt.datetime(year, month, day, tzinfo=dt.UTC)
        if not end:
            return start
        if len(parts) == 1:
            nxt = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
        elif len(parts) == 2:
            nxt = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC)
        else:
            nxt = start + dt.timedelta(days=1)
        return nxt - dt.timedelta(microseconds=1)
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def check_datetime(value: str) -> str:
    """Check a STAC datetime or range (``2023-10-05``, ``2023-09-01/2023-10-31``, ``2023-10``, ``../2023``).

    Returns
    -------
    str
        ``value``, stripped.

    Raises
    ------
    FetchRequestError
        If a part is not a date (YYYY, YYYY-MM, YYYY-MM-DD, or RFC 3339), or the
        range ends before it starts.
    """
    if not isinstance(value, str) or not value.strip():
        raise FetchRequestError("datetime is empty; give a date or a range such as 2023-09-01/2023-10-31")
    text = value.strip()
    parts = text.split("/")
    if len(parts) > 2:
        raise FetchRequestError(f"datetime {value!r} has more than one '/'; give START/END")
    try:
        bounds = [None if p in ("..", "") else _parse_instant(p, end=i == 1 or len(parts) == 1)
                  for i, p in enumerate(parts)]
    except ValueError as exc:
        raise FetchRequestError(f"datetime {value!r} is not a date or range of dates ({exc}); use e.g. "
                                "2023-10-05 or 2023-09-01/2023-10-31 (ISO 8601, UTC)") from None
    if all(b is None for b in bounds):
        raise FetchRequestError(f"datetime {value!r} is open at both ends; give at least one date")
    if len(bounds) == 2 and bounds[0] is not None and bounds[1] is not None and bounds[1] < bounds[0]:
        raise FetchRequestError(f"datetime range {value!r} ends before it starts")
    return text


def _safe_name(text: str) -> str:
    """A file-name part made from an untrusted string: ``[A-Za-z0-9._-]`` only, no leading dots."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._-")[:80]
    return cleaned or "item-" + hashlib.sha256(str(text).encode("utf-8", "replace")).hexdigest()[:12]


def _stac_io(*, timeout: float, retries: int, backoff: float, max_bytes: int) -> Any:
    """A pystac-client I/O object on railcount's session: a byte cap, a redirect limit, http(s)-only links."""
    require("pystac_client", extra="fetch", feature="searching STAC catalogues")
    import pystac
    from pystac_client.stac_api_io import StacApiIO
    from urllib3.util.retry import Retry

    class _SafeStacApiIO(StacApiIO):
        def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
            href = source.href if isinstance(source, pystac.Link) else str(source)
            try:
                check_http_url(str(href), what="STAC link")
            except ValueError as exc:
                raise FetchError(f"the STAC API sent a link railcount will not follow: {exc}") from None
            return super().read_text(source, *args, **kwargs)

    stac_io = _SafeStacApiIO(headers={"User-Agent": USER_AGENT}, timeout=timeout, max_retries=None)
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, redirect=5,
                  backoff_factor=backoff, status_forcelist=(408, 429, 500, 502, 503, 504),
                  allowed_methods=None, raise_on_status=False, respect_retry_after_header=True)
    stac_io.session = session(max_bytes=max_bytes, max_redirects=5, retries=retry)  # sends USER_AGENT
    return stac_io


def _server_text(text: str, limit: int = 300) -> str:
    """A server's message on one line for an error, or "an HTML page"."""
    if "<html" in text.lower() or "<!doctype" in text.lower():
        return "an HTML page"
    return one_line(text, limit=limit)


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _summarise(feature: Any, bbox: BBox) -> ItemSummary:
    """Turn one GeoJSON feature of a search into an ItemSummary; ValueError if it is unusable."""
    from shapely.geometry import box as shp_box
    from shapely.geometry import shape

    if not isinstance(feature, dict):
        raise ValueError("an item is not a JSON object")
    item_id = feature.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise ValueError("an item has no id")
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise ValueError(f"item {item_id!r} has no properties")
    when = None
    for key in ("datetime", "start_datetime"):
        raw = props.get(key)
        if isinstance(raw, str) and raw:
            try:
                when = _parse_instant(raw, end=False).astimezone(dt.UTC)
            except ValueError:
                raise ValueError(f"item {item_id!r} has an unreadable {key} {raw[:40]!r}") from None
            break
    cloud = _as_float(props.get("eo:cloud_cover"))
    if cloud is not None and not 0 <= cloud <= 100:
        cloud = None
    coverage = math.nan
    geom = feature.get("geometry")
    if isinstance(geom, dict):
        try:
            footprint = shape(geom)
            target = shp_box(*bbox)
            if footprint.is_valid and not footprint.is_empty:
                coverage = footprint.intersection(target).area / target.area
        except Exception:  # malformed geometry: coverage stays unknown
            coverage = math.nan
    assets_raw = feature.get("assets")
    assets: dict[str, str] = {}
    if isinstance(assets_raw, dict):
        for key, asset in assets_raw.items():
            if isinstance(key, str) and isinstance(asset, dict) and isinstance(asset.get("href"), str):
                assets[key] = asset["href"]
    collection = feature.get("collection")
    platform = props.get("platform")
    return ItemSummary(
        id=item_id,
        collection=collection if isinstance(collection, str) else None,
        datetime=when,
        cloud_cover=cloud,
        coverage=coverage,
        gsd=_as_float(props.get("gsd")),
        platform=platform if isinstance(platform, str) else None,
        assets=MappingProxyType(assets),
    )


def _sort_key(item: ItemSummary) -> tuple[int, float, float]:
    full = 0 if (not math.isnan(item.coverage) and item.coverage >= _FULL_COVER) else 1
    cloud = item.cloud_cover if item.cloud_cover is not None else math.inf
    newest = -item.datetime.timestamp() if item.datetime else math.inf
    return (full, cloud, newest)


def _area(bbox: BBox | Site) -> tuple[BBox, Site | None]:
    site = bbox if isinstance(bbox, Site) else None
    return validate_bbox(site.bbox if site is not None else bbox, what="bbox", web_mercator=True), site


def search_stac(
    bbox: BBox | Site,
    datetime: str,
    collection: str = DEFAULT_COLLECTION,
    *,
    api: str = DEFAULT_API,
    limit: int = 100,
    max_cloud: float | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 0.5,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> list[ItemSummary]:
    """Search a STAC API for items over ``bbox`` in ``datetime``; least cloudy first.

    Parameters
    ----------
    bbox : tuple of 4 float or Site
        ``(west, south, east, north)`` in lon/lat degrees, or a named site.
    datetime : str
        A date or range: ``2023-10-05``, ``2023-09-01/2023-10-31``, ``2023-10``, ``../2023-10-05``.
    collection : str
        Collection id (default ``sentinel-2-l2a``).
    api : str
        STAC API root URL (default Earth Search).
    limit : int
        Most items to read from the API.
    max_cloud : float, optional
        Drop items with more cloud cover than this (percent); items without a
        cloud cover are kept.
    timeout, retries, backoff : float, int, float
        Per-request timeout (s), retries of transient failures, first backoff (s).
    max_response_bytes : int
        Largest API response accepted.

    Returns
    -------
    list of ItemSummary
        Items covering the whole box first, then by cloud cover (lowest first),
        then newest first.

    Raises
    ------
    AOIError
        If the box is malformed.
    FetchRequestError
        If the datetime, API URL or options are invalid.
    FetchError
        If the API cannot be reached, is not a STAC API with item search, or
        answers with something that cannot be read.
    """
    box, _ = _area(bbox)
    when = check_datetime(datetime)
    try:
        check_http_url(api, what="STAC API URL")
    except ValueError as exc:
        raise FetchRequestError(f"{exc}; e.g. --api {DEFAULT_API}") from None
    if not isinstance(collection, str) or not collection.strip():
        raise FetchRequestError("collection is empty; e.g. --collection sentinel-2-l2a")
    if limit < 1:
        raise FetchRequestError(f"limit must be at least 1; got {limit}")
    if max_cloud is not None and not 0 <= max_cloud <= 100:
        raise FetchRequestError(f"max_cloud must be a percentage from 0 to 100; got {max_cloud}")

    import json

    from pystac_client import Client
    from pystac_client.exceptions import APIError
    from pystac_client.warnings import DoesNotConformTo

    where = f"STAC API {redact_url(api)}"
    try:
        stac_io = _stac_io(timeout=timeout, retries=retries, backoff=backoff, max_bytes=max_response_bytes)
        client = Client.open(api, stac_io=stac_io, timeout=timeout)
        search = client.search(collections=[collection.strip()], bbox=list(box), datetime=when,
                               max_items=limit, limit=min(limit, 100))
        features: list[Any] = []
        for page in search.pages_as_dicts():
            if not isinstance(page, dict) or not isinstance(page.get("features"), list):
                raise FetchError(f"{where} answered the search with a page that has no list of 'features'; "
                                 "it is not a STAC item search")
            features.extend(page["features"])
            if len(features) >= limit:
                break
    except RailcountError as exc:
        raise FetchError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
    except (DoesNotConformTo, NotImplementedError) as exc:
        raise FetchError(f"{where} does not offer STAC item search ({exc}); check --api") from None
    except json.JSONDecodeError:
        raise FetchError(f"{where} answered with something that is not JSON (an error page, or not a STAC "
                         "API?); check --api and try again later") from None
    except APIError as exc:
        status = getattr(exc, "status_code", None)
        text = _server_text(str(exc))
        if "larger than the limit" in text:
            raise FetchError(f"{where}: {text}") from None
        if "redirect" in text.lower():
            raise FetchError(f"{where}: too many redirects or a redirect loop ({text}); check --api") from None
        raise FetchError(f"{where} failed" + (f" with HTTP {status}" if status else "") + f": {text}; "
                         "check --api, --collection and --datetime, or try again later") from None
    except Exception as exc:  # anything else an untrusted server can provoke in the client
        raise FetchError(f"{where} answered with something that is not a STAC response "
                         f"({exc.__class__.__name__}: {_server_text(str(exc))}); check --api") from None

    items: list[ItemSummary] = []
    bad = 0
    for feature in features:
        try:
            items.append(_summarise(feature, box))
        except ValueError as exc:
            bad += 1
            logger.warning("%s: skipping an item: %s", where, exc)
    if features and not items:
        raise FetchError(f"{where} returned {len(features)} item(s), none of which is a readable STAC item")
    if max_cloud is not None:
        items = [i for i in items if i.cloud_cover is None or i.cloud_cover <= max_cloud]
    items.sort(key=_sort_key)
    logger.info("%s: %d item(s) of %s over %s in %s (%d unreadable)", where, len(items), collection, box,
                when, bad)
    return items


def _attribution(collection: str | None, when: dt.datetime | None) -> str:
    name = (collection or "").lower()
    for prefix, text in _ATTRIBUTIONS:
        if name.startswith(prefix):
            return text.format(year=when.year if when else "")
    return f"{collection or 'STAC'} imagery; see the collection's licence for the attribution it asks for"


def _gdal_env(timeout: float, retries: int) -> dict[str, str]:
    return {
        "GDAL_HTTP_TIMEOUT": str(max(1, int(math.ceil(timeout)))),
        "GDAL_HTTP_CONNECTTIMEOUT": str(max(1, int(math.ceil(timeout)))),
        "GDAL_HTTP_MAX_RETRY": str(retries),
        "GDAL_HTTP_RETRY_DELAY": "0.5",
        "GDAL_HTTP_USERAGENT": USER_AGENT,
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "CPL_VSIL_CURL_USE_HEAD": "NO",
    }


def _read_window(href: str, bbox: BBox, *, max_pixels: int, timeout: float, retries: int) -> dict[str, Any]:
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    shown = redact_url(href)
    try:
        with rasterio.Env(**_gdal_env(timeout, retries)):
            with rasterio.open(href) as src:
                if src.crs is None or src.transform.is_identity:
                    raise FetchError(f"asset {shown} has no georeference; railcount cannot cut a window from it")
                left, bottom, right, top = transform_bounds("EPSG:4326", src.crs, *bbox, densify_pts=21)
                win = from_bounds(left, bottom, right, top, transform=src.transform)
                c0 = max(0, math.floor(win.col_off + 1e-6))
                r0 = max(0, math.floor(win.row_off + 1e-6))
                c1 = min(src.width, math.ceil(win.col_off + win.width - 1e-6))
                r1 = min(src.height, math.ceil(win.row_off + win.height - 1e-6))
                if c1 <= c0 or r1 <= r0:
                    raise AOIError(f"asset {shown} does not overlap the box {bbox}")
                full_w = math.ceil(win.width - 1e-6)
                full_h = math.ceil(win.height - 1e-6)
                if (c1 - c0) < full_w or (r1 - r0) < full_h:
                    logger.warning("asset %s covers only part of the box; the window is cut at its edge", shown)
                if (c1 - c0) * (r1 - r0) > max_pixels:
                    raise FetchRequestError(f"the window is {c1 - c0} x {r1 - r0} px, more than the limit of "
                                            f"{max_pixels} px; use a smaller area or raise --max-pixels")
                window = Window(c0, r0, c1 - c0, r1 - r0)
                data = src.read(window=window)
                return {"pixels": data, "transform": src.window_transform(window), "crs": src.crs,
                        "nodata": src.nodata, "res": src.res}
    except RailcountError:
        raise
    except RasterioError as exc:
        raise FetchError(f"cannot read asset {shown}: {exc}; the server may be down, not allow range "
                         "requests, or the file may not be a GeoTIFF") from None


def fetch_items(
    items: Iterable[ItemSummary],
    bbox: BBox | Site,
    *,
    out_dir: str | os.PathLike[str],
    asset: str = DEFAULT_ASSET,
    api: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    timeout: float = 30.0,
    retries: int = 3,
) -> list[Path]:
    """Read the ``bbox`` window of each item's ``asset`` and write it as a GeoTIFF in ``out_dir``.

    Parameters
    ----------
    items : iterable of ItemSummary
        Items to read (e.g. the first few of :func:`search_stac`).
    bbox : tuple of 4 float or Site
        The area, lon/lat degrees.
    out_dir : path-like
        Output folder (created if missing). Files are named
        ``<item id>_<asset>.tif`` with anything but letters, digits, ``.``, ``_``
        and ``-`` replaced.
    asset : str
        Asset key (default ``visual``).
    api : str, optional
        The API the items came from, recorded in the tags.
    max_pixels : int
        Refuse windows larger than this many pixels per band.
    timeout, retries : float, int
        HTTP timeout (s) and retries for GDAL's range requests.

    Returns
    -------
    list of Path
        The GeoTIFFs written, one per item.

    Raises
    ------
    FetchRequestError
        If an item has no such asset (the message lists those it has) or the
        window is too large.
    FetchError
        If an asset URL is not http(s) or cannot be read.
    AOIError
        If an asset does not overlap the box.
    OutputError
        If a file cannot be written.

    Notes
    -----
    Tags written: ``TIFFTAG_DATETIME`` (acquisition time, UTC, ``YYYY:MM:DD HH:MM:SS``),
    ``RAILCOUNT_ACQUIRED`` (the same in ISO 8601), ``RAILCOUNT_SOURCE`` (asset URL,
    secrets redacted), ``RAILCOUNT_ATTRIBUTION``, ``RAILCOUNT_DOWNLOADED``,
    ``RAILCOUNT_STAC_ITEM``, ``RAILCOUNT_STAC_COLLECTION``, ``RAILCOUNT_STAC_API``,
    ``RAILCOUNT_CLOUD_COVER`` and ``RAILCOUNT_BBOX``.
    """
    box, site = _area(bbox)
    if not isinstance(asset, str) or not asset:
        raise FetchRequestError("asset is empty; e.g. --asset visual")
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror}; choose a writable location") from None
    folder = folder.resolve()
    plan: list[tuple[Any, str, Path]] = []  # every target is known before anything is read
    used: set[str] = set()
    for item in items:
        href = item.assets.get(asset)
        if href is None:
            raise FetchRequestError(f"item {item.id!r} has no asset {asset!r}; it has: "
                                    f"{', '.join(sorted(item.assets)) or 'none'} (choose with --asset)")
        try:
            check_http_url(href, what=f"asset {asset!r} of item {item.id!r}")
        except ValueError as exc:
            raise FetchError(f"{exc}; railcount reads assets over http(s) only") from None
        name = f"{_safe_name(item.id)}_{_safe_name(asset)}"
        if name in used:
            name += "_" + hashlib.sha256(item.id.encode("utf-8", "replace")).hexdigest()[:8]
        used.add(name)
        target = folder / f"{name}.tif"
        if target.parent != folder:  # cannot happen after _safe_name; kept as a guard
            raise FetchError(f"output name for item {item.id!r} would leave {folder}")
        plan.append((item, href, target))
    written: list[Path] = []
    with io.atomic_outputs(*(target for _, _, target in plan)) as temps:  # all the items, or none
        for (item, href, target), tmp in zip(plan, temps):
            assert tmp is not None
            logger.info("reading the window of %s %s from %s", item.id, asset, redact_url(href))
            got = _read_window(href, box, max_pixels=max_pixels, timeout=timeout, retries=retries)
            io.write_geotiff(tmp, got["pixels"], transform=got["transform"], crs=got["crs"],
                             tags=_item_tags(item, href, box, api=api, site=site), nodata=got["nodata"])
            logger.info("read %s: %d x %d px at %.2f m", item.id, got["pixels"].shape[2], got["pixels"].shape[1],
                        got["res"][0])
            written.append(target)
    return written


def _item_tags(item: Any, href: str, box: BBox, *, api: str | None, site: Site | None) -> dict[str, str]:
    """The tags of an item's GeoTIFF: where it came from, when it was taken and downloaded."""
    now = dt.datetime.now(dt.UTC)
    tags = {
        "RAILCOUNT_SOURCE": f"STAC asset {redact_url(href)}",
        "RAILCOUNT_ATTRIBUTION": _attribution(item.collection, item.datetime),
        "RAILCOUNT_DOWNLOADED": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RAILCOUNT_STAC_ITEM": item.id,
        "RAILCOUNT_STAC_COLLECTION": item.collection or "",
        "RAILCOUNT_BBOX": " ".join(f"{v:.7f}" for v in box),
    }
    if api:
        tags["RAILCOUNT_STAC_API"] = redact_url(api)
    if item.cloud_cover is not None:
        tags["RAILCOUNT_CLOUD_COVER"] = f"{item.cloud_cover:.2f}"
    if item.datetime is not None:
        tags["TIFFTAG_DATETIME"] = item.datetime.strftime("%Y:%m:%d %H:%M:%S")
        tags["RAILCOUNT_ACQUIRED"] = item.datetime.strftime("%Y-%m-%dT%H:%M:%SZ")
    if site is not None and site.key:
        tags["RAILCOUNT_SITE"] = site.key
    return tags


def fetch_stac(
    bbox: BBox | Site,
    datetime: str,
    collection: str = DEFAULT_COLLECTION,
    *,
    out_dir: str | os.PathLike[str],
    api: str = DEFAULT_API,
    asset: str = DEFAULT_ASSET,
    max_items: int = 1,
    max_cloud: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    limit: int = 100,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 0.5,
) -> list[Path]:
    """Search a STAC API and write the ``bbox`` window of the ``max_items`` best items.

    :func:`search_stac` then :func:`fetch_items` on its first ``max_items``
    results (whole-box coverage first, then least cloudy, then newest). ``limit``
    is the most items read from the API (raised to ``max_items`` if smaller); for
    long date ranges raise it, or the best items may be among those not read.

    Returns
    -------
    list of Path
        The GeoTIFFs written.

    Raises
    ------
    FetchError
        If no item matches (the message says how to widen the search), or as in
        :func:`search_stac` and :func:`fetch_items`.

    Examples
    --------
    >>> fetch_stac((130.600, 42.415, 130.616, 42.427), "2023-09-01/2023-10-31",
    ...            out_dir="s2")  # doctest: +SKIP
    [PosixPath('s2/S2B_52TGN_20231005_0_L2A_visual.tif')]
    """
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise FetchRequestError(f"max_items must be a positive integer; got {max_items!r}")
    items = search_stac(bbox, datetime, collection, api=api, max_cloud=max_cloud, timeout=timeout,
                        retries=retries, backoff=backoff, limit=max(limit, max_items))
    if not items:
        raise FetchError(f"no {collection} items over this area in {datetime}"
                         + (f" with at most {max_cloud}% cloud" if max_cloud is not None else "")
                         + "; widen --datetime, raise --max-cloud, or check --collection")
    return fetch_items(items[:max_items], bbox, out_dir=out_dir, asset=asset, api=api, max_pixels=max_pixels,
                       timeout=timeout, retries=retries)

