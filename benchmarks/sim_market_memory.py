"""Memory and build time of a synthetic market of 60 symbols × 15 years (numpy float64 arrays).

Reports the arrays' own bytes (``nbytes``), the Python heap growth (tracemalloc) and the process RSS growth.
Run: .venv/bin/python benchmarks/sim_market_memory.py
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from datetime import date

import psutil

from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.synthetic import DEFAULT_BASES, DEFAULT_DERIVED, SyntheticMarket

YEARS = 15
SYMBOLS = 60


def main() -> None:
    calendar = XnysCalendar()
    defaults = len(DEFAULT_BASES) + len(DEFAULT_DERIVED)
    extra = [f"SYN{i:02d}" for i in range(SYMBOLS - defaults)]
    process = psutil.Process()
    gc.collect()
    rss_before = process.memory_info().rss
    tracemalloc.start()
    began = time.perf_counter()
    market = SyntheticMarket(calendar, seed=1, start=date(2025, 6, 2), history_years=YEARS, extra_symbols=extra)
    built = time.perf_counter() - began
    symbols = market.symbols()
    began = time.perf_counter()
    rows = sum(len(s) for s in (market.series(sym) for sym in symbols) if s is not None)
    series_time = time.perf_counter() - began
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    rss_after = process.memory_info().rss
    print(f"synthetic market: {len(symbols)} symbols × {YEARS} years = {rows:,} daily bars")
    print(f"generate returns: {built:.3f} s; build all OHLCV series: {series_time:.3f} s")
    print(f"numpy nbytes: {market.nbytes / 1e6:.1f} MB ({market.nbytes / rows:.0f} bytes per symbol-day)")
    print(f"tracemalloc: current {current / 1e6:.1f} MB, peak {peak / 1e6:.1f} MB")
    print(f"process RSS growth: {(rss_after - rss_before) / 1e6:.1f} MB")
    began = time.perf_counter()
    market.ensure_through(date(2026, 6, 1))
    print(f"extend by one year: {time.perf_counter() - began:.3f} s (last session {market.last_session})")


if __name__ == "__main__":
    main()
