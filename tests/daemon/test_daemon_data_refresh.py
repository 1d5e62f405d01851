"""Bar refresh ahead of the decision: exact symbols, concurrency, incremental fetch, stale/missing naming symbols."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from alchemiser.broker.models import Bar
from alchemiser.clock import ManualClock
from alchemiser.errors import BrokerTransientError
from alchemiser.trading.data_refresh import BarRefresher
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.fakes import FakeBars

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(start=date(2023, 1, 1))


SESSION = date(2024, 3, 5)  # Tuesday; previous session Monday 4 March


async def test_fetches_exactly_the_needed_symbols_up_to_previous_session(cal: TradingCalendar) -> None:
    src = FakeBars(cal)
    refresher = BarRefresher(src, cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)))
    report = await refresher.refresh(["SPY", "TLT", "SPY"], SESSION, lookback=20)
    assert report.ok and set(report.fetched) == {"SPY", "TLT"}
    assert report.expected_last == date(2024, 3, 4)
    asked = {s for symbols, _, _ in src.calls for s in symbols}
    assert asked == {"SPY", "TLT"}
    assert all(end == date(2024, 3, 4) for _, _, end in src.calls)
    snap = refresher.snapshot(["SPY", "TLT"], SESSION, lookback=20)
    assert not snap.problems
    assert snap.bars["SPY"][-1].session_date == date(2024, 3, 4)
    assert len(snap.bars["SPY"]) >= 20


async def test_second_refresh_is_incremental(cal: TradingCalendar) -> None:
    src = FakeBars(cal)
    refresher = BarRefresher(src, cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)))
    await refresher.refresh(["SPY"], SESSION, lookback=20)
    src.calls.clear()
    await refresher.refresh(["SPY"], SESSION, lookback=20)
    assert src.calls == []  # nothing new to ask for
    await refresher.refresh(["SPY"], date(2024, 3, 6), lookback=20)
    assert src.calls == [(("SPY",), date(2024, 3, 5), date(2024, 3, 5))]
    assert refresher.cached_last("SPY") == date(2024, 3, 5)


async def test_chunks_run_concurrently_under_a_bound(cal: TradingCalendar) -> None:
    src = FakeBars(cal)
    src.delay = 0.02
    refresher = BarRefresher(src, cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)), chunk_size=2, concurrency=3)
    symbols = [f"S{i}" for i in range(12)]
    report = await refresher.refresh(symbols, SESSION, lookback=5)
    assert report.ok
    assert len(src.calls) == 6
    assert src.max_in_flight == 3


async def test_failed_chunk_is_isolated_and_named(cal: TradingCalendar) -> None:
    src = FakeBars(cal)
    src.fail_symbols = {"BAD"}
    refresher = BarRefresher(src, cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)), chunk_size=1)
    report = await refresher.refresh(["SPY", "BAD"], SESSION, lookback=5)
    assert not report.ok
    assert set(report.failed) == {"BAD"} and "RateLimitedError" in report.failed["BAD"]
    snap = refresher.snapshot(["SPY", "BAD"], SESSION, lookback=5)
    assert snap.problems == {"BAD": "BAD: no daily bars available"}
    assert snap.problems_for(["SPY"]) == {}


async def test_stale_symbol_is_named_with_dates(cal: TradingCalendar) -> None:
    src = FakeBars(cal)
    src.lag = {"UVXY": 2}
    ages: dict[str, float] = {}
    refresher = BarRefresher(src, cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)), on_data_age=ages.__setitem__)
    await refresher.refresh(["SPY", "UVXY"], SESSION, lookback=5)
    snap = refresher.snapshot(["SPY", "UVXY"], SESSION, lookback=5)
    assert snap.problems == {
        "UVXY": "UVXY: stale data, last bar 2024-02-29 but 2024-03-04 is needed",
    }
    assert ages == {"SPY": 0.0, "UVXY": 4.0}


async def test_snapshot_never_leaks_bars_of_the_decision_day(cal: TradingCalendar) -> None:
    src = FakeBars(cal)
    refresher = BarRefresher(src, cal, ManualClock(datetime(2024, 3, 7, 19, tzinfo=UTC)))
    await refresher.refresh(["SPY"], date(2024, 3, 7), lookback=5)
    snap = refresher.snapshot(["SPY"], SESSION, lookback=5)
    assert snap.bars["SPY"][-1].session_date == date(2024, 3, 4)


async def test_transport_errors_other_than_ours_propagate(cal: TradingCalendar) -> None:
    class Broken:
        async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
            raise KeyError("bug")

    refresher = BarRefresher(Broken(), cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)))
    with pytest.raises(KeyError):
        await refresher.refresh(["SPY"], SESSION, lookback=5)


async def test_transient_broker_error_marks_failed(cal: TradingCalendar) -> None:
    class Down:
        async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
            raise BrokerTransientError("503 service unavailable", status_code=503)

    refresher = BarRefresher(Down(), cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)))
    report = await refresher.refresh(["SPY"], SESSION, lookback=5)
    assert "503" in report.failed["SPY"]
    assert refresher.snapshot(["SPY"], SESSION, 5).problems["SPY"] == "SPY: no daily bars available"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        BarRefresher(
            FakeBars(TradingCalendar(start=date(2024, 1, 1))),
            TradingCalendar(start=date(2024, 1, 1)),
            ManualClock(datetime(2024, 3, 5, tzinfo=UTC)),
            chunk_size=0,
        )


async def test_cache_is_trimmed_to_what_decisions_need(cal: TradingCalendar) -> None:
    src = FakeBars(cal)
    refresher = BarRefresher(src, cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)), spare_bars=5)
    await refresher.refresh(["SPY"], SESSION, lookback=20)
    assert refresher.cache_sizes()["SPY"] == 25
    src.calls.clear()
    for day in (date(2024, 3, 6), date(2024, 3, 7), date(2024, 3, 8)):
        await refresher.refresh(["SPY"], day, lookback=20)
    assert refresher.cache_sizes()["SPY"] == 25  # a year of decisions does not grow the cache
    assert all(len(call[0]) == 1 and call[1] > date(2024, 3, 1) for call in src.calls)  # still incremental
    assert not refresher.snapshot(["SPY"], date(2024, 3, 8), 20).problems
