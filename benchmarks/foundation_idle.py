"""Idle daemon (sim): resident memory after N seconds (target < 150 MB) and event-loop lag p50/p99 over the last
minute. Measures the bare foundation and the full sim daemon. Usage: foundation_idle.py [seconds=60] [--bare|--full]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation_support import SimDaemon, positional, variants


def main() -> None:
    seconds = positional(0, 60.0)
    for label, bare in variants():
        daemon = SimDaemon(bare=bare)
        daemon.start()
        try:
            daemon.wait_ready()
            time.sleep(seconds)
            assert daemon.proc is not None
            process = psutil.Process(daemon.proc.pid)
            rss = process.memory_info().rss / 2**20
            # helper processes: the symphony worker (spawned at the first refresh) and multiprocessing's tracker
            helpers = [(" ".join(c.cmdline()[-2:]), c.memory_info().rss / 2**20) for c in process.children(True)]
            lag = httpx.get(f"{daemon.url}/status", timeout=5).json()["loop_lag"]
        finally:
            daemon.stop()
        print(f"{label}: RSS after {seconds:g} s idle: {rss:.1f} MiB = {rss * 2**20 / 1e6:.1f} MB  (target < 150 MB)")
        for command, helper_rss in helpers:
            print(f"{label}:   + helper process {command[-60:]}: RSS {helper_rss:.1f} MiB")
        print(
            f"{label}: event-loop lag over the last {lag['window_seconds']} s: p50 {lag['p50_ms']} ms, "
            f"p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms (timer every 250 ms)"
        )


if __name__ == "__main__":
    main()
