"""Crash tests with real processes: an accepted rebalance survives a SIGKILL right after its 202, and the symphony
worker does not survive its daemon's SIGKILL.

The rig of :mod:`tests.daemon.test_daemon_crash` (a standalone sim exchange in a real session, the paper daemon as a
subprocess on a clock that follows the exchange's) is reused.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.daemon.simrig import store_rows
from tests.daemon.test_daemon_crash import Rig, request_rebalance, wait_ready
from tests.execution.crashcheck import sim_exchange

SESSION = "2026-03-10"
SPEED = 60.0
ATTEMPTS = 2
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def exchange_url() -> Iterator[str]:
    with sim_exchange(
        "--start", SESSION, "--start-time", "09:29", "--speed", str(SPEED), "--seed", "8", "--history-years", "1"
    ) as url:
        yield url


def _request_for(store: Path, decision_id: str) -> sqlite3.Row | None:
    rows = store_rows(store, "SELECT * FROM operator_requests WHERE kind = 'rebalance'")
    return next((r for r in rows if json.loads(r["payload"])["decision_id"] == decision_id), None)


def _settled(store: Path, decision_id: str, timeout: float) -> sqlite3.Row:
    deadline = time.monotonic() + timeout
    while True:
        row = _request_for(store, decision_id)
        if row is not None and row["status"] not in ("pending", "running"):
            return row
        assert time.monotonic() < deadline, f"request for {decision_id} still open: {dict(row) if row else None}"
        time.sleep(0.1)


def _gone_within(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.05)
    return alive


def test_rebalance_killed_right_after_its_202_is_carried_out_after_restart_and_the_worker_dies(
    exchange_url: str, tmp_path: Path
) -> None:
    rig = Rig(tmp_path, exchange_url)
    try:
        for attempt in range(ATTEMPTS):
            rig.write_strategy((("SPY", "TLT"), ("QQQ", "GLD"), ("XLF", "IEF"))[attempt])
            first = rig.start()
            url = first.url()
            wait_ready(url)
            decision_id = request_rebalance(url)
            assert first.kill(), "the daemon had exited before the kill"
            # Durable before the 202: the request is in the store even though the daemon died at once.
            at_kill = _request_for(rig.store, decision_id)
            assert at_kill is not None, f"accepted rebalance {decision_id} was not stored before its 202"
            decided_before_kill = bool(
                store_rows(rig.store, "SELECT 1 FROM decisions WHERE decision_id = ?", (decision_id,))
            )

            second = rig.start()
            wait_ready(second.url())
            row = _settled(rig.store, decision_id, timeout=90)
            assert row["outcome"], dict(row)
            decision = store_rows(rig.store, "SELECT status FROM decisions WHERE decision_id = ?", (decision_id,))
            assert row["status"] in ("done", "failed"), dict(row)  # the session is open: carried out, not expired
            assert decision and decision[0]["status"] != "running", (decided_before_kill, dict(row))
            assert decision_id in row["outcome"]
            audit = store_rows(rig.store, "SELECT kind, data FROM audit_events WHERE kind LIKE 'operator_request.%'")
            mine = [a["kind"] for a in audit if at_kill["request_id"] in a["data"]]
            assert mine[0] == "operator_request.accepted" and mine[-1] == f"operator_request.{row['status']}"

            # The worker evaluated the symphony after the restart; a SIGKILL of the daemon must take it along.
            children = psutil.Process(second.proc.pid).children(recursive=True)
            assert any("spawn_main" in " ".join(c.cmdline()) for c in children), [c.cmdline() for c in children]
            assert second.kill()
            alive = _gone_within(children, 5.0)
            assert not alive, f"orphaned by the SIGKILL: {[(p.pid, p.cmdline()) for p in alive]}"
    finally:
        rig.kill_all()
