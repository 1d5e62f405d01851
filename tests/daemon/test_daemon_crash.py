"""Daemon crash test: the real daemon process is SIGKILLed at randomised points of a rebalance and restarted.

One standalone ``alchemiser sim-exchange --port 0`` subprocess keeps the broker's state for the whole test. The
daemon runs in ``paper`` mode as subprocesses sharing one SQLite store file, pointed at the exchange by the
``alpaca.*_url`` settings (the simulator's keys, a control token): the real paper stack (Alpaca adapter over REST +
the ``trade_updates`` WebSocket, execution, reconciliation, store, HTTP API).

One thing differs from ``alchemiser run --mode paper``: the daemon's clock. A paper daemon runs on the wall clock and
the NYSE calendar, so a rebalance is refused outside real market hours (nights, weekends — whenever CI runs). So the
exchange runs a real session (2026-03-10, from 09:29 New York, 60× accelerated, not ``--always-open``), and each
daemon process is started by ``tests.daemon.crashrig.LAUNCHER`` — the same steps as ``alchemiser run`` (settings,
logging, ``Daemon``) — with a clock that reads the exchange's ``/v2/clock`` once and runs at the same speed. Daemon
and exchange time then agree across restarts, as wall clocks would (a clock restarting at a fixed instant on each
restart would make the reconciliation see every earlier fill as new).

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

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.crashrig import FINISHED, SESSION, SPEED, Rig, request_rebalance, wait_finished, wait_ready
from tests.execution.crashcheck import check_end_state, sim_exchange

MIN_KILLS = 20
MAX_SCENARIOS = 10
MAX_STARTS_PER_SCENARIO = 15
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
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def exchange_url() -> Iterator[str]:
    with sim_exchange(
        "--start", SESSION, "--start-time", "09:29", "--speed", str(SPEED), "--seed", "6", "--history-years", "1"
    ) as url:
        yield url


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
