"""Named scene sets: the accuracy benchmark set, the Tumangang sample tiles and training scenes."""

from __future__ import annotations

import csv
import io as _stdio
import logging
import math
import os
from pathlib import Path
from typing import Any, Callable, cast

import numpy as np

from ..priors import CAR_TYPES
from .spec import GROUNDS, Gauge, Ground, LayoutKind, SceneSpec

__all__ = [
    "benchmark_specs",
    "tumangang_specs",
    "training_specs",
    "write_benchmark_set",
    "write_sample_tiles",
    "TUMANGANG_LONLAT",
    "SAMPLE_TILE_NAMES",
    "MANIFEST_COLUMNS",
]

logger = logging.getLogger(__name__)

#: Tumangang station (public gazetteer coordinates, rounded): lon, lat.
TUMANGANG_LONLAT = (130.6081, 42.4214)

#: Sample tile file names (without folder), by spec key.
SAMPLE_TILE_NAMES = {
    "2023-08-28": "tumangang_2023-08-28_SIMULATED.tif",
    "2023-10-05": "tumangang_2023-10-05_SIMULATED.tif",
}

#: Columns of the benchmark manifest (CSV).
MANIFEST_COLUMNS = (
    "path", "truth_path", "name", "gsd", "n_cars", "n_tracks", "conditions", "car_types", "seed",
    "width_m", "height_m", "haze", "noise", "blur", "jpeg_quality", "misregistration_px",
    "sun_azimuth_deg", "sun_elevation_deg", "lookalikes", "lookalike_density", "masts", "ground", "gauge",
    "off_nadir_deg", "lean_azimuth_deg",
)

_WAGONS = tuple(t for t in CAR_TYPES if t != "locomotive")


def _tracks_for(n_cars: int, side_m: float = 300.0) -> int:
    """Enough tracks for ``n_cars`` in a square scene of ``side_m`` (cars take about 15.5 m)."""
    return int(min(20, max(4, math.ceil(n_cars * 15.5 / (0.5 * side_m)) + 2)))


def benchmark_specs() -> list[SceneSpec]:
    """The deterministic scene set of the accuracy benchmark (54 scenes, 300 m x 300 m).

    Groups (the ``conditions`` label is the scene name's suffix):

    - density sweep at 0.5 m: 0 to 190 cars;
    - GSD sweep at 60 cars: 0.25 to 3 m;
    - conditions at 0.3 and 0.5 m: haze, noise, blur, low and high sun, strong
      JPEG, band misregistration, dark and bright exposure, sharp curve,
      many look-alikes, no masts, soil and vegetated yards, dual gauge, and
      one car type at a time (long trains of near-identical cars);
    - empty yards (tracks, no cars) with many look-alikes at 0.3-3 m;
    - packed yards of 160+ cars at 0.3-3 m;
    - yard-wide ballast beds at 0.3-0.5 m (one of them empty: rails and
      sleepers on ballast only) and a yard with several crossovers at 0.4 m;
    - two yards seen 25-30 degrees off nadir at 0.3 and 0.5 m (cars lean,
      their sides show).

    Scenes are only ever appended, so a scene keeps its name and index.

    Returns
    -------
    list of SceneSpec
        Seeds 9000 + index (disjoint from the detector's training seeds).
    """
    rows: list[tuple[str, dict]] = []
    for n in (0, 5, 15, 30, 50, 75, 100, 130, 160, 190):
        rows.append((f"density{n}", dict(gsd=0.5, n_cars=n)))
    for g in (0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0):
        rows.append((f"gsd{g:g}", dict(gsd=g, n_cars=60)))
    cond: list[tuple[str, dict[str, Any]]] = [
        ("hazy", dict(haze=0.3)),
        ("noisy", dict(noise=8.0)),
        ("blurred", dict(blur=1.3)),
        ("lowsun", dict(sun_azimuth_deg=135.0, sun_elevation_deg=18.0)),
        ("highsun", dict(sun_azimuth_deg=170.0, sun_elevation_deg=72.0)),
        ("jpeg40", dict(jpeg_quality=40)),
        ("misregistered", dict(misregistration_px=0.8)),
        ("dark", dict(illumination=0.6)),
        ("bright", dict(illumination=1.3)),
        ("curved", dict(curvature=1 / 400)),
        ("lookalikes", dict(lookalike_density=3.0)),
        ("nomasts", dict(masts=False)),
        ("soil", dict(ground="soil")),
        ("vegetated", dict(ground="vegetated")),
        ("dualgauge", dict(gauge="dual")),
    ]
    cond += [(f"only_{t}", dict(car_types=(t,))) for t in _WAGONS]
    for i, (label, kw) in enumerate(cond):
        rows.append((label, dict(gsd=(0.3 if i % 2 else 0.5), n_cars=70, **kw)))
    for g in (0.3, 0.5, 1.0, 3.0):
        rows.append((f"empty{g:g}", dict(gsd=g, n_cars=0, lookalike_density=2.5)))
    for g in (0.3, 1.0, 2.0, 3.0):
        rows.append((f"packed{g:g}", dict(gsd=g, n_cars=170)))
    rows.append(("ballast", dict(gsd=0.5, n_cars=70, ground="ballast")))
    rows.append(("ballast_empty", dict(gsd=0.3, n_cars=0, ground="ballast", lookalike_density=2.5)))
    rows.append(("ballast_busy", dict(gsd=0.4, n_cars=110, ground="ballast", curvature=1 / 800)))
    rows.append(("crossovers", dict(gsd=0.4, n_cars=60, crossovers=4, n_tracks=10)))
    # seen off nadir: cars, masts and buildings lean, their sides show
    rows.append(("oblique", dict(gsd=0.3, n_cars=70, off_nadir_deg=25.0, lean_azimuth_deg=30.0)))
    rows.append(("oblique", dict(gsd=0.5, n_cars=70, off_nadir_deg=30.0, lean_azimuth_deg=200.0)))
    specs = []
    for i, (label, kw) in enumerate(rows):
        kw.setdefault("n_tracks", _tracks_for(kw["n_cars"]))
        specs.append(SceneSpec(width_m=300.0, height_m=300.0, seed=9000 + i,
                               name=f"b{i:02d}_{label}", description=f"benchmark scene {i} ({label})", **kw))
    return specs


def training_specs(n: int, seed0: int = 20000, *, oblique_share: float = 0.0) -> list[SceneSpec]:
    """``n`` varied scenes for training a detector (domain randomisation).

    Scene ``i`` depends on ``seed0 + i`` only (so a longer list starts with a
    shorter one) and uses that as its seed; keep ``seed0`` clear of the
    benchmark's seeds (9000 + index). Drawn per scene:

    - GSD uniform in 0.2-0.8 m (80%) or 0.8-3 m (20%); a 200-300 m square;
    - 0-150 railcars on enough tracks (fewer cars where they would not fit),
      a random subset of car types in 40% of the scenes;
    - floor: ballast 30%, gravel 30%, soil 20%, vegetated 20%; a yard (75%)
      or a through station; curvature 0 to 1/400 per metre; gauge;
    - sun elevation 15-75 degrees at any azimuth, haze 0-0.3, noise 1-8, blur
      0.2-1.3 px (sharp more often than soft: median 0.5 px, as aerial
      orthophotos and today's satellites are; sleepers show only in sharp
      images), JPEG quality 40-95 (or none, 25%), band misregistration,
      exposure, look-alike density 0-3, masts on (70%) or off;
    - the view: straight down, or (in ``oblique_share`` of the scenes) 0-35
      degrees off nadir, leaning any way; drawn from a stream of its own, so
      every other draw is that of the same scene seen straight down.

    Parameters
    ----------
    n : int
        Number of scenes.
    seed0 : int
        Seed of the first scene.
    oblique_share : float
        Share (0-1) of the scenes seen off nadir (``python -m
        railcount.training --oblique-share``; the packaged models: 0).

    Returns
    -------
    list of SceneSpec
        Named ``train{seed}``; every one fits its cars (checked by laying it out).
    """
    from .layout import CapacityError, make_layout

    specs = []
    for seed in range(seed0, seed0 + n):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 71]))
        gsd = float(rng.uniform(0.2, 0.8) if rng.random() < 0.8 else rng.uniform(0.8, 3.0))
        side = float(round(rng.uniform(200.0, 300.0)))
        layout = "station" if rng.random() < 0.25 else "yard"
        n_cars = int(rng.integers(0, 151))
        types = tuple(CAR_TYPES)
        if rng.random() < 0.4:
            k = int(rng.integers(1, len(CAR_TYPES)))
            types = tuple(sorted(str(t) for t in rng.choice(list(CAR_TYPES), size=k, replace=False)))
        density = float(rng.uniform(0.0, 3.0))
        spec = SceneSpec(
            gsd=round(gsd, 3), width_m=side, height_m=side, n_cars=n_cars, seed=seed,
            layout=cast(LayoutKind, layout),
            n_tracks=(int(rng.integers(3, 9)) if layout == "station" else _tracks_for(n_cars, side)),
            curvature=0.0 if rng.random() < 0.25 else float(rng.uniform(0.0, 1 / 400)),
            car_types=types,
            gauge=cast(Gauge, str(rng.choice(["mixed", "1435", "1520", "dual"], p=[0.6, 0.15, 0.15, 0.1]))),
            ground=cast(Ground, str(rng.choice(GROUNDS, p=[0.3, 0.2, 0.2, 0.3]))),
            sun_azimuth_deg=float(rng.uniform(0.0, 360.0)), sun_elevation_deg=float(rng.uniform(15.0, 75.0)),
            haze=float(rng.uniform(0.0, 0.3)), noise=float(rng.uniform(1.0, 8.0)),
            blur=float(0.2 + 1.1 * rng.uniform(0.0, 1.0) ** 2),  # sharp more often than soft
            jpeg_quality=None if rng.random() < 0.25 else int(rng.integers(40, 96)),
            misregistration_px=float(rng.uniform(0.0, 0.8)), illumination=float(rng.uniform(0.7, 1.25)),
            lookalikes=density > 0.05, lookalike_density=density, masts=bool(rng.random() < 0.7),
            name=f"train{seed}", description=f"training scene (seed {seed})",
        )
        view = np.random.default_rng(np.random.SeedSequence([seed, 73]))
        if view.random() >= 1.0 - oblique_share:  # a larger share keeps every scene a smaller one sees off nadir
            spec = spec.replace(off_nadir_deg=round(float(view.uniform(0.0, 35.0)), 1),
                                lean_azimuth_deg=round(float(view.uniform(0.0, 360.0)), 1))
        while True:  # fewer cars until they fit
            try:
                make_layout(spec)
                break
            except CapacityError:
                spec = spec.replace(n_cars=int(spec.n_cars * 0.85))
        specs.append(spec)
    return specs


def _tumangang_origin(width_m: float, height_m: float, crs: str) -> tuple[float, float]:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(*TUMANGANG_LONLAT)
    return float(round(x - width_m / 2)), float(round(y + height_m / 2))


def tumangang_specs() -> dict[str, SceneSpec]:
    """The bundled SIMULATED sample tiles of the Tumangang rail facility.

    A through station of five dual-gauge tracks (1520/1435 mm) centred on the
    station's public coordinates (42.4214 N, 130.6081 E), the line running
    WSW-ENE (towards the Tumen bridge to the ENE), in UTM zone 52N
    (EPSG:32652), at 0.5 m GSD. The site (tracks, buildings, roads) is the
    same on both dates; cars, sun, exposure and haze differ.

    Returns
    -------
    dict
        ``"2023-08-28"``: 20 freight railcars (a pre-summit date);
        ``"2023-10-05"``: 73 freight railcars (the date of the CSIS count).
    """
    width, height, crs = 480.0, 320.0, "EPSG:32652"
    base = SceneSpec(
        gsd=0.5, width_m=width, height_m=height, layout="station", n_tracks=5, layout_seed=4214,
        yard_angle_deg=20.0, curvature=1 / 6000, gauge="dual", car_types=_WAGONS, ground="soil",
        masts=False, lookalikes=True, lookalike_density=0.7, crs=crs, origin=_tumangang_origin(width, height, crs),
        haze=0.07, noise=2.5, blur=0.55, jpeg_quality=85,
    )
    desc = ("Simulated stand-in for the Tumangang rail facility (Rason, DPRK) laid on public facts only "
            "(station at 42.4214 N 130.6081 E, five dual-gauge station tracks, line WSW-ENE); "
            "car count set to the CSIS figure for the date; NOT an observation.")
    return {
        "2023-08-28": base.replace(n_cars=20, seed=20230828, date="2023-08-28T02:00:00",
                                   name="tumangang_2023-08-28_SIMULATED", description=desc, haze=0.05),
        "2023-10-05": base.replace(n_cars=73, seed=20231005, date="2023-10-05T02:00:00",
                                   name="tumangang_2023-10-05_SIMULATED", description=desc, haze=0.09,
                                   illumination=0.95),
    }


def write_sample_tiles(out_dir: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """Render and write the Tumangang sample tiles (GeoTIFF + truth GeoJSON each) into ``out_dir``.

    Raises
    ------
    OutputError
        If ``out_dir`` does not exist or cannot be written.
    """
    from .scenes import render_scene, write_scene

    out = Path(out_dir)
    written = []
    for key, spec in tumangang_specs().items():
        written.append(write_scene(render_scene(spec), out / SAMPLE_TILE_NAMES[key]))
        logger.info("wrote %s", written[-1][0])
    return written


def manifest_row(spec: SceneSpec, path: Path, truth: Path, root: Path) -> dict[str, str]:
    """One manifest row (paths relative to ``root``)."""
    conditions = (spec.name or "").split("_", 1)[-1]
    return {
        "path": os.path.relpath(path, root), "truth_path": os.path.relpath(truth, root), "name": spec.name or "",
        "gsd": f"{spec.gsd:g}", "n_cars": str(spec.n_cars), "n_tracks": str(spec.n_tracks),
        "conditions": conditions, "car_types": "|".join(spec.car_types), "seed": str(spec.seed),
        "width_m": f"{spec.width_m:g}", "height_m": f"{spec.height_m:g}", "haze": f"{spec.haze:g}",
        "noise": f"{spec.noise:g}", "blur": f"{spec.blur:g}",
        "jpeg_quality": "" if spec.jpeg_quality is None else str(spec.jpeg_quality),
        "misregistration_px": f"{spec.misregistration_px:g}",
        "sun_azimuth_deg": "" if spec.sun_azimuth_deg is None else f"{spec.sun_azimuth_deg:g}",
        "sun_elevation_deg": "" if spec.sun_elevation_deg is None else f"{spec.sun_elevation_deg:g}",
        "lookalikes": str(spec.lookalikes).lower(), "lookalike_density": f"{spec.lookalike_density:g}",
        "masts": str(spec.masts).lower(), "ground": spec.ground, "gauge": spec.gauge,
        "off_nadir_deg": f"{spec.off_nadir_deg:g}", "lean_azimuth_deg": f"{spec.lean_azimuth_deg:g}",
    }


def manifest_csv(rows: list[dict[str, str]]) -> str:
    """The manifest as CSV text."""
    buf = _stdio.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_benchmark_set(
    out_dir: str | os.PathLike[str], *, limit: int | None = None,
    progress: Callable[[int, int, Path], None] | None = None,
) -> Path:
    """Render the benchmark set into ``out_dir`` and write ``manifest.csv`` there.

    Parameters
    ----------
    out_dir : path-like
        Folder (created if missing, with its parents).
    limit : int, optional
        Only the first ``limit`` scenes (for a quick check).
    progress : callable, optional
        Called as ``progress(i, n, path)`` after each scene.

    Returns
    -------
    Path
        The manifest (CSV: path, truth_path, name, gsd, n_cars, ..., conditions).

    Raises
    ------
    OutputError
        If the folder cannot be made or written.
    """
    from ..errors import OutputError
    from ..io import atomic_output
    from .scenes import render_scene, write_scene

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out}: {exc.strerror}; choose a writable folder") from None
    specs = benchmark_specs()[:limit] if limit else benchmark_specs()
    rows = []
    for i, spec in enumerate(specs):
        path = out / f"{spec.name}_SIMULATED.tif"
        tif, truth = write_scene(render_scene(spec), path)
        rows.append(manifest_row(spec, tif, truth, out))
        if progress:
            progress(i, len(specs), tif)
    manifest = out / "manifest.csv"
    with atomic_output(manifest) as tmp:
        tmp.write_text(manifest_csv(rows), encoding="utf-8")
    return manifest
