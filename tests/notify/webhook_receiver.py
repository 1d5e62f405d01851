"""A real HTTP webhook receiver on 127.0.0.1 for notification tests (also used by tests/daemon)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        """The structured alchemiser document carried in apprise's JSON ``message`` field."""
        inner: dict[str, Any] = json.loads(self.body["message"])
        return inner


@dataclass
class WebhookReceiver:
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with ``fail_status``
    fail_status: int = 500
    hang_seconds: float = 0.0  # delay each response (to simulate a stuck endpoint)
    attempts: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    async def start(self) -> WebhookReceiver:
        self._arrived = asyncio.Condition()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        assert self._arrived is not None
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received

    def of_kind(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.data.get("kind") == kind]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                _method, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = (await reader.readline()).decode().strip()
                    if not line:
                        break
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                self.attempts += 1
                if self.hang_seconds:
                    await asyncio.sleep(self.hang_seconds)
                if self.fail_next > 0:
                    self.fail_next -= 1
                    status = self.fail_status
                else:
                    status = 200
                    assert self._arrived is not None
                    async with self._arrived:
                        self.received.append(Received(path, headers, json.loads(raw or b"{}")))
                        self._arrived.notify_all()
                reply = b"ok" if status == 200 else b"fail"
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Length: {len(reply)}\r\nContent-Type: text/plain\r\n\r\n".encode()
                    + reply
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
