"""``railcount demo``: the Tumangang claim end to end on the SIMULATED sample tiles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from railcount.catalog import load_claim
from railcount.cli import cli
from railcount.demo import (
    FIGURE_NAME,
    REPORT_NAME,
    check_against_truth,
    default_tiles_dir,
    find_sample_tiles,
    truth_centres,
)
from railcount.errors import OutputError, TileNotFoundError

ROOT = Path(__file__).resolve().parents[1]
CLAUSES = [c.id for c in load_claim("tumangang_2023").clauses]
VERDICT_LINE = re.compile(r"^(SUPPORTED|CONTRADICTED|INCONCLUSIVE)\s+(\w+): ")


@pytest.fixture(scope="module")
def cached_scans():
    """Scan each sample tile once for the whole module (a scan takes several seconds)."""
    import railcount.scan

    real = railcount.scan.scan_raster
    cache: dict[str, object] = {}

    def scan_once(raster, **kwargs):
        key = str(raster.source)
        if key not in cache:
            cache[key] = real(raster, **kwargs)
        return cache[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(railcount.scan, "scan_raster", scan_once)
        yield cache


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, cached_scans):
    """One run of ``railcount demo --out-dir DIR``."""
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(cli, ["demo", "--out-dir", str(out)], catch_exceptions=False)
    return result, out


def test_demo_finds_the_repository_sample_tiles():
    tiles = find_sample_tiles()
    assert tiles.folder.resolve() == (ROOT / "sample_tiles").resolve() == default_tiles_dir().resolve()
    assert "2023-08-28" in tiles.before.name and "2023-10-05" in tiles.after.name
    assert "SIMULATED" in tiles.before.name and "SIMULATED" in tiles.after.name


@pytest.mark.slow
def test_demo_exits_0_and_says_simulated_first(demo_run, cached_scans):
    result, _ = demo_run
    assert result.exit_code == 0, result.output
    assert len(cached_scans) == 2, "the demo scans the before and the after tile"
    lines = result.output.splitlines()
    assert "SIMULATED" in lines[0]
    assert "not evidence about the real site" in lines[0]
    assert any("not imagery of Tumangang" in line for line in lines[:3])


@pytest.mark.slow
def test_demo_prints_counts_with_intervals_and_truth(demo_run):
    result, _ = demo_run
    out = result.output
    before = re.search(r"^BEFORE\s+2023-08-28\s+count (\d+) \(90% interval (\d+)-(\d+)\).*\[SIMULATED\]$", out, re.M)
    after = re.search(r"^AFTER\s+2023-10-05\s+count (\d+) \(90% interval (\d+)-(\d+)\).*\[SIMULATED\]$", out, re.M)
    assert before and after, out
    truths = re.findall(r"^\s+SIMULATED truth (\d+) cars: (\d+) found, (\d+) missed, (\d+) false detections?$",
                        out, re.M)
    assert [int(t[0]) for t in truths] == [20, 73]
    assert re.search(r"^CHANGE  [+-]\d+ railcars \(interval ", out, re.M)


@pytest.mark.xfail(reason="measured shortfall: the tracks of the 'after' tile's dense station, under long "
                          "trains, are not found, so most of its cars are missed (see docs/accuracy.md)",
                   strict=False)
@pytest.mark.slow
def test_demo_detector_is_right_on_the_sample_tiles(demo_run):
    """What the README shows: each true count lies in the interval, most cars are found."""
    _, out = demo_run
    report = json.loads((out / REPORT_NAME).read_text(encoding="utf-8"))
    for key in ("before", "after"):
        scan, truth = report[key], report[key]["truth"]
        assert scan["count_low"] <= truth["true_cars"] <= scan["count_high"], (key, scan, truth)
        assert truth["recall"] >= 0.9 and truth["precision"] >= 0.9, (key, truth)
    assert report["comparison"]["difference_low"] > 0


@pytest.mark.slow
def test_demo_prints_one_verdict_per_clause(demo_run):
    result, _ = demo_run
    verdicts = [VERDICT_LINE.match(line) for line in result.output.splitlines()]
    ids = [m.group(2) for m in verdicts if m]
    assert ids == CLAUSES
    for line in result.output.splitlines():
        if VERDICT_LINE.match(line):
            assert " — " in line, "each verdict gives its reason"


@pytest.mark.slow
def test_demo_writes_the_figure_and_the_report_atomically(demo_run):
    result, out = demo_run
    assert sorted(p.name for p in out.iterdir()) == sorted([FIGURE_NAME, REPORT_NAME])
    png = out / FIGURE_NAME
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 50_000
    import matplotlib.image

    img = matplotlib.image.imread(png)
    assert img.shape[1] > img.shape[0] > 400  # two panels side by side
    assert f"wrote figure: {png}" in result.output
    assert f"wrote report: {out / REPORT_NAME}" in result.output


@pytest.mark.slow
def test_demo_report_has_counts_truth_and_verdicts(demo_run):
    _, out = demo_run
    report = json.loads((out / REPORT_NAME).read_text(encoding="utf-8"))
    assert report["simulated"] is True and "SIMULATED" in report["note"]
    for key, n_true, date in (("before", 20, "2023-08-28"), ("after", 73, "2023-10-05")):
        scan = report[key]
        assert scan["date"] == date and scan["simulated"] is True
        assert scan["count_low"] <= scan["count"] <= scan["count_high"]
        assert scan["truth"]["true_cars"] == n_true
        assert scan["truth"]["matched"] + scan["truth"]["false"] == scan["n_detections"]
    assert report["comparison"]["difference"] == report["after"]["count"] - report["before"]["count"]
    assert [v["clause_id"] for v in report["claim_check"]["verdicts"]] == CLAUSES
    assert report["figure"].endswith(FIGURE_NAME)


@pytest.mark.slow
def test_demo_report_gives_paths_as_given_and_no_run_times(tmp_path, monkeypatch, cached_scans):
    """A report that does not change from run to run, with the paths the user gave."""
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(cli, ["demo", "--out-dir", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (out / REPORT_NAME).read_text(encoding="utf-8")
    report = json.loads(text)
    assert report["tiles"] == "sample_tiles"  # found below the working directory: written as a user would
    assert report["before"]["source"] == "sample_tiles/tumangang_2023-08-28_SIMULATED.tif"
    assert report["before"]["truth"]["truth_path"] == "sample_tiles/tumangang_2023-08-28_SIMULATED.truth.geojson"
    assert str(ROOT) not in text
    assert "elapsed_s" not in text
    assert report["figure"] == str(out / FIGURE_NAME) and report["report"] == str(out / REPORT_NAME)
    again = CliRunner().invoke(cli, ["demo", "--out-dir", str(out)], catch_exceptions=False)
    assert again.exit_code == 0
    assert (out / REPORT_NAME).read_text(encoding="utf-8") == text  # the same tiles give the same report


def test_demo_outputs_are_not_committed():
    """Running the README's first command must not dirty the tree."""
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "docs/demo.json" in ignored and "docs/demo_before_after.png" in ignored


@pytest.mark.slow
def test_demo_writes_both_outputs_or_neither(tmp_path, monkeypatch, cached_scans):
    import railcount.io

    def broken(*args, **kwargs):
        raise OutputError("cannot write the report")

    monkeypatch.setattr(railcount.io, "write_json", broken)
    result = CliRunner().invoke(cli, ["demo", "--out-dir", str(tmp_path)])
    assert result.exit_code == 1 and result.output.strip() == "Error: cannot write the report"
    assert list(tmp_path.iterdir()) == []  # the figure written first is not left behind


@pytest.mark.slow
def test_demo_json_output(tmp_path, demo_run):
    result = CliRunner().invoke(cli, ["demo", "--out-dir", str(tmp_path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    text_report = json.loads((demo_run[1] / REPORT_NAME).read_text(encoding="utf-8"))
    assert report["after"]["count"] == text_report["after"]["count"]
    assert [v["verdict"] for v in report["claim_check"]["verdicts"]] == \
        [v["verdict"] for v in text_report["claim_check"]["verdicts"]]
    assert report["simulated"] is True
    assert report["before"]["truth"]["true_cars"] == 20
    assert report["report"] == str(tmp_path / REPORT_NAME)
    assert json.loads((tmp_path / REPORT_NAME).read_text())["after"]["count"] == report["after"]["count"]


@pytest.mark.parametrize("tiles", ["missing", "empty"])
def test_bad_tiles_folder_is_a_one_line_error(tmp_path, tiles):
    folder = tmp_path / tiles
    if tiles == "empty":
        folder.mkdir()
    result = CliRunner().invoke(cli, ["demo", "--tiles", str(folder), "--out-dir", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: sample tiles not found"), result.output
    assert "--tiles" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / FIGURE_NAME).exists()


def test_missing_out_dir_fails_before_scanning(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--out-dir", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "does not exist" in result.output


def test_find_sample_tiles_names_what_is_missing(tmp_path):
    (tmp_path / "tumangang_2023-08-28_SIMULATED.tif").write_bytes(b"")
    with pytest.raises(TileNotFoundError, match="tumangang_2023-10-05_SIMULATED.tif"):
        find_sample_tiles(tmp_path)


def test_run_demo_checks_the_out_dir_first(tmp_path):
    from railcount.demo import run_demo

    with pytest.raises(OutputError):
        run_demo(tmp_path / "nope")


def test_truth_centres_are_the_mean_of_each_outline():
    # a 14 m x 3 m car around (500030, 4700010) in UTM 33N, as lon/lat
    from pyproj import Transformer

    fwd = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    xs = np.array([500023, 500037, 500037, 500023, 500023.0])
    ys = np.array([4700008.5, 4700008.5, 4700011.5, 4700011.5, 4700008.5])
    lon, lat = fwd.transform(xs, ys)
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [list(map(list, zip(lon, lat)))]}}]}
    c = truth_centres(fc, "EPSG:32633")
    assert c.shape == (1, 2)
    np.testing.assert_allclose(c[0], [500030, 4700010], atol=1e-3)


def test_check_against_truth_scores_a_perfect_and_an_empty_scan(sample_dir):
    import dataclasses

    from railcount import io
    from railcount.results import Detection, ScanResult
    from railcount.synth import truth_path_for

    tile = sample_dir / "tumangang_2023-08-28_SIMULATED.tif"
    raster = io.read_raster(tile)
    truth = io.read_geojson(truth_path_for(tile))
    xy = truth_centres(truth, raster.crs)
    rows, cols = raster.lonlat_to_pixel(*io_lonlat(raster, xy))
    dets = tuple(Detection(float(r), float(c), 14, 3, 0, 0.9) for r, c in zip(rows, cols))
    res = ScanResult(source=str(tile), count=len(dets), count_low=len(dets), count_high=len(dets),
                     mode="individual", gsd=raster.gsd, detections=dets)
    perfect = check_against_truth(raster, res, truth_path_for(tile))
    assert (perfect.n_true, perfect.score.tp, perfect.missed, perfect.false) == (20, 20, 0, 0)
    empty = check_against_truth(raster, dataclasses.replace(res, detections=(), count=0, count_low=0, count_high=0),
                                truth_path_for(tile))
    assert (empty.score.tp, empty.missed, empty.false) == (0, 20, 0)
    assert empty.describe() == "truth 20 cars: 0 found, 20 missed, 0 false detections"


def io_lonlat(raster, xy):
    """Map x/y of ``raster``'s CRS to lon/lat."""
    from railcount.geo import to_lonlat

    return to_lonlat(raster.crs, xy[:, 0], xy[:, 1])
