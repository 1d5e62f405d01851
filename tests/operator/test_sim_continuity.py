"""Two consecutive ``make run``s: real ``alchemiser run --mode sim`` subprocesses on one store, as a user runs them.

The repository's ``config/alchemiser.toml`` and default strategies apply (the working directory is the checkout);
only the store path (a temporary folder) and the HTTP port (0: any free port) are overridden. The daemons are
reached through their local control socket, the way ``alchemiser status`` reaches them without a token.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class Run:
    """One ``alchemiser run`` subprocess with its log file."""

    def __init__(self, store: Path, log: Path, *extra: str) -> None:
        self.store = store
        self.log = log
        env = {
            **os.environ,
            "ALCHEMISER_STORE__PATH": str(store),
            "ALCHEMISER_HTTP__PORT": "0",
            "ALCHEMISER_LOGGING__FORMAT": "json",
        }
        env.pop("ALCHEMISER_CONTROL_TOKEN", None)
        self._out = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "alchemiser.cli.main", "run", "--mode", "sim", *extra],
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def socket(self) -> Path:
        return self.store.with_name(self.store.name + ".sock")

    def status(self) -> dict[str, Any] | None:
        if not self.socket.exists():
            return None
        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)), timeout=10) as client:
                response = client.get("http://local/status")
        except httpx.HTTPError:
            return None
        result: dict[str, Any] = response.json()
        return result

    def wait_for(self, predicate: Any, what: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            status = self.status()
            if status is not None and predicate(status):
                return status
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(60)
        self._out.close()
        return code

    def events(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


def decided_sessions(store: Path) -> list[str]:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return [row[0] for row in db.execute("SELECT session FROM decisions ORDER BY session")]


def test_second_run_continues_then_fresh_archives(tmp_path: Path) -> None:
    store = tmp_path / "var" / "alchemiser.sqlite"
    state_file = store.with_name(store.name + ".sim.json")

    first = Run(store, tmp_path / "run1.log")
    try:
        first.wait_for(lambda s: s.get("positions") and not s["decisions"]["running"], "the first fills")
    finally:
        assert first.stop() == 0
    first_sessions = decided_sessions(store)
    saved = json.loads(state_file.read_text())
    assert first_sessions and saved["account"]["holdings"], "the first run traded and saved its exchange"

    second = Run(store, tmp_path / "run2.log")
    try:
        at_start = second.wait_for(
            lambda s: s.get("ready") and "error" not in s.get("positions", {"error": "absent"}),
            "the second run to be ready, with the broker's positions",
        )
        # The exchange continued: same account, same holdings, simulated clock not rewound.
        assert set(at_start["positions"]) >= set(saved["account"]["holdings"])
        assert at_start["now"] >= saved["clock"]
        second.wait_for(
            lambda s: max(v["session"] for v in s["decisions"]["last_per_strategy"].values()) > first_sessions[-1],
            "a decision for a new session",
        )
        status = second.wait_for(lambda s: s.get("ready"), "ready after the decision")
    finally:
        assert second.stop() == 0
    assert status["kill_switch"]["engaged"] is False
    assert all(c["ok"] for c in status["readiness"].values()), status["readiness"]
    events = [e["event"] for e in second.events()]
    assert "sim_world.continued" in events
    assert events.count("decision_already_made") <= 1, "no storm of already-made decisions"
    assert "kill_switch.engaged" not in events
    again = json.loads(state_file.read_text())
    assert again["account"]["id"] == saved["account"]["id"] and again["world_id"] == saved["world_id"]
    assert len(decided_sessions(store)) > len(first_sessions)

    # The exchange state gone but the store kept: refused at start with the fix, not a silent latch.
    moved = state_file.rename(tmp_path / "kept.sim.json")
    refused = Run(store, tmp_path / "run3.log")
    assert refused.process.wait(60) == 2
    text = refused.log.read_text()
    assert "exchange state" in text and "alchemiser run --fresh" in text
    moved.rename(state_file)

    fresh = Run(store, tmp_path / "run4.log", "--fresh")
    try:
        fresh.wait_for(lambda s: s.get("ready") is not None, "the fresh run to answer")
    finally:
        assert fresh.stop() == 0
    archives = list((store.parent / "archive").iterdir())
    assert len(archives) == 1
    assert {p.name for p in archives[0].iterdir()} >= {"alchemiser.sqlite", "alchemiser.sqlite.sim.json"}
    assert json.loads((archives[0] / "alchemiser.sqlite.sim.json").read_text())["world_id"] == saved["world_id"]
    assert json.loads(state_file.read_text())["world_id"] != saved["world_id"]
    assert "archived the previous simulated account" in fresh.log.read_text()
