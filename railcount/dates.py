"""The one reading of a date a user gives: ``YYYY-MM-DD`` text, a ``date`` or a ``datetime``.

Claim files, batch manifests, ``--date`` options and the loader's ``date=``
all take dates this way; each caller turns a :class:`ValueError` into its own
error (:class:`~railcount.errors.ClaimError`, :class:`~railcount.errors.ManifestError`,
:class:`~railcount.errors.InputError`) with a message that names where the date was.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

__all__ = ["as_date"]


def as_date(value: Any) -> _dt.date | None:
    """Return ``value`` as a date; ``None`` stays ``None``.

    Parameters
    ----------
    value : datetime.date, datetime.datetime, str or None
        Text is ``YYYY-MM-DD``, or an ISO 8601 date and time (``Z`` for UTC
        allowed), of which the date is kept.

    Raises
    ------
    ValueError
        If ``value`` is not a date.

    Examples
    --------
    >>> as_date("2023-10-05")
    datetime.date(2023, 10, 5)
    >>> as_date("2023-10-05T02:13:41Z")
    datetime.date(2023, 10, 5)
    """
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return _dt.date.fromisoformat(text)
            return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise ValueError(f"not a date (YYYY-MM-DD): {value!r}")
