"""A symbol rename joins the bar history: the old name's bars before the effective date, the new name's from it,
under either name — so a long-window indicator works the day after a rename — and a restart joins them again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from alchemiser.broker.activities import NonTradeActivity
from alchemiser.broker.models import Bar
from alchemiser.clock import ManualClock
from alchemiser.store import Store
from alchemiser.store.corporate_actions import CorporateActionStore
from alchemiser.trading.data_refresh import BarRefresher
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.fakes import FakeBars

SESSION = date(2024, 3, 5)
EFFECTIVE = date(2024, 2, 20)  # FB trades until 16 Feb, META from 20 Feb (19 Feb is a holiday)
LOOKBACK = 40
CLOCK = ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC))


class RenamedBars(FakeBars):
    """FB's bars end before the rename and META's start on it (as a venue without ``asof`` mapping serves them)."""

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        out = await super().get_daily_bars(symbols, start, end)
        return {
            s: [b for b in bars if (b.session_date < EFFECTIVE) == (s == "FB")]
            for s, bars in out.items()
            if s in ("FB", "META")
        }


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(start=date(2023, 1, 1))


async def test_without_the_rename_the_new_name_is_short_and_the_old_one_stale(cal: TradingCalendar) -> None:
    refresher = BarRefresher(RenamedBars(cal), cal, CLOCK)
    await refresher.refresh(["FB", "META"], SESSION, lookback=LOOKBACK)
    snap = refresher.snapshot(["FB", "META"], SESSION, lookback=LOOKBACK)
    assert "only 10 bars" in snap.problems["META"]
    assert "stale data, last bar 2024-02-16" in snap.problems["FB"]


@pytest.mark.parametrize("named", ["META", "FB"])  # the symphony already updated, or still naming the old symbol
async def test_a_followed_rename_serves_the_joined_history_under_either_name(cal: TradingCalendar, named: str) -> None:
    source = RenamedBars(cal)
    refresher = BarRefresher(source, cal, CLOCK)
    refresher.follow_rename("FB", "META", EFFECTIVE)
    report = await refresher.refresh([named], SESSION, lookback=LOOKBACK)
    assert report.ok and set(report.fetched) == {"FB", "META"}  # either name fetches both
    snap = refresher.snapshot([named], SESSION, lookback=LOOKBACK)
    assert snap.problems == {}
    bars = snap.bars[named]
    days = [b.session_date for b in bars]
    assert len(bars) >= LOOKBACK and days == sorted(set(days))
    assert days[-1] == date(2024, 3, 4) and EFFECTIVE in days and date(2024, 2, 16) in days
    assert refresher.cached_last(named) == date(2024, 3, 4)


async def test_renames_recorded_in_the_store_are_joined_again_after_a_restart(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", clock=CLOCK)
    try:
        desk_store = CorporateActionStore(store, CLOCK)
        rows = [
            NonTradeActivity.model_validate(
                {
                    "id": f"{EFFECTIVE:%Y%m%d}::NC-{symbol}",
                    "activity_type": "NC",
                    "date": EFFECTIVE.isoformat(),
                    "symbol": symbol,
                    "qty": qty,
                }
            )
            for symbol, qty in (("FB", "-3"), ("META", "3"))
        ]
        await desk_store.record(rows, "explained")
        assert await desk_store.renames() == [("FB", "META", EFFECTIVE)]
    finally:
        await store.close()
