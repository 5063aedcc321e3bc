"""Options shared by several commands."""

from __future__ import annotations

import click


def _parse_aoi(ctx, param, value):
    if value is None:
        return None
    from ..io import parse_aoi

    return parse_aoi(value)


aoi_option = click.option(
    "--aoi", callback=_parse_aoi, metavar="W,S,E,N|FILE",
    help="Area of interest: a lon/lat box 'west,south,east,north' or a GeoJSON polygon file; "
         "only that window is read.")
gsd_option = click.option(
    "--gsd", type=float, default=None, metavar="METRES",
    help="Ground sample distance in metres; needed for pictures without georeference (PNG/JPEG).")
date_option = click.option(
    "--date", default=None, metavar="YYYY-MM-DD",
    help="Acquisition date, when the file's tags and name do not give it.")
window_option = click.option(
    "--window-px", type=click.IntRange(min=256), default=None, metavar="PX",
    help="Side, in pixels, of the square each window of a large tile answers for (default 1536); each is read "
         "with 80 m of the picture around it, so the count does not depend on it. Memory grows with the "
         "window's area (the default peaks near 2 GB).")
tracks_option = click.option(
    "--tracks", "tracks_path", type=click.Path(dir_okay=False), metavar="FILE.geojson",
    help="Track centrelines to use (GeoJSON LineStrings in any CRS, e.g. exported from OpenStreetMap): "
         "snapped to the tracks seen in the image within --snap-m; where no track is seen near a line, "
         "the line is used as given.")
snap_option = click.option(
    "--snap-m", type=click.FloatRange(min=0.0, max=50.0), default=3.0, show_default=True, metavar="METRES",
    help="How far a --tracks line may lie from the track seen in the image and still be snapped to it.")
