"""Pure pieces: error mapping, parse functions (fuzzed), dedupe, auth messages, backoff."""

from __future__ import annotations

import contextlib
import json
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.backoff import equal_jitter_delay
from alchemiser.adapters.alpaca.dedupe import EventDeduplicator
from alchemiser.adapters.alpaca.errors import (
    MalformedResponseError,
    RequestRefusedError,
    map_http_error,
    parse_error_body,
    retry_after_seconds,
)
from alchemiser.adapters.alpaca.parsing import (
    AuthorizationReply,
    ListeningReply,
    StreamErrorMessage,
    TradeUpdateMessage,
    UnknownMessage,
    parse_stream_message,
)
from alchemiser.broker.models import TradeUpdate
from alchemiser.errors import (
    AuthFailedError,
    BrokerTransientError,
    ConfigError,
    DuplicateClientOrderIdError,
    InsufficientBuyingPowerError,
    NotCancelableError,
    NotFoundError,
    NotFractionableError,
    OrderRejectedError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from tests.adapters.alpaca_fakes import SECRET, T0, filled, order_json, trade_update_json


@pytest.mark.parametrize(
    ("status", "body", "kind", "expected"),
    [
        (403, '{"code":40310000,"message":"insufficient buying power"}', "order_submit", InsufficientBuyingPowerError),
        (403, '{"code":40310000,"message":"insufficient qty available for order"}', "order_submit", OrderRejectedError),
        (
            422,
            '{"code":40010001,"message":"client_order_id must be unique"}',
            "order_submit",
            DuplicateClientOrderIdError,
        ),
        (400, '{"message":"client_order_id must be unique"}', "order_submit", DuplicateClientOrderIdError),
        (403, '{"message":"requested asset is not fractionable"}', "order_submit", NotFractionableError),
        (422, '{"message":"order is not cancelable"}', "order_cancel", NotCancelableError),
        (422, '{"message":"whatever"}', "order_cancel", NotCancelableError),
        (404, '{"code":40410000,"message":"order not found"}', "order_cancel", NotFoundError),
        (401, '{"message":"unauthorized."}', "read", AuthFailedError),
        (403, '{"message":"forbidden."}', "read", AuthFailedError),
        (422, '{"message":"invalid timeframe"}', "read", RequestRefusedError),
        (429, "", "read", RateLimitedError),
        (429, '{"code":42910000,"message":"rate limit exceeded"}', "order_submit", RateLimitedError),
        (500, "", "order_submit", BrokerTransientError),
        (504, "<html>gateway</html>", "read", BrokerTransientError),
        (302, "", "read", MalformedResponseError),
    ],
)
def test_error_mapping(status: int, body: str, kind: str, expected: type[Exception]):
    error = map_http_error(status, body, kind=kind, endpoint="/v2/x")  # type: ignore[arg-type]
    assert type(error) is expected
    assert error.status_code == status
    assert str(error).startswith("/v2/x")


def test_transient_vs_permanent_classification():
    assert isinstance(map_http_error(503, "", kind="read", endpoint="e"), TransientError)
    assert isinstance(map_http_error(429, "", kind="read", endpoint="e"), TransientError)
    for status in (400, 401, 403, 404, 422):
        assert isinstance(map_http_error(status, "", kind="order_submit", endpoint="e"), PermanentError)


def test_error_body_tolerates_non_json_and_odd_codes():
    assert parse_error_body("not json").message == "not json"
    assert parse_error_body('{"code":"abc","message":"m"}').code is None
    assert parse_error_body('["list"]').message == '["list"]'
    assert parse_error_body("x" * 1000).message == "x" * 300


def test_retry_after_prefers_retry_after_then_reset_and_caps():
    assert retry_after_seconds({"retry-after": "5"}, 0) == 5
    assert retry_after_seconds({"x-ratelimit-reset": "1010"}, 1000.0) == 10
    assert retry_after_seconds({"x-ratelimit-reset": "900"}, 1000.0) == 0
    assert retry_after_seconds({"retry-after": "99999"}, 0) == 120
    assert retry_after_seconds({"retry-after": "soon"}, 0) is None
    assert retry_after_seconds({}, 0) is None


def test_stream_messages_of_every_kind():
    auth_ok = parse_stream_message(b'{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}')
    assert auth_ok == AuthorizationReply(authorized=True, action="authenticate")
    auth_bad = parse_stream_message('{"stream":"authorization","data":{"status":"unauthorized","action":"listen"}}')
    assert auth_bad == AuthorizationReply(authorized=False, action="listen")
    assert parse_stream_message('[{"T":"success","msg":"authenticated"}]') == AuthorizationReply(True, "auth")
    assert parse_stream_message('[{"T":"error","code":402,"msg":"auth failed"}]') == AuthorizationReply(False, "auth")
    assert parse_stream_message('{"stream":"listening","data":{"streams":["trade_updates"]}}') == ListeningReply(
        ("trade_updates",)
    )
    error = parse_stream_message('{"action":"error","data":{"error_message":"internal server error"}}')
    assert error == StreamErrorMessage("internal server error")
    assert isinstance(parse_stream_message('{"stream":"something_new"}'), UnknownMessage)
    update = parse_stream_message(json.dumps(trade_update_json("new", order_json())))
    assert isinstance(update, TradeUpdateMessage)


def test_pending_new_with_null_fields_parses():
    payload = trade_update_json("pending_new", order_json(status="pending_new"))
    payload["data"].update(execution_id=None, price=None, qty=None, position_qty=None)
    message = parse_stream_message(json.dumps(payload))
    assert isinstance(message, TradeUpdateMessage) and message.update.price is None


def test_malformed_frames_raise_typed_errors():
    with pytest.raises(MalformedResponseError, match="not JSON"):
        parse_stream_message(b"\xff\xfe")
    with pytest.raises(MalformedResponseError, match="trade_updates event: order"):
        parse_stream_message('{"stream":"trade_updates","data":{"event":"fill"}}')


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_fuzz_parse_stream_message_never_raises_untyped(raw: bytes | str):
    with contextlib.suppress(MalformedResponseError):
        parse_stream_message(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["stream", "data", "action", "T", "msg"]), json_values, max_size=4))
def test_fuzz_structured_garbage(envelope: dict[str, object]):
    with contextlib.suppress(MalformedResponseError):
        parse_stream_message(json.dumps(envelope))


def update(payload: dict[str, object]) -> TradeUpdate:
    return TradeUpdate.model_validate(payload["data"])


def test_dedupe_identity_state_and_staleness():
    dedupe = EventDeduplicator()
    order = order_json()
    new = update(trade_update_json("new", order))
    partial = update(trade_update_json("partial_fill", filled(order, "4", "1", T0, complete=False), execution_id="a"))
    done = update(trade_update_json("fill", filled(order, "10", "1", T0), execution_id="b"))
    assert dedupe.admit(new) is None
    assert dedupe.admit(new) == "duplicate"
    assert order["id"] in dedupe.open_order_ids()
    assert dedupe.admit(done) is None
    assert dedupe.admit(partial) == "stale"  # arrived after the final fill: does not raise filled_qty
    assert dedupe.admit(new.model_copy(update={"event_id": "other"})) == "duplicate"  # same state, other id
    late_cancel = update(trade_update_json("pending_cancel", {**order, "status": "pending_cancel"}))
    assert dedupe.admit(late_cancel) == "stale"  # the order is already terminal
    assert order["id"] not in dedupe.open_order_ids()
    assert dedupe.last_event_at == T0


def test_dedupe_memory_is_bounded():
    dedupe = EventDeduplicator(capacity=10)
    for _ in range(100):
        assert dedupe.admit(update(trade_update_json("new", order_json()))) is None
    assert len(dedupe) <= 10 and dedupe.remembered_keys() <= 20


def test_equal_jitter_backoff_bounds():
    rng = random.Random(1)
    for attempt in range(10):
        delay = equal_jitter_delay(attempt, 1.0, 30.0, rng)
        ceiling = min(30.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_credentials_never_show_the_secret_and_refuse_blanks():
    creds = AlpacaCredentials.of("KEY", SECRET)
    assert SECRET not in repr(creds) and SECRET not in str(creds)
    assert json.loads(creds.stream_auth_message("auth")) == {"action": "auth", "key": "KEY", "secret": SECRET}
    with pytest.raises(ConfigError, match=r"alpaca\.secret_key is empty"):
        AlpacaCredentials.of("KEY", " ")


def test_money_in_events_is_exact_decimal():
    payload = trade_update_json("fill", filled(order_json(), "0.3", "105.8988475", T0), execution_id="x", price="0.1")
    parsed = update(payload)
    assert parsed.order.filled_qty == Decimal("0.3") and parsed.price == Decimal("0.1")
    assert parsed.timestamp is not None and parsed.timestamp.utcoffset() == timedelta(0)


def test_fast_time_path_agrees_with_the_models_own_parsing():
    order = order_json(
        created_at="2022-04-19T13:45:04.981350886-04:00",
        updated_at="2022-04-19T17:45:05.027690731Z",
        submitted_at="2022-04-19T13:45:04.98-04:00",
    )
    payload = trade_update_json("new", order)
    payload["data"]["timestamp"] = "2022-04-19T17:45:05.024916716Z"
    message = parse_stream_message(json.dumps(payload))
    assert isinstance(message, TradeUpdateMessage)
    reference = TradeUpdate.model_validate(json.loads(json.dumps(payload))["data"])
    assert message.update == reference
    assert message.update.order.created_at.isoformat() == "2022-04-19T17:45:04.981350+00:00"


def test_naive_or_garbage_times_are_still_rejected():
    for bad in ("2022-04-19T13:45:04", "yesterday"):
        payload = trade_update_json("new", order_json(created_at=bad))
        with pytest.raises(MalformedResponseError, match="created_at"):
            parse_stream_message(json.dumps(payload))
