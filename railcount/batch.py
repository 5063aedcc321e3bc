"""Scan many tiles in parallel, locally or on a Dask cluster, and resume where a run stopped.

A *manifest* is a CSV file with one tile per row (:func:`read_manifest`);
:func:`run_batch` scans the tiles in parallel and writes

- ``OUT.csv``: one row per tile, in manifest order (:data:`TILE_COLUMNS`), with
  ``status`` ``ok`` or ``error`` and the error message of a failed tile;
- ``OUT.parquet``: one row per railcar, a GeoParquet 1.0.0 file whose
  ``geometry`` column holds each car's outline as a WKB polygon in lon/lat
  (OGC:CRS84); or, when ``out`` ends with ``.geojson``, an RFC 7946
  FeatureCollection of the same railcars;
- ``OUT.parts/``: one small JSON file per finished tile, written atomically as
  soon as the tile is done. A re-run skips every tile whose part says ``ok``
  (failed tiles are tried again), then assembles the outputs from all parts,
  so an interrupted batch loses at most the tiles that were being scanned.

A failed tile never stops the batch: its error is caught in the worker and
reported in its row. A worker process that dies (a crash in a native library,
or the system running out of memory) costs only the tile it was scanning,
which is then reported as failed.

Locally the tiles are scanned in a process pool (one process per core by
default); with ``scheduler`` they run on a Dask distributed cluster, whose
workers must have railcount installed and be able to read the tiles (a shared
file system, or URLs).

Examples
--------
>>> from railcount.batch import read_manifest, run_batch     # doctest: +SKIP
>>> tasks = read_manifest("tiles.csv")                        # doctest: +SKIP
>>> report = run_batch(tasks, out="results.csv", workers=2)   # doctest: +SKIP
>>> report.n_ok, report.n_failed, report.n_railcars          # doctest: +SKIP
(41, 1, 1873)
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import csv
import datetime as _dt
import hashlib
import io as _stdio
import json
import logging
import math
import multiprocessing
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

from . import io
from .dates import as_date
from .errors import (
    AOIError,
    GeoreferenceError,
    GSDError,
    InputError,
    ManifestError,
    NoDataError,
    OutputError,
    RailcountError,
    TileNotFoundError,
    UnsupportedRasterError,
)
from .extras import require
from .workers import cap_workers

log = logging.getLogger(__name__)

__all__ = [
    "Task",
    "BatchReport",
    "read_manifest",
    "run_batch",
    "scan_task",
    "output_paths",
    "read_tiles_csv",
    "geoparquet_metadata",
    "TILE_COLUMNS",
    "CAR_COLUMNS",
]

#: Columns of the per-tile CSV, in order.
TILE_COLUMNS = (
    "tile", "site", "date", "status", "error", "retry", "count", "count_low", "count_high", "mode", "gsd",
    "simulated", "elapsed_s", "n_detections",
)
#: Attribute columns of the per-railcar table (GeoParquet or GeoJSON properties), before ``geometry``.
CAR_COLUMNS = (
    "tile", "site", "date", "kind", "length_m", "width_m", "angle_deg", "score", "track_id", "cars",
    "row", "col", "simulated",
)
#: Bumped when the content of a part file changes, so that old parts are not reused.
PARTS_VERSION = 2

#: Errors that no second try can fix: the tile itself cannot be counted as it is
#: (too coarse, unsupported, no georeference, nodata, missing). Others (a
#: connection that broke, a worker that died, memory) may pass on a retry.
PERMANENT_ERRORS: tuple[type[RailcountError], ...] = (
    GSDError, UnsupportedRasterError, GeoreferenceError, NoDataError, AOIError, InputError, TileNotFoundError,
)

_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
Status = Literal["ok", "error"]


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Task:
    """One tile of a batch.

    Attributes
    ----------
    tile : str
        Path (absolute) or URL of the raster, as the workers will open it.
    name : str
        The tile as written in the manifest (reported in the outputs).
    site : str or None
        Free label of the place, e.g. a site name from ``railcount/data/sites.toml``.
    date : str or None
        Acquisition date ``YYYY-MM-DD`` used when the file's tags and name give none.
    gsd : float or None
        Ground sample distance in metres, for pictures without a georeference.
    line : int
        Line of the manifest the task comes from (0 when made by hand).
    """

    tile: str
    name: str = ""
    site: str | None = None
    date: str | None = None
    gsd: float | None = None
    line: int = 0

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.tile)

    def key(self, *, window_px: int) -> str:
        """Identify this task's result: a hash of the tile, its date and GSD, and the scan options."""
        ident = {"v": PARTS_VERSION, "tile": self.tile, "date": self.date, "gsd": self.gsd,
                 "window_px": int(window_px)}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]


def _is_url(text: str) -> bool:
    return bool(_URL_RE.match(text)) or text.startswith("/vsi")


def read_manifest(path: str | os.PathLike[str]) -> list[Task]:
    """Read a batch manifest.

    Parameters
    ----------
    path : path-like
        A CSV file with a header row. Columns (names are case-insensitive):

        ``tile`` (required)
            Path or URL of a raster; relative paths are resolved against the
            manifest's folder.
        ``site`` (optional)
            A label carried into the outputs.
        ``date`` (optional)
            Acquisition date ``YYYY-MM-DD``, used when the file's tags and
            name give none.
        ``gsd`` (optional)
            Metres per pixel, for pictures without a georeference.

        Other columns are ignored; blank lines and lines starting with ``#``
        are skipped.

    Returns
    -------
    list of Task
        In manifest order.

    Raises
    ------
    ManifestError
        If the file is missing or not UTF-8 CSV, has no ``tile`` column, has
        no tiles, or a row has an empty tile, a malformed date or GSD.

    Examples
    --------
    A manifest::

        tile,site,date
        tumangang_2023-05-01.tif,tumangang,2023-05-01
        https://example.org/cogs/tumangang_2023-10-05.tif,tumangang,
    """
    p = Path(path)
    text = io.read_text(p, what="manifest (CSV)", error=ManifestError)
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), start=1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ManifestError(f"manifest {path} is empty; it needs a header row (tile,site,date) and one row per tile")
    try:
        rows = list(csv.reader([ln for _, ln in lines]))
    except csv.Error as exc:
        raise ManifestError(f"manifest {path} is not valid CSV: {exc}") from None
    header = [h.strip().lower() for h in rows[0]]
    if "tile" not in header:
        found = ", ".join(repr(h) for h in header) or "none"
        raise ManifestError(f"manifest {path} has no 'tile' column (columns found: {found}); "
                            "the first row must name the columns, e.g. tile,site,date")
    if len(set(header)) != len(header):
        raise ManifestError(f"manifest {path} names a column twice: {', '.join(rows[0])}")
    col = {name: i for i, name in enumerate(header)}
    folder = p.resolve().parent
    tasks: list[Task] = []
    for (lineno, _), row in zip(lines[1:], rows[1:]):
        if len(row) > len(header):
            raise ManifestError(f"manifest {path}, line {lineno}: {len(row)} fields but the header has "
                                f"{len(header)}; quote fields that hold commas")

        def cell(name: str, row: list[str] = row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        name = cell("tile")
        if not name:
            raise ManifestError(f"manifest {path}, line {lineno}: the tile is empty; give a path or URL")
        tile = name if _is_url(name) else str((folder / Path(name).expanduser()).resolve())
        date = cell("date") or None
        if date is not None:
            try:
                parsed = as_date(date)
            except ValueError:
                raise ManifestError(f"manifest {path}, line {lineno}: date must be YYYY-MM-DD "
                                    f"(e.g. 2023-10-05), got {date!r}") from None
            date = parsed.isoformat() if parsed is not None else None
        gsd_text = cell("gsd")
        gsd = None
        if gsd_text:
            try:
                gsd = float(gsd_text)
            except ValueError:
                gsd = math.nan
            if not math.isfinite(gsd) or gsd <= 0:
                raise ManifestError(f"manifest {path}, line {lineno}: gsd must be a positive number of "
                                    f"metres, got {gsd_text!r}")
        tasks.append(Task(tile=tile, name=name, site=cell("site") or None, date=date, gsd=gsd, line=lineno))
    if not tasks:
        raise ManifestError(f"manifest {path} lists no tiles: add one row per tile under the header")
    log.info("manifest %s: %d tiles", path, len(tasks))
    return tasks


# --------------------------------------------------------------------------- the worker


def scan_task(task: Task, *, window_px: int | None = None) -> dict[str, Any]:
    """Scan one tile and return plain, picklable, JSON-ready data.

    This is the function the process pool or the Dask workers run. It never
    raises for a bad tile: the error is returned.

    Parameters
    ----------
    task : Task
    window_px : int, optional
        Window side for large rasters (default :data:`railcount.scan.WINDOW_PX`).

    Returns
    -------
    dict
        ``status`` (``"ok"`` or ``"error"``), ``error`` (one-line message or
        None), ``retry`` (for an error: whether running again may help; False
        when the tile cannot be counted as it is, e.g. too coarse), ``summary``
        (:meth:`ScanResult.summary`, or None) and
        ``features`` (the GeoJSON features of :meth:`ScanResult.to_geojson`).
    """
    from .scan import WINDOW_PX, scan

    t0 = time.perf_counter()
    try:
        result = scan(task.tile, gsd=task.gsd, date=task.date, window_px=window_px or WINDOW_PX)
    except RailcountError as exc:
        return _error_part(task, str(exc), time.perf_counter() - t0, retry=not isinstance(exc, PERMANENT_ERRORS))
    except MemoryError:
        return _error_part(task, "out of memory while scanning; use a smaller window (window_px) "
                           "or fewer workers", time.perf_counter() - t0)
    except Exception as exc:  # a bug must not stop the batch either; keep its type in the message
        log.exception("unexpected error scanning %s", task.tile)
        return _error_part(task, f"internal error ({type(exc).__name__}: {exc})", time.perf_counter() - t0)
    return {"status": "ok", "error": None, "summary": result.summary(),
            "features": result.to_geojson()["features"]}


def _error_part(task: Task, message: str, elapsed: float, *, retry: bool = True) -> dict[str, Any]:
    message = " ".join(str(message).split()) or "unknown error"
    return {"status": "error", "error": message, "retry": retry, "summary": {"elapsed_s": round(elapsed, 3)},
            "features": []}


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class BatchReport:
    """What a batch did.

    Attributes
    ----------
    rows : tuple of dict
        One row per task, in manifest order, with the keys of :data:`TILE_COLUMNS`.
    n_ok, n_failed : int
        Tiles scanned successfully (in this run or an earlier one) and tiles that failed.
    n_skipped : int
        Tiles not scanned again because an earlier run had done them (counted in ``n_ok``).
    n_railcars : int
        Sum of the counts of the successful tiles, simulated and real together.
    n_railcars_simulated : int
        The part of ``n_railcars`` counted on SIMULATED tiles.
    n_features : int
        Railcar features written.
    tiles_path, cars_path : pathlib.Path
        The per-tile CSV and the per-railcar GeoParquet or GeoJSON.
    parts_dir : pathlib.Path
        Folder of the per-tile results used to resume.
    elapsed_s : float
        Wall time of this run.
    scheduler : str
        ``"processes"`` or the Dask scheduler's address.
    notes : tuple of str
        What the user should know about how the batch ran (e.g. fewer
        workers than asked for).
    """

    rows: tuple[dict[str, Any], ...]
    n_ok: int
    n_failed: int
    n_skipped: int
    n_railcars: int
    n_features: int
    tiles_path: Path
    cars_path: Path
    parts_dir: Path
    elapsed_s: float
    scheduler: str
    n_railcars_simulated: int = 0
    notes: tuple[str, ...] = ()

    @property
    def n_railcars_real(self) -> int:
        """The part of :attr:`n_railcars` counted on real (not simulated) tiles."""
        return self.n_railcars - self.n_railcars_simulated

    @property
    def n_tiles(self) -> int:
        """Number of tasks."""
        return len(self.rows)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Rows of the failed tiles."""
        return [r for r in self.rows if r["status"] != "ok"]

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary (no rows)."""
        return {
            "tiles": self.n_tiles, "ok": self.n_ok, "failed": self.n_failed, "skipped": self.n_skipped,
            "railcars": self.n_railcars, "railcars_real": self.n_railcars_real,
            "railcars_simulated": self.n_railcars_simulated, "features": self.n_features,
            "tiles_csv": str(self.tiles_path),
            "cars": str(self.cars_path), "parts": str(self.parts_dir), "elapsed_s": round(self.elapsed_s, 3),
            "scheduler": self.scheduler, "notes": list(self.notes),
            "errors": [{"tile": r["tile"], "error": r["error"], "retry": r["retry"]} for r in self.failed],
        }


def output_paths(out: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """Where a batch writes, given ``out``.

    Parameters
    ----------
    out : path-like
        ``X.csv`` or ``X.parquet`` (per-railcar GeoParquet), or ``X.geojson``
        (per-railcar GeoJSON); any other suffix is treated as ``X.csv``.

    Returns
    -------
    tiles_csv, cars, parts_dir : pathlib.Path
        ``X.csv``, ``X.parquet`` or ``X.geojson``, and ``X.parts/``.
    """
    p = Path(out)
    suffix = p.suffix.lower()
    base = p.with_suffix("") if suffix in (".csv", ".parquet", ".geojson") else p
    cars = base.with_name(base.name + (".geojson" if suffix == ".geojson" else ".parquet"))
    return base.with_name(base.name + ".csv"), cars, base.with_name(base.name + ".parts")


# --------------------------------------------------------------------------- running


def run_batch(
    tasks: Sequence[Task],
    *,
    out: str | os.PathLike[str],
    workers: int | None = None,
    scheduler: str | Any | None = None,
    progress: bool = False,
    window_px: int | None = None,
) -> BatchReport:
    """Scan tiles in parallel, write the per-tile and per-railcar outputs, and resume.

    Parameters
    ----------
    tasks : sequence of Task
        E.g. from :func:`read_manifest`. Tasks with the same tile, date and
        GSD are scanned once.
    out : path-like
        ``X.csv`` (writes ``X.csv`` and GeoParquet ``X.parquet``), ``X.parquet``
        (the same), or ``X.geojson`` (writes ``X.csv`` and ``X.geojson``);
        results of finished tiles are kept in ``X.parts/``.
    workers : int, optional
        Processes of the local pool (default: the number of CPUs); more than
        the CPUs available are capped to that number, with a note in
        :attr:`BatchReport.notes`. Ignored with ``scheduler``.
    scheduler : str or distributed.Client, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``), or a
        connected client (left open). Without it a local process pool is used.
    progress : bool
        Show a progress bar of tiles done (stderr).
    window_px : int, optional
        Window side for large rasters (:func:`railcount.scan.scan`).

    Returns
    -------
    BatchReport

    Raises
    ------
    InputError
        If ``tasks`` is empty, ``workers`` is not a positive whole number, or
        the scheduler cannot be reached.
    OutputError
        If the outputs cannot be written.

    Notes
    -----
    Rows come out in the order of ``tasks`` whatever order the tiles finish
    in. A tile whose part file exists with status ``ok`` is not scanned
    again (delete ``X.parts/`` to start over); failed tiles are retried.
    Changing ``window_px``, a tile's date or GSD gives it a new key, so it is
    scanned again.
    """
    t0 = time.perf_counter()
    tasks = list(tasks)
    if not tasks:
        raise InputError("no tiles to scan: the task list is empty")
    if any(not isinstance(t, Task) for t in tasks):
        raise InputError("tasks must be railcount.batch.Task objects (see read_manifest)")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise InputError(f"workers must be a whole number >= 1, got {workers!r}")
    from .scan import WINDOW_PX

    wpx = int(window_px or WINDOW_PX)
    tiles_path, cars_path, parts_dir = output_paths(out)
    if cars_path.suffix == ".parquet":
        require("pyarrow.parquet", extra="batch", feature="GeoParquet output (or give --out X.geojson)")
    if not tiles_path.parent.is_dir():
        raise OutputError(f"cannot write {tiles_path}: folder {tiles_path.parent} does not exist; create it first")
    try:
        parts_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {parts_dir}: {exc.strerror}; choose a writable location") from None

    keys = [t.key(window_px=wpx) for t in tasks]
    done = {k for k in set(keys) if (_load_part(parts_dir, k) or {}).get("status") == "ok"}
    todo: dict[str, Task] = {}
    for k, t in zip(keys, tasks):
        if k not in done and k not in todo:
            todo[k] = t
    n_skipped = sum(k in done for k in keys)
    log.info("batch: %d tiles, %d already done, %d to scan", len(tasks), n_skipped, len(todo))

    copies = collections.Counter(keys)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(keys), initial=n_skipped, unit="tile", desc="batch", dynamic_ncols=True)

    def finished(key: str, part: dict[str, Any]) -> None:
        task = todo[key]
        part = {**part, "key": key, "tile": task.tile, "window_px": wpx, "version": PARTS_VERSION}
        _save_part(parts_dir, key, part)
        if part["status"] != "ok":
            log.info("%s failed: %s", task.name, part["error"])
        if bar is not None:
            bar.update(copies[key])

    notes: list[str] = []
    n_workers, capped = cap_workers(workers, what="workers")
    if capped and scheduler is None:
        notes.append(capped)
    try:
        if todo:
            if scheduler is not None:
                where = _run_dask(todo, finished, scheduler=scheduler, window_px=wpx)
            else:
                where = "processes"
                _run_local(todo, finished, fn=scan_task, workers=n_workers, window_px=wpx)
        else:
            where = "processes" if scheduler is None else str(getattr(scheduler, "scheduler_address", scheduler))
    finally:
        if bar is not None:
            bar.close()

    rows, n_features = _write_outputs(tasks, keys, parts_dir, tiles_path, cars_path)
    n_ok = sum(r["status"] == "ok" for r in rows)
    report = BatchReport(
        rows=tuple(rows), n_ok=n_ok, n_failed=len(rows) - n_ok, n_skipped=n_skipped,
        n_railcars=sum(int(r["count"]) for r in rows if r["status"] == "ok"), n_features=n_features,
        tiles_path=tiles_path, cars_path=cars_path, parts_dir=parts_dir,
        elapsed_s=time.perf_counter() - t0, scheduler=where,
        n_railcars_simulated=sum(int(r["count"]) for r in rows if r["status"] == "ok" and r["simulated"]),
        notes=tuple(notes),
    )
    log.info("batch: %d ok, %d failed (%d skipped), %d railcars", report.n_ok, report.n_failed,
             report.n_skipped, report.n_railcars)
    return report


_Done = Callable[[str, dict[str, Any]], None]

_DIED = ("the worker process scanning this tile died (a crash in a native library, or out of memory); "
         "check the file, or scan it alone with 'railcount scan'")


def _run_local(todo: Mapping[str, Task], finished: _Done, *, fn: Callable[..., dict[str, Any]],
               workers: int, window_px: int) -> None:
    """Run ``fn`` over ``todo`` in a spawn-started process pool, at most ``workers`` tiles in flight.

    Keeping no more tiles in flight than workers bounds the memory held by
    pending results, and tells which tiles were being scanned when a worker
    died: the pool is then restarted, each of those tiles is tried once alone
    (so that only the culprit fails), and the batch goes on.
    """
    from .scan import one_blas_thread

    ctx = multiprocessing.get_context("spawn")  # no fork: GDAL and BLAS threads do not survive it
    queue = list(todo.items())
    queue.reverse()  # pop() from the end keeps manifest order
    suspects: list[tuple[str, Task]] = []
    n = max(1, min(workers, len(queue)))
    while queue or suspects:
        if suspects:
            key, task = suspects.pop()
            with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as alone:
                try:
                    part = alone.submit(fn, task, window_px=window_px).result()
                except cf.process.BrokenProcessPool:
                    part = _error_part(task, _DIED, 0.0)
            finished(key, part)
            continue
        pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=one_blas_thread if n > 1 else None)
        running: dict[cf.Future, tuple[str, Task]] = {}
        try:
            while queue or running:
                while queue and len(running) < n:
                    key, task = queue.pop()
                    running[pool.submit(fn, task, window_px=window_px)] = (key, task)
                ready, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                broken = False
                for fut in ready:
                    key, task = running.pop(fut)
                    try:
                        part = fut.result()
                    except cf.process.BrokenProcessPool:
                        broken = True
                        suspects.append((key, task))
                        continue
                    except Exception as exc:  # e.g. a result that cannot be sent back
                        part = _error_part(task, f"internal error ({type(exc).__name__}: {exc})", 0.0)
                    finished(key, part)
                if broken:
                    suspects.extend(running.values())
                    running.clear()
                    log.warning("a worker process died; retrying its %d tile(s) one at a time", len(suspects))
                    break
        except BaseException:
            for fut in running:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        suspects.reverse()  # retry in manifest order


def _run_dask(todo: Mapping[str, Task], finished: _Done, *, scheduler: Any, window_px: int) -> str:
    """Run :func:`scan_task` over ``todo`` on a Dask distributed cluster; return its address."""
    distributed = require("distributed", extra="batch", feature="batch scans on a Dask cluster")
    own = not isinstance(scheduler, distributed.Client)
    if own:
        address = str(scheduler)
        try:
            client = distributed.Client(address, timeout="15s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot connect to the Dask scheduler at {address} ({type(exc).__name__}: {exc}); "
                             "check the address (e.g. tcp://host:8786) and that the scheduler is running") from None
    else:
        client = scheduler
        address = str(client.scheduler.address)
    try:
        keys = list(todo)
        futures = client.map(scan_task, [todo[k] for k in keys], window_px=window_px, pure=False)
        which = {f.key: k for f, k in zip(futures, keys)}
        for fut in distributed.as_completed(futures):
            key = which[fut.key]
            try:
                part = fut.result()
            except Exception as exc:  # KilledWorker, a lost connection, a worker without railcount
                part = _error_part(todo[key], f"the Dask task failed ({type(exc).__name__}: {exc})", 0.0)
            finished(key, part)
            fut.release()
    finally:
        if own:
            client.close()
    return address


# --------------------------------------------------------------------------- parts and outputs


def _part_path(parts_dir: Path, key: str) -> Path:
    return parts_dir / f"{key}.json"


def _save_part(parts_dir: Path, key: str, part: dict[str, Any]) -> None:
    io.write_json(_part_path(parts_dir, key), part, indent=None)


def _load_part(parts_dir: Path, key: str) -> dict[str, Any] | None:
    path = _part_path(parts_dir, key)
    try:
        part = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable result %s (%s); the tile will be scanned again", path, exc)
        return None
    if not isinstance(part, dict) or part.get("version") != PARTS_VERSION or part.get("key") != key:
        return None
    return part


def _tile_row(task: Task, part: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in TILE_COLUMNS}
    row.update(tile=task.name, site=task.site, date=task.date)
    if part is None:  # only if the run was cut short
        row.update(status="error", error="not scanned", retry=True)
        return row
    s = part.get("summary") or {}
    row.update(status=part["status"], error=part.get("error"), elapsed_s=s.get("elapsed_s"))
    if part["status"] != "ok":
        row.update(retry=bool(part.get("retry", True)))
    if part["status"] == "ok":
        row.update(date=s.get("date") or task.date, count=s["count"], count_low=s["count_low"],
                   count_high=s["count_high"], mode=s["mode"], gsd=s["gsd_m"], simulated=bool(s["simulated"]),
                   n_detections=s["n_detections"])
    return row


def _car_rows(task: Task, part: dict[str, Any] | None) -> list[dict[str, Any]]:
    if part is None or part["status"] != "ok":
        return []
    s = part["summary"]
    out = []
    for f in part.get("features", []):
        props = f.get("properties", {})
        row = {"tile": task.name, "site": task.site, "date": s.get("date") or task.date}
        for c in CAR_COLUMNS[3:]:
            row[c] = props.get(c)
        row["simulated"] = bool(s.get("simulated"))
        row["geometry"] = f.get("geometry")
        out.append(row)
    return out


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _tiles_csv(rows: list[dict[str, Any]]) -> str:
    buf = _stdio.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TILE_COLUMNS)
    for r in rows:
        w.writerow([_csv_value(r[c]) for c in TILE_COLUMNS])
    return buf.getvalue()


class _GeoJSONCars:
    """Write railcar features as one RFC 7946 FeatureCollection, tile by tile."""

    def __init__(self, fh: Any) -> None:
        self.fh, self.n = fh, 0
        fh.write('{"type": "FeatureCollection", "features": [')

    def add(self, cars: list[dict[str, Any]]) -> None:
        for f in cars:
            feature = {"type": "Feature", "geometry": f["geometry"], "properties": {c: f[c] for c in CAR_COLUMNS}}
            self.fh.write(("\n" if self.n == 0 else ",\n") + json.dumps(feature, ensure_ascii=False))
            self.n += 1

    def close(self) -> None:
        self.fh.write("\n]}\n")


def _car_schema() -> Any:
    """Arrow schema of the per-railcar GeoParquet table."""
    import pyarrow as pa

    return pa.schema([
        ("tile", pa.string()), ("site", pa.string()), ("date", pa.date32()), ("kind", pa.string()),
        ("length_m", pa.float64()), ("width_m", pa.float64()), ("angle_deg", pa.float64()),
        ("score", pa.float64()), ("track_id", pa.int32()), ("cars", pa.float64()), ("row", pa.float64()),
        ("col", pa.float64()), ("simulated", pa.bool_()), ("geometry", pa.binary()),
    ])


class _GeoParquetCars:
    """Write railcar features as GeoParquet 1.0.0, in row groups, with the ``geo`` metadata at the end."""

    ROW_GROUP = 65536

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.schema = _car_schema()
        # store_schema=False: readers then take the schema metadata from the file's key-value
        # metadata, where ``geo`` is added once the bounds and geometry types are known
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd", store_schema=False)
        self.pending: list[dict[str, Any]] = []
        self.n = 0
        self.types: set[str] = set()
        self.bbox = [math.inf, math.inf, -math.inf, -math.inf]

    def add(self, cars: list[dict[str, Any]]) -> None:
        self.pending.extend(cars)
        if len(self.pending) >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import shapely
        import shapely.geometry

        if not self.pending:
            return
        feats, self.pending = self.pending, []
        geoms = [shapely.geometry.shape(f["geometry"]) if f["geometry"] else None for f in feats]
        present = [g for g in geoms if g is not None]
        if present:
            self.types.update(g.geom_type for g in present)
            b = shapely.bounds(present)
            self.bbox = [min(self.bbox[0], float(b[:, 0].min())), min(self.bbox[1], float(b[:, 1].min())),
                         max(self.bbox[2], float(b[:, 2].max())), max(self.bbox[3], float(b[:, 3].max()))]
        columns: dict[str, list[Any]] = {c: [f[c] for f in feats] for c in CAR_COLUMNS}
        columns["date"] = [_dt.date.fromisoformat(d) if d else None for d in columns["date"]]
        columns["geometry"] = [None if g is None else shapely.to_wkb(g) for g in geoms]
        self.writer.write_table(pa.Table.from_pydict(columns, schema=self.schema))
        self.n += len(feats)

    def close(self) -> None:
        self._flush()
        bbox = self.bbox if self.types else None
        self.writer.add_key_value_metadata({"geo": json.dumps(geoparquet_metadata(sorted(self.types), bbox))})
        self.writer.close()


def geoparquet_metadata(geometry_types: Sequence[str], bbox: Sequence[float] | None = None) -> dict[str, Any]:
    """The GeoParquet 1.0.0 ``geo`` metadata of a WKB ``geometry`` column in lon/lat (OGC:CRS84).

    Parameters
    ----------
    geometry_types : sequence of str
        Geometry types present (e.g. ``["Polygon"]``); empty when unknown or none.
    bbox : (xmin, ymin, xmax, ymax), optional
        Bounds of all geometries, in degrees.

    Returns
    -------
    dict
        To be stored as JSON under the file metadata key ``geo``.

    Notes
    -----
    The CRS is written out as the PROJJSON of OGC:CRS84 (the default when the
    key is absent; an explicit ``null`` would mean an *unknown* CRS). Rings
    are counter-clockwise, as :meth:`railcount.results.ScanResult.to_geojson`
    makes them.
    """
    import pyproj

    col: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": list(geometry_types),
        "crs": pyproj.CRS("OGC:CRS84").to_json_dict(),
        "orientation": "counterclockwise",
    }
    if bbox is not None:
        col["bbox"] = [float(v) for v in bbox]
    return {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": col}}


def _write_outputs(tasks: list[Task], keys: list[str], parts_dir: Path, tiles_path: Path,
                   cars_path: Path) -> tuple[list[dict[str, Any]], int]:
    """Assemble the per-tile CSV and the per-railcar file from the parts, in task order, one part at a time.

    Both files are written, or neither.
    """
    rows: list[dict[str, Any]] = []
    with io.atomic_outputs(cars_path, tiles_path) as (tmp, tmp_tiles):
        assert tmp is not None and tmp_tiles is not None
        try:
            if cars_path.suffix == ".geojson":
                with open(tmp, "w", encoding="utf-8") as fh:
                    cars: Any = _GeoJSONCars(fh)
                    for t, k in zip(tasks, keys):
                        part = _load_part(parts_dir, k)
                        rows.append(_tile_row(t, part))
                        cars.add(_car_rows(t, part))
                    cars.close()
            else:
                cars = _GeoParquetCars(tmp)
                try:
                    for t, k in zip(tasks, keys):
                        part = _load_part(parts_dir, k)
                        rows.append(_tile_row(t, part))
                        cars.add(_car_rows(t, part))
                finally:
                    cars.close()
        except OSError as exc:
            raise OutputError(f"cannot write {cars_path}: {exc}") from None
        io.write_text(tmp_tiles, _tiles_csv(rows))
    return rows, cars.n


def read_tiles_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read back the per-tile CSV of a batch (all values as text)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
