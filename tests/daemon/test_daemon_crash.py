"""Daemon crash test: the real daemon process is SIGKILLed at randomised points of a rebalance and restarted.

One standalone ``alchemiser sim-exchange --port 0`` subprocess keeps the broker's state for the whole test. The
daemon runs in ``paper`` mode as subprocesses sharing one SQLite store file, pointed at the exchange by the
``alpaca.*_url`` settings (the simulator's keys, a control token): the real paper stack (Alpaca adapter over REST +
the ``trade_updates`` WebSocket, execution, reconciliation, store, HTTP API).

One thing differs from ``alchemiser run --mode paper``: the daemon's clock. A paper daemon runs on the wall clock and
the NYSE calendar, so a rebalance is refused outside real market hours (nights, weekends — whenever CI runs). So the
exchange runs a real session (2026-03-10, from 09:29 New York, 60× accelerated, not ``--always-open``), and each
daemon process is started by ``LAUNCHER`` — the same steps as ``alchemiser run`` (settings, logging, ``Daemon``) —
with a clock that reads the exchange's ``/v2/clock`` once and runs at the same speed. Daemon and exchange time then
agree across restarts, as wall clocks would (a clock restarting at a fixed instant on each restart would make the
reconciliation see every earlier fill as new).

Each scenario writes a strategy (a different set of assets, so later scenarios sell and buy), requests a rebalance
through ``POST /api/rebalance``, and SIGKILLs the daemon a random delay after the request (during the decision,
the sells, the buys); every restart resumes the unfinished run, and most restarts are killed again a random delay
after the resume began. A kill counts when it landed while the rebalance was running (the process had logged the
request or the resume, and the run was unfinished afterwards). Then one restart runs to the end, and the checks of
``tests.execution.crashcheck.check_end_state`` run (no client order id used for two orders, no duplicate order for one
intent, every fill recorded exactly once, positions equal to the plan's targets), and the daemon must be ready
(``/readyz`` 200) again.

``ALCHEMISER_DAEMON_CRASH_SEED`` replays a failing sequence (the seed is printed); daemon logs are kept per process
under the test's tmp_path.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.execution.crashcheck import check_end_state, sim_exchange

MIN_KILLS = 20
MAX_SCENARIOS = 10
MAX_STARTS_PER_SCENARIO = 15
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
EXECUTION_WINDOW = 3.0  # wall seconds after the plan was built (the execution) within which the kill lands
DECISION_WINDOW = 1.0  # wall seconds after the request (the decision: bars, evaluation, planning)
DECISION_KILLS = 0.15  # share of first kills aimed at the decision instead (do not count towards MIN_KILLS)
RESUME_WINDOW = 1.0  # wall seconds after the resume began (each resume moves the run on a little)
SCENARIOS = [  # each rotates out of most of the previous one: sells, then buys
    ("SPY", "TLT", "QQQ", "GLD", "XLF"),
    ("IEF", "BIL", "XLK", "FNGU", "SPY"),
    ("QQQ", "TLT", "GLD", "XLF", "SVIX"),
    ("SPY", "IEF", "BIL", "XLK", "FNGU"),
]
FINISHED = {"completed", "completed_with_issues", "blocked", "abandoned_too_late", "approval_timeout"}
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def exchange_url() -> Iterator[str]:
    with sim_exchange(
        "--start", SESSION, "--start-time", "09:29", "--speed", str(SPEED), "--seed", "6", "--history-years", "1"
    ) as url:
        yield url


@dataclass
class Rig:
    workdir: Path
    exchange_url: str
    store: Path = field(init=False)
    config: Path = field(init=False)
    strategy: Path = field(init=False)
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
level = "INFO"
format = "json"
"""
        )

    def write_strategy(self, assets: tuple[str, ...]) -> None:
        body = " ".join(f'(asset "{a}")' for a in assets)
        self.strategy.write_text(f'(defsymphony "crash" {{:rebalance-frequency :daily}} (weight-equal [{body}]))\n')

    def start(self) -> Process:
        self.starts += 1
        log = self.workdir / f"daemon-{self.starts:02d}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(self.config), self.exchange_url, str(SPEED)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
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
    proc: subprocess.Popen[bytes]
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

    def url(self, timeout: float = 30.0) -> str:
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


def wait_ready(url: str, timeout: float = 30.0) -> None:
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


def test_daemon_sigkill_at_random_points_of_a_rebalance(exchange_url: str, tmp_path: Path) -> None:
    seed = int(os.environ.get("ALCHEMISER_DAEMON_CRASH_SEED", time.time_ns() % 1_000_000))
    print(f"daemon crash test seed: {seed} (ALCHEMISER_DAEMON_CRASH_SEED={seed} replays it)")
    rng = random.Random(seed)
    rig = Rig(tmp_path, exchange_url)
    try:
        run_scenarios(rig, rng)
    finally:
        rig.kill_all()


def run_scenarios(rig: Rig, rng: random.Random) -> None:
    began = time.monotonic()
    kills = 0  # kills that left a stored run unfinished (during its execution or its resume)
    decision_kills = 0
    points: list[str] = []
    scenario = 0
    while kills < MIN_KILLS:
        assert scenario < MAX_SCENARIOS, f"only {kills} kills landed in {scenario} scenarios: {points}"
        rig.write_strategy(SCENARIOS[scenario % len(SCENARIOS)])
        run_id: str | None = None
        planned = rng.randint(5, 8)
        landed_here = 0
        for _attempt in range(MAX_STARTS_PER_SCENARIO):
            if landed_here >= planned:
                break
            status = rig.run_status(run_id)
            if status in FINISHED:
                break  # the run finished before the next kill: on to the final restart
            process = rig.start()
            if status is None:
                # nothing to resume (first start, or killed before the run was stored): ask for a rebalance
                run_id = request_rebalance(process.url())
                if rng.random() < DECISION_KILLS:
                    phase, delay = "decision", rng.uniform(0.0, DECISION_WINDOW)
                else:
                    assert process.wait_for("plan_built", timeout=30), f"daemon exited; log: {process.log}"
                    phase, delay = "execution", rng.uniform(0.0, EXECUTION_WINDOW)
            else:
                # an unfinished run: the daemon resumes it while starting
                if not process.wait_for("execution.resume", timeout=30):
                    raise AssertionError(f"daemon exited before resuming; log: {process.log}")
                phase, delay = "resume", rng.uniform(0.0, RESUME_WINDOW)
            time.sleep(delay)
            killed = process.kill()
            after = rig.run_status(run_id)
            if not killed or after in FINISHED:
                continue  # the kill came too late: the run is over
            if phase == "decision":
                decision_kills += 1
                points.append(f"s{scenario} decision +{delay:.3f}s (run {after or 'not stored yet'})")
                continue
            if after is not None:  # the run was stored and left unfinished by the kill
                kills += 1
                landed_here += 1
                points.append(f"s{scenario} {phase} +{delay:.3f}s (run {after})")
        # the final restart: resume (or a new request if the run was never stored) and run to the end
        assert run_id is not None
        process = rig.start()
        try:
            url = process.url()
            if rig.run_status(run_id) is None:
                run_id = request_rebalance(url)
            status = wait_finished(rig, process, run_id)
            assert status == "completed", (status, process.log)
            wait_ready(url)
        finally:
            process.stop()
        check_end_state(rig.exchange_url, rig.store, run_id)
        scenario += 1
    elapsed = time.monotonic() - began
    print(
        f"daemon crash test: {kills} kills mid-execution (+{decision_kills} during the decision) in {scenario} "
        f"scenarios, {rig.starts} daemon starts, {elapsed:.1f} s"
    )
    for point in points:
        print("  kill", point)
    assert kills >= MIN_KILLS
