"""DSL reader throughput over the reference symphonies (target ≥ 2 MB/s).

Parses every file of ``../shared/reference/strategies`` repeatedly and prints the best MB/s per file (wall clock
and CPU time: the machine is shared) and overall, plus a
synthetic deep file (nesting 1,800) to show the parser does not slow down with depth.

Run: ``.venv/bin/python benchmarks/dsl_parse.py``
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from alchemiser.dsl import parse_symphony

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALCHEMISER_SHARED_DIR", REPO.parent / "shared")).resolve()
REFERENCE = SHARED / "reference" / "strategies"
MIN_SECONDS = 0.5


def throughput(text: str, name: str) -> tuple[float, float, float]:
    """(MB/s by wall clock, MB/s by CPU time, wall seconds per parse), best of several rounds."""
    best_wall = best_cpu = float("inf")
    spent = 0.0
    while spent < MIN_SECONDS:
        w0, c0 = time.perf_counter(), time.process_time()
        parse_symphony(text, name)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, max(cpu, 1e-9))
        spent += wall
    size_mb = len(text.encode()) / 1e6
    return size_mb / best_wall, size_mb / best_cpu, best_wall


def main() -> int:
    files = sorted(REFERENCE.glob("*.clj"))
    if not files:
        print(f"reference strategies not found at {REFERENCE}", file=sys.stderr)
        return 1
    total_bytes = 0
    total_time = 0.0
    print(f"{'file':<30} {'KB':>8} {'ms/parse':>10} {'MB/s wall':>10} {'MB/s CPU':>9}")
    for path in files:
        text = path.read_text()
        rate, cpu_rate, per = throughput(text, str(path))
        total_bytes += len(text.encode())
        total_time += per
        print(f"{path.name:<30} {len(text.encode()) / 1024:>8.1f} {per * 1000:>10.2f} {rate:>10.2f} {cpu_rate:>9.2f}")
    overall = total_bytes / 1e6 / total_time
    print(f"{'all files (best pass, wall)':<30} {total_bytes / 1024:>8.1f} {total_time * 1000:>10.2f} {overall:>10.2f}")
    deep = '(defsymphony "deep" {} ' + '(group "g" [' * 900 + '(asset "A")' + "])" * 900 + ")"
    rate, cpu_rate, per = throughput(deep, "deep")
    print(f"{'synthetic depth 1800':<30} {len(deep) / 1024:>8.1f} {per * 1000:>10.2f} {rate:>10.2f} {cpu_rate:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
