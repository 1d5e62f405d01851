"""Dashboard figures (goals from the issue in brackets):

* ``pages``   — server time per page with one simulated year of history (250 decisions, 5,000 orders with fills,
  500 account snapshots, 5,000 journal events) in a real SQLite store, through the real ASGI routes; live sources
  are instant fakes, so this is the store queries + rendering. [< 100 ms]
* ``fill``    — a fill written to the audit journal (as execution writes it when the stream reports the fill) until
  its row is in the Orders page of an open Chromium, over the real HTTP server and SSE. [< 1 s]
* ``healthz`` — ``/healthz`` p99 from a separate load-generator process (``foundation_healthz_latency.py``) while
  5 dashboards (a separate process holding 5 SSE streams) are connected, across a sim decision with its orders and
  fills. [< 20 ms]
* ``sse``     — the live hub alone, without a decision's noise: the dashboard routes and a ``/healthz`` route on the
  real HTTP server, a steady stream of journal events (50/s, a decision's burst rate), 0 and then 5 SSE dashboards
  in a separate process, ``/healthz`` probed from the load generator: its p50/p99 and the server's CPU seconds.
  Run the same script from an older checkout (copy it in) to compare hub versions in one sitting.

* ``hub``     — the hub in-process without HTTP: CPU of the loop's thread to write 1,000 events and stream them to
  0 and to 5 pages (the difference: what 5 pages cost the loop).

Usage: dashboard.py [pages|fill|healthz|sse|hub|all]    (``all`` is the default)
       dashboard.py --sse PORT STREAMS SECONDS TOKEN   (the dashboards' process itself)
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from playwright.async_api import async_playwright  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from alchemiser.clock import ManualClock  # noqa: E402
from alchemiser.config import HttpSettings  # noqa: E402
from alchemiser.store.audit import AuditLog  # noqa: E402
from alchemiser.store.database import Store  # noqa: E402
from alchemiser.web.dashboard import Dashboard  # noqa: E402
from alchemiser.web.dashboard.live import EventHub  # noqa: E402
from alchemiser.web.server import HttpServer  # noqa: E402
from tests.daemon.simrig import TOKEN as RIG_TOKEN  # noqa: E402
from tests.daemon.simrig import build_sim_daemon, sim_settings  # noqa: E402
from tests.dashboard.browser import ARGS, CHROMIUM  # noqa: E402
from tests.dashboard.history import FakeLive, dashboard_deps, populate  # noqa: E402

TOKEN = "benchmark-token-0123456789abcdef"  # noqa: S105 - a throwaway token for a throwaway store
PAGES = ["/", "/positions", "/strategies", "/decisions", "/decisions/D20240610", "/orders", "/events", "/controls"]


async def _dashboard(store: Store, closes: dict[date, object] | None = None) -> Dashboard:
    live = FakeLive(closes=dict(closes or {}))  # type: ignore[arg-type]
    deps, _ = await dashboard_deps(
        store,
        ManualClock(datetime(2025, 1, 2, tzinfo=UTC)),
        version="bench",
        token=lambda: SecretStr(TOKEN),
        http=HttpSettings,
        live=live,
    )
    return Dashboard(deps)


async def bench_pages(rounds: int = 15) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "year.sqlite")
        started = time.perf_counter()
        info = await populate(store, days=250, orders_per_day=20)
        print(f"pages: generated one year (250 decisions, 5,000 orders) in {time.perf_counter() - started:.1f} s")
        dashboard = await _dashboard(store, info["closes"])
        app = Starlette(routes=dashboard.routes())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.get("/login", params={"token": TOKEN})
            for path in PAGES:
                timings = []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    response = await client.get(path)
                    timings.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                timings.sort()
                print(
                    f"  {path:24s} median {statistics.median(timings):6.1f} ms  max {timings[-1]:6.1f} ms  "
                    f"({len(response.content) / 1024:.0f} KiB)  [goal < 100 ms]"
                )
        await dashboard.close()
        await store.close()


async def bench_fill(samples: int = 20) -> None:
    if not CHROMIUM.is_file():
        print(f"fill: skipped, no Chromium at {CHROMIUM}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "fill.sqlite")
        await populate(store, days=5, orders_per_day=4)
        dashboard = await _dashboard(store)
        server = HttpServer(Starlette(routes=dashboard.routes()), "127.0.0.1", 0)
        await server.start()
        audit = AuditLog(store, ManualClock(datetime(2025, 1, 2, tzinfo=UTC)))
        latencies = []
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(base_url=server.url)
            await page.goto(f"/login?token={TOKEN}&next=/orders")
            await page.wait_for_selector("#live-fills")
            await page.wait_for_timeout(500)  # the stream is open
            for n in range(samples):
                # A locator wait, not wait_for_function: the page's CSP forbids evaluating strings.
                waiting = asyncio.ensure_future(page.locator("#live-fills tbody tr").nth(n).wait_for(timeout=10_000))
                await asyncio.sleep(0.05)
                t0 = time.perf_counter()
                await audit.append(
                    "execution.fill", data={"symbol": "SPY", "side": "buy", "qty": str(n + 1), "price": "500.00"}
                )
                await waiting
                latencies.append((time.perf_counter() - t0) * 1000)
            await browser.close()
        await server.stop()
        await dashboard.close()
        await store.close()
    latencies.sort()
    print(
        f"fill: journal write -> row in an open browser over {samples} fills: median "
        f"{statistics.median(latencies):.0f} ms, max {latencies[-1]:.0f} ms  [goal < 1 s; the hub polls every 200 ms]"
    )


async def hold_streams(port: int, streams: int, seconds: float, token: str, expect: int = 0) -> dict[str, int]:
    """The dashboards' process: log in once, hold ``streams`` SSE connections, count the events they get (each
    stream ends after ``seconds``, or once it has seen ``expect`` journal events when that is given)."""
    counts = {"events": 0, "bytes": 0}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=3600.0) as client:
        await client.get("/login", params={"token": token})

        async def one() -> None:
            seen, tail = 0, b""
            async with client.stream("GET", "/events/stream") as response:
                async for chunk in response.aiter_bytes():
                    counts["bytes"] += len(chunk)
                    text = tail + chunk  # an event split across two reads is counted once
                    found = text.count(b"\nevent: ")
                    seen += found
                    counts["events"] += found
                    tail = text[-7:]  # a match starting here ends in the next read: never counted twice
                    if expect and seen >= expect:
                        return

        tasks = [asyncio.ensure_future(one()) for _ in range(streams)]
        if tasks:
            await asyncio.wait(tasks, timeout=seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return counts


async def bench_healthz(dashboards: int, seconds: float = 30.0, rate: float = 100.0) -> None:
    """One decision (refresh, evaluation, orders, fills) inside the window; no fast-forward between sessions."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = sim_settings(Path(tmp), start=date(2024, 3, 6), webhook=None)
        rig = build_sim_daemon(settings, speed=60.0, dashboard=True, fast_forward=False)
        await rig.start()
        port = rig.url.rsplit(":", 1)[1]
        me = str(Path(__file__).resolve())
        sse = await asyncio.create_subprocess_exec(
            sys.executable, me, "--sse", port, str(dashboards), str(seconds + 2), RIG_TOKEN, stdout=subprocess.PIPE
        )
        await asyncio.sleep(1.0)
        load = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve().parent / "foundation_healthz_latency.py"),
            "--generate",
            port,
            str(rate),
            str(seconds),
            stdout=subprocess.PIPE,
        )
        out, _ = await load.communicate()
        sse_out, _ = await sse.communicate()
        decisions = await rig.trading.decisions.count() if rig.trading.decisions else 0
        fills = await rig.daemon.context.store.fetchval("SELECT COUNT(*) FROM execution_fills")  # type: ignore[union-attr]
        await rig.stop()
    r = json.loads(out)
    s = json.loads(sse_out)
    print(
        f"healthz: {r['requests']} probes at {rate:g}/s over {seconds:g} s, {dashboards} SSE dashboards connected "
        f"({s['events']} events streamed) across {decisions} decision(s) and {fills} fills: p50 {r['p50_ms']:.2f} ms, "
        f"p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.2f} ms, errors {r['errors']}  [goal p99 < 20 ms]"
    )


async def bench_sse(dashboards: int, seconds: float = 20.0, rate: float = 100.0, events_per_second: int = 50) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "sse.sqlite")
        await populate(store, days=5, orders_per_day=4)
        dashboard = await _dashboard(store)
        health = Route("/healthz", lambda _: PlainTextResponse("ok\n"), methods=["GET"])
        server = HttpServer(Starlette(routes=[health, *dashboard.routes()]), "127.0.0.1", 0)
        await server.start()
        me = str(Path(__file__).resolve())
        sse = await asyncio.create_subprocess_exec(
            sys.executable,
            me,
            "--sse",
            str(server.port),
            str(dashboards),
            str(seconds + 60),
            TOKEN,
            str(events_per_second * int(seconds)),
            stdout=subprocess.PIPE,
        )
        async with asyncio.timeout(120):  # every stream is open before the first event is written
            while dashboard.hub.subscribers < dashboards:
                await asyncio.sleep(0.1)
        audit = AuditLog(store, ManualClock(datetime(2025, 1, 2, tzinfo=UTC)))
        written = 0

        async def write_events() -> None:  # a burst every 100 ms (one transaction), as a decision's fills arrive
            nonlocal written
            while written < events_per_second * seconds:
                async with store.transaction():
                    for _ in range(events_per_second // 10):
                        written += 1
                        data = {"symbol": "SPY", "side": "buy", "qty": str(written), "price": "500.00"}
                        await audit.append("execution.fill", data=data)
                await asyncio.sleep(0.1)

        writer = asyncio.ensure_future(write_events())
        cpu0, main0 = time.process_time(), time.thread_time()
        load = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve().parent / "foundation_healthz_latency.py"),
            "--generate",
            str(server.port),
            str(rate),
            str(seconds),
            stdout=subprocess.PIPE,
        )
        out, _ = await load.communicate()
        await writer
        await asyncio.sleep(3.0)  # the hub sends what is left
        cpu, main_thread = time.process_time() - cpu0, time.thread_time() - main0
        sse_out, _ = await sse.communicate()  # every stream has seen every event, or a minute has passed
        await server.stop()
        await dashboard.close()
        await store.close()
    r, s = json.loads(out), json.loads(sse_out)
    print(
        f"sse: {dashboards} dashboards, {written} journal events written, {s['events']} delivered in all "
        f"({s['bytes'] / 1024:.0f} KiB): /healthz p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
        f"max {r['max_ms']:.2f} ms; server CPU {cpu:.2f} s ({main_thread:.2f} s on the event loop's thread)"
    )


async def bench_hub(pages: int, events: int = 1000, burst: int = 5) -> float:
    """The hub in-process, no HTTP: CPU seconds of this thread to write ``events`` and stream them to ``pages``."""
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "hub.sqlite")
        hub = EventHub(store, FakeLive().sources(), interval=0.02)
        audit = AuditLog(store, ManualClock(datetime(2025, 1, 2, tzinfo=UTC)))

        async def page() -> None:
            seen = 0
            async for chunk in hub.stream():
                seen += chunk.count(b"event: audit")
                if seen >= events:
                    return

        readers = [asyncio.ensure_future(page()) for _ in range(pages)]
        while hub.subscribers < pages:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        started = time.thread_time()
        for n in range(0, events, burst):
            async with store.transaction():
                for k in range(burst):
                    data = {"symbol": "SPY", "side": "buy", "qty": str(n + k + 1), "price": "500.00"}
                    await audit.append("execution.fill", data=data)
            await asyncio.sleep(0.025)  # about one burst per poll
        async with asyncio.timeout(120):
            await asyncio.gather(*readers)
        cpu = time.thread_time() - started
        await hub.close()
        await store.close()
    print(f"hub: {pages} pages, {events} events in bursts of {burst}: {cpu:.2f} s CPU on the loop's thread")
    return cpu


def main() -> None:
    faulthandler.dump_traceback_later(600, exit=True)  # a hung run reports where it hangs
    if len(sys.argv) > 1 and sys.argv[1] == "--sse":
        port, streams, seconds, token = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
        expect = int(sys.argv[6]) if len(sys.argv) > 6 else 0
        print(json.dumps(asyncio.run(hold_streams(port, streams, seconds, token, expect))))
        return
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which in ("pages", "all"):
        asyncio.run(bench_pages())
    if which in ("fill", "all"):
        asyncio.run(bench_fill())
    if which in ("hub", "all"):
        for _ in range(3):
            base, five = asyncio.run(bench_hub(0)), asyncio.run(bench_hub(5))
            print(f"hub: 5 pages cost {five - base:.2f} s CPU for 1,000 events")
    if which in ("sse", "all"):
        asyncio.run(bench_sse(0))
        asyncio.run(bench_sse(5))
    if which in ("healthz", "all"):
        asyncio.run(bench_healthz(0))  # the baseline: the same decision with no dashboard open
        asyncio.run(bench_healthz(5))


if __name__ == "__main__":
    main()
