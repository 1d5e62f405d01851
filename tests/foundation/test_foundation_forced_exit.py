"""A second stop signal exits the daemon at once, and still leaves no named semaphore behind.

``timeout``/a terminal sends SIGTERM to the process group while ``make`` forwards its own to ``alchemiser run``: two
SIGTERMs a moment apart. The second one used to ``os._exit`` before the symphony worker's pool was shut down, and
multiprocessing's resource tracker printed "There appear to be 5 leaked semaphore objects to clean up at shutdown".
A real sim daemon (its worker running) gets two SIGTERMs back to back; its stderr must not mention the tracker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.foundation.conftest import base_config, free_port, wait_for_a_decision, write_config


def test_a_second_sigterm_exits_at_once_without_leaking_the_worker_pools_semaphores(workdir: Path) -> None:
    port = free_port()
    config = write_config(workdir, base_config(workdir, port=port))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
    log_path = workdir / "daemon.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "alchemiser.cli.main", "run", "--config", str(config)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_a_decision(proc, f"http://127.0.0.1:{port}", log_path)
            helpers = psutil.Process(proc.pid).children()  # the symphony worker and the resource tracker
            proc.send_signal(signal.SIGTERM)
            _wait_for_line(log_path, '"event": "daemon.signal"')  # two signals at once may arrive as one
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            psutil.wait_procs(helpers, timeout=60)  # the tracker reports when its last user is gone
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    output = log_path.read_text(errors="replace")
    assert code == 128 + signal.SIGTERM, output[-2000:]
    assert "daemon.forced_exit" in output
    assert "resource_tracker" not in output and "leaked" not in output, output[-2000:]
    assert not [p for p in helpers if p.is_running()]


def _wait_for_line(log: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no {text!r} within {timeout}s"
        time.sleep(0.01)
