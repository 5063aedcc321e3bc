"""A small HTTP server for tests that answers byte-range requests.

GDAL reads Cloud-Optimized GeoTIFFs over HTTP by byte ranges and refuses a
server that ignores ``Range:`` (Python's plain ``http.server`` does). This
one answers ``Range: bytes=a-b`` (also ``a-`` and ``-n``) with 206 Partial
Content, and can log every request so that a test can check how many bytes
travelled.

Examples
--------
>>> with serve_directory(tmp_path) as base_url:          # doctest: +SKIP
...     raster = read_raster(f"{base_url}/tile.tif", aoi=box)
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

__all__ = ["Request", "serve_directory"]

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


@dataclass(frozen=True)
class Request:
    """One request the server answered."""

    method: str
    path: str
    range: str | None
    status: int
    bytes_sent: int


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a directory, honouring single byte ranges."""

    log: list[Request] | None = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    def _record(self, status: int, sent: int) -> None:
        if self.log is not None:
            self.log.append(Request(self.command, self.path, self.headers.get("Range"), status, sent))

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(body=False)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404, "File not found")
            self._record(404, 0)
            return
        size = os.path.getsize(path)
        ctype = self.guess_type(path)
        header = self.headers.get("Range")
        start, end, status = 0, size - 1, 200
        if header:
            m = _RANGE_RE.match(header)
            if m is None or (not m.group(1) and not m.group(2)):
                self._unsatisfiable(size)
                return
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:  # suffix range: the last n bytes
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                self._unsatisfiable(size)
                return
            status = 206
        length = end - start + 1 if size else 0
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        sent = 0
        if body and length:
            with open(path, "rb") as fh:
                fh.seek(start)
                remaining = length
                while remaining:
                    chunk = fh.read(min(remaining, 1 << 16))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    remaining -= len(chunk)
        self._record(status, sent)

    def _unsatisfiable(self, size: int) -> None:
        self.send_response(416)
        self.send_header("Content-Range", f"bytes */{size}")
        self.send_header("Content-Length", "0")
        self.end_headers()
        self._record(416, 0)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def serve_directory(path: str | os.PathLike[str], *, log: list[Request] | None = None) -> Iterator[str]:
    """Serve a directory over HTTP on 127.0.0.1 (random free port) with range support.

    Parameters
    ----------
    path : path-like
        Directory whose files are served.
    log : list, optional
        If given, a :class:`Request` is appended for every request answered.

    Yields
    ------
    str
        The base URL, e.g. ``"http://127.0.0.1:54321"`` (no trailing slash).

    Notes
    -----
    The server stops, and its port is closed, when the block exits.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: {root}")
    handler = functools.partial(type("_Handler", (_RangeHandler,), {"log": log}), directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="test-http-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
