"""The one exception hierarchy of railcount.

Every bad input a user can give ends in one of these exceptions, with a
message that says what was wrong and what to do about it. The command-line
interface prints the message on one line and exits non-zero.

Where a builtin fits, the class inherits it too, so that callers may catch
either (``except OSError`` catches :class:`TileReadError`).
"""

from __future__ import annotations

__all__ = [
    "RailcountError",
    "TileReadError",
    "TileNotFoundError",
    "UnsupportedRasterError",
    "GeoreferenceError",
    "AOIError",
    "NoDataError",
    "GSDError",
    "ResolutionTooCoarseError",
    "OutputError",
    "FetchError",
    "FetchRequestError",
    "ClaimError",
    "ManifestError",
    "InputError",
    "MissingExtraError",
    "one_line",
]


class RailcountError(Exception):
    """Root of every error railcount raises on purpose."""


class TileReadError(RailcountError, OSError):
    """A raster could not be read: corrupt, truncated, not a raster, or unreachable."""


class TileNotFoundError(TileReadError, FileNotFoundError):
    """A raster path does not exist."""


class UnsupportedRasterError(RailcountError, ValueError):
    """A raster can be read but railcount cannot use it (e.g. band count, dtype)."""


class GeoreferenceError(RailcountError, ValueError):
    """A raster has no georeference and no ground sample distance was given."""


class AOIError(RailcountError, ValueError):
    """An area of interest is malformed or does not overlap the raster."""


class NoDataError(RailcountError, ValueError):
    """The requested pixels are all nodata."""


class GSDError(RailcountError, ValueError):
    """A ground sample distance is zero, negative, or absurd."""


class ResolutionTooCoarseError(GSDError):
    """The imagery is too coarse for railcars to be counted."""


class OutputError(RailcountError, OSError):
    """An output file could not be written."""


class FetchError(RailcountError, OSError):
    """Imagery could not be fetched from a remote server."""


class FetchRequestError(RailcountError, ValueError):
    """A fetch request is invalid before any download: unknown provider, bad URL
    template or API address, zoom or date range out of range, or an area that
    needs more tiles or pixels than allowed."""


class ClaimError(RailcountError, ValueError):
    """A claim file is malformed."""


class ManifestError(RailcountError, ValueError):
    """A batch manifest is malformed."""


class InputError(RailcountError, ValueError):
    """A value or small input file the user gave is malformed.

    E.g. a date that is not ``YYYY-MM-DD``, a window size, or a GeoJSON file
    that is missing or cannot be parsed.
    """


class MissingExtraError(RailcountError, ImportError):
    """A feature needs an optional dependency that is not installed.

    The message names the extra to install, e.g. ``pip install 'railcount[fetch]'``.
    """


def one_line(message: object, *, limit: int | None = None) -> str:
    """Return a message (or an exception's) on one line, without a trailing full stop.

    Parameters
    ----------
    message : object
        Text, or an exception (its type's name stands in for an empty message).
    limit : int, optional
        Cut the result to at most this many characters (ending with ``...``).

    Examples
    --------
    >>> one_line("no such file:  a.tif.")
    'no such file: a.tif'
    """
    text = " ".join(str(message).split()).rstrip(".")
    if not text and isinstance(message, BaseException):
        text = type(message).__name__
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 3)] + "..."
    return text
