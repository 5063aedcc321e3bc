"""Acquisition dates: from a file's tags, from its name, or as the caller gave them."""

from __future__ import annotations

import datetime as _dt
import logging
import re
from typing import Mapping

from ..dates import as_date
from ..errors import InputError
from ..types import DateSource
from .names import basename

__all__ = ["DATE_TAGS", "date_from_tags", "date_from_name", "parse_date", "resolve_date"]

logger = logging.getLogger(__name__)

#: Tags that may hold the acquisition date, most specific first (compared
#: case-insensitively). TIFFTAG_DATETIME is the file's own time stamp, so an
#: explicit acquisition tag wins over it.
DATE_TAGS = (
    "ACQUISITION_DATE",
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATETIME",
    "DATE_ACQUIRED",
    "DATETIME",
    "EXIF_DATETIMEORIGINAL",
    "TIFFTAG_DATETIME",
    "EXIF_DATETIME",
)

_TAG_DATE_RE = re.compile(r"^\s*(\d{4})[-:/.]?(\d{2})[-:/.]?(\d{2})(?!\d)")
_NAME_DATE_RE = re.compile(r"(?<!\d)(\d{4})(-?)(\d{2})\2(\d{2})(?!\d)")


def _date_from_text(text: str) -> _dt.date | None:
    m = _TAG_DATE_RE.match(text)
    if not m:
        return None
    try:
        return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def date_from_tags(tags: Mapping[str, str]) -> tuple[_dt.date | None, str | None]:
    """Find the acquisition date in dataset tags.

    Parameters
    ----------
    tags : mapping
        Dataset tags, e.g. ``{"TIFFTAG_DATETIME": "2021:06:01 10:30:00"}``.

    Returns
    -------
    date : datetime.date or None
    tag : str or None
        The tag it came from.

    Notes
    -----
    Tags are tried in the order of :data:`DATE_TAGS`. A tag holding only a
    year (``ACQUISITION_DATE=2018``) gives no date: no day is invented.
    """
    upper = {str(k).upper(): str(v) for k, v in tags.items()}
    for key in DATE_TAGS:
        value = upper.get(key)
        if value is None:
            continue
        found = _date_from_text(value)
        if found is not None:
            return found, key
        logger.debug("tag %s=%r is not a full date", key, value)
    return None, None


def date_from_name(name: str) -> _dt.date | None:
    """Find an ISO date (``YYYY-MM-DD`` or ``YYYYMMDD``) in a file name.

    Only the last path component is looked at; digit runs longer than the
    date (e.g. ``201708130``) do not count.

    Examples
    --------
    >>> date_from_name("data/LC08_016037_20170813_B2.TIF")
    datetime.date(2017, 8, 13)
    >>> date_from_name("yard_2021-06-01.tif")
    datetime.date(2021, 6, 1)
    >>> date_from_name("tile_12345678.tif") is None
    True
    """
    for m in _NAME_DATE_RE.finditer(basename(name)):
        year, month, day = int(m.group(1)), int(m.group(3)), int(m.group(4))
        if not 1900 <= year <= 2100:
            continue
        try:
            return _dt.date(year, month, day)
        except ValueError:
            continue
    return None


def parse_date(date: _dt.date | str | None) -> _dt.date | None:
    """Return a date given as a ``datetime.date`` or as ``YYYY-MM-DD`` text (``None`` stays ``None``).

    Raises
    ------
    InputError
        If the text is not a date.
    """
    try:
        return as_date(date)
    except ValueError:
        raise InputError(f"date must be YYYY-MM-DD (e.g. 2021-06-01), got {date!r}") from None


def resolve_date(names: list[str], tags: Mapping[str, str],
                  date: _dt.date | str | None) -> tuple[_dt.date | None, DateSource]:
    """The acquisition date of a source and where it came from: its tags, its name, else the caller's.

    A date in the file wins over the caller's (with a warning when they differ).
    """
    given = parse_date(date)
    found, tag = date_from_tags(tags)
    source: DateSource = "tag"
    if found is None:
        source = "filename"
        found = next((d for d in (date_from_name(n) for n in names) if d is not None), None)
    if found is not None:
        if given is not None and given != found:
            logger.warning("%s: the date given (%s) differs from the file's %s (%s); using the file's",
                           names[0], given, f"tag {tag}" if source == "tag" else "name", found)
        return found, source
    if given is not None:
        return given, "caller"
    return None, "unknown"
