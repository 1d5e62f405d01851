"""Helpers to run the protocol face on a real loopback socket in tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from alchemiser.clock import Clock, ManualClock
from alchemiser.sim.assets import AssetBook
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.core import SimExchange
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.faults import FaultConfig
from alchemiser.sim.market import QuoteModel
from alchemiser.sim.server import SimExchangeServer
from alchemiser.sim.synthetic import SyntheticMarket
from tests.sim.conftest import MIDDAY

KEY = "test-key"
SECRET = "test-secret"
FAULT_TOKEN = "fault-token"
AUTH = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
WAIT = 5.0  # bound on every wait for a frame


@dataclass
class Running:
    server: SimExchangeServer
    http: httpx.AsyncClient
    clock: Clock
    exchange: SimExchange


@asynccontextmanager
async def running_server(
    xnys: XnysCalendar,
    market: SyntheticMarket,
    *,
    clock: Clock | None = None,
    faults: FaultConfig | None = None,
    fault_token: str | None = FAULT_TOKEN,
    **config: Any,
) -> AsyncIterator[Running]:
    clock = clock or ManualClock(MIDDAY)
    quotes = QuoteModel(market, xnys, spread_bps=2.0, seed=7)
    exchange = SimExchange(
        quotes,
        xnys,
        AssetBook(market.symbols()),
        ExchangeConfig(**{"partial_fill_rate": 0.0, **config}),  # type: ignore[arg-type]
        created_at=clock.now(),
    )
    server = SimExchangeServer(
        exchange, clock=clock, key_id=KEY, secret_key=SECRET, faults=faults, fault_token=fault_token
    )
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, headers=AUTH, timeout=WAIT) as http:
            yield Running(server, http, clock, exchange)
    finally:
        await server.stop()


async def open_stream(server: SimExchangeServer, *, legacy_auth: bool = True) -> ClientConnection:
    """Connect, authenticate and listen; returns the connection after the ``listening`` ack."""
    ws = await websockets.connect(server.stream_url, open_timeout=WAIT)
    if legacy_auth:
        await ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}))
    else:
        await ws.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
    reply = await recv_json(ws)
    assert reply == {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}
    await ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
    assert await recv_json(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
    return ws


async def recv_json(ws: ClientConnection, timeout: float = WAIT) -> Any:
    frame = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(frame, bytes), "trade_updates frames are binary"
    return json.loads(frame)


async def recv_events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        message = await recv_json(ws)
        assert message["stream"] == "trade_updates"
        out.append(message["data"])
    return out


def market_order(symbol: str = "SPY", qty: str = "3", cid: str = "cid-1", side: str = "buy") -> dict[str, Any]:
    return {
        "symbol": symbol,
        "qty": qty,
        "side": side,
        "type": "market",
        "time_in_force": "day",
        "client_order_id": cid,
    }
