"""The ``trade_updates`` WebSocket: authenticated, listening, deduplicated, reconciled, watched and bounded.

Lifecycle: ``start()`` spawns one connection task; ``next_event()`` hands out events (``TradeUpdateFeed``);
``stop()`` cancels promptly. The connection task loops:

1. connect (``websockets.asyncio.client``; text and binary frames; protocol pings);
2. authenticate (legacy ``authenticate`` or current ``auth`` format; either reply form) — ``unauthorized`` counts
   toward ``max_auth_failures``, after which the stream fails with a visible ``AuthFailedError`` raised from
   ``next_event`` (never retried silently forever);
3. listen to ``trade_updates`` and check the ack;
4. report connected / reconnected, then reconcile through REST (orders and fills since the disconnect, minus a
   margin) while consuming frames; reconciliation results are synthetic events through the same dedupe;
5. consume until the socket closes, the server sends an error, or the staleness watchdog (no frame for
   ``stale_after`` while ``market_open()``) closes it;
6. report disconnected, back off (equal-jitter exponential; a 406/429 handshake refusal — Alpaca's one connection
   per key, or a half-dead predecessor not yet reaped — waits on a longer schedule) and go to 1.

Events go out through a bounded ``asyncio.Queue``: when it is full the consumer loop waits (back-pressure), it
never drops an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from alchemiser.adapters.alpaca.auth import AlpacaCredentials, StreamAuthFormat, redact
from alchemiser.adapters.alpaca.backoff import ReconnectBackoff
from alchemiser.adapters.alpaca.constants import HANDSHAKE_REFUSED_STATUSES, STREAM_TRADE_UPDATES, USER_AGENT
from alchemiser.adapters.alpaca.errors import MalformedResponseError
from alchemiser.adapters.alpaca.metrics import AdapterMetrics
from alchemiser.adapters.alpaca.parsing import (
    AuthorizationReply,
    ListeningReply,
    StreamErrorMessage,
    TradeUpdateMessage,
    parse_stream_message,
)
from alchemiser.adapters.alpaca.sink import EventSink
from alchemiser.broker.models import TradeUpdate
from alchemiser.clock import Clock, last_skip
from alchemiser.errors import AlchemiserError, AuthFailedError, BrokerTransientError
from alchemiser.logging import get_logger
from alchemiser.process.breaker import CircuitBreaker

Reconciler = Callable[[datetime, frozenset[str]], Awaitable[list[TradeUpdate]]]
Listener = Callable[[], None]
R = TypeVar("R", AuthorizationReply, ListeningReply)

log = get_logger("alpaca_stream")


class _AuthRefused(Exception):
    """The server answered ``unauthorized`` (internal: counted, then surfaced as ``AuthFailedError``)."""


class _SessionEnded(Exception):
    """The session must end and reconnect for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TradeUpdateStream:
    def __init__(
        self,
        *,
        url: str,
        credentials: AlpacaCredentials,
        clock: Clock,
        metrics: AdapterMetrics,
        reconciler: Reconciler | None = None,
        breaker: CircuitBreaker | None = None,
        auth_format: StreamAuthFormat = "authenticate",
        queue_size: int = 10_000,
        stale_after: timedelta = timedelta(minutes=2),
        market_open: Callable[[], bool] | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        refused_base: float = 15.0,
        refused_cap: float = 120.0,
        max_auth_failures: int = 3,
        reply_timeout: float = 10.0,
        open_timeout: float = 10.0,
        ping_interval: float | None = 10.0,
        ping_timeout: float | None = 30.0,
        close_timeout: float = 2.0,
        reconcile_since: datetime | None = None,
        reconcile_margin: timedelta = timedelta(minutes=5),
        reconcile_attempts: int = 3,
        dedupe_capacity: int = 100_000,
        on_connected: Listener | None = None,
        on_reconnected: Listener | None = None,
        on_disconnected: Listener | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if max_auth_failures < 1:
            raise ValueError(f"max_auth_failures must be >= 1, got {max_auth_failures}")
        if stale_after <= timedelta(0):
            raise ValueError("stale_after must be positive")
        self.url = url
        self._credentials = credentials
        self._clock = clock
        self._metrics = metrics
        self._reconciler = reconciler
        self.breaker = breaker
        self._auth_format: StreamAuthFormat = auth_format
        self._sink = EventSink(clock=clock, metrics=metrics, queue_size=queue_size, dedupe_capacity=dedupe_capacity)
        self._queue = self._sink.queue
        self.stale_after = stale_after
        self._market_open = market_open or (lambda: True)
        jitter = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._backoff = ReconnectBackoff((backoff_base, backoff_cap), (refused_base, refused_cap), jitter)
        self._max_auth_failures = max_auth_failures
        self._reply_timeout = reply_timeout
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._close_timeout = close_timeout
        self._reconcile_since = reconcile_since
        self._reconcile_margin = reconcile_margin
        self._reconcile_attempts = max(1, reconcile_attempts)
        self._on_connected = on_connected
        self._on_reconnected = on_reconnected
        self._on_disconnected = on_disconnected

        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()
        self._connected = False
        self._ws: ClientConnection | None = None
        self._session_reason: str | None = None
        self.last_frame_at: datetime | None = None
        self.connected_at: datetime | None = None
        self.disconnected_at: datetime | None = None
        self.connections = 0
        self.reconciliations = 0
        self.last_disconnect_reason: str | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Authorised and listening right now."""
        return self._connected

    @property
    def failure(self) -> BaseException | None:
        """The fatal error that stopped the stream (e.g. ``AuthFailedError``), if any."""
        return self._failure

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._failure = None
        self._failed.clear()
        if self._reconcile_since is None:
            self._reconcile_since = self._clock.now()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alpaca-trade-updates")
        self._task.add_done_callback(self._on_task_done)

    async def stop(self) -> None:
        """Cancel the connection task and close the socket (bounded by ``close_timeout``)."""
        task, self._task = self._task, None
        for side in list(self._side_tasks):
            side.cancel()
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_disconnected("stopped")

    async def next_event(self) -> TradeUpdate:
        """The next deduplicated event; raises the stream's fatal error once the queue is drained."""
        if not self._queue.empty():
            return self._queue.get_nowait()
        if self._failure is not None:
            raise self._failure
        getter = asyncio.ensure_future(self._queue.get())
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            await asyncio.wait({getter, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        if self._failure is not None:
            raise self._failure
        raise BrokerTransientError("trade_updates stream stopped")  # pragma: no cover - _failed set ⇒ failure set

    def pending(self) -> int:
        return self._queue.qsize()

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self._failure is None:
            log.error("trade_updates_crashed", error=repr(exc))
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self._failure = exc
        self._failed.set()
        self._set_disconnected("failed")

    # ---- connection loop -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        auth_failures = 0
        while True:
            established_before = self.connections
            reason = "closed"
            refused_now = False
            try:
                await self._session()
            except _AuthRefused:
                auth_failures += 1
                reason = "auth_refused"
                if auth_failures >= self._max_auth_failures:
                    error = AuthFailedError(
                        f"trade_updates: credentials refused {auth_failures} times in a row; giving up",
                        attempts=auth_failures,
                    )
                    log.error("trade_updates_auth_failed", attempts=auth_failures)
                    self._record_breaker(ok=False)
                    self._fail(error)
                    return
            except InvalidStatus as exc:
                status = exc.response.status_code
                reason = f"handshake_{status}"
                if status in HANDSHAKE_REFUSED_STATUSES:
                    # One connection per key, or our previous socket not yet reaped (~90 s): wait longer.
                    refused_now = True
                    if self._backoff.refused() == 3:
                        log.error(
                            "trade_updates_slot_taken",
                            status=status,
                            hint="Alpaca allows one trade_updates connection per key: is another client using it?",
                        )
                elif status in (401, 403):
                    auth_failures += 1
                    if auth_failures >= self._max_auth_failures:
                        self._record_breaker(ok=False)
                        self._fail(AuthFailedError(f"trade_updates: handshake refused with HTTP {status}"))
                        return
            except _SessionEnded as exc:
                reason = exc.reason
            except ConnectionClosed as exc:
                closed = f"closed_{exc.rcvd.code}" if exc.rcvd is not None else "dropped"
                reason = self._session_reason or closed
            except (OSError, TimeoutError, WebSocketException, MalformedResponseError) as exc:
                reason = type(exc).__name__
                log.warning("trade_updates_connection_error", error=redact(str(exc), self._credentials))
            established = self.connections > established_before
            self._set_disconnected(reason)
            self._record_breaker(ok=established)
            if established:
                self._backoff.established()
                auth_failures = 0
            delay = self._backoff.next_delay(refused_now=refused_now)
            self._metrics.stream_reconnects.labels(reason).inc()
            log.warning("trade_updates_reconnecting", reason=reason, delay_seconds=round(delay, 3))
            await self._clock.sleep(delay)

    async def _session(self) -> None:
        async with connect(
            self.url,
            user_agent_header=USER_AGENT,
            proxy=None,
            max_queue=1024,
            open_timeout=self._open_timeout,
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            close_timeout=self._close_timeout,
        ) as ws:
            self._ws = ws
            self._session_reason = None
            try:
                await ws.send(self._credentials.stream_auth_message(self._auth_format))
                reply = await self._await_reply(ws, AuthorizationReply)
                if not reply.authorized:
                    raise _AuthRefused
                await ws.send(json.dumps({"action": "listen", "data": {"streams": [STREAM_TRADE_UPDATES]}}))
                listening = await self._await_reply(ws, ListeningReply)
                if STREAM_TRADE_UPDATES not in listening.streams:
                    raise _SessionEnded("listen_refused")
                self._set_connected()
                await self._consume(ws)
            finally:
                self._ws = None
        if self._session_reason is not None:
            raise _SessionEnded(self._session_reason)

    async def _await_reply(self, ws: ClientConnection, kind: type[R]) -> R:
        async with asyncio.timeout(self._reply_timeout):
            while True:
                message = parse_stream_message(await ws.recv())
                self.last_frame_at = self._clock.now()
                if isinstance(message, kind):
                    return message
                if isinstance(message, AuthorizationReply) and not message.authorized:
                    raise _AuthRefused
                if isinstance(message, StreamErrorMessage):
                    raise _SessionEnded("server_error")
                if isinstance(message, TradeUpdateMessage):
                    await self._sink.deliver(message.update, "stream")

    async def _consume(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        helpers = [
            loop.create_task(self._watchdog(ws), name="alpaca-trade-updates-watchdog"),
            loop.create_task(self._reconcile(ws), name="alpaca-trade-updates-reconcile"),
        ]

        def helper_done(task: asyncio.Task[None]) -> None:
            # A helper that crashed (a bug, not a transport problem) must not die quietly: end the session.
            if not task.cancelled() and task.exception() is not None:
                ws.transport.abort()

        for helper in helpers:
            helper.add_done_callback(helper_done)
        try:
            async for raw in ws:
                self.last_frame_at = self._clock.now()
                await self.process_frame(raw)
                if self._session_reason is not None:
                    break
        finally:
            for helper in helpers:
                helper.cancel()
            outcomes = await asyncio.gather(*helpers, return_exceptions=True)
            crashed = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
            if crashed:
                raise crashed[0]

    async def process_frame(self, raw: str | bytes) -> bool:
        """Parse one frame and deliver it if it is a new event; returns whether an event was queued.

        Used by the connection loop; public so that benchmarks and tests can drive parse + dedupe + queue alone.
        """
        try:
            message = parse_stream_message(raw)
        except MalformedResponseError as exc:
            # A frame we cannot read may have been a fill: re-read the truth through REST.
            log.error("trade_updates_malformed_frame", error=str(exc))
            self._metrics.stream_dedupes.labels("malformed").inc()
            self._schedule_reconcile()
            return False
        if isinstance(message, TradeUpdateMessage):
            return await self._sink.deliver(message.update, "stream")
        if isinstance(message, StreamErrorMessage):
            log.warning("trade_updates_server_error", message=message.message)
            self._session_reason = "server_error"
        elif isinstance(message, AuthorizationReply) and not message.authorized:
            self._session_reason = "unauthorized_mid_stream"
        return False

    # ---- watchdog and reconciliation -------------------------------------------------------------------------

    async def _watchdog(self, ws: ClientConnection) -> None:
        period = max(self.stale_after.total_seconds() / 4, 0.001)
        while True:
            await self._clock.sleep(period)
            last = self.last_frame_at
            if last is None or not self._market_open():
                continue
            skipped = last_skip(self._clock)
            if skipped is not None and skipped > last:
                last = skipped  # the sim skipped idle hours: silence counts from the jump, not from before it
            silent = self._clock.now() - last
            if silent >= self.stale_after:
                log.warning("trade_updates_stale", silent_seconds=silent.total_seconds())
                self._session_reason = "stale"
                await ws.close(code=4000, reason="stale")
                return

    def _schedule_reconcile(self) -> None:
        ws = self._ws
        if ws is not None and self._reconciler is not None:
            task = asyncio.get_running_loop().create_task(self._reconcile(ws), name="alpaca-trade-updates-reconcile")
            self._side_tasks.add(task)
            task.add_done_callback(self._side_task_done)

    def _side_task_done(self, task: asyncio.Task[None]) -> None:
        self._side_tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is None:
            return
        log.error("trade_updates_crashed", error=repr(error))
        self._fail(error)
        if self._task is not None:
            self._task.cancel()

    async def _reconcile(self, ws: ClientConnection) -> None:
        if self._reconciler is None:
            return
        anchor = self.disconnected_at if self.connections > 1 and self.disconnected_at else self._reconcile_since
        since = (anchor or self._clock.now()) - self._reconcile_margin
        for attempt in range(self._reconcile_attempts):
            try:
                updates = await self._reconciler(since, self._sink.dedupe.open_order_ids())
            except AlchemiserError as exc:
                log.warning("trade_updates_reconcile_failed", attempt=attempt + 1, error=str(exc))
                await self._clock.sleep(self._backoff.retry_delay(attempt))
                continue
            for update in updates:
                await self._sink.deliver(update, "reconciliation")
            self.reconciliations += 1
            level = log.info if updates else log.debug  # a gap closed is news; an empty one routine
            level("trade_updates_reconciled", since=since.isoformat(), events=len(updates))
            return
        # Never carry on with a gap we could not close: drop the connection so the next one reconciles again.
        log.error("trade_updates_reconcile_gave_up", attempts=self._reconcile_attempts)
        self._session_reason = "reconcile_failed"
        await ws.close(code=4001, reason="reconciliation failed")

    # ---- state -----------------------------------------------------------------------------------------------

    def _set_connected(self) -> None:
        self.connections += 1
        self._connected = True
        self.connected_at = self._clock.now()
        self.last_frame_at = self.connected_at
        self._metrics.stream_connects.inc()
        self._metrics.stream_connected.set(1)
        self._record_breaker(ok=True)
        log.info("trade_updates_connected", connections=self.connections)
        listener = self._on_connected if self.connections == 1 else self._on_reconnected
        if listener is not None:
            listener()

    def _set_disconnected(self, reason: str) -> None:
        self.last_disconnect_reason = reason
        if not self._connected:
            return
        self._connected = False
        self.disconnected_at = self._clock.now()
        self._metrics.stream_connected.set(0)
        # Our own stop (shutdown) is routine; every other reason is worth a warning.
        (log.debug if reason == "stopped" else log.warning)("trade_updates_disconnected", reason=reason)
        if self._on_disconnected is not None:
            self._on_disconnected()

    def _record_breaker(self, *, ok: bool) -> None:
        if self.breaker is None:
            return
        if ok:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()
