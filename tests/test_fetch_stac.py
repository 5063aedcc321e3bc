"""STAC search and windowed COG reads against a STAC API started on 127.0.0.1 by each test.

The asset is a Cloud-Optimized GeoTIFF in UTM 52N whose bands say where each
pixel is (band 1: row mod 256, band 2: column mod 256), served by a handler
that answers HTTP Range requests with 206 Partial Content, as GDAL needs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from click.testing import CliRunner

from railcount.errors import AOIError, FetchError, FetchRequestError
from railcount.fetch import ItemSummary, check_datetime, fetch_items, fetch_stac, search_stac

rasterio = pytest.importorskip("rasterio")

BOX = (130.600, 42.415, 130.616, 42.427)  # around the Tumangang site
COLLECTION = "sentinel-2-l2a"
FAST: dict[str, Any] = dict(retries=1, backoff=0.01, timeout=5.0)
UTM = "EPSG:32652"
SIZE = 1024
GSD = 10.0


@pytest.fixture(scope="session")
def cog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1024 x 1024, 3-band uint8 COG at 10 m centred on the Tumangang site."""
    from pyproj import Transformer
    from rasterio.transform import from_origin

    folder = tmp_path_factory.mktemp("stac") / "data"
    folder.mkdir()
    cx, cy = Transformer.from_crs(4326, UTM, always_xy=True).transform(130.608, 42.421)
    transform = from_origin(round(cx) - SIZE * GSD / 2, round(cy) + SIZE * GSD / 2, GSD, GSD)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    data = np.stack([rows % 256, cols % 256, np.random.default_rng(0).integers(1, 255, (SIZE, SIZE))]).astype(np.uint8)
    path = folder / "scene.tif"
    with rasterio.open(path, "w", driver="COG", width=SIZE, height=SIZE, count=3, dtype="uint8", crs=UTM,
                       transform=transform, nodata=0, blocksize=256, compress="NONE") as dst:
        dst.write(data)
    return path


class StacHandler(SimpleHTTPRequestHandler):
    """A tiny STAC API under /stac and range-capable static files under /data."""

    def log_message(self, *args: object) -> None:
        pass

    # --- static files with Range support (GDAL needs 206 answers) ---
    def send_head(self):  # type: ignore[no-untyped-def]
        srv = self.server
        rng = self.headers.get("Range")
        if not rng or not self.path.startswith("/data/"):
            return super().send_head()
        path = self.translate_path(self.path)
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(404)
            return None
        size = os.fstat(f.fileno()).st_size
        m = re.match(r"bytes=(\d+)-(\d*)$", rng.strip())
        if not m or int(m.group(1)) >= size:
            f.close()
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
        f.seek(start)
        body = f.read(end - start + 1)
        f.close()
        with srv.lock:  # type: ignore[attr-defined]
            srv.bytes_served += len(body)  # type: ignore[attr-defined]
            srv.ranges += 1  # type: ignore[attr-defined]
        self.send_response(206)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        import io

        return io.BytesIO(body)

    # --- STAC endpoints ---
    def _json(self, obj: Any, status: int = 200) -> None:
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stac(self, method: str) -> bool:
        srv = self.server
        path = self.path.split("?")[0]
        if not path.startswith("/stac"):
            return False
        body = b""
        if method == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with srv.lock:  # type: ignore[attr-defined]
            srv.stac_log.append((method, self.path, body))  # type: ignore[attr-defined]
            srv.counts[path] = srv.counts.get(path, 0) + 1  # type: ignore[attr-defined]
            n = srv.counts[path]  # type: ignore[attr-defined]
        override = srv.routes.get(path)  # type: ignore[attr-defined]
        if override is not None:
            override(self, n)
            return True
        if path in ("/stac", "/stac/"):
            self._json(landing(srv.base))  # type: ignore[attr-defined]
        elif path == "/stac/search":
            self._json({"type": "FeatureCollection", "features": srv.items, "links": []})  # type: ignore[attr-defined]
        else:
            self._json({"code": "NotFound"}, 404)
        return True

    def do_GET(self) -> None:  # noqa: N802
        if not self._stac("GET"):
            super().do_GET()

    def do_POST(self) -> None:  # noqa: N802
        if not self._stac("POST"):
            self.send_error(405)


def landing(base: str) -> dict[str, Any]:
    return {
        "type": "Catalog", "id": "test-api", "stac_version": "1.0.0", "description": "test STAC API",
        "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"],
        "links": [
            {"rel": "self", "href": f"{base}/stac", "type": "application/json"},
            {"rel": "root", "href": f"{base}/stac", "type": "application/json"},
            {"rel": "search", "href": f"{base}/stac/search", "type": "application/geo+json", "method": "GET"},
            {"rel": "search", "href": f"{base}/stac/search", "type": "application/geo+json", "method": "POST"},
        ],
    }


def poly(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def item(item_id: str, when: str, cloud: float | None, href: str, *, geom: dict | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"datetime": when, "platform": "sentinel-2b", "gsd": 10}
    if cloud is not None:
        props["eo:cloud_cover"] = cloud
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": COLLECTION,
        "geometry": geom or poly(130.0, 42.0, 131.0, 43.0), "bbox": [130.0, 42.0, 131.0, 43.0],
        "properties": props, "links": [],
        "assets": {"visual": {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized"},
                   "thumbnail": {"href": href.replace(".tif", ".jpg")}},
    }


class Api:
    def __init__(self, srv: ThreadingHTTPServer) -> None:
        self.srv = srv
        self.base = srv.base  # type: ignore[attr-defined]
        self.url = self.base + "/stac"
        self.asset = self.base + "/data/scene.tif"

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.srv.items  # type: ignore[attr-defined]

    @items.setter
    def items(self, value: list[dict[str, Any]]) -> None:
        self.srv.items = value  # type: ignore[attr-defined]

    def route(self, path: str, fn: Callable[[StacHandler, int], None]) -> None:
        self.srv.routes[path] = fn  # type: ignore[attr-defined]

    @property
    def searches(self) -> list[tuple[str, str, bytes]]:
        return [e for e in self.srv.stac_log if e[1].split("?")[0] == "/stac/search"]  # type: ignore[attr-defined]

    @property
    def bytes_served(self) -> int:
        return self.srv.bytes_served  # type: ignore[attr-defined]


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up early (GDAL does) are not errors here


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[Api]:
    srv = QuietServer(("127.0.0.1", 0), functools.partial(StacHandler, directory=str(folder)))
    srv.daemon_threads = True
    srv.lock = threading.Lock()  # type: ignore[attr-defined]
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"  # type: ignore[attr-defined]
    srv.routes = {}  # type: ignore[attr-defined]
    srv.counts = {}  # type: ignore[attr-defined]
    srv.stac_log = []  # type: ignore[attr-defined]
    srv.bytes_served = 0  # type: ignore[attr-defined]
    srv.ranges = 0  # type: ignore[attr-defined]
    asset = srv.base + "/data/scene.tif"  # type: ignore[attr-defined]
    srv.items = [  # type: ignore[attr-defined]
        item("S2B_52TGN_20231005_0_L2A", "2023-10-05T02:13:41.123Z", 3.5, asset),
        item("S2A_52TGN_20231010_0_L2A", "2023-10-10T02:13:40Z", 40.0, asset),
        # the least cloudy, but it covers only half of the box: ranked last
        item("S2A_52TGN_20230920_0_L2A", "2023-09-20T02:13:40Z", 1.0, asset,
             geom=poly(130.0, 42.0, 130.608, 43.0)),
    ]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Api(srv)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture
def api(cog: Path) -> Iterator[Api]:
    with serve(cog.parent.parent) as a:
        yield a


# --- search ------------------------------------------------------------------------------------

def test_search_lists_items_best_first(api: Api) -> None:
    items = search_stac(BOX, "2023-09-01/2023-10-31", COLLECTION, api=api.url, **FAST)
    assert [i.id for i in items] == ["S2B_52TGN_20231005_0_L2A", "S2A_52TGN_20231010_0_L2A",
                                     "S2A_52TGN_20230920_0_L2A"]
    first = items[0]
    assert isinstance(first, ItemSummary)
    assert first.datetime == dt.datetime(2023, 10, 5, 2, 13, 41, 123000, tzinfo=dt.UTC)
    assert first.cloud_cover == 3.5 and first.coverage == pytest.approx(1.0)
    assert items[2].coverage == pytest.approx(0.5, abs=0.01)
    assert set(first.assets) == {"visual", "thumbnail"} and first.gsd == 10
    assert first.to_dict()["datetime"].startswith("2023-10-05T02:13:41")
    # what the API was asked
    method, _, body = api.searches[-1]
    assert method == "POST"
    params = json.loads(body)
    assert params["collections"] == [COLLECTION]
    assert [round(v, 3) for v in params["bbox"]] == list(BOX)
    assert params["datetime"].startswith("2023-09-01T00:00:00")


def test_max_cloud_filters(api: Api) -> None:
    items = search_stac(BOX, "2023-09-01/2023-10-31", COLLECTION, api=api.url, max_cloud=10, **FAST)
    assert {i.id for i in items} == {"S2B_52TGN_20231005_0_L2A", "S2A_52TGN_20230920_0_L2A"}


def test_search_retries_a_busy_api(api: Api) -> None:
    def busy(h: StacHandler, n: int) -> None:
        if n <= 2:
            h._json({"code": "busy"}, 503)
        else:
            h._json(landing(api.base))

    api.route("/stac", busy)
    items = search_stac(BOX, "2023-10", COLLECTION, api=api.url, retries=3, backoff=0.01, timeout=5.0)
    assert len(items) == 3 and api.srv.counts["/stac"] == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["2023-10-05", "2023-09-01/2023-10-31", "2023-10", "2023", "../2023-10-05",
                                   "2023-10-01/..", "2023-10-05T02:00:00Z/2023-10-06T00:00:00+09:00"])
def test_good_datetimes(value: str) -> None:
    assert check_datetime(value) == value


@pytest.mark.parametrize("value", ["", "yesterday", "2023-13-01", "2023-10-31/2023-09-01", "../..", "a/b/c"])
def test_bad_datetimes(value: str) -> None:
    with pytest.raises(FetchRequestError):
        check_datetime(value)


def test_bad_requests_make_no_request(api: Api) -> None:
    with pytest.raises(FetchRequestError, match="http"):
        search_stac(BOX, "2023-10", COLLECTION, api="file:///etc/stac")
    with pytest.raises(FetchRequestError, match="datetime"):
        search_stac(BOX, "last week", COLLECTION, api=api.url)
    with pytest.raises(AOIError):
        search_stac((1, 2, 0, 3), "2023-10", COLLECTION, api=api.url)
    assert api.srv.stac_log == []  # type: ignore[attr-defined]


# --- malformed or hostile APIs -----------------------------------------------------------------

def html_page(h: StacHandler, n: int) -> None:
    body = b"<!DOCTYPE html><html><title>502 Bad Gateway</title></html>"
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


@pytest.mark.parametrize("path, respond, message", [
    ("/stac", html_page, "not JSON"),
    ("/stac", lambda h, n: h._json(b"{not json"), "not JSON"),
    ("/stac", lambda h, n: h._json({"type": "Catalog", "id": "x", "description": "x", "stac_version": "1.0.0",
                                    "links": []}), "does not offer STAC item search"),
    ("/stac", lambda h, n: h._json([1, 2, 3]), "not a STAC response"),
    ("/stac/search", lambda h, n: h._json(b"[1, 2"), "not JSON"),
    ("/stac/search", lambda h, n: h._json({"type": "FeatureCollection", "features": "nope"}),
     "no list of 'features'"),
    ("/stac/search", lambda h, n: h._json({"type": "FeatureCollection", "features": [{"id": 5}, [], "x"]}),
     "3 item.*none of which"),
    ("/stac/search", lambda h, n: h._json({"code": "oops"}, 500), "failed with HTTP 500"),
    ("/stac/search", lambda h, n: h._json({"type": "FeatureCollection", "features": [], "pad": "x" * 50_000}),
     "larger than the limit"),
])
def test_malformed_api_answers_end_in_a_clear_error(api: Api, tmp_path: Path, path: str,
                                                     respond: Callable[[StacHandler, int], None],
                                                     message: str) -> None:
    api.route(path, respond)
    with pytest.raises(FetchError, match=message):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path / "out", **FAST,
                   ) if "larger" not in message else search_stac(BOX, "2023-10", COLLECTION, api=api.url,
                                                                 max_response_bytes=20_000, **FAST)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_redirect_loop_in_the_api(api: Api) -> None:
    def loop(h: StacHandler, n: int) -> None:
        h.send_response(302)
        h.send_header("Location", "/stac/search" if h.path.startswith("/stac/loop") else "/stac/loop")
        h.send_header("Content-Length", "0")
        h.end_headers()

    api.route("/stac/search", loop)
    api.route("/stac/loop", loop)
    with pytest.raises(FetchError, match="redirect"):
        search_stac(BOX, "2023-10", COLLECTION, api=api.url, **FAST)
    assert len(api.srv.stac_log) < 40  # type: ignore[attr-defined]


def test_next_link_to_a_local_file_is_not_followed(api: Api, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"type": "FeatureCollection", "features": [api.items[0]]}))

    def paged(h: StacHandler, n: int) -> None:
        h._json({"type": "FeatureCollection", "features": [api.items[1]],
                 "links": [{"rel": "next", "href": str(secret), "method": "GET"}]})

    api.route("/stac/search", paged)
    with pytest.raises(FetchError, match="will not follow"):
        search_stac(BOX, "2023-10", COLLECTION, api=api.url, **FAST)


def test_items_with_bad_fields_are_skipped(api: Api) -> None:
    good = api.items[0]
    bad_date = dict(good, id="bad-date", properties={"datetime": "not a date"})
    odd = dict(good, id="odd", properties={"datetime": "2023-10-06T00:00:00Z", "eo:cloud_cover": "cloudy"},
               geometry={"type": "Nonsense"}, assets={"visual": {"href": 7}})
    api.items = [bad_date, odd, good]
    items = search_stac(BOX, "2023-10", COLLECTION, api=api.url, **FAST)
    assert [i.id for i in items] == [good["id"], "odd"]
    assert items[1].cloud_cover is None and dict(items[1].assets) == {} and items[1].coverage != items[1].coverage


# --- window reads ------------------------------------------------------------------------------

def test_fetch_reads_only_the_window_and_keeps_the_date(api: Api, cog: Path, tmp_path: Path) -> None:
    from rasterio.warp import transform_bounds

    paths = fetch_stac(BOX, "2023-09-01/2023-10-31", COLLECTION, api=api.url, out_dir=tmp_path / "out", **FAST)
    assert paths == [tmp_path.resolve() / "out" / "S2B_52TGN_20231005_0_L2A_visual.tif"]
    # only byte ranges around the window crossed the wire, not the whole file
    assert 0 < api.bytes_served < 0.4 * cog.stat().st_size
    with rasterio.open(paths[0]) as out, rasterio.open(cog) as src:
        assert out.crs == src.crs and out.res == src.res and out.count == 3
        tags = out.tags()
        assert tags["TIFFTAG_DATETIME"] == "2023:10:05 02:13:41"
        assert tags["RAILCOUNT_ACQUIRED"] == "2023-10-05T02:13:41Z"
        assert tags["RAILCOUNT_STAC_ITEM"] == "S2B_52TGN_20231005_0_L2A"
        assert tags["RAILCOUNT_CLOUD_COVER"] == "3.50"
        assert "Copernicus Sentinel data 2023" in tags["RAILCOUNT_ATTRIBUTION"]
        assert tags["RAILCOUNT_SOURCE"].endswith("/data/scene.tif")
        # the window covers the box (transformed to UTM) with less than a pixel to spare
        left, bottom, right, top = transform_bounds("EPSG:4326", src.crs, *BOX, densify_pts=21)
        b = out.bounds
        assert b.left <= left < b.left + GSD and b.right - GSD < right <= b.right
        assert b.bottom <= bottom < b.bottom + GSD and b.top - GSD < top <= b.top
        assert out.width < 200 and out.height < 200
        # every pixel is the source pixel at the same place
        data = out.read()
        r0, c0 = src.index(*out.xy(0, 0))
        rows = (r0 + np.arange(out.height)) % 256
        cols = (c0 + np.arange(out.width)) % 256
        assert np.array_equal(data[0], np.broadcast_to(rows[:, None], data[0].shape))
        assert np.array_equal(data[1], np.broadcast_to(cols[None, :], data[1].shape))
        window = rasterio.windows.Window(c0, r0, out.width, out.height)
        assert np.array_equal(data[2], src.read(3, window=window))


def test_max_items_and_hostile_item_ids(api: Api, tmp_path: Path) -> None:
    api.items[0]["id"] = "../../../escape/me"
    api.items[1]["id"] = "..\\..\\evil"
    out = tmp_path / "deep" / "out"
    paths = fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=out, max_items=2, **FAST)
    assert len(paths) == 2 and len(set(paths)) == 2
    for p in paths:
        assert p.parent == out.resolve() and p.exists() and not p.name.startswith(".")
    assert {p.name for p in paths} == {"escape_me_visual.tif", "evil_visual.tif"}
    assert sorted(q.name for q in tmp_path.rglob("*") if q.is_file()) == sorted(p.name for p in paths)


def test_missing_asset_lists_the_available_ones(api: Api, tmp_path: Path) -> None:
    with pytest.raises(FetchRequestError, match="no asset 'B04'.*thumbnail, visual"):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path, asset="B04", **FAST)


@pytest.mark.parametrize("href", ["file:///etc/passwd", "/etc/passwd", "/vsizip//tmp/x.zip/a.tif",
                                  "s3://bucket/key.tif"])
def test_asset_hrefs_that_are_not_http_are_refused(api: Api, tmp_path: Path, href: str) -> None:
    api.items = [item("x", "2023-10-05T00:00:00Z", 1.0, href)]
    with pytest.raises(FetchError, match="http"):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path / "o", **FAST)
    assert not any((tmp_path / "o").iterdir())


def test_unreadable_assets(api: Api, tmp_path: Path) -> None:
    api.items = [item("gone", "2023-10-05T00:00:00Z", 1.0, api.base + "/data/missing.tif")]
    with pytest.raises(FetchError, match="cannot read asset"):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path / "o", retries=0, timeout=5.0)
    api.items = [item("page", "2023-10-05T00:00:00Z", 1.0, api.url)]  # a JSON page, not a GeoTIFF
    with pytest.raises(FetchError, match="cannot read asset"):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path / "o", retries=0, timeout=5.0)
    assert not any((tmp_path / "o").iterdir())


def test_items_are_written_all_or_none(api: Api, tmp_path: Path) -> None:
    good = item("good", "2023-10-05T00:00:00Z", 1.0, api.asset)
    gone = item("gone", "2023-10-06T00:00:00Z", 2.0, api.base + "/data/missing.tif")
    api.items = [good, gone]
    with pytest.raises(FetchError, match="cannot read asset"):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path / "o", max_items=2, retries=0,
                   timeout=5.0)
    assert list((tmp_path / "o").iterdir()) == []  # the first item, read before the second failed, is not left


def redirect_to(target: Callable[[StacHandler], str]) -> Callable[[StacHandler, int], None]:
    def respond(h: StacHandler, n: int) -> None:
        h.send_response(302)
        h.send_header("Location", target(h))
        h.send_header("Content-Length", "0")
        h.end_headers()
    return respond


def no_ranges(cog: Path) -> Callable[[StacHandler, int], None]:
    def respond(h: StacHandler, n: int) -> None:  # what plain http.server does: 200 and the whole file
        body = cog.read_bytes()
        h.send_response(200)
        h.send_header("Content-Type", "image/tiff")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return respond


@pytest.mark.parametrize("case, message", [
    ("loop", "redirects"),
    ("file", "file"),
    ("no-ranges", "cannot read asset"),
])
def test_hostile_asset_servers(api: Api, cog: Path, tmp_path: Path, case: str, message: str) -> None:
    secret = tmp_path / "secret.tif"
    secret.write_bytes(cog.read_bytes())
    respond = {"loop": redirect_to(lambda h: "/stac/b" if h.path.startswith("/stac/a") else "/stac/a"),
               "file": redirect_to(lambda h: secret.as_uri()),
               "no-ranges": no_ranges(cog)}[case]
    api.route("/stac/a", respond)
    api.route("/stac/b", respond)
    api.items = [item("r", "2023-10-05T00:00:00Z", 1.0, api.base + "/stac/a")]
    with pytest.raises(FetchError, match=message):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path / "o", retries=0, timeout=5.0)
    assert not any((tmp_path / "o").iterdir())
    assert api.srv.counts.get("/stac/a", 0) + api.srv.counts.get("/stac/b", 0) < 30  # type: ignore[attr-defined]


def test_window_limits(api: Api, tmp_path: Path) -> None:
    with pytest.raises(FetchRequestError, match="max-pixels"):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path, max_pixels=100, **FAST)
    far = (10.0, 10.0, 10.01, 10.01)
    summary = search_stac(BOX, "2023-10", COLLECTION, api=api.url, **FAST)[0]
    with pytest.raises(AOIError, match="does not overlap"):
        fetch_items([summary], far, out_dir=tmp_path, retries=1, timeout=5.0)


def test_no_items(api: Api, tmp_path: Path) -> None:
    api.items = []
    assert search_stac(BOX, "2023-10", COLLECTION, api=api.url, **FAST) == []
    with pytest.raises(FetchError, match="no sentinel-2-l2a items.*widen --datetime"):
        fetch_stac(BOX, "2023-10", COLLECTION, api=api.url, out_dir=tmp_path, **FAST)


# --- command line -------------------------------------------------------------------------------

def test_cli_stac(api: Api, tmp_path: Path) -> None:
    from railcount.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["fetch", "stac", "--bbox", *map(str, BOX), "--datetime", "2023-09-01/2023-10-31",
                              "--api", api.url, "--list"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "3 item(s), best first:"
    assert "2023-10-05 02:13:41" in lines[2] and "3.5" in lines[2] and "100%" in lines[2]
    assert "50%" in lines[4]
    out = tmp_path / "s2"
    res = runner.invoke(cli, ["fetch", "stac", "--bbox", *map(str, BOX), "--datetime", "2023-10",
                              "--api", api.url, "--out", str(out), "--max-items", "2"])
    assert res.exit_code == 0, res.output
    assert len(list(out.glob("*.tif"))) == 2 and res.output.count("wrote ") == 2
    res = runner.invoke(cli, ["fetch", "stac", "--site", "tumangang", "--datetime", "2023-10-31/2023-09-01",
                              "--api", api.url, "--out", str(out)])
    assert res.exit_code == 1 and res.output.startswith("Error: datetime range") and res.output.count("\n") == 1
    res = runner.invoke(cli, ["fetch", "stac", "--site", "tumangang", "--datetime", "2023-10", "--api", api.url])
    assert res.exit_code == 2 and "--out" in res.output
