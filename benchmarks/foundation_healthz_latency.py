"""/healthz latency under an open-loop 500 req/s for 20 s from a separate load-generator process on loopback.

Latency is measured from each request's *scheduled* send time (no coordinated omission) over persistent
HTTP/1.1 keep-alive connections. Target p99 < 20 ms.

Usage: foundation_healthz_latency.py [rate=500] [seconds=20] [--bare|--full]
       foundation_healthz_latency.py --generate PORT RATE SECONDS   (the load generator itself)
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation_support import SimDaemon, positional, variants

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CONNECTIONS = 32
WARMUP_SECONDS = 15.0


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    writer.write(REQUEST)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def generate(port: int, rate: float, seconds: float) -> dict[str, object]:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    total = int(rate * seconds)
    start = loop.time() + 0.1
    tasks = []

    async def fire(scheduled: float) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            status = await _one(*conn)
            if status != 200:
                errors += 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            conn = await asyncio.open_connection("127.0.0.1", port)
        latencies.append(loop.time() - scheduled)
        pool.put_nowait(conn)

    for i in range(total):
        scheduled = start + i * interval
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(fire(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    latencies.sort()
    q = statistics.quantiles(latencies, n=1000, method="inclusive")
    return {
        "requests": len(latencies),
        "errors": errors,
        "achieved_rate": len(latencies) / elapsed,
        "p50_ms": q[499] * 1000,
        "p99_ms": q[989] * 1000,
        "p999_ms": q[998] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        port, rate, seconds = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
        print(json.dumps(asyncio.run(generate(port, rate, seconds))))
        return
    rate = positional(0, 500.0)
    seconds = positional(1, 20.0)
    for label, bare in variants():
        daemon = SimDaemon(bare=bare)
        daemon.start()
        try:
            daemon.wait_ready()
            time.sleep(WARMUP_SECONDS)  # let start-up work (data backfill, first evaluation) finish
            out = subprocess.run(
                [sys.executable, __file__, "--generate", str(daemon.port), str(rate), str(seconds)],
                check=True,
                capture_output=True,
                text=True,
                timeout=seconds * 4 + 60,
            ).stdout
        finally:
            daemon.stop()
        r = json.loads(out)
        print(
            f"{label}: /healthz at {rate:g} req/s for {seconds:g} s ({r['requests']} requests, {r['errors']} errors, "
            f"achieved {r['achieved_rate']:.0f} req/s): p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
            f"p99.9 {r['p999_ms']:.2f} ms, max {r['max_ms']:.2f} ms  (target p99 < 20 ms)"
        )


if __name__ == "__main__":
    main()
