"""Orders/s through the protocol face over loopback: httpx POST /v2/orders (keep-alive, C concurrent clients) while
one trade_updates WebSocket receives every event; reports submit throughput and the time until the last fill
event arrived. Run: .venv/bin/python benchmarks/sim_loopback_orders.py
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import websockets

from alchemiser.clock import AcceleratedClock
from alchemiser.sim import ExchangeConfig
from alchemiser.sim.build import SimOptions, build_sim
from alchemiser.sim.server import SimExchangeServer

START = datetime(2025, 6, 3, 14, 0, tzinfo=UTC)
HEADERS = {"APCA-API-KEY-ID": "bench", "APCA-API-SECRET-KEY": "bench-secret"}
SYMBOLS = ("SPY", "QQQ", "TQQQ", "TLT", "BIL", "SOXL", "UVXY", "XLK")


async def listen(url: str, expected_fills: int, done: asyncio.Event, counts: dict[str, int]) -> None:
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.send(json.dumps({"action": "auth", "key": "bench", "secret": "bench-secret"}))
        await ws.recv()
        await ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        await ws.recv()
        counts["ready"] = 1
        while counts.get("fill", 0) < expected_fills:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            event = message["data"]["event"]
            counts[event] = counts.get(event, 0) + 1
    done.set()


async def run(total: int, concurrency: int) -> None:
    clock = AcceleratedClock(START, speed=1.0)
    config = ExchangeConfig(initial_cash=Decimal(10**12), seed=1, partial_fill_rate=0.1, partial_fill_delay=0.2)
    parts = build_sim(SimOptions(seed=1, history_years=3, exchange=config), now=START)
    server = SimExchangeServer(parts.exchange, clock=clock, key_id="bench", secret_key=HEADERS["APCA-API-SECRET-KEY"])
    await server.start()
    counts: dict[str, int] = {}
    done = asyncio.Event()
    listener = asyncio.create_task(listen(server.stream_url, total, done, counts))
    while "ready" not in counts:
        await asyncio.sleep(0.01)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.base_url, headers=HEADERS, limits=limits, timeout=30) as http:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = {
                    "symbol": SYMBOLS[i % len(SYMBOLS)],
                    "qty": "2",
                    "side": "buy",
                    "type": "market",
                    "time_in_force": "day",
                    "client_order_id": f"bench-{i}",
                }
                reply = await http.post("/v2/orders", json=body)
                if reply.status_code != 200:
                    raise RuntimeError(f"submit failed: {reply.status_code} {reply.text}")

        began, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        submitted = time.perf_counter() - began
        await asyncio.wait_for(done.wait(), 60)
        all_filled = time.perf_counter() - began
        cpu_used = time.process_time() - cpu
    await listener
    await server.stop()
    print(
        f"loopback, {concurrency} concurrent clients: {total} orders submitted in {submitted:.2f} s = "
        f"{total / submitted:,.0f} orders/s; all {counts.get('fill', 0)} fills streamed after {all_filled:.2f} s "
        f"({sum(v for k, v in counts.items() if k != 'ready'):,} events); process CPU (server + clients) "
        f"{cpu_used / total * 1000:.2f} ms per order"
    )


def main() -> None:
    for concurrency in (1, 8):
        asyncio.run(run(2_000, concurrency))


if __name__ == "__main__":
    main()
