"""Regenerate the deterministic SIMULATED benchmark scene set.

Usage::

    python benchmarks/make_scenes.py [--out benchmarks/scenes] [--limit N]

Writes each scene (``<name>_SIMULATED.tif`` + ``.truth.geojson``) and a
``manifest.csv`` (path, truth_path, name, gsd, n_cars, conditions, ...). The set
is defined by :func:`railcount.synth.benchmark_specs`; it is regenerated, not
committed (``benchmarks/scenes`` is git-ignored). Same as
``railcount simulate --benchmark-set DIR``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from railcount.synth import benchmark_specs, write_benchmark_set


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/scenes", help="output folder (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N scenes")
    args = ap.parse_args(argv)
    t0 = time.time()
    n = len(benchmark_specs()) if args.limit is None else min(args.limit, len(benchmark_specs()))

    def progress(i: int, total: int, path: Path) -> None:
        print(f"[{i + 1}/{total}] {path} ({time.time() - t0:.0f} s)", file=sys.stderr)

    manifest = write_benchmark_set(args.out, limit=args.limit, progress=progress)
    print(f"wrote {n} SIMULATED scenes and {manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
