"""The ``trade_updates`` WebSocket at ``/stream`` (alpaca-protocol.md §4.1, fake-server script).

No greeting; the client authenticates in either format (``authenticate`` with ``key_id``/``secret_key``, or
``auth`` with ``key``/``secret``) and gets ``authorization`` (binary frames, like Alpaca's paper stream); ``listen``
is acknowledged with ``listening``; events then flow as ``{"stream":"trade_updates","data":{...}}``. One
connection per key: a second concurrent connection is refused with HTTP 429 at the handshake. Events emitted while
no client listens are lost (Alpaca does not replay). Stream faults come from ``FaultInjector``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from alchemiser.sim.context import SimContext, json_response
from alchemiser.sim.events import ExchangeEvent
from alchemiser.sim.payloads import trade_update_json

AUTH_TIMEOUT_SECONDS = 10.0
REORDER_HOLD_SECONDS = 0.5
CLOSE_INTERNAL_ERROR = 1011
CLOSE_POLICY_VIOLATION = 1008
MAX_PENDING_EVENTS = 10_000  # per connection; beyond this the client is too slow and is dropped


_DROP = None  # queued to a connection to make its writer drop it


@dataclass(eq=False, slots=True)
class _Connection:
    queue: asyncio.Queue[ExchangeEvent | None] = field(default_factory=asyncio.Queue)
    listening: bool = False
    killed: bool = False
    sent: int = 0

    def kill(self) -> None:
        if not self.killed:
            self.killed = True
            self.queue.put_nowait(_DROP)


def _frame(stream: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode()


def _authorization(status: str, action: str) -> bytes:
    return _frame("authorization", {"status": status, "action": action})


class _Closed(Exception):
    """The client went away."""


async def _receive_json(websocket: WebSocket) -> Any:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise _Closed
    raw = message.get("text")
    if raw is None:
        payload = message.get("bytes") or b""
        raw = payload.decode(errors="replace")
    try:
        return json.loads(raw)
    except ValueError:
        return None


class StreamHub:
    """Serves ``/stream`` and fans the exchange's events out to listening connections."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.connections: set[_Connection] = set()
        self.total_connections = 0
        self.refused = 0
        self.slow_clients = 0
        self._unsubscribe: Callable[[], None] | None = None
        self.open()

    def open(self) -> None:
        """Start receiving the exchange's events (idempotent)."""
        if self._unsubscribe is None:
            self._unsubscribe = self.ctx.exchange.subscribe(self._on_event)

    def _on_event(self, event: ExchangeEvent) -> None:
        for conn in self.connections:
            if conn.listening and not conn.killed:
                if conn.queue.qsize() >= MAX_PENDING_EVENTS:
                    self.slow_clients += 1
                    conn.kill()  # a client this far behind is dropped (it must reconnect and reconcile)
                else:
                    conn.queue.put_nowait(event)

    def drop_all(self) -> int:
        """Close every connection with 1011 (a dropped stream, for reconnect tests)."""
        for conn in self.connections:
            conn.kill()
        return len(self.connections)

    def close(self) -> None:
        """Drop every connection and stop receiving events (``open()`` resumes)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.drop_all()

    async def endpoint(self, websocket: WebSocket) -> None:
        faults = self.ctx.faults.config
        refuse = faults.ws_refuse_status
        if refuse is None and len(self.connections) >= faults.ws_max_connections:
            refuse = 429
        if refuse is not None:
            self.refused += 1
            message = "connection limit exceeded" if refuse == 406 else "too many connections"
            await websocket.send_denial_response(json_response({"code": refuse, "message": message}, refuse))
            return
        conn = _Connection()
        self.connections.add(conn)  # reserve the slot before any await
        self.total_connections += 1
        try:
            await websocket.accept()
            if not await self._authenticate(websocket):
                return
            reader = asyncio.create_task(self._read(websocket, conn))
            writer = asyncio.create_task(self._write(websocket, conn))
            done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, _Closed, WebSocketDisconnect):
                    await task
            for task in done:
                with contextlib.suppress(_Closed, WebSocketDisconnect):
                    task.result()
        except (_Closed, WebSocketDisconnect):
            pass
        finally:
            self.connections.discard(conn)

    async def _authenticate(self, websocket: WebSocket) -> bool:
        ctx = self.ctx
        while True:
            try:
                message = await asyncio.wait_for(_receive_json(websocket), AUTH_TIMEOUT_SECONDS)
            except TimeoutError:
                await websocket.close(CLOSE_POLICY_VIOLATION)
                return False
            if not isinstance(message, dict):
                await websocket.send_bytes(_frame("error", {"error_message": "invalid syntax"}))
                continue
            action = message.get("action")
            if action == "listen":
                await websocket.send_bytes(_authorization("unauthorized", "listen"))
                continue
            if action == "authenticate":
                data = message.get("data")
                key = data.get("key_id") if isinstance(data, dict) else None
                secret = data.get("secret_key") if isinstance(data, dict) else None
            elif action == "auth":
                key, secret = message.get("key"), message.get("secret")
            else:
                await websocket.send_bytes(_frame("error", {"error_message": f"unknown action {action!r}"}))
                continue
            ok = (
                isinstance(key, str)
                and isinstance(secret, str)
                and ctx.credentials_ok(key, secret)
                and not ctx.faults.config.ws_unauthorized
                and not ctx.faults.config.auth_fail
            )
            if not ok:
                await websocket.send_bytes(_authorization("unauthorized", "authenticate"))
                await websocket.close(CLOSE_POLICY_VIOLATION)
                return False
            await websocket.send_bytes(_authorization("authorized", "authenticate"))
            return True

    async def _read(self, websocket: WebSocket, conn: _Connection) -> None:
        while True:
            message = await _receive_json(websocket)
            if not isinstance(message, dict):
                await websocket.send_bytes(_frame("error", {"error_message": "invalid syntax"}))
                continue
            if message.get("action") == "listen":
                data = message.get("data")
                raw = data.get("streams", []) if isinstance(data, dict) else []
                streams = [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
                conn.listening = "trade_updates" in streams
                await websocket.send_bytes(_frame("listening", {"streams": streams}))
                if conn.listening and self.ctx.faults.config.ws_drop_after_events == 0:
                    conn.kill()

    async def _next(self, conn: _Connection, wait_seconds: float | None) -> ExchangeEvent | None:
        """The next event, ``None`` on timeout; raises ``_Closed`` when the connection is to be dropped."""
        try:
            if wait_seconds is None:
                event = await conn.queue.get()
            else:
                event = await asyncio.wait_for(conn.queue.get(), wait_seconds)
        except TimeoutError:
            return None
        if event is _DROP or conn.killed:
            raise _Closed
        return event

    async def _write(self, websocket: WebSocket, conn: _Connection) -> None:
        injector = self.ctx.faults
        held: ExchangeEvent | None = None
        try:
            while True:
                event = await self._next(conn, REORDER_HOLD_SECONDS if held is not None else None)
                faults = injector.config
                if event is None:  # nothing followed a held event: send it after all
                    if held is not None:
                        await self._send(websocket, conn, held)
                        held = None
                    continue
                if faults.ws_silent or injector.lose_event():
                    continue
                if held is None and injector.reorder_event():
                    held = event
                    continue
                await self._send(websocket, conn, event)
                if held is not None:
                    await self._send(websocket, conn, held)
                    held = None
                if injector.duplicate_event():
                    await self._send(websocket, conn, event)
        except _Closed:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(CLOSE_INTERNAL_ERROR)
            raise

    async def _send(self, websocket: WebSocket, conn: _Connection, event: ExchangeEvent) -> None:
        await websocket.send_bytes(_frame("trade_updates", trade_update_json(event)))
        conn.sent += 1
        limit = self.ctx.faults.config.ws_drop_after_events
        if limit is not None and conn.sent >= limit:
            conn.kill()
            raise _Closed
