"""Benchmark: trade_updates events/s through parse + dedupe + bounded queue (the stream's per-frame path).

Run: .venv/bin/python benchmarks/adapter_trade_updates.py [events]
Feeds pre-encoded binary frames (Alpaca's trade stream sends binary JSON) to ``TradeUpdateStream.process_frame``
while a consumer drains ``next_event`` concurrently through a bounded queue. Target: >= 20,000 events/s.
A second run replays every frame twice to measure the duplicate-dropping path.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.metrics import AdapterMetrics
from alchemiser.adapters.alpaca.stream import TradeUpdateStream
from alchemiser.clock import RealClock

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def frames(count: int) -> list[bytes]:
    """new → partial_fill → fill for count/3 orders, realistic payloads with nanosecond offsets."""
    out: list[bytes] = []
    for i in range(count // 3):
        at = T0 + timedelta(milliseconds=i)
        order = {
            "id": str(uuid.uuid4()),
            "client_order_id": f"alc-{i}",
            "created_at": "2026-03-02T10:00:00.981350886-05:00",
            "updated_at": iso(at),
            "submitted_at": "2026-03-02T10:00:00.980944666-05:00",
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
            "symbol": "SPY",
            "asset_class": "us_equity",
            "notional": None,
            "qty": "10",
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "",
            "order_type": "limit",
            "type": "limit",
            "side": "buy",
            "time_in_force": "day",
            "limit_price": "431.25",
            "stop_price": None,
            "status": "new",
            "extended_hours": False,
            "legs": None,
        }
        steps = [
            ("new", {}, None),
            ("partial_fill", {"filled_qty": "4", "status": "partially_filled", "filled_avg_price": "431.2"}, "4"),
            ("fill", {"filled_qty": "10", "status": "filled", "filled_avg_price": "431.22"}, "6"),
        ]
        for event, changes, qty in steps:
            data: dict[str, object] = {"event": event, "order": {**order, **changes}, "timestamp": iso(at)}
            if qty is not None:
                data.update(execution_id=str(uuid.uuid4()), price="431.2", qty=qty, position_qty="10")
            out.append(json.dumps({"stream": "trade_updates", "data": data}).encode())
    return out


async def run(payloads: list[bytes], expected: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the CPU figure is the steadier one."""
    stream = TradeUpdateStream(
        url="ws://127.0.0.1:9/stream",
        credentials=AlpacaCredentials.of("KEY", "SECRET"),
        clock=RealClock(),
        metrics=AdapterMetrics(),
        queue_size=1_000,
    )

    async def consume() -> None:
        for _ in range(expected):
            await stream.next_event()

    consumer = asyncio.create_task(consume())
    started, cpu_started = time.perf_counter(), time.process_time()
    for raw in payloads:
        await stream.process_frame(raw)
    await consumer
    return time.perf_counter() - started, time.process_time() - cpu_started


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 60_000
    payloads = frames(count)
    n = len(payloads)
    await run(payloads[:3000], 3000)  # warm-up
    wall, cpu = await run(payloads, n)
    print(
        f"unique events : {n:>7} in {wall:6.3f} s wall = {n / wall:>9,.0f} events/s "
        f"({n / cpu:,.0f} per CPU-second; target >= 20,000)"
    )
    doubled = [p for p in payloads for _ in range(2)]
    wall, cpu = await run(doubled, n)
    print(
        f"with replays  : {len(doubled):>7} frames ({n} delivered, {n} dropped) in {wall:6.3f} s wall = "
        f"{len(doubled) / wall:>9,.0f} frames/s ({len(doubled) / cpu:,.0f} per CPU-second)"
    )


if __name__ == "__main__":
    asyncio.run(main())
