"""The command group: every listed command loads, a missing one is an error, not an omission."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import railcount.cli as cli_mod
from railcount.cli import cli, load_command


def test_every_command_is_listed_and_loads():
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0, r.output
    for name in cli_mod._COMMANDS:
        assert load_command(name).name == name or name == "series"
        assert f"  {name}" in r.output


def test_a_missing_command_module_is_an_error(monkeypatch):
    monkeypatch.setitem(cli_mod._COMMANDS, "ghost", ("no_such_module", "ghost"))
    with pytest.raises(RuntimeError, match="command 'ghost' is broken: its module railcount.cli.no_such_module "
                                           "is missing"):
        load_command("ghost")
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code != 0 and isinstance(r.exception, RuntimeError)


def test_a_module_without_its_command_is_an_error(monkeypatch):
    monkeypatch.setitem(cli_mod._COMMANDS, "ghost", ("info", "ghost"))
    with pytest.raises(RuntimeError, match="defines no command 'ghost'"):
        load_command("ghost")


def test_unknown_command_is_a_usage_error():
    r = CliRunner().invoke(cli, ["frobnicate"])
    assert r.exit_code == 2 and "No such command" in r.output


def test_a_missing_extra_is_named_in_one_line(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "mercantile", None)  # as if not installed
    r = CliRunner().invoke(cli, ["fetch", "xyz", "--bbox", "130.603", "42.418", "130.613", "42.425", "--zoom", "16",
                                 "--url", "http://127.0.0.1:9/{z}/{x}/{y}.png", "--out", str(tmp_path / "t.tif")])
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        "Error: web-map tile maths needs railcount's 'fetch' extra (mercantile is not installed): "
        "pip install 'railcount[fetch]'"]
    assert list(tmp_path.iterdir()) == []


def test_batch_names_its_extra_before_scanning(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    m = tmp_path / "m.csv"
    m.write_text("tile\na.tif\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["batch", str(m), "--out", str(tmp_path / "r.csv")])
    assert r.exit_code == 1
    assert r.output.strip() == ("Error: GeoParquet output (or give --out X.geojson) needs railcount's 'batch' "
                                "extra (pyarrow is not installed): pip install 'railcount[batch]'")
