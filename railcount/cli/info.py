"""``railcount info``: what a raster holds and what its GSD allows."""

from __future__ import annotations

import json
from typing import Any

import click

from ..priors import ESTIMATE_MAX_GSD, INDIVIDUAL_MAX_GSD

__all__ = ["info", "COUNTING_MODE_TEXT", "format_info"]

#: How each counting mode reads in command output.
COUNTING_MODE_TEXT = {
    "individual": f"individual cars (GSD <= {INDIVIDUAL_MAX_GSD:g} m)",
    "estimate": f"estimate from occupied track length ({INDIVIDUAL_MAX_GSD:g}-{ESTIMATE_MAX_GSD:g} m)",
    "none": f"none: too coarse to count railcars (> {ESTIMATE_MAX_GSD:g} m)",
}

_DATE_SOURCE_TEXT = {
    "tag": "from the file's tags",
    "filename": "from the file name",
    "caller": "as given",
}


def format_info(meta: dict[str, Any]) -> list[str]:
    """Turn :func:`railcount.io.raster_info` output into aligned text lines.

    Parameters
    ----------
    meta : dict
        As returned by :func:`railcount.io.raster_info`.

    Returns
    -------
    list of str
    """
    lines = []
    if meta["simulated"]:
        lines.append("*** SIMULATED imagery: a synthetic scene, not an observation ***")
    bands = f"{meta['bands']} x {meta['dtype']}"
    if meta.get("alpha"):
        bands += " (last band is alpha: it gives the validity mask)"
    if meta["crs"] is None:
        crs = "none (pixel coordinates only)"
    elif len(meta["crs"]) > 60:
        crs = meta["crs"][:57] + "..."
    else:
        crs = meta["crs"]
    gsd = meta["gsd_m"]
    gsd_text = f"{gsd:.3f} m" if gsd < 10 else f"{gsd:.1f} m"
    if not meta.get("georeferenced", True):
        gsd_text += " (as given)"
    if meta["bounds_lonlat"]:
        w, s, e, n = meta["bounds_lonlat"]
        bounds = f"west {w:.6f}, south {s:.6f}, east {e:.6f}, north {n:.6f}"
    else:
        bounds = "unknown (no georeference)"
    if meta["date"]:
        date = f"{meta['date']} ({_DATE_SOURCE_TEXT.get(meta['date_source'], meta['date_source'])})"
    else:
        date = "unknown"
        hints = [f"{k}={v}" for k, v in meta["tags"].items() if "DATE" in k.upper()]
        if hints:
            date += f" (tag {', '.join(hints)} gives no full date)"
    nodata = meta["nodata"]
    rows = [
        ("file", meta["source"]),
        ("size", f"{meta['width']} x {meta['height']} px (width x height)"),
        ("bands", bands),
        ("nodata", "none" if nodata is None else str(nodata)),
        ("CRS", crs),
        ("GSD", gsd_text),
        ("bounds", bounds),
        ("date", date),
        ("counting", COUNTING_MODE_TEXT[meta["counting_mode"]]),
    ]
    width = max(len(k) for k, _ in rows) + 1
    lines.extend(f"{k + ':':<{width}} {v}" for k, v in rows)
    return lines


@click.command()
@click.argument("tile", metavar="TILE")
@click.option("--gsd", type=float, default=None, metavar="METRES",
              help="Ground sample distance in metres per pixel; overrides the georeference, "
                   "and is required for pictures without one (PNG/JPEG).")
@click.option("--json", "as_json", is_flag=True, help="Print the same information as JSON.")
def info(tile: str, gsd: float | None, as_json: bool) -> None:
    """Show what a raster holds and which counting its GSD allows.

    TILE is a GeoTIFF / Cloud-Optimized GeoTIFF path or http(s):// URL, or a
    PNG/JPEG picture (then give --gsd). Prints size, bands, pixel type, CRS,
    ground sample distance (GSD), extent in lon/lat, acquisition date, and the
    counting mode: individual cars at 0.8 m or finer, an estimate from occupied
    track length up to 3 m, nothing coarser. Only metadata and one block are
    read, so this is quick on large or remote files.

    \b
    Examples:
      railcount info yard.tif
      railcount info https://example.org/scene_cog.tif --json
      railcount info press_photo.jpg --gsd 0.5
    """
    from ..io import raster_info

    meta = raster_info(tile, gsd=gsd)
    if as_json:
        click.echo(json.dumps(meta, indent=1, ensure_ascii=False))
        return
    for line in format_info(meta):
        click.echo(line)
