"""The in-process face: SimBroker implements Broker, SimTradeUpdateFeed implements TradeUpdateFeed, and the daily
fill model executes a batch at an instant."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from alchemiser.broker.enums import OrderSide, OrderStatus, TradeEvent
from alchemiser.broker.protocol import Broker, TradeUpdateFeed
from alchemiser.clock import ManualClock
from alchemiser.errors import ConfigError, NotCancelableError, NotFoundError, OrderRejectedError
from alchemiser.sim import ExchangeConfig
from alchemiser.sim.build import SimOptions, build_sim, default_start, instant_before_close
from alchemiser.sim.inprocess import DailyFillModel, SimBroker, SimTradeUpdateFeed
from tests.sim.conftest import MIDDAY, MakeExchange, order


def test_faces_satisfy_the_protocols(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    assert isinstance(SimBroker(ex, ManualClock(MIDDAY)), Broker)
    assert isinstance(SimTradeUpdateFeed(ex), TradeUpdateFeed)


async def test_broker_round_trip_driven_by_the_clock(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange(partial_fill_rate=1.0, partial_fill_delay=10.0)
    clock = ManualClock(MIDDAY)
    broker = SimBroker(ex, clock)
    feed = SimTradeUpdateFeed(ex)
    result = await broker.submit_order(order("QQQ", qty="20", cid="ip-1"))
    assert result.order is not None
    first = [await asyncio.wait_for(feed.next_event(), 1.0) for _ in range(1)]
    assert first[0].event is TradeEvent.PENDING_NEW
    assert (await broker.get_order(result.order.id)).status is OrderStatus.PARTIALLY_FILLED
    clock.advance(60)
    assert (await broker.get_order(result.order.id)).status is OrderStatus.FILLED
    events = first + feed.drain()
    assert events[-1].event is TradeEvent.FILL and events[-1].position_qty == 20
    [position] = await broker.list_positions()
    assert position.qty == 20
    assert (await broker.get_order_by_client_id("ip-1")).id == result.order.id
    assert [o.id for o in await broker.list_orders(status="closed")] == [result.order.id]
    assert sum(a.qty for a in await broker.list_fill_activities()) == 20
    with pytest.raises(NotCancelableError):
        await broker.cancel_order(result.order.id)
    with pytest.raises(NotFoundError):
        await broker.get_asset("NOPE")
    account = await broker.get_account()
    assert account.equity < Decimal(100_000) + 1000
    feed.close()


async def test_broker_market_data_and_calendar(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    broker = SimBroker(ex, ManualClock(MIDDAY))
    bars = await broker.get_daily_bars(["SPY", "NOPE"], date(2025, 5, 1), date(2025, 6, 30))
    assert list(bars) == ["SPY"] and bars["SPY"][-1].session_date == date(2025, 6, 3)
    quotes = await broker.get_latest_quotes(["SPY", "NOPE"])
    assert list(quotes) == ["SPY"]
    assert (await broker.get_clock()).is_open
    assert len(await broker.get_calendar(date(2025, 6, 2), date(2025, 6, 6))) == 5


def test_daily_fill_model_executes_a_batch(make_exchange: MakeExchange, xnys: object) -> None:
    ex, _ = make_exchange(partial_fill_rate=0.5, partial_fill_delay=2.0, seed=3)
    model = DailyFillModel(ex)
    at = datetime(2025, 6, 3, 19, 45, tzinfo=UTC)  # 15 minutes before the close
    buy = [order(s, qty="5", cid=f"b-{s}") for s in ("SPY", "QQQ", "TLT", "BIL")]
    orders, errors = model.execute([*buy, order("NOPE", cid="bad")], at)
    assert [type(e) for e in errors] == [OrderRejectedError]
    assert all(o.status is OrderStatus.FILLED for o in orders)
    assert all(o.filled_at is not None and o.filled_at - at <= timedelta(seconds=60) for o in orders)
    expected = model.expected_price("SPY", OrderSide.BUY, at)
    spy = next(o for o in orders if o.symbol == "SPY")
    assert spy.filled_avg_price is not None and abs(spy.filled_avg_price - expected) < Decimal("0.5")
    sells, _ = model.execute([order("SPY", "sell", qty="5", cid="s-SPY")], at + timedelta(minutes=5))
    assert sells[0].status is OrderStatus.FILLED
    assert ex.position_qty("SPY") == 0


def test_build_sim_and_helpers() -> None:
    now = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
    parts = build_sim(SimOptions(seed=1, history_years=3, exchange=ExchangeConfig(seed=1)), now=now)
    assert parts.start == date(2025, 6, 2)
    assert default_start(date(2025, 6, 9)) == date(2025, 6, 6)  # Monday → previous Friday
    assert instant_before_close(parts.xnys, date(2025, 11, 28), 15) == datetime(2025, 11, 28, 17, 45, tzinfo=UTC)
    assert parts.exchange.quote("UVXY", now).ask_price > 0
    always = build_sim(SimOptions(seed=1, history_years=3, always_open=True), now=now)
    assert always.exchange.calendar.is_open(datetime(2025, 6, 8, 3, 0, tzinfo=UTC))


def test_build_sim_rejects_a_missing_data_folder(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        build_sim(SimOptions(data=f"{tmp_path}/missing"), now=MIDDAY)
