"""Chromium for the browser tests: Debian's package, launched headless and offline.

Without ``/usr/bin/chromium`` the tests skip with the reason; with ``ALCHEMISER_REQUIRE_BROWSER=1`` (set by
``.ci/run``, which installs it) they fail instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("ALCHEMISER_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


def require_browser() -> Path:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ALCHEMISER_CHROMIUM)"
    if os.environ.get("ALCHEMISER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required (ALCHEMISER_REQUIRE_BROWSER=1) but there is {reason}")
    pytest.skip(reason)
