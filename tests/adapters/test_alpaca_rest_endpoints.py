"""Every trading endpoint of AlpacaBroker against respx-mocked Alpaca: shapes, parameters, paging, errors."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import respx
from prometheus_client import CollectorRegistry

from alchemiser.adapters.alpaca.broker import AlpacaBroker
from alchemiser.adapters.alpaca.errors import MalformedResponseError, RequestRefusedError
from alchemiser.adapters.alpaca.limiter import RateLimiter
from alchemiser.adapters.alpaca.metrics import AdapterMetrics
from alchemiser.adapters.alpaca.rest import AlpacaRestClient
from alchemiser.broker.enums import AssetClass, OrderClass, OrderStatus, PositionSide
from alchemiser.errors import (
    AuthFailedError,
    BrokerTransientError,
    NotCancelableError,
    NotFoundError,
    RateLimitedError,
)
from tests.adapters.alpaca_fakes import (
    KEY_ID,
    SECRET,
    T0,
    TRADING,
    FastClock,
    account_json,
    asset_json,
    calendar_json,
    clock_json,
    credentials,
    fill_activity_json,
    order_json,
    position_json,
)


async def test_account_sends_auth_headers_and_parses_decimals(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    route = alpaca_mock.get(f"{TRADING}/v2/account").respond(200, json=account_json())
    account = await broker.get_account()
    assert account.cash == Decimal("-23140.2")
    assert account.buying_power == Decimal("262113.632")
    assert account.pattern_day_trader is None  # absent since the 2026 FINRA change: optional
    sent = route.calls.last.request
    assert sent.headers["APCA-API-KEY-ID"] == KEY_ID
    assert sent.headers["APCA-API-SECRET-KEY"] == SECRET


async def test_positions_long_and_short(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(f"{TRADING}/v2/positions").respond(
        200, json=[position_json(), position_json(symbol="TSLA", qty="-3", side="short", exchange="NEWEXCH")]
    )
    positions = await broker.list_positions()
    assert [p.symbol for p in positions] == ["AAPL", "TSLA"]
    assert positions[1].qty == Decimal(-3)
    assert positions[1].side is PositionSide.SHORT
    assert positions[1].exchange == "NEWEXCH"  # unknown exchange tolerated (alpaca-py would raise)


async def test_asset_found_and_unknown_symbol(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(f"{TRADING}/v2/assets/AAPL").respond(200, json=asset_json())
    alpaca_mock.get(f"{TRADING}/v2/assets/NOPE").respond(404, json={"code": 40410000, "message": "asset not found"})
    asset = await broker.get_asset("aapl")
    assert asset.fractionable and asset.tradable
    assert asset.asset_class is AssetClass.US_EQUITY
    with pytest.raises(NotFoundError, match="asset not found") as info:
        await broker.get_asset("NOPE")
    assert info.value.status_code == 404


async def test_asset_rejects_empty_symbol(broker: AlpacaBroker):
    with pytest.raises(ValueError, match="empty symbol"):
        await broker.get_asset("  ")


async def test_get_order_by_id_and_by_client_id(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    order = order_json(client_order_id="abc-1", status="accepted", order_class="")
    alpaca_mock.get(f"{TRADING}/v2/orders/{order['id']}").respond(200, json=order)
    by_cid = alpaca_mock.get(f"{TRADING}/v2/orders:by_client_order_id", params={"client_order_id": "abc-1"}).respond(
        200, json=order
    )
    got = await broker.get_order(order["id"])
    assert got.status is OrderStatus.ACCEPTED
    assert got.order_class is OrderClass.SIMPLE
    got2 = await broker.get_order_by_client_id("abc-1")
    assert got2.id == order["id"]
    assert by_cid.called


async def test_get_order_not_found(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(f"{TRADING}/v2/orders/missing").respond(404, json={"message": "Order is not found"})
    with pytest.raises(NotFoundError):
        await broker.get_order("missing")


async def test_cancel_accepted_not_cancelable_and_not_found(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.delete(f"{TRADING}/v2/orders/o1").respond(204)
    alpaca_mock.delete(f"{TRADING}/v2/orders/o2").respond(
        422, json={"code": 42210000, "message": "order is not cancelable"}
    )
    alpaca_mock.delete(f"{TRADING}/v2/orders/o3").respond(404, json={"code": 40410000, "message": "order not found"})
    assert await broker.cancel_order("o1") is None
    with pytest.raises(NotCancelableError):
        await broker.cancel_order("o2")
    with pytest.raises(NotFoundError):
        await broker.cancel_order("o3")


async def test_clock_normalises_offsets_and_nanoseconds(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(f"{TRADING}/v2/clock").respond(200, json=clock_json())
    clock = await broker.get_clock()
    assert clock.is_open
    assert clock.timestamp.utcoffset() == timedelta(0)
    assert clock.timestamp.hour == 18 and clock.timestamp.microsecond == 451420
    assert clock.next_close.hour == 20


async def test_calendar_params_and_early_close(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    route = alpaca_mock.get(f"{TRADING}/v2/calendar").respond(
        200, json=[calendar_json(date(2025, 11, 28), close="13:00"), calendar_json(date(2025, 12, 1))]
    )
    days = await broker.get_calendar(date(2025, 11, 28), date(2025, 12, 1))
    assert route.calls.last.request.url.params["start"] == "2025-11-28"
    assert days[0].close.hour == 13
    assert days[0].close_at.hour == 18  # 13:00 EST in UTC
    with pytest.raises(ValueError, match="after end"):
        await broker.get_calendar(date(2025, 12, 2), date(2025, 12, 1))


async def test_list_orders_pages_by_submitted_at_without_losing_ties(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter
):
    # 5 orders, two sharing a timestamp across the page boundary; page size 2.
    times = [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=1), T0 + timedelta(seconds=2), T0 + timedelta(3)]
    orders = [order_json(at=t) for t in times]

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert params["direction"] == "asc"
        assert params["status"] == "all"
        limit = int(params["limit"])
        after = params.get("after")
        rows = orders
        if after is not None:
            cut = datetime.fromisoformat(after)
            rows = [o for o in orders if datetime.fromisoformat(o["submitted_at"]) > cut]
        return httpx.Response(200, json=rows[:limit])

    route = alpaca_mock.get(f"{TRADING}/v2/orders").mock(side_effect=handler)
    got = await broker.list_orders(status="all", after=T0 - timedelta(seconds=1), limit=2)
    assert [o.id for o in got] == [o["id"] for o in orders]
    assert route.call_count >= 3


async def test_list_orders_passes_symbols_and_caps_limit(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    route = alpaca_mock.get(f"{TRADING}/v2/orders").respond(200, json=[])
    assert await broker.list_orders(status="open", symbols=["spy", "QQQ"], limit=5000) == []
    params = route.calls.last.request.url.params
    assert params["symbols"] == "SPY,QQQ"
    assert params["limit"] == "500"
    assert "after" not in params


async def test_fill_activities_page_with_token(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    order = order_json()
    rows = [
        fill_activity_json(order, qty="1", price="10", cum=str(i + 1), leaves="0", at=T0 + timedelta(seconds=i))
        for i in range(150)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("page_token")
        start = 0 if token is None else next(i for i, r in enumerate(rows) if r["id"] == token) + 1
        size = int(request.url.params["page_size"])
        return httpx.Response(200, json=rows[start : start + size])

    route = alpaca_mock.get(f"{TRADING}/v2/account/activities/FILL").mock(side_effect=handler)
    got = await broker.list_fill_activities(after=T0 - timedelta(minutes=1))
    assert len(got) == 150
    assert route.call_count == 2
    assert route.calls[0].request.url.params["after"].endswith("Z")


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"code": 40110000, "message": "request is not authorized"}, AuthFailedError),
        (403, {"message": "forbidden."}, AuthFailedError),
        (403, {"message": "subscription does not permit querying recent SIP data"}, RequestRefusedError),
        (400, {"code": 40010000, "message": "invalid status"}, RequestRefusedError),
        (404, {"code": 40410000, "message": "not found"}, NotFoundError),
        (500, {"message": "internal"}, BrokerTransientError),
        (503, "<html>bad gateway</html>", BrokerTransientError),
    ],
)
async def test_read_errors_map_to_typed_errors(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter, status: int, body: object, error: type[Exception]
):
    kwargs = {"json": body} if isinstance(body, dict) else {"text": body}
    route = alpaca_mock.get(f"{TRADING}/v2/account").respond(status, **kwargs)
    with pytest.raises(error):
        await broker.get_account()
    # 5xx are retried (4 attempts); 4xx are not.
    assert route.call_count == (4 if status >= 500 else 1)


async def test_error_messages_never_carry_the_secret(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(f"{TRADING}/v2/account").mock(side_effect=httpx.ConnectError(f"boom {SECRET}"))
    with pytest.raises(BrokerTransientError) as info:
        await broker.get_account()
    assert SECRET not in str(info.value)
    assert "connection failed" in str(info.value)


async def test_transient_then_success_is_retried(broker: AlpacaBroker, alpaca_mock: respx.MockRouter, fast_clock):
    alpaca_mock.get(f"{TRADING}/v2/account").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(502), httpx.Response(200, json=account_json())]
    )
    account = await broker.get_account()
    assert account.equity == Decimal("103820.56")
    assert len(fast_clock.sleeps) == 2  # two backoffs on the injected clock, jittered and growing
    assert 0.25 <= fast_clock.sleeps[0] <= 0.5 <= fast_clock.sleeps[1] <= 1.0


async def test_timeouts_exhaust_retries_with_a_clear_error(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    route = alpaca_mock.get(f"{TRADING}/v2/positions").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(BrokerTransientError, match=r"/v2/positions: no reply within 2s"):
        await broker.list_positions()
    assert route.call_count == 4


async def test_malformed_json_is_a_typed_error(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(f"{TRADING}/v2/account").respond(200, text="{not json")
    with pytest.raises(MalformedResponseError, match="not JSON"):
        await broker.get_account()
    alpaca_mock.get(f"{TRADING}/v2/positions").respond(200, json={"not": "a list"})
    with pytest.raises(MalformedResponseError, match="expected a JSON array"):
        await broker.list_positions()
    alpaca_mock.get(f"{TRADING}/v2/clock").respond(200, json={"is_open": True})
    with pytest.raises(MalformedResponseError, match="clock: timestamp"):
        await broker.get_clock()


async def test_429_with_reset_header_pauses_the_budget_then_retries(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter, fast_clock
):
    reset = int(fast_clock.now().timestamp()) + 7
    alpaca_mock.get(f"{TRADING}/v2/account").mock(
        side_effect=[
            httpx.Response(
                429,
                json={"code": 42910000, "message": "rate limit exceeded"},
                headers={"X-Ratelimit-Limit": "200", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset)},
            ),
            httpx.Response(200, json=account_json()),
        ]
    )
    start = fast_clock.now()
    await broker.get_account()
    # Waited (backoff + budget pause) at least until the advertised reset.
    assert (fast_clock.now() - start).total_seconds() >= 7 - 1
    assert (
        broker.metrics.registry.get_sample_value(
            "alchemiser_alpaca_rate_limited_total", {"api": "trading", "endpoint": "/v2/account"}
        )
        == 1
    )


def _arrivals(
    clock: FastClock, replies: list[httpx.Response]
) -> tuple[list[datetime], Callable[[httpx.Request], httpx.Response]]:
    """A respx side effect answering ``replies`` in turn and noting each request's arrival on ``clock``."""
    arrivals: list[datetime] = []
    queue = list(replies)

    def answer(request: httpx.Request) -> httpx.Response:
        arrivals.append(clock.now())
        return queue.pop(0)

    return arrivals, answer


async def test_429_without_headers_backs_off_exponentially_then_gives_up_typed(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter, fast_clock: FastClock
):
    arrivals, answer = _arrivals(fast_clock, [httpx.Response(429, text="rate limit exceeded")] * 4)
    alpaca_mock.get(f"{TRADING}/v2/account").mock(side_effect=answer)
    with pytest.raises(RateLimitedError) as info:
        await broker.get_account()
    assert info.value.retry_after is None
    assert len(arrivals) == 4
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(arrivals)]
    # the default 3 s pause, doubled for each header-less 429 in a row, jittered up to x1.5
    for gap, pause in zip(gaps, (3.0, 6.0, 12.0), strict=True):
        assert pause <= gap <= pause * 1.5, gaps
    assert len({round(g / p, 6) for g, p in zip(gaps, (3.0, 6.0, 12.0), strict=True)}) > 1, "no jitter"


async def test_header_less_429_pauses_are_bounded_and_a_success_ends_the_streak(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter, fast_clock: FastClock
):
    bare = httpx.Response(429, text="rate limit exceeded")
    ok = httpx.Response(200, json=account_json())
    replies = [bare] * 3 + [ok] + [bare] * 3 + [ok] + [bare, ok]
    arrivals, answer = _arrivals(fast_clock, replies)
    alpaca_mock.get(f"{TRADING}/v2/account").mock(side_effect=answer)
    for _ in range(3):  # each call: its 429s are retried until the 200
        await broker.get_account()
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(arrivals)]
    after_429 = [gaps[i] for i, reply in enumerate(replies[:-1]) if reply is bare]
    # 3 header-less 429s, a success, 3 more, a success, 1: the streak restarts after each success
    for gap, pause in zip(after_429, (3.0, 6.0, 12.0, 3.0, 6.0, 12.0, 3.0), strict=True):
        assert pause <= gap <= pause * 1.5, after_429
    assert broker.trading.breaker is not None and broker.trading.breaker.consecutive_failures == 0


async def test_header_less_429_pause_never_exceeds_its_cap(alpaca_mock: respx.MockRouter, fast_clock: FastClock):
    client = AlpacaRestClient(
        api="trading",
        base_url=TRADING,
        credentials=credentials(),
        clock=fast_clock,
        limiter=RateLimiter(fast_clock, per_minute=200),
        metrics=AdapterMetrics(CollectorRegistry()),
        max_attempts=8,
        max_429_pause=20.0,
        rng=random.Random(3),
    )
    arrivals, answer = _arrivals(fast_clock, [httpx.Response(429, text="slow down")] * 8)
    alpaca_mock.get(f"{TRADING}/v2/account").mock(side_effect=answer)
    try:
        with pytest.raises(RateLimitedError):
            await client.get("/v2/account", endpoint="/v2/account")
    finally:
        await client.aclose()
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(arrivals)]
    assert len(gaps) == 7 and 3.0 <= gaps[0] <= 4.5 and 12.0 <= gaps[2] <= 18.0, gaps
    assert gaps[3:] == [20.0] * 4, gaps  # 24 s and more, capped at 20


async def test_remaining_zero_header_pauses_next_call(broker: AlpacaBroker, alpaca_mock: respx.MockRouter, fast_clock):
    reset = int(fast_clock.now().timestamp()) + 30
    alpaca_mock.get(f"{TRADING}/v2/account").respond(
        200, json=account_json(), headers={"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset)}
    )
    await broker.get_account()
    before = fast_clock.now()
    await broker.get_account()
    assert (fast_clock.now() - before).total_seconds() >= 29


async def test_metrics_count_requests_by_endpoint_and_status(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(f"{TRADING}/v2/account").respond(200, json=account_json())
    await broker.get_account()
    await broker.get_account()
    value = broker.metrics.registry.get_sample_value(
        "alchemiser_alpaca_requests_total",
        {"api": "trading", "endpoint": "/v2/account", "method": "GET", "status": "200"},
    )
    assert value == 2
