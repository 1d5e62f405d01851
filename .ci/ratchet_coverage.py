"""Raise ``.ci/coverage-floor`` to the total of the last coverage run (``.coverage``); never lower it."""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import coverage

FLOOR = Path(__file__).with_name("coverage-floor")


def main() -> int:
    cov = coverage.Coverage()
    cov.load()
    total = cov.report(file=io.StringIO())  # the table is not needed, only the total
    current = float(FLOOR.read_text().strip() or 0) if FLOOR.exists() else 0.0
    proposed = math.floor(total)
    if proposed > current:
        FLOOR.write_text(f"{proposed}\n")
        print(f"coverage floor raised {current:g} -> {proposed}")
    else:
        print(f"coverage floor stays at {current:g} (measured {total:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
