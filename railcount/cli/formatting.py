"""Lines the commands print about counts, shared by ``compare``, ``series`` and ``demo``."""

from __future__ import annotations

from typing import Any

__all__ = ["SIM_BANNER", "count_line"]

#: First line of every report that rests on simulated imagery.
SIM_BANNER = ("*** SIMULATED imagery: these counts demonstrate the method, they are not evidence "
              "about the real site ***")


def count_line(label: str, result: Any) -> str:
    """One line of a report: label, date, count with interval, mode, GSD and source.

    ``result`` is a :class:`~railcount.results.ScanResult` or an
    :class:`~railcount.compare.Observation`.
    """
    from ..compare import format_count

    date = result.date.isoformat() if result.date else "undated   "
    sim = "  [SIMULATED]" if result.simulated else ""
    mode = "ESTIMATE" if result.mode == "estimate" else result.mode
    return f"{label:<7} {date}  {format_count(result)}  {mode}, {result.gsd:.2f} m GSD  {result.source}{sim}"
