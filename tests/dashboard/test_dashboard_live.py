"""The live hub (SSE) over a real SQLite journal: every open page gets every event once, in order, and the same
bytes as every other page; a status change reaches open pages and is the first thing a page opened later sees."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from alchemiser.clock import ManualClock
from alchemiser.store.audit import AuditLog
from alchemiser.store.database import Store
from alchemiser.web.dashboard.live import EventHub
from tests.dashboard.history import FakeLive

BURST = 30


async def _until(stream: AsyncIterator[bytes], needle: bytes) -> bytes:
    """Everything ``stream`` sends up to and including the chunk that holds ``needle``."""
    received = b""
    async with asyncio.timeout(30):
        while needle not in received:
            received += await anext(stream)
    return received


async def test_every_page_gets_every_event_once_in_order_and_the_same_bytes(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    live = FakeLive()
    hub = EventHub(store, live.sources(), interval=0.05)
    streams = [hub.stream() for _ in range(5)]
    try:
        for stream in streams:
            assert await anext(stream) == b"retry: 2000\n\n"
        firsts = [await anext(stream) for stream in streams]
        assert all(first == firsts[0] and first.startswith(b"event: status\n") for first in firsts)
        assert hub.subscribers == 5
        audit = AuditLog(store, ManualClock(datetime.now(UTC)))
        for n in range(BURST):  # faster than the hub polls: several events per poll
            await audit.append("execution.fill", data={"symbol": "SPY", "side": "buy", "qty": str(n + 1), "price": "1"})
        received = [await _until(stream, f"SPY buy {BURST} @".encode()) for stream in streams]
        assert all(r == received[0] for r in received), "every page gets the same bytes"
        ids = [int(i) for i in re.findall(rb"^id: (\d+)$", received[0], re.MULTILINE)]
        assert len(ids) == BURST and ids == sorted(set(ids)), "each event once, in journal order"
        quantities = [json.loads(d)["summary"].split()[2] for d in re.findall(rb"^data: (.*)$", received[0], re.M)]
        assert quantities == [str(n + 1) for n in range(BURST)]

        live.board = {"awaiting_approval": True}  # a plan now waits for the operator
        changed = await _until(streams[0], b'"awaiting_approval":true')
        assert changed.startswith(b"event: status\n")
        late = hub.stream()
        await anext(late)
        assert b'"awaiting_approval":true' in await anext(late), "a page opened later starts from the new status"
        streams.append(late)
    finally:
        await hub.close()
        async with asyncio.timeout(30):  # closing the hub ends every open stream
            for stream in streams:
                async for _ in stream:
                    pass
        await store.close()
    assert hub.subscribers == 0
