"""Daily-bar refresh for exactly the symbols the configured symphonies need, ahead of the decision.

``BarRefresher.refresh(symbols, session, lookback)`` fetches, concurrently in chunks and under a concurrency
bound, the adjusted daily bars each symbol lacks up to the last *completed* session before ``session`` (the
as-of policy ``previous_close``: a decision on day D uses bars through D−1). Bars are kept in an in-memory cache,
so the next refresh asks only for the new days. A chunk that fails (timeout, 429, 5xx after the adapter's own
retries) leaves its symbols marked failed; the rest still refresh.

``BarRefresher.snapshot(symbols, session, lookback)`` is what the decision reads: the bars per symbol and, for
every symbol whose data is missing or stale, a reason naming the symbol. It never touches the network, so the
decision never waits on it.

Renames (issue 19): after ``follow_rename(old, new, effective)`` a symbol's history is the old symbol's bars before
the effective date joined to the new symbol's from it, served under either name — so a long-window indicator keeps
working the day after a rename, whether the symphony already names the new symbol or still the old one. A refresh of
either name fetches both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import structlog

from alchemiser.broker.models import Bar
from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError
from alchemiser.trading.schedule import TradingCalendar

log = structlog.get_logger("alchemiser.data_refresh")


class DailyBarSource(Protocol):
    """The one Broker method the refresher needs (``alchemiser.broker.protocol.Broker`` satisfies it)."""

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]: ...


@dataclass(frozen=True)
class RefreshReport:
    session: date
    expected_last: date
    fetched: dict[str, int]  # symbol → bars received
    failed: dict[str, str]  # symbol → error
    started_at: datetime
    finished_at: datetime

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        """The ``data`` section of ``/status``."""
        return {
            "session": self.session.isoformat(),
            "expected_last": self.expected_last.isoformat(),
            "fetched": self.fetched,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class BarSnapshot:
    """Bars per symbol for one decision, and the symbols that cannot be used (with a reason each)."""

    session: date
    expected_last: date
    bars: dict[str, list[Bar]]
    problems: dict[str, str] = field(default_factory=dict)

    def problems_for(self, symbols: Sequence[str]) -> dict[str, str]:
        return {s: self.problems[s] for s in symbols if s in self.problems}


DataAgeListener = Callable[[str, float], None]  # (symbol, age in days of the last bar vs the expected one)


class BarRefresher:
    def __init__(
        self,
        source: DailyBarSource,
        calendar: TradingCalendar,
        clock: Clock,
        *,
        chunk_size: int = 5,  # small: each response is parsed in one go on the loop (~1k bars, a few ms)
        concurrency: int = 4,
        on_data_age: DataAgeListener | None = None,
        spare_bars: int = 30,
    ) -> None:
        if chunk_size < 1 or concurrency < 1:
            raise ValueError("chunk_size and concurrency must be >= 1")
        self._source = source
        self._calendar = calendar
        self._clock = clock
        self._chunk_size = chunk_size
        self._semaphore = asyncio.Semaphore(concurrency)
        self._cache: dict[str, list[Bar]] = {}
        self._on_data_age = on_data_age
        self._spare_bars = spare_bars
        self._renames: dict[str, tuple[str, str, date]] = {}  # either name → (old, new, effective)
        self.last_report: RefreshReport | None = None

    def follow_rename(self, old: str, new: str, effective: date) -> None:
        """Join ``old``'s history before ``effective`` to ``new``'s from it, under both names."""
        link = (old, new, effective)
        self._renames[old] = self._renames[new] = link
        log.info("bars_rename_followed", old=old, new=new, effective=effective.isoformat())

    def _with_partners(self, symbols: Sequence[str]) -> list[str]:
        out = dict.fromkeys(symbols)
        for symbol in symbols:
            link = self._renames.get(symbol)
            if link is not None:
                out.update(dict.fromkeys(link[:2]))
        return list(out)

    def _history(self, symbol: str) -> list[Bar]:
        link = self._renames.get(symbol)
        if link is None:
            return self._cache.get(symbol, [])
        old, new, effective = link
        # the new name's own bars win (Alpaca's ``asof`` may already serve the joined history under it)
        by_day = {b.session_date: b for b in self._cache.get(new, [])}
        for bar in self._cache.get(old, []):
            if bar.session_date < effective:
                by_day.setdefault(bar.session_date, bar)
        return [by_day[d] for d in sorted(by_day)]

    def expected_last_session(self, session: date) -> date:
        """The last completed session a decision on ``session`` uses (previous-close as-of policy)."""
        return self._calendar.previous_session(session).day

    def first_needed_session(self, session: date, lookback: int) -> date:
        day = session
        for _ in range(max(1, lookback)):
            day = self._calendar.previous_session(day).day
        return day

    def cached_last(self, symbol: str) -> date | None:
        bars = self._history(symbol)
        return bars[-1].session_date if bars else None

    async def refresh(self, symbols: Sequence[str], session: date, lookback: int) -> RefreshReport:
        """Fetch what is missing for ``symbols`` so that a decision on ``session`` has ``lookback`` bars."""
        started = self._clock.now()
        expected_last = self.expected_last_session(session)
        first_needed = self.first_needed_session(session, lookback)
        # Group symbols by the start date they need, so an incremental refresh asks only for new days.
        by_start: dict[date, list[str]] = {}
        for symbol in sorted(set(self._with_partners(symbols))):
            bars = self._cache.get(symbol)
            if bars and bars[0].session_date <= first_needed:
                last = bars[-1].session_date
                if last >= expected_last:
                    continue
                start = last + timedelta(days=1)
            else:
                start = first_needed - timedelta(days=7)
            by_start.setdefault(start, []).append(symbol)
        chunks = [
            (start, group[i : i + self._chunk_size])
            for start, group in sorted(by_start.items())
            for i in range(0, len(group), self._chunk_size)
        ]
        fetched: dict[str, int] = {}
        failed: dict[str, str] = {}
        results = await asyncio.gather(
            *(self._fetch(chunk, start, expected_last) for start, chunk in chunks), return_exceptions=True
        )
        for (_, chunk), result in zip(chunks, results, strict=True):
            if isinstance(result, AlchemiserError | OSError | TimeoutError):
                for symbol in chunk:
                    failed[symbol] = f"{type(result).__name__}: {result}"
                continue
            if isinstance(result, BaseException):
                raise result
            for symbol in chunk:
                received = result.get(symbol, [])
                fetched[symbol] = len(received)
                self._merge(symbol, received, keep=lookback + self._spare_bars)
        report = RefreshReport(session, expected_last, fetched, failed, started, self._clock.now())
        self.last_report = report
        self._report_ages(symbols, expected_last)
        if failed:
            log.warning("bars_refresh_partial", session=session.isoformat(), failed=failed)
        else:
            log.debug("bars_refreshed", session=session.isoformat(), symbols=len(set(symbols)), fetched=len(fetched))
        return report

    async def _fetch(self, symbols: list[str], start: date, end: date) -> dict[str, list[Bar]]:
        async with self._semaphore:
            return await self._source.get_daily_bars(symbols, start, end)

    def _merge(self, symbol: str, received: Sequence[Bar], *, keep: int) -> None:
        """Add ``received`` to the cache; keep only the newest ``keep`` bars (a long-running daemon must not grow)."""
        by_day: dict[date, Bar] = {bar.session_date: bar for bar in self._cache.get(symbol, [])}
        for bar in received:
            by_day[bar.session_date] = bar
        self._cache[symbol] = [by_day[d] for d in sorted(by_day)][-keep:]

    def _report_ages(self, symbols: Sequence[str], expected_last: date) -> None:
        if self._on_data_age is None:
            return
        for symbol in set(symbols):
            last = self.cached_last(symbol)
            age = float("inf") if last is None else float((expected_last - last).days)
            self._on_data_age(symbol, max(0.0, age))

    def snapshot(self, symbols: Sequence[str], session: date, lookback: int) -> BarSnapshot:
        """Bars through the last completed session before ``session`` (nothing newer, even if cached)."""
        expected_last = self.expected_last_session(session)
        bars: dict[str, list[Bar]] = {}
        problems: dict[str, str] = {}
        for symbol in sorted(set(symbols)):
            series = [b for b in self._history(symbol) if b.session_date <= expected_last]
            if not series:
                problems[symbol] = f"{symbol}: no daily bars available"
                continue
            last = series[-1].session_date
            if last < expected_last:
                problems[symbol] = (
                    f"{symbol}: stale data, last bar {last.isoformat()} but {expected_last.isoformat()} is needed"
                )
            elif len(series) < lookback:
                problems[symbol] = f"{symbol}: only {len(series)} bars, {lookback} needed"
            bars[symbol] = series
        return BarSnapshot(session, expected_last, bars, problems)

    def cache_sizes(self) -> Mapping[str, int]:
        return {s: len(b) for s, b in self._cache.items()}
