"""The broker domain models: Alpaca JSON in, Alpaca JSON out, Decimal money, tolerant enums, aware UTC times."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from alpaca.trading import enums as alpaca_enums
from alpaca.trading.models import Asset as AlpacaAsset
from alpaca.trading.models import Calendar as AlpacaCalendar
from alpaca.trading.models import Clock as AlpacaClock
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.models import TradeAccount as AlpacaAccount
from alpaca.trading.models import TradeUpdate as AlpacaTradeUpdate
from pydantic import ValidationError

from alchemiser.broker import (
    Account,
    Asset,
    Bar,
    CalendarDay,
    MarketClock,
    Order,
    OrderClass,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    TimeInForce,
    TradeEvent,
    TradeUpdate,
)

# Doc examples from alpaca-protocol.md §2.1 / §4.1 (shapes as Alpaca sends them).
ORDER_JSON: dict[str, Any] = {
    "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
    "client_order_id": "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
    "created_at": "2021-03-16T18:38:01.942282Z",
    "updated_at": "2021-03-16T18:38:01.942282Z",
    "submitted_at": "2021-03-16T18:38:01.937734Z",
    "filled_at": None,
    "expired_at": None,
    "canceled_at": None,
    "failed_at": None,
    "replaced_at": None,
    "replaced_by": None,
    "replaces": None,
    "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
    "symbol": "AAPL",
    "asset_class": "us_equity",
    "notional": "500",
    "qty": None,
    "filled_qty": "0",
    "filled_avg_price": None,
    "order_class": "",
    "order_type": "market",
    "type": "market",
    "side": "buy",
    "time_in_force": "day",
    "limit_price": None,
    "stop_price": None,
    "status": "accepted",
    "extended_hours": False,
    "legs": None,
    "trail_percent": None,
    "trail_price": None,
    "hwm": None,
    "subtag": None,
    "source": None,
}

FILL_EVENT_JSON: dict[str, Any] = {
    "event": "fill",
    "execution_id": "2f63ea93-423d-4169-b3f6-3fdafc10c418",
    "event_id": "01JJ3WE73W5PG672TC4XACXH5R",
    "at": "2025-01-21T07:32:40.70095Z",
    "order": {
        **ORDER_JSON,
        "status": "filled",
        "qty": "1790.86",
        "notional": None,
        "filled_qty": "1790.86",
        "filled_avg_price": "105.8988475",
        "filled_at": "2022-04-19T17:45:05.024916716Z",
        "created_at": "2022-04-19T13:45:04.981350886-04:00",
        "updated_at": "2022-04-19T13:45:05.027690731-04:00",
    },
    "position_qty": "0",
    "price": "105.8988475",
    "qty": "1790.86",
    "timestamp": "2022-04-19T17:45:05.024916716Z",
}


def test_order_parses_alpaca_json_with_decimal_and_utc() -> None:
    order = Order.model_validate(ORDER_JSON)
    assert order.notional == Decimal("500")
    assert order.qty is None
    assert order.order_class is OrderClass.SIMPLE
    assert order.status is OrderStatus.ACCEPTED
    assert order.created_at == datetime(2021, 3, 16, 18, 38, 1, 942282, tzinfo=UTC)
    assert order.model_extra is not None and "subtag" in order.model_extra


def test_order_round_trips_through_alpaca_py() -> None:
    body = Order.model_validate(ORDER_JSON).to_alpaca()
    parsed = AlpacaOrder.model_validate(body)
    assert str(parsed.id) == ORDER_JSON["id"]
    assert parsed.notional == "500"
    assert body["order_type"] == "market"
    assert body["order_class"] == ""


def test_nanosecond_offsets_are_truncated_and_normalised_to_utc() -> None:
    update = TradeUpdate.model_validate(FILL_EVENT_JSON)
    assert update.order.created_at == datetime(2022, 4, 19, 17, 45, 4, 981350, tzinfo=UTC)
    assert update.price == Decimal("105.8988475")  # no float loss, unlike alpaca-py
    assert update.event_id == "01JJ3WE73W5PG672TC4XACXH5R"
    AlpacaTradeUpdate.model_validate(update.to_alpaca())


def test_unknown_enum_values_degrade_to_unknown_not_errors() -> None:
    order = Order.model_validate({**ORDER_JSON, "status": "brand_new_status", "side": "sell_short_exempt"})
    assert order.status is OrderStatus.UNKNOWN
    assert order.side is OrderSide.UNKNOWN
    update = TradeUpdate.model_validate({**FILL_EVENT_JSON, "event": "order_cancel_rejected"})
    assert update.event is TradeEvent.ORDER_CANCEL_REJECTED
    assert TradeEvent("SOMETHING_NEW") is TradeEvent.UNKNOWN


def test_terminal_statuses() -> None:
    assert OrderStatus.FILLED.is_terminal and OrderStatus.REPLACED.is_terminal
    assert not OrderStatus.PARTIALLY_FILLED.is_terminal
    assert OrderStatus.PENDING_CANCEL.is_open
    assert not OrderStatus.UNKNOWN.is_open


def test_dedupe_key_is_stable_for_replayed_events() -> None:
    first = TradeUpdate.model_validate(FILL_EVENT_JSON)
    replay = TradeUpdate.model_validate(dict(FILL_EVENT_JSON))
    assert first.dedupe_key == replay.dedupe_key == (ORDER_JSON["id"], "fill", FILL_EVENT_JSON["execution_id"])
    partial = TradeUpdate.model_validate({**FILL_EVENT_JSON, "execution_id": None, "event_id": None})
    assert partial.dedupe_key[2]  # falls back to the order's updated_at, never empty


@pytest.mark.parametrize(
    ("alpaca_enum", "ours"),
    [
        (alpaca_enums.OrderStatus, OrderStatus),
        (alpaca_enums.OrderSide, OrderSide),
        (alpaca_enums.OrderType, OrderType),
        (alpaca_enums.TimeInForce, TimeInForce),
        (alpaca_enums.OrderClass, OrderClass),
        (alpaca_enums.TradeEvent, TradeEvent),
    ],
)
def test_our_enums_cover_alpaca_py(alpaca_enum: Any, ours: Any) -> None:
    missing = {member.value for member in alpaca_enum} - {member.value for member in ours}
    assert not missing, f"{ours.__name__} lacks {sorted(missing)}"


def test_order_request_payload_is_exact_strings() -> None:
    request = OrderRequest(
        symbol="AAPL",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        client_order_id="run1-AAPL-buy-1",
        qty=Decimal("0.1") + Decimal("0.2"),
        limit_price=Decimal("150.25"),
    )
    assert request.to_alpaca() == {
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "client_order_id": "run1-AAPL-buy-1",
        "qty": "0.3",
        "limit_price": "150.25",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of qty and notional"),
        ({"qty": Decimal(1), "notional": Decimal(10)}, "exactly one of qty and notional"),
        ({"qty": Decimal(1), "type": OrderType.LIMIT}, "limit_price"),
        ({"qty": Decimal(1), "client_order_id": "x" * 49}, "client_order_id"),
    ],
)
def test_order_request_rejects_bad_input(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"symbol": "AAPL", "side": OrderSide.BUY, "client_order_id": "c1"}
    with pytest.raises(ValidationError, match=message):
        OrderRequest(**{**base, **kwargs})


def test_account_position_asset_clock_calendar_validate_with_alpaca_py() -> None:
    account = Account.model_validate(
        {
            "id": str(uuid.uuid4()),
            "account_number": "010203ABCD",
            "status": "ACTIVE",
            "cash": "-23140.2",
            "buying_power": "262113.632",
            "equity": "103820.56",
            "pattern_day_trader": False,
        }
    )
    assert account.cash == Decimal("-23140.2")
    AlpacaAccount.model_validate(account.to_alpaca())

    position = Position.model_validate(
        {
            "asset_id": str(uuid.uuid4()),
            "symbol": "AAPL",
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "avg_entry_price": "100.0",
            "qty": "5",
            "side": "long",
            "market_value": "600.0",
            "cost_basis": "500.0",
            "unrealized_pl": "100.0",
            "current_price": "120.0",
            "lastday_price": "119.0",
            "qty_available": "5",
        }
    )
    assert position.qty == Decimal(5)
    AlpacaPosition.model_validate(position.to_alpaca())

    asset = Asset.model_validate(
        {
            "id": str(uuid.uuid4()),
            "class": "us_equity",
            "exchange": "NASDAQ",
            "symbol": "AAPL",
            "status": "active",
            "tradable": True,
            "fractionable": True,
        }
    )
    assert AlpacaAsset.model_validate(asset.to_alpaca()).fractionable is True

    clock = MarketClock.model_validate(
        {
            "timestamp": "2022-04-28T14:07:04.451420928-04:00",
            "is_open": True,
            "next_open": "2022-04-29T09:30:00-04:00",
            "next_close": "2022-04-28T16:00:00-04:00",
        }
    )
    assert clock.next_close == datetime(2022, 4, 28, 20, 0, tzinfo=UTC)
    AlpacaClock.model_validate(clock.to_alpaca())

    day = CalendarDay.model_validate({"date": "2022-11-25", "open": "09:30", "close": "13:00"})
    assert day.close_at == datetime(2022, 11, 25, 18, 0, tzinfo=UTC)  # early close, EST
    AlpacaCalendar(**day.to_alpaca())


def test_naive_broker_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="naive"):
        Order.model_validate({**ORDER_JSON, "created_at": "2021-03-16T18:38:01"})


def test_market_data_models() -> None:
    bar = Bar.model_validate({"t": "2022-02-01T05:00:00Z", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 100})
    assert bar.session_date == date(2022, 2, 1)
    assert bar.to_alpaca()["l"] == 0.5
    quote = Quote.model_validate(
        {"symbol": "AAPL", "t": "2022-03-11T18:40:13.514830169Z", "ap": 156.47, "as": 3, "bp": 156.45, "bs": 1}
    )
    assert quote.spread == Decimal("0.02") and quote.mid == Decimal("156.46")
    wire = quote.to_alpaca()
    assert wire["ap"] == 156.47 and isinstance(wire["bp"], float)
