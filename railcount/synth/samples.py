"""Regenerate the bundled SIMULATED Tumangang sample tiles.

Usage: ``python -m railcount.synth.samples [FOLDER]`` (default ``sample_tiles``),
or ``railcount simulate --sample-tiles FOLDER``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from .sets import write_sample_tiles


def main(argv: list[str] | None = None) -> int:
    """Write the sample tiles and their truth into the folder given (created if missing)."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "sample_tiles")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out.mkdir(parents=True, exist_ok=True)
    for tif, truth in write_sample_tiles(out):
        print(f"wrote {tif} and {truth} (SIMULATED)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
