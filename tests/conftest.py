"""Fixtures shared by every test area.

``../shared`` (reference strategies and real daily bars) sits beside the repository on developer machines and in
CI, never inside it. Tests that need it use the fixtures below: they skip with a clear reason when it is absent
(a user's fresh clone) and fail instead when ``ALCHEMISER_REQUIRE_SHARED=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("ALCHEMISER_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


def _require_shared(sub: str) -> Path:
    path = SHARED_DIR / sub
    if path.exists():
        return path
    reason = f"shared reference data not found at {path} (expected ../shared beside the repository)"
    if os.environ.get("ALCHEMISER_REQUIRE_SHARED") == "1":
        pytest.fail(f"ALCHEMISER_REQUIRE_SHARED=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _require_shared("")


@pytest.fixture(scope="session")
def shared_bars_dir() -> Path:
    """``../shared/data/bars``: real daily bars, one CSV per symbol."""
    return _require_shared("data/bars")


@pytest.fixture(scope="session")
def reference_strategies_dir() -> Path:
    """``../shared/reference/strategies``: real published symphonies (.clj)."""
    return _require_shared("reference/strategies")
