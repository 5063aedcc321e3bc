"""Figures: outlines in the right place, labelled titles and axes, files written."""

from __future__ import annotations

import datetime as dt
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from affine import Affine  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar  # noqa: E402

from railcount.catalog import load_claim  # noqa: E402
from railcount.compare import Observation, compare  # noqa: E402
from railcount.errors import InputError, OutputError  # noqa: E402
from railcount.figures import save_figure, save_overlay  # noqa: E402
from railcount.plot import (  # noqa: E402
    new_figure,
    plot_before_after,
    plot_detections,
    plot_series,
    result_title,
)
from railcount.results import Detection, ScanResult  # noqa: E402

D = dt.date
T = Affine(0.5, 0, 700000.0, 0, -0.5, 4700000.0)


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def show(*a, **k):
        raise AssertionError("the library must never call plt.show()")

    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


def car(r, c, *, kind="car", cars=1.0):
    """A 28 x 6 px car centred at (r, c), in pixel coordinates (pixel (i, j) centre at i+.5, j+.5)."""
    corners = ((r - 3, c - 14), (r - 3, c + 14), (r + 3, c + 14), (r + 3, c - 14))
    return Detection(r, c, 14.0, 3.0, 0.0, 0.9, 0, corners, kind=kind, cars=cars)


OCT_5 = D(2023, 10, 5)


def scene(n, *, simulated=False, date=OCT_5, mode="individual"):
    img = np.full((100, 200, 3), 140, np.uint8)
    dets = []
    for i in range(n):
        r, c = 20 + 12 * (i % 5), 20 + 32 * (i // 5)
        img[r - 3:r + 3, c - 14:c + 14] = (40, 60, 120)
        dets.append(car(r, c))
    res = ScanResult("tiles/site_2023.tif", n, max(n - 2, 0), n + 3, mode, 0.5, date=date, crs="EPSG:32652",
                     shape=(100, 200), detections=tuple(dets), simulated=simulated)
    return img, res


def polygons(ax):
    out = []
    for coll in ax.collections:
        if isinstance(coll, PolyCollection):
            out.extend(p.vertices[:4] for p in coll.get_paths())
    return out


def test_plot_detections_on_map_axes():
    img, res = scene(7, simulated=True)
    ax = plot_detections(img, res, transform=T)
    # Extent in map coordinates: 200 cols x 0.5 m, 100 rows x 0.5 m.
    assert ax.images[0].get_extent() == pytest.approx([700000, 700100, 4699950, 4700000])
    polys = polygons(ax)
    assert len(polys) == 7
    # The first car spans cols 6..34 and rows 17..23 (pixel edges) -> map x 700003..700017.
    xs, ys = polys[0][:, 0], polys[0][:, 1]
    assert (xs.min(), xs.max()) == pytest.approx((700003.0, 700017.0))
    assert (ys.min(), ys.max()) == pytest.approx((4700000 - 11.5, 4700000 - 8.5))
    title = ax.get_title()
    assert "SIMULATED" in title and "2023-10-05" in title and "7 railcars" in title and "5-10" in title
    assert "0.50 m GSD" in title
    assert "easting" in ax.get_xlabel() and "northing" in ax.get_ylabel()
    bars = [a for a in ax.artists if isinstance(a, AnchoredSizeBar)]
    assert len(bars) == 1
    assert any(t.get_text() == "SIMULATED" for t in ax.texts)
    assert ax.get_legend().get_texts()[0].get_text() == "railcar (7)"


def test_plot_detections_on_pixel_axes_from_a_raster_like_object():
    img, res = scene(3)
    raster = types.SimpleNamespace(image=img.astype(np.uint16) * 40, transform=None)
    fig, ax = plt.subplots()
    out = plot_detections(raster, res, ax=ax, title="custom")
    assert out is ax
    assert ax.get_title() == "custom"
    assert ax.get_xlabel() == "column (px)" and ax.get_ylabel() == "row (px)"
    assert ax.images[0].get_extent() == pytest.approx([0, 200, 100, 0])
    shown = ax.images[0].get_array()
    assert shown.min() >= 0 and shown.max() <= 1  # uint16 stretched for display
    polys = polygons(ax)
    assert polys[0][:, 0].min() == pytest.approx(6.0)  # pixel axes: x is the column
    assert not any(t.get_text() == "SIMULATED" for t in ax.texts)
    # 50 m on a 0.5 m grid is 100 px: a 20 m bar (nice length near a fifth of 100 m).
    bar = next(a for a in ax.artists if isinstance(a, AnchoredSizeBar))
    assert bar.txt_label.get_text() == "20 m"


def test_estimate_outlines_and_detections_without_corners():
    img, _ = scene(0)
    dets = (Detection(30, 60, 60, 3, 0, 0.8, 0, ((27, 30), (27, 90), (33, 90), (33, 30)), kind="occupied", cars=4.2),
            Detection(50, 100, 14, 3, 0, 0.8))
    res = ScanResult("x.tif", 5, 3, 8, "estimate", 1.5, shape=(100, 200), detections=dets)
    ax = plot_detections(img, res)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["railcar (1)", "occupied track (≈4 cars)"]
    assert len(polygons(ax)) == 1
    assert "estimate" in ax.get_title() and "undated" in ax.get_title()


def test_plot_before_after_titles_and_suptitle():
    ib, rb = scene(4, date=D(2023, 9, 1))
    ia, ra = scene(20, date=D(2023, 10, 5), simulated=True)
    axes = plot_before_after(ib, rb, ia, ra, comparison=compare(rb, ra), transforms=(T, T))
    assert len(axes) == 2
    assert axes[0].get_title().startswith("BEFORE") and "2023-09-01" in axes[0].get_title()
    assert axes[1].get_title().startswith("AFTER  SIMULATED") and "20 railcars" in axes[1].get_title()
    sup = axes[0].figure.get_suptitle()
    assert sup.startswith("SIMULATED imagery — change: +16 railcars") and "over 34 days" in sup
    assert len(polygons(axes[0])) == 4 and len(polygons(axes[1])) == 20
    with pytest.raises(ValueError, match="two Axes"):
        plot_before_after(ib, rb, ia, ra, axes=[axes[0]])


def test_plot_series_with_claim_thresholds_and_events():
    claim = load_claim("tumangang_2023")
    counts = [Observation("a.tif", 12, 10, 14, gsd=0.5, date=D(2023, 8, 1)),
              Observation("b.tif", 18, 15, 21, gsd=0.5, date=D(2023, 9, 1)),
              Observation("c.tif", 20, 14, 27, mode="estimate", gsd=1.5, date=D(2023, 9, 25)),
              Observation("d.tif", 73, 70, 77, gsd=0.5, date=D(2023, 10, 5)),
              Observation("undated.tif", 5, 4, 6, gsd=0.5)]
    ax = plot_series(counts, claim=claim)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "reported: more than 70 on 2023-10-05" in labels
    assert "baseline: at most about 20" in labels
    assert any(lab.startswith("about_73: about 73") for lab in labels)
    assert "count, 90% interval" in labels and "count, 90% interval (estimate)" in labels
    # A horizontal line at 70 and a vertical line on the summit date.
    import matplotlib.dates as mdates

    lines = ax.get_lines()
    assert any(np.allclose(line.get_ydata(orig=False), 70) for line in lines)
    summit = mdates.date2num(D(2023, 9, 13))
    assert any(np.allclose(line.get_xdata(orig=False), summit) for line in lines)
    assert any("Kim–Putin summit" in t.get_text() for t in ax.texts)
    # Counts are labelled, the undated one is left out.
    texts = {t.get_text() for t in ax.texts}
    assert {"12", "18", "20", "73"} <= texts and "5" not in texts
    assert ax.get_ylabel() == "railcars"
    assert ax.get_ylim()[1] > 80
    assert ax.get_title() == "railcar counts — Tumangang Rail Facility, Rason, North Korea"
    lo, hi = ax.get_xlim()  # the window follows the data, not the five-year baseline window
    assert mdates.num2date(lo).date() > D(2023, 6, 1) and mdates.num2date(hi).date() < D(2023, 11, 15)


def test_plot_series_marks_simulated():
    ax = plot_series([Observation("a.tif", 12, 10, 14, gsd=0.5, date=D(2023, 8, 1), simulated=True)])
    assert ax.get_title().startswith("SIMULATED imagery")
    assert any(t.get_text() == "SIMULATED" for t in ax.texts)


def test_plot_before_after_without_a_comparison_has_no_suptitle():
    ib, rb = scene(4, date=D(2023, 9, 1))
    axes = plot_before_after(ib, rb, ib, rb)
    assert axes[0].figure.get_suptitle() == ""


def test_plot_series_of_undated_counts_says_dates_are_needed():
    undated = [Observation("b.tif", 5, 4, 6, gsd=0.5), Observation("a.tif", 7, 6, 8, gsd=0.5)]
    with pytest.raises(InputError, match="needs dates: none of the 2 counts has an acquisition date.*file name"):
        plot_series(undated)


def test_save_figure_writes_a_png_atomically(tmp_path):
    img, res = scene(5, simulated=True)
    fig, axes = new_figure(ncols=2)
    plot_before_after(img, res, img, res, axes=axes)
    out = tmp_path / "ba.png"
    save_figure(fig, out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert list(tmp_path.iterdir()) == [out]  # no temporary left behind
    with pytest.raises(OutputError, match="does not exist"):
        save_figure(fig, tmp_path / "no" / "x.png")


def test_save_overlay_from_a_raster_in_memory(tmp_path):
    img, res = scene(3)
    raster = types.SimpleNamespace(image=img, transform=T, window=None)
    out = tmp_path / "overlay.png"
    save_overlay(raster, res, out)
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 5_000


def test_result_title():
    _, res = scene(3)
    assert result_title(res) == ("2023-10-05: 3 railcars, 90% interval 1-6\nindividual, 0.50 m GSD · site_2023.tif")
