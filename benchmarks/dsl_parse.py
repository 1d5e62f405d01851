"""DSL reader throughput over the reference symphonies (target ≥ 2 MB/s).

Parses every file of ``../shared/reference/strategies`` repeatedly and prints MB/s per file and overall, plus a
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


def throughput(text: str, name: str) -> tuple[float, float]:
    runs = 0
    start = time.perf_counter()
    while True:
        parse_symphony(text, name)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            break
    size_mb = len(text.encode()) / 1e6
    return size_mb * runs / elapsed, elapsed / runs


def main() -> int:
    files = sorted(REFERENCE.glob("*.clj"))
    if not files:
        print(f"reference strategies not found at {REFERENCE}", file=sys.stderr)
        return 1
    total_bytes = 0
    total_time = 0.0
    print(f"{'file':<30} {'KB':>8} {'ms/parse':>10} {'MB/s':>8}")
    for path in files:
        text = path.read_text()
        rate, per = throughput(text, str(path))
        total_bytes += len(text.encode())
        total_time += per
        print(f"{path.name:<30} {len(text.encode()) / 1024:>8.1f} {per * 1000:>10.2f} {rate:>8.2f}")
    overall = total_bytes / 1e6 / total_time
    print(f"{'all files (one pass)':<30} {total_bytes / 1024:>8.1f} {total_time * 1000:>10.2f} {overall:>8.2f}")
    deep = '(defsymphony "deep" {} ' + '(group "g" [' * 900 + '(asset "A")' + "])" * 900 + ")"
    rate, per = throughput(deep, "deep")
    print(f"{'synthetic depth 1800':<30} {len(deep) / 1024:>8.1f} {per * 1000:>10.2f} {rate:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
