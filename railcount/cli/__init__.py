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
        return sorted(name for name in _COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[name]
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name == f"{__name__}.{module}":
                return None
            raise
        return getattr(mod, attr, None)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except RailcountError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.Abort() from None


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
