"""One reading of a date, used by claims, manifests, options and the loader."""

from __future__ import annotations

import datetime as dt

import pytest

from railcount.dates import as_date


@pytest.mark.parametrize("value, expected", [
    (None, None), ("2023-10-05", dt.date(2023, 10, 5)), (" 2023-10-05 ", dt.date(2023, 10, 5)),
    ("2023-10-05T02:13:41Z", dt.date(2023, 10, 5)), (dt.date(2023, 10, 5), dt.date(2023, 10, 5)),
    (dt.datetime(2023, 10, 5, 23, 59), dt.date(2023, 10, 5)),
])
def test_as_date(value, expected):
    assert as_date(value) == expected


@pytest.mark.parametrize("value", ["05/10/2023", "2023-13-01", "", "yesterday", 20231005])
def test_as_date_refuses_what_is_not_a_date(value):
    with pytest.raises(ValueError, match="not a date"):
        as_date(value)
