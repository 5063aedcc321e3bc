"""What the name of a raster source says: local or remote, its file name, the list to open.

Pure string handling; nothing here opens a file.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from typing import Sequence, Union

from ..errors import InputError

__all__ = ["SourceLike", "Sources", "is_remote", "basename", "as_names"]

#: A raster source: a local path or a URL (``http(s)://``, ``s3://``, ``/vsi...``).
SourceLike = Union[str, "os.PathLike[str]"]
#: What the loader accepts: one source, or single-band sources to stack.
Sources = Union[SourceLike, Sequence[SourceLike]]

_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def is_remote(name: str) -> bool:
    """True for a URL (``scheme://...``) or a GDAL virtual path (``/vsi...``)."""
    return bool(_URL_RE.match(name)) or name.startswith("/vsi")


def basename(name: str) -> str:
    """The file name of a path or URL (a URL's last path segment, unquoted)."""
    if _URL_RE.match(name):
        return urllib.parse.unquote(urllib.parse.urlsplit(name).path.rsplit("/", 1)[-1])
    return os.path.basename(name)


def as_names(source: Sources) -> list[str]:
    """Turn one source or a sequence of sources into a non-empty list of strings.

    Raises
    ------
    InputError
        If a source is not a path or URL, or the list is empty.
    """
    if isinstance(source, (str, os.PathLike)):
        names = [os.fspath(source)]
    else:
        try:
            names = [os.fspath(s) for s in source]
        except TypeError:
            raise InputError(f"source must be a path, a URL or a list of paths, got {source!r}") from None
        if not names:
            raise InputError("no raster given: the list of files to stack is empty")
    for n in names:
        if not isinstance(n, str) or not n.strip():
            raise InputError(f"source must be a path or a URL, got {n!r}")
    return names
