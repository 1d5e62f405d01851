"""trade_updates against a real WebSocket server on 127.0.0.1 (tests/adapters/alpaca_stream_server.py)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import httpx
import pytest
import respx

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.adapters.alpaca.metrics import AdapterMetrics
from alchemiser.adapters.alpaca.reconcile import synthesize_events
from alchemiser.adapters.alpaca.stream import TradeUpdateStream
from alchemiser.broker.enums import OrderStatus, TradeEvent
from alchemiser.broker.models import FillActivity, Order, TradeUpdate
from alchemiser.clock import ManualClock
from alchemiser.errors import AuthFailedError, BrokerTransientError
from alchemiser.process.breaker import BreakerState, CircuitBreaker
from tests.adapters.alpaca_fakes import (
    DATA,
    KEY_ID,
    SECRET,
    T0,
    TRADING,
    credentials,
    fill_activity_json,
    filled,
    order_json,
    trade_update_json,
)
from tests.adapters.alpaca_stream_server import FakeTradeStreamServer


class RecordingClock(ManualClock):
    def __init__(self) -> None:
        super().__init__(T0)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


async def eventually(
    condition: Callable[[], bool], *, clock: ManualClock | None = None, step: float = 0.0, timeout: float = 5.0
) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            if clock is not None and step:
                clock.advance(step)
            await asyncio.sleep(0.005)


async def next_events(stream: TradeUpdateStream, count: int, timeout: float = 5.0) -> list[TradeUpdate]:
    async with asyncio.timeout(timeout):
        return [await stream.next_event() for _ in range(count)]


@pytest.fixture
async def server() -> AsyncIterator[FakeTradeStreamServer]:
    instance = FakeTradeStreamServer()
    await instance.start()
    yield instance
    await instance.close()


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
async def make_stream(server: FakeTradeStreamServer, clock: RecordingClock) -> AsyncIterator[Callable[..., Any]]:
    made: list[TradeUpdateStream] = []

    def factory(**options: Any) -> TradeUpdateStream:
        options.setdefault("credentials", credentials())
        options.setdefault("metrics", AdapterMetrics())
        stream = TradeUpdateStream(url=server.url, clock=clock, rng=random.Random(3), **options)
        made.append(stream)
        return stream

    yield factory
    for stream in made:
        async with asyncio.timeout(5):
            await stream.stop()


@pytest.mark.parametrize("auth_format", ["authenticate", "auth"])
async def test_auth_listen_and_binary_events_in_order(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], auth_format: str
):
    seen: list[str] = []
    stream = make_stream(auth_format=auth_format, on_connected=lambda: seen.append("connected"))
    stream.start()
    await server.wait_listening()
    order = order_json(status="new")
    await server.push(trade_update_json("new", order, execution_id=None, event_id="01JJ3WE73W5PG672TC4XACXH5R"))
    done = filled(order, "10", "431.25", T0 + timedelta(seconds=1))
    await server.push(
        trade_update_json(
            "fill", done, execution_id="e-1", price="431.25", qty="10", position_qty="10", at=T0 + timedelta(seconds=1)
        )
    )
    first, second = await next_events(stream, 2)
    assert (first.event, second.event) == (TradeEvent.NEW, TradeEvent.FILL)
    assert second.price == Decimal("431.25") and second.order.filled_qty == Decimal(10)
    assert not second.synthetic
    assert stream.connected and seen == ["connected"]
    auth = server.auth_messages[0]
    if auth_format == "authenticate":
        assert auth == {"action": "authenticate", "data": {"key_id": KEY_ID, "secret_key": SECRET}}
    else:
        assert auth == {"action": "auth", "key": KEY_ID, "secret": SECRET}
    assert server.listen_messages == [{"action": "listen", "data": {"streams": ["trade_updates"]}}]


async def test_text_frames_are_accepted_too(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream]
):
    server.binary = False
    stream = make_stream()
    stream.start()
    await server.push(trade_update_json("new", order_json()))
    (event,) = await next_events(stream, 1)
    assert event.event is TradeEvent.NEW


async def test_auth_failure_is_fatal_and_visible_after_bounded_tries(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], clock: RecordingClock
):
    breaker = CircuitBreaker("alpaca_stream", clock, failure_threshold=2)
    stream = make_stream(credentials=AlpacaCredentials.of(KEY_ID, "wrong-secret"), max_auth_failures=3, breaker=breaker)
    stream.start()
    await eventually(lambda: stream.failure is not None, clock=clock, step=1.0)
    assert isinstance(stream.failure, AuthFailedError)
    assert server.connections == 3  # bounded: never retried forever
    assert not stream.running
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(AuthFailedError, match="refused 3 times"):
        async with asyncio.timeout(2):
            await stream.next_event()
    assert "wrong-secret" not in str(stream.failure)


async def test_server_drop_mid_fill_reconnects_with_backoff_and_callbacks(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], clock: RecordingClock
):
    calls: list[str] = []
    stream = make_stream(
        on_connected=lambda: calls.append("connected"),
        on_disconnected=lambda: calls.append("disconnected"),
        on_reconnected=lambda: calls.append("reconnected"),
    )
    stream.start()
    order = order_json()
    await server.push(
        trade_update_json("partial_fill", filled(order, "4", "10", T0, complete=False), execution_id="x1")
    )
    await next_events(stream, 1)
    await server.drop()
    await eventually(lambda: stream.connections == 2, clock=clock, step=0.25)
    assert calls == ["connected", "disconnected", "reconnected"]
    assert any(0.5 <= s <= 1.0 for s in clock.sleeps)  # first backoff: equal jitter in [base/2, base]
    await server.push(trade_update_json("fill", filled(order, "10", "10", T0), execution_id="x2"))
    (event,) = await next_events(stream, 1)
    assert event.event is TradeEvent.FILL


async def test_in_stream_error_closes_and_reconnects(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], clock: RecordingClock
):
    stream = make_stream()
    stream.start()
    await server.wait_listening()
    await server.error_and_close()
    await eventually(lambda: stream.connections == 2, clock=clock, step=0.25)
    assert stream.last_disconnect_reason in {"server_error", "closed_1011"}


async def test_silent_server_trips_the_watchdog_during_market_hours(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], clock: RecordingClock
):
    metrics = AdapterMetrics()
    stream = make_stream(stale_after=timedelta(seconds=60), metrics=metrics)
    stream.start()
    await eventually(lambda: stream.connected)
    server.reset_listening()
    await eventually(lambda: stream.connections == 2, clock=clock, step=5.0)
    assert metrics.registry.get_sample_value("alchemiser_alpaca_stream_reconnects_total", {"reason": "stale"}) == 1


async def test_watchdog_stays_quiet_outside_market_hours(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], clock: RecordingClock
):
    stream = make_stream(stale_after=timedelta(seconds=60), market_open=lambda: False)
    stream.start()
    await eventually(lambda: stream.connected)
    for _ in range(40):
        clock.advance(10)
        await asyncio.sleep(0.002)
    assert stream.connections == 1 and stream.connected


async def test_watchdog_counts_silence_from_a_sim_clock_jump(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], clock: RecordingClock
):
    """The sim's fast-forward skips idle hours: the silence before the jump is not the stream's fault."""
    stream = make_stream(stale_after=timedelta(seconds=60))
    stream.start()
    await eventually(lambda: stream.connected)
    clock.advance(20 * 3600)  # a night skipped in one jump ...
    clock.skipped_to = clock.now()  # type: ignore[attr-defined]  # ... as AcceleratedClock.jump_to records it
    for _ in range(10):
        clock.advance(5)  # 50 s after the jump: under stale_after
        await asyncio.sleep(0.01)
    assert stream.connections == 1 and stream.connected
    server.reset_listening()
    await eventually(lambda: stream.connections == 2, clock=clock, step=5.0)  # real silence still trips it
    assert stream.last_disconnect_reason == "stale"


async def test_duplicate_fills_are_delivered_once(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream]
):
    metrics = AdapterMetrics()
    stream = make_stream(metrics=metrics)
    stream.start()
    order = order_json()
    new = trade_update_json("new", order)
    fill = trade_update_json("fill", filled(order, "10", "5", T0), execution_id="same-exec", price="5", qty="10")
    for payload in (new, new, fill, fill, fill):  # Alpaca has replayed new → fill three times
        await server.push(payload)
    other = order_json()
    await server.push(trade_update_json("new", other))
    events = await next_events(stream, 3)
    assert [(e.order.id, e.event) for e in events] == [
        (order["id"], TradeEvent.NEW),
        (order["id"], TradeEvent.FILL),
        (other["id"], TradeEvent.NEW),
    ]
    assert metrics.registry.get_sample_value("alchemiser_alpaca_stream_dedupes_total", {"reason": "duplicate"}) == 3
    assert stream.pending() == 0


@pytest.mark.parametrize("status", [HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.NOT_ACCEPTABLE])
async def test_handshake_refusal_waits_longer(
    server: FakeTradeStreamServer,
    make_stream: Callable[..., TradeUpdateStream],
    clock: RecordingClock,
    status: HTTPStatus,
):
    server.refuse_status = status
    server.refuse_next = 2
    stream = make_stream(refused_base=15.0, backoff_base=1.0)
    stream.start()
    await eventually(lambda: stream.connected, clock=clock, step=1.0)
    assert server.handshakes == 3
    refused_waits = clock.sleeps[:2]
    assert 7.5 <= refused_waits[0] <= 15.0  # not the 1 s of an ordinary reconnect
    assert 15.0 <= refused_waits[1] <= 30.0


async def test_missed_events_are_recovered_by_rest_reconciliation(server: FakeTradeStreamServer, clock: RecordingClock):
    order = order_json(qty="10")
    partial = filled(order, "4", "100", T0 + timedelta(seconds=1), complete=False)
    done = filled(order, "10", "100.6", T0 + timedelta(seconds=5))
    phase = {"after_gap": False}
    partial_act = fill_activity_json(order, qty="4", price="100", cum="4", leaves="6", at=T0 + timedelta(seconds=1))
    final_act = fill_activity_json(order, qty="6", price="101", cum="10", leaves="0", at=T0 + timedelta(seconds=5))

    def orders(request: httpx.Request) -> httpx.Response:
        if not phase["after_gap"]:
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=[] if request.url.params["status"] == "open" else [done])

    def activities(request: httpx.Request) -> httpx.Response:
        assert request.url.params.get("after")
        return httpx.Response(200, json=[partial_act, final_act] if phase["after_gap"] else [])

    with respx.mock(assert_all_called=False) as router:
        router.get(f"{TRADING}/v2/orders").mock(side_effect=orders)
        router.get(f"{TRADING}/v2/account/activities/FILL").mock(side_effect=activities)
        router.get(url__regex=rf"{TRADING}/v2/orders/[^/:]+$").mock(
            side_effect=lambda request: httpx.Response(200, json=done if phase["after_gap"] else partial)
        )
        broker = AlpacaBroker.create(
            credentials=credentials(),
            clock=clock,
            endpoints=AlpacaEndpoints(trading_url=TRADING, data_url=DATA, stream_url=server.url),
        )
        stream = broker.trade_updates(reconcile_since=T0 - timedelta(minutes=1))
        stream.start()
        try:
            await server.push(trade_update_json("new", order))
            await server.push(trade_update_json("partial_fill", partial, execution_id="exec-1", price="100", qty="4"))
            got = await next_events(stream, 2)
            await eventually(lambda: stream.reconciliations == 1)
            phase["after_gap"] = True
            await server.drop()  # the final fill happens while we are disconnected
            await eventually(lambda: stream.reconciliations == 2, clock=clock, step=0.25)
            got += await next_events(stream, 1)
        finally:
            await stream.stop()
            await broker.aclose()
    assert [e.event for e in got] == [TradeEvent.NEW, TradeEvent.PARTIAL_FILL, TradeEvent.FILL]
    recovered = got[-1]
    assert recovered.synthetic
    assert recovered.order.filled_qty == Decimal(10)
    assert recovered.qty == Decimal(6) and recovered.price == Decimal(101)
    assert stream.pending() == 0  # the replayed partial fill was recognised, not delivered twice


async def test_malformed_frame_triggers_a_reconciliation(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream]
):
    calls: list[datetime] = []

    async def reconciler(since: datetime, open_ids: frozenset[str]) -> list[TradeUpdate]:
        calls.append(since)
        return []

    stream = make_stream(reconciler=reconciler)
    stream.start()
    await eventually(lambda: len(calls) == 1)
    await server.push_raw(b'{"stream":"trade_updates","data":{"event":"fill","order":{"id":1}}}')
    await eventually(lambda: len(calls) == 2)
    assert stream.connected


async def test_failing_reconciliation_drops_the_connection_to_retry_later(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], clock: RecordingClock
):
    attempts: list[int] = []

    async def reconciler(since: datetime, open_ids: frozenset[str]) -> list[TradeUpdate]:
        attempts.append(1)
        if len(attempts) <= 3:
            raise BrokerTransientError("REST down")
        return []

    stream = make_stream(reconciler=reconciler, reconcile_attempts=3)
    stream.start()
    await eventually(lambda: stream.reconciliations == 1, clock=clock, step=0.5)
    assert stream.connections == 2
    assert len(attempts) == 4


async def test_bounded_queue_applies_back_pressure_without_loss(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream]
):
    stream = make_stream(queue_size=2)
    stream.start()
    orders = [order_json() for _ in range(6)]
    for order in orders:
        await server.push(trade_update_json("new", order))
    await eventually(lambda: stream.pending() == 2)
    events = await next_events(stream, 6)
    assert [e.order.id for e in events] == [o["id"] for o in orders]


async def test_stop_is_prompt_and_final(server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream]):
    stream = make_stream()
    stream.start()
    await eventually(lambda: stream.connected)
    async with asyncio.timeout(3):
        await stream.stop()
    assert not stream.running and not stream.connected


def test_synthesize_events_orders_fills_before_terminal_status():
    order = Order.model_validate(order_json(qty="10"))
    canceled = order.model_copy(
        update={"status": OrderStatus.CANCELED, "filled_qty": Decimal(4), "updated_at": T0 + timedelta(seconds=9)}
    )
    act = FillActivity.model_validate(
        fill_activity_json(order_json(), qty="4", price="9", cum="4", leaves="6", at=T0 + timedelta(seconds=3))
        | {"order_id": order.id}
    )
    events = synthesize_events([canceled], [act])
    assert [e.event for e in events] == [TradeEvent.PARTIAL_FILL, TradeEvent.CANCELED]
    assert events[0].order.filled_qty == Decimal(4) and events[0].execution_id == act.id.split("::")[1]
    assert all(e.synthetic for e in events)


async def test_http_401_at_handshake_is_fatal_after_bounded_tries(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream], clock: RecordingClock
):
    server.refuse_status = HTTPStatus.UNAUTHORIZED
    server.refuse_next = 100
    stream = make_stream(max_auth_failures=2)
    stream.start()
    await eventually(lambda: stream.failure is not None, clock=clock, step=1.0)
    assert isinstance(stream.failure, AuthFailedError)
    assert server.handshakes == 2


async def test_a_bug_in_reconciliation_is_surfaced_not_swallowed(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream]
):
    async def broken(since: datetime, open_ids: frozenset[str]) -> list[TradeUpdate]:
        raise RuntimeError("bug in reconciliation")

    stream = make_stream(reconciler=broken)
    stream.start()
    await eventually(lambda: stream.failure is not None)
    with pytest.raises(RuntimeError, match="bug in reconciliation"):
        async with asyncio.timeout(2):
            await stream.next_event()


async def test_a_bug_in_a_frame_triggered_reconciliation_stops_the_stream_visibly(
    server: FakeTradeStreamServer, make_stream: Callable[..., TradeUpdateStream]
):
    calls: list[int] = []

    async def reconciler(since: datetime, open_ids: frozenset[str]) -> list[TradeUpdate]:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("bug on the second reconciliation")
        return []

    stream = make_stream(reconciler=reconciler)
    stream.start()
    await eventually(lambda: len(calls) == 1)
    await server.push_raw(b"not json at all")
    await eventually(lambda: stream.failure is not None)
    assert isinstance(stream.failure, RuntimeError)
    await eventually(lambda: not stream.running)
