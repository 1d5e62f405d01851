"""A full accelerated sim run: ≥ 10 trading days through the real adapter and the exchange's protocol face."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.daemon.simrig import TOKEN, SimDaemon, build_sim_daemon, sim_settings
from tests.notify.webhook_receiver import WebhookReceiver

START = date(2024, 3, 4)  # Monday; 10 sessions run to Friday 15 March (DST starts Sunday 10 March)
DAYS = 10


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = await WebhookReceiver().start()
    yield r
    await r.stop()


async def _poll_healthz(rig: SimDaemon, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=10.0) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = await client.get(f"{rig.url}/healthz")
            rig.healthz_latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_ten_trading_days_end_to_end(tmp_path: Path, receiver: WebhookReceiver) -> None:
    settings = sim_settings(tmp_path, start=START, webhook=receiver.url())
    rig = build_sim_daemon(settings)
    await rig.start()
    stop_polling = asyncio.Event()
    poller = asyncio.create_task(_poll_healthz(rig, stop_polling))
    decisions = rig.trading.decisions
    assert decisions is not None
    try:
        async with asyncio.timeout(150):
            while await decisions.count() < DAYS or rig.trading.cycle is None or rig.trading.cycle.running:
                await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
            ready = (await client.get("/readyz")).json()
            status = (await client.get("/status")).json()
            headers = {"Authorization": f"Bearer {TOKEN}"}
            last = (await client.get("/api/decisions/last", headers=headers)).json()
            unauthorised = await client.get("/api/decisions/last")
            metrics = (await client.get("/metrics")).text
        positions = await rig.trading.broker.list_positions()  # type: ignore[union-attr]
        account = await rig.trading.broker.get_account()  # type: ignore[union-attr]
        await rig.trading.notifier.drain(10)  # type: ignore[union-attr]
    finally:
        stop_polling.set()
        await poller
        code = await rig.stop()
    assert code == 0
    records = await _records(tmp_path)
    sessions = [r["session"] for r in records]
    # Every trading day exactly one decision, no weekend, no duplicate.
    assert len(sessions) == len(set(sessions)) >= DAYS
    assert sessions[:DAYS] == [
        "2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08",
        "2024-03-11", "2024-03-12", "2024-03-13", "2024-03-14", "2024-03-15",
    ]  # fmt: skip
    for record in records[:DAYS]:
        assert record["status"] in ("executed", "no_trade"), record
        for strategy in record["strategies"]:
            assert strategy["status"] == "ok" and strategy["trace"]["steps"], strategy
        for line in record["lines"]:
            assert line["outcome"] == "filled", line
    assert records[0]["status"] == "executed" and len(records[0]["lines"]) >= 3
    # Positions match the last decision's merged targets (cash buffer 1 %, drift bands, whole-day prices).
    targets: dict[str, Decimal] = {}
    for strategy in last["strategies"]:
        for symbol, weight in strategy["allocation"].items():
            targets[symbol] = targets.get(symbol, Decimal(0)) + Decimal(strategy["capital_weight"]) * Decimal(weight)
    equity = account.equity
    held = {p.symbol: (p.market_value or Decimal(0)) / equity for p in positions}
    assert set(held) == set(targets), (held, targets)
    for symbol, weight in targets.items():
        assert abs(held[symbol] - weight) < Decimal("0.03"), (symbol, held[symbol], weight)
    # Metrics of the decision side.
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line.startswith(("alchemiser_decision", "alchemiser_strategies_failed", "alchemiser_data_age"))
    }
    assert 0 < values["alchemiser_decision_to_last_fill_seconds"] < 15 * 60
    assert values["alchemiser_decision_duration_seconds"] > 0
    # with the drift band (risk.drift_band) a session whose targets did not move trades nothing: "no_trade"
    decided = values['alchemiser_decisions_total{status="executed"}']
    decided += values.get('alchemiser_decisions_total{status="no_trade"}', 0.0)
    assert values['alchemiser_decisions_total{status="executed"}'] >= 1 and decided >= DAYS
    assert values["alchemiser_strategies_failed_closed_total"] == 0
    assert values['alchemiser_data_age_sessions{symbol="SPY"}'] == 0
    # Operator surface.
    assert ready["ready"], ready
    assert status["next_decision"]["session"] > "2024-03-15"
    assert set(status["decisions"]["last_per_strategy"]) == {"core", "switch"}
    assert status["reconcile"]["ok"] and status["reconcile"]["unrecorded_fills"] == []
    assert status["breakers"] == {"alpaca_trading": "closed", "alpaca_data": "closed", "alpaca_stream": "closed"}
    assert unauthorised.status_code in (401, 403)
    # Notifications: a run summary per decision reached the local webhook, with fills and slippage.
    summaries = receiver.of_kind("run_summary")
    assert len(summaries) >= DAYS
    first = summaries[0].data["data"]
    assert first["session"] == "2024-03-04" and first["trades"]
    assert all(t["slippage_bps"] is not None for t in first["trades"])
    assert "equity" in first and first["strategy_pnl"] is not None
    # /healthz stayed fast throughout, decisions included (generous bound against a loaded CI machine).
    assert len(rig.healthz_latencies) > 50
    assert max(rig.healthz_latencies) < 2.0, max(rig.healthz_latencies)


async def _records(workdir: Path) -> list[dict[str, object]]:
    from alchemiser.store import Store
    from alchemiser.store.decisions import DecisionStore

    store = await Store.open(workdir / "var" / "store.sqlite")
    try:
        repo = DecisionStore(store)
        out = []
        for record in reversed(await repo.latest(100, with_strategies=True)):
            body = record.to_json()
            execution = (record.summary or {}).get("execution") or {}
            body["lines"] = execution.get("lines", [])
            out.append(body)
        return out
    finally:
        await store.close()
