"""A clean stop (SIGTERM) while a manual rebalance runs leaves neither its decision running nor its request open.

Found by the chaos harness (``tests/chaos``): its clean run stops the daemon once the execution run has finished,
and the rebalance task was cancelled between the decision being recorded and its request being closed, so the
outbox kept a ``running`` request after a clean stop. Each test starts a sim daemon, waits for its scheduled
decision, asks for a rebalance and stops the daemon at a chosen moment, then reads the store file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from alchemiser.store.decisions import DecisionStore, StrategyDecision
from alchemiser.trading.decision_ports import DecisionOutcome
from tests.daemon.simrig import TOKEN, SimDaemon, sim_settings, started_after_its_decision, store_rows

START = date(2024, 3, 6)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
pytestmark = pytest.mark.timeout(180)


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[SimDaemon]:
    settings = sim_settings(tmp_path, start=START, webhook=None)
    sim = await started_after_its_decision(settings, speed=10, lead=timedelta(seconds=5))
    yield sim
    if sim.task is not None and not sim.task.done():
        await sim.stop()


async def _rebalance(rig: SimDaemon) -> str:
    async with httpx.AsyncClient(base_url=rig.url, timeout=30) as client:
        response = await client.post("/api/rebalance", json={"wait_seconds": 0}, headers=HEADERS)
    assert response.status_code == 202, response.text
    return str(response.json()["decision_id"])


def _rows(rig: SimDaemon, sql: str, params: tuple[str, ...] = ()) -> list[sqlite3.Row]:
    return store_rows(rig.daemon.settings.store.path, sql, params)


def _request_for(rig: SimDaemon, decision_id: str) -> sqlite3.Row:
    rows = _rows(rig, "SELECT * FROM operator_requests WHERE kind = 'rebalance'")
    found = [r for r in rows if json.loads(r["payload"])["decision_id"] == decision_id]
    assert len(found) == 1, [dict(r) for r in rows]
    return found[0]


async def test_stopped_after_the_decision_was_recorded_the_request_is_done_with_its_outcome(rig: SimDaemon) -> None:
    """The harness's window: the decision is recorded as finished, the request not yet closed, then SIGTERM."""
    cycle = rig.trading.cycle
    assert cycle is not None
    recorded = asyncio.Event()

    async def hold(outcome: DecisionOutcome, session: date, trigger: str) -> None:
        if trigger == "manual":
            recorded.set()
            await asyncio.Event().wait()  # the rest of the rebalance never gets its turn: the stop cancels it

    cycle.finish_listeners.append(hold)
    decision_id = await _rebalance(rig)
    async with asyncio.timeout(120):
        await recorded.wait()
    assert await rig.stop() == 0
    (decision,) = _rows(rig, "SELECT status FROM decisions WHERE decision_id = ?", (decision_id,))
    assert decision["status"] in ("executed", "no_trade")
    request = _request_for(rig, decision_id)
    assert request["status"] == "done", dict(request)
    assert request["outcome"] == f"decision {decision_id} ended {decision['status']}", dict(request)


async def test_stopped_mid_decision_the_decision_is_interrupted_and_the_request_fails(
    rig: SimDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    deciding = asyncio.Event()

    async def hang(self: DecisionStore, decision_id: str, result: StrategyDecision) -> None:
        deciding.set()  # the decision row is stored as running: the stop lands mid-decision
        await asyncio.Event().wait()

    monkeypatch.setattr(DecisionStore, "record_strategy", hang)
    decision_id = await _rebalance(rig)
    async with asyncio.timeout(120):
        await deciding.wait()
    assert await rig.stop() == 0
    (decision,) = _rows(rig, "SELECT status, reason FROM decisions WHERE decision_id = ?", (decision_id,))
    assert (decision["status"], decision["reason"]) == ("failed", "interrupted: the daemon stopped mid-decision")
    request = _request_for(rig, decision_id)
    assert request["status"] == "failed", dict(request)
    assert request["outcome"] == f"decision {decision_id} ended failed: interrupted: the daemon stopped mid-decision"
    audit = [r["kind"] for r in _rows(rig, "SELECT kind FROM audit_events ORDER BY rowid")]
    assert "operator_request.failed" in audit, audit


async def test_a_stop_before_recovery_reached_them_still_settles_every_open_request(rig: SimDaemon) -> None:
    """Requests a predecessor left open that this daemon's recovery has not settled yet (the chaos harness stopped
    the daemon right after it became ready): the stop closes them, none is carried out."""
    context = rig.daemon.context
    assert context is not None and context.requests is not None
    (scheduled,) = _rows(rig, "SELECT decision_id, status FROM decisions")
    session = {"session": START.isoformat()}
    recorded = await context.requests.accept(
        "rebalance", by="api:old", payload={"decision_id": scheduled[0], **session}
    )
    never = await context.requests.accept(
        "rebalance", by="api:old", payload={"decision_id": "M20240306T150000000000", **session}
    )
    assert await rig.stop() == 0
    rows = {r["request_id"]: r for r in _rows(rig, "SELECT request_id, status, outcome FROM operator_requests")}
    assert (rows[recorded.request_id]["status"], rows[recorded.request_id]["outcome"]) == (
        "done",
        f"decision {scheduled[0]} ended {scheduled[1]}",
    )
    assert (rows[never.request_id]["status"], rows[never.request_id]["outcome"]) == (
        "expired",
        "not carried out: the daemon stopped before decision M20240306T150000000000 was recorded",
    )
    assert len(_rows(rig, "SELECT 1 FROM decisions")) == 1  # nothing was carried out
