"""What the hardening costs and how fast its safety nets act.

* ``json_body`` limits: parse time of a typical control body and of the worst bodies the limits allow (16 KiB of
  nesting, long strings), per call;
* store file check at every start (``store_file_problems``: header, schema version, ``PRAGMA quick_check``) on a
  store grown to N MiB of bar-cache-like rows;
* the symphony worker's death after its parent's SIGKILL (parent-death signal), over a few runs.

Run: ``.venv/bin/python benchmarks/hardening.py [store_mib]``.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from alchemiser.store.database import known_schema_version
from alchemiser.store.file_check import store_file_problems
from alchemiser.web.requests import MAX_BODY, BodyError, parse_json_object

RUNNER = """
import sys
from pathlib import Path
from alchemiser.trading.symphony_worker import SymphonyRunner

class Engine:
    name = "e"
    def evaluation_call(self, bars, session):
        raise NotImplementedError

runner = SymphonyRunner([Engine()], worker_lock=Path(sys.argv[1]))
runner.prewarm()
runner._warm_up.result(timeout=120)
print("WORKER", runner.worker_pid, flush=True)
import time
time.sleep(600)
"""


def per_call(body: bytes, repeat: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        with contextlib.suppress(BodyError):
            parse_json_object(body)
    return (time.perf_counter() - start) / repeat * 1e6


def parse_figures() -> None:
    bodies = {
        "typical kill body": b'{"reason": "maintenance window", "action": "freeze"}',
        f"{MAX_BODY // 1024} KiB string": b'{"reason": "' + b"x" * (MAX_BODY - 20) + b'"}',
        f"{MAX_BODY // 1024} KiB of '['": b"[" * MAX_BODY,
        "5000-digit integer (refused)": b'{"wait_seconds": ' + b"9" * 5000 + b"}",
    }
    for name, body in bodies.items():
        print(f"json_body {name:32s} {per_call(body, 200 if len(body) > 1000 else 5000):9.1f} µs/call")


def store_figures(mib: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.sqlite"
        db = sqlite3.connect(path)
        db.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT, checksum TEXT, applied_at TEXT)"
        )
        db.execute("INSERT INTO schema_version VALUES (1, 'x', 'x', 'x')")
        db.execute("CREATE TABLE bars (symbol TEXT, day TEXT, payload TEXT, PRIMARY KEY (symbol, day))")
        rows = mib * 1024 * 1024 // 300
        db.executemany("INSERT INTO bars VALUES (?, ?, ?)", ((f"S{i % 500}", f"{i}", "x" * 250) for i in range(rows)))
        db.commit()
        db.close()
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            assert store_file_problems(path, known_schema_version()) == []
            timings.append(time.perf_counter() - start)
        size = path.stat().st_size / 2**20
        print(f"store file check, {size:.0f} MiB store: median {statistics.median(timings) * 1000:.1f} ms (of 5)")


def worker_death_figures(runs: int = 3) -> None:
    delays = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            parent = subprocess.Popen(
                [sys.executable, "-c", RUNNER, str(Path(tmp) / "w.lock")], stdout=subprocess.PIPE, text=True
            )
            assert parent.stdout is not None
            line = parent.stdout.readline()
            while line and not line.startswith("WORKER "):
                line = parent.stdout.readline()
            children = psutil.Process(parent.pid).children(recursive=True)
            start = time.perf_counter()
            parent.send_signal(signal.SIGKILL)
            parent.wait()
            while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
                time.sleep(0.005)
            delays.append(time.perf_counter() - start)
    print(
        f"worker + resource tracker gone after the parent's SIGKILL: {', '.join(f'{d * 1000:.0f} ms' for d in delays)}"
    )


if __name__ == "__main__":
    parse_figures()
    store_figures(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
    worker_death_figures()
