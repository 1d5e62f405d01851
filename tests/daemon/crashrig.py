"""The daemon crash rig: a real paper-mode daemon subprocess against a standalone ``alchemiser sim-exchange``.

Shared by the daemon crash test (``tests/daemon/test_daemon_crash.py``) and the crash-point chaos harness
(``tests/chaos``). See the crash test's docstring for why the daemon runs on a clock read from the exchange.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

TOKEN = "daemon-crash-token-0123456789abcdef"
SPEED = 60.0  # exchange and daemon clocks: the session (09:30-16:00) lasts 6.5 minutes of wall time
SESSION = "2026-03-10"  # a Tuesday
# ladder waits in simulated seconds: 30 s = 0.5 s of wall time at SPEED (a rebalance takes 2-5 s)
STEP_WAIT = 30.0
ACK_SLA = 10.0
LAUNCHER = """
import asyncio, sys
from datetime import datetime
from pathlib import Path

import httpx

from alchemiser.clock import AcceleratedClock
from alchemiser.config import load_settings
from alchemiser.logging import Redactor, configure_logging
from alchemiser.daemon.daemon import Daemon

config, exchange, speed = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
settings = load_settings(config, {})
headers = {"APCA-API-KEY-ID": "sim-key", "APCA-API-SECRET-KEY": "sim-secret"}
now = datetime.fromisoformat(httpx.get(exchange + "/v2/clock", headers=headers, timeout=10).json()["timestamp"])
redactor = Redactor(settings.secret_values())
configure_logging(settings.logging, redactor)
daemon = Daemon(settings, config_path=config, redactor=redactor, clock=AcceleratedClock(now, speed=speed))
sys.exit(asyncio.run(daemon.run()))
"""


class ChildProcess(Protocol):
    """What the rig needs of a daemon process: ``subprocess.Popen``, or a fork from ``tests.chaos.zygote``."""

    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def kill(self) -> None: ...


class Spawner(Protocol):
    def spawn(self, log: Path, env: Mapping[str, str], cwd: Path, args: list[str]) -> ChildProcess: ...


FINISHED = {"completed", "completed_with_issues", "blocked", "abandoned_too_late", "approval_timeout"}


@dataclass
class Rig:
    workdir: Path
    exchange_url: str
    store: Path = field(init=False)
    config: Path = field(init=False)
    strategy: Path = field(init=False)
    spawner: Spawner | None = None  # None: each daemon is a fresh ``python -c LAUNCHER``
    starts: int = 0
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = self.workdir / "store.sqlite"
        self.config = self.workdir / "alchemiser.toml"
        self.strategy = self.workdir / "crash.clj"
        self.config.write_text(
            f"""mode = "paper"
control_token = "{TOKEN}"

[alpaca]
key_id = "sim-key"
secret_key = "sim-secret"
trading_url = "{self.exchange_url}"
data_url = "{self.exchange_url}"
stream_url = "{self.exchange_url.replace("http", "ws", 1)}/stream"

[http]
host = "127.0.0.1"
port = 0

[store]
path = "{self.store}"

[[strategies]]
file = "{self.strategy}"
weight = 1.0

[execution]
step_wait_seconds = {STEP_WAIT}
ack_sla_seconds = {ACK_SLA}
max_concurrent_orders = 2

[risk]
max_daily_orders = 100000
max_daily_notional = "100000000"

[logging]
level = "DEBUG"  # the test waits for routine lines (plan_built)
format = "json"
"""
        )

    def write_strategy(self, assets: tuple[str, ...]) -> None:
        body = " ".join(f'(asset "{a}")' for a in assets)
        self.strategy.write_text(f'(defsymphony "crash" {{:rebalance-frequency :daily}} (weight-equal [{body}]))\n')

    def start(self, env: Mapping[str, str] | None = None) -> Process:
        """A daemon subprocess; ``env`` adds environment variables (e.g. an armed crash point)."""
        self.starts += 1
        log = self.workdir / f"daemon-{self.starts:02d}.log"
        args = [str(self.config), self.exchange_url, str(SPEED)]
        proc: ChildProcess
        if self.spawner is not None:
            proc = self.spawner.spawn(log, env or {}, self.workdir, args)
        else:
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-c", LAUNCHER, *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env={**os.environ, **env} if env else None,
                )
        process = Process(proc, log)
        self.processes.append(process)
        return process

    def kill_all(self) -> None:
        """Teardown: no daemon outlives the test, whatever failed."""
        for process in self.processes:
            process.kill()

    def run_status(self, run_id: str | None) -> str | None:
        if run_id is None or not self.store.exists():
            return None
        db = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=10)
        try:
            row = db.execute("SELECT status FROM execution_runs WHERE run_id = ?", (run_id,)).fetchone()
        except sqlite3.OperationalError:  # tables not created yet (the first start was killed early)
            return None
        finally:
            db.close()
        return None if row is None else str(row[0])


@dataclass
class Process:
    proc: ChildProcess
    log: Path

    def events(self) -> list[dict[str, object]]:
        found: list[dict[str, object]] = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def logged(self, event: str) -> bool:
        return any(e.get("event") == event for e in self.events())

    def wait_for(self, event: str, timeout: float) -> bool:
        """Until the daemon logs ``event`` (True) or exits (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.logged(event):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.01)
        raise AssertionError(f"daemon did not log {event!r} within {timeout} s; log: {self.log}")

    def url(self, timeout: float = 90.0) -> str:  # generous: a daemon start on a loaded 2-core host took > 30 s
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if event.get("event") == "http.listening":
                    return str(event["url"])
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode} before listening; log: {self.log}")
            time.sleep(0.02)
        raise AssertionError(f"daemon not listening within {timeout} s; log: {self.log}")

    def kill(self) -> bool:
        """SIGKILL; True if the process was still running (the kill landed)."""
        if self.proc.poll() is not None:
            return False
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        return self.proc.returncode == -signal.SIGKILL

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError(f"daemon did not stop on SIGTERM; log: {self.log}") from None
        return self.proc.returncode


def request_rebalance(url: str, timeout: float = 20.0) -> str:
    """POST /api/rebalance (retrying while the session has not opened yet); the decision id."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        while True:
            response = client.post("/api/rebalance", json={"wait_seconds": 0})
            if response.status_code == 202:
                return str(response.json()["decision_id"])
            assert response.status_code == 409, response.text
            assert time.monotonic() < deadline, f"rebalance refused until the deadline: {response.text}"
            time.sleep(0.1)


def wait_ready(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=10) as client:
        while True:
            response = client.get("/readyz")
            if response.status_code == 200:
                return
            assert time.monotonic() < deadline, f"daemon not ready again: {response.text}"
            time.sleep(0.1)


def wait_finished(rig: Rig, process: Process, run_id: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = rig.run_status(run_id)
        if status in FINISHED:
            return status
        assert process.proc.poll() is None, f"daemon exited with {process.proc.returncode}; log: {process.log}"
        assert time.monotonic() < deadline, f"run {run_id} still {status} after {timeout} s; log: {process.log}"
        time.sleep(0.05)
