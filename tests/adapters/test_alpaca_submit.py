"""Order submission: sent once, ambiguity resolved by client_order_id lookup, rejections typed."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
import respx

from alchemiser.adapters.alpaca.broker import AlpacaBroker
from alchemiser.broker.enums import OrderSide, OrderType
from alchemiser.broker.models import OrderRequest, SubmitStatus
from alchemiser.errors import (
    DuplicateClientOrderIdError,
    InsufficientBuyingPowerError,
    NotFractionableError,
    OrderRejectedError,
    RateLimitedError,
    TransientError,
)
from alchemiser.process.breaker import BreakerState
from tests.adapters.alpaca_fakes import TRADING, order_json

ORDERS = f"{TRADING}/v2/orders"
LOOKUP = f"{TRADING}/v2/orders:by_client_order_id"


def request(cid: str = "alc-20260302-spy-buy-1", **overrides: object) -> OrderRequest:
    fields: dict[str, object] = {
        "symbol": "SPY",
        "side": OrderSide.BUY,
        "client_order_id": cid,
        "qty": Decimal("0.1") + Decimal("0.2"),
    }
    fields.update(overrides)
    return OrderRequest.model_validate(fields)


def accepted(req: OrderRequest) -> dict[str, object]:
    return order_json(client_order_id=req.client_order_id, symbol=req.symbol, qty="0.3", status="accepted")


async def test_submit_sends_exact_decimal_strings_once(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    req = request(type=OrderType.LIMIT, limit_price=Decimal("431.25"))
    post = alpaca_mock.post(ORDERS).respond(200, json=accepted(req))
    result = await broker.submit_order(req)
    assert result.status is SubmitStatus.SUBMITTED
    assert result.order is not None and result.order.client_order_id == req.client_order_id
    body = json.loads(post.calls.last.request.content)
    assert body == {
        "symbol": "SPY",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "client_order_id": req.client_order_id,
        "qty": "0.3",
        "limit_price": "431.25",
    }
    assert post.call_count == 1


async def test_timeout_after_server_accepted_is_adopted_without_second_submit(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter
):
    req = request()
    placed: dict[str, dict[str, object]] = {}

    def accept_then_time_out(http_request: httpx.Request) -> httpx.Response:
        body = json.loads(http_request.content)
        placed[body["client_order_id"]] = accepted(req)
        raise httpx.ReadTimeout("reply lost", request=http_request)

    def lookup(http_request: httpx.Request) -> httpx.Response:
        cid = http_request.url.params["client_order_id"]
        if cid in placed:
            return httpx.Response(200, json=placed[cid])
        return httpx.Response(404, json={"code": 40410000, "message": "order not found"})

    post = alpaca_mock.post(ORDERS).mock(side_effect=accept_then_time_out)
    get = alpaca_mock.get(LOOKUP).mock(side_effect=lookup)
    result = await broker.submit_order(req)
    assert result.status is SubmitStatus.ADOPTED
    assert result.order is not None and result.order.id == placed[req.client_order_id]["id"]
    assert "found by lookup" in result.detail
    assert post.call_count == 1
    assert get.call_count == 1


async def test_5xx_and_order_not_found_is_unknown_and_says_resend_is_safe(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter, fast_clock
):
    post = alpaca_mock.post(ORDERS).respond(504, text="gateway timeout")
    get = alpaca_mock.get(LOOKUP).respond(404, json={"code": 40410000, "message": "order not found"})
    result = await broker.submit_order(request())
    assert result.status is SubmitStatus.UNKNOWN
    assert result.order is None
    assert "safe" in result.detail and "504" in result.detail
    assert post.call_count == 1
    assert get.call_count == 3  # looked up three times, spaced on the injected clock
    assert sum(fast_clock.sleeps) >= 3.0


async def test_connection_reset_then_lookup_finds_order(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    req = request()
    alpaca_mock.post(ORDERS).mock(side_effect=httpx.RemoteProtocolError("server disconnected"))
    alpaca_mock.get(LOOKUP).mock(
        side_effect=[httpx.Response(404, json={"message": "order not found"}), httpx.Response(200, json=accepted(req))]
    )
    result = await broker.submit_order(req)
    assert result.status is SubmitStatus.ADOPTED


async def test_unreadable_success_reply_is_resolved_by_lookup(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    req = request()
    alpaca_mock.post(ORDERS).respond(200, text="<html>proxy</html>")
    alpaca_mock.get(LOOKUP).respond(200, json=accepted(req))
    assert (await broker.submit_order(req)).status is SubmitStatus.ADOPTED


async def test_lookup_failing_too_is_unknown_not_an_exception(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.post(ORDERS).mock(side_effect=httpx.ReadTimeout("slow"))
    alpaca_mock.get(LOOKUP).mock(side_effect=httpx.ReadTimeout("slow"))
    result = await broker.submit_order(request())
    assert result.status is SubmitStatus.UNKNOWN
    assert "lookup failed" in result.detail


async def test_duplicate_client_order_id_reply_adopts_existing_order(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter
):
    req = request()
    post = alpaca_mock.post(ORDERS).respond(422, json={"code": 40010001, "message": "client_order_id must be unique"})
    alpaca_mock.get(LOOKUP).respond(200, json={**accepted(req), "status": "filled", "filled_qty": "0.3"})
    result = await broker.submit_order(req)
    assert result.status is SubmitStatus.ADOPTED
    assert result.order is not None and result.order.filled_qty == Decimal("0.3")
    assert "duplicate" in result.detail
    assert post.call_count == 1


async def test_duplicate_id_used_by_a_different_order_is_a_rejection(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter
):
    req = request()
    alpaca_mock.post(ORDERS).respond(422, json={"code": 40010001, "message": "client_order_id must be unique"})
    alpaca_mock.get(LOOKUP).respond(200, json={**accepted(req), "symbol": "QQQ"})
    with pytest.raises(DuplicateClientOrderIdError, match="different order"):
        await broker.submit_order(req)


async def test_duplicate_id_that_lookup_cannot_find_is_unknown(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.post(ORDERS).respond(422, json={"code": 40010001, "message": "client_order_id must be unique"})
    get = alpaca_mock.get(LOOKUP).respond(404, json={"message": "order not found"})
    result = await broker.submit_order(request())
    assert result.status is SubmitStatus.UNKNOWN
    assert get.call_count == 1


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            403,
            {"buying_power": "176.28", "code": 40310000, "cost_basis": "4864", "message": "insufficient buying power"},
            InsufficientBuyingPowerError,
        ),
        (422, {"code": 42210000, "message": "requested asset is not fractionable"}, NotFractionableError),
        (422, {"code": 42210000, "message": "potential wash trade detected. use complex orders"}, OrderRejectedError),
        (403, {"code": 40310100, "message": "trade denied due to pattern day trading protection"}, OrderRejectedError),
        (400, {"message": "qty and notional are mutually exclusive"}, OrderRejectedError),
        (
            422,
            {"code": 42210000, "message": "invalid limit_price 290.123. sub-penny increment does not fulfill"},
            OrderRejectedError,
        ),
    ],
)
async def test_rejections_are_typed_and_never_looked_up(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter, status: int, body: dict[str, object], error: type[Exception]
):
    post = alpaca_mock.post(ORDERS).respond(status, json=body)
    get = alpaca_mock.get(LOOKUP).respond(404)
    with pytest.raises(error) as info:
        await broker.submit_order(request())
    assert post.call_count == 1
    assert not get.called
    assert isinstance(info.value, OrderRejectedError)
    assert info.value.status_code == status


async def test_insufficient_buying_power_keeps_body_details(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.post(ORDERS).respond(
        403, json={"buying_power": "176.28", "code": 40310000, "message": "insufficient buying power"}
    )
    with pytest.raises(InsufficientBuyingPowerError) as info:
        await broker.submit_order(request())
    assert info.value.context["body_buying_power"] == "176.28"
    assert info.value.code == 40310000


async def test_429_on_submit_is_raised_not_resolved(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    post = alpaca_mock.post(ORDERS).respond(429, json={"code": 42910000, "message": "rate limit exceeded"})
    get = alpaca_mock.get(LOOKUP).respond(404)
    with pytest.raises(RateLimitedError):
        await broker.submit_order(request())
    assert post.call_count == 1
    assert not get.called


async def test_a_storm_of_429s_on_submits_never_opens_the_breaker_but_5xx_do(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter
):
    """A 429 is not an outage (the budget pauses for it); five refused submits in a row used to open the breaker."""
    breaker = broker.breakers["alpaca_trading"]
    limited = alpaca_mock.post(ORDERS).respond(429, json={"code": 42910000, "message": "rate limit exceeded"})
    for _ in range(breaker.failure_threshold + 2):
        with pytest.raises(RateLimitedError):
            await broker.submit_order(request())
    assert limited.call_count == breaker.failure_threshold + 2
    assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 0
    alpaca_mock.get(LOOKUP).respond(404)
    alpaca_mock.post(ORDERS).respond(503, json={"message": "unavailable"})
    for _ in range(breaker.failure_threshold):
        await broker.submit_order(request())  # unclear, resolved by lookup: each still a failed call
    assert breaker.state is BreakerState.OPEN


async def test_open_trading_breaker_refuses_submit_without_sending(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    post = alpaca_mock.post(ORDERS).respond(200, json=accepted(request()))
    breaker = broker.breakers["alpaca_trading"]
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    with pytest.raises(TransientError, match="open"):
        await broker.submit_order(request())
    assert not post.called


def test_order_request_refuses_both_qty_and_notional():
    with pytest.raises(ValueError, match="exactly one of qty and notional"):
        request(notional=Decimal(100))
