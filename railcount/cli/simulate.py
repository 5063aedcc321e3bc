"""``railcount simulate``: write a SIMULATED rail-yard scene and its truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import OutputError
from ..synth.spec import GROUNDS

__all__ = ["simulate"]


def _tif_path(path: Path) -> Path:
    """OUT as the GeoTIFF it will be: ``.tif`` added when OUT has no such suffix."""
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        return path
    if suffix in (".png", ".jpg", ".jpeg", ".geojson", ".json"):
        raise OutputError(f"cannot write {path}: a simulated scene is a GeoTIFF; give OUT.tif, "
                          f"e.g. {path.with_suffix('.tif')}")
    return path.with_name(path.name + ".tif")


def _check_folder(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist; create it first")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name such as {path / 'scene.tif'}")


@click.command("simulate")
@click.argument("out", required=False, type=click.Path(dir_okay=True, path_type=Path))
@click.option("--cars", "n_cars", type=int, default=40, show_default=True, help="Number of railcars.")
@click.option("--gsd", type=str, default="0.5", show_default=True, metavar="METRES",
              help="Ground sample distance, 0.1-3 m per pixel.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed; the same seed gives the same bytes.")
@click.option("--layout-seed", type=int, default=None, help="Seed of the site only (same site on several dates).")
@click.option("--width-m", type=float, default=400.0, show_default=True, help="Scene width on the ground, metres.")
@click.option("--height-m", type=float, default=300.0, show_default=True, help="Scene height on the ground, metres.")
@click.option("--tracks", "n_tracks", type=int, default=8, show_default=True, help="Number of tracks.")
@click.option("--layout", type=click.Choice(["yard", "station"]), default="yard", show_default=True)
@click.option("--car-types", default=None, metavar="TYPE,...",
              help="Comma-separated car types (gondola, tank, flatcar, boxcar, hopper, locomotive); default all.")
@click.option("--crs", default="EPSG:32652", show_default=True, help="Projected CRS in metres.")
@click.option("--origin", type=float, nargs=2, default=None, metavar="X Y",
              help="Map coordinates of the top-left corner.")
@click.option("--date", default=None, metavar="YYYY-MM-DD[THH:MM:SS]",
              help="Acquisition date (UTC) for the tags and the sun.")
@click.option("--sun-azimuth", type=float, default=None, help="Sun azimuth, degrees clockwise from north.")
@click.option("--sun-elevation", type=float, default=None, help="Sun elevation, degrees.")
@click.option("--off-nadir", type=float, default=0.0, show_default=True,
              help="View angle from straight down, degrees (0-45): cars, masts and buildings lean, their sides show.")
@click.option("--lean-azimuth", type=float, default=0.0, show_default=True,
              help="Direction raised things lean towards (away from the sensor), degrees clockwise from north.")
@click.option("--haze", type=float, default=0.06, show_default=True)
@click.option("--noise", type=float, default=2.5, show_default=True, help="Noise sigma, 8-bit DN.")
@click.option("--blur", type=float, default=0.5, show_default=True, help="PSF sigma, output pixels.")
@click.option("--jpeg-quality", type=int, default=85, show_default=True, help="JPEG-like artefacts; 0 for none.")
@click.option("--misregistration", type=float, default=0.15, show_default=True, help="Band offset, pixels.")
@click.option("--ground", type=click.Choice(list(GROUNDS)), default="gravel", show_default=True,
              help="Yard floor between the tracks.")
@click.option("--gauge", type=click.Choice(["mixed", "1435", "1520", "dual"]), default="mixed", show_default=True)
@click.option("--no-lookalikes", is_flag=True, help="No containers, trucks, buildings or platforms.")
@click.option("--no-masts", is_flag=True, help="No catenary masts or gantries.")
@click.option("--sample-tiles", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Instead: write the SIMULATED Tumangang sample tiles into this folder.")
@click.option("--benchmark-set", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Instead: write the benchmark scene set and its manifest.csv into this folder.")
@click.option("--limit", type=int, default=None, help="With --benchmark-set: only the first N scenes.")
def simulate(out, n_cars, gsd, seed, layout_seed, width_m, height_m, n_tracks, layout, car_types, crs, origin,
             date, sun_azimuth, sun_elevation, off_nadir, lean_azimuth, haze, noise, blur, jpeg_quality,
             misregistration, ground, gauge, no_lookalikes, no_masts, sample_tiles, benchmark_set, limit):
    """Write a SIMULATED rail-yard scene OUT.tif and its truth OUT.truth.geojson.

    \b
    ".tif" is added to OUT when it has no such suffix; the track centrelines
    go to OUT.tracks.geojson.

    \b
    The GeoTIFF is RGB uint8, tiled and compressed, with CRS, transform and
    tags marking it SIMULATED; the truth holds one polygon per railcar (RFC 7946,
    lon/lat) with its type, length and width. The same options give the same bytes.

    \b
    Examples:
      railcount simulate yard.tif --cars 60 --gsd 0.5 --seed 3
      railcount simulate --sample-tiles sample_tiles/
      railcount simulate --benchmark-set benchmarks/scenes
    """
    from ..synth import SceneSpec, check_gsd, render_scene, write_scene
    from ..synth.sets import write_benchmark_set, write_sample_tiles

    modes = [m for m in (out, sample_tiles, benchmark_set) if m is not None]
    if len(modes) != 1:
        raise click.UsageError("give exactly one of OUT.tif, --sample-tiles DIR or --benchmark-set DIR")
    if sample_tiles is not None:
        if not sample_tiles.is_dir():
            raise OutputError(f"cannot write into {sample_tiles}: folder does not exist; create it first")
        for tif, truth in write_sample_tiles(sample_tiles):
            click.echo(f"wrote {tif} and {truth} (SIMULATED sample tile)")
        return
    if benchmark_set is not None:
        def progress(i, n, path):
            click.echo(f"[{i + 1}/{n}] wrote {path} (SIMULATED)", err=True)

        manifest = write_benchmark_set(benchmark_set, limit=limit, progress=progress)
        click.echo(f"wrote the SIMULATED benchmark set; manifest {manifest}")
        return

    g = check_gsd(gsd)
    _check_folder(out)
    out = _tif_path(out)
    options: dict[str, Any] = {}
    if car_types:
        options["car_types"] = tuple(t.strip() for t in car_types.split(",") if t.strip())
    try:
        spec = SceneSpec(
            gsd=g, n_cars=n_cars, seed=seed, layout_seed=layout_seed, width_m=width_m, height_m=height_m,
            n_tracks=n_tracks, layout=layout, crs=crs, origin=tuple(origin) if origin else None, date=date,
            sun_azimuth_deg=sun_azimuth, sun_elevation_deg=sun_elevation, off_nadir_deg=off_nadir,
            lean_azimuth_deg=lean_azimuth, haze=haze, noise=noise, blur=blur,
            jpeg_quality=jpeg_quality or None, misregistration_px=misregistration, ground=ground, gauge=gauge,
            lookalikes=not no_lookalikes, masts=not no_masts, **options,
        )
        scene = render_scene(spec)
    except ValueError as exc:
        if hasattr(exc, "__module__") and type(exc).__module__.startswith("railcount.errors"):
            raise
        raise click.ClickException(str(exc)) from None
    tif, truth = write_scene(scene, out)
    rows, cols = scene.shape
    click.echo(f"wrote {tif}: SIMULATED scene, {cols} x {rows} px at {scene.gsd:g} m, {scene.crs}, "
               f"{len(scene.cars)} railcars")
    click.echo(f"wrote {truth}: truth, {len(scene.cars)} railcar polygons (SIMULATED)")
