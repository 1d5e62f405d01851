"""Live updates for open dashboards over Server-Sent Events (``GET /events/stream``).

One :class:`EventHub` per daemon follows the audit journal (fills, orders, plans, operator acts, …) and a small
status snapshot (kill switch, decision running, stream, next decision), and fans them out to every connected
browser. It polls only while someone is connected, and one poll serves every connection, so five open dashboards
cost the daemon the same reads as one. Each poll renders what it found once, as one chunk of SSE bytes shared by
every connection (a browser that connects gets the last rendered status, not a fresh snapshot), and each
connection sends what queued up since its last send in one write: the loop's work per poll barely grows with the
number of open pages. A slow browser loses its oldest queued chunks rather than growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from alchemiser.errors import StoreError
from alchemiser.logging import get_logger
from alchemiser.services.events import events_after, last_event_id
from alchemiser.services.jsonable import jsonable
from alchemiser.services.sources import LiveSources
from alchemiser.store.database import Store

log = get_logger("dashboard")
QUEUE_SIZE = 256
KEEPALIVE_SECONDS = 15.0


def sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One Server-Sent Event (``data`` as a single JSON line)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(jsonable(data), separators=(',', ':'))}\n\n".encode()


def status_snapshot(sources: LiveSources) -> dict[str, Any]:
    kill = sources.kill_switch()
    upcoming = sources.next_decision()
    stream = sources.stream()
    return {
        "kill_switch": {"engaged": kill.engaged, "action": kill.action, "reason": kill.reason, "by": kill.changed_by},
        "decision_running": sources.decision_running(),
        "stream": {"connected": stream.connected, "detail": stream.detail},
        "next_decision": None if upcoming is None else upcoming.decision_at.isoformat(),
        "awaiting_approval": bool(sources.plan_board().get("awaiting_approval")),
    }


class EventHub:
    def __init__(self, store: Store, sources: LiveSources, *, interval: float = 0.2) -> None:
        self._store = store
        self._sources = sources
        self._interval = interval
        self._queues: set[asyncio.Queue[bytes | None]] = set()  # None: the hub is closing
        self._task: asyncio.Task[None] | None = None
        self._following = asyncio.Event()  # set once the poller knows where the journal ends
        self._status = b""  # the last status event, rendered: what a browser that connects sees first
        self._closed = False

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    async def stream(self) -> AsyncIterator[bytes]:
        """The SSE byte stream for one browser: the current status first, then events as they happen."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        self._ensure_polling()
        try:
            yield b"retry: 2000\n\n"
            await self._following.wait()  # every event after this point reaches this browser
            if self._closed:
                return
            yield self._status
            while not self._closed:
                try:
                    chunk = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                chunks = [chunk]
                while not queue.empty() and chunks[-1] is not None:  # what queued meanwhile goes in the same write
                    chunks.append(queue.get_nowait())
                if chunks[-1] is None:
                    return
                yield b"".join(c for c in chunks if c is not None)
        finally:
            self._queues.discard(queue)

    def _ensure_polling(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll(), name="dashboard-events")

    def _publish(self, chunk: bytes) -> None:
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(chunk)

    async def _poll(self) -> None:
        cursor = await last_event_id(self._store)
        status = status_snapshot(self._sources)
        self._status = sse("status", status)
        self._following.set()
        try:
            await self._follow(cursor, status)
        finally:
            self._following.clear()

    async def _follow(self, cursor: int, status: dict[str, Any]) -> None:
        while self._queues and not self._closed:
            await asyncio.sleep(self._interval)
            try:
                events = await events_after(self._store, cursor)
            except StoreError as exc:
                log.warning("dashboard.events_unavailable", error=str(exc))
                continue
            chunks = []
            for event in events:
                cursor = event.id
                chunks.append(sse("audit", event, event.id))
            current = status_snapshot(self._sources)
            if current != status:
                status = current
                self._status = sse("status", current)
                chunks.append(self._status)
            if chunks:  # rendered once, shared by every connection
                self._publish(b"".join(chunks))

    async def close(self) -> None:
        """End every open stream (the daemon is shutting down)."""
        self._closed = True
        self._following.set()  # release streams still waiting for the poller
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(None)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
