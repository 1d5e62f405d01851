"""The chaos harness: kill a real daemon at named crash points (and random moments), restart it, check invariants.

One standalone ``alchemiser sim-exchange`` subprocess keeps the broker's state for the whole run; the daemon runs
as paper-mode subprocesses on one store file, started by ``tests.daemon.crashrig`` (the daemon crash test's rig:
the daemon's clock follows the exchange's accelerated session). Each scenario writes a strategy that rotates most
holdings (sells, then buys) and asks for a rebalance; each start of the daemon has one crash point armed through
``ALCHEMISER_CRASH_POINT`` (``alchemiser.process.crashpoints``), or is killed a random wall-clock delay after the
request or resume. A point is *exercised* when the process died there (SIGKILL), *missed* when the run finished
without reaching it. After a scenario's kills one clean start finishes the run, stops, and every invariant of
``tests.chaos.invariants`` is checked against the store and the exchange.

When the exchange's session nears its close, the exchange clock jumps to the next session's open between
scenarios (no daemon is running then; the next daemon reads the new time at start).
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from alchemiser.process.crashpoints import CRASH_POINTS, ENV_VAR
from tests.chaos.invariants import HEADERS, check_invariants
from tests.daemon.crashrig import FINISHED, TOKEN, Process, Rig, wait_finished, wait_ready

RANDOM_KILL = "random_wall_clock"
# the highest hit worth arming per point (a rebalance of 5 symbols makes ~10 orders, ~10-20 fills, ~100 writes)
MAX_HIT = {
    "after_decision_stored": 1,
    "after_plan_stored": 1,
    "before_order_submit": 8,
    "after_order_submit": 8,
    "after_fill_recorded": 10,
    "during_reconcile": 2,
    "during_book_update": 10,
    "during_store_write": 60,
    RANDOM_KILL: 1,
}
RANDOM_KILL_WINDOW = 3.0  # wall seconds after the request or resume
SCENARIOS = (  # each rotates out of most of the previous one: sells, then buys
    ("SPY", "TLT", "QQQ", "GLD", "XLF"),
    ("IEF", "BIL", "XLK", "FNGU", "SPY"),
    ("QQQ", "TLT", "GLD", "XLF", "SVIX"),
    ("SPY", "IEF", "BIL", "XLK", "FNGU"),
)
KILLS_PER_SCENARIO = (3, 6)  # later kills land in a resume: no decision to re-make, so they come cheaper
FRESH_ONLY = frozenset({"after_decision_stored", "after_plan_stored"})  # never reached by a resume
SESSION_MARGIN = timedelta(hours=2)  # jump to the next open when less than this is left of the session
MAX_STARTS_PER_POINT = 5  # a run that needs more daemon starts per exercised point has points that never hit
ARMED_RUN_TIMEOUT = 60.0  # wall seconds an armed daemon may take to die or finish its run
# the fixed set run by make test: every named point in the first ten, each twice in all, early and late hits, and
# random kills. A point that a resume can never reach waits for the next fresh rebalance (``FixedPoints``).
FIXED_SET: tuple[str, ...] = (
    "after_plan_stored:1",
    "before_order_submit:2",
    "after_fill_recorded:2",
    "during_book_update:3",
    "after_decision_stored:1",
    "after_order_submit:1",
    "during_reconcile:1",
    "during_store_write:5",
    RANDOM_KILL,
    "after_fill_recorded:4",
    "before_order_submit:1",
    "during_book_update:1",
    "during_store_write:30",
    "after_decision_stored:1",
    "after_plan_stored:1",
    "after_order_submit:2",
    "during_reconcile:1",
    RANDOM_KILL,
)


class PointSource(Protocol):
    def take(self, resuming: bool) -> str | None:
        """The point to arm for the next start (None: no more); ``resuming`` = a stored run will be resumed."""


class FixedPoints:
    """``points`` in order, over and over (a point missed once comes round again), except that a point a resume
    cannot reach waits for the next fresh rebalance."""

    def __init__(self, points: Sequence[str]) -> None:
        self._points = tuple(points)
        self._left = list(points)

    def take(self, resuming: bool) -> str | None:
        if not self._left:
            self._left = list(self._points)
        for i, point in enumerate(self._left):
            if not (resuming and point.split(":")[0] in FRESH_ONLY):
                return self._left.pop(i)
        return None


class RandomPoints:
    """Endless random points (seeded), each fit for the phase it will run in."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def take(self, resuming: bool) -> str | None:
        names = [n for n in (*CRASH_POINTS, RANDOM_KILL) if not (resuming and n in FRESH_ONLY)]
        name = self._rng.choice(names)
        return name if name == RANDOM_KILL else f"{name}:{self._rng.randint(1, MAX_HIT[name])}"


@dataclass
class ChaosReport:
    seed: int
    exercised: list[str] = field(default_factory=list)  # "point:hit" where a daemon died
    missed: list[str] = field(default_factory=list)  # armed, but the run finished first
    scenarios: int = 0
    starts: int = 0
    checks_passed: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        points, violations = len(self.exercised), len(self.violations)
        return f"chaos: {points} crash points, {violations} invariant violations, seed {self.seed}"

    def details(self) -> str:
        per_point = Counter(p.split(":")[0] for p in self.exercised)
        lines = [
            f"  scenarios {self.scenarios}, daemon starts {self.starts}, {self.seconds:.0f} s",
            f"  invariant checks passed {self.checks_passed}, missed points (run finished first) {len(self.missed)}",
            "  exercised per point: " + ", ".join(f"{k} {v}" for k, v in sorted(per_point.items())),
        ]
        lines += [f"  VIOLATION {v}" for v in self.violations]
        return "\n".join(lines)


def next_session_if_late(exchange_url: str) -> None:
    """Jump the exchange to the next open when too little of the session is left for a scenario."""
    with httpx.Client(base_url=exchange_url, headers=HEADERS, timeout=10) as client:
        clock = client.get("/v2/clock").json()
        now, close = datetime.fromisoformat(clock["timestamp"]), datetime.fromisoformat(clock["next_close"])
        if clock["is_open"] and close - now > SESSION_MARGIN:
            return
        response = client.post("/sim/clock", json={"jump_to": "next_open"})
        response.raise_for_status()


def listening_url(process: Process, timeout: float = 30.0) -> str | None:
    """The daemon's HTTP URL once it listens; None if it died first (a crash point during start-up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in process.events():
            if event.get("event") == "http.listening":
                return str(event["url"])
        if process.proc.poll() is not None:
            return None
        time.sleep(0.02)
    raise AssertionError(f"daemon neither listening nor dead within {timeout} s; log: {process.log}")


def request_rebalance(process: Process, url: str, timeout: float = 30.0) -> str | None:
    """POST /api/rebalance (retrying 409 while not open yet); the decision id, or None if the daemon died."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                response = client.post("/api/rebalance", json={"wait_seconds": 0})
            except httpx.TransportError:
                # Killed at a crash point while answering: its socket can close a moment before it can be reaped.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.proc.wait(timeout=10)
                if process.proc.poll() is not None:
                    return None
                raise
            if response.status_code == 202:
                return str(response.json()["decision_id"])
            assert response.status_code == 409, response.text
            time.sleep(0.1)
    raise AssertionError(f"rebalance refused until the deadline; log: {process.log}")


class Chaos:
    def __init__(self, rig: Rig, seed: int) -> None:
        self.rig = rig
        self.rng = random.Random(seed)
        self.report = ChaosReport(seed)

    def run(self, target: int, points: PointSource) -> ChaosReport:
        """Scenarios until ``target`` points were exercised or ``points`` ran out."""
        began = time.monotonic()
        more = True
        while more and len(self.report.exercised) < target:
            assert self.rig.starts <= MAX_STARTS_PER_POINT * target, f"points keep missing: {self.report.details()}"
            more = self.scenario(points, target)
        self.report.starts = self.rig.starts
        self.report.seconds = time.monotonic() - began
        return self.report

    def scenario(self, points: PointSource, target: int) -> bool:
        """One rebalance killed 3-6 times (fewer if it finishes first), a clean start to the end, the checks.
        False when ``points`` ran out."""
        next_session_if_late(self.rig.exchange_url)
        self.rig.write_strategy(SCENARIOS[self.report.scenarios % len(SCENARIOS)])
        run_id: str | None = None
        wanted = self.rng.randint(*KILLS_PER_SCENARIO)
        kills = 0
        more = True
        while kills < wanted and len(self.report.exercised) < target:
            status = self.rig.run_status(run_id)
            if status in FINISHED:
                break
            point = points.take(resuming=status is not None)
            if point is None:
                more = False
                break
            run_id, died = self.armed_start(point, run_id, resuming=status is not None)
            kills += died
            (self.report.exercised if died else self.report.missed).append(point)
        if run_id is not None or kills:
            self.finish(run_id)
            self.report.scenarios += 1
            self.check()
        return more

    def check(self) -> None:
        results = check_invariants(self.rig.exchange_url, self.rig.store)
        for name, violations in results.items():
            if violations:
                where = f"scenario {self.report.scenarios} (after {self.report.exercised[-3:]}) {name}"
                self.report.violations += [f"{where}: {v}" for v in violations]
            else:
                self.report.checks_passed += 1

    def armed_start(self, point: str, run_id: str | None, *, resuming: bool) -> tuple[str | None, bool]:
        """Start a daemon with ``point`` armed, make it (re)run the rebalance; (run id, died at the point)."""
        env = {} if point == RANDOM_KILL else {ENV_VAR: point}
        process = self.rig.start(env)
        try:
            url = listening_url(process)
            if url is not None and not resuming:
                run_id = request_rebalance(process, url) or run_id
            if point == RANDOM_KILL:
                time.sleep(self.rng.uniform(0.0, RANDOM_KILL_WINDOW))
                return run_id, process.kill()
            died = self.died_or_finished(process, run_id)
            if not died:
                process.stop()
            return run_id, died
        finally:
            process.kill()  # only if something above failed: every path stops or kills it first

    def died_or_finished(self, process: Process, run_id: str | None) -> bool:
        deadline = time.monotonic() + ARMED_RUN_TIMEOUT
        while time.monotonic() < deadline:
            code = process.proc.poll()
            if code is not None:
                assert code == -signal.SIGKILL, f"daemon exited with {code}, not at its crash point; {process.log}"
                assert "crash_point " in process.log.read_text(errors="replace"), process.log
                return True
            if self.rig.run_status(run_id) in FINISHED:
                return False
            time.sleep(0.05)
        raise AssertionError(f"armed daemon neither died nor finished in {ARMED_RUN_TIMEOUT} s; log: {process.log}")

    def finish(self, run_id: str | None) -> None:
        """A clean start: resume (or ask again, when the run was never stored) and run to the end; ready; stop."""
        process = self.rig.start()
        try:
            url = listening_url(process)
            assert url is not None, f"clean start died; log: {process.log}"
            if self.rig.run_status(run_id) is None:
                run_id = request_rebalance(process, url)
            assert run_id is not None
            status = wait_finished(self.rig, process, run_id)
            assert status in FINISHED, (status, process.log)
            wait_ready(url)
        finally:
            code = process.stop()
        assert code == 0, f"clean stop exited {code}; log: {process.log}"
