"""Daily-bar cache in the store: serve bars from SQLite and fetch only the days not held yet.

``CachedDailyBars`` wraps any daily-bar source (``AlpacaBroker``, the simulated exchange) and is itself one, so
callers do not change. Per symbol and feed it remembers the contiguous range of *complete* sessions already fetched
(``bar_cache_coverage``); a request fetches only what lies outside that range, grouped into one multi-symbol call
per distinct missing range, concurrently.

Days before today (New York) are complete; today's bar may still change, so it is returned but never counted as
covered. Bars are adjusted (``adjustment=all``), so a split or dividend after the cached period rewrites history:
each fetch that extends a range re-reads the last cached day, and if that bar changed, the symbol's cache is purged
and refetched whole.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from alchemiser.broker.models import Bar
from alchemiser.clock import Clock
from alchemiser.logging import get_logger
from alchemiser.store.database import Store

NEW_YORK = ZoneInfo("America/New_York")
log = get_logger("bar_cache")


class DailyBarSource(Protocol):
    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]: ...


@dataclass(frozen=True)
class Coverage:
    first: date
    last: date


@dataclass
class CacheStats:
    """What the last ``get_daily_bars`` did (for logs, metrics and tests)."""

    requested_symbols: int = 0
    fetch_calls: int = 0
    fetched_bars: int = 0
    purged_symbols: tuple[str, ...] = ()


class CachedDailyBars:
    def __init__(
        self,
        source: DailyBarSource,
        store: Store,
        clock: Clock,
        *,
        feed: str = "iex",
        rel_tolerance: float = 1e-6,
    ) -> None:
        self._source = source
        self._store = store
        self._clock = clock
        self.feed = feed
        self._tolerance = rel_tolerance
        self.last_stats = CacheStats()

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        """Adjusted daily bars in ``[start, end]`` for exactly these symbols (every one is a key), ascending."""
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols))
        if any(not s for s in wanted):
            raise ValueError("empty symbol in request")
        stats = CacheStats(requested_symbols=len(wanted))
        self.last_stats = stats
        if not wanted:
            return {}
        complete_through = self._clock.now().astimezone(NEW_YORK).date() - timedelta(days=1)
        coverage = await self._coverage(wanted)
        plan: dict[tuple[date, date], list[str]] = defaultdict(list)
        for symbol in wanted:
            for missing in _missing_ranges(coverage.get(symbol), start, end):
                plan[missing].append(symbol)
        fetched = await self._fetch(plan, stats)
        purge = await self._changed_history(fetched, coverage)
        if purge:
            stats.purged_symbols = tuple(sorted(purge))
            log.warning("bar_cache_history_changed", symbols=stats.purged_symbols)
            await self._purge(purge)
            wide: dict[tuple[date, date], list[str]] = defaultdict(list)
            for symbol in purge:
                old = coverage.pop(symbol)
                wide[(min(start, old.first), max(end, old.last))].append(symbol)
            fetched.update(await self._fetch(wide, stats))
        await self._save(fetched, coverage, start=start, end=end, complete_through=complete_through, purged=purge)
        return await self._read(wanted, start, end)

    async def _fetch(self, plan: dict[tuple[date, date], list[str]], stats: CacheStats) -> dict[str, dict[date, Bar]]:
        ranges = list(plan.items())
        results = await asyncio.gather(*(self._source.get_daily_bars(syms, a, b) for (a, b), syms in ranges))
        stats.fetch_calls += len(ranges)
        out: dict[str, dict[date, Bar]] = defaultdict(dict)
        for ((_a, _b), syms), result in zip(ranges, results, strict=True):
            for symbol in syms:
                held = out[symbol]  # a symbol with no bars in the range is still fetched (covered)
                for bar in result.get(symbol, []):
                    held[bar.session_date] = bar
                    stats.fetched_bars += 1
        return out

    async def _changed_history(self, fetched: dict[str, dict[date, Bar]], coverage: dict[str, Coverage]) -> set[str]:
        """Symbols whose re-read overlap day differs from the cached bar (a corporate action re-adjusted history)."""
        changed: set[str] = set()
        for symbol, bars in fetched.items():
            cov = coverage.get(symbol)
            if cov is None:
                continue
            overlap = [day for day in (cov.first, cov.last) if day in bars]
            if not overlap:
                continue
            rows = await self._store.fetchall(
                "SELECT session_date, c FROM bar_cache WHERE symbol = ? AND feed = ? AND session_date IN (?, ?)",
                (symbol, self.feed, overlap[0].isoformat(), overlap[-1].isoformat()),
            )
            for row in rows:
                new = bars[date.fromisoformat(row["session_date"])].c
                if not math.isclose(new, float(row["c"]), rel_tol=self._tolerance):
                    changed.add(symbol)
        return changed

    async def _purge(self, symbols: set[str]) -> None:
        async with self._store.transaction() as tx:
            for symbol in sorted(symbols):
                await tx.execute("DELETE FROM bar_cache WHERE symbol = ? AND feed = ?", (symbol, self.feed))
                await tx.execute("DELETE FROM bar_cache_coverage WHERE symbol = ? AND feed = ?", (symbol, self.feed))

    async def _save(
        self,
        fetched: dict[str, dict[date, Bar]],
        coverage: dict[str, Coverage],
        *,
        start: date,
        end: date,
        complete_through: date,
        purged: set[str],
    ) -> None:
        rows = [
            (
                symbol,
                self.feed,
                day.isoformat(),
                bar.t.isoformat(),
                bar.o,
                bar.h,
                bar.low,
                bar.c,
                bar.v,
                bar.n,
                bar.vw,
            )
            for symbol, bars in fetched.items()
            for day, bar in bars.items()
        ]
        now = self._clock.now().isoformat()
        async with self._store.transaction() as tx:
            if rows:
                await tx.executemany(
                    "INSERT OR REPLACE INTO bar_cache (symbol, feed, session_date, t, o, h, l, c, v, n, vw) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            for symbol in {*fetched, *purged}:
                old = coverage.get(symbol)
                first = min(start, old.first) if old else start
                last = min(max(end, old.last) if old else end, complete_through)
                if old is not None:
                    last = max(last, old.last)
                if last < first:
                    continue  # nothing complete yet (a range of today only)
                await tx.execute(
                    "INSERT OR REPLACE INTO bar_cache_coverage (symbol, feed, first_date, last_date, fetched_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (symbol, self.feed, first.isoformat(), last.isoformat(), now),
                )

    async def _coverage(self, symbols: list[str]) -> dict[str, Coverage]:
        marks = ",".join("?" for _ in symbols)
        rows = await self._store.fetchall(
            f"SELECT symbol, first_date, last_date FROM bar_cache_coverage WHERE feed = ? AND symbol IN ({marks})",  # noqa: S608 - placeholders only
            (self.feed, *symbols),
        )
        return {
            row["symbol"]: Coverage(date.fromisoformat(row["first_date"]), date.fromisoformat(row["last_date"]))
            for row in rows
        }

    async def _read(self, symbols: list[str], start: date, end: date) -> dict[str, list[Bar]]:
        marks = ",".join("?" for _ in symbols)
        rows = await self._store.fetchall(
            "SELECT symbol, t, o, h, l, c, v, n, vw FROM bar_cache "  # noqa: S608 - placeholders only
            f"WHERE feed = ? AND symbol IN ({marks}) AND session_date BETWEEN ? AND ? ORDER BY symbol, session_date",
            (self.feed, *symbols, start.isoformat(), end.isoformat()),
        )
        out: dict[str, list[Bar]] = {symbol: [] for symbol in symbols}
        for row in rows:
            out[row["symbol"]].append(
                Bar(
                    t=datetime.fromisoformat(row["t"]),
                    o=row["o"],
                    h=row["h"],
                    low=row["l"],
                    c=row["c"],
                    v=row["v"],
                    n=row["n"],
                    vw=row["vw"],
                )
            )
        return out


def _missing_ranges(cov: Coverage | None, start: date, end: date) -> list[tuple[date, date]]:
    """Ranges to fetch so that ``[start, end]`` is held, keeping coverage contiguous.

    An extension past the covered end starts at the last covered day (re-read to detect re-adjusted history).
    """
    if cov is None:
        return [(start, end)]
    ranges: list[tuple[date, date]] = []
    if start < cov.first:
        ranges.append((start, cov.first))
    if end > cov.last:
        ranges.append((cov.last, end))
    return ranges
