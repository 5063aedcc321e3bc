"""``railcount scan``: count the railcars in one raster."""

from __future__ import annotations

import json

import click

from ..results import interval_phrase
from .options import aoi_option, date_option, gsd_option, snap_option, tracks_option, window_option


@click.command()
@click.argument("tile")
@aoi_option
@tracks_option
@snap_option
@gsd_option
@date_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write every detection as RFC 7946 GeoJSON (lon/lat polygons).")
@click.option("--overlay", "overlay_path", type=click.Path(dir_okay=False),
              help="Write a PNG of the tile with every detection outlined.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary to stdout.")
@window_option
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Processes that scan the windows of a large tile side by side; each needs one window's "
                   "memory. The count does not depend on it.")
@click.option("--progress/--no-progress", default=None, help="Progress bar over windows of large tiles "
              "(default: on when stderr is a terminal).")
def scan(tile, aoi, tracks_path, snap_m, gsd, date, out_path, overlay_path, as_json, window_px, workers, progress):
    """Count the railcars in TILE (a GeoTIFF/COG path or http(s) URL).

    \b
    Cars are searched for only along tracks: those found in the image, or
    the lines of --tracks snapped to them (see `railcount tracks`).
    At 0.8 m GSD or finer every car is detected; from 0.8 to 3 m the count is
    an estimate from occupied track length; coarser imagery cannot be counted.
    The count comes with an interval from the detector's measured error rates.

    \b
    Examples:
      railcount scan tile.tif
      railcount scan tile.tif --out cars.geojson --overlay cars.png
      railcount scan https://example.org/cog.tif --aoi 130.60,42.41,130.62,42.43 --json
      railcount scan big_mosaic.tif --workers 4 --progress
    """
    import sys

    from .. import io
    from ..scan import WINDOW_PX
    from ..scan import scan as run_scan

    tracks = io.read_geojson(tracks_path) if tracks_path else None
    show = sys.stderr.isatty() if progress is None else progress
    with io.atomic_outputs(out_path, overlay_path) as (tmp_out, tmp_overlay):
        result = run_scan(tile, aoi=aoi, tracks=tracks, snap_m=snap_m, gsd=gsd, date=date, progress=show,
                          window_px=window_px or WINDOW_PX, workers=workers)
        if tmp_out:
            io.write_json(tmp_out, result.to_geojson())
        if tmp_overlay:
            from ..figures import save_overlay

            save_overlay(tile, result, tmp_overlay, aoi=aoi, gsd=gsd)
    if as_json:
        summary = result.summary()
        if out_path:
            summary["out"] = str(out_path)
        if overlay_path:
            summary["overlay"] = str(overlay_path)
        click.echo(json.dumps(summary, indent=1))
        return
    click.echo(format_summary(result))
    for path, what in ((out_path, "detections"), (overlay_path, "overlay")):
        if path:
            click.echo(f"wrote {what}: {path}")


def format_summary(result) -> str:
    """A short human summary of a scan."""
    sim = "  [SIMULATED imagery]" if result.simulated else ""
    date = result.date.isoformat() if result.date else "unknown"
    what = "railcars" if result.mode == "individual" else "railcars (ESTIMATE from occupied track length)"
    lines = [
        f"tile:  {result.source}{sim}",
        f"date:  {date}   GSD: {result.gsd:.3f} m   mode: {result.mode}",
        f"count: {result.count} {what}, {interval_phrase(result)}",
        f"time:  {result.elapsed_s:.2f} s",
    ]
    return "\n".join(lines)
