"""A real WebSocket server on 127.0.0.1 speaking Alpaca's trade_updates protocol (alpaca-protocol.md §4.1).

Script: accept ``/stream``; wait for auth in either format; reply ``authorization`` (binary frames by default);
``unauthorized`` + close on bad keys; ack ``listen`` with ``listening``; then push whatever the test sends. Faults:
refuse the next N handshakes with an HTTP status (429/406), drop the connection abruptly, send an in-stream error,
or stay silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.adapters.alpaca_fakes import KEY_ID, SECRET


class FakeTradeStreamServer:
    def __init__(self, *, binary: bool = True, key_id: str = KEY_ID, secret: str = SECRET) -> None:
        self.binary = binary
        self._keys = (key_id, secret)
        self.refuse_next = 0
        self.refuse_status = HTTPStatus.TOO_MANY_REQUESTS
        self.handshakes = 0
        self.connections = 0
        self.auth_messages: list[dict[str, Any]] = []
        self.listen_messages: list[dict[str, Any]] = []
        self.active: ServerConnection | None = None
        self.listening = asyncio.Event()
        self._server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    async def start(self) -> None:
        self._server = await serve(self._handler, "127.0.0.1", 0, process_request=self._process_request)
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        if request.path != "/stream":
            return connection.respond(HTTPStatus.NOT_FOUND, "no such stream\n")
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return Response(self.refuse_status.value, self.refuse_status.phrase, Headers(), b"connection limit\n")
        return None

    async def _send(self, ws: ServerConnection, payload: Any) -> None:
        text = json.dumps(payload)
        await ws.send(text.encode() if self.binary else text)

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        auth = json.loads(await ws.recv())
        self.auth_messages.append(auth)
        if auth.get("action") == "authenticate":
            keys = (auth.get("data", {}).get("key_id"), auth.get("data", {}).get("secret_key"))
        else:
            keys = (auth.get("key"), auth.get("secret"))
        if keys != self._keys:
            await self._send(
                ws, {"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate"}}
            )
            await ws.close()
            return
        await self._send(ws, {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}})
        listen = json.loads(await ws.recv())
        self.listen_messages.append(listen)
        streams = listen.get("data", {}).get("streams", [])
        await self._send(ws, {"stream": "listening", "data": {"streams": streams}})
        self.active = ws
        self.listening.set()
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:  # keep the connection open until either side closes it
                pass

    async def wait_listening(self, timeout: float = 5.0) -> ServerConnection:
        async with asyncio.timeout(timeout):
            await self.listening.wait()
        assert self.active is not None
        return self.active

    def reset_listening(self) -> None:
        self.listening.clear()
        self.active = None

    async def push(self, payload: Any) -> None:
        ws = await self.wait_listening()
        await self._send(ws, payload)

    async def push_raw(self, data: str | bytes) -> None:
        ws = await self.wait_listening()
        await ws.send(data)

    async def drop(self) -> None:
        """Kill the TCP connection without a close frame (the client sees 1006)."""
        ws = await self.wait_listening()
        self.reset_listening()
        ws.transport.abort()

    async def error_and_close(self) -> None:
        ws = await self.wait_listening()
        self.reset_listening()
        await self._send(ws, {"action": "error", "data": {"error_message": "internal server error"}})
        await ws.close(1011, "internal error")
