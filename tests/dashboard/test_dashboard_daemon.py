"""The dashboard plugin in a real sim daemon: account snapshots at start, after the decision and at the session
close (the fast-forwarding sim clock must not jump over the close), a decision.finished journal line, the JSON twin
of the overview over the real HTTP server, and the run's one-click login link."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import httpx
import pytest

from alchemiser.store.account import AccountHistory
from tests.daemon.simrig import TOKEN, build_sim_daemon, sim_settings

START = date(2024, 3, 6)


@pytest.mark.slow
async def test_snapshots_journal_and_overview_in_a_sim_run(tmp_path: Path) -> None:
    rig = build_sim_daemon(sim_settings(tmp_path, start=START, webhook=None), speed=60.0, dashboard=True)
    await rig.start()
    try:
        assert rig.daemon.context is not None
        store = rig.daemon.context.store
        history = AccountHistory(store)
        async with asyncio.timeout(120):
            while not await history.has_session_close(START):
                await asyncio.sleep(0.1)
        kinds = [(s.kind, s.session, s.decision_id) for s in await history.history()]
        assert kinds[0][0] == "start"
        assert ("after_decision", START, "D20240306") in kinds and ("session_close", START, None) in kinds
        close = next(s for s in await history.history() if s.kind == "session_close")
        assert close.positions and close.positions_value > 0 and close.equity > close.cash
        finished = await store.fetchone("SELECT data FROM audit_events WHERE kind = 'decision.finished'")
        assert finished is not None and '"status": "executed"' in finished["data"]
        async with httpx.AsyncClient(base_url=rig.url) as client:
            assert (await client.get("/api/dashboard/overview")).status_code == 401
            body = (await client.get("/api/dashboard/overview", headers={"Authorization": f"Bearer {TOKEN}"})).json()
        assert body["mode"] == "sim" and body["last_decision"]["decision_id"] == "D20240306"
        assert body["account"]["live"] is True and len(body["curve"]["points"]) == 1
    finally:
        await rig.stop()
