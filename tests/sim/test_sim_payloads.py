"""Pure request parsing and JSON shaping: any JSON body is either a valid order request or a typed reject."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alchemiser.broker.enums import OrderSide, OrderType, TimeInForce
from alchemiser.errors import BrokerError
from alchemiser.sim.payloads import (
    RequestError,
    decode_page_token,
    encode_page_token,
    parse_order_body,
    parse_time,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
order_like = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from(["SPY", "", " qqq ", 5]) | json_values,
        "side": st.sampled_from(["buy", "sell", "BUY", "hold"]) | json_values,
        "type": st.sampled_from(["market", "limit", "stop", "weird"]) | json_values,
        "time_in_force": st.sampled_from(["day", "gtc", "ioc", "x"]) | json_values,
        "qty": st.sampled_from(["1", "0.5", "abc", "1e400", "NaN", 2, 0.1]) | json_values,
        "notional": st.sampled_from(["10", "-1", None]) | json_values,
        "limit_price": st.sampled_from(["1.23", "x", 5]) | json_values,
        "client_order_id": st.text(max_size=140) | json_values,
        "extended_hours": json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(body=order_like | json_values)
def test_any_json_body_parses_or_is_a_typed_reject(body: object) -> None:
    try:
        request = parse_order_body(body, new_client_id="generated")
    except BrokerError as err:
        assert err.status_code in (400, 422)
        assert err.message
        return
    assert request.side in (OrderSide.BUY, OrderSide.SELL)
    assert request.type is not OrderType.UNKNOWN and request.time_in_force is not TimeInForce.UNKNOWN
    assert (request.qty is None) != (request.notional is None)
    assert 0 < len(request.client_order_id) <= 128
    for value in (request.qty, request.notional, request.limit_price):
        assert value is None or value.is_finite()


def test_float_quantities_keep_their_decimal_text() -> None:
    request = parse_order_body(
        {"symbol": "spy", "side": "buy", "type": "market", "time_in_force": "day", "qty": 0.1 + 0.2}
    )
    assert request.qty == Decimal("0.30000000000000004") and request.symbol == "SPY"
    assert len(request.client_order_id) == 36  # generated when absent


def test_page_token_round_trip_and_garbage() -> None:
    token = encode_page_token("TQQQ", date(2025, 6, 3))
    assert decode_page_token(token) == ("TQQQ", date(2025, 6, 3))
    with pytest.raises(RequestError):
        decode_page_token("!!!")


def test_parse_time_forms() -> None:
    assert parse_time("2025-06-03T15:00:00.123456789Z", "t") == datetime(2025, 6, 3, 15, 0, 0, 123456, tzinfo=UTC)
    assert parse_time("2025-06-03", "t") == datetime(2025, 6, 3, 4, 0, tzinfo=UTC)  # New York midnight
    with pytest.raises(RequestError, match="no UTC offset"):
        parse_time("2025-06-03T15:00:00", "t")
