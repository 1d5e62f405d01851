"""Parity on the reference set: over every date of ../shared/data/bars, every real symphony gives an allocation, lies
before its backtestable start or fails closed for want of data — never an engine error where it is decidable."""

from __future__ import annotations

from pathlib import Path

import pytest

from alchemiser.data import CsvBarSource, PriceMatrix
from alchemiser.dsl import load_symphony, parse_symphony, used_symbols
from alchemiser.dsl.availability import backtestable_start, date_counts, only_allocated


def test_no_engine_error_where_the_allocation_is_decidable(
    reference_strategies_dir: Path, shared_bars_dir: Path
) -> None:
    source = CsvBarSource(shared_bars_dir)
    decided = 0
    for path in sorted(reference_strategies_dir.glob("*.clj")):
        symphony = load_symphony(path)
        symbols = used_symbols(symphony)
        if not set(symbols) & source.available():
            continue  # defence.clj: the data holds none of its symbols (signals exits 2 naming them)
        counts = date_counts(symphony, source.prices(symbols))
        assert counts.engine_errors == (), f"{path.name}: {counts.engine_errors[:3]}"
        decided += counts.allocation
    assert decided > 25_000


def test_backtestable_start_names_the_youngest_asset_and_allocated_only_symbols_need_no_history() -> None:
    prices = PriceMatrix.from_columns(
        {
            "OLD": ([f"2024-01-{d:02d}" for d in range(2, 12)], [float(x) for x in range(10, 20)]),
            "NEW": ([f"2024-01-{d:02d}" for d in range(8, 12)], [1.0, 2.0, 3.0, 4.0]),
        }
    )
    s = parse_symphony('(defsymphony "s" {} (if (> (rsi "OLD" {:window 3}) 50) [(asset "NEW")] [(asset "CASHLIKE")]))')
    assert only_allocated(s) == ("CASHLIKE", "NEW")
    decide = backtestable_start(s, prices, measured_only=True)
    assert decide.start is not None and decide.start.isoformat() == "2024-01-05" and decide.youngest == "OLD"
    trade = backtestable_start(s, prices)
    assert trade.missing == ("CASHLIKE",) and "no data for CASHLIKE" in trade.warning()
    assert trade.start is not None and trade.start.isoformat() == "2024-01-08" and trade.youngest == "NEW"
    counts = date_counts(s, prices)
    assert (counts.allocation, counts.before_start, counts.engine_errors) == (7, 3, ())


@pytest.mark.parametrize("bad", ["defence.clj"])
def test_a_symphony_without_any_data_has_no_start(
    bad: str, reference_strategies_dir: Path, shared_bars_dir: Path
) -> None:
    symphony = load_symphony(reference_strategies_dir / bad)
    prices = CsvBarSource(shared_bars_dir).prices([s for s in used_symbols(symphony) if s in {"SPY"}] or ["SPY"])
    result = backtestable_start(symphony, prices)
    assert result.start is None and len(result.missing) == len(used_symbols(symphony))
