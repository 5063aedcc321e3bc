"""The Tumangang demonstration: the claim checked end to end on the sample tiles.

The repository ships two SIMULATED sample tiles of the Tumangang rail facility
(``sample_tiles/``, made by :func:`railcount.synth.write_sample_tiles`), one
before the Kim–Putin summit of 2023-09-13 and one of 2023-10-05, each with its
truth (``<name>.truth.geojson``) beside it. :func:`run_demo` scans both, scores
the detections against the truth, compares the two counts, checks the bundled
claim ``tumangang_2023`` and writes a before/after figure and a JSON report.

The tiles are stand-ins with known truth: the demonstration shows that the
method works and how a claim is checked; it is not evidence about the real
site. Every output says so.

Examples
--------
>>> from railcount.demo import run_demo                    # doctest: +SKIP
>>> demo = run_demo("out")                                 # doctest: +SKIP
>>> demo.before.count, demo.before_truth.n_true            # doctest: +SKIP
(20, 20)
>>> [v.clause_id for v in demo.check.verdicts]             # doctest: +SKIP
['baseline', 'reported', 'about_73', 'unprecedented', 'tripled']
>>> demo.figure                                            # doctest: +SKIP
PosixPath('out/demo_before_after.png')
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import load_claim
from .claims import ClaimCheck, check_claim
from .compare import Comparison, compare
from .errors import InputError, TileNotFoundError
from .evaluate import Score, score_centres
from .results import ScanResult

__all__ = [
    "DEMO_CLAIM",
    "FIGURE_NAME",
    "REPORT_NAME",
    "MATCH_DISTANCE_M",
    "SIMULATED_NOTE",
    "SampleTiles",
    "TruthCheck",
    "DemoResult",
    "default_tiles_dir",
    "find_sample_tiles",
    "truth_centres",
    "detection_centres",
    "check_against_truth",
    "run_demo",
    "write_figure",
]

logger = logging.getLogger(__name__)

#: The bundled claim the demo checks.
DEMO_CLAIM = "tumangang_2023"
#: File names the demo writes into its output folder.
FIGURE_NAME = "demo_before_after.png"
REPORT_NAME = "demo.json"
#: A detection matches a true car when their centres are at most this far
#: apart (metres), one to one; the benchmark (benchmarks/accuracy.py) uses the same.
MATCH_DISTANCE_M = 6.0
#: What every output of the demo says about its imagery.
SIMULATED_NOTE = ("SIMULATED imagery: the sample tiles are stand-ins with known truth, rendered by "
                  "railcount.synth; they demonstrate the method and are not evidence about the real site")


@dataclass(frozen=True)
class SampleTiles:
    """The two sample tiles the demo scans.

    Attributes
    ----------
    folder : Path
        Where they were found.
    before, after : Path
        The earlier and the later tile (GeoTIFF).
    """

    folder: Path
    before: Path
    after: Path


@dataclass(frozen=True)
class TruthCheck:
    """A scan scored against the truth of a simulated tile.

    Attributes
    ----------
    truth_path : Path
        The ``.truth.geojson`` file.
    score : railcount.evaluate.Score
        True cars, detections and one-to-one matches within
        :data:`MATCH_DISTANCE_M` of each other's centres.
    """

    truth_path: Path
    score: Score

    @property
    def n_true(self) -> int:
        """Number of railcars in the truth."""
        return self.score.n_true

    @property
    def missed(self) -> int:
        """True cars no detection matched."""
        return self.score.n_true - self.score.tp

    @property
    def false(self) -> int:
        """Detections that matched no true car."""
        return self.score.n_found - self.score.tp

    def describe(self) -> str:
        """One phrase: ``"truth 20 cars: 20 found, 0 missed, 0 false detections"``."""
        return (f"truth {self.n_true} cars: {self.score.tp} found, {self.missed} missed, "
                f"{self.false} false detection{'' if self.false == 1 else 's'}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "truth_path": str(self.truth_path),
            "true_cars": self.n_true,
            "detections": self.score.n_found,
            "matched": self.score.tp,
            "missed": self.missed,
            "false": self.false,
            "precision": round(self.score.precision, 4),
            "recall": round(self.score.recall, 4),
            "match_distance_m": MATCH_DISTANCE_M,
        }


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo found and wrote.

    Attributes
    ----------
    tiles : SampleTiles
    before, after : ScanResult
        The scans of the two tiles.
    before_truth, after_truth : TruthCheck or None
        Each scan scored against its tile's truth (``None`` when a tile has no
        truth file beside it).
    comparison : railcount.compare.Comparison
        The change from before to after, with its interval.
    check : railcount.claims.ClaimCheck
        One verdict per clause of the claim.
    figure : Path or None
        The before/after PNG, when written.
    report : Path or None
        The JSON report, when written.
    """

    tiles: SampleTiles
    before: ScanResult
    after: ScanResult
    before_truth: TruthCheck | None
    after_truth: TruthCheck | None
    comparison: Comparison
    check: ClaimCheck
    figure: Path | None = None
    report: Path | None = None

    @property
    def simulated(self) -> bool:
        """True when either tile is simulated (always so for the sample tiles)."""
        return self.before.simulated or self.after.simulated

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON report: counts, truth, change, verdicts and files.

        Paths are as given (or found relative to the working directory); the
        report holds no run time, so the same tiles give the same report.
        """
        def scan(res: ScanResult, truth: TruthCheck | None) -> dict[str, Any]:
            # no run time: the same tiles give the same report
            summary = {k: v for k, v in res.summary().items() if k != "elapsed_s"}
            return {**summary, "truth": truth.to_dict() if truth is not None else None}

        return {
            "simulated": self.simulated,
            "note": SIMULATED_NOTE if self.simulated else "",
            "tiles": str(self.tiles.folder),
            "before": scan(self.before, self.before_truth),
            "after": scan(self.after, self.after_truth),
            "comparison": self.comparison.to_dict(),
            "claim_check": self.check.to_dict(),
            "figure": str(self.figure) if self.figure else None,
            "report": str(self.report) if self.report else None,
        }


# --------------------------------------------------------------------------- finding the tiles


def default_tiles_dir() -> Path | None:
    """The sample tiles' folder: ``sample_tiles/`` of the repository, if there is one.

    The tiles are not part of the installed package. An editable install (or
    a run from a clone) finds them beside the ``railcount`` package folder;
    otherwise ``./sample_tiles`` and ``../sample_tiles`` (e.g. from the
    repository's ``notebooks/``) are tried.

    Returns
    -------
    Path or None
        The first of those folders that exists (relative to the working
        directory when it lies below it), else ``None``.
    """
    here = Path(__file__).resolve().parents[1] / "sample_tiles"
    for folder in (here, Path.cwd() / "sample_tiles", Path.cwd().parent / "sample_tiles"):
        if folder.is_dir():
            return _relative_to_cwd(folder)
    return None


def _relative_to_cwd(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it (as a user would write it)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def find_sample_tiles(folder: str | os.PathLike[str] | None = None) -> SampleTiles:
    """Locate the before and after sample tiles.

    Parameters
    ----------
    folder : path-like, optional
        Where the tiles are; by default :func:`default_tiles_dir`.

    Returns
    -------
    SampleTiles

    Raises
    ------
    TileNotFoundError
        If the folder or either tile is missing (the message says how to get them).
    """
    from .synth.sets import SAMPLE_TILE_NAMES

    names = [SAMPLE_TILE_NAMES[k] for k in sorted(SAMPLE_TILE_NAMES)]
    hint = ("run from a clone of the repository, pass --tiles DIR, or write them with "
            "`railcount simulate --sample-tiles DIR`")
    where = Path(folder) if folder is not None else default_tiles_dir()
    if where is None:
        raise TileNotFoundError(f"sample tiles not found (no sample_tiles/ folder beside the package "
                                f"or in the current directory): {hint}")
    if not where.is_dir():
        raise TileNotFoundError(f"sample tiles not found: {where} is not a folder; {hint}")
    missing = [n for n in names if not (where / n).is_file()]
    if missing:
        raise TileNotFoundError(f"sample tiles not found in {where} (missing {', '.join(missing)}): {hint}")
    return SampleTiles(folder=where, before=where / names[0], after=where / names[-1])


# --------------------------------------------------------------------------- truth


def truth_centres(truth: dict[str, Any], crs: Any) -> np.ndarray:
    """Centres of the true cars of a truth FeatureCollection, in map metres.

    Parameters
    ----------
    truth : dict
        A ``.truth.geojson`` FeatureCollection (lon/lat polygons, as written
        by :func:`railcount.synth.write_scene`).
    crs : CRS or str
        Projected CRS (metres) of the centres to return.

    Returns
    -------
    ndarray, shape (n, 2)
        ``(x, y)`` of each car's centre: the mean of its outline's corners.

    Raises
    ------
    InputError
        If a feature has no polygon.
    """
    from .geo import from_lonlat

    out = []
    for i, f in enumerate(truth.get("features", [])):
        geom = f.get("geometry") or {}
        if geom.get("type") != "Polygon":
            raise InputError(f"truth feature {i} is not a Polygon; a truth file holds one polygon per car")
        ring = np.asarray(geom["coordinates"][0], float)
        if len(ring) > 1 and np.allclose(ring[0], ring[-1]):
            ring = ring[:-1]
        x, y = from_lonlat(crs, ring[:, 0], ring[:, 1])
        out.append((float(np.mean(x)), float(np.mean(y))))
    return np.asarray(out, float).reshape(-1, 2)


def detection_centres(raster: Any, result: ScanResult) -> np.ndarray:
    """Centres of a scan's detections in the map metres of the scanned raster.

    Parameters
    ----------
    raster : railcount.io.Raster
        The pixels that were scanned (for their transform).
    result : ScanResult

    Returns
    -------
    ndarray, shape (n, 2)
    """
    rows = np.array([d.row for d in result.detections], float)
    cols = np.array([d.col for d in result.detections], float)
    if not len(rows):
        return np.zeros((0, 2))
    x, y = raster.pixel_to_map(rows, cols)
    return np.column_stack([x, y])


def check_against_truth(raster: Any, result: ScanResult,
                        truth_path: str | os.PathLike[str]) -> TruthCheck:
    """Score a scan of a simulated tile against the truth beside it.

    Parameters
    ----------
    raster : railcount.io.Raster
        The scanned pixels (georeferenced).
    result : ScanResult
        Their scan, in individual mode.
    truth_path : path-like
        The tile's ``.truth.geojson``.

    Returns
    -------
    TruthCheck

    Raises
    ------
    InputError
        If the truth file is missing or malformed.
    """
    from . import io

    truth = io.read_geojson(truth_path)
    t = truth_centres(truth, raster.crs)
    score = score_centres(t, detection_centres(raster, result), max_dist=MATCH_DISTANCE_M)
    return TruthCheck(truth_path=Path(truth_path), score=score)


# --------------------------------------------------------------------------- the demo


def run_demo(
    out_dir: str | os.PathLike[str] | None = ".",
    *,
    tiles_dir: str | os.PathLike[str] | None = None,
    claim: str | os.PathLike[str] = DEMO_CLAIM,
    dpi: int = 120,
) -> DemoResult:
    """Check the Tumangang claim on the sample tiles; write the figure and a report.

    Parameters
    ----------
    out_dir : path-like or None
        Folder for :data:`FIGURE_NAME` and :data:`REPORT_NAME` (written
        atomically, both or neither); it must exist. ``None`` writes nothing.
    tiles_dir : path-like, optional
        Where the sample tiles are (default: :func:`default_tiles_dir`).
    claim : str or path-like
        The claim to check: a bundled claim's name or a claim TOML file.
    dpi : int
        Resolution of the figure.

    Returns
    -------
    DemoResult

    Raises
    ------
    TileNotFoundError
        If the sample tiles cannot be found.
    OutputError
        If ``out_dir`` does not exist or cannot be written (checked before
        any scan).
    RailcountError
        For any other failure of the scans or the claim.
    """
    from . import io
    from .errors import OutputError
    from .scan import scan_raster
    from .synth import truth_path_for

    tiles = find_sample_tiles(tiles_dir)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and not out.is_dir():
        raise OutputError(f"cannot write into {out}: the folder does not exist; create it first")
    the_claim = load_claim(claim)

    rasters, results, truths = [], [], []
    for tile in (tiles.before, tiles.after):
        logger.info("scanning %s", tile)
        raster = io.read_raster(tile)
        res = scan_raster(raster)
        truth_file = truth_path_for(tile)
        truth = None  # an estimate (coarse imagery) has no cars to match one to one
        if truth_file.is_file() and res.mode == "individual":
            truth = check_against_truth(raster, res, truth_file)
        rasters.append(raster)
        results.append(res)
        truths.append(truth)

    demo = DemoResult(
        tiles=tiles, before=results[0], after=results[1], before_truth=truths[0], after_truth=truths[1],
        comparison=compare(results[0], results[1]), check=check_claim(the_claim, results),
    )
    if out is None:
        return demo
    demo = dataclasses.replace(demo, figure=out / FIGURE_NAME, report=out / REPORT_NAME)
    with io.atomic_outputs(demo.figure, demo.report) as (tmp_figure, tmp_report):
        assert tmp_figure is not None and tmp_report is not None
        write_figure(tmp_figure, demo, rasters[0], rasters[1], dpi=dpi)
        io.write_json(tmp_report, demo.to_dict())
    return demo


def write_figure(
    path: str | os.PathLike[str],
    demo: DemoResult,
    before_raster: Any,
    after_raster: Any,
    *,
    dpi: int = 120,
) -> Path:
    """Write the before/after figure of a demo run.

    Both tiles side by side with every detection outlined; each panel's title
    gives the date, the count with its interval and the truth score; the
    figure's title gives the change and says the imagery is SIMULATED; a line
    at the bottom gives the verdict on each clause of the claim.

    Parameters
    ----------
    path : path-like
        Output PNG (written atomically).
    demo : DemoResult
        The scans, truth scores, comparison and claim check.
    before_raster, after_raster : railcount.io.Raster
        The scanned pixels.
    dpi : int

    Returns
    -------
    Path

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    from .figures import save_figure
    from .plot import new_figure, plot_before_after, result_title

    rows, cols = before_raster.shape
    panel_w = 7.0  # inches per panel, of which about 1 goes to the axis labels
    fig, axes = new_figure(ncols=2, figsize=(2 * panel_w, (panel_w - 1.0) * rows / cols + 1.9))
    head = ("SIMULATED sample tiles, not imagery of Tumangang — " if demo.simulated else "")
    plot_before_after(before_raster, demo.before, after_raster, demo.after, axes=axes,
                      suptitle=f"{head}change: {demo.comparison.describe()}")
    for ax, label, res, truth in zip(axes, ("BEFORE", "AFTER"), (demo.before, demo.after),
                                     (demo.before_truth, demo.after_truth)):
        title = f"{label}  {result_title(res)}"
        if truth is not None:
            title += f"\n{'SIMULATED ' if res.simulated else ''}{truth.describe()}"
        ax.set_title(title, fontsize=10)
    claim = demo.check.claim
    verdicts = "  ·  ".join(f"{v.clause_id} {v.verdict.upper()}" for v in demo.check.verdicts)
    fig.supxlabel(f"claim {claim.id}, verdict per clause:  {verdicts}", fontsize=10)
    save_figure(fig, path, dpi=dpi)
    return Path(path)
