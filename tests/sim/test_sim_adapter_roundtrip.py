"""The real Alpaca adapter, unchanged, against the protocol face: account → submit → stream events → fill →
positions, plus the reject mapping, bars paging and reconciliation reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.broker.enums import OrderSide, OrderStatus, TradeEvent
from alchemiser.broker.models import OrderRequest, TradeUpdate
from alchemiser.broker.protocol import Broker
from alchemiser.clock import AcceleratedClock
from alchemiser.errors import InsufficientBuyingPowerError, NotFoundError
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.synthetic import SyntheticMarket
from tests.sim.conftest import MIDDAY
from tests.sim.server_fixtures import KEY, SECRET, running_server


@asynccontextmanager
async def adapter_against_sim(
    xnys: XnysCalendar, market: SyntheticMarket, **config: object
) -> AsyncIterator[tuple[AlpacaBroker, AcceleratedClock]]:
    clock = AcceleratedClock(MIDDAY, speed=1.0)
    async with running_server(xnys, market, clock=clock, **config) as rs:
        broker = AlpacaBroker.create(
            credentials=AlpacaCredentials.of(KEY, SECRET),
            clock=clock,
            endpoints=AlpacaEndpoints(
                trading_url=rs.server.base_url, data_url=rs.server.base_url, stream_url=rs.server.stream_url
            ),
            timeout_seconds=5.0,
            lookup_delay=0.05,
        )
        try:
            yield broker, clock
        finally:
            await broker.aclose()


async def next_events(stream: object, until: TradeEvent, limit: int = 20) -> list[TradeUpdate]:
    events: list[TradeUpdate] = []
    for _ in range(limit):
        event: TradeUpdate = await asyncio.wait_for(stream.next_event(), 5.0)  # type: ignore[attr-defined]
        events.append(event)
        if event.event is until:
            return events
    raise AssertionError(f"no {until} within {limit} events: {[e.event for e in events]}")


async def test_full_round_trip_through_the_adapter(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with adapter_against_sim(xnys, synthetic, partial_fill_rate=1.0, partial_fill_delay=0.5) as (broker, _):
        assert isinstance(broker, Broker)
        account = await broker.get_account()
        assert account.cash == Decimal(100_000)
        stream = broker.trade_updates(reconcile_since=MIDDAY - timedelta(minutes=1))
        stream.start()
        try:
            for _ in range(200):
                if stream.connected:
                    break
                await asyncio.sleep(0.02)
            assert stream.connected
            request = OrderRequest(symbol="TQQQ", side=OrderSide.BUY, qty=Decimal(12), client_order_id="rt-1")
            result = await broker.submit_order(request)
            assert result.order is not None and result.order.client_order_id == "rt-1"
            events = await next_events(stream, TradeEvent.FILL)
        finally:
            await stream.stop()
        kinds = [e.event for e in events if not e.synthetic]
        assert TradeEvent.NEW in kinds and TradeEvent.PARTIAL_FILL in kinds and kinds[-1] is TradeEvent.FILL
        fills = [e for e in events if e.event in (TradeEvent.FILL, TradeEvent.PARTIAL_FILL)]
        assert sum(e.qty or 0 for e in fills) == 12
        order = await broker.get_order(result.order.id)
        assert order.status is OrderStatus.FILLED and order.filled_qty == 12
        [position] = await broker.list_positions()
        assert position.symbol == "TQQQ" and position.qty == 12
        activities = await broker.list_fill_activities(after=MIDDAY - timedelta(minutes=1))
        assert sum(a.qty for a in activities) == 12
        orders = await broker.list_orders(status="all", after=MIDDAY - timedelta(minutes=1))
        assert [o.id for o in orders] == [order.id]
        again = await broker.get_account()
        assert again.cash == Decimal(100_000) - sum(a.qty * a.price for a in activities)


async def test_adapter_maps_sim_rejects_and_lookups(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with adapter_against_sim(xnys, synthetic) as (broker, _):
        with pytest.raises(InsufficientBuyingPowerError):
            await broker.submit_order(
                OrderRequest(symbol="SPY", side=OrderSide.BUY, qty=Decimal(10_000), client_order_id="big")
            )
        first = await broker.submit_order(
            OrderRequest(symbol="SPY", side=OrderSide.BUY, qty=Decimal(1), client_order_id="twice")
        )
        second = await broker.submit_order(
            OrderRequest(symbol="SPY", side=OrderSide.BUY, qty=Decimal(1), client_order_id="twice")
        )
        # The adapter resolves "must be unique" by looking the order up (adopted), never a second order.
        assert second.order is not None and first.order is not None and second.order.id == first.order.id
        with pytest.raises(NotFoundError):
            await broker.get_order_by_client_id("never-sent")
        with pytest.raises(NotFoundError):
            await broker.get_asset("NOPE")
        assert (await broker.get_asset("FNGU")).fractionable is False


async def test_adapter_reads_market_data_clock_and_calendar(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with adapter_against_sim(xnys, synthetic) as (broker, _):
        symbols = ["SPY", "QQQ", "TQQQ", "UVXY", "BIL"]
        bars = await broker.get_daily_bars(symbols, date(2023, 1, 1), date(2025, 6, 3))
        assert set(bars) == set(symbols)
        assert all(len(v) > 500 for v in bars.values())
        assert bars["SPY"][-1].session_date == date(2025, 6, 3)
        quotes = await broker.get_latest_quotes(["SPY", "NOPE"])
        assert set(quotes) == {"SPY"}
        clock = await broker.get_clock()
        assert clock.is_open
        calendar = await broker.get_calendar(date(2025, 12, 22), date(2025, 12, 31))
        assert date(2025, 12, 25) not in [d.date for d in calendar]
