"""Make docs/sim_vs_real.png: a SIMULATED yard beside the real Muttenz yard at the same GSD.

Usage::

    python benchmarks/figure_sim_vs_real.py [--out docs/sim_vs_real.png] [--real ../shared/real/muttenz_west]

The real tile (SWISSIMAGE (c) swisstopo, 0.255 m) is read from the shared folder
and is not copied into the repository; the simulated scene is rendered at its
GSD with a comparable layout (tracks running WNW-ESE, sun from the south-west,
catenary gantries, a gravel yard floor). Both panels show the same ground
extent (about 172 m x 210 m); a second row shows 4x crops.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real" / "muttenz_west"


def muttenz_like_spec(gsd: float, width_m: float, height_m: float):
    """A simulated yard comparable in character to Muttenz West (SIMULATED)."""
    from railcount.synth import SceneSpec

    return SceneSpec(
        gsd=gsd, width_m=width_m, height_m=height_m, n_cars=60, seed=2056, layout_seed=2056, n_tracks=40,
        yard_angle_deg=-27.0, curvature=1 / 3000, sun_azimuth_deg=210.0, sun_elevation_deg=42.0,
        ground="gravel", masts=True, lookalikes=False, haze=0.03, noise=2.0, blur=0.7, jpeg_quality=90,
        misregistration_px=0.1, crs="EPSG:2056", origin=(2615958.0, 1265010.0), name="muttenz_like_SIMULATED",
    )


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from railcount.io import read_raster
    from railcount.synth import render_scene

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs" / "sim_vs_real.png"))
    ap.add_argument("--real", default=str(REAL))
    args = ap.parse_args(argv)
    real = read_raster(Path(args.real) / "muttenz_west_025cm.tif")
    rimg = np.moveaxis(np.asarray(real.pixels), 0, -1)
    rows, cols = rimg.shape[:2]
    spec = muttenz_like_spec(real.gsd, cols * real.gsd, rows * real.gsd)
    scene = render_scene(spec)
    simg = np.moveaxis(scene.pixels, 0, -1)[:rows, :cols]

    fig, axes = plt.subplots(2, 2, figsize=(10, 11.4), gridspec_kw={"height_ratios": [rows / cols, 1]})
    axes[0, 0].imshow(rimg, interpolation="nearest")
    axes[0, 0].set_title(f"REAL: Muttenz West, SWISSIMAGE (c) swisstopo, {real.gsd:.3f} m", fontsize=9)
    axes[0, 1].imshow(simg, interpolation="nearest")
    axes[0, 1].set_title(f"SIMULATED: railcount.synth, {scene.gsd:.3f} m, {len(scene.cars)} cars", fontsize=9)
    r0, c0, n = 430, 180, 260
    axes[1, 0].imshow(rimg[r0:r0 + n, c0:c0 + n], interpolation="nearest")
    axes[1, 0].set_title("REAL, detail (65 m)", fontsize=9)
    axes[1, 1].imshow(simg[r0:r0 + n, c0:c0 + n], interpolation="nearest")
    axes[1, 1].set_title("SIMULATED, detail (65 m)", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Simulated rail yard (right) beside a real one (left) at the same ground sample distance",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(args.out, dpi=85)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
