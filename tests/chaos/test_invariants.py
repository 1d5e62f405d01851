"""The chaos invariants catch what they claim to: each check on a clean world passes, on a broken one names it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from alchemiser.store import Store
from tests.chaos.invariants import CHECKS, World

OUTBOX = """CREATE TABLE IF NOT EXISTS operator_requests (request_id TEXT PRIMARY KEY, kind TEXT NOT NULL,
    payload TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, run_id TEXT,
    status TEXT NOT NULL, finished_at TEXT, outcome TEXT)"""
NOW = "2026-03-10T15:00:00+00:00"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = tmp_path / "store.sqlite"

    async def migrate() -> None:
        await (await Store.open(path)).close()

    asyncio.run(migrate())
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute(
        "INSERT INTO execution_runs (run_id, status, mode, created_at, updated_at, plan_json)"
        " VALUES ('r1', 'completed', 'paper', ?, ?, '{}')",
        (NOW, NOW),
    )
    conn.execute(
        "INSERT INTO execution_orders (client_order_id, run_id, symbol, side, step, order_type, qty, state,"
        " created_at, updated_at) VALUES ('alc-1', 'r1', 'SPY', 'buy', 0, 'limit', '2', 'filled', ?, ?)",
        (NOW, NOW),
    )
    conn.execute(
        "INSERT INTO execution_fills (fill_key, client_order_id, broker_order_id, run_id, symbol, side, qty, price,"
        " cum_qty, source, recorded_at) VALUES ('f1', 'alc-1', 'b1', 'r1', 'SPY', 'buy', '2', '500', '2', 'stream', ?)",
        (NOW,),
    )
    conn.execute(
        "INSERT INTO strategy_books (strategy, symbol, qty, cost, realized_pnl, updated_at)"
        " VALUES ('s', 'SPY', '2', '1000', '0', ?)",
        (NOW,),
    )
    conn.commit()
    yield conn
    conn.close()


def order(**changes: Any) -> dict[str, Any]:
    return {"id": "b1", "client_order_id": "alc-1", "symbol": "SPY", "side": "buy", "filled_qty": "2", **changes}


def failing(world: World) -> dict[str, list[str]]:
    return {name: found for name, check in CHECKS.items() if (found := check(world))}


def test_a_clean_world_passes_every_check(db: sqlite3.Connection) -> None:
    assert failing(World([order()], {"SPY": Decimal(2)}, db)) == {}


def test_each_broken_invariant_is_named(db: sqlite3.Connection) -> None:
    twice = World([order(), order(id="b2", filled_qty="0")], {"SPY": Decimal(2)}, db)
    assert set(failing(twice)) == {"client_order_ids_unique", "orders_match_intents"}
    stranger = World([order(), order(id="b3", client_order_id="alc-9", filled_qty="0")], {"SPY": Decimal(2)}, db)
    assert failing(stranger) == {"orders_match_intents": ["order alc-9 (SPY) has no stored intent"]}
    unrecorded = World([order(filled_qty="3")], {"SPY": Decimal(3)}, db)
    assert set(failing(unrecorded)) == {"fills_recorded_once", "books_sum_to_positions"}
    drifted = World([order()], {"SPY": Decimal(2), "TLT": Decimal(1)}, db)
    assert failing(drifted) == {"books_sum_to_positions": ["TLT: broker holds 1, books sum to 0"]}


def test_unfinished_decisions_and_runs_are_named(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO decisions (decision_id, session, trigger, as_of_policy, started_at, status)"
        " VALUES ('M1', '2026-03-10', 'manual', 'live', ?, 'running')",
        (NOW,),
    )
    db.execute("UPDATE execution_runs SET status = 'executing'")
    found = failing(World([order()], {"SPY": Decimal(2)}, db))
    assert found == {"decisions_complete": ["decision M1 left running", "execution run r1 left executing"]}


def test_the_outbox_check_applies_once_the_table_exists(db: sqlite3.Connection) -> None:
    world = World([order()], {"SPY": Decimal(2)}, db)
    db.execute(OUTBOX)
    rows = [("q1", "kill", "done", None), ("q2", "rebalance", "pending", None), ("q3", "resume", "expired", "")]
    for request_id, kind, status, outcome in rows:
        db.execute(
            "INSERT INTO operator_requests (request_id, kind, payload, requested_by, requested_at, status, outcome)"
            " VALUES (?, ?, '{}', 'http', ?, ?, ?)",
            (request_id, kind, NOW, status, outcome),
        )
    assert failing(world) == {
        "operator_requests_resolved": [
            "operator request q2 (rebalance) left pending",
            "operator request q3 (resume) expired without a reason",
        ]
    }
