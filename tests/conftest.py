"""Shared fixtures. Tests that read ``../shared`` skip cleanly where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL = SHARED / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """``../shared/real``: real imagery for development (skips when absent)."""
    if not REAL.is_dir():
        pytest.skip("../shared/real is not present in this checkout")
    return REAL


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled (simulated) sample tiles."""
    return ROOT / "sample_tiles"
