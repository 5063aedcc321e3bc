"""``railcount info``: output, JSON, and one clear line for every bad input."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
from click.testing import CliRunner
from httpserver import serve_directory

from railcount.cli import cli

INFO_KEYS = {"source", "width", "height", "bands", "dtype", "crs", "gsd_m", "bounds_lonlat", "date",
             "date_source", "counting_mode", "simulated", "nodata", "tags"}


def run(*args: str):
    return CliRunner().invoke(cli, ["info", *args])


def fields(output: str) -> dict[str, str]:
    """The ``name: value`` lines of the human-readable output."""
    out = {}
    for line in output.splitlines():
        if ":" in line and not line.startswith("*"):
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


def test_info_on_a_utm_tile(make_raster):
    path = make_raster("yard_2021-06-01.tif", shape=(64, 96), res=0.5, nodata=0)
    res = run(str(path))
    assert res.exit_code == 0, res.output
    f = fields(res.stdout)
    assert f["size"] == "96 x 64 px (width x height)"
    assert f["bands"] == "3 x uint8"
    assert f["nodata"] == "0"
    assert f["CRS"] == "EPSG:32633"
    assert f["GSD"] == "0.500 m"
    assert f["date"] == "2021-06-01 (from the file name)"
    assert f["counting"] == "individual cars (GSD <= 0.8 m)"
    west, south, east, north = (float(p.split()[1]) for p in f["bounds"].split(", "))
    assert west < 15.0 < east and south < 45.0 < north
    assert "SIMULATED" not in res.stdout


@pytest.mark.parametrize("res_m,text", [
    (0.8, "individual cars (GSD <= 0.8 m)"),
    (2.0, "estimate from occupied track length (0.8-3 m)"),
    (3.0, "estimate from occupied track length (0.8-3 m)"),
    (5.0, "none: too coarse to count railcars (> 3 m)"),
])
def test_counting_mode_follows_the_gsd(make_raster, res_m, text):
    res = run(str(make_raster(res=res_m)))
    assert res.exit_code == 0 and fields(res.stdout)["counting"] == text


def test_json_has_every_key(make_raster):
    path = make_raster(tags={"TIFFTAG_DATETIME": "2020:02:03 04:05:06"}, res=2.0)
    res = run(str(path), "--json")
    assert res.exit_code == 0, res.output
    meta = json.loads(res.stdout)
    assert INFO_KEYS <= set(meta)
    assert meta["width"] == 96 and meta["height"] == 64 and meta["bands"] == 3 and meta["dtype"] == "uint8"
    assert meta["crs"] == "EPSG:32633" and meta["gsd_m"] == pytest.approx(2.0)
    assert meta["counting_mode"] == "estimate"
    assert (meta["date"], meta["date_source"]) == ("2020-02-03", "tag")
    assert len(meta["bounds_lonlat"]) == 4 and meta["nodata"] is None and meta["simulated"] is False


def test_nan_nodata_is_valid_json(make_raster):
    res = run(str(make_raster(dtype="float32", bands=1, nodata=float("nan"))), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["nodata"] == "nan"


def test_simulated_is_said_first(make_raster):
    res = run(str(make_raster(tags={"RAILCOUNT_SIMULATED": "1"})))
    assert res.exit_code == 0
    assert res.stdout.splitlines()[0].startswith("*** SIMULATED")
    assert json.loads(run(str(make_raster("b_simulated.tif")), "--json").stdout)["simulated"] is True


def test_picture_needs_gsd(make_raster):
    path = make_raster("press.jpg", driver="JPEG", crs=None)
    res = run(str(path))
    assert res.exit_code != 0 and "--gsd" in res.stderr and "Traceback" not in res.output
    res = run(str(path), "--gsd", "0.5")
    assert res.exit_code == 0, res.output
    f = fields(res.stdout)
    assert f["CRS"] == "none (pixel coordinates only)" and f["GSD"] == "0.500 m (as given)"
    assert f["bounds"] == "unknown (no georeference)"


def test_year_only_tag_is_explained(make_raster):
    res = run(str(make_raster(tags={"ACQUISITION_DATE": "2018"})))
    assert fields(res.stdout)["date"] == "unknown (tag ACQUISITION_DATE=2018 gives no full date)"


def _bad_inputs(make_raster, tmp_path):
    (tmp_path / "notes.txt").write_text("not a raster")
    good = make_raster("good.tif", shape=(300, 300), blocksize=128)
    data = good.read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {
        "missing file": ([str(tmp_path / "missing.tif")], "no such file"),
        "not a raster": ([str(tmp_path / "notes.txt")], "not a raster"),
        "truncated": ([str(tmp_path / "cut.tif")], "corrupt or truncated"),
        "band count": ([str(make_raster("five.tif", bands=5))], "unsupported band count"),
        "no georeference": ([str(make_raster("p.png", driver="PNG", crs=None))], "no georeference"),
        "gsd zero": ([str(good), "--gsd", "0"], "positive"),
        "gsd negative": ([str(good), "--gsd", "-2"], "positive"),
        "gsd too fine": ([str(good), "--gsd", "0.001"], "finer than"),
        "gsd absurd": ([str(good), "--gsd", "20000"], "coarser than"),
        "unreachable URL": ([f"http://127.0.0.1:{port}/tile.tif"], "cannot reach"),
    }


def test_every_bad_input_gives_one_line_and_nonzero_exit(make_raster, tmp_path, monkeypatch):
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "3")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name, (args, words) in _bad_inputs(make_raster, tmp_path).items():
        res = run(*args)
        assert res.exit_code == 1, (name, res.output)
        assert res.stdout == "", name
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (name, res.stderr)
        assert words in lines[0], (name, lines[0])
        assert "Traceback" not in res.output


def test_info_over_http(make_raster, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    make_raster("cog.tif", driver="COG", shape=(512, 512))
    with serve_directory(tmp_path) as base:
        res = run(f"{base}/cog.tif", "--json")
    assert res.exit_code == 0, res.output
    meta = json.loads(res.stdout)
    assert meta["source"] == f"{base}/cog.tif" and meta["width"] == 512 and meta["driver"] == "GTiff"


def test_help_teaches_by_example():
    res = CliRunner().invoke(cli, ["info", "--help"])
    assert res.exit_code == 0
    assert "Examples:" in res.stdout and "railcount info yard.tif" in res.stdout and "--json" in res.stdout
    assert "info" in CliRunner().invoke(cli, ["--help"]).stdout


def test_real_muttenz_info(real_dir):
    path = real_dir / "muttenz_west" / "muttenz_west_025cm.tif"
    res = run(str(path))
    assert res.exit_code == 0, res.output
    f = fields(res.stdout)
    assert f["CRS"] == "EPSG:2056" and f["GSD"] == "0.255 m"
    assert f["counting"] == "individual cars (GSD <= 0.8 m)"
    meta = json.loads(run(str(path), "--json").stdout)
    assert meta["gsd_m"] == pytest.approx(0.255, abs=0.001) and meta["crs"] == "EPSG:2056"
    assert meta["date"] is None and meta["tags"]["ACQUISITION_DATE"] == "2018"


def test_real_landsat_band_info(real_dir):
    res = run(str(real_dir / "no_railcars" / "LC08_016037_20170813_B2.TIF"), "--json")
    meta = json.loads(res.stdout)
    assert meta["dtype"] == "uint16" and meta["gsd_m"] == pytest.approx(900.0)
    assert meta["counting_mode"] == "none" and meta["date"] == "2017-08-13"
    assert np.isclose(meta["bounds_lonlat"][0], -81.3, atol=0.1)
