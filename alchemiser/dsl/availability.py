"""A symphony's backtestable start (dsl.md §3, Composer's rule): the first session on which every symbol it names has
data and every indicator on it has the bars it needs.

For ``signals`` only the symbols an indicator reads count (a symbol that is only allocated needs no history to
decide); for a backtest every named symbol counts (it must be priced to be held).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from alchemiser.data.prices import PriceMatrix, to_date
from alchemiser.dsl.evaluate import evaluate, requirements
from alchemiser.dsl.symphony import Symphony


@dataclass(frozen=True, slots=True)
class BacktestableStart:
    """``start``: the first session on which every symbol that has data has enough of it (None: no symbol has);
    ``youngest``: the symbol that sets it; ``missing``: symbols with no data at all (or fewer bars than their
    indicators need) — reported, they leave the start alone (the symphony fails closed where it needs them)."""

    start: dt.date | None
    youngest: str | None
    missing: tuple[str, ...]

    def warning(self) -> str:
        if self.start is None:
            return f"no backtestable start: no (or too little) data for {', '.join(self.missing)}"
        lacking = f"; no data for {', '.join(self.missing)}" if self.missing else ""
        return (
            f"backtestable start {self.start.isoformat()}: the first session on which every asset has data "
            f"(youngest: {self.youngest}){lacking}"
        )


def backtestable_start(symphony: Symphony, prices: PriceMatrix, *, measured_only: bool = False) -> BacktestableStart:
    """The backtestable start of ``symphony`` on ``prices`` (``measured_only``: only symbols an indicator reads)."""
    needs = requirements(symphony).min_bars
    best: tuple[int, str] | None = None
    missing: list[str] = []
    for symbol, need in needs.items():
        if measured_only and need == 0:
            continue
        col = prices.column(symbol)
        bars = np.flatnonzero(~np.isnan(col)) if col is not None else np.array([], dtype=np.int64)
        if bars.shape[0] < max(need, 1):
            missing.append(symbol)
            continue
        first = int(bars[max(need, 1) - 1])
        if best is None or first > best[0]:
            best = (first, symbol)
    if best is None:
        return BacktestableStart(None, None, tuple(missing))
    return BacktestableStart(to_date(prices.dates[best[0]]), best[1], tuple(missing))


def only_allocated(symphony: Symphony) -> tuple[str, ...]:
    """Symbols the symphony only allocates to (no indicator reads them)."""
    return tuple(sorted(s for s, need in requirements(symphony).min_bars.items() if need == 0))


# messages of a date that fails closed for want of data (dsl.md §3); anything else is an engine error
_DATA_REASONS = re.compile(
    r"is unavailable on \d{4}-\d\d-\d\d|which has (no price data|no bar on that date)|no holding selected on"
    r"|no holding has a usable volatility"
)


@dataclass(frozen=True, slots=True)
class DateCounts:
    """Per-date outcome counts of one symphony over a price history (the parity report's row)."""

    allocation: int
    before_start: int
    fail_closed: int
    engine_errors: tuple[str, ...]  # dates (with message) after the start that failed for a reason other than data


def date_counts(symphony: Symphony, prices: PriceMatrix) -> DateCounts:
    """Classify every date of ``prices``: an allocation, *before the backtestable start* (``signals``' rule: only the
    symbols an indicator reads count), a fail-closed date for want of data, or an engine error."""
    start = backtestable_start(symphony, prices, measured_only=True).start
    evaluation = evaluate(symphony, prices, require_prices=False)
    allocation = before = closed = 0
    errors: list[str] = []
    for result in evaluation:
        if result.allocation is not None:
            allocation += 1
        elif start is None or result.date < start:
            before += 1
        elif result.error is not None and _DATA_REASONS.search(result.error):
            closed += 1
        else:
            errors.append(f"{result.date.isoformat()}: {result.error}")
    return DateCounts(allocation, before, closed, tuple(errors))
