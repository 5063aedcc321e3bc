"""``railcount fetch``: download public imagery of a site (web-map tiles or STAC scenes)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..catalog import get_site, load_sites
from ..fetch import stac as _stac
from ..fetch import xyz as _xyz
from ..geo import validate_bbox
from ..sites import Site

_SITES_HELP = "Your own sites file (TOML), merged over the built-in sites; repeatable. Also RAILCOUNT_SITES."


def _area(site: str | None, bbox: tuple[float, ...] | None, sites_files: tuple[Path, ...]) -> Site | tuple:
    if (site is None) == (not bbox):
        raise click.UsageError("give exactly one of --site NAME or --bbox W S E N (see 'railcount fetch sites')")
    if site is not None:
        return get_site(site, extra=list(sites_files) or None)
    return validate_bbox(bbox or (), what="--bbox", web_mercator=True)


def _area_options(f):
    f = click.option("--sites", "sites_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                     help=_SITES_HELP)(f)
    f = click.option("--bbox", nargs=4, type=float, default=None, metavar="W S E N",
                     help="Area in lon/lat degrees: west south east north.")(f)
    f = click.option("--site", metavar="NAME", help="A named site, e.g. tumangang (list: railcount fetch sites).")(f)
    return f


@click.group("fetch")
def fetch() -> None:
    """Download public imagery of an area: web-map tiles or satellite scenes.

    \b
      railcount fetch sites                                   the named sites
      railcount fetch xyz --site tumangang --zoom 18 \\
          --provider Esri.WorldImagery --out tumangang_z18.tif
      railcount fetch stac --site tumangang \\
          --datetime 2023-09-01/2023-10-31 --out s2/

    Web-map tiles have no acquisition date (railcount info reports it as
    unknown); STAC scenes carry theirs. Mind each provider's terms of use.
    """


@fetch.command("sites")
@click.option("--sites", "sites_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help=_SITES_HELP)
def sites_cmd(sites_files: tuple[Path, ...]) -> None:
    """List the named sites (built-in and your own)."""
    for key, site in load_sites(list(sites_files) or None).items():
        w, s, e, n = site.bbox
        click.echo(f"{key:<16} {w:.4f} {s:.4f} {e:.4f} {n:.4f}  {site.title}"
                   + ("" if site.source == "built-in" else f"  [{site.source}]"))


@fetch.command("xyz")
@_area_options
@click.option("--zoom", "-z", type=click.IntRange(0, 24), required=True,
              help="Zoom level; at 42.4 N zoom 17/18/19 is about 0.88/0.44/0.22 m per pixel.")
@click.option("--provider", metavar="NAME", help="Tile provider as in xyzservices, e.g. Esri.WorldImagery.")
@click.option("--url", "url_template", metavar="TEMPLATE",
              help="Tile URL template instead, e.g. 'https://host/{z}/{x}/{y}.png'.")
@click.option("--attribution", help="Attribution text for --url imagery.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output GeoTIFF (EPSG:3857).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Tile cache folder [default: $RAILCOUNT_CACHE or ~/.cache/railcount/tiles].")
@click.option("--max-tiles", type=click.IntRange(min=1), default=_xyz.DEFAULT_MAX_TILES, show_default=True,
              help="Refuse areas that need more tiles.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=_xyz.DEFAULT_RATE,
              show_default=True, help="Most requests per second.")
@click.option("--retries", type=click.IntRange(0, 10), default=3, show_default=True,
              help="Retries per tile after a transient failure.")
@click.option("--refresh", is_flag=True, help="Download every tile again, ignoring the cache.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr [default: if a terminal].")
def xyz(site: str | None, bbox: tuple[float, ...] | None, sites_files: tuple[Path, ...], zoom: int,
        provider: str | None, url_template: str | None, attribution: str | None, out: Path,
        cache_dir: Path | None, max_tiles: int, rate: float, retries: int, refresh: bool,
        progress: bool | None) -> None:
    """Download the web-map tiles of an area as one georeferenced GeoTIFF."""
    area = _area(site, bbox, sites_files)
    source = _xyz.resolve_source(provider, url_template, attribution=attribution)
    path = _xyz.fetch_xyz(area, zoom, provider=provider, url=url_template, out=out, attribution=attribution,
                          cache_dir=cache_dir, max_tiles=max_tiles, rate=rate, retries=retries, refresh=refresh,
                          progress=sys.stderr.isatty() if progress is None else progress)
    click.echo(f"wrote {path}")
    click.echo(f"imagery: {source.attribution}")
    click.echo("date: unknown (web-map tiles have no acquisition date; the download date is in "
               "RAILCOUNT_DOWNLOADED)")


@fetch.command("stac")
@_area_options
@click.option("--datetime", "when", required=True, metavar="RANGE",
              help="Date or range, e.g. 2023-10-05 or 2023-09-01/2023-10-31 (UTC).")
@click.option("--collection", default=_stac.DEFAULT_COLLECTION, show_default=True, help="STAC collection id.")
@click.option("--api", default=_stac.DEFAULT_API, show_default=True, help="STAC API root URL.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder for the GeoTIFFs (created if missing).")
@click.option("--max-items", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many of the best items to download.")
@click.option("--asset", default=_stac.DEFAULT_ASSET, show_default=True, help="Asset key to read.")
@click.option("--max-cloud", type=click.FloatRange(0, 100), default=None, help="Skip items cloudier than this (%).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=_stac.DEFAULT_MAX_PIXELS, show_default=True,
              help="Refuse windows larger than this many pixels.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True,
              help="Most items to read from the API (raise it for long date ranges).")
@click.option("--list", "list_only", is_flag=True, help="Only list the matching items; download nothing.")
def stac(site: str | None, bbox: tuple[float, ...] | None, sites_files: tuple[Path, ...], when: str,
         collection: str, api: str, out_dir: Path | None, max_items: int, asset: str, max_cloud: float | None,
         max_pixels: int, limit: int, list_only: bool) -> None:
    """Search a STAC API and download the area's window of the least cloudy scenes."""
    if out_dir is None and not list_only:
        raise click.UsageError("give --out DIR (or --list to only list the items)")
    area = _area(site, bbox, sites_files)
    items = _stac.search_stac(area, when, collection, api=api, max_cloud=max_cloud, limit=max(limit, max_items))
    click.echo(f"{len(items)} item(s), best first:")
    click.echo(f"  {'date (UTC)':<20} {'cloud %':>7} {'covers':>6}  id")
    for it in items:
        date = it.datetime.strftime("%Y-%m-%d %H:%M:%S") if it.datetime else "unknown"
        cloud = f"{it.cloud_cover:.1f}" if it.cloud_cover is not None else "?"
        cover = "?" if it.coverage != it.coverage else f"{100 * it.coverage:.0f}%"
        click.echo(f"  {date:<20} {cloud:>7} {cover:>6}  {it.id}")
    if list_only:
        return
    if not items:
        raise click.ClickException(f"no {collection} items over this area in {when}; widen --datetime, "
                                   "raise --max-cloud or check --collection")
    assert out_dir is not None
    paths = _stac.fetch_items(items[:max_items], area, out_dir=out_dir, asset=asset, api=api,
                              max_pixels=max_pixels)
    for p in paths:
        click.echo(f"wrote {p}")
