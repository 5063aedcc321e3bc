"""The named sites and claims: those bundled with railcount and the user's own files.

The files are read through :mod:`railcount.io` and parsed by the pure
:func:`railcount.sites.parse_sites` and :func:`railcount.claims.parse_claim`;
this module joins the two, so that neither :mod:`railcount.claims` nor the I/O
layer depends on the other.

Examples
--------
>>> from railcount.catalog import get_site, load_claim
>>> get_site("tumangang", env={}).bbox
(130.6056, 42.4202, 130.6106, 42.4226)
>>> [c.id for c in load_claim("tumangang_2023").clauses][:3]
['baseline', 'reported', 'about_73']
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Iterable, Mapping

from . import io
from .claims import Claim, parse_claim
from .errors import AOIError, ClaimError
from .sites import BUILT_IN, SITES_ENV, Site, parse_sites

__all__ = ["load_sites", "get_site", "load_claim", "bundled_claims", "DEFAULT_CLAIM"]

logger = logging.getLogger(__name__)

#: Claim loaded when none is named.
DEFAULT_CLAIM = "tumangang_2023"


# --------------------------------------------------------------------------- sites


def load_sites(extra: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
               *, env: Mapping[str, str] | None = None) -> dict[str, Site]:
    """Load the named sites: built-ins, then the user's files merged over them.

    Parameters
    ----------
    extra : path-like or iterable of path-like, optional
        The user's own site file(s) (``--sites FILE``); read last, so they win.
    env : mapping, optional
        Environment to read ``RAILCOUNT_SITES`` from (default :data:`os.environ`).

    Returns
    -------
    dict of str to Site
        Keyed by lower-case site name, built-ins first.

    Raises
    ------
    AOIError
        If a site file is missing, not TOML, or has a malformed site.

    Examples
    --------
    >>> sites = load_sites(env={})
    >>> sites["tumangang"].bbox
    (130.6056, 42.4202, 130.6106, 42.4226)
    """
    env = os.environ if env is None else env
    sites = parse_sites(io.read_data_text("sites.toml") or "", BUILT_IN)
    files: list[str | os.PathLike[str]] = [f for f in env.get(SITES_ENV, "").split(os.pathsep) if f.strip()]
    if extra is not None:
        if isinstance(extra, (str, os.PathLike)):
            files.append(extra)
        else:
            files.extend(extra)
    for f in files:
        p = Path(f).expanduser()
        text = io.read_text(p, what="sites file", hint=f"check the path given with --sites or {SITES_ENV}",
                            error=AOIError)
        for key, site in parse_sites(text, str(p)).items():
            if key in sites:
                logger.info("site '%s' from %s replaces the one from %s", key, site.source, sites[key].source)
            sites[key] = site
    return sites


def get_site(name: str, *, extra: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
             env: Mapping[str, str] | None = None) -> Site:
    """Look up one site by name (case-insensitive), as :func:`load_sites` finds them.

    Raises
    ------
    AOIError
        If no site has that name; the message lists the known ones.
    """
    sites = load_sites(extra, env=env)
    key = name.strip().lower()
    if key not in sites:
        raise AOIError(f"unknown site '{name}'; known sites: {', '.join(sorted(sites))}. "
                       f"Add your own in a TOML file given with --sites or {SITES_ENV}, or use --bbox")
    return sites[key]


# --------------------------------------------------------------------------- claims


def bundled_claims() -> list[str]:
    """Names of the claims bundled with railcount (e.g. ``["tumangang_2023"]``)."""
    names = []
    for file_name in io.data_names(".toml"):
        try:
            data = tomllib.loads(io.read_data_text(file_name) or "")
        except tomllib.TOMLDecodeError:
            continue
        if "clauses" in data:
            names.append(file_name[: -len(".toml")])
    return names


def load_claim(source: str | os.PathLike[str] = DEFAULT_CLAIM) -> Claim:
    """Load a claim from a TOML file, or one bundled with railcount by name.

    Parameters
    ----------
    source : path-like or str, default "tumangang_2023"
        A claim file, or the name of a bundled claim (see
        :func:`bundled_claims`). A path that exists wins over a bundled name.

    Returns
    -------
    Claim
        A ``site.key`` in the file takes the site from the built-in registry
        (the user's ``RAILCOUNT_SITES`` files are not read, so that a claim
        means the same for everyone).

    Raises
    ------
    ClaimError
        If the file does not exist (and no bundled claim has that name),
        cannot be read, is not TOML, or is not a valid claim.

    Examples
    --------
    >>> claim = load_claim("tumangang_2023")
    >>> [c.id for c in claim.clauses][:3]
    ['baseline', 'reported', 'about_73']
    """
    path = Path(source)
    if path.is_file():
        text = io.read_text(path, what="claim file", error=ClaimError)
        origin = str(path)
    else:
        name = str(source)
        bundled_text = None if name.endswith(".toml") else io.read_data_text(f"{name}.toml")
        if bundled_text is None:
            bundled = ", ".join(bundled_claims()) or "none"
            raise ClaimError(
                f"claim file {source} does not exist; give a path to a claim TOML file "
                f"or the name of a bundled claim ({bundled})"
            )
        text, origin = bundled_text, f"bundled:{name}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClaimError(f"claim file {origin} is not valid TOML: {exc}") from None
    return parse_claim(data, origin=origin, sites=load_sites(env={}))
