"""The bar cache on a real SQLite file: only missing days are fetched, on this run and the next."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from alchemiser.broker.models import Bar
from alchemiser.clock import ManualClock
from alchemiser.store.bar_cache import CachedDailyBars
from alchemiser.store.database import Store

TODAY = date(2026, 3, 13)  # a Friday
NOW = datetime(2026, 3, 13, 19, 0, tzinfo=UTC)  # 15:00 in New York


class FakeSource:
    """Bars on weekdays from 2025-01-02 for known symbols; ``factor`` models a re-adjustment of all history."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], date, date]] = []
        self.factor = 1.0
        self.listed = {"SPY": date(2025, 1, 2), "QQQ": date(2025, 1, 2), "NEWCO": date(2026, 3, 2)}

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        self.calls.append((tuple(symbols), start, end))
        out: dict[str, list[Bar]] = {}
        for symbol in symbols:
            first = self.listed.get(symbol)
            bars = []
            day = start
            while first is not None and day <= min(end, TODAY):
                if day.weekday() < 5 and day >= first:
                    close = (100 + (day - first).days) * self.factor
                    t = datetime(day.year, day.month, day.day, 5, tzinfo=UTC)
                    bars.append(Bar.model_validate({"t": t, "o": close, "h": close, "l": close, "c": close, "v": 1}))
                day += timedelta(days=1)
            out[symbol] = bars
        return out


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    instance = await Store.open(tmp_path / "alchemiser.db", clock=ManualClock(NOW))
    yield instance
    await instance.close()


async def test_second_run_fetches_nothing_even_after_reopening(store: Store, tmp_path: Path):
    source = FakeSource()
    cache = CachedDailyBars(source, store, ManualClock(NOW))
    first = await cache.get_daily_bars(["SPY", "qqq"], date(2026, 1, 5), date(2026, 3, 6))
    assert len(source.calls) == 1 and len(first["SPY"]) == 45
    again = await cache.get_daily_bars(["SPY", "QQQ"], date(2026, 1, 5), date(2026, 3, 6))
    assert len(source.calls) == 1 and cache.last_stats.fetch_calls == 0
    assert again == first
    await store.close()
    reopened = await Store.open(tmp_path / "alchemiser.db", clock=ManualClock(NOW))
    try:
        cache2 = CachedDailyBars(source, reopened, ManualClock(NOW))
        assert await cache2.get_daily_bars(["SPY", "QQQ"], date(2026, 1, 5), date(2026, 3, 6)) == first
        assert len(source.calls) == 1
    finally:
        await reopened.close()


async def test_only_the_missing_ends_are_fetched_in_one_call_per_range(store: Store):
    source = FakeSource()
    cache = CachedDailyBars(source, store, ManualClock(NOW))
    await cache.get_daily_bars(["SPY", "QQQ"], date(2026, 2, 2), date(2026, 2, 27))
    source.calls.clear()
    bars = await cache.get_daily_bars(["SPY", "QQQ"], date(2026, 1, 5), date(2026, 3, 6))
    assert sorted(source.calls) == [
        (("SPY", "QQQ"), date(2026, 1, 5), date(2026, 2, 2)),
        (("SPY", "QQQ"), date(2026, 2, 27), date(2026, 3, 6)),  # re-reads the last cached day only
    ]
    days = [b.session_date for b in bars["SPY"]]
    assert days == sorted(set(days)) and days[0] == date(2026, 1, 5) and days[-1] == date(2026, 3, 6)


async def test_todays_bar_is_served_but_refetched_next_time(store: Store):
    source = FakeSource()
    cache = CachedDailyBars(source, store, ManualClock(NOW))
    bars = await cache.get_daily_bars(["SPY"], date(2026, 3, 9), TODAY)
    assert bars["SPY"][-1].session_date == TODAY
    source.calls.clear()
    await cache.get_daily_bars(["SPY"], date(2026, 3, 9), TODAY)
    assert source.calls == [(("SPY",), date(2026, 3, 12), TODAY)]


async def test_symbol_without_data_is_a_key_and_not_refetched(store: Store):
    source = FakeSource()
    cache = CachedDailyBars(source, store, ManualClock(NOW))
    bars = await cache.get_daily_bars(["GONE", "NEWCO"], date(2026, 2, 2), date(2026, 3, 6))
    assert bars["GONE"] == [] and bars["NEWCO"][0].session_date == date(2026, 3, 2)
    source.calls.clear()
    await cache.get_daily_bars(["GONE", "NEWCO"], date(2026, 2, 2), date(2026, 3, 6))
    assert source.calls == []


async def test_re_adjusted_history_is_purged_and_refetched(store: Store):
    source = FakeSource()
    cache = CachedDailyBars(source, store, ManualClock(NOW))
    await cache.get_daily_bars(["SPY", "QQQ"], date(2026, 2, 2), date(2026, 2, 27))
    source.factor = 0.5  # a 2:1 split after the cached period: every adjusted price halves
    bars = await cache.get_daily_bars(["SPY"], date(2026, 2, 2), date(2026, 3, 6))
    assert cache.last_stats.purged_symbols == ("SPY",)
    assert bars["SPY"][0].c == pytest.approx(source_close(date(2026, 2, 2)) * 0.5)
    assert all(b.c < 300 for b in bars["SPY"])


def source_close(day: date) -> float:
    return 100 + (day - date(2025, 1, 2)).days


async def test_bad_requests_are_refused(store: Store):
    cache = CachedDailyBars(FakeSource(), store, ManualClock(NOW))
    with pytest.raises(ValueError, match="after end"):
        await cache.get_daily_bars(["SPY"], date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(ValueError, match="empty symbol"):
        await cache.get_daily_bars([" "], date(2026, 3, 2), date(2026, 3, 2))
    assert await cache.get_daily_bars([], date(2026, 3, 2), date(2026, 3, 2)) == {}
