"""Orders rejected after acceptance: Alpaca answers the POST, then sends ``rejected`` on trade_updates."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from alchemiser.broker.enums import OrderSide, OrderStatus, TradeEvent
from alchemiser.broker.models import OrderRequest
from alchemiser.clock import ManualClock
from alchemiser.sim import ExchangeConfig
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.inprocess import SimBroker, SimTradeUpdateFeed
from alchemiser.sim.synthetic import SyntheticMarket
from tests.sim.conftest import MIDDAY, MakeExchange, order
from tests.sim.test_sim_adapter_roundtrip import adapter_against_sim, next_events


async def test_rejected_after_acceptance_releases_holds(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange(reject_after_accept_rate=1.0)
    broker = SimBroker(ex, ManualClock(MIDDAY))
    feed = SimTradeUpdateFeed(ex)
    before = await broker.get_account()
    result = await broker.submit_order(order("SPY", qty="10", cid="rj-1"))
    assert result.order is not None and result.order.status is OrderStatus.PENDING_NEW  # the POST said yes
    updates = feed.drain()
    assert [u.event for u in updates] == [TradeEvent.PENDING_NEW, TradeEvent.REJECTED]
    rejected = updates[-1].order
    assert rejected.status is OrderStatus.REJECTED and rejected.failed_at == MIDDAY
    assert rejected.filled_qty == 0 and updates[-1].qty is None
    assert (await broker.get_order(result.order.id)).status is OrderStatus.REJECTED
    after = await broker.get_account()
    assert after.buying_power == before.buying_power and after.cash == before.cash  # holds released
    assert await broker.list_positions() == []
    assert await broker.list_fill_activities() == []
    assert [o.id for o in await broker.list_orders(status="closed")] == [result.order.id]
    assert events[-1].event is TradeEvent.REJECTED


async def test_rejected_queued_order_at_the_open(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange(reject_after_accept_rate=1.0, closed_market="queue")
    night = MIDDAY + timedelta(hours=10)
    clock = ManualClock(night)
    broker = SimBroker(ex, clock)
    feed = SimTradeUpdateFeed(ex)
    result = await broker.submit_order(order("SPY", qty="1", cid="rj-q"))
    assert result.order is not None and result.order.status is OrderStatus.ACCEPTED
    clock.advance(24 * 3600)  # past the next open
    assert (await broker.get_order(result.order.id)).status is OrderStatus.REJECTED
    assert [u.event for u in feed.drain()] == [TradeEvent.ACCEPTED, TradeEvent.PENDING_NEW, TradeEvent.REJECTED]


async def test_rate_is_a_share_and_off_changes_nothing(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange(reject_after_accept_rate=0.5, seed=3)
    broker = SimBroker(ex, ManualClock(MIDDAY))
    statuses = []
    for i in range(60):
        result = await broker.submit_order(order("SPY", qty="1", cid=f"share-{i}"))
        assert result.order is not None
        statuses.append((await broker.get_order(result.order.id)).status)
    rejected = statuses.count(OrderStatus.REJECTED)
    assert 10 < rejected < 50 and statuses.count(OrderStatus.FILLED) == 60 - rejected
    # Off (the default) draws nothing from the RNG: the same seed gives the same order ids as before the knob.
    a, _ = make_exchange(seed=3)
    b, _ = make_exchange(seed=3, reject_after_accept_rate=0.0)
    ids = []
    for exchange in (a, b):
        result = await SimBroker(exchange, ManualClock(MIDDAY)).submit_order(order("SPY", qty="1", cid="same"))
        assert result.order is not None
        ids.append(result.order.id)
    assert ids[0] == ids[1]


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_bad_rate_is_refused_by_name(rate: float) -> None:
    with pytest.raises(ValueError, match="reject_after_accept_rate"):
        ExchangeConfig(reject_after_accept_rate=rate)


async def test_adapter_receives_rejected_on_the_stream(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with adapter_against_sim(xnys, synthetic, reject_after_accept_rate=1.0) as (broker, _):
        stream = broker.trade_updates(reconcile_since=MIDDAY - timedelta(minutes=1))
        stream.start()
        try:
            for _ in range(200):
                if stream.connected:
                    break
                await asyncio.sleep(0.02)
            assert stream.connected
            request = OrderRequest(symbol="SPY", side=OrderSide.BUY, qty=Decimal(2), client_order_id="rj-ws")
            result = await broker.submit_order(request)
            assert result.order is not None
            events = await next_events(stream, TradeEvent.REJECTED)
        finally:
            await stream.stop()
        last = events[-1]
        assert last.order.id == result.order.id and last.order.status is OrderStatus.REJECTED
        assert last.order.failed_at is not None and not last.synthetic
        assert (await broker.get_order(result.order.id)).status is OrderStatus.REJECTED
