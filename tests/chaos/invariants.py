"""The invariants every chaos run must leave true, checked against the store file and the exchange's REST API.

Each check returns the violations it found (empty = passed), so a run reports every broken invariant at once:

* ``client_order_ids_unique`` — no client order id was submitted twice (one exchange order per id);
* ``orders_match_intents`` — every order of ours has exactly one stored intent, at most one order per ladder step;
* ``fills_recorded_once`` — every fill the exchange made on our orders is in the store exactly once;
* ``books_sum_to_positions`` — the per-strategy books add up to the broker's positions, symbol by symbol;
* ``decisions_complete`` — no decision or execution run is left unfinished, every failed one says why;
* ``operator_requests_resolved`` — every accepted operator request is done, or failed or expired with a reason
  (the durable operator-request outbox of migration 0006; not applicable to a store without that table);
* ``store_integrity`` — ``PRAGMA integrity_check`` answers ``ok``.

Call it with the daemon stopped (the store quiescent).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

HEADERS = {"APCA-API-KEY-ID": "sim-key", "APCA-API-SECRET-KEY": "sim-secret"}
DUST = Decimal("0.000001")  # below the planner's share quantum: what 9-decimal partial fills can leave
FINISHED_RUNS = frozenset(
    {"completed", "completed_with_issues", "blocked", "abandoned_too_late", "approval_timeout", "rejected_by_operator"}
)
RESOLVED_REQUESTS = frozenset({"done", "failed", "expired"})  # failed and expired say why in ``outcome``
PAGE = 500  # the most /v2/orders returns at once


@dataclass(frozen=True)
class World:
    """What the checks read: the exchange's orders and positions, and the store (read-only)."""

    orders: list[dict[str, Any]]
    positions: dict[str, Decimal]
    db: sqlite3.Connection

    @property
    def ours(self) -> list[dict[str, Any]]:
        return [o for o in self.orders if str(o["client_order_id"]).startswith("alc-")]

    def table_exists(self, name: str) -> bool:
        row = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None


Check = Callable[[World], list[str]]


def client_order_ids_unique(world: World) -> list[str]:
    counts = Counter(o["client_order_id"] for o in world.ours)
    return [f"client order id {coid} submitted {n} times" for coid, n in counts.items() if n > 1]


def orders_match_intents(world: World) -> list[str]:
    intents = {r["client_order_id"]: r for r in world.db.execute("SELECT * FROM execution_orders")}
    found: list[str] = []
    steps: Counter[tuple[str, str, str, int]] = Counter()
    for order in world.ours:
        intent = intents.get(order["client_order_id"])
        if intent is None:
            found.append(f"order {order['client_order_id']} ({order['symbol']}) has no stored intent")
            continue
        if (intent["symbol"], intent["side"]) != (order["symbol"], order["side"]):
            found.append(f"order {order['client_order_id']} is {order['side']} {order['symbol']}, intent differs")
        steps[(intent["run_id"], intent["symbol"], intent["side"], intent["step"])] += 1
    found += [f"{n} orders for one intent {key}" for key, n in steps.items() if n > 1]
    return found


def fills_recorded_once(world: World) -> list[str]:
    found: list[str] = []
    keys = Counter(r["fill_key"] for r in world.db.execute("SELECT fill_key FROM execution_fills"))
    found += [f"fill {key} recorded {n} times" for key, n in keys.items() if n > 1]
    recorded: dict[str, Decimal] = {}
    for row in world.db.execute("SELECT broker_order_id, qty FROM execution_fills"):
        recorded[row["broker_order_id"]] = recorded.get(row["broker_order_id"], Decimal(0)) + Decimal(row["qty"])
    exchange_ids = {o["id"] for o in world.ours}
    for order in world.ours:
        filled, stored = Decimal(order["filled_qty"]), recorded.get(order["id"], Decimal(0))
        if filled != stored:
            found.append(f"order {order['client_order_id']}: exchange filled {filled}, store {stored}")
    found += [f"store has fills for order {oid} the exchange does not know" for oid in set(recorded) - exchange_ids]
    return found


def books_sum_to_positions(world: World) -> list[str]:
    books: dict[str, Decimal] = {}
    for row in world.db.execute("SELECT symbol, qty FROM strategy_books"):
        books[row["symbol"]] = books.get(row["symbol"], Decimal(0)) + Decimal(row["qty"])
    found: list[str] = []
    for symbol in sorted(set(books) | set(world.positions)):
        held, booked = world.positions.get(symbol, Decimal(0)), books.get(symbol, Decimal(0))
        if abs(held - booked) >= DUST:
            found.append(f"{symbol}: broker holds {held}, books sum to {booked}")
    return found


def decisions_complete(world: World) -> list[str]:
    found: list[str] = []
    for row in world.db.execute("SELECT decision_id, status, reason, finished_at FROM decisions"):
        if row["status"] == "running" or row["finished_at"] is None:
            found.append(f"decision {row['decision_id']} left {row['status']}")
        elif row["status"] in ("failed", "blocked") and not row["reason"]:
            found.append(f"decision {row['decision_id']} {row['status']} without a reason")
    for row in world.db.execute("SELECT run_id, status FROM execution_runs"):
        if row["status"] not in FINISHED_RUNS:
            found.append(f"execution run {row['run_id']} left {row['status']}")
    return found


def operator_requests_resolved(world: World) -> list[str]:
    """The operator-request outbox (migration 0006): once the daemon has stopped cleanly, every request is done, or
    failed or expired with its ``outcome`` saying why. Skipped (no violation) on a store without the table."""
    if not world.table_exists("operator_requests"):
        return []
    columns = {r["name"] for r in world.db.execute("PRAGMA table_info(operator_requests)")}
    missing = {"request_id", "kind", "status", "outcome"} - columns
    if missing:
        return [f"operator_requests has no column(s) {sorted(missing)}: update this check to the outbox's schema"]
    found: list[str] = []
    for row in world.db.execute("SELECT request_id, kind, status, outcome FROM operator_requests"):
        where = f"operator request {row['request_id']} ({row['kind']})"
        if row["status"] not in RESOLVED_REQUESTS:
            found.append(f"{where} left {row['status']}")
        elif row["status"] != "done" and not (row["outcome"] or "").strip():
            found.append(f"{where} {row['status']} without a reason")
    return found


def store_integrity(world: World) -> list[str]:
    result = [str(r[0]) for r in world.db.execute("PRAGMA integrity_check")]
    return [] if result == ["ok"] else [f"integrity_check: {'; '.join(result)}"]


CHECKS: dict[str, Check] = {
    "client_order_ids_unique": client_order_ids_unique,
    "orders_match_intents": orders_match_intents,
    "fills_recorded_once": fills_recorded_once,
    "books_sum_to_positions": books_sum_to_positions,
    "decisions_complete": decisions_complete,
    "operator_requests_resolved": operator_requests_resolved,
    "store_integrity": store_integrity,
}


def all_orders(client: httpx.Client) -> list[dict[str, Any]]:
    """Every order at the exchange, oldest first, in pages of 500 (``after`` is exclusive: a page restarts at the
    last timestamp seen, and orders are told apart by their exchange id)."""
    seen: dict[str, dict[str, Any]] = {}
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"status": "all", "limit": PAGE, "direction": "asc"}
        if after is not None:
            params["after"] = after
        response = client.get("/v2/orders", params=params)
        response.raise_for_status()
        page: list[dict[str, Any]] = response.json()
        new = [o for o in page if o["id"] not in seen]
        seen.update((o["id"], o) for o in new)
        if len(page) < PAGE or not new:
            return list(seen.values())
        # one microsecond back: orders sharing the boundary's timestamp are fetched again, not skipped
        last = datetime.fromisoformat(page[-1]["submitted_at"]) - timedelta(microseconds=1)
        after = last.isoformat()


def check_invariants(exchange_url: str, store: Path) -> dict[str, list[str]]:
    """Every check in ``CHECKS``: name → violations (an empty list when it passed)."""
    with httpx.Client(base_url=exchange_url, headers=HEADERS, timeout=30) as client:
        orders = all_orders(client)
        positions = {p["symbol"]: Decimal(p["qty"]) for p in client.get("/v2/positions").json()}
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        world = World(orders, positions, db)
        return {name: check(world) for name, check in CHECKS.items()}
    finally:
        db.close()
