"""The raster loader: rasters built here with known content, the real files, a COG over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import math
import socket
import time

import numpy as np
import pyproj
import pytest
import rasterio
import rasterio.env
from httpserver import Request, serve_directory
from rasterio.windows import Window

from railcount import geo, io
from railcount.errors import (
    AOIError,
    GeoreferenceError,
    GSDError,
    InputError,
    NoDataError,
    RailcountError,
    TileNotFoundError,
    TileReadError,
    UnsupportedRasterError,
)

LON, LAT = 15.0, 45.0  # where the built rasters lie unless stated


def _read_file(path, window=None):
    with rasterio.open(path) as ds:
        return ds.read(window=window)


def _lonlat_of_pixel_box(path, row0, col0, row1, col1):
    """Lon/lat box of a pixel rectangle, from the file's own transform (independent of railcount)."""
    with rasterio.open(path) as ds:
        t, crs = ds.transform, ds.crs
    cols = np.array([col0, col1, col0, col1], float)
    rows = np.array([row0, row0, row1, row1], float)
    x, y = geo.apply_affine(t, cols, rows)
    lon, lat = pyproj.Transformer.from_crs(crs.to_wkt(), "EPSG:4326", always_xy=True).transform(x, y)
    return (min(lon), min(lat), max(lon), max(lat))


# --------------------------------------------------------------------------- basics


def test_read_utm_geotiff_gives_pixels_georeference_and_gsd(make_raster):
    path = make_raster("tile.tif", crs="EPSG:32633", res=0.5, shape=(64, 96))
    r = io.read_raster(path)
    expected = _read_file(path)
    assert r.pixels.shape == (3, 64, 96) and r.pixels.dtype == np.uint8
    np.testing.assert_array_equal(r.pixels, expected)
    assert r.image.shape == (64, 96, 3) and r.image[5, 7, 2] == expected[2, 5, 7]
    assert r.shape == (64, 96) and r.full_shape == (64, 96)
    assert r.mask.dtype == bool and r.mask.all()
    assert r.crs_string == "EPSG:32633"
    assert r.gsd == pytest.approx(0.5, rel=1e-12)
    with rasterio.open(path) as ds:
        assert r.transform == ds.transform
    assert r.window is None
    assert r.source == str(path)
    assert r.date is None and r.date_source == "unknown"
    assert r.simulated is False


def test_raster_arrays_are_read_only(make_raster):
    r = io.read_raster(make_raster())
    with pytest.raises(ValueError):
        r.pixels[0, 0, 0] = 1
    with pytest.raises(ValueError):
        r.mask[0, 0] = False
    with pytest.raises(AttributeError):
        r.gsd = 1.0  # frozen


def test_raster_can_be_built_from_arrays_without_files():
    r = io.Raster(np.zeros((10, 20), np.uint8), None, None, None, 0.5)
    assert r.pixels.shape == (1, 10, 20) and r.mask.all() and r.full_shape == (10, 20)
    assert r.bounds_lonlat() is None and r.crs_string is None
    with pytest.raises(ValueError, match="mask shape"):
        io.Raster(np.zeros((1, 10, 20)), np.ones((10, 21), bool), None, None, 0.5)
    with pytest.raises(GSDError):
        io.Raster(np.zeros((1, 10, 20)), None, None, None, 0.0)


# --------------------------------------------------------------------------- CRSs, GSD, coordinates

CRS_CASES = {
    # crs, pixel size in CRS units, expected ground GSD in metres at (LON, LAT)
    "utm": ("EPSG:32633", 0.5, 0.5),
    "web_mercator": ("EPSG:3857", 0.5, 0.5 * math.cos(math.radians(LAT))),
    "wgs84": ("EPSG:4326", 5e-6, None),  # measured below from the ellipsoid
    "swiss_lv95": ("EPSG:2056", 0.25, 0.25),
}


@pytest.mark.parametrize("case", sorted(CRS_CASES))
def test_crs_gsd_and_lonlat_round_trip(make_raster, case):
    crs, res, gsd = CRS_CASES[case]
    center = (7.6, 47.5) if crs == "EPSG:2056" else (LON, LAT)
    path = make_raster(f"{case}.tif", crs=crs, res=res, center=center, shape=(80, 100))
    r = io.read_raster(path)
    if gsd is None:  # degrees: metres of one degree of lon and lat on the WGS84 ellipsoid
        geod = pyproj.Geod(ellps="WGS84")
        dx = geod.inv(center[0], center[1], center[0] + res, center[1])[2]
        dy = geod.inv(center[0], center[1], center[0], center[1] + res)[2]
        gsd = math.sqrt(dx * dy)
    assert r.gsd == pytest.approx(gsd, rel=2e-3)
    assert r.crs_string == crs
    # the centre of the raster is where it was put
    lon, lat = r.pixel_to_lonlat(40.0, 50.0)
    assert float(lon) == pytest.approx(center[0], abs=1e-6)
    assert float(lat) == pytest.approx(center[1], abs=1e-6)
    rows, cols = r.lonlat_to_pixel(*center)
    assert float(rows) == pytest.approx(40.0, abs=1e-4) and float(cols) == pytest.approx(50.0, abs=1e-4)
    # round trip over many points
    rr = np.linspace(0.5, 79.5, 7)
    cc = np.linspace(0.5, 99.5, 7)
    back = r.lonlat_to_pixel(*r.pixel_to_lonlat(rr, cc))
    # PROJ's CH1903+ datum shift does not invert exactly (about 1 mm): 1/100 px
    atol = 1e-2 if crs == "EPSG:2056" else 1e-6
    np.testing.assert_allclose(back[0], rr, atol=atol)
    np.testing.assert_allclose(back[1], cc, atol=atol)
    w, s, e, n = r.bounds_lonlat()
    assert w < center[0] < e and s < center[1] < n


def test_web_mercator_near_equator_keeps_the_nominal_pixel_size(make_raster):
    r = io.read_raster(make_raster(crs="EPSG:3857", res=0.3, center=(10.0, 0.2)))
    assert r.gsd == pytest.approx(0.3, rel=1e-12)


def test_feet_crs_gsd_is_in_metres(make_raster):
    # NAD83 / New York Long Island (ftUS): one pixel of one US survey foot
    r = io.read_raster(make_raster(crs="EPSG:2263", res=1.0, center=(-73.95, 40.7)))
    assert r.gsd == pytest.approx(1200 / 3937, rel=1e-9)


def test_pixel_coordinates_put_centres_at_half(make_raster):
    r = io.read_raster(make_raster(res=0.5))
    x0, y0 = r.pixel_to_map(0.5, 0.5)
    assert float(x0) == pytest.approx(r.transform.c + 0.25)
    assert float(y0) == pytest.approx(r.transform.f - 0.25)


def test_caller_gsd_overrides_and_is_checked(make_raster):
    path = make_raster(res=0.5)
    assert io.read_raster(path, gsd=0.6).gsd == 0.6
    for bad, match in [(0, "positive"), (-1, "positive"), (float("nan"), "positive"),
                       (0.001, "finer than"), (20000, "coarser than"), ("abc", "number")]:
        with pytest.raises(GSDError, match=match):
            io.read_raster(path, gsd=bad)


def test_absurd_gsd_from_the_georeference_is_an_error(make_raster):
    path = make_raster(res=20000.0, shape=(8, 8), center=(15, 10))
    with pytest.raises(GSDError, match="implausible"):
        io.read_raster(path)
    assert io.read_raster(path, gsd=2.0).gsd == 2.0  # the caller can say what it is


# --------------------------------------------------------------------------- areas of interest


@pytest.mark.parametrize("crs,res", [("EPSG:32633", 0.5), ("EPSG:3857", 0.5), ("EPSG:4326", 5e-6),
                                     ("EPSG:2056", 0.5)])
def test_bbox_aoi_reads_only_its_window(make_raster, crs, res):
    center = (7.6, 47.5) if crs == "EPSG:2056" else (LON, LAT)
    path = make_raster("big.tif", crs=crs, res=res, center=center, shape=(200, 240))
    box = _lonlat_of_pixel_box(path, 50, 60, 90, 130)
    r = io.read_raster(path, aoi=box)
    win = r.window
    # the window encloses the pixel rectangle, with at most a few pixels of slack
    # (a lon/lat box is not axis-aligned in every CRS)
    assert 45 <= win.row_off <= 50 and 90 <= win.row_off + win.height <= 95
    assert 55 <= win.col_off <= 60 and 130 <= win.col_off + win.width <= 135
    np.testing.assert_array_equal(r.pixels, _read_file(path, window=win))
    assert r.full_shape == (200, 240) and r.mask.all()
    # the window's transform is the file's, moved to the window
    with rasterio.open(path) as ds:
        t = ds.transform
    assert r.transform.almost_equals(geo.shift_affine(t, win.col_off, win.row_off))
    assert (r.transform.c, r.transform.f) == pytest.approx(
        (t.c + win.col_off * t.a, t.f + win.row_off * t.e))
    # same lon/lat for the same pixel in the window and in the full raster
    full = io.read_raster(path)
    lon_w, lat_w = r.pixel_to_lonlat(10.5, 10.5)
    lon_f, lat_f = full.pixel_to_lonlat(10.5 + win.row_off, 10.5 + win.col_off)
    assert float(lon_w) == pytest.approx(float(lon_f)) and float(lat_w) == pytest.approx(float(lat_f))


def test_bbox_aoi_partly_outside_is_clipped(make_raster):
    path = make_raster(shape=(100, 100))
    w, s, e, n = io.read_raster(path).bounds_lonlat()
    r = io.read_raster(path, aoi=((w + e) / 2, (s + n) / 2, e + 0.1, n + 0.1))
    assert r.window.col_off + r.window.width == 100 and r.window.row_off == 0
    assert 45 <= r.window.col_off <= 55 and 45 <= r.window.height <= 55


def test_aoi_larger_than_the_crs_area_reads_the_whole_raster(make_raster):
    path = make_raster(shape=(50, 60))
    r = io.read_raster(path, aoi=(-179.0, -80.0, 179.0, 80.0))  # far beyond UTM zone 33's area
    assert r.shape == (50, 60) and r.window is None


def _polygon(coords):
    return {"type": "Polygon", "coordinates": [coords + [coords[0]]]}


def test_polygon_aoi_masks_pixels_outside(make_raster):
    path = make_raster(shape=(100, 100), res=1.0)
    full = io.read_raster(path)
    # a triangle with corners at known pixel positions
    corners = [(10.0, 10.0), (10.0, 90.0), (90.0, 10.0)]  # (row, col)
    lon, lat = full.pixel_to_lonlat([c[0] for c in corners], [c[1] for c in corners])
    tri = _polygon([[float(a), float(b)] for a, b in zip(lon, lat)])
    for aoi in (tri, {"type": "Feature", "properties": {}, "geometry": tri},
                {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": tri}]}):
        r = io.read_raster(path, aoi=aoi)
        assert (r.window.row_off, r.window.col_off) == (10, 10)
        assert (r.window.height, r.window.width) == (80, 80)
        # pixel (row 20, col 20) of the file is inside, (row 80, col 80) outside
        assert r.mask[20 - 10, 20 - 10] and not r.mask[80 - 10, 80 - 10]
        assert r.mask.sum() == pytest.approx(80 * 80 / 2, rel=0.05)


def test_aoi_outside_the_raster_is_an_error(make_raster):
    path = make_raster()
    with pytest.raises(AOIError, match="outside"):
        io.read_raster(path, aoi=(16.0, 46.0, 16.1, 46.1))
    with pytest.raises(AOIError, match="outside"):
        io.count_windows(path, aoi=(-100.0, 10.0, -99.0, 11.0))


def test_aoi_that_is_all_nodata_is_an_error(make_raster):
    data = np.full((3, 100, 100), 120, np.uint8)
    data[:, :, :50] = 0  # the western half is nodata
    path = make_raster(data=data, nodata=0, shape=(100, 100))
    full = io.read_raster(path)
    west = _lonlat_of_pixel_box(path, 20, 5, 60, 40)
    with pytest.raises(NoDataError, match="nodata"):
        io.read_raster(path, aoi=west)
    east = _lonlat_of_pixel_box(path, 20, 60, 60, 95)
    assert io.read_raster(path, aoi=east).mask.all()
    assert full.mask[:, :50].sum() == 0 and full.mask[:, 50:].all()


def test_aoi_on_a_picture_without_georeference_is_an_error(make_raster):
    path = make_raster("photo.png", driver="PNG", crs=None)
    with pytest.raises(AOIError, match="no georeference"):
        io.read_raster(path, gsd=0.5, aoi=(15, 45, 15.1, 45.1))


def test_malformed_aoi_is_an_error(make_raster):
    path = make_raster()
    with pytest.raises(AOIError, match="west"):
        io.read_raster(path, aoi=(15.1, 45.0, 15.0, 45.1))
    with pytest.raises(AOIError, match="polygon"):
        io.read_raster(path, aoi={"type": "Point", "coordinates": [15.0, 45.0]})
    with pytest.raises(AOIError, match="malformed"):
        io.read_raster(path, aoi={"type": "Polygon", "coordinates": [[[15.0], [1]]]})


# --------------------------------------------------------------------------- dtypes, bands, nodata


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
def test_dtypes_are_kept(make_raster, dtype):
    path = make_raster(f"{dtype}.tif", dtype=dtype, bands=1)
    r = io.read_raster(path)
    assert r.pixels.dtype == np.dtype(dtype) and r.pixels.shape == (1, 64, 96)
    np.testing.assert_array_equal(r.pixels, _read_file(path))


def test_unsupported_dtype_is_an_error(make_raster):
    with pytest.raises(UnsupportedRasterError, match="pixel type"):
        io.read_raster(make_raster(dtype="int32", bands=1))


@pytest.mark.parametrize("dtype,nodata", [("uint8", 0), ("uint16", 65535), ("float32", -9999.0),
                                          ("float32", float("nan"))])
def test_nodata_values_become_the_mask(make_raster, dtype, nodata):
    data = np.full((3, 40, 50), 7, dtype)
    data[:, 5:10, 20:30] = nodata
    data[0, 30, 30] = nodata  # one band only: the pixel stays valid
    r = io.read_raster(make_raster(data=data, dtype=dtype, nodata=nodata, shape=(40, 50)))
    expected = np.ones((40, 50), bool)
    expected[5:10, 20:30] = False
    if isinstance(nodata, float) and math.isnan(nodata):
        expected[30, 30] = False  # NaN in any band makes a pixel unusable
    np.testing.assert_array_equal(r.mask, expected)


def test_nan_without_declared_nodata_is_masked(make_raster):
    data = np.ones((1, 20, 20), np.float32)
    data[0, 3, 4] = np.nan
    data[0, 5, 6] = np.inf
    r = io.read_raster(make_raster(data=data, dtype="float32", bands=1, shape=(20, 20)))
    assert not r.mask[3, 4] and not r.mask[5, 6] and r.mask.sum() == 398


@pytest.mark.parametrize("flagged", [True, False])
def test_rgba_alpha_becomes_the_mask(make_raster, flagged):
    data = np.full((4, 30, 40), 200, np.uint8)
    data[3] = 255
    data[3, :, :10] = 0
    r = io.read_raster(make_raster(data=data, bands=4, shape=(30, 40),
                                   colorinterp=["red", "green", "blue", "alpha"] if flagged else None))
    assert r.pixels.shape == (3, 30, 40)
    assert not r.mask[:, :10].any() and r.mask[:, 10:].all()


@pytest.mark.parametrize("bands", [2, 5])
def test_unsupported_band_count_is_an_error(make_raster, bands):
    with pytest.raises(UnsupportedRasterError, match=f"has {bands} bands"):
        io.read_raster(make_raster(bands=bands))


def test_stack_single_band_files_in_order(make_raster):
    paths = []
    for value, name in [(30, "B4.tif"), (20, "B3.tif"), (10, "B2.tif")]:
        data = np.full((1, 32, 32), value * 100, np.uint16)
        data[0, 0, 0] = 0
        paths.append(make_raster(name, data=data, dtype="uint16", bands=1, shape=(32, 32), nodata=0))
    r = io.read_raster(paths)
    assert r.pixels.shape == (3, 32, 32) and r.pixels.dtype == np.uint16
    assert [int(r.pixels[b, 5, 5]) for b in range(3)] == [3000, 2000, 1000]
    assert not r.mask[0, 0] and r.mask.sum() == 32 * 32 - 1
    assert r.source == str(paths[0])
    windows = list(io.iter_windows(paths, size=16, overlap=0))
    assert len(windows) == 4 and windows[3].pixels.shape == (3, 16, 16)


def test_stack_errors(make_raster):
    a = make_raster("a.tif", bands=1)
    b = make_raster("b.tif", bands=1)
    c = make_raster("c.tif", bands=1, shape=(32, 32))
    rgb = make_raster("rgb.tif", bands=3)
    moved = make_raster("moved.tif", bands=1, center=(15.001, 45.0))
    with pytest.raises(UnsupportedRasterError, match="share one pixel grid"):
        io.read_raster([a, b, c])
    with pytest.raises(UnsupportedRasterError, match="share one pixel grid"):
        io.read_raster([a, b, moved])
    with pytest.raises(UnsupportedRasterError, match="single-band"):
        io.read_raster([a, rgb, b])
    with pytest.raises(UnsupportedRasterError, match="stacking 2 files"):
        io.read_raster([a, b])
    with pytest.raises(InputError, match="empty"):
        io.read_raster([])


# --------------------------------------------------------------------------- pictures without georeference


@pytest.mark.parametrize("name,driver,bands", [("press.png", "PNG", 3), ("press.jpg", "JPEG", 3),
                                               ("press_rgba.png", "PNG", 4), ("grey.png", "PNG", 1),
                                               ("grey_alpha.png", "PNG", 2)])
def test_pictures_need_an_explicit_gsd(make_raster, name, driver, bands):
    path = make_raster(name, driver=driver, crs=None, bands=bands, shape=(40, 60))
    with pytest.raises(GeoreferenceError, match="--gsd"):
        io.read_raster(path)
    with pytest.raises(GeoreferenceError):
        io.raster_info(path)
    r = io.read_raster(path, gsd=0.4)
    assert r.gsd == 0.4 and r.transform is None and r.crs is None and r.crs_string is None
    assert r.pixels.shape == (1 if bands <= 2 else 3, 40, 60)
    assert r.bounds_lonlat() is None
    with pytest.raises(GeoreferenceError, match="pixel coordinates"):
        r.pixel_to_lonlat(1.0, 1.0)
    with pytest.raises(GeoreferenceError):
        r.lonlat_to_pixel(15.0, 45.0)


def test_geotiff_without_crs_is_not_georeferenced(make_raster):
    path = make_raster(crs=None)
    with pytest.raises(GeoreferenceError, match="no CRS"):
        io.read_raster(path)


# --------------------------------------------------------------------------- dates and flags


@pytest.mark.parametrize("name,tags,caller,expected,source", [
    ("a.tif", {"TIFFTAG_DATETIME": "2021:06:01 10:30:00"}, None, dt.date(2021, 6, 1), "tag"),
    ("a.tif", {"ACQUISITION_DATE": "2019-03-04T10:00:00Z", "TIFFTAG_DATETIME": "2024:01:01 00:00:00"},
     None, dt.date(2019, 3, 4), "tag"),
    ("yard_2020-07-15.tif", {}, None, dt.date(2020, 7, 15), "filename"),
    ("LC08_016037_20170813_B2.tif", {}, "2001-01-01", dt.date(2017, 8, 13), "filename"),
    ("tile_2019-02-30.tif", {}, None, None, "unknown"),  # not a real day
    ("tile_123456789.tif", {}, None, None, "unknown"),  # a longer digit run is not a date
    ("a.tif", {}, "2018-05-06", dt.date(2018, 5, 6), "caller"),
    ("a.tif", {}, dt.date(2018, 5, 6), dt.date(2018, 5, 6), "caller"),
    ("a.tif", {"ACQUISITION_DATE": "2018"}, None, None, "unknown"),  # a year only: no day invented
    ("a_2020-01-02.tif", {"ACQUISITION_DATE": "2018"}, None, dt.date(2020, 1, 2), "filename"),
])
def test_acquisition_date(make_raster, name, tags, caller, expected, source):
    r = io.read_raster(make_raster(name, tags=tags), date=caller)
    assert (r.date, r.date_source) == (expected, source)
    for k, v in tags.items():
        assert r.tags[k] == v
    meta = io.raster_info(make_raster(name, tags=tags), date=caller)
    assert meta["date"] == (expected.isoformat() if expected else None) and meta["date_source"] == source


def test_bad_caller_date_is_an_error(make_raster):
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        io.read_raster(make_raster(), date="06/01/2021")


@pytest.mark.parametrize("name,tags,expected", [
    ("tile.tif", {"RAILCOUNT_SIMULATED": "1"}, True),
    ("tile.tif", {"RAILCOUNT_SIMULATED": "true"}, True),
    ("tile.tif", {"RAILCOUNT_SIMULATED": "0"}, False),
    ("yard_SIMULATED_01.tif", {}, True),
    ("tile.tif", {}, False),
])
def test_simulated_flag(make_raster, name, tags, expected):
    assert io.read_raster(make_raster(name, tags=tags)).simulated is expected


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    with pytest.raises(TileNotFoundError, match="no such file") as err:
        io.read_raster(tmp_path / "nope.tif")
    assert isinstance(err.value, FileNotFoundError)  # callers may catch the builtin


def test_folder_text_and_empty_files_are_not_rasters(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, not a raster\n")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(TileReadError, match="folder"):
        io.read_raster(tmp_path)
    with pytest.raises(TileReadError, match="not a raster: .*notes.txt is not a GeoTIFF, PNG or JPEG"):
        io.read_raster(tmp_path / "notes.txt")
    with pytest.raises(TileReadError, match="empty"):
        io.read_raster(tmp_path / "empty.tif")


def test_truncated_tiff(make_raster, tmp_path):
    path = make_raster(shape=(300, 300), blocksize=128)
    data = path.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) // 2])  # header intact, pixel data cut
    with pytest.raises(TileReadError, match="corrupt or truncated"):
        io.read_raster(cut)
    with pytest.raises(TileReadError, match="corrupt or truncated"):
        io.raster_info(cut)  # info reads one block to notice
    head = tmp_path / "head.tif"
    head.write_bytes(data[:100])  # the directory itself is cut
    with pytest.raises(TileReadError, match="corrupt or truncated TIFF"):
        io.read_raster(head)


def test_max_pixels(make_raster):
    path = make_raster(shape=(100, 100))
    with pytest.raises(UnsupportedRasterError, match="--aoi"):
        io.read_raster(path, max_pixels=5000)
    assert io.read_raster(path, max_pixels=10000).shape == (100, 100)


def test_every_error_is_one_line(make_raster, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    cases = [lambda: io.read_raster(tmp_path / "x.txt"), lambda: io.read_raster(make_raster(bands=5)),
             lambda: io.read_raster(tmp_path / "missing.tif"), lambda: io.parse_aoi("1,2,3")]
    for call in cases:
        with pytest.raises(RailcountError) as err:
            call()
        assert "\n" not in str(err.value) and len(str(err.value)) > 20


def test_no_gdal_environment_is_left_behind(make_raster):
    path = make_raster()
    io.read_raster(path)
    io.raster_info(path)
    list(io.iter_windows(path, size=32, overlap=4))
    assert rasterio.env.local._env is None


# --------------------------------------------------------------------------- windows


def test_iter_windows_cover_the_raster_with_overlap(make_raster):
    path = make_raster(shape=(300, 200), bands=1, dtype="uint16")
    full = _read_file(path)
    windows = list(io.iter_windows(path, size=128, overlap=32))
    assert len(windows) == io.count_windows(path, size=128, overlap=32) == 3 * 2
    seen = np.zeros((300, 200), int)
    offsets = []
    for w in windows:
        win = w.window
        # 3 x 2 windows of equal size, as small as an overlap of >= 32 px allows
        assert w.shape == (123, 117) and w.full_shape == (300, 200)
        np.testing.assert_array_equal(
            w.pixels, full[:, win.row_off:win.row_off + 123, win.col_off:win.col_off + 117])
        x, y = w.pixel_to_map(0.5, 0.5)
        assert (float(x), float(y)) == pytest.approx(
            tuple(float(v) for v in io.read_raster(path).pixel_to_map(win.row_off + 0.5, win.col_off + 0.5)))
        seen[win.row_off:win.row_off + 123, win.col_off:win.col_off + 117] += 1
        offsets.append((win.row_off, win.col_off))
    assert seen.min() >= 1
    # every seam is shared by at least the overlap, and no more than needed
    assert sorted({o[0] for o in offsets}) == [0, 88, 177] and sorted({o[1] for o in offsets}) == [0, 83]
    assert offsets == sorted(offsets)  # row-major
    assert offsets == [(0, 0), (0, 83), (88, 0), (88, 83), (177, 0), (177, 83)]
    assert [w.window for w in io.iter_windows(path, size=128, overlap=32)] == [w.window for w in windows]


@pytest.mark.parametrize("length,size,overlap", [
    (300, 128, 32), (16384, 2048, 160), (16384, 4096, 160), (2049, 2048, 160),
    pytest.param(5000, 1000, 999, marks=pytest.mark.slow),  # about 4000 windows a side
    (4097, 2048, 0), (333, 17, 16), (10_000, 256, 1),
])
def test_tile_windows_cover_with_the_overlap_and_no_more_windows_than_needed(length, size, overlap):
    from rasterio.windows import Window

    wins = io.tile_windows(Window(7, 3, length, length // 2 + 1), size, overlap)
    for axis, off, total in ((0, 3, length // 2 + 1), (1, 7, length)):
        spans = sorted({(int(w.row_off), int(w.height)) if axis == 0 else (int(w.col_off), int(w.width))
                        for w in wins})
        starts = [s for s, _ in spans]
        sides = {n for _, n in spans}
        assert len(sides) == 1 and max(sides) <= size  # equal windows, never larger than asked
        side = sides.pop()
        assert starts[0] == off and starts[-1] + side == off + total  # edge to edge
        assert all(a + side - b >= overlap for a, b in zip(starts, starts[1:]))  # shared >= overlap
        if total > size:  # one window fewer could not cover the axis with that overlap
            n = len(starts)
            assert (n - 1) * size - (n - 2) * overlap < total


def test_iter_windows_small_raster_is_one_window(make_raster):
    path = make_raster(shape=(50, 60))
    (only,) = list(io.iter_windows(path, size=2048, overlap=128))
    assert only.window == Window(0, 0, 60, 50) and only.shape == (50, 60)


def test_iter_windows_with_polygon_aoi(make_raster):
    path = make_raster(shape=(200, 200), res=1.0)
    full = io.read_raster(path)
    rr, cc = [20.0, 20.0, 180.0, 180.0], [20.0, 100.0, 100.0, 20.0]
    lon, lat = full.pixel_to_lonlat(rr, cc)
    aoi = _polygon([[float(a), float(b)] for a, b in zip(lon, lat)])
    windows = list(io.iter_windows(path, size=64, overlap=8, aoi=aoi))
    assert len(windows) == io.count_windows(path, size=64, overlap=8, aoi=aoi)
    for w in windows:  # within the AOI's window (a straight lon/lat edge may bulge by a pixel)
        assert 19 <= w.window.row_off and w.window.row_off + w.window.height <= 181
        assert 19 <= w.window.col_off and w.window.col_off + w.window.width <= 101
    valid = np.zeros((200, 200), bool)
    for w in windows:
        win = w.window
        valid[win.row_off:win.row_off + win.height, win.col_off:win.col_off + win.width] |= w.mask
    assert valid[20:180, 20:100].all() and valid.sum() == 160 * 80


def test_iter_windows_checks_inputs_when_called(tmp_path, make_raster):
    with pytest.raises(TileNotFoundError):
        io.iter_windows(tmp_path / "missing.tif")  # not only when iterated
    with pytest.raises(InputError, match="overlap"):
        io.iter_windows(make_raster(), size=64, overlap=64)
    with pytest.raises(InputError, match="size"):
        io.count_windows(make_raster(), size=0)


# --------------------------------------------------------------------------- AOI text and GeoJSON files


def test_parse_aoi_box_and_files(tmp_path):
    assert io.parse_aoi(" 7.585, 47.527,7.59 ,47.53 ") == (7.585, 47.527, 7.59, 47.53)
    poly = _polygon([[7.0, 47.0], [7.1, 47.0], [7.1, 47.1]])
    f = tmp_path / "aoi.geojson"
    f.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": poly}))
    assert io.parse_aoi(str(f))["geometry"] == poly
    assert io.parse_aoi(json.dumps(poly)) == poly


@pytest.mark.parametrize("text,match", [
    ("1,2,3", "west,south,east,north"),
    ("7.6,47.5,7.5,47.6", "west .* must be less than east"),
    ("47.5,7.5,47.6,95", "latitudes"),
    ("", "empty"),
    ("somewhere.geojson", "no such GeoJSON file"),
    ('{"type": "Point", "coordinates": [1, 2]}', "must be a polygon"),
    ("{not json", "not valid JSON"),
])
def test_parse_aoi_errors(text, match):
    with pytest.raises(AOIError, match=match):
        io.parse_aoi(text)


def test_read_geojson_errors(tmp_path):
    (tmp_path / "bad.geojson").write_text("{oops")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bin.geojson").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="no such GeoJSON file"):
        io.read_geojson(tmp_path / "missing.geojson")
    with pytest.raises(InputError, match="line 1"):
        io.read_geojson(tmp_path / "bad.geojson")
    with pytest.raises(InputError, match="not GeoJSON"):
        io.read_geojson(tmp_path / "list.json")
    with pytest.raises(InputError, match="UTF-8"):
        io.read_geojson(tmp_path / "bin.geojson")
    lines = {"type": "FeatureCollection", "features": []}
    (tmp_path / "tracks.geojson").write_text(json.dumps(lines))
    assert io.read_geojson(tmp_path / "tracks.geojson") == lines


# --------------------------------------------------------------------------- HTTP


@pytest.fixture
def fast_http(monkeypatch):
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "3")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_cog_over_http_reads_only_the_window(make_raster, tmp_path, fast_http):
    rows, cols = np.mgrid[0:1024, 0:1024]
    data = np.stack([(cols // 3) % 256, (rows // 3) % 256, ((rows + cols) // 5) % 256]).astype(np.uint8)
    path = make_raster("scene_cog.tif", driver="COG", data=data, shape=(1024, 1024), blocksize=256)
    size = path.stat().st_size
    box = _lonlat_of_pixel_box(path, 300, 300, 340, 360)
    log: list[Request] = []
    with serve_directory(tmp_path, log=log) as base:
        url = f"{base}/scene_cog.tif"
        r = io.read_raster(url, aoi=box)
        sent = sum(q.bytes_sent for q in log)
        info = io.raster_info(url)
    local = io.read_raster(path, aoi=box)
    assert r.window == local.window
    np.testing.assert_array_equal(r.pixels, local.pixels)
    assert r.source == url and r.crs_string == "EPSG:32633" and r.gsd == pytest.approx(0.5)
    assert all(q.status == 206 for q in log if q.method == "GET")
    assert sent < size / 4, f"{sent} of {size} bytes travelled for a small window"
    assert info["width"] == 1024 and info["source"] == url


def test_http_missing_file_and_not_a_raster(tmp_path, fast_http):
    (tmp_path / "page.tif").write_text("<html>not a raster</html>")
    with serve_directory(tmp_path) as base:
        with pytest.raises(TileNotFoundError, match="not found"):
            io.read_raster(f"{base}/missing.tif")
        with pytest.raises(TileReadError, match="not a raster"):
            io.raster_info(f"{base}/page.tif")


def test_remote_open_errors_follow_the_servers_answer_not_gdals_wording(tmp_path, fast_http, monkeypatch):
    """GDAL may word a page it cannot read like a missing file; the server's status decides."""
    import rasterio

    (tmp_path / "page.tif").write_text("<html>not a raster</html>")

    def vague(name, *args, **kwargs):
        raise rasterio.errors.RasterioIOError(
            f"{name}: No such file or directory; does not exist in the file system, and is not recognized as a "
            "supported dataset name")

    monkeypatch.setattr(rasterio, "open", vague)
    with serve_directory(tmp_path) as base:
        with pytest.raises(TileReadError, match="not a raster"):
            io.raster_info(f"{base}/page.tif")
        with pytest.raises(TileNotFoundError, match="not found"):
            io.raster_info(f"{base}/missing.tif")


def test_unreachable_url_fails_fast(fast_http):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(TileReadError, match="cannot reach"):
        io.read_raster(f"http://127.0.0.1:{port}/tile.tif")
    assert time.perf_counter() - t0 < 5


def test_server_without_range_support(make_raster, tmp_path, fast_http):
    import functools
    import http.server
    import threading

    make_raster("t.tif", shape=(512, 512))  # GDAL copes with small files read whole

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def handle(self):  # GDAL hangs up mid-body; that is fine here
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(TileReadError, match="range requests"):
            io.read_raster(f"http://127.0.0.1:{server.server_address[1]}/t.tif")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_test_server_answers_ranges_and_stops(tmp_path):
    import urllib.request

    (tmp_path / "f.bin").write_bytes(bytes(range(256)) * 4)
    with serve_directory(tmp_path) as base:
        req = urllib.request.Request(f"{base}/f.bin", headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 206 and resp.read() == bytes(range(10, 20))
            assert resp.headers["Content-Range"] == "bytes 10-19/1024"
        req = urllib.request.Request(f"{base}/f.bin", headers={"Range": "bytes=-4"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.read() == bytes(range(252, 256))
        port = int(base.rsplit(":", 1)[1])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # stopped


# --------------------------------------------------------------------------- real files (../shared/real)


def test_real_muttenz_yard(real_dir):
    path = real_dir / "muttenz_west" / "muttenz_west_025cm.tif"
    r = io.read_raster(path)
    assert r.crs_string == "EPSG:2056"
    assert r.gsd == pytest.approx(0.255, abs=0.001)
    assert r.shape == (824, 674) and r.pixels.shape[0] == 3 and r.mask.all()
    assert r.date is None and r.date_source == "unknown" and r.tags["ACQUISITION_DATE"] == "2018"
    w, s, e, n = r.bounds_lonlat()
    assert 7.64 < w < e < 7.66 and 47.53 < s < n < 47.54  # Muttenz, near Basel
    assert io.read_raster(real_dir / "muttenz_west" / "muttenz_west_051cm.tif").gsd == pytest.approx(0.51, abs=0.001)


def test_real_muttenz_wagon_polygons_as_aoi(real_dir):
    path = real_dir / "muttenz_west" / "muttenz_west_025cm.tif"
    truth = io.read_geojson(real_dir / "muttenz_west" / "muttenz_west_truth.geojson")
    r = io.read_raster(path, aoi=truth)
    assert r.window is not None
    frac = r.mask.mean()
    assert 0.02 < frac < 0.6  # the wagons cover part of their bounding window
    # 35 wagons of about 14.5 m x 2.7 m: roughly 600 px each at 0.255 m
    assert 35 * 300 < r.mask.sum() < 35 * 1200


def test_real_landsat_stack(real_dir):
    d = real_dir / "no_railcars"
    bands = [d / f"LC08_016037_20170813_B{b}.TIF" for b in (4, 3, 2)]
    r = io.read_raster(bands)
    assert r.pixels.shape == (3, 259, 255) and r.pixels.dtype == np.uint16
    for i, b in enumerate(bands):
        np.testing.assert_array_equal(r.pixels[i], _read_file(b)[0])
    assert r.gsd == pytest.approx(900.0) and r.crs_string == "EPSG:32617"
    assert (r.date, r.date_source) == (dt.date(2017, 8, 13), "filename")
    info = io.raster_info(bands)
    assert info["counting_mode"] == "none" and info["bands"] == 3
    assert info["source"] == str(bands[0]) and info["stack"] == [str(b) for b in bands]


def test_real_colorado_springs(real_dir):
    r = io.read_raster(real_dir / "no_railcars" / "hro_colorado_springs_0.15m.tif")
    assert r.crs_string == "EPSG:26913" and r.gsd == pytest.approx(0.15, abs=0.001)


def test_geo_validate_bbox_accepts_and_rejects():
    assert geo.validate_bbox([1, 2, 3, 4]) == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(AOIError):
        geo.validate_bbox([1, 2, 3, float("inf")])
    with pytest.raises(AOIError, match="longitudes"):
        geo.validate_bbox([-200, 2, 3, 4])


def test_read_text_messages_say_what_and_what_to_do(tmp_path):
    from railcount.errors import ManifestError

    good = tmp_path / "m.csv"
    good.write_bytes("\ufefftile\nä.tif\n".encode("utf-8"))
    assert io.read_text(good) == "tile\nä.tif\n"  # the byte-order mark is dropped
    with pytest.raises(ManifestError, match=r"^no such manifest: .*missing.csv; check the path$"):
        io.read_text(tmp_path / "missing.csv", what="manifest", error=ManifestError)
    with pytest.raises(InputError, match="is a folder; give a GeoJSON file"):
        io.read_text(tmp_path, what="GeoJSON file")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("tile\nm\xfcnchen.tif\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 text; save it as UTF-8"):
        io.read_text(latin)


def test_read_sample_is_every_kth_pixel_of_the_whole(tmp_path):
    """The small read windows are normalised by: nearest pixels of the whole raster, nodata masked."""
    from conftest import build_raster

    from railcount.io import read_sample

    rows, cols = 300, 500
    data = np.arange(rows * cols, dtype=np.float32).reshape(1, rows, cols) % 251
    data[0, :100, :] = np.nan  # nodata
    path = build_raster(tmp_path / "big.tif", shape=(rows, cols), bands=1, dtype="float32", data=data, nodata=np.nan)
    pixels, mask = read_sample(path, max_pixels=15_000)
    assert pixels.shape[0] == 1 and pixels.shape[1:] == mask.shape
    assert pixels.shape[1] * pixels.shape[2] <= 15_000 and pixels.shape[1] >= 50
    assert not mask[: mask.shape[0] // 3 - 1].any() and mask[mask.shape[0] // 3 + 1 :].all()
    assert set(np.unique(pixels[0][mask])) <= set(np.unique(data[0, 100:]))  # real pixel values, not averages
    full, full_mask = read_sample(path, max_pixels=10**9)
    assert np.array_equal(full_mask, np.isfinite(data[0])) and np.array_equal(full[0][full_mask], data[0][full_mask])
