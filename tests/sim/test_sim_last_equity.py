"""``last_equity`` is the equity at the previous session's close (as Alpaca reports it), so the day's P&L is
``equity - last_equity`` and not always zero; it survives a save and restore of the exchange."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alchemiser.sim.core import SimExchange
from alchemiser.sim.persist import SavedWorld, restore, snapshot
from tests.sim.conftest import MIDDAY, MakeExchange, order

TUESDAY_CLOSE = datetime(2025, 6, 3, 20, 0, tzinfo=UTC)  # 16:00 New York (EDT)
WEDNESDAY_MIDDAY = MIDDAY + timedelta(days=1)
START = MIDDAY.date()


def _close_value(ex: SimExchange, symbols_qty: dict[str, Decimal], at: datetime) -> Decimal:
    return sum((qty * ex.quote(symbol, at).mid for symbol, qty in symbols_qty.items()), Decimal(0))


def test_day_pnl_is_measured_from_the_previous_close(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    first = ex.account(MIDDAY)
    assert first.last_equity == first.equity == Decimal(100_000)  # nothing held at Monday's close
    ex.submit(order(qty="10"), MIDDAY)
    ex.advance(MIDDAY)
    tuesday = ex.account(MIDDAY)
    assert tuesday.last_equity == Decimal(100_000)  # the buy changed equity (the spread), not Monday's close
    assert tuesday.equity != tuesday.last_equity
    evening = ex.account(TUESDAY_CLOSE + timedelta(hours=3))
    assert evening.last_equity == Decimal(100_000)  # after the close, still the day's P&L until the next open

    ex.submit(order(side="sell", qty="4", cid="s"), WEDNESDAY_MIDDAY)
    ex.advance(WEDNESDAY_MIDDAY)
    wednesday = ex.account(WEDNESDAY_MIDDAY)
    # Tuesday's close: the cash after the buy plus the 10 shares valued at Tuesday's close, not today's holdings
    expected = tuesday.cash + _close_value(ex, {"SPY": Decimal(10)}, TUESDAY_CLOSE)
    assert wednesday.last_equity == expected
    assert wednesday.equity - wednesday.last_equity != 0


def test_the_close_snapshot_survives_save_and_restore(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    ex.submit(order(qty="10"), MIDDAY)
    ex.advance(MIDDAY)
    before = ex.account(WEDNESDAY_MIDDAY)
    ex.submit(order(side="sell", qty="10", cid="s"), WEDNESDAY_MIDDAY)
    ex.advance(WEDNESDAY_MIDDAY)  # Wednesday's holdings differ from Tuesday's close now
    state = snapshot(ex, world_id="w", clock=WEDNESDAY_MIDDAY, market_start=START)
    again, _ = make_exchange()
    restore(again, SavedWorld("w", WEDNESDAY_MIDDAY, START, state))
    assert again.account(WEDNESDAY_MIDDAY).last_equity == before.last_equity
