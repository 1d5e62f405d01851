"""End-state checks shared by the crash tests (harness crash test and daemon crash test).

After any number of SIGKILLs and restarts, the exchange and the store must agree:

* no client order id is used for two different orders, and every order of ours matches exactly one stored intent;
* per (run, symbol, side, step) at most one order (no duplicate order for the same intent);
* every fill the exchange made on our orders is recorded in the store exactly once;
* positions equal the run's stored plan targets (current + rounded delta), up to sub-1e-6-share dust.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx

HEADERS = {"APCA-API-KEY-ID": "sim-key", "APCA-API-SECRET-KEY": "sim-secret"}


def read_line(proc: subprocess.Popen[str], deadline: float) -> str | None:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            return line
        if proc.poll() is not None:
            return None
    raise AssertionError("timed out waiting for subprocess output")


@contextmanager
def sim_exchange(*options: str) -> Iterator[str]:
    """A standalone ``alchemiser sim-exchange --port 0 OPTIONS`` subprocess; yields its base URL, stops it after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "alchemiser.cli.main", "sim-exchange", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            line = read_line(proc, deadline)
            assert line is not None, "sim-exchange exited before listening"
            if line.startswith("sim-exchange listening on "):
                url = line.split()[3]
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def check_end_state(url: str, store: Path, run_id: str) -> None:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as client:
        orders = client.get("/v2/orders", params={"status": "all", "limit": 500, "direction": "asc"}).json()
        positions = {p["symbol"]: Decimal(p["qty"]) for p in client.get("/v2/positions").json()}
    db = sqlite3.connect(store)
    db.row_factory = sqlite3.Row
    try:
        run = db.execute("SELECT * FROM execution_runs WHERE run_id = ?", (run_id,)).fetchone()
        assert run is not None and run["status"] == "completed", dict(run) if run else None
        intents = {r["client_order_id"]: r for r in db.execute("SELECT * FROM execution_orders")}
        fills: dict[str, Decimal] = {}
        keys = [r["fill_key"] for r in db.execute("SELECT fill_key FROM execution_fills")]
        assert len(keys) == len(set(keys))
        for row in db.execute("SELECT broker_order_id, qty FROM execution_fills"):
            fills[row["broker_order_id"]] = fills.get(row["broker_order_id"], Decimal(0)) + Decimal(row["qty"])
        plan = json.loads(run["plan_json"])
    finally:
        db.close()
    ours = [o for o in orders if o["client_order_id"].startswith("alc-")]
    coids = [o["client_order_id"] for o in ours]
    assert len(coids) == len(set(coids)), "a client order id was used for two orders"
    steps: set[tuple[str, str, str, int]] = set()
    for order in ours:
        intent = intents.get(order["client_order_id"])
        assert intent is not None, f"order {order['client_order_id']} has no stored intent"
        key = (intent["run_id"], intent["symbol"], intent["side"], intent["step"])
        assert key not in steps, f"two orders for one intent {key}"
        steps.add(key)
        assert intent["symbol"] == order["symbol"] and intent["side"] == order["side"]
        assert fills.get(order["id"], Decimal(0)) == Decimal(order["filled_qty"]), order["client_order_id"]
    for line in plan["lines"]:
        expected = Decimal(line["current_qty"]) + Decimal(line["delta_qty"])
        # exact, up to dust below the planner's 1e-6 share quantum that 9-decimal partial fills can leave
        held = positions.get(line["symbol"], Decimal(0))
        assert abs(held - expected) < Decimal("0.000001"), (line["symbol"], held, expected)
