"""Parity report over the reference symphonies: per file, how many dates of the bar folder give an allocation, lie
before the backtestable start, fail closed for want of data — and the engine errors where the allocation is
decidable (must be none).

    PYTHONPATH=. .venv/bin/python benchmarks/symphony_parity.py [--strategies DIR] [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alchemiser.data import CsvBarSource
from alchemiser.dsl import load_symphony, used_symbols
from alchemiser.dsl.availability import date_counts

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", type=Path, default=SHARED / "reference" / "strategies")
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "bars")
    args = parser.parse_args()
    return 1 if print_parity(CsvBarSource(args.data), args.strategies) else 0


def print_parity(source: CsvBarSource, folder: Path) -> int:
    """Print the per-file table (and the share of decided dates that give an allocation); return the engine errors
    where the allocation is decidable (must be 0)."""
    totals = [0, 0, 0, 0]
    print(f"{'file':<28} {'allocation':>10} {'before':>8} {'closed':>8} {'errors':>7}")
    for path in sorted(folder.glob("*.clj")):
        symphony = load_symphony(path)
        symbols = used_symbols(symphony)
        if not set(symbols) & source.available():
            print(f"{path.name:<28} no data for any of {len(symbols)} symbols ({', '.join(symbols[:4])}, …)")
            continue
        counts = date_counts(symphony, source.prices(symbols))
        row = [counts.allocation, counts.before_start, counts.fail_closed, len(counts.engine_errors)]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(f"{path.name:<28} {row[0]:>10} {row[1]:>8} {row[2]:>8} {row[3]:>7}")
        for line in counts.engine_errors[:3]:
            print(f"    engine error {line}")
    print(f"{'total':<28} {totals[0]:>10} {totals[1]:>8} {totals[2]:>8} {totals[3]:>7}")
    decided = totals[0] + totals[2] + totals[3]
    print(f"allocation on {totals[0] / max(decided, 1):.1%} of the dates past each backtestable start")
    return totals[3]


if __name__ == "__main__":
    sys.exit(main())
