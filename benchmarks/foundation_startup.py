"""Startup: seconds from `alchemiser run` (sim) to the first /readyz 200. Target < 3 s."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation_support import SimDaemon

RUNS = 5


def main() -> None:
    times = []
    for _ in range(RUNS):
        daemon = SimDaemon()
        daemon.start()
        try:
            times.append(daemon.wait_ready())
        finally:
            daemon.stop()
    print(
        f"startup to /readyz 200 (sim, {RUNS} runs): median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s  (target < 3 s)"
    )


if __name__ == "__main__":
    main()
