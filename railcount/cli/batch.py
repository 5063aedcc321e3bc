"""``railcount batch``: scan the tiles of a manifest in parallel, locally or on a Dask cluster."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .options import window_option

__all__ = ["batch", "format_report"]

#: Failed tiles listed by name in the human summary (all are in the CSV).
_SHOW_FAILED = 10


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Local worker processes (default, and at most: one per CPU available).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786; its workers need railcount "
                   "installed and access to the tiles (shared folder or URLs).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="X.csv (one row per tile) plus X.parquet (GeoParquet, one row per railcar); "
                   "or X.geojson for GeoJSON railcars. Default: MANIFEST-results.csv beside the manifest.")
@window_option
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary to stdout.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar of tiles done on stderr (default: on when stderr is a terminal).")
def batch(manifest, workers, scheduler, out_path, window_px, as_json, progress):
    """Count the railcars in every tile of MANIFEST, in parallel.

    \b
    MANIFEST is a CSV file with a header row and the columns
      tile   path or URL of a GeoTIFF/COG (relative to the manifest's folder)
      site   optional label carried into the results
      date   optional acquisition date YYYY-MM-DD, when the file gives none
      gsd    optional metres per pixel, for pictures without georeference

    \b
    Results: one row per tile in X.csv (status ok/error, count, interval, mode,
    GSD, ...) and one feature per railcar in X.parquet (GeoParquet, lon/lat
    polygons) or X.geojson. A tile that fails is reported in its row and does
    not stop the batch. Finished tiles are kept in X.parts/: running the same
    command again skips them and retries only the failed ones.

    \b
    Exit status: 0 when at least one tile was counted (failures are listed),
    1 when every tile failed or the manifest is malformed.

    \b
    Examples:
      railcount batch tiles.csv
      railcount batch tiles.csv --workers 2 --out results/tumangang.csv
      railcount batch tiles.csv --scheduler tcp://10.0.0.5:8786 --out cars.geojson
    """
    from ..batch import read_manifest, run_batch

    if workers is not None and scheduler:
        raise click.UsageError("give either --workers (local processes) or --scheduler (a Dask cluster), not both")
    tasks = read_manifest(manifest)
    if out_path is None:
        m = Path(manifest)
        out_path = m.with_name(f"{m.stem}-results.csv")
    show = sys.stderr.isatty() if progress is None else progress
    report = run_batch(tasks, out=out_path, workers=workers, scheduler=scheduler, progress=show,
                       window_px=window_px)
    if as_json:
        click.echo(json.dumps(report.summary(), indent=1))
    else:
        click.echo(format_report(report))
    if report.n_ok == 0:
        if not as_json:
            click.echo("Error: every tile failed; see the errors above", err=True)
        click.get_current_context().exit(1)


def format_report(report: Any) -> str:
    """A short human summary of a :class:`railcount.batch.BatchReport`."""
    skipped = f", {report.n_skipped} done by an earlier run" if report.n_skipped else ""
    lines = [f"note:     {n}" for n in report.notes]
    lines += [
        f"tiles:    {report.n_tiles}: {report.n_ok} ok, {report.n_failed} failed{skipped}",
        _railcars_line(report),
        f"wrote:    {report.tiles_path} (tiles), {report.cars_path} (railcars)",
    ]
    failed = report.failed
    retry = [r for r in failed if r["retry"]]
    final = [r for r in failed if not r["retry"]]
    shown = 0
    for rows, head in ((final, "CANNOT BE COUNTED ({n}; running again will not change that)"),
                       (retry, "FAILED ({n}; run the same command again to retry them)")):
        if not rows:
            continue
        lines.append(head.format(n=len(rows)) + ":")
        for r in rows[: max(0, _SHOW_FAILED - shown)]:
            lines.append(f"  {r['tile']}: {r['error']}")
        shown += len(rows)
    if shown > _SHOW_FAILED:
        lines.append(f"  ... and {shown - _SHOW_FAILED} more (see {report.tiles_path})")
    return "\n".join(lines)


def _railcars_line(report: Any) -> str:
    """The railcars counted, real and SIMULATED apart: their sum is no count of any one place."""
    rows = [r for r in report.rows if r["status"] == "ok"]
    n_sim = sum(1 for r in rows if r["simulated"])
    n_real = len(rows) - n_sim

    def tiles(n: int) -> str:
        return f"{n} tile{'' if n == 1 else 's'}"

    if n_sim == 0:
        return f"railcars: {report.n_railcars} in the {tiles(n_real)} counted"
    if n_real == 0:
        return f"railcars: {report.n_railcars} in the {tiles(n_sim)} counted, all SIMULATED"
    return (f"railcars: {report.n_railcars_real} in {tiles(n_real)} of real imagery; "
            f"{report.n_railcars_simulated} in {tiles(n_sim)} of SIMULATED imagery (kept apart)")
