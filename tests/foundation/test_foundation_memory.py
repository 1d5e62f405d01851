"""``alchemiser run`` keeps its resident memory to what a daemon uses: a real daemon process (sim mode, its symphony
worker running) must not have imported the backtest report, research, plotting, Dask, pyarrow or apprise.

The daemon runs ``main(["run", ...])`` in a fresh interpreter that writes ``sys.modules`` to a file when it exits
after SIGTERM (the daemon's ordinary shutdown), so what it imported during start-up and its first decisions counts
(a ``None`` entry is a package made unimportable, not an import). That stop must also leave multiprocessing's resource
tracker nothing to warn about (no "leaked semaphore" line on stderr).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.foundation.conftest import base_config, free_port, wait_for_a_decision, write_config

# What a ``run`` never uses: report/charts and research code, their plotting and cluster stacks, pyarrow (pandas
# would load it on its own), apprise without notification URLs. The backtester's loop, book and fill model are in: the
# parity monitor's shadow portfolio runs them (about 1 MiB on top of pandas, which the exchange calendar needs anyway).
NOT_IN_DAEMON = (
    "alchemiser.backtest.report",
    "alchemiser.backtest.charts",
    "alchemiser.research",
    "matplotlib",
    "dask",
    "distributed",
    "scipy",
    "pyarrow",
    "apprise",
)

RUN_AND_RECORD_MODULES = """
import atexit, json, sys
from alchemiser.cli.main import main
def record():
    open(sys.argv[2], "w").write(json.dumps(sorted(m for m, module in sys.modules.items() if module is not None)))
atexit.register(record)
sys.exit(main(["run", "--config", sys.argv[1]]))
"""


def not_wanted(modules: list[str]) -> list[str]:
    return [m for m in modules if m in NOT_IN_DAEMON or m.startswith(tuple(f"{p}." for p in NOT_IN_DAEMON))]


def test_a_running_sim_daemon_imports_no_report_research_plotting_dask_pyarrow_or_apprise(workdir: Path) -> None:
    port = free_port()
    config = write_config(workdir, base_config(workdir, port=port))
    record = workdir / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
    log = (workdir / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_AND_RECORD_MODULES, str(config), str(record)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        worker = wait_for_a_decision(proc, f"http://127.0.0.1:{port}", workdir / "daemon.log")
        helpers = psutil.Process(proc.pid).children()  # the worker and multiprocessing's resource tracker
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, (workdir / "daemon.log").read_text(errors="replace")
        psutil.wait_procs(helpers, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
    # A clean stop releases the worker pool's semaphores: multiprocessing's resource tracker (it writes to the
    # daemon's stderr when its last user is gone) has nothing left over to warn about.
    output = (workdir / "daemon.log").read_text(errors="replace")
    assert "resource_tracker" not in output and "leaked" not in output, output[-2000:]
    modules = json.loads(record.read_text())
    assert worker != proc.pid
    assert "alchemiser.daemon.daemon" in modules and "pandas" in modules  # the probe saw a whole daemon
    assert not_wanted(modules) == []
