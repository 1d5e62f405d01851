"""Benchmark: daily bars for 200 symbols x 5 years from a local fake data API answering with 50 ms latency.

Run: .venv/bin/python benchmarks/adapter_bars.py
The fake server (this file with ``--serve PORT``, a separate process so its CPU does not count against the client)
speaks ``GET /v2/stocks/bars`` like Alpaca: symbols sorted, then time; ``limit`` counts bars across symbols;
``next_page_token`` until done; every reply delayed 50 ms. Two client modes, each on a fresh ``AlpacaBroker`` with
the limiter ON:

* sequential — one ``get_daily_bars([symbol])`` after another (what a naive loop does): 200+ requests in series;
* concurrent — one ``get_daily_bars(all 200)``: multi-symbol chunks sized to fit a page, 8 in flight.

Limiter settings are printed with the figures. With Alpaca's default 200/min, the sequential mode's 200 requests
just fit one window (the sliding window admits 200 at once), so both modes are measured at 200/min and again at
10,000/min (the Algo Trader Plus data limit) to show the limiter is not what separates them. Target: >= 10x.

End to end, the concurrent mode is bound by building 260,600 pydantic ``Bar`` objects. The bars endpoint's parse path
(``parse_bars_page``) validates each page straight from the body bytes with the cyclic GC paused (with it on, every
700 allocations rescanned the growing heap: ~6 us a bar instead of ~2) and ``Bar.t`` validates natively when it is
already UTC; before that change this benchmark measured 7.5-8x end to end. ``--gc-gen0 100000`` still shows the
effect of a daemon-level GC threshold. The "transport" rows make the same requests through the same client without
parsing, isolating what concurrency buys on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.adapters.alpaca.market_data import symbols_per_request
from alchemiser.clock import RealClock

START = date(2021, 1, 4)
END = date(2025, 12, 31)
SYMBOLS = [f"S{i:03d}" for i in range(200)]
LATENCY = 0.05


def build_bars() -> dict[str, list[dict[str, object]]]:
    days = []
    day = START
    while day <= END:
        if day.weekday() < 5:
            days.append(datetime(day.year, day.month, day.day, 5, tzinfo=UTC).isoformat().replace("+00:00", "Z"))
        day += timedelta(days=1)
    out = {}
    for n, symbol in enumerate(SYMBOLS):
        base = 50.0 + n
        out[symbol] = [
            {
                "t": t,
                "o": base + i * 0.01,
                "h": base + i * 0.01 + 1,
                "l": base - 1,
                "c": base + i * 0.011,
                "v": 1000 + i,
                "n": 10,
                "vw": base,
            }
            for i, t in enumerate(days)
        ]
    return out


def serve(port: int) -> None:
    bars = build_bars()
    # Pre-serialised per-symbol arrays: a page holding whole symbols is assembled without re-encoding, so the fake
    # server's CPU (one process) does not become what the benchmark measures.
    fragments = {symbol: json.dumps(rows) for symbol, rows in bars.items()}

    async def stock_bars(request: Request) -> Response:
        await asyncio.sleep(LATENCY)
        params = request.query_params
        wanted = sorted(s for s in params["symbols"].split(",") if s in bars)
        limit = int(params.get("limit", 1000))
        offset = int(params.get("page_token") or 0)
        if offset == 0 and sum(len(bars[s]) for s in wanted) <= limit:
            inner = ",".join(f'"{symbol}":{fragments[symbol]}' for symbol in wanted)
            return Response('{"bars":{' + inner + '},"next_page_token":null}', media_type="application/json")
        # Walk symbols in order, skipping `offset` bars, taking `limit` bars.
        page: dict[str, list[dict[str, object]]] = {}
        skipped, taken = 0, 0
        for symbol in wanted:
            rows = bars[symbol]
            if skipped + len(rows) <= offset:
                skipped += len(rows)
                continue
            start = offset - skipped
            skipped = offset
            chunk = rows[start : start + (limit - taken)]
            page[symbol] = chunk
            taken += len(chunk)
            offset += len(chunk)
            skipped = offset
            if taken >= limit:
                break
        total = sum(len(bars[s]) for s in wanted)
        token = str(offset) if offset < total else None
        return Response(json.dumps({"bars": page, "next_page_token": token}), media_type="application/json")

    app = Starlette(routes=[Route("/v2/stocks/bars", stock_bars)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TOKEN_AT_END = re.compile(rb'"next_page_token":\s*(?:null|"([^"]*)")\s*}\s*$')


def token_from_tail(body: bytes) -> str | None:
    """The page token without decoding the whole body (the fake server writes it last)."""
    match = _TOKEN_AT_END.search(body[-200:])
    if match is None:
        raise ValueError("no next_page_token at the end of the body")
    return match.group(1).decode() if match.group(1) is not None else None


def make_broker(port: int, per_minute: int) -> AlpacaBroker:

    url = f"http://127.0.0.1:{port}"
    return AlpacaBroker.create(
        credentials=AlpacaCredentials.of("KEY", "SECRET"),
        clock=RealClock(),
        endpoints=AlpacaEndpoints(trading_url=url, data_url=url, stream_url="ws://127.0.0.1:9/stream"),
        data_rate_limit_per_minute=per_minute,
        timeout_seconds=30,
    )


async def measure(port: int, per_minute: int, concurrent: bool) -> tuple[float, int, int]:
    """End to end: requests + pagination + parsing into ``Bar`` models."""
    broker = make_broker(port, per_minute)
    try:
        started = time.perf_counter()
        if concurrent:
            result = await broker.get_daily_bars(SYMBOLS, START, END)
        else:
            result = {}
            for symbol in SYMBOLS:
                result.update(await broker.get_daily_bars([symbol], START, END))
        elapsed = time.perf_counter() - started
        requests = int(broker.market_data.rest.limiter.in_window())
        count = sum(len(v) for v in result.values())
    finally:
        await broker.aclose()
    return elapsed, count, requests


async def measure_transport(port: int, per_minute: int, concurrent: bool) -> tuple[float, int]:
    """The same requests through the same REST client (budget, retries, breaker) but bodies left unparsed."""

    broker = make_broker(port, per_minute)
    rest = broker.market_data.rest

    async def fetch(symbols: list[str]) -> int:
        token, size = None, 0
        while True:
            params = {
                "symbols": ",".join(symbols),
                "timeframe": "1Day",
                "start": START.isoformat(),
                "end": END.isoformat(),
                "adjustment": "all",
                "feed": "iex",
                "limit": 10_000,
                "page_token": token,
            }
            body = await rest.get("/v2/stocks/bars", endpoint="/v2/stocks/bars", params=params, raw=True)
            size += len(body)
            token = token_from_tail(body)
            if token is None:
                return size

    try:
        started = time.perf_counter()
        if concurrent:
            chunk = symbols_per_request(START, END)
            gate = asyncio.Semaphore(8)

            async def bounded(symbols: list[str]) -> int:
                async with gate:
                    return await fetch(symbols)

            sizes = await asyncio.gather(*(bounded(SYMBOLS[i : i + chunk]) for i in range(0, len(SYMBOLS), chunk)))
            total = sum(sizes)
        else:
            total = 0
            for symbol in SYMBOLS:
                total += await fetch([symbol])
        return time.perf_counter() - started, total
    finally:
        await broker.aclose()


async def bench(port: int) -> None:
    print(f"gc thresholds {gc.get_threshold()}")
    for per_minute in (200, 10_000):
        seq, n_seq, r_seq = await measure(port, per_minute, concurrent=False)
        con, n_con, r_con = await measure(port, per_minute, concurrent=True)
        assert n_seq == n_con, (n_seq, n_con)
        print(
            f"end-to-end  limiter {per_minute:>6}/min | sequential {seq:6.2f} s ({r_seq} req) | "
            f"concurrent {con:5.2f} s ({r_con} req) | {n_con:,} bars parsed | speed-up {seq / con:5.1f}x"
        )
    for per_minute in (200, 10_000):
        seq, b_seq = await measure_transport(port, per_minute, concurrent=False)
        con, b_con = await measure_transport(port, per_minute, concurrent=True)
        print(
            f"transport   limiter {per_minute:>6}/min | sequential {seq:6.2f} s | concurrent {con:5.2f} s | "
            f"{b_con / 1e6:.1f} MB (seq {b_seq / 1e6:.1f} MB) | speed-up {seq / con:5.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int)
    parser.add_argument(
        "--gc-gen0",
        type=int,
        default=0,
        help="raise the cyclic GC's generation-0 threshold (a process-wide daemon setting; 0 = Python's default)",
    )
    args = parser.parse_args()
    if args.gc_gen0:
        gc.set_threshold(args.gc_gen0, 10, 10)
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(bench(port))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
