"""How many worker processes to start: never more than the CPUs this process may use.

On a machine with 2 CPUs, 64 processes each scanning a window or a tile are
several times slower than one (they fight for the cores and the memory
bandwidth, and each pays for its own start-up). :func:`cap_workers` keeps a
requested number of workers within the CPUs available and says so.
"""

from __future__ import annotations

import logging
import os

__all__ = ["available_cpus", "cap_workers"]

logger = logging.getLogger(__name__)


def available_cpus() -> int:
    """The number of CPUs this process may run on (its affinity where the OS tells it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def cap_workers(requested: int | None, *, what: str = "workers") -> tuple[int, str | None]:
    """Return how many workers to start for ``requested``, and a note when it was capped.

    Parameters
    ----------
    requested : int or None
        The number asked for; ``None`` means one per available CPU.
    what : str
        How to name the option in the note (e.g. ``"--workers"``).

    Returns
    -------
    n : int
        ``min(requested, available_cpus())``, at least 1.
    note : str or None
        Why fewer than requested, for the user; ``None`` when not capped.

    Examples
    --------
    >>> cap_workers(1)
    (1, None)
    """
    cpus = available_cpus()
    if requested is None:
        return cpus, None
    n = max(1, int(requested))
    if n <= cpus:
        return n, None
    note = (f"{what} {n} capped at {cpus}, the number of CPUs available: more processes than CPUs "
            "only compete for them")
    logger.info(note)
    return cpus, note
