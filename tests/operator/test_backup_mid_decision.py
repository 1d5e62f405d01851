"""A backup taken while a decision cycle is writing (orders out, fills arriving) restores to a store that reconciles
with the simulated broker: the restored daemon starts ready, its books match the exchange, nothing latches.

Real parts: the accelerated sim daemon rig (the exchange's protocol server, the Alpaca adapter, the store on a real
SQLite file), and ``alchemiser backup`` / ``restore`` themselves (SQLite's online backup API; the exchange's state
copied once saved after the store copy, so the restored exchange is never behind the restored store).
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from alchemiser.cli.main import main
from alchemiser.daemon.sim_mode import saved_world
from tests.daemon.simrig import SimDaemon, build_sim_daemon, sim_settings

START = date(2024, 3, 4)  # Monday
pytestmark = pytest.mark.slow


def _unfinished_decisions(backup: Path) -> list[str]:
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as db:
        return [row[0] for row in db.execute("SELECT decision_id FROM decisions WHERE finished_at IS NULL")]


async def _backup_mid_decision(rig: SimDaemon, store: Path, target: Path) -> str:
    """Back up while a cycle runs with fills already at the exchange; retried on later sessions until the copy
    holds an unfinished decision (the proof that it was taken mid-decision)."""
    assert rig.sim.server is not None
    book = rig.sim.server.exchange.book
    async with asyncio.timeout(120):
        while True:
            fills_before = len(book.fills)
            while not (rig.trading.cycle is not None and rig.trading.cycle.running):
                fills_before = len(book.fills)
                await asyncio.sleep(0.005)
            while rig.trading.cycle.running and len(book.fills) == fills_before:
                await asyncio.sleep(0.005)
            if not rig.trading.cycle.running:
                continue  # a session without trades: try the next one
            assert await asyncio.to_thread(main, ["backup", "--to", str(target)]) == 0
            unfinished = _unfinished_decisions(target)
            if unfinished:
                return unfinished[0]


async def test_a_backup_taken_mid_decision_restores_to_a_store_that_reconciles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sim_settings(tmp_path, start=START, webhook=None)
    store, backup = settings.store.path, tmp_path / "backups" / "mid-decision.sqlite"
    monkeypatch.setenv("ALCHEMISER_STORE__PATH", str(store))
    first = build_sim_daemon(settings)
    await first.start()
    try:
        decision_id = await _backup_mid_decision(first, store, backup)
    finally:
        assert await first.stop() == 0
    assert backup.with_name(backup.name + ".sim.json").is_file(), "a sim backup carries its exchange state"

    assert main(["restore", str(backup)]) == 0
    saved = saved_world(settings)
    assert saved is not None
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        (latest,) = db.execute("SELECT MAX(started_at) FROM decisions").fetchone()
    assert saved.clock >= datetime.fromisoformat(latest), "the restored exchange is not behind the restored store"
    second = build_sim_daemon(settings, start_at=saved.clock)
    await second.start()
    try:
        assert second.sim.continued, "the restored store continues its simulated world"
        flag = second.trading.reconcile_flag
        reconciler = second.trading.reconciler
        assert flag is not None and reconciler is not None
        report = reconciler.last_report
        assert report is not None and report.ok, report
        assert " snapshot of " in report.baseline, f"compared with the store, not accepted: {report.baseline}"
        assert report.broker_positions and report.expected_positions == report.broker_positions
        assert flag().ok, flag().reason
        assert not second.daemon.context.kill_switch.engaged  # type: ignore[union-attr]
        decisions = second.trading.decisions
        assert decisions is not None
        interrupted = await decisions.get(decision_id)
        assert interrupted is not None and interrupted.status != "running"
    finally:
        assert await second.stop() == 0
