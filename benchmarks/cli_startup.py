"""CLI start-up: wall time of whole ``alchemiser`` processes, each command loading only what it uses.

Measures ``alchemiser --help`` (target < 150 ms), ``status`` and ``kill`` against a running sim daemon started here
(< 250 ms each), and ``signals`` for one symphony over the last year of ``../shared/data/bars`` (< 400 ms, skipped
when the shared data is absent). Runs the ``alchemiser`` console script beside the interpreter (what users run),
``python -m alchemiser.cli.main`` when there is none. Usage: cli_startup.py [runs=7]
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation_support import REPO, SimDaemon, positional

SHARED = Path(os.environ.get("ALCHEMISER_SHARED_DIR", REPO.parent / "shared"))
SYMPHONY = REPO / "config" / "strategies" / "nuclear.clj"
TOKEN = "cli-startup-benchmark-token"  # noqa: S105 - a throw-away token of a throw-away daemon


def cli() -> list[str]:
    script = Path(sys.executable).with_name("alchemiser")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "alchemiser.cli.main"]


def wall_times(args: Sequence[str], runs: int, cwd: Path) -> list[float]:
    """Seconds from spawn to exit of ``alchemiser ARGS``, once per run; a failing run aborts the benchmark."""
    return wall_times_of([*cli(), *args], runs, cwd)


def wall_times_of(command: Sequence[str], runs: int, cwd: Path) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return times


def report(label: str, times: list[float], target_ms: int) -> None:
    median = statistics.median(times) * 1000
    print(
        f"{label:<44} median {median:6.0f} ms  min {min(times) * 1000:6.0f}  max {max(times) * 1000:6.0f}  "
        f"(target < {target_ms} ms, {len(times)} runs) {'OK' if median < target_ms else 'MISSED'}"
    )


def last_bar_date(bars: Path) -> dt.date:
    with (bars / "SPY.csv").open(newline="") as handle:
        return max(dt.date.fromisoformat(row["date"]) for row in csv.DictReader(handle))


def main() -> None:
    runs = int(positional(0, 7))
    floor = wall_times_of([sys.executable, "-c", "pass"], runs, REPO)
    print(f"{'python -c pass (interpreter floor, no target)':<44} median {statistics.median(floor) * 1000:6.0f} ms")
    report("alchemiser --help", wall_times(["--help"], runs, REPO), 150)
    daemon = SimDaemon(control_token=TOKEN)
    daemon.start()
    try:
        daemon.wait_ready()
        config = ["--config", str(daemon.config)]
        report("alchemiser status (running sim daemon)", wall_times(["status", *config], runs, daemon.workdir), 250)
        report("alchemiser kill (running sim daemon)", wall_times(["kill", *config], runs, daemon.workdir), 250)
    finally:
        daemon.stop()
    bars = SHARED / "data" / "bars"
    if not bars.is_dir():
        print(f"signals: skipped, no bars at {bars}")
        return
    end = last_bar_date(bars)
    window = ["--start", (end - dt.timedelta(days=365)).isoformat(), "--end", end.isoformat()]
    signals = ["signals", "--strategy", str(SYMPHONY), *window, "--data", str(bars), "--format", "json"]
    report(f"alchemiser signals ({SYMPHONY.stem}, 1 year)", wall_times(signals, runs, REPO), 400)


if __name__ == "__main__":
    main()
