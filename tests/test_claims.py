"""Claims as data and their check against constructed counts: every verdict and reason."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pytest

from railcount.catalog import bundled_claims, load_claim
from railcount.claims import (
    SIMULATED_NOTE,
    ClaimCheck,
    ClauseVerdict,
    check_claim,
    parse_claim,
)
from railcount.compare import Observation
from railcount.errors import ClaimError, RailcountError
from railcount.results import ScanResult

D = dt.date
SITE_BOX = (130.6056, 42.4202, 130.6106, 42.4226)
COVERS = (130.59, 42.41, 130.62, 42.43)  # the whole site
QUARTER = (130.6056, 42.4202, 130.6081, 42.4214)  # a quarter of the site
ELSEWHERE = (130.64, 42.42, 130.65, 42.43)  # Khasan side, no overlap


def obs(count, low, high, date, *, gsd=0.5, mode="individual", simulated=False, bounds=COVERS,
        name=None):
    return Observation(name or f"{date}.tif", count, low, high, mode=mode, gsd=gsd, date=date,
                       simulated=simulated, bounds_lonlat=bounds)


@pytest.fixture(scope="module")
def claim():
    return load_claim("tumangang_2023")


def verdict(claim, clause_id, counts):
    return check_claim(claim, counts).verdict(clause_id)


# --------------------------------------------------------------------------- loading


def test_bundled_claim_loads_with_its_clauses_sources_and_events(claim):
    assert "tumangang_2023" in bundled_claims()
    assert [c.id for c in claim.clauses] == ["baseline", "reported", "about_73", "unprecedented", "tripled"]
    assert claim.origin == "bundled:tumangang_2023"
    base = claim.clause("baseline")
    assert (base.kind, base.threshold, base.start, base.end) == ("at_most", 20, D(2018, 10, 5), D(2023, 9, 12))
    assert base.limit == pytest.approx(22.0)
    rep = claim.clause("reported")
    assert (rep.kind, rep.threshold, rep.date, rep.date_tolerance_days) == ("more_than", 70, D(2023, 10, 5), 3)
    a73 = claim.clause("about_73")
    assert a73.band == pytest.approx((65.7, 80.3))
    assert {s.id for s in claim.sources} >= {"csis", "independent"}
    csis = next(s for s in claim.sources if s.id == "csis")
    assert csis.date == D(2023, 10, 6) and "Beyond Parallel" in csis.publisher
    assert any(e.date == D(2023, 9, 13) and "summit" in e.name for e in claim.events)
    # The extent comes from the built-in site registry and contains the station.
    w, s, e, n = claim.site.bbox
    assert w < 130.6081 < e and s < 42.4214 < n
    json.dumps(claim.to_dict())


def test_load_claim_from_a_path(tmp_path, claim):
    text = """
id = "mini"
title = "A small claim"
[site]
name = "Yard"
bbox = [10.0, 50.0, 10.1, 50.1]
[[sources]]
id = "s"
title = "T"
publisher = "P"
date = 2024-01-02
[[clauses]]
id = "c"
text = "more than 5 cars on 2024-01-01"
kind = "more_than"
threshold = 5
date = "2024-01-01"
sources = ["s"]
"""
    p = tmp_path / "mini.toml"
    p.write_text(text, encoding="utf-8")
    c = load_claim(p)
    assert c.id == "mini" and c.origin == str(p)
    assert c.clause("c").date == D(2024, 1, 1)
    assert c.site.bbox == (10.0, 50.0, 10.1, 50.1)
    assert c.site.lon == pytest.approx(10.05)


def _minimal(**clause):
    base = {"id": "c", "text": "t", "kind": "more_than", "threshold": 5, "date": "2024-01-01"}
    base.update(clause)
    base = {k: v for k, v in base.items() if v is not None}
    return {"id": "x", "title": "X", "site": {"name": "S", "bbox": [0, 0, 1, 1]}, "clauses": [base]}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "fewer_than"}, "kind must be one of"),
        ({"threshold": None}, "needs threshold"),
        ({"treshold": 5}, "unknown key(s) treshold"),
        ({"tolerance": 0.1}, "tolerance is not used by kind more_than"),
        ({"value": 3}, "value is not used by kind more_than"),
        ({"date": "5 Oct 2023"}, "must be a date"),
        ({"date": None}, "give either date"),
        ({"start": "2020-01-01", "end": "2021-01-01"}, "give either date"),
        ({"date": None, "start": "2021-01-01", "end": "2020-01-01"}, "is after its end"),
        ({"date": None, "start": "2021-01-01"}, "both start and end"),
        ({"date_tolerance_days": -1}, "date_tolerance_days"),
        ({"sources": ["nobody"]}, "unknown source id(s) nobody"),
        ({"kind": "approximately", "threshold": None, "value": 10, "tolerance": 1.5}, "tolerance is a fraction"),
        ({"kind": "increase", "threshold": None, "min_ratio": 2}, "needs date (the later count) and start/end"),
        ({"kind": "increase", "threshold": None, "min_ratio": 2, "start": "2023-01-01", "end": "2024-01-01"},
         "must end before"),
    ],
)
def test_malformed_clauses_raise_claim_error_naming_the_problem(change, message):
    with pytest.raises(ClaimError, match="clauses\\[0\\]") as info:
        parse_claim(_minimal(**change), origin="test.toml")
    assert message in str(info.value)
    assert "test.toml" in str(info.value)


def test_malformed_claims_raise_claim_error():
    good = _minimal()
    with pytest.raises(ClaimError, match="site.bbox"):
        parse_claim({**good, "site": {"name": "S", "bbox": [1, 0, 0, 1]}})
    with pytest.raises(ClaimError, match="missing \\[site\\]"):
        parse_claim({k: v for k, v in good.items() if k != "site"})
    with pytest.raises(ClaimError, match="no \\[\\[clauses\\]\\]"):
        parse_claim({**good, "clauses": []})
    with pytest.raises(ClaimError, match="used twice"):
        parse_claim({**good, "clauses": good["clauses"] * 2})
    with pytest.raises(ClaimError, match="site.key"):
        parse_claim({**good, "site": {"name": "S", "key": "no-such-site"}})


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ClaimError, match="does not exist.*tumangang_2023"):
        load_claim(tmp_path / "nope.toml")
    with pytest.raises(ClaimError, match="does not exist"):
        load_claim("no_such_claim")
    bad = tmp_path / "bad.toml"
    bad.write_text("id = [unclosed", encoding="utf-8")
    with pytest.raises(ClaimError, match="not valid TOML"):
        load_claim(bad)
    # One hierarchy: a ClaimError is a RailcountError and a ValueError.
    assert issubclass(ClaimError, RailcountError) and issubclass(ClaimError, ValueError)


# --------------------------------------------------------------------------- more_than


@pytest.mark.parametrize(
    "low, high, expected, phrase",
    [
        (72, 77, "supported", "the whole interval is above 70"),
        (71, 75, "supported", "above 70"),  # "more than 70" is 71 or more
        (70, 76, "inconclusive", "the interval 70-76 straddles the threshold 70"),
        (66, 76, "inconclusive", "the interval 66-76 straddles the threshold 70"),
        (60, 70, "contradicted", "at or below 70"),
        (40, 50, "contradicted", "at or below 70"),
    ],
)
def test_more_than(claim, low, high, expected, phrase):
    count = (low + high) // 2
    v = verdict(claim, "reported", [obs(count, low, high, D(2023, 10, 5))])
    assert v.verdict == expected
    assert phrase in v.reason
    assert f"count {count} (90% interval {low}-{high}) on 2023-10-05" in v.reason
    assert v.counts_used[0].count == count
    assert v.note == ""


def test_date_off_within_tolerance_is_used_and_said(claim):
    v = verdict(claim, "reported", [obs(74, 72, 77, D(2023, 10, 7))])
    assert v.verdict == "supported"
    assert "the date is off by 2 day(s)" in v.reason
    assert "2023-10-07 (after 2023-10-05)" in v.reason


def test_nearest_date_wins(claim):
    near = obs(74, 72, 77, D(2023, 10, 4))
    far = obs(30, 25, 35, D(2023, 10, 2))
    v = verdict(claim, "reported", [far, near])
    assert v.verdict == "supported"
    assert v.counts_used == (near,)
    assert "off by 1 day(s)" in v.reason


def test_no_imagery_near_the_date_is_inconclusive_with_the_nearest(claim):
    v = verdict(claim, "reported", [obs(74, 72, 77, D(2023, 10, 10)), obs(10, 8, 12, D(2021, 1, 1))])
    assert v.verdict == "inconclusive"
    assert v.reason.startswith("no imagery within 3 days of 2023-10-05; nearest is 5 days off (2023-10-10)")
    assert v.counts_used == ()
    v = verdict(claim, "reported", [])
    assert v.verdict == "inconclusive" and "no dated imagery" in v.reason


def test_same_date_counts_that_disagree_are_inconclusive(claim):
    v = verdict(claim, "reported", [obs(74, 72, 77, D(2023, 10, 5), name="a.tif"),
                                    obs(50, 45, 55, D(2023, 10, 5), name="b.tif")])
    assert v.verdict == "inconclusive"
    assert "counts of the same date disagree" in v.reason
    assert len(v.counts_used) == 2


def test_too_coarse_imagery_is_inconclusive(claim):
    v = verdict(claim, "reported", [obs(80, 75, 85, D(2023, 10, 5), gsd=10.0)])
    assert v.verdict == "inconclusive"
    assert "too coarse to count railcars (GSD 10 m" in v.reason
    # A fine image next to the coarse one is used; the coarse one is mentioned.
    v = verdict(claim, "reported", [obs(80, 75, 85, D(2023, 10, 5), gsd=10.0),
                                    obs(74, 72, 77, D(2023, 10, 6))])
    assert v.verdict == "supported"
    assert "1 image(s) near 2023-10-05 ignored as too coarse" in v.reason


def test_estimates_support_only_when_the_interval_clears_and_say_so(claim):
    v = verdict(claim, "reported", [obs(80, 72, 90, D(2023, 10, 5), gsd=1.5, mode="estimate")])
    assert v.verdict == "supported"
    assert "an estimate from occupied track length at 1.5 m GSD" in v.reason
    v = verdict(claim, "reported", [obs(75, 60, 90, D(2023, 10, 5), gsd=1.5, mode="estimate")])
    assert v.verdict == "inconclusive"
    assert "straddles the threshold 70" in v.reason and "estimate" in v.reason


# --------------------------------------------------------------------------- site screening


def test_counts_outside_the_site_are_ignored(claim):
    v = verdict(claim, "reported", [obs(74, 72, 77, D(2023, 10, 5), bounds=ELSEWHERE, name="khasan.tif")])
    assert v.verdict == "inconclusive"
    assert "1 count(s) outside the site ignored (khasan.tif)" in v.reason


def test_partial_coverage_makes_a_lower_bound(claim):
    part = obs(74, 72, 77, D(2023, 10, 5), bounds=QUARTER, name="part.tif")
    # A lower bound above 70 still shows "more than 70" ...
    v = verdict(claim, "reported", [part])
    assert v.verdict == "supported"
    assert "part.tif covers only 25% of the site: its count is a lower bound" in v.reason
    # ... but can never show "about 73" (the rest of the site may hold more).
    v = verdict(claim, "about_73", [part])
    assert v.verdict == "inconclusive"
    assert "72-inf" in v.reason
    # A partial count below the baseline limit says nothing; above it, it contradicts.
    v = verdict(claim, "baseline", [obs(10, 8, 12, D(2020, 1, 1), bounds=QUARTER)])
    assert v.verdict == "inconclusive"
    assert "lower bound" in v.reason
    v = verdict(claim, "baseline", [obs(40, 35, 45, D(2020, 1, 1), bounds=QUARTER)])
    assert v.verdict == "contradicted"


def test_unlocated_and_undated_counts(claim):
    v = verdict(claim, "reported", [obs(74, 72, 77, D(2023, 10, 5), bounds=None, name="pic.png")])
    assert v.verdict == "supported"
    assert "location not verified for pic.png (no georeference)" in v.reason
    undated = Observation("nodate.tif", 74, 72, 77, gsd=0.5, bounds_lonlat=COVERS)
    v = verdict(claim, "reported", [undated])
    assert v.verdict == "inconclusive"
    assert "1 undated count(s) ignored (nodate.tif)" in v.reason


# --------------------------------------------------------------------------- at_most (window)


def test_baseline_supported_when_every_count_stays_under_the_limit(claim):
    counts = [obs(12, 10, 14, D(2019, 6, 1)), obs(18, 15, 22, D(2021, 5, 1)), obs(9, 7, 11, D(2023, 8, 1))]
    v = verdict(claim, "baseline", counts)
    assert v.verdict == "supported"
    assert "all 3 count(s) in 2018-10-05..2023-09-12 support it" in v.reason
    assert "count 18 (90% interval 15-22) on 2021-05-01" in v.reason  # the highest is named
    assert "stays at or below 22 (about 20 + 10%)" in v.reason
    assert "dates not imaged are not covered" in v.reason
    assert len(v.counts_used) == 3


def test_baseline_ignores_counts_outside_its_window(claim):
    # The 2023-10-05 count (73 cars) lies after the window and must not contradict it.
    v = verdict(claim, "baseline", [obs(12, 10, 14, D(2019, 6, 1)), obs(73, 70, 77, D(2023, 10, 5))])
    assert v.verdict == "supported"
    assert [o.date for o in v.counts_used] == [D(2019, 6, 1)]


def test_baseline_contradicted_by_any_count_over_the_limit(claim):
    counts = [obs(12, 10, 14, D(2019, 6, 1)), obs(35, 30, 40, D(2020, 3, 3))]
    v = verdict(claim, "baseline", counts)
    assert v.verdict == "contradicted"
    assert "1 of 2 count(s)" in v.reason
    assert "count 35 (90% interval 30-40) on 2020-03-03: the whole interval exceeds 22" in v.reason


def test_baseline_straddling_the_limit_is_inconclusive(claim):
    v = verdict(claim, "baseline", [obs(12, 10, 14, D(2019, 6, 1)), obs(21, 18, 25, D(2020, 3, 3))])
    assert v.verdict == "inconclusive"
    assert "the interval 18-25 straddles the limit 22" in v.reason


def test_baseline_without_imagery_in_the_window(claim):
    v = verdict(claim, "baseline", [obs(73, 70, 77, D(2023, 10, 5))])
    assert v.verdict == "inconclusive"
    assert v.reason.startswith("no imagery in 2018-10-05..2023-09-12 (1 dated count(s) fall outside it)")


# --------------------------------------------------------------------------- approximately


@pytest.mark.parametrize(
    "low, high, expected, phrase",
    [
        (70, 77, "supported", "the interval lies within 66-80 (73 ± 10%)"),
        (66, 80, "supported", "lies within 66-80"),
        (65, 80, "inconclusive", "the interval 65-80 overlaps 66-80 (73 ± 10%) but reaches beyond it"),
        (60, 90, "inconclusive", "reaches beyond"),
        (40, 60, "contradicted", "the interval 40-60 lies outside 66-80"),
        (85, 95, "contradicted", "lies outside"),
    ],
)
def test_approximately(claim, low, high, expected, phrase):
    v = verdict(claim, "about_73", [obs((low + high) // 2, low, high, D(2023, 10, 5))])
    assert v.verdict == expected
    assert phrase in v.reason


# --------------------------------------------------------------------------- increase


def test_increase_supported_against_the_highest_earlier_count(claim):
    counts = [obs(12, 10, 14, D(2019, 6, 1)), obs(18, 15, 21, D(2021, 5, 1)), obs(74, 72, 77, D(2023, 10, 5))]
    chk = check_claim(claim, counts)
    v = chk.verdict("unprecedented")
    assert v.verdict == "supported"
    assert "against the highest of 2 earlier count(s)" in v.reason
    assert "count 18 (90% interval 15-21) on 2021-05-01: ratio 3.43-5.13, above 1" in v.reason
    assert len(v.counts_used) == 3
    assert chk.verdict("tripled").verdict == "supported"  # 72 / 21 = 3.43 > 3


def test_increase_inconclusive_and_contradicted(claim):
    after = obs(74, 72, 77, D(2023, 10, 5))
    # 72/26 = 2.77 .. 77/22 = 3.5: straddles 3, but clearly above 1.
    chk = check_claim(claim, [obs(24, 22, 26, D(2022, 1, 1)), after])
    assert chk.verdict("unprecedented").verdict == "supported"
    v = chk.verdict("tripled")
    assert v.verdict == "inconclusive"
    assert "ratio 2.77-3.50 straddles 3" in v.reason
    # An earlier count as high as the later one contradicts "unprecedented".
    chk = check_claim(claim, [obs(85, 80, 90, D(2019, 1, 1)), after])
    v = chk.verdict("unprecedented")
    assert v.verdict == "contradicted"
    assert "not above 1" in v.reason
    assert chk.verdict("tripled").verdict == "contradicted"


def test_increase_without_earlier_counts_is_inconclusive(claim):
    v = verdict(claim, "unprecedented", [obs(74, 72, 77, D(2023, 10, 5))])
    assert v.verdict == "inconclusive"
    assert "no imagery in 2018-10-05..2023-09-12" in v.reason
    v = verdict(claim, "unprecedented", [obs(12, 10, 14, D(2019, 6, 1))])
    assert v.verdict == "inconclusive"
    assert "2023-10-05" in v.reason


def test_increase_with_a_zero_baseline(claim):
    v = verdict(claim, "tripled", [obs(0, 0, 2, D(2020, 1, 1)), obs(74, 72, 77, D(2023, 10, 5))])
    assert v.verdict == "supported"
    assert "ratio 36.00-inf" in v.reason


# --------------------------------------------------------------------------- simulated, results, types


def test_simulated_counts_carry_the_note(claim):
    counts = [obs(12, 10, 14, D(2019, 6, 1), simulated=True), obs(74, 72, 77, D(2023, 10, 5), simulated=True)]
    chk = check_claim(claim, counts)
    assert chk.simulated
    assert all(v.note == SIMULATED_NOTE for v in chk.verdicts if v.counts_used)
    assert chk.verdict("reported").verdict == "supported"  # the verdict itself is unchanged
    assert "SIMULATED imagery: this verdict demonstrates the method" in chk.verdict("reported").line()
    assert chk.lines()[0].startswith("*** SIMULATED imagery")
    d = chk.to_dict()
    assert d["simulated"] is True and "SIMULATED" in d["note"]
    assert d["verdicts"][1]["simulated"] is True


def test_real_counts_have_no_simulated_note(claim):
    chk = check_claim(claim, [obs(74, 72, 77, D(2023, 10, 5))])
    assert not chk.simulated
    assert all(v.note == "" for v in chk.verdicts)
    assert not any("SIMULATED" in line for line in chk.lines())


def test_a_simulated_count_used_marks_only_the_verdicts_resting_on_it(claim):
    counts = [obs(12, 10, 14, D(2019, 6, 1), simulated=True), obs(74, 72, 77, D(2023, 10, 5))]
    chk = check_claim(claim, counts)
    assert chk.simulated
    assert chk.verdict("reported").note == ""
    assert chk.verdict("baseline").note == SIMULATED_NOTE
    assert chk.verdict("unprecedented").note == SIMULATED_NOTE


def test_check_accepts_scan_results_and_returns_frozen_json_ready_results(claim):
    r = ScanResult("after.tif", 74, 72, 77, "individual", 0.5, date=D(2023, 10, 5), bounds_lonlat=COVERS)
    chk = check_claim(claim, [r])
    assert isinstance(chk, ClaimCheck)
    v = chk.verdict("reported")
    assert isinstance(v, ClauseVerdict) and v.verdict == "supported"
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.verdict = "contradicted"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        chk.simulated = True  # type: ignore[misc]
    d = json.loads(json.dumps(chk.to_dict()))
    assert [x["clause_id"] for x in d["verdicts"]] == [c.id for c in claim.clauses]
    assert {x["verdict"] for x in d["verdicts"]} <= {"supported", "contradicted", "inconclusive"}
    assert d["verdicts"][1]["counts_used"][0]["count"] == 74
    line = v.line()
    assert line.startswith("SUPPORTED ") and "reported: more than 70 railcars on 2023-10-05 — count 74" in line


def test_observation_rejects_an_interval_that_excludes_the_count():
    with pytest.raises(ValueError, match="count_low <= count <= count_high"):
        Observation("x.tif", 10, 11, 12)
    assert math.isnan(Observation("x.tif", 1, 0, 2).gsd)
