"""The named-site registry: built-ins, user files merged over them, and malformed files."""

from __future__ import annotations

import math
import os
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from railcount.catalog import get_site, load_sites
from railcount.errors import AOIError
from railcount.geo import validate_bbox
from railcount.sites import Site

ROOT = Path(__file__).resolve().parents[1]
NO_ENV: dict[str, str] = {}


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points, km."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def inside(point: tuple[float, float], bbox: tuple[float, float, float, float]) -> bool:
    return bbox[0] <= point[0] <= bbox[2] and bbox[1] <= point[1] <= bbox[3]


def test_builtin_sites_are_where_the_claim_says() -> None:
    sites = load_sites(env=NO_ENV)
    assert {"tumangang", "khasan", "tumen-bridge"} <= set(sites)
    tumangang, khasan, bridge = sites["tumangang"], sites["khasan"], sites["tumen-bridge"]
    station = (130.6081, 42.4214)
    assert inside(station, tumangang.bbox)
    # not a whole county: the yard box is a couple of km across at most
    w, s, e, n = tumangang.bbox
    assert km((w, s), (e, s)) < 3 and km((w, s), (w, n)) < 3
    # Khasan is across the river, a few km away; the bridge lies east of Tumangang, between the two
    assert 2 < km(station, khasan.center) < 6
    assert not inside(station, khasan.bbox)
    assert bridge.center[0] > station[0] and km(station, bridge.center) < km(station, khasan.center) + 1
    for site in sites.values():
        assert site.source == "built-in" and site.title and site.note
        assert isinstance(site, Site)


def test_package_data_is_the_source_of_truth() -> None:
    packaged = resources.files("railcount").joinpath("data", "sites.toml")
    assert packaged.is_file()
    seeds = ROOT / "seeds" / "sites.toml"
    if seeds.exists():  # a copy, if any, must not drift
        assert seeds.read_text(encoding="utf-8") == packaged.read_text(encoding="utf-8")


def test_user_file_merges_over_builtins(tmp_path: Path) -> None:
    user = tmp_path / "mine.toml"
    user.write_text(
        '[sites.Tumangang]\ntitle = "Just the station"\nbbox = [130.605, 42.419, 130.611, 42.424]\n'
        '[sites.my-yard]\nbbox = [8.60, 47.52, 8.62, 47.53]\nnote = "Muttenz"\n', encoding="utf-8")
    sites = load_sites(user, env=NO_ENV)
    assert sites["tumangang"].title == "Just the station"
    assert sites["tumangang"].bbox == (130.605, 42.419, 130.611, 42.424)
    assert sites["tumangang"].source == str(user)
    assert sites["my-yard"].note == "Muttenz" and sites["my-yard"].title == "my-yard"
    assert sites["khasan"].source == "built-in"


def test_environment_variable_and_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('[sites.x]\ntitle = "from a"\nbbox = [1, 1, 2, 2]\n', encoding="utf-8")
    b.write_text('[sites.x]\ntitle = "from b"\nbbox = [1, 1, 2, 2]\n', encoding="utf-8")
    env = {"RAILCOUNT_SITES": f"{a}{os.pathsep}"}
    assert load_sites(env=env)["x"].title == "from a"
    assert load_sites(b, env=env)["x"].title == "from b"  # --sites wins over the variable
    assert get_site("X", env=env).title == "from a"  # names are case-insensitive


@pytest.mark.parametrize("text, message", [
    ("this is not toml", "not valid TOML"),
    ("[other]\nx = 1\n", "no \\[sites.NAME\\]"),
    ("[sites.a]\ntitle = 'no box'\n", "has no bbox"),
    ("[sites.a]\nbbox = [1, 2, 3]\n", "4 numbers"),
    ("[sites.a]\nbbox = ['a', 'b', 'c', 'd']\n", "list of 4 numbers"),
    ("[sites.a]\nbbox = [3, 1, 2, 2]\n", "west .* less than east"),
    ("[sites.a]\nbbox = [1, 2, 2, 1]\n", "south .* less than north"),
    ("[sites.a]\nbbox = [1, 80, 2, 89]\n", "latitudes"),
    ("[sites.a]\nbbox = [1, 1, 200, 2]\n", "longitudes"),
    ("[sites.'../etc']\nbbox = [1, 1, 2, 2]\n", "site name"),
    ("[sites.a]\nbbox = [1, 1, 2, 2]\ntitle = 5\n", "must be strings"),
    ("sites = 3\n", "must be a table"),
])
def test_malformed_site_files(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(AOIError, match=message) as info:
        load_sites(f, env=NO_ENV)
    assert "bad.toml" in str(info.value)


def test_missing_file_and_unknown_site(tmp_path: Path) -> None:
    with pytest.raises(AOIError, match="no such sites file"):
        load_sites(tmp_path / "nope.toml", env=NO_ENV)
    with pytest.raises(AOIError, match="no such sites file"):
        load_sites(env={"RAILCOUNT_SITES": str(tmp_path / "nope.toml")})
    with pytest.raises(AOIError, match="unknown site 'atlantis'.*khasan.*tumangang"):
        get_site("atlantis", env=NO_ENV)


def test_one_bbox_check_for_fetching() -> None:
    assert validate_bbox([1, 2, 3, 4], web_mercator=True) == (1.0, 2.0, 3.0, 4.0)
    for bad in ([1, 2, 3], "abcd", [1, 2, float("inf"), 4], [1, 2, 1, 4], None, [True, 2, 3, 4]):
        with pytest.raises(AOIError):
            validate_bbox(bad, web_mercator=True)
    with pytest.raises(AOIError, match="web-mercator"):
        validate_bbox([1, 80, 2, 89], what="--bbox", web_mercator=True)
    assert validate_bbox([1, 80, 2, 89]) == (1.0, 80.0, 2.0, 89.0)  # fine for an AOI


def test_cli_lists_sites(tmp_path: Path) -> None:
    from railcount.cli import cli

    user = tmp_path / "mine.toml"
    user.write_text('[sites.my-yard]\ntitle = "My yard"\nbbox = [8.60, 47.52, 8.62, 47.53]\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["fetch", "sites", "--sites", str(user)], env={"RAILCOUNT_SITES": ""})
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("tumangang") and "130.6056 42.4202" in lines[0]
    assert any(line.startswith("my-yard") and "My yard" in line for line in lines)
