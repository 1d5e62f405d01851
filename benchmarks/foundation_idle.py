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
            rss = psutil.Process(daemon.proc.pid).memory_info().rss / 2**20
            lag = httpx.get(f"{daemon.url}/status", timeout=5).json()["loop_lag"]
        finally:
            daemon.stop()
        print(f"{label}: RSS after {seconds:g} s idle: {rss:.1f} MiB  (target < 150 MB)")
        print(
            f"{label}: event-loop lag over the last {lag['window_seconds']} s: p50 {lag['p50_ms']} ms, "
            f"p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms (timer every 250 ms)"
        )


if __name__ == "__main__":
    main()
