"""Startup reconciliation mismatch and a dropped order stream at decision time, in accelerated sim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alchemiser.broker.enums import OrderSide, OrderType
from alchemiser.broker.models import OrderRequest
from alchemiser.clock import AcceleratedClock
from alchemiser.daemon.daemon import Daemon
from alchemiser.daemon.plugins import daemon_plugins
from alchemiser.daemon.trading import TradingPlugin
from alchemiser.sim import SimOptions, build_sim
from alchemiser.sim.faults import FaultConfig
from alchemiser.sim.server import SimExchangeServer
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.simrig import TOKEN, build_sim_daemon, sim_settings

START = date(2024, 3, 5)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


async def _wait(predicate: Any, timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await predicate():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@pytest.fixture
async def standalone(tmp_path: Path) -> AsyncIterator[tuple[SimExchangeServer, AcceleratedClock]]:
    """A simulated exchange that outlives daemons (like ``alchemiser sim-exchange``), on the same clock."""
    calendar = TradingCalendar(start=date(2020, 1, 1))
    slot = calendar.slot(START)
    assert slot is not None
    clock = AcceleratedClock(slot.decision_at - timedelta(seconds=40), speed=60)
    parts = build_sim(SimOptions(start=START, seed=3), now=clock.now(), extra_symbols=["SPY", "TLT", "QQQ", "GLD"])
    server = SimExchangeServer(parts.exchange, clock=clock)
    await server.start()
    yield server, clock
    await server.stop()


def _daemon(tmp_path: Path, server: SimExchangeServer, clock: AcceleratedClock) -> tuple[Daemon, TradingPlugin]:
    settings = sim_settings(
        tmp_path,
        start=START,
        webhook=None,
        extra={
            "alpaca": {"trading_url": server.base_url, "data_url": server.base_url, "stream_url": server.stream_url}
        },
    )
    plugins = daemon_plugins(settings)
    trading = plugins[0]
    assert isinstance(trading, TradingPlugin)
    return Daemon(settings, plugins=plugins, clock=clock, handle_signals=False), trading


@pytest.mark.slow
async def test_positions_changed_behind_our_back_keep_the_daemon_not_ready(
    tmp_path: Path, standalone: tuple[SimExchangeServer, AcceleratedClock]
) -> None:
    server, clock = standalone
    # Wall speed from the decision's time on: at 60x the close is 15 wall seconds after it, less than a loaded
    # machine takes to start the daemon (the decision was then skipped); a late start still decides, late.
    decision_at = TradingCalendar(start=date(2020, 1, 1)).slot(START).decision_at  # type: ignore[union-attr]
    async with asyncio.timeout(30):
        while clock.now() < decision_at:
            await asyncio.sleep(0.01)
    clock.set_speed(1.0)
    first, trading = _daemon(tmp_path, server, clock)
    task = asyncio.create_task(first.run())

    async def decided() -> bool:
        return trading.decisions is not None and await trading.decisions.count("executed") >= 1

    await _wait(decided, 120, "the first decision")
    first.request_stop("restart")
    assert await asyncio.wait_for(task, 30) == 0
    held = {p.symbol: p.qty for p in server.exchange.positions(clock.now())}
    assert "SPY" in held
    # Someone sells SPY by hand at the broker while the daemon is down.
    server.exchange.submit(
        OrderRequest(
            symbol="SPY", side=OrderSide.SELL, type=OrderType.MARKET, qty=held["SPY"], client_order_id="web-ui-1"
        ),
        clock.now(),
    )
    server.exchange.advance(clock.now() + timedelta(seconds=5))
    assert server.exchange.position_qty("SPY") == 0

    second, _ = _daemon(tmp_path, server, clock)
    task = asyncio.create_task(second.run())
    try:
        async with asyncio.timeout(30):
            while second.http is None or not second.http.port:
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=second.http.url, timeout=10) as client:

            async def readyz_answers() -> bool:
                return (await client.get("/readyz")).status_code in (200, 503)

            await _wait(readyz_answers, 20, "/readyz")
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            reason = ready.json()["failing"]["reconcile"]
            assert "position mismatch" in reason
            assert f"SPY: broker holds 0, store expects {held['SPY'].normalize():f}" in reason
            status = (await client.get("/status")).json()
            assert status["reconcile"]["foreign_fills"] and "web-ui" not in str(status["reconcile"]["mismatches"])
            # The operator looks, accepts the broker's state; the daemon becomes ready again.
            accepted = await client.post("/api/reconcile/accept", json={"reason": "sold by hand"}, headers=HEADERS)
            assert accepted.status_code == 200 and accepted.json()["ok"]

            async def ready_again() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await _wait(ready_again, 20, "ready after accept")
    finally:
        second.request_stop("done")
        await asyncio.wait_for(task, 30)


@pytest.mark.slow
async def test_stream_down_at_decision_fails_closed_then_trades_when_back(tmp_path: Path) -> None:
    settings = sim_settings(tmp_path, start=START, webhook=None)
    rig = build_sim_daemon(settings, speed=60)
    rig.trading._stream_wait = 90.0  # seconds of simulated time execution waits for the stream
    await rig.start()
    server = rig.sim.server
    assert server is not None and rig.trading.stream is not None
    stream = rig.trading.stream

    async def connected() -> bool:
        return stream.connected

    await _wait(connected, 20, "the stream")
    rig.clock.set_speed(1.0)  # hold simulated time while we break the stream
    server.faults.configure(FaultConfig(ws_refuse_status=429))
    server.hub.drop_all()

    async def disconnected() -> bool:
        return not stream.connected

    await _wait(disconnected, 10, "the stream to drop")
    rig.clock.set_speed(60.0)
    decisions = rig.trading.decisions
    assert decisions is not None

    async def first_decided() -> bool:
        record = await decisions.get("D20240305")
        return record is not None and record.status != "running"

    try:
        await _wait(first_decided, 60, "the first decision")
        record = await decisions.get("D20240305")
        assert record is not None and record.status == "failed"
        assert "order-update stream still down after 90s" in (record.reason or "")
        assert server.exchange.list_orders(status="all", limit=500) == []  # never traded blind
        # The stream comes back; the next session trades normally.
        server.faults.configure(FaultConfig())

        async def second_decided() -> bool:
            record = await decisions.get("D20240306")
            return record is not None and record.status != "running"

        await _wait(second_decided, 90, "the second decision")
        second = await decisions.get("D20240306")
        assert second is not None and second.status == "executed", second.reason
        assert server.exchange.list_orders(status="all", limit=500)
    finally:
        await rig.stop()


async def test_paper_mode_wires_the_adapter_from_settings(
    tmp_path: Path, standalone: tuple[SimExchangeServer, AcceleratedClock]
) -> None:
    """paper mode: the Alpaca adapter built from settings (URLs + keys), here pointed at an Alpaca-protocol fake."""
    server, clock = standalone
    # Real speed: the fixture starts 40 simulated seconds before the first decision, which at 60x passes before a
    # loaded machine finishes starting the daemon; this test is about wiring, not about the decision.
    clock.set_speed(1.0)
    settings = sim_settings(
        tmp_path,
        start=START,
        webhook=None,
        extra={
            "mode": "paper",
            "alpaca": {
                "trading_url": server.base_url,
                "data_url": server.base_url,
                "stream_url": server.stream_url,
                "key_id": "sim-key",
                "secret_key": "sim-secret",
            },
        },
    )
    plugins = daemon_plugins(settings)
    assert [p.name for p in plugins] == ["trading", "dashboard", "parity", "backup"]
    daemon = Daemon(settings, plugins=plugins, clock=clock, handle_signals=False)
    task = asyncio.create_task(daemon.run())
    try:
        async with asyncio.timeout(30):
            while daemon.http is None or not daemon.http.port:
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=daemon.http.url, timeout=10) as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await _wait(ready, 20, "ready in paper mode")
            status = (await client.get("/status")).json()
        assert status["mode"] == "paper" and status["breakers"]["alpaca_trading"] == "closed"
        assert status["next_decision"]["session"] == "2024-03-05"
    finally:
        daemon.request_stop("done")
        assert await asyncio.wait_for(task, 30) == 0
