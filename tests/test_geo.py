"""The shared checks of geo: one GSD check, one refusal of coarse imagery, one bbox check."""

from __future__ import annotations

import pytest

from railcount.errors import AOIError, GSDError, ResolutionTooCoarseError
from railcount.geo import countable_gsd, overlap_fraction, validate_bbox, validate_gsd
from railcount.synth import check_gsd


@pytest.mark.parametrize("bad, message", [
    ("abc", "must be a number"), (True, "must be a number"), (None, "must be a number"),
    (0, "positive"), (-1, "positive"), (float("nan"), "positive"), (float("inf"), "positive"),
    (0.001, "finer than"), (20000, "coarser than"),
])
def test_validate_gsd_names_what_is_wrong(bad, message):
    with pytest.raises(GSDError, match=message):
        validate_gsd(bad, what="--gsd")


def test_validate_gsd_with_a_purpose_states_its_range():
    assert validate_gsd("0.5", finest=0.1, coarsest=3.0, purpose="the simulator renders") == 0.5
    with pytest.raises(GSDError, match=r"outside what the simulator renders \(0.1-3 m per pixel\)"):
        validate_gsd(5, finest=0.1, coarsest=3.0, purpose="the simulator renders")
    with pytest.raises(GSDError, match="outside what the simulator renders"):
        check_gsd(0.05)


@pytest.mark.parametrize("gsd", [0.3, 0.8, 2.0, 3.0])
def test_countable_gsd_accepts_up_to_three_metres(gsd):
    assert countable_gsd(gsd) == gsd


@pytest.mark.parametrize("gsd", [3.01, 10.0, 30.0])
def test_countable_gsd_refuses_coarser_imagery_in_one_line(gsd):
    with pytest.raises(ResolutionTooCoarseError, match="railcars cannot be counted") as info:
        countable_gsd(gsd)
    assert "\n" not in str(info.value)
    with pytest.raises(GSDError):
        countable_gsd(-1)


def test_validate_bbox_and_overlap():
    assert validate_bbox((1, 2, 3, 4)) == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(AOIError, match="lon and lat swapped"):
        validate_bbox((42.4, 130.6, 42.5, 130.7))
    assert overlap_fraction((0, 0, 1, 1), (0, 0, 2, 1)) == pytest.approx(0.5)
    assert overlap_fraction((5, 5, 6, 6), (0, 0, 1, 1)) == 0.0
