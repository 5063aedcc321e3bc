"""Web-map tile download against a tile server started on 127.0.0.1 by each test.

The server draws every tile so that each pixel says where it is: red is the
global pixel column mod 256, green the global pixel row mod 256, blue a hash of
the tile's x and y. A known point must then land on the pixel that holds its
own coordinates.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from railcount.errors import AOIError, FetchError, FetchRequestError, OutputError
from railcount.fetch import default_cache_dir, fetch_xyz, resolve_source, tile_range

rasterio = pytest.importorskip("rasterio")

# A small box at the Tumangang station: 3 x 4 tiles at zoom 16 (256 px tiles).
BOX = (130.603, 42.418, 130.613, 42.425)
ZOOM = 16
FAST = dict(retries=2, backoff=0.01, rate=1000.0, timeout=5.0)
CIRC = 2 * math.pi * 6378137.0


def tile_pixels(z: int, x: int, y: int, size: int) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size]
    gx, gy = x * size + cols, y * size + rows
    arr = np.empty((size, size, 3), dtype=np.uint8)
    arr[..., 0] = gx % 256
    arr[..., 1] = gy % 256
    arr[..., 2] = (x * 31 + y * 17 + z) % 256
    return arr


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


class TileHandler(BaseHTTPRequestHandler):
    """Serves /tiles/{z}/{x}/{y}.png; ``server.respond`` may override any answer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def send_bytes(self, body: bytes, ctype: str = "image/png", status: int = 200,
                   length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        srv = self.server
        with srv.lock:  # type: ignore[attr-defined]
            srv.log.append((time.monotonic(), self.path))  # type: ignore[attr-defined]
            srv.counts[self.path] = srv.counts.get(self.path, 0) + 1  # type: ignore[attr-defined]
            n = srv.counts[self.path]  # type: ignore[attr-defined]
        if srv.respond is not None and srv.respond(self, n):  # type: ignore[attr-defined]
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) == 4 and parts[0] == "tiles" and parts[3].endswith(".png"):
            z, x, y = int(parts[1]), int(parts[2]), int(parts[3][:-4])
            self.send_bytes(png(tile_pixels(z, x, y, srv.tile_size)))  # type: ignore[attr-defined]
            return
        self.send_bytes(b"not found", "text/plain", 404)


class TileServer:
    def __init__(self, srv: ThreadingHTTPServer) -> None:
        self.srv = srv
        self.base = f"http://127.0.0.1:{srv.server_address[1]}"
        self.template = self.base + "/tiles/{z}/{x}/{y}.png"

    @property
    def requests(self) -> list[str]:
        return [p for _, p in self.srv.log]  # type: ignore[attr-defined]

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.srv.log]  # type: ignore[attr-defined]

    def set(self, respond: Callable[[TileHandler, int], bool] | None = None, tile_size: int = 256) -> None:
        self.srv.respond = respond  # type: ignore[attr-defined]
        self.srv.tile_size = tile_size  # type: ignore[attr-defined]


@contextlib.contextmanager
def serve() -> Iterator[TileServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), TileHandler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()  # type: ignore[attr-defined]
    srv.log = []  # type: ignore[attr-defined]
    srv.counts = {}  # type: ignore[attr-defined]
    srv.respond = None  # type: ignore[attr-defined]
    srv.tile_size = 256  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield TileServer(srv)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[TileServer]:
    with serve() as s:
        yield s


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def lonlat_of_pixel_centre(gx: int, gy: int, z: int, size: int) -> tuple[float, float]:
    n = (1 << z) * size
    lon = (gx + 0.5) / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (gy + 0.5) / n))))
    return lon, lat


def global_pixel(lon: float, lat: float, z: int, size: int) -> tuple[int, int]:
    n = (1 << z) * size
    gx = (lon + 180.0) / 360.0 * n
    gy = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n
    return int(gx), int(gy)


# --- georeferencing -----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [256, 512])
def test_known_points_land_on_the_right_pixel(server: TileServer, cache: Path, tmp_path: Path, size: int) -> None:
    server.set(tile_size=size)
    out = fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    assert out == tmp_path / "t.tif"
    from pyproj import Transformer

    to_m = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 3857
        assert ds.count == 3 and ds.dtypes == ("uint8",) * 3
        assert ds.res[0] == pytest.approx(CIRC / ((1 << ZOOM) * size), rel=1e-9)
        data = ds.read()
        # the output covers the box, with less than one pixel to spare on each side
        w, s = to_m.transform(BOX[0], BOX[1])
        e, n = to_m.transform(BOX[2], BOX[3])
        b = ds.bounds
        assert b.left <= w < b.left + ds.res[0]
        assert b.right - ds.res[0] < e <= b.right
        assert b.bottom <= s < b.bottom + ds.res[1]
        assert b.top - ds.res[1] < n <= b.top
        # the station itself, the box corners and random points: each pixel holds its own address
        rng = np.random.default_rng(1)
        lons = np.r_[130.6081, BOX[0] + 1e-6, BOX[2] - 1e-6, rng.uniform(BOX[0], BOX[2], 20)]
        lats = np.r_[42.4214, BOX[3] - 1e-6, BOX[1] + 1e-6, rng.uniform(BOX[1], BOX[3], 20)]
        for lon, lat in zip(lons, lats):
            gx, gy = global_pixel(lon, lat, ZOOM, size)
            clon, clat = lonlat_of_pixel_centre(gx, gy, ZOOM, size)  # avoid pixel edges
            row, col = ds.index(*to_m.transform(clon, clat))
            tx, ty = gx // size, gy // size
            assert tuple(data[:, row, col]) == (gx % 256, gy % 256, (tx * 31 + ty * 17 + ZOOM) % 256)


def test_tags_say_source_attribution_and_download_date_but_no_acquisition_date(
        server: TileServer, cache: Path, tmp_path: Path) -> None:
    before = time.time()
    out = fetch_xyz(BOX, ZOOM, url=server.template + "?api_key=SECRET", attribution="Test tiles (C) nobody",
                    out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    with rasterio.open(out) as ds:
        tags = ds.tags()
    assert tags["RAILCOUNT_ATTRIBUTION"] == "Test tiles (C) nobody"
    assert server.base in tags["RAILCOUNT_SOURCE"] and "SECRET" not in tags["RAILCOUNT_SOURCE"]
    assert "TIFFTAG_DATETIME" not in tags
    import datetime as dt

    when = dt.datetime.strptime(tags["RAILCOUNT_DOWNLOADED"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert before - 2 <= when.timestamp() <= time.time() + 1
    assert tags["RAILCOUNT_ZOOM"] == str(ZOOM)
    gsd = float(tags["RAILCOUNT_GROUND_GSD_M"])
    assert gsd == pytest.approx(CIRC / ((1 << ZOOM) * 256) * math.cos(math.radians(42.4215)), rel=1e-3)


def test_provider_object_gives_attribution_and_tms_rows(server: TileServer, cache: Path, tmp_path: Path) -> None:
    import xyzservices

    # A TMS provider: rows counted from the south; the server answers in XYZ rows.
    def tms(handler: TileHandler, n: int) -> bool:
        z, x, y = (int(v) for v in handler.path.rsplit(".", 1)[0].split("/")[-3:])
        handler.send_bytes(png(tile_pixels(z, x, (1 << z) - 1 - y, 256)))
        return True

    server.set(tms)
    prov = xyzservices.TileProvider(name="Local.Test", url=server.base + "/tms/{z}/{x}/{-y}.png",
                                    attribution="(C) Local test tiles", max_zoom=17)
    out = fetch_xyz(BOX, ZOOM, provider=prov, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    with rasterio.open(out) as ds:
        assert ds.tags()["RAILCOUNT_ATTRIBUTION"] == "(C) Local test tiles"
        assert "Local.Test" in ds.tags()["RAILCOUNT_SOURCE"]
        gx, gy = global_pixel(130.6081, 42.4214, ZOOM, 256)
        from pyproj import Transformer

        x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(*lonlat_of_pixel_centre(gx, gy, ZOOM, 256))
        px = ds.read(window=((ds.index(x, y)[0], ds.index(x, y)[0] + 1), (ds.index(x, y)[1], ds.index(x, y)[1] + 1)))
        assert (px[0, 0, 0], px[1, 0, 0]) == (gx % 256, gy % 256)
    with pytest.raises(FetchRequestError, match="highest zoom 17"):
        fetch_xyz(BOX, 18, provider=prov, out=tmp_path / "u.tif", cache_dir=cache, **FAST)


# --- cache --------------------------------------------------------------------------------------

def test_second_fetch_comes_from_the_cache(server: TileServer, cache: Path, tmp_path: Path) -> None:
    xs, ys = tile_range(BOX, ZOOM)
    ntiles = len(xs) * len(ys)
    a = fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "a.tif", cache_dir=cache, **FAST)
    assert len(server.requests) == ntiles
    # cache files: one folder named by a hash, then integers only
    tiles = [p for p in files_under(cache) if p.suffix == ".tile"]
    assert len(tiles) == ntiles
    for p in tiles:
        rel = p.relative_to(cache).parts
        assert len(rel) == 4 and all(c in "0123456789abcdef" for c in rel[0])
        assert rel[1] == str(ZOOM) and rel[2].isdigit() and rel[3][:-5].isdigit()
    b = fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "b.tif", cache_dir=cache, **FAST)
    assert len(server.requests) == ntiles  # nothing downloaded again
    with rasterio.open(a) as da, rasterio.open(b) as db:
        assert np.array_equal(da.read(), db.read()) and da.transform == db.transform
    # a corrupt cached tile is downloaded again; --refresh downloads all
    victim = sorted(tiles)[0]
    victim.write_bytes(b"garbage")
    fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "c.tif", cache_dir=cache, **FAST)
    assert len(server.requests) == ntiles + 1
    fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "d.tif", cache_dir=cache, refresh=True, **FAST)
    assert len(server.requests) == 2 * ntiles + 1


def test_cache_folder_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAILCOUNT_CACHE", str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}).parts[-2:] == ("railcount", "tiles")


# --- retries and rate ---------------------------------------------------------------------------

def test_retries_after_503_twice_then_succeeds(server: TileServer, cache: Path, tmp_path: Path) -> None:
    def flaky(handler: TileHandler, n: int) -> bool:
        if n <= 2:
            handler.send_bytes(b"busy", "text/plain", 503)
            return True
        return False

    server.set(flaky)
    out = fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    assert out.exists()
    counts = server.srv.counts  # type: ignore[attr-defined]
    xs, ys = tile_range(BOX, ZOOM)
    assert len(counts) == len(xs) * len(ys) and set(counts.values()) == {3}


def test_gives_up_after_the_retries_with_a_clear_error(server: TileServer, cache: Path, tmp_path: Path) -> None:
    server.set(lambda h, n: (h.send_bytes(b"down", "text/plain", 503), True)[1])
    with pytest.raises(FetchError, match=r"HTTP 503.*3 attempts"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    assert list(tmp_path.glob("t.tif*")) == [] and list(tmp_path.glob(".t.tif*")) == []


def test_404_is_not_retried(server: TileServer, cache: Path, tmp_path: Path) -> None:
    server.set(lambda h, n: (h.send_bytes(b"no", "text/plain", 404), True)[1])
    with pytest.raises(FetchError, match="404"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    assert max(server.srv.counts.values()) == 1  # type: ignore[attr-defined]


def test_request_rate_is_bounded(server: TileServer, cache: Path, tmp_path: Path) -> None:
    box = (130.603, 42.418, 130.607, 42.421)
    xs, ys = tile_range(box, ZOOM)
    n = len(xs) * len(ys)
    assert n >= 2
    rate = 20.0
    fetch_xyz(box, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache,
              **{**FAST, "rate": rate})
    times = sorted(server.times)
    assert len(times) == n
    assert times[-1] - times[0] >= (n - 1) / rate * 0.85


# --- limits on the request ----------------------------------------------------------------------

def test_too_many_tiles_is_refused_before_any_request(server: TileServer, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchRequestError, match=r"needs \d+ tiles at zoom 20.*limit of 256.*lower --zoom"):
        fetch_xyz(BOX, 20, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    with pytest.raises(FetchRequestError, match="limit of 5"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, max_tiles=5, **FAST)
    assert server.requests == []
    assert not cache.exists()


@pytest.mark.parametrize("template, message", [
    ("file:///etc/{z}/{x}/{y}.png", "http:// or https://"),
    ("http://127.0.0.1:9/{z}/{x}.png", "must contain"),
    ("http://127.0.0.1:9/{s}/{z}/{x}/{y}.png", r"\{s\}"),
    ("http://127.0.0.1:9/{z}/{x}/{y}.png?v={x.__class__}", "placeholder"),
    ("", "empty"),
])
def test_bad_templates_are_refused(template: str, message: str, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchRequestError, match=message):
        fetch_xyz(BOX, ZOOM, url=template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)


@pytest.mark.parametrize("bbox, zoom, error", [
    ((130.61, 42.41, 130.60, 42.42), ZOOM, AOIError),       # west > east
    ((130.60, 42.42, 130.61, 42.41), ZOOM, AOIError),       # south > north
    ((130.60, 86.0, 130.61, 87.0), ZOOM, AOIError),         # beyond web mercator
    ((130.60, 42.41, float("nan"), 42.42), ZOOM, AOIError),
    ((130.60, 42.41, 130.61), ZOOM, AOIError),
    (BOX, 25, FetchRequestError),
    (BOX, 16.5, FetchRequestError),
])
def test_bad_area_or_zoom(bbox: tuple, zoom: object, error: type, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(error):
        fetch_xyz(bbox, zoom, url="http://127.0.0.1:9/{z}/{x}/{y}.png", out=tmp_path / "t.tif",  # type: ignore[arg-type]
                  cache_dir=cache, **FAST)


def test_providers_by_name() -> None:
    esri = resolve_source("Esri.WorldImagery")
    assert esri.template.startswith("https://") and "{z}" in esri.template
    assert "Esri" in esri.attribution
    with pytest.raises(FetchRequestError, match="unknown tile provider"):
        resolve_source("../../etc/passwd")
    with pytest.raises(FetchRequestError, match="API key"):
        resolve_source("MapBox")
    with pytest.raises(FetchRequestError, match="exactly one"):
        resolve_source()
    with pytest.raises(FetchRequestError, match="exactly one"):
        resolve_source("Esri.WorldImagery", "https://x/{z}/{x}/{y}")


def test_nothing_is_written_outside_the_cache_and_output(server: TileServer, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "out").mkdir(parents=True)
    cache = work / "cache"
    sentinel_before = files_under(tmp_path)
    # a template full of '..' (the server sees them; the cache never does)
    tmpl = server.base + "/tiles/../tiles/{z}/../{z}/{x}/{y}.png"

    def strip_dots(handler: TileHandler, n: int) -> bool:
        parts = [p for p in handler.path.strip("/").split("/") if p not in ("..",)]
        z, x, y = int(parts[-3]), int(parts[-2]), int(parts[-1][:-4])
        handler.send_bytes(png(tile_pixels(z, x, y, 256)))
        return True

    server.set(strip_dots)
    fetch_xyz(BOX, ZOOM, url=tmpl, out=work / "out" / "t.tif", cache_dir=cache, **FAST)
    new = files_under(tmp_path) - sentinel_before
    assert work / "out" / "t.tif" in new
    assert all(p == work / "out" / "t.tif" or cache in p.parents for p in new)
    assert not any(".." in p.relative_to(tmp_path).parts for p in new)


# --- untrusted content --------------------------------------------------------------------------

def test_html_error_page_instead_of_a_tile(server: TileServer, cache: Path, tmp_path: Path) -> None:
    page = b"<!DOCTYPE html><html><head><title>Rate limit exceeded</title></head><body>x</body></html>"
    server.set(lambda h, n: (h.send_bytes(page, "text/html"), True)[1])
    with pytest.raises(FetchError, match="web page instead of a tile.*Rate limit exceeded"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    assert not (tmp_path / "t.tif").exists()
    assert not [p for p in files_under(tmp_path) if p.suffix == ".tile"]  # bad tiles are never cached


def test_truncated_image_is_retried_then_refused(server: TileServer, cache: Path, tmp_path: Path) -> None:
    def truncated(handler: TileHandler, n: int) -> bool:
        body = png(tile_pixels(ZOOM, 1, 1, 256))
        handler.send_bytes(body[: len(body) // 2])
        return True

    server.set(truncated)
    with pytest.raises(FetchError, match="cannot be decoded"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    assert max(server.srv.counts.values()) == 3  # type: ignore[attr-defined]
    assert not (tmp_path / "t.tif").exists()


def test_body_shorter_than_its_content_length(server: TileServer, cache: Path, tmp_path: Path) -> None:
    def short(handler: TileHandler, n: int) -> bool:
        body = png(tile_pixels(ZOOM, 1, 1, 256))
        handler.send_bytes(body[:100], length=len(body))
        handler.close_connection = True
        return True

    server.set(short)
    with pytest.raises(FetchError, match="truncated"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache,
                  **{**FAST, "timeout": 2.0})


def test_huge_response_is_cut_off(server: TileServer, cache: Path, tmp_path: Path) -> None:
    def endless(handler: TileHandler, n: int) -> bool:
        # no Content-Length: the body ends when the connection closes
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        chunk = b"\x89PNG\r\n\x1a\n" + b"\0" * 65536
        try:
            for _ in range(64):
                handler.wfile.write(chunk)
        except OSError:
            pass
        return True

    server.set(endless)
    with pytest.raises(FetchError, match="larger than the limit of 100000 bytes"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache,
                  max_tile_bytes=100_000, **FAST)
    server.set(lambda h, n: (h.send_bytes(b"x" * 10, length=10**10), True)[1])
    with pytest.raises(FetchError, match="10000000000 bytes is larger"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)


def test_redirect_loop(server: TileServer, cache: Path, tmp_path: Path) -> None:
    def loop(handler: TileHandler, n: int) -> bool:
        target = "/b" if handler.path != "/b" else "/a"
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True

    server.set(loop)
    with pytest.raises(FetchError, match="redirect"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    assert len(server.requests) < 100


def test_plain_redirects_are_followed(server: TileServer, cache: Path, tmp_path: Path) -> None:
    def moved(handler: TileHandler, n: int) -> bool:
        if handler.path.startswith("/tiles/"):
            handler.send_response(301)
            handler.send_header("Location", handler.path.replace("/tiles/", "/moved/"))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return True
        z, x, y = (int(v) for v in handler.path[:-4].split("/")[-3:])
        handler.send_bytes(png(tile_pixels(z, x, y, 256)))
        return True

    server.set(moved)
    out = fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)
    assert out.exists() and sum(p.startswith("/moved/") for p in server.requests) == len(server.requests) // 2


def test_redirect_to_a_local_file_is_refused(server: TileServer, cache: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png(tile_pixels(ZOOM, 0, 0, 256)))

    def to_file(handler: TileHandler, n: int) -> bool:
        handler.send_response(302)
        handler.send_header("Location", secret.as_uri())
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True

    server.set(to_file)
    with pytest.raises(FetchError, match="does not follow"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)


@pytest.mark.parametrize("size", [100, 1024])
def test_tile_of_the_wrong_size(server: TileServer, cache: Path, tmp_path: Path, size: int) -> None:
    body = png(np.zeros((size, size, 3), np.uint8))
    server.set(lambda h, n: (h.send_bytes(body), True)[1])
    with pytest.raises(FetchError, match="256 or 512"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "t.tif", cache_dir=cache, **FAST)


def test_connection_refused(cache: Path, tmp_path: Path) -> None:
    with serve() as s:
        dead = s.template
    with pytest.raises(FetchError, match="cannot connect"):
        fetch_xyz(BOX, ZOOM, url=dead, out=tmp_path / "t.tif", cache_dir=cache, **FAST)


def test_output_folder_must_exist(server: TileServer, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path / "nope" / "t.tif", cache_dir=cache, **FAST)
    with pytest.raises(OutputError, match="is a folder"):
        fetch_xyz(BOX, ZOOM, url=server.template, out=tmp_path, cache_dir=cache, **FAST)


# --- command line -------------------------------------------------------------------------------

def test_cli_xyz(server: TileServer, tmp_path: Path) -> None:
    from railcount.cli import cli

    sites = tmp_path / "sites.toml"
    sites.write_text('[sites.station]\ntitle = "Tumangang station"\n'
                     f'bbox = [{BOX[0]}, {BOX[1]}, {BOX[2]}, {BOX[3]}]\n', encoding="utf-8")
    out = tmp_path / "cli.tif"
    runner = CliRunner()
    res = runner.invoke(cli, ["fetch", "xyz", "--site", "station", "--sites", str(sites), "--zoom", str(ZOOM),
                              "--url", server.template, "--attribution", "Local", "--out", str(out),
                              "--cache", str(tmp_path / "c"), "--rate", "1000", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output and "date: unknown" in res.output
    with rasterio.open(out) as ds:
        assert ds.tags()["RAILCOUNT_SITE"] == "station"

    res = runner.invoke(cli, ["fetch", "xyz", "--bbox", *map(str, BOX), "--zoom", "20", "--url", server.template,
                              "--out", str(tmp_path / "x.tif"), "--cache", str(tmp_path / "c")])
    assert res.exit_code == 1
    assert res.output.startswith("Error: this area needs") and res.output.count("\n") == 1
    res = runner.invoke(cli, ["fetch", "xyz", "--zoom", "3", "--url", server.template, "--out", "x.tif"])
    assert res.exit_code == 2 and "--site" in res.output
    res = runner.invoke(cli, ["fetch", "xyz", "--site", "nowhere", "--zoom", "3", "--url", server.template,
                              "--out", "x.tif"])
    assert res.exit_code == 1 and "unknown site 'nowhere'" in res.output and "tumangang" in res.output
    assert not os.path.exists("x.tif")
