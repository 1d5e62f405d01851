"""Startup: seconds from process start (sim) to the first /readyz 200. Target < 3 s.

Measures the bare foundation (store, supervisor, HTTP; no plugins) and the full sim daemon (``alchemiser run``:
embedded exchange, adapter, scheduler, execution). Usage: foundation_startup.py [runs=5] [--bare|--full]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation_support import SimDaemon, positional, variants


def main() -> None:
    runs = int(positional(0, 5))
    for label, bare in variants():
        times = []
        for _ in range(runs):
            daemon = SimDaemon(bare=bare)
            daemon.start()
            try:
                times.append(daemon.wait_ready())
            finally:
                daemon.stop()
        print(
            f"{label}: startup to /readyz 200 ({runs} runs): median {statistics.median(times):.2f} s, "
            f"min {min(times):.2f} s, max {max(times):.2f} s  (target < 3 s)"
        )


if __name__ == "__main__":
    main()
