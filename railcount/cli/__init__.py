"""The ``railcount`` command line: a thin shell over the library.

Each command lives in its own module of this package and is registered on the
:data:`cli` group below. Library errors (:class:`railcount.errors.RailcountError`)
are turned into one-line messages and a non-zero exit here, at one boundary.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from ..errors import RailcountError

#: (module, command name) of every subcommand; modules are imported lazily so
#: that ``railcount --help`` stays fast.
_COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("info", "info"),
    "simulate": ("simulate", "simulate"),
    "scan": ("scan", "scan"),
    "tracks": ("tracks", "tracks"),
    "compare": ("compare", "compare"),
    "series": ("compare", "series"),
    "demo": ("demo", "demo"),
    "batch": ("batch", "batch"),
    "fetch": ("fetch", "fetch"),
}


class _Group(click.Group):
    """A click group that loads commands lazily and maps library errors to CLI errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        return load_command(name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RailcountError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.Abort() from None


def load_command(name: str) -> click.Command:
    """Import the module of the command ``name`` and return the command.

    A command listed in :data:`_COMMANDS` whose module or function is missing
    is a broken installation, not a command to leave out: it raises.

    Raises
    ------
    KeyError
        If ``name`` is not a railcount command.
    RuntimeError
        If its module cannot be imported or does not define it.
    """
    module, attr = _COMMANDS[name]
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{module}":
            raise RuntimeError(f"railcount command '{name}' is broken: its module {exc.name} is missing; "
                               "reinstall railcount") from exc
        raise
    command = getattr(mod, attr, None)
    if not isinstance(command, click.Command):
        raise RuntimeError(f"railcount command '{name}' is broken: {mod.__name__} defines no command "
                           f"'{attr}'; reinstall railcount")
    return command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="railcount")
def cli(verbose: int, quiet: bool) -> None:
    """Count railcars in overhead imagery and check claims about rail traffic.

    \b
    Start here:
      railcount info TILE.tif           what a raster holds and what its GSD allows
      railcount scan TILE.tif           count the railcars in it
      railcount demo                    the Tumangang claim on the bundled
                                        (SIMULATED) sample tiles
    Every command has --help.
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main() -> None:
    """Entry point of the ``railcount`` console script."""
    cli(prog_name="railcount")
