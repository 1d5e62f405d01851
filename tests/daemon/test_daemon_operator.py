"""Operator surface against a running sim daemon: explain --last, rebalance, decision API errors, status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alchemiser.cli.main import main
from tests.daemon.simrig import TOKEN, SimDaemon, sim_settings, started_after_its_decision

START = date(2024, 3, 6)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
# One daemon serves every test of this module (in file order; the market-closed test runs last).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimDaemon]:
    tmp_path: Path = tmp_path_factory.mktemp("operator")
    settings = sim_settings(tmp_path, start=START, webhook=None)
    sim = await started_after_its_decision(settings, speed=30, lead=timedelta(seconds=20))
    yield sim
    await sim.stop()


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_explain_last_prints_each_strategy_trace(rig: SimDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code = await _cli("explain", "--last", "--url", rig.url, "--token", TOKEN)
    out = capsys.readouterr().out
    assert code == 0, out
    # on schedule: simrig holds simulated time still while the daemon starts (a loaded host once made it "(late)")
    assert "decision D20240306 for session 2024-03-06 (schedule)" in out, out
    assert "[core] capital weight 0.6: ok" in out and "[switch] capital weight 0.4: ok" in out
    assert "as-of policy previous_close, bars through 2024-03-05" in out
    code = await _cli("explain", "--decision", "D20240306", "--format", "json", "--url", rig.url, "--token", TOKEN)
    assert code == 0 and '"decision_id": "D20240306"' in capsys.readouterr().out


async def test_explain_errors(rig: SimDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("explain", "--decision", "nope", "--url", rig.url, "--token", TOKEN) == 1
    assert "no decision with id 'nope'" in capsys.readouterr().err
    assert await _cli("explain", "--last", "--url", rig.url, "--token", "wrong-token-0123456789") == 1
    assert await _cli("explain", "--last", "--url", "http://127.0.0.1:9", "--token", TOKEN) == 1
    assert "cannot reach the daemon" in capsys.readouterr().err


async def test_rebalance_now_runs_a_manual_decision(rig: SimDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code = await _cli("rebalance", "--wait", "60", "--url", rig.url, "--token", TOKEN)
    out = capsys.readouterr().out
    assert code == 0, out
    assert '"decision_id": "M20240306T' in out
    assert '"status": "executed"' in out or '"status": "no_trade"' in out
    decisions = rig.trading.decisions
    assert decisions is not None
    manual = [r for r in await decisions.latest(10) if r.trigger == "manual"]
    assert len(manual) == 1


async def test_decision_api_rejects_bad_requests(rig: SimDaemon) -> None:
    async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
        assert (await client.post("/api/rebalance", json={})).status_code in (401, 403)
        bad = await client.post("/api/rebalance", json={"wait_seconds": "soon"}, headers=HEADERS)
        assert bad.status_code == 400 and "wait_seconds" in bad.json()["error"]
        too_long = await client.post("/api/rebalance", json={"wait_seconds": 9999}, headers=HEADERS)
        assert too_long.status_code == 400
        not_json = await client.post("/api/rebalance", content=b"{", headers=HEADERS)
        assert not_json.status_code == 400
        listing = await client.get("/api/decisions?limit=5", headers=HEADERS)
        assert listing.status_code == 200
        assert "D20240306" in [d["decision_id"] for d in listing.json()["decisions"]]
        assert (await client.get("/api/decisions?limit=x", headers=HEADERS)).status_code == 400
        status: dict[str, Any] = (await client.get("/status")).json()
    assert status["next_decision"]["session"] == "2024-03-07"
    assert status["decisions"]["last_per_strategy"]["core"]["status"] == "ok"
    print(status["decisions"], status["positions"])
    last = await rig.trading.decisions.get("D20240306")  # type: ignore[union-attr]
    print(last.summary if last else None)
    assert set(status["positions"]) >= {"SPY", "TLT"}
    assert status["sim"]["speed"] == 1.0  # the clock's speed now: held to wall speed after the decision (simrig)


async def test_rebalance_refused_when_market_closed(rig: SimDaemon) -> None:
    closed = rig.trading.calendar.slot(START).close_at  # type: ignore[union-attr]
    rig.clock.jump_to(closed)
    async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
        response = await client.post("/api/rebalance", json={}, headers=HEADERS)
    assert response.status_code == 409 and "market is closed" in response.json()["error"]
