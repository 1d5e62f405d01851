"""Contract: every payload the protocol face produces validates with alpaca-py's own models (the test oracle)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alpaca.data.models import BarSet, Quote, Snapshot
from alpaca.trading.enums import OrderStatus as AlpacaOrderStatus
from alpaca.trading.enums import TradeEvent as AlpacaTradeEvent
from alpaca.trading.models import Asset, Calendar, Clock, Order, Position, TradeAccount, TradeActivity, TradeUpdate

from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.synthetic import SyntheticMarket
from tests.sim.server_fixtures import market_order, open_stream, recv_events, running_server


async def test_trading_payloads_validate_with_alpaca_py(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic, partial_fill_rate=1.0, partial_fill_delay=0.0) as rs:
        ws = await open_stream(rs.server)
        try:
            submitted = (await rs.http.post("/v2/orders", json=market_order(qty="7"))).json()
            notional = {**market_order(cid="n"), "qty": None, "notional": "250.50"}
            submitted_notional = (await rs.http.post("/v2/orders", json=notional)).json()
            resting = {**market_order(cid="r"), "type": "limit", "limit_price": "1.00"}
            rest = (await rs.http.post("/v2/orders", json=resting)).json()
            await rs.http.delete(f"/v2/orders/{rest['id']}")
            events: list[dict[str, Any]] = []
            while not any(e["event"] == "canceled" for e in events) or sum(e["event"] == "fill" for e in events) < 2:
                events.extend(await recv_events(ws, 1))
        finally:
            await ws.close()
        for body in (submitted, submitted_notional, rest):
            order = Order.model_validate(body)
            assert str(order.id) == body["id"]
        for body in (await rs.http.get("/v2/orders", params={"status": "all"})).json():
            assert Order.model_validate(body).status in set(AlpacaOrderStatus)
        kinds = set()
        for data in events:
            update = TradeUpdate.model_validate(data)
            assert update.event in set(AlpacaTradeEvent)
            kinds.add(update.event)
            if update.event in (AlpacaTradeEvent.FILL, AlpacaTradeEvent.PARTIAL_FILL):
                assert update.price is not None and update.qty is not None and update.execution_id is not None
        assert {AlpacaTradeEvent.PENDING_NEW, AlpacaTradeEvent.NEW, AlpacaTradeEvent.PARTIAL_FILL} <= kinds
        assert {AlpacaTradeEvent.FILL, AlpacaTradeEvent.PENDING_CANCEL, AlpacaTradeEvent.CANCELED} <= kinds
        account = TradeAccount.model_validate((await rs.http.get("/v2/account")).json())
        assert account.cash is not None and float(account.cash) < 100_000
        positions = (await rs.http.get("/v2/positions")).json()
        assert positions and all(Position.model_validate(p).symbol == "SPY" for p in positions)
        asset = Asset.model_validate((await rs.http.get("/v2/assets/SPY")).json())
        assert asset.symbol == "SPY" and asset.fractionable
        assert Asset.model_validate((await rs.http.get("/v2/assets/BWXT")).json()).exchange.value == "NYSE"
        clock = Clock.model_validate((await rs.http.get("/v2/clock")).json())
        assert clock.is_open and clock.timestamp.astimezone(UTC) >= datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
        calendar = (await rs.http.get("/v2/calendar", params={"start": "2025-11-26", "end": "2025-11-28"})).json()
        days = [Calendar.model_validate(day) for day in calendar]
        assert [d.close.strftime("%H:%M") for d in days] == ["16:00", "13:00"]
        for row in (await rs.http.get("/v2/account/activities/FILL")).json():
            activity = TradeActivity.model_validate(row)
            assert activity.symbol == "SPY"


async def test_market_data_payloads_validate_with_alpaca_py(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        params = {"symbols": "SPY,TQQQ", "timeframe": "1Day", "start": "2025-05-01", "end": "2025-06-03"}
        bars = (await rs.http.get("/v2/stocks/bars", params=params)).json()
        barset = BarSet(bars["bars"])
        assert len(barset.data["SPY"]) > 20 and barset.data["SPY"][-1].close > 0
        quotes = (await rs.http.get("/v2/stocks/quotes/latest", params={"symbols": "SPY"})).json()["quotes"]
        quote = Quote("SPY", quotes["SPY"])
        assert quote.bid_price < quote.ask_price
        snaps = (await rs.http.get("/v2/stocks/snapshots", params={"symbols": "SPY"})).json()
        snapshot = Snapshot("SPY", snaps["SPY"])
        assert snapshot.daily_bar is not None and snapshot.latest_quote is not None


async def test_orders_carry_expires_at(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        day = {**market_order(cid="d"), "type": "limit", "limit_price": "1.00"}
        gtc = {**day, "client_order_id": "g", "time_in_force": "gtc"}
        day_order = Order.model_validate((await rs.http.post("/v2/orders", json=day)).json())
        gtc_order = Order.model_validate((await rs.http.post("/v2/orders", json=gtc)).json())
        assert day_order.expires_at == datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
        assert gtc_order.expires_at == datetime(2025, 9, 1, 20, 15, tzinfo=UTC)
