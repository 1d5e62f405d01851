"""Soak: the whole daemon in accelerated sim for a simulated year with fault injection on; invariants at the end.

Real parts: the simulated exchange's protocol server on 127.0.0.1 (REST + trade_updates WebSocket), the Alpaca
adapter, execution, the SQLite store (with its retention policy), the HTTP server, the notifier (posting to a local
webhook), the symphony worker process. Faults: random 429/500/503 on every REST endpoint (order submits included),
trade updates lost and duplicated at random, and the trade_updates socket dropped every few simulated days. The
clock is accelerated and jumps over idle nights.

Sampled every ``--sample-every`` decisions: RSS of the daemon and of its symphony worker, open file descriptors,
asyncio tasks, and the store's size on disk (file + WAL); the closing table prints the series and the store's growth
per simulated day.

Invariants checked at the end:
* zero duplicate orders (one exchange order per client order id; no two intents with one broker order);
* every fill recorded (each exchange order's filled quantity equals the cumulative quantity in the store);
* positions reconcile (a final reconciliation against the broker is clean);
* file descriptors and asyncio tasks flat after warm-up (within a small slack);
* RSS growth (daemon + worker) < 10 % after warm-up. The simulated exchange keeps its whole order and fill history
  in this same process (as Alpaca serves it: ~0.7 KB per order); what used to grow besides is bounded: the
  adapter's stream dedupe forgets finished orders after 3 days of event time, the sim's intraday-path cache holds
  ≤ 4096 entries. Execution's own retained orders (and the decoded REST objects they hold) are the remaining growth.

Usage: .venv/bin/python benchmarks/daemon_soak.py [--days 252] [--speed 120] [--seed 1] [--fault-rate 0.02]
       [--sample-every 20] [--warmup 60]

The soak is in ``soak_run.py``, imported only under the main guard below: the symphony worker is spawned, re-imports
this script as its ``__main__``, and must hold what ``alchemiser run``'s worker holds (the DSL and numpy), not the
harness. Like ``alchemiser run``, the process makes pyarrow unimportable before anything imports pandas.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from alchemiser.cli.main import NOT_LOADED  # noqa: E402

if __name__ == "__main__":
    for package in NOT_LOADED["run"]:
        sys.modules.setdefault(package, None)  # type: ignore[arg-type]  # as ``alchemiser run`` does
    from soak_run import main

    sys.exit(main())
