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
