"""Before/after comparison, series tables, and the ``compare`` and ``series`` commands."""

from __future__ import annotations

import csv
import datetime as dt
import io as _stdio
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import railcount
from railcount.cli import cli
from railcount.compare import (
    Observation,
    comparability_notes,
    compare,
    difference_interval,
    ratio_interval,
    series_table,
    table_to_csv,
)
from railcount.errors import OutputError, ResolutionTooCoarseError
from railcount.results import Detection, ScanResult

D = dt.date
COVERS = (130.59, 42.41, 130.62, 42.43)


def result(name, count, low, high, date, *, gsd=0.5, mode="individual", simulated=False, bounds=COVERS,
           dets=()):
    return ScanResult(name, count, low, high, mode, gsd, date=date, simulated=simulated,
                      bounds_lonlat=bounds, shape=(60, 80), detections=tuple(dets), crs="EPSG:32652")


# --------------------------------------------------------------------------- library


def test_difference_and_ratio_intervals_are_conservative():
    assert difference_interval((15, 21), (70, 76)) == (49, 61)
    assert ratio_interval((15, 20), (70, 80)) == pytest.approx((3.5, 80 / 15))
    assert ratio_interval((0, 4), (10, 12)) == (2.5, math.inf)
    assert ratio_interval((0, 0), (0, 3)) == (0.0, math.inf)
    assert ratio_interval((0, 0), (0, 0)) == (0.0, 0.0)


def test_compare_two_counts():
    b = result("before.tif", 18, 15, 21, D(2023, 9, 1))
    a = result("after.tif", 73, 70, 77, D(2023, 10, 5))
    c = compare(b, a)
    assert (c.difference, c.difference_low, c.difference_high) == (55, 49, 62)
    assert c.ratio == pytest.approx(73 / 18)
    assert (c.ratio_low, c.ratio_high) == pytest.approx((70 / 21, 77 / 15))
    assert c.days == 34
    assert c.notes == ()
    assert not c.simulated
    assert c.describe() == "+55 railcars (interval +49 to +62), ratio 4.06x (3.33-5.13) over 34 days"
    d = json.loads(json.dumps(c.to_dict()))
    assert d["before"]["count"] == 18 and d["after"]["date"] == "2023-10-05"
    assert d["difference_low"] == 49


def test_compare_guards_zero_and_flags_what_is_not_like_for_like():
    b = result("before.tif", 0, 0, 3, D(2023, 10, 5), gsd=0.5)
    a = result("after.tif", 20, 12, 30, D(2023, 9, 1), gsd=1.5, mode="estimate", simulated=True,
               bounds=(131.0, 43.0, 131.1, 43.1))
    c = compare(b, a)
    assert c.ratio is None and c.ratio_high == math.inf
    assert c.ratio_low == pytest.approx(4.0)
    assert "ratio undefined (before count 0)" in c.describe()
    assert c.simulated
    text = " | ".join(c.notes)
    assert "GSD differs between the images" in text
    assert "counting mode differs (estimate and individual)" in text
    assert "the AFTER image (2023-09-01) is dated before the BEFORE image (2023-10-05)" in text
    assert "do not overlap" in text
    assert "SIMULATED" in text
    assert "no upper bound" in text
    d = json.loads(json.dumps(c.to_dict()))  # inf must not leak into JSON
    assert d["ratio"] is None and d["ratio_high"] is None and d["ratio_low"] == 4.0


def test_comparability_notes_for_coarse_and_undated():
    notes = comparability_notes([Observation("a.tif", 5, 4, 6, gsd=10.0, date=D(2020, 1, 1)),
                                 Observation("b.tif", 5, 4, 6, gsd=10.0)])
    assert any("too coarse to count railcars" in n and "a.tif (10 m)" in n for n in notes)
    assert any(n.startswith("no acquisition date (listed last, by name): b.tif; ") and "file name" in n
               for n in notes)
    assert comparability_notes([Observation("a.tif", 5, 4, 6, gsd=0.5, date=D(2020, 1, 1)),
                                Observation("b.tif", 5, 4, 6, gsd=0.55, date=D(2021, 1, 1))]) == ()


def test_series_table_sorted_by_date_with_notes():
    rs = [
        result("c.tif", 73, 70, 77, D(2023, 10, 5)),
        result("a.tif", 12, 10, 14, D(2019, 6, 1)),
        result("x.tif", 7, 6, 8, None),
        result("b.tif", 20, 14, 27, D(2023, 9, 25), gsd=1.5, mode="estimate"),
    ]
    t = series_table(rs)
    assert t["date"] == ["2019-06-01", "2023-09-25", "2023-10-05", None]
    assert t["count"] == [12, 20, 73, 7]
    assert t["count_low"] == [10, 14, 70, 6] and t["count_high"] == [14, 27, 77, 8]
    assert t["mode"][1] == "estimate" and t["gsd_m"][1] == 1.5
    assert t["note"][0] == ""
    assert "GSD 1.50 m vs 0.50 m in the first row" in t["note"][1]
    assert "mode estimate vs individual in the first row" in t["note"][1]
    assert "estimate from occupied track length" in t["note"][1]
    assert t["note"][3] == "undated"
    assert len({len(col) for col in t.values()}) == 1
    assert series_table([]) == {k: [] for k in t}


def test_table_to_csv_round_trips():
    t = series_table([result("b.tif", 73, 70, 77, D(2023, 10, 5)), result("a.tif", 12, 10, 14, None, simulated=True)])
    rows = list(csv.DictReader(_stdio.StringIO(table_to_csv(t))))
    assert [r["count"] for r in rows] == ["73", "12"]
    assert rows[1]["date"] == "" and rows[1]["note"] == "SIMULATED; undated"
    assert rows[0]["simulated"] == "False"


# --------------------------------------------------------------------------- CLI

TILES = {
    "before.tif": result("before.tif", 18, 15, 21, D(2023, 9, 1)),
    "after.tif": result("after.tif", 74, 72, 77, D(2023, 10, 5)),
    "y2019.tif": result("y2019.tif", 12, 10, 14, D(2019, 6, 1)),
    "coarse.tif": result("coarse.tif", 20, 14, 27, D(2023, 9, 25), gsd=1.5, mode="estimate"),
    "sim_before.tif": result("sim_before.tif", 18, 15, 21, D(2023, 9, 1), simulated=True),
    "sim_after.tif": result("sim_after.tif", 74, 72, 77, D(2023, 10, 5), simulated=True,
                            dets=[Detection(30, 20, 14, 3, 0, 0.9, 0,
                                            ((28.5, 13), (28.5, 27), (31.5, 27), (31.5, 13)))]),
    "nodate.tif": result("nodate.tif", 74, 72, 77, None),
}


@pytest.fixture
def fake_scan(monkeypatch):
    """Replace ``railcount.scan.scan`` by a lookup in TILES; record the calls."""
    try:
        import railcount.scan as mod
    except ImportError:  # the scanner is optional for these tests
        mod = types.ModuleType("railcount.scan")
        monkeypatch.setitem(sys.modules, "railcount.scan", mod)
        monkeypatch.setattr(railcount, "scan", mod, raising=False)
    calls = []

    def scan(source, *, aoi=None, tracks=None, gsd=None, date=None, progress=False):
        calls.append({"source": source, "aoi": aoi, "gsd": gsd, "date": date})
        name = Path(source).name
        if name == "too_coarse.tif":
            raise ResolutionTooCoarseError("railcars cannot be counted at a GSD of 10 m")
        r = TILES[name]
        if date is not None:
            import dataclasses

            r = dataclasses.replace(r, date=D.fromisoformat(date), date_source="caller")
        return r

    monkeypatch.setattr(mod, "scan", scan, raising=False)
    return calls


@pytest.fixture
def fake_read(monkeypatch):
    """Replace ``railcount.io.read_raster`` by small in-memory rasters."""
    from affine import Affine

    def read_raster(source, *, aoi=None, gsd=None, date=None):
        img = np.full((60, 80, 3), 120, np.uint8)
        return types.SimpleNamespace(image=img, transform=Affine(0.5, 0, 700000, 0, -0.5, 4700000),
                                     window=None, shape=(60, 80))

    monkeypatch.setattr(railcount.io, "read_raster", read_raster, raising=False)


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_compare_prints_counts_change_and_verdicts(fake_scan):
    r = run(["compare", "before.tif", "after.tif", "--claim", "tumangang_2023"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == ("BEFORE  2023-09-01  count 18 (90% interval 15-21)  individual, 0.50 m GSD  before.tif")
    assert lines[1].startswith("AFTER   2023-10-05  count 74 (90% interval 72-77)")
    assert lines[2] == "CHANGE  +56 railcars (interval +51 to +62), ratio 4.11x (3.43-5.13) over 34 days"
    verdicts = [line for line in lines if line.split(" ")[0] in ("SUPPORTED", "CONTRADICTED", "INCONCLUSIVE")]
    assert len(verdicts) == 5
    assert any(v.startswith("SUPPORTED     reported: more than 70 railcars on 2023-10-05 — count 74") for v in verdicts)
    assert any(v.startswith("SUPPORTED     baseline:") for v in verdicts)
    assert "SIMULATED" not in r.output
    assert [c["source"] for c in fake_scan] == ["before.tif", "after.tif"]


def test_compare_json(fake_scan):
    r = run(["compare", "before.tif", "after.tif", "--claim", "tumangang_2023", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["simulated"] is False and d["plot"] is None
    assert d["before"]["count"] == 18 and d["after"]["count"] == 74
    assert d["comparison"]["difference"] == 56
    verdicts = {v["clause_id"]: v["verdict"] for v in d["claim_check"]["verdicts"]}
    assert verdicts == {"baseline": "supported", "reported": "supported", "about_73": "supported",
                        "unprecedented": "supported", "tripled": "supported"}
    r = run(["compare", "before.tif", "after.tif", "--json"])
    assert json.loads(r.output)["claim_check"] is None


def test_compare_simulated_is_marked_everywhere(fake_scan, fake_read, tmp_path):
    png = tmp_path / "ba.png"
    r = run(["compare", "sim_before.tif", "sim_after.tif", "--claim", "tumangang_2023", "--plot", str(png)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("*** SIMULATED imagery")
    assert "[SIMULATED]" in lines[1] and "[SIMULATED]" in lines[2]
    for line in lines:
        if line.startswith(("SUPPORTED", "CONTRADICTED", "INCONCLUSIVE")):
            assert "SIMULATED imagery: this verdict demonstrates the method" in line
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"wrote plot: {png}" in r.output
    d = json.loads(run(["compare", "sim_before.tif", "sim_after.tif", "--json", "--claim", "tumangang_2023"]).output)
    assert d["simulated"] is True and "SIMULATED" in d["note"]
    assert d["claim_check"]["simulated"] is True
    assert all(v["note"] for v in d["claim_check"]["verdicts"])


def test_compare_dates_given_on_the_command_line(fake_scan):
    r = run(["compare", "nodate.tif", "after.tif", "--before-date", "2023-09-02", "--json"])
    assert r.exit_code == 0, r.output
    assert fake_scan[0]["date"] == "2023-09-02" and fake_scan[1]["date"] is None
    assert json.loads(r.output)["comparison"]["days"] == 33


def test_compare_errors_are_one_line(fake_scan, tmp_path):
    r = CliRunner().invoke(cli, ["compare", "before.tif", "after.tif", "--claim", str(tmp_path / "no.toml")])
    assert r.exit_code == 1
    assert r.output.startswith("Error: claim file") and "does not exist" in r.output
    assert "Traceback" not in r.output
    assert fake_scan == []  # the claim is checked before any scan
    r = CliRunner().invoke(cli, ["compare", "before.tif", "too_coarse.tif"])
    assert r.exit_code == 1 and r.output.strip() == "Error: railcars cannot be counted at a GSD of 10 m"
    bad = tmp_path / "missing_dir" / "x.png"
    n = len(fake_scan)
    r = CliRunner().invoke(cli, ["compare", "before.tif", "after.tif", "--plot", str(bad)])
    assert r.exit_code == 1 and "folder" in r.output and "does not exist" in r.output
    assert len(fake_scan) == n  # failed before scanning
    r = CliRunner().invoke(cli, ["series", "before.tif", "--csv", str(bad.with_suffix(".csv"))])
    assert r.exit_code == 1 and "does not exist" in r.output
    assert not bad.parent.exists()


def test_series_prints_a_sorted_table_and_writes_csv_and_plot(fake_scan, tmp_path):
    out_csv, out_png = tmp_path / "s.csv", tmp_path / "s.png"
    r = run(["series", "after.tif", "coarse.tif", "y2019.tif", "before.tif", "--csv", str(out_csv),
             "--plot", str(out_png), "--claim", "tumangang_2023"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["date", "count", "interval", "mode", "GSD", "m", "source"]
    assert [line.split()[0] for line in lines[1:5]] == ["2019-06-01", "2023-09-01", "2023-09-25", "2023-10-05"]
    assert "[estimate from occupied track length; GSD 1.50 m vs 0.50 m in the first row; " in lines[3]
    assert any(line.startswith("note: GSD differs") for line in lines)
    assert any(line.startswith("SUPPORTED     reported:") for line in lines)
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert [row["source"] for row in rows] == ["y2019.tif", "before.tif", "coarse.tif", "after.tif"]
    assert rows[2]["mode"] == "estimate"
    assert out_png.read_bytes()[:4] == b"\x89PNG" and out_png.stat().st_size > 10_000
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".*.part"))


def test_series_json(fake_scan):
    r = run(["series", "sim_after.tif", "y2019.tif", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["simulated"] is True
    assert d["series"]["date"] == ["2019-06-01", "2023-10-05"]
    assert d["series"]["note"][1] == "SIMULATED"
    assert d["claim_check"] is None and d["csv"] is None


def test_series_lists_undated_tiles_last_by_name_with_a_note(fake_scan, monkeypatch):
    monkeypatch.setitem(TILES, "a_nodate.tif", result("a_nodate.tif", 3, 2, 4, None))
    r = run(["series", "nodate.tif", "after.tif", "a_nodate.tif"])
    assert r.exit_code == 0, r.output
    rows = r.output.splitlines()[1:4]
    assert rows[0].startswith("2023-10-05") and "after.tif" in rows[0]
    assert rows[1].startswith("undated") and "  a_nodate.tif  [undated]" in rows[1]
    assert rows[2].startswith("undated") and "  nodate.tif  [undated]" in rows[2]
    note = ("note: no acquisition date (listed last, by name): a_nodate.tif, nodate.tif; "
            "to place a tile in time, put its date in the file name")
    assert any(line.startswith(note) for line in r.output.splitlines())


def test_series_plot_of_undated_tiles_says_dates_are_needed_and_writes_nothing(fake_scan, tmp_path):
    out_csv, out_png = tmp_path / "s.csv", tmp_path / "s.png"
    r = CliRunner().invoke(cli, ["series", "nodate.tif", "--csv", str(out_csv), "--plot", str(out_png)])
    assert r.exit_code == 1
    assert r.output.startswith("Error: --plot draws counts against date, but none of the 1 tiles has an "
                               "acquisition date; put it in the file name")
    assert len(r.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # neither the CSV nor the plot, nor a temporary file


def test_series_plot_leaves_out_undated_tiles_and_says_so(fake_scan, tmp_path):
    out_png = tmp_path / "s.png"
    r = run(["series", "nodate.tif", "after.tif", "before.tif", "--plot", str(out_png)])
    assert r.exit_code == 0, r.output
    assert "note: left out of the plot, no date: nodate.tif" in r.output
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_compare_and_series_write_all_their_outputs_or_none(fake_scan, tmp_path, monkeypatch):
    import railcount.figures

    def broken(*args, **kwargs):
        raise OutputError("cannot draw")

    monkeypatch.setattr(railcount.figures, "save_series", broken)
    out_csv, out_png = tmp_path / "s.csv", tmp_path / "s.png"
    r = CliRunner().invoke(cli, ["series", "after.tif", "before.tif", "--csv", str(out_csv), "--plot", str(out_png)])
    assert r.exit_code == 1 and r.output.strip() == "Error: cannot draw"
    assert list(tmp_path.iterdir()) == []  # the CSV written before the plot failed is not left behind


def test_series_needs_tiles():
    r = CliRunner().invoke(cli, ["series"])
    assert r.exit_code == 2 and "Missing argument" in r.output
