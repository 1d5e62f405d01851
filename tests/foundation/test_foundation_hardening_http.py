"""The daemon's HTTP surface under SIGHUP token rotation and operator requests that a crash interrupted."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from alchemiser.config import load_settings
from alchemiser.daemon.context import DaemonContext
from alchemiser.daemon.daemon import Daemon
from alchemiser.execution.approval import Decision, PlanBoard
from alchemiser.web.plan_routes import plan_routes
from tests.foundation.conftest import base_config, write_config

TOKEN_A = "rotation-token-aaaaaaaaaaaa"
TOKEN_B = "rotation-token-bbbbbbbbbbbb"


@dataclass
class PlanPlugin:
    name: str = "plan"
    board: PlanBoard | None = None
    waits: list[asyncio.Task[Decision]] = field(default_factory=list)

    async def setup(self, ctx: DaemonContext) -> None:
        self.board = PlanBoard(ctx.clock)
        for route in plan_routes(self.board, ctx.requests):
            ctx.add_route(route)


async def _start(workdir: Path, token: str) -> tuple[Daemon, PlanPlugin, Path, asyncio.Task[int]]:
    config = write_config(workdir, base_config(workdir, token=token))
    plugin = PlanPlugin()
    daemon = Daemon(
        load_settings(config, secrets_dir=None),
        config_path=config,
        secrets_dir=None,
        plugins=[plugin],
        handle_signals=False,
    )
    task = asyncio.create_task(daemon.run())
    async with asyncio.timeout(20):
        while daemon._startup_flag is None or not daemon._startup_flag().ok:
            assert not task.done(), f"daemon exited early with {task.result()}"
            await asyncio.sleep(0.01)
    return daemon, plugin, config, task


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sighup_token_rotation_applies_to_plan_approval(workdir: Path) -> None:
    daemon, plugin, config, task = await _start(workdir, TOKEN_A)
    assert daemon.http is not None and plugin.board is not None
    try:
        async with httpx.AsyncClient(base_url=daemon.http.url, timeout=10) as client:
            assert (await client.post("/api/plan/approve", json={}, headers=_bearer(TOKEN_A))).status_code == 409
            config.write_text(config.read_text().replace(TOKEN_A, TOKEN_B))
            assert await daemon.reload()
            assert (await client.post("/api/plan/approve", json={}, headers=_bearer(TOKEN_A))).status_code == 401
            waiting = asyncio.create_task(plugin.board.await_approval("run-1", timeout_seconds=30))
            await asyncio.sleep(0.05)
            approved = await client.post("/api/plan/approve", json={"run_id": "run-1"}, headers=_bearer(TOKEN_B))
            assert approved.status_code == 200, approved.text
            assert approved.json() == {"run_id": "run-1", "decision": "approved"}
            assert await waiting == Decision.APPROVED
            assert (await client.post("/api/kill", json={}, headers=_bearer(TOKEN_A))).status_code == 401
            requests = (await client.get("/status")).json()["operator_requests"]
        # the refused approval (nothing was awaiting) entered neither the outbox nor the journal; the accepted one did
        kinds = [(r["kind"], r["status"]) for r in requests["recent"]]
        assert kinds == [("plan_approve", "done")]
    finally:
        daemon.request_stop("test over")
        assert await asyncio.wait_for(task, 30) == 0


async def test_control_requests_left_open_by_a_crash_are_settled_at_start(workdir: Path) -> None:
    daemon, _, _, task = await _start(workdir, TOKEN_A)
    daemon.request_stop("first run over")
    assert await asyncio.wait_for(task, 30) == 0
    store = workdir / "var" / "store.sqlite"
    db = sqlite3.connect(store)
    rows = [
        ("R1-kill", "kill", {"reason": "drill", "action": "cancel"}),
        ("R2-resume", "resume", {"reason": "later"}),
        ("R3-approve", "plan_approve", {"run_id": "x"}),
        ("R4-accept", "reconcile_accept", {"reason": "ok"}),
    ]
    for request_id, kind, payload in rows:  # accepted, then the daemon died before acting
        db.execute(
            "INSERT INTO operator_requests (request_id, kind, payload, requested_by, requested_at, status)"
            " VALUES (?, ?, ?, 'http:127.0.0.1', '2026-01-05T15:00:00+00:00', 'pending')",
            (request_id, kind, json.dumps(payload)),
        )
    db.commit()
    db.close()
    daemon, _, _, task = await _start(workdir, TOKEN_A)
    try:
        assert daemon.context is not None
        assert daemon.context.kill_switch.engaged  # the kill was carried out: the safe side
        assert daemon.context.kill_switch.state.action == "cancel"
        assert daemon.http is not None
        async with httpx.AsyncClient(base_url=daemon.http.url, timeout=10) as client:
            status = (await client.get("/status")).json()["operator_requests"]
        assert status["open"] == []
        settled = {r["request_id"]: (r["status"], r["outcome"]) for r in status["recent"]}
        assert settled["R1-kill"][0] == "done"
        # Never resumed behind the operator's back after a restart: the resume expires and says so.
        assert settled["R2-resume"] == (
            "expired",
            "the daemon restarted before the resume took effect; the kill switch stays engaged",
        )
        assert settled["R3-approve"] == (
            "expired",
            "the daemon restarted: the plan awaiting approval did not survive it",
        )
        assert settled["R4-accept"][0] == "expired" and "restarted" in settled["R4-accept"][1]
        journal = [e.kind for e in await daemon.context.audit.recent(30)]
        assert journal.count("operator_request.expired") == 3
    finally:
        daemon.request_stop("test over")
        assert await asyncio.wait_for(task, 30) == 0
