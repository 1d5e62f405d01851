"""The symphony worker dies with its daemon, and a restarted daemon never runs beside a predecessor's worker."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from alchemiser.errors import StoreError
from alchemiser.trading.symphony_worker import stop_predecessor_worker, worker_lock_path
from alchemiser.trading.worker_init import set_parent_death_signal

# A "daemon": a SymphonyRunner whose worker process has started, then nothing (it is SIGKILLed by the test).
RUNNER = """
import sys, time
from pathlib import Path
from alchemiser.trading.symphony_worker import SymphonyRunner

class Engine:
    name = "e"
    def evaluation_call(self, bars, session):
        raise NotImplementedError

runner = SymphonyRunner([Engine()], worker_lock=Path(sys.argv[1]))
runner.prewarm()
runner._warm_up.result(timeout=120)
print("WORKER", runner.worker_pid, flush=True)
time.sleep(600)
"""
# A leftover worker from a crashed daemon: holds the worker lock with its pid, in its own session.
ORPHAN = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, str(os.getpid()).encode(), 0)
print("locked", flush=True)
time.sleep(600)
"""
STALE_PID_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, b"999999999", 0)
print("locked", flush=True)
time.sleep(600)
"""


def _gone_within(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.05)
    return alive


def test_worker_and_resource_tracker_die_within_seconds_of_a_sigkilled_parent(tmp_path: Path) -> None:
    lock = worker_lock_path(tmp_path / "store.sqlite")
    parent = subprocess.Popen([sys.executable, "-c", RUNNER, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        # The worker's start-up log line shares the pipe and may be written in pieces around ours: search, not match.
        found = None
        while found is None and (line := parent.stdout.readline()):
            found = re.search(r"WORKER (\d+)", line)
        assert found, f"the runner exited with {parent.wait(timeout=10)} before its worker started"
        worker_pid = int(found.group(1))
        children = psutil.Process(parent.pid).children(recursive=True)
        assert worker_pid in [c.pid for c in children]
        assert lock.read_text() == str(worker_pid)  # the worker holds the lock, with its pid
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        alive = _gone_within(children, 5.0)
        assert not alive, f"orphans after the parent's SIGKILL: {[(p.pid, p.cmdline()) for p in alive]}"
    finally:
        parent.kill()
        parent.wait(timeout=10)
    assert stop_predecessor_worker(lock, timeout=1) is None  # the lock is free again


def test_a_predecessor_worker_still_holding_the_lock_is_stopped_before_start(tmp_path: Path) -> None:
    lock = worker_lock_path(tmp_path / "store.sqlite")
    orphan = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(lock)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert orphan.stdout is not None and orphan.stdout.readline().strip() == "locked"
        assert stop_predecessor_worker(lock, timeout=10) == orphan.pid
        assert orphan.wait(timeout=10) == -signal.SIGKILL
    finally:
        orphan.kill()
        orphan.wait(timeout=10)


def test_a_worker_that_cannot_be_stopped_refuses_the_start(tmp_path: Path) -> None:
    lock = worker_lock_path(tmp_path / "store.sqlite")
    # The lock names a pid that does not exist, so the kill cannot reach the holder: starting must be refused.
    holder = subprocess.Popen([sys.executable, "-c", STALE_PID_LOCK, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match="refusing to run beside it"):
            stop_predecessor_worker(lock, timeout=0.5)
    finally:
        holder.kill()
        holder.wait(timeout=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_parent_death_signal_is_armed_on_linux() -> None:
    script = (
        "import signal\nfrom alchemiser.trading.worker_init import set_parent_death_signal\n"
        "print(set_parent_death_signal(signal.SIGKILL))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    assert callable(set_parent_death_signal)
