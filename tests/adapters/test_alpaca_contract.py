"""Contract tests: alpaca-py 0.44 (dev-only oracle) accepts every payload our fakes produce, and our tolerant enums
cover every value alpaca-py knows. If Alpaca's SDK changes shape on upgrade, these fail before our fakes drift."""

from __future__ import annotations

import json
from datetime import date, timedelta
from enum import Enum

import pytest
from alpaca.data import models as data_models
from alpaca.trading import enums as alpaca_enums
from alpaca.trading import models as alpaca_models

from alchemiser.adapters.alpaca.parsing import (
    TradeUpdateMessage,
    parse_bars_page,
    parse_latest_quotes,
    parse_stream_message,
)
from alchemiser.broker import enums as our_enums
from alchemiser.broker.models import Account, Asset, CalendarDay, MarketClock, Order, Position
from tests.adapters.alpaca_fakes import (
    T0,
    account_json,
    asset_json,
    bar_json,
    calendar_json,
    clock_json,
    filled,
    order_json,
    position_json,
    trade_update_json,
)

ORDER_VARIANTS = [
    order_json(),
    order_json(status="accepted", qty=None, notional="500"),
    order_json(type="limit", order_type="limit", limit_price="431.25", time_in_force="gtc"),
    filled(order_json(), "10", "431.2", T0),
    filled(order_json(), "4", "431.2", T0, complete=False),
    order_json(status="canceled", canceled_at="2026-03-02T15:00:01.123456789-05:00"),
    order_json(side="sell", status="pending_new"),
]


@pytest.mark.parametrize("payload", ORDER_VARIANTS)
def test_order_fakes_validate_with_alpaca_py_and_round_trip_through_ours(payload: dict[str, object]):
    theirs = alpaca_models.Order(**payload)
    ours = Order.model_validate(payload)
    assert str(theirs.id) == ours.id
    assert theirs.status.value == ours.status.value
    # What the simulated exchange serves (our to_alpaca) must be acceptable to the SDK too.
    alpaca_models.Order(**ours.to_alpaca())


def test_account_position_asset_clock_fakes_validate():
    alpaca_models.TradeAccount(**account_json())
    alpaca_models.TradeAccount(**Account.model_validate(account_json()).to_alpaca())
    alpaca_models.Position(**position_json())
    alpaca_models.Position(**position_json(symbol="TSLA", qty="-3", side="short"))
    alpaca_models.Position(**Position.model_validate(position_json()).to_alpaca())
    alpaca_models.Asset(**asset_json())
    alpaca_models.Asset(**Asset.model_validate(asset_json()).to_alpaca())
    their_clock = alpaca_models.Clock(**clock_json())
    our_clock = MarketClock.model_validate(clock_json())
    assert their_clock.next_close == our_clock.next_close
    alpaca_models.Clock(**our_clock.to_alpaca())


def test_calendar_fakes_validate_and_agree_on_times():
    day = date(2025, 11, 28)
    theirs = alpaca_models.Calendar(**calendar_json(day, close="13:00"))
    ours = CalendarDay.model_validate(calendar_json(day, close="13:00"))
    assert (theirs.close.hour, theirs.close.minute) == (ours.close.hour, ours.close.minute)
    alpaca_models.Calendar(**ours.to_alpaca())


KNOWN_TO_ALPACA_PY = [e.value for e in alpaca_enums.TradeEvent]


@pytest.mark.parametrize("event", [*KNOWN_TO_ALPACA_PY, "done_for_day", "order_cancel_rejected"])
def test_trade_update_fakes_validate_for_every_event(event: str):
    order = order_json()
    fill_like = event in {"fill", "partial_fill"}
    payload = trade_update_json(
        event,
        filled(order, "10", "5", T0, complete=event == "fill") if fill_like else order,
        execution_id="2f63ea93-423d-4169-b3f6-3fdafc10c418" if fill_like else None,
        price="5" if fill_like else None,
        qty="10" if fill_like else None,
        position_qty="10" if fill_like else None,
        event_id="01JJ3WE73W5PG672TC4XACXH5R",
    )
    theirs = alpaca_models.TradeUpdate(**payload["data"])
    message = parse_stream_message(json.dumps(payload))
    assert isinstance(message, TradeUpdateMessage)
    ours = message.update
    assert theirs.event == ours.event.value  # alpaca-py gives a TradeEvent or, for events it lacks, a plain str
    assert ours.event is not our_enums.TradeEvent.UNKNOWN
    assert ours.event_id == "01JJ3WE73W5PG672TC4XACXH5R"  # kept by us, dropped by alpaca-py


def test_market_data_fakes_validate():
    day = date(2026, 2, 2)
    bars = {"AAPL": [bar_json(day + timedelta(days=i), 100.0 + i) for i in range(3)]}
    data_models.BarSet({"AAPL": bars["AAPL"]})
    page, token = parse_bars_page({"bars": bars, "next_page_token": None}, ["AAPL"])
    assert token is None and [b.c for b in page["AAPL"]] == [100.0, 101.0, 102.0]
    quote = {"t": "2022-03-11T18:40:13.514830169Z", "ax": "V", "ap": 156.47, "as": 3, "bx": "V", "bp": 156.45, "bs": 1}
    data_models.Quote("AAPL", {**quote, "c": ["R"], "z": "C"})
    ours = parse_latest_quotes({"quotes": {"AAPL": quote}}, ["AAPL"])["AAPL"]
    data_models.Quote("AAPL", ours.to_alpaca())


ENUM_PAIRS: list[tuple[type[Enum], type[Enum]]] = [
    (alpaca_enums.OrderStatus, our_enums.OrderStatus),
    (alpaca_enums.OrderSide, our_enums.OrderSide),
    (alpaca_enums.OrderType, our_enums.OrderType),
    (alpaca_enums.TimeInForce, our_enums.TimeInForce),
    (alpaca_enums.OrderClass, our_enums.OrderClass),
    (alpaca_enums.TradeEvent, our_enums.TradeEvent),
    (alpaca_enums.PositionSide, our_enums.PositionSide),
    (alpaca_enums.AssetClass, our_enums.AssetClass),
    (alpaca_enums.AssetStatus, our_enums.AssetStatus),
]


@pytest.mark.parametrize(("theirs", "ours"), ENUM_PAIRS, ids=lambda e: e.__name__)
def test_our_enum_values_cover_alpaca_py(theirs: type[Enum], ours: type[Enum]):
    missing = {m.value for m in theirs} - {m.value for m in ours}
    assert not missing, f"{ours.__name__} lacks {sorted(missing)} known to alpaca-py"


def test_unknown_values_are_tolerated_where_alpaca_py_raises():
    weird = order_json(status="brand_new_status", asset_class="space_rocks")
    with pytest.raises(ValueError):
        alpaca_models.Order(**weird)
    ours = Order.model_validate(weird)
    assert ours.status is our_enums.OrderStatus.UNKNOWN
    assert ours.asset_class is our_enums.AssetClass.UNKNOWN
