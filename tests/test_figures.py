"""Figure files: the pixels a scan saw are read again through io, drawn by plot, written atomically."""

from __future__ import annotations

import datetime as dt

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from railcount import io  # noqa: E402
from railcount.compare import Observation, compare  # noqa: E402
from railcount.errors import OutputError  # noqa: E402
from railcount.figures import read_scanned, save_before_after, save_overlay, save_series  # noqa: E402
from railcount.results import ScanResult  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def result_for(path, **kw):
    info = io.raster_info(path)
    return ScanResult(str(path), 3, 2, 5, "individual", info["gsd_m"], shape=(info["height"], info["width"]), **kw)


def test_read_scanned_reads_the_aoi_window_and_says_where_it_lies(make_raster):
    path = make_raster("t.tif", shape=(200, 300), center=(15.0, 45.0), res=0.5)
    res = result_for(path)
    whole, offset = read_scanned(str(path), res)
    assert whole.shape == (200, 300) and offset == (0.0, 0.0)
    w, s, e, n = whole.bounds_lonlat()
    aoi = (w + (e - w) * 0.5, s + (n - s) * 0.25, e - (e - w) * 0.1, n - (n - s) * 0.25)
    part, offset = read_scanned(str(path), res, aoi=aoi)
    assert part.shape[0] < 200 and part.shape[1] < 300
    assert offset == (float(part.window.row_off), float(part.window.col_off)) and offset[1] > 100
    same, off = read_scanned(part, res)
    assert same is part and off == (0.0, 0.0)


def test_save_overlay_from_a_file(make_raster, tmp_path):
    path = make_raster("t.tif", shape=(120, 160))
    out = tmp_path / "overlay.png"
    assert save_overlay(str(path), result_for(path), out) == out
    assert out.read_bytes()[:8] == PNG
    with pytest.raises(OutputError, match="does not exist"):
        save_overlay(str(path), result_for(path), tmp_path / "no" / "x.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlay.png", "t.tif"]


def test_save_before_after_and_series(make_raster, tmp_path):
    a = make_raster("a_2023-09-01.tif", shape=(80, 100))
    b = make_raster("b_2023-10-05.tif", shape=(80, 100))
    ra = result_for(a, date=dt.date(2023, 9, 1))
    rb = result_for(b, date=dt.date(2023, 10, 5))
    out = save_before_after(tmp_path / "ba.png", (str(a), ra), (str(b), rb), compare(ra, rb))
    assert out.read_bytes()[:8] == PNG
    series = save_series(tmp_path / "s.png", [ra, rb, Observation("x.tif", 9, 8, 11, gsd=0.5)])
    assert series.read_bytes()[:8] == PNG
