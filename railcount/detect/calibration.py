"""Count intervals from measured error rates.

``make train`` measures, on simulated validation scenes (seeds disjoint from
training and benchmark scenes), the relative count error ``(found - true) / true``
of each mode, and stores its quantiles in ``railcount/data/calibration.json``.
A count ``n`` then has the interval of true counts consistent with those
errors, widened by the absolute error seen on scenes with few cars. Estimates (0.8-3 m)
are first divided by ``1 + median`` relative error, their measured bias. Where the
validation scenes include total misses, no count bounds the truth from above: the
upper end is then the most cars the scanned area could physically hold.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from typing import Any

__all__ = ["load_calibration", "count_interval"]

_DEFAULT = {
    "confidence": 0.9,
    "individual": {"rel_q_low": -0.1, "rel_q_high": 0.1, "abs_small": 2, "n_scenes": 0},
    "estimate": {"rel_q_low": -0.35, "rel_q_high": 0.35, "abs_small": 3, "n_scenes": 0},
}


@functools.lru_cache(maxsize=1)
def load_calibration() -> dict[str, Any]:
    """Return the packaged calibration (or a conservative default if absent)."""
    ref = resources.files("railcount") / "data" / "calibration.json"
    try:
        return json.loads(ref.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _DEFAULT


def count_interval(n: float, mode: str, calibration: dict[str, Any] | None = None, *,
                   capacity: int | None = None) -> tuple[int, int, int, float]:
    """Return ``(count, low, high, confidence)`` for ``n`` cars found in ``mode``.

    Parameters
    ----------
    n : float
        Cars found (a whole number in individual mode; occupied length / car
        pitch in estimate mode).
    mode : {"individual", "estimate"}
    calibration : dict, optional
        Defaults to the packaged calibration.
    capacity : int, optional
        Most cars the scanned area could hold (:func:`railcount.priors.max_cars_in`).
        When the validation scenes of ``mode`` include ones where the
        detector missed every car, a count cannot bound how many were missed:
        the upper end is then ``capacity``. Required in that case.

    Raises
    ------
    ValueError
        If the interval is unbounded by the calibration and ``capacity`` is not given.

    Examples
    --------
    >>> c = {"confidence": 0.9, "individual": {"rel_q_low": -0.05, "rel_q_high": 0.05, "abs_small": 1}}
    >>> count_interval(73, "individual", c)
    (73, 68, 78, 0.9)
    """
    cal = calibration or load_calibration()
    m = cal[mode]
    if mode == "estimate":
        # an estimate is corrected for its median bias measured on validation scenes
        n = n / max(1.0 + float(m.get("rel_median", 0.0)), 0.2)
    count = int(round(n))
    lo_rel, hi_rel, slack = float(m["rel_q_low"]), float(m["rel_q_high"]), float(m["abs_small"])
    low = math.floor(n / (1.0 + hi_rel) - slack) if n > 0 else 0
    if 1.0 + lo_rel > 0:
        high = math.ceil(n / (1.0 + lo_rel) + slack)
        if capacity is not None:
            high = min(high, capacity)
    elif capacity is not None:
        high = capacity  # total misses happen: only the physical bound holds
    else:
        raise ValueError(f"the {mode} calibration has seen total misses, so the count's upper bound "
                         "needs the area's capacity")
    low = max(0, min(low, count))
    high = max(high, count)
    return count, low, high, float(cal.get("confidence", 0.9))
