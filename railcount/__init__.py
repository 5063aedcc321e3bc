"""railcount: count railcars in overhead imagery and check claims about rail traffic."""

from __future__ import annotations

from .errors import RailcountError
from .results import Detection, ScanResult

__version__ = "0.1.0"

__all__ = ["RailcountError", "Detection", "ScanResult", "__version__"]
