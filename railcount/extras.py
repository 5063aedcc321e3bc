"""Optional dependencies: what only some commands need is an extra, named when missing.

The core install (``pip install railcount``) scans, compares, checks claims,
plots and simulates. The rest comes with extras:

========== ================================================= =========================
extra      needed for                                        packages
========== ================================================= =========================
fetch      ``railcount fetch`` (web-map tiles, STAC items)   requests, pystac-client,
                                                             mercantile, xyzservices
batch      ``railcount batch`` (GeoParquet, Dask clusters)   pyarrow, dask[distributed]
train      ``make train`` (fitting the detector's models)    scikit-learn
notebooks  the notebooks in ``notebooks/``                   jupyterlab, pandas
========== ================================================= =========================

:func:`require` imports an optional module or raises
:class:`~railcount.errors.MissingExtraError` with a one-line message naming the
extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

__all__ = ["require", "EXTRAS"]

#: The extras and the top-level modules each provides.
EXTRAS: dict[str, tuple[str, ...]] = {
    "fetch": ("requests", "pystac_client", "mercantile", "xyzservices"),
    "batch": ("pyarrow", "distributed"),
    "train": ("sklearn",),
    "notebooks": ("jupyterlab", "pandas"),
}


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import an optional module, or say which extra brings it.

    Parameters
    ----------
    module : str
        The module to import (e.g. ``"pyarrow.parquet"``).
    extra : str
        The extra of railcount that installs it (a key of :data:`EXTRAS`).
    feature : str
        What needs it, for the message (e.g. ``"GeoParquet output"``).

    Returns
    -------
    module

    Raises
    ------
    MissingExtraError
        If the module cannot be imported: ``"GeoParquet output needs
        railcount's 'batch' extra (pyarrow is not installed): pip install
        'railcount[batch]'"``.

    Examples
    --------
    >>> require("json", extra="fetch", feature="nothing").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = (exc.name or module).split(".")[0]
        raise MissingExtraError(
            f"{feature} needs railcount's '{extra}' extra ({missing} is not installed): "
            f"pip install 'railcount[{extra}]'") from None
