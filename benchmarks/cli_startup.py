"""CLI start-up: wall time of whole ``alchemiser`` processes, each command loading only what it uses.

Measures ``alchemiser --help`` (target < 150 ms), ``status`` and ``kill`` against a running sim daemon started here
(< 250 ms each), and ``signals`` for one symphony over the last year of ``../shared/data/bars`` (< 400 ms, skipped
when the shared data is absent). Runs the ``alchemiser`` console script beside the interpreter (what users run),
``python -m alchemiser.cli.main`` when there is none. Beside the wall time it prints the CPU time (user + system) of
each command's process, which depends much less on the load of the machine than the wall time does.
Usage: cli_startup.py [runs=7]
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import resource
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


Timings = tuple[list[float], list[float]]
"""Seconds per run: wall time from spawn to exit, and the CPU time of the process (user + system)."""


def wall_times(args: Sequence[str], runs: int, cwd: Path) -> Timings:
    """Timings of ``alchemiser ARGS``, once per run; a failing run aborts the benchmark."""
    return wall_times_of([*cli(), *args], runs, cwd)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every child waited for so far
    return usage.ru_utime + usage.ru_stime


def wall_times_of(command: Sequence[str], runs: int, cwd: Path) -> Timings:
    times, cpu = [], []
    for _ in range(runs):
        cpu_before = _children_cpu()
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        cpu.append(_children_cpu() - cpu_before)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return times, cpu


def report(label: str, timings: Timings, target_ms: int) -> None:
    times, cpu = timings
    median = statistics.median(times) * 1000
    print(
        f"{label:<44} median {median:6.0f} ms  min {min(times) * 1000:6.0f}  max {max(times) * 1000:6.0f}  "
        f"cpu {statistics.median(cpu) * 1000:5.0f} ms  "
        f"(target < {target_ms} ms, {len(times)} runs) {'OK' if median < target_ms else 'MISSED'}"
    )


def last_bar_date(bars: Path) -> dt.date:
    with (bars / "SPY.csv").open(newline="") as handle:
        return max(dt.date.fromisoformat(row["date"]) for row in csv.DictReader(handle))


def main() -> None:
    runs = int(positional(0, 7))
    floor, floor_cpu = wall_times_of([sys.executable, "-c", "pass"], runs, REPO)
    print(
        f"{'python -c pass (interpreter floor, no target)':<44} median {statistics.median(floor) * 1000:6.0f} ms"
        f"{'':<28}cpu {statistics.median(floor_cpu) * 1000:5.0f} ms"
    )
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
