"""``railcount tracks``: find every track centreline in one raster."""

from __future__ import annotations

import json

import click

from .options import aoi_option, date_option, gsd_option, snap_option, tracks_option, window_option


@click.command()
@click.argument("tile")
@aoi_option
@tracks_option
@snap_option
@gsd_option
@date_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False), metavar="FILE.geojson",
              help="Write the tracks as RFC 7946 GeoJSON: one lon/lat LineString per track with length_m, "
                   "source ('image' or 'user') and score.")
@click.option("--overlay", "overlay_path", type=click.Path(dir_okay=False), metavar="FILE.png",
              help="Write a PNG of the tile with the tracks drawn on it.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary to stdout.")
@window_option
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Processes that search the windows of a large tile side by side.")
@click.option("--progress/--no-progress", default=None, help="Progress bar over windows of large tiles "
              "(default: on when stderr is a terminal).")
def tracks(tile, aoi, tracks_path, snap_m, gsd, date, out_path, overlay_path, as_json, window_px, workers,
           progress):
    """Find every track centreline in TILE (a GeoTIFF/COG path or http(s) URL).

    \b
    Tracks are found from the image itself: pairs of rails at the gauge,
    the sleeper and ballast bed, and the cars standing on them (a track runs
    on under a parked train). `railcount scan` searches for railcars only
    along these tracks, so look here first when a count seems wrong.

    \b
    Examples:
      railcount tracks tile.tif
      railcount tracks tile.tif --out tracks.geojson --overlay tracks.png
      railcount tracks tile.tif --tracks osm_rail.geojson --snap-m 5 --out used.geojson
    """
    import sys

    from .. import io
    from ..scan import WINDOW_PX, scan_tracks

    user = io.read_geojson(tracks_path) if tracks_path else None
    show = sys.stderr.isatty() if progress is None else progress
    with io.atomic_outputs(out_path, overlay_path) as (tmp_out, tmp_overlay):
        result = scan_tracks(tile, aoi=aoi, tracks=user, snap_m=snap_m, gsd=gsd, date=date, progress=show,
                             window_px=window_px or WINDOW_PX, workers=workers)
        if tmp_out:
            io.write_json(tmp_out, result.to_geojson())
        if tmp_overlay:
            from ..figures import save_overlay

            save_overlay(tile, result, tmp_overlay, aoi=aoi, gsd=gsd)
    if as_json:
        summary = result.summary()
        for key, path in (("out", out_path), ("overlay", overlay_path)):
            if path:
                summary[key] = str(path)
        click.echo(json.dumps(summary, indent=1))
        return
    sim = "  [SIMULATED imagery]" if result.simulated else ""
    n_user = sum(t.source == "user" for t in result.tracks)
    click.echo(f"tile:   {result.source}{sim}")
    click.echo(f"tracks: {len(result.tracks)}, {result.length_m:,.0f} m in all   GSD: {result.gsd:.3f} m")
    if tracks_path:
        click.echo(f"        {len(result.tracks) - n_user} snapped to the image, {n_user} used as given "
                   "(no track seen near them)")
    click.echo(f"time:   {result.elapsed_s:.2f} s")
    for path, what in ((out_path, "tracks"), (overlay_path, "overlay")):
        if path:
            click.echo(f"wrote {what}: {path}")
