"""The event path's shortcuts (shared fields-set, per-order layout, deque feed) change nothing a consumer sees."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from alchemiser.broker.enums import OrderStatus, TradeEvent
from alchemiser.broker.models import Order, TradeUpdate
from alchemiser.clock import ManualClock
from alchemiser.sim.fastmodel import Trusted
from alchemiser.sim.inprocess import SimBroker, SimTradeUpdateFeed
from tests.sim.conftest import MIDDAY, MakeExchange, order


def _same_as_validated(model: BaseModel) -> None:
    again = type(model).model_validate(model.model_dump(by_alias=True))
    assert again == model
    assert model.model_dump() == again.model_dump()
    assert model.model_fields_set == set(type(model).model_fields)


async def test_events_build_the_models_validation_would(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange(partial_fill_rate=1.0, partial_fill_delay=10.0)
    clock = ManualClock(MIDDAY)
    broker = SimBroker(ex, clock)
    feed = SimTradeUpdateFeed(ex)
    result = await broker.submit_order(order("QQQ", qty="20", cid="fast-1"))
    assert result.order is not None and result.order.status is OrderStatus.PENDING_NEW
    clock.advance(60)
    await broker.get_account()
    updates = feed.drain()
    events = [u.event for u in updates]
    assert events[:3] == [TradeEvent.PENDING_NEW, TradeEvent.NEW, TradeEvent.PARTIAL_FILL]
    assert events[-1] is TradeEvent.FILL and set(events[2:-1]) == {TradeEvent.PARTIAL_FILL}
    assert [u.order.status for u in updates[:2]] == [OrderStatus.PENDING_NEW, OrderStatus.NEW]
    assert {u.order.status for u in updates[2:-1]} == {OrderStatus.PARTIALLY_FILLED}
    assert updates[2].order.filled_qty < 20 and updates[-1].order.filled_qty == 20
    filled = [u.order.filled_qty for u in updates[2:]]
    assert filled == sorted(filled) and sum(u.qty or 0 for u in updates) == 20
    assert updates[0].order == result.order  # the POST's answer and the pending_new event agree
    for update in updates:
        _same_as_validated(update)
        _same_as_validated(update.order)
        assert update.order.model_extra == {"expires_at": updates[0].order.model_extra["expires_at"]}
    # Models built later from the record (REST reads) are the same as the last event's.
    assert await broker.get_order(result.order.id) == updates[-1].order


async def test_finished_orders_do_not_keep_their_layout(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange(partial_fill_rate=0.0)
    broker = SimBroker(ex, ManualClock(MIDDAY))
    for with_feed in (False, True):
        feed = SimTradeUpdateFeed(ex) if with_feed else None
        result = await broker.submit_order(order("SPY", qty="1", cid=f"layout-{with_feed}"))
        assert result.order is not None
        [record] = [r for r in ex.book.records if r.id == result.order.id]
        assert record.status is OrderStatus.FILLED
        assert record.layout is None, f"terminal order still holds its layout (feed: {with_feed})"
        if feed is not None:
            assert [u.event for u in feed.drain()][-1] is TradeEvent.FILL  # events taken earlier still build
            feed.close()
        assert (await broker.get_order(result.order.id)).status is OrderStatus.FILLED
        assert record.layout is None


def test_shared_fields_set_is_never_mutated_through_copies() -> None:
    build = Trusted(TradeUpdate)
    update = TradeUpdate.model_validate(
        {
            "event": "new",
            "order": {
                "id": "o1",
                "client_order_id": "c1",
                "symbol": "SPY",
                "side": "buy",
                "status": "new",
                "created_at": "2025-06-03T14:00:00Z",
            },
        }
    )
    first = build(dict(update.__dict__))
    second = build(dict(update.__dict__))
    copied = first.model_copy(update={"execution_id": "x"})
    assert copied.execution_id == "x" and first.execution_id is None
    assert first.model_fields_set == second.model_fields_set == set(TradeUpdate.model_fields)
    assert first == update


def test_trusted_refuses_mutable_models() -> None:
    class Loose(BaseModel):
        x: int

    with pytest.raises(TypeError, match="Loose is not frozen"):
        Trusted(Loose)
    assert Trusted(Order) is not None


async def test_feed_wakes_every_waiter_and_survives_cancellation(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    broker = SimBroker(ex, ManualClock(MIDDAY))
    feed = SimTradeUpdateFeed(ex)
    cancelled = asyncio.create_task(feed.next_event())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    waiters = [asyncio.create_task(feed.next_event()) for _ in range(2)]
    await asyncio.sleep(0)
    assert feed.pending() == 0
    await broker.submit_order(order("SPY", qty="1", cid="wake-1"))
    got = await asyncio.wait_for(asyncio.gather(*waiters), 2.0)
    assert [u.event for u in got] == [TradeEvent.PENDING_NEW, TradeEvent.NEW]
    assert feed.pending() == 1  # the fill is still waiting
    assert [u.event for u in feed.drain()] == [TradeEvent.FILL]
    assert feed.pending() == 0
    feed.close()
