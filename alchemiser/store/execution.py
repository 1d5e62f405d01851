"""Execution repository: rebalance runs, order intents, order events, fills, strategy books, high-water mark.

Write order matters for crash safety: ``add_intent`` commits before the order is sent, events and fills are
written after they are received. Everything is keyed so that writing the same thing twice is harmless
(``INSERT OR IGNORE`` on dedupe keys; fills keyed by ``<broker order id>:<cumulative qty>``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from alchemiser.broker.enums import OrderSide, OrderType
from alchemiser.broker.models import Order, TradeUpdate
from alchemiser.clock import Clock
from alchemiser.errors import StoreError
from alchemiser.process.crashpoints import crash_point
from alchemiser.store.database import Store

ZERO = Decimal(0)
UNFINISHED = ("planned", "awaiting_approval", "executing")


class IntentState:
    """Lifecycle of an intent row (``execution_orders.state``)."""

    INTENT = "intent"  # written, not yet known to be sent
    SENT = "sent"  # the broker answered with the order (or a lookup found it)
    NOT_SENT = "not_sent"  # a lookup after a crash proved the broker never saw it
    REJECTED = "rejected"  # the broker refused it
    UNKNOWN = "unknown"  # the send's outcome could not be established
    CLOSED = "closed"  # terminal at the broker


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    status: str
    mode: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    plan: dict[str, Any]
    verdict: dict[str, Any] | None
    result: dict[str, Any] | None
    detail: str


@dataclass(frozen=True, slots=True)
class IntentRecord:
    client_order_id: str
    run_id: str
    symbol: str
    side: OrderSide
    step: int
    order_type: OrderType
    qty: Decimal
    limit_price: Decimal | None
    reference_price: Decimal | None
    state: str
    broker_order_id: str | None
    broker_status: str | None
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    reject_reason: str | None
    created_at: datetime
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class FillRecord:
    fill_key: str
    client_order_id: str
    broker_order_id: str
    run_id: str | None
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    cum_qty: Decimal
    filled_at: datetime | None
    source: str


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class ExecutionRepository:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @property
    def store(self) -> Store:
        return self._store

    def _now(self) -> str:
        return self._clock.now().isoformat()

    # ----------------------------------------------------------------------------------------------- runs

    async def create_run(self, run_id: str, *, mode: str, plan: Mapping[str, Any], status: str = "planned") -> bool:
        """Insert the run; False if it already exists (a retry or a resume), which is not an error."""
        now = self._now()
        result = await self._store.execute(
            "INSERT OR IGNORE INTO execution_runs (run_id, status, mode, created_at, updated_at, plan_json)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, status, mode, now, now, json.dumps(plan, sort_keys=True)),
        )
        return result.rowcount == 1

    async def set_run_status(
        self,
        run_id: str,
        status: str,
        *,
        detail: str | None = None,
        verdict: Mapping[str, Any] | None = None,
        result: Mapping[str, Any] | None = None,
        finished: bool = False,
    ) -> None:
        now = self._now()
        sets = ["status = ?", "updated_at = ?"]
        params: list[Any] = [status, now]
        if detail is not None:
            sets.append("detail = ?")
            params.append(detail)
        if verdict is not None:
            sets.append("verdict_json = ?")
            params.append(json.dumps(verdict, sort_keys=True, default=str))
        if result is not None:
            sets.append("result_json = ?")
            params.append(json.dumps(result, sort_keys=True, default=str))
        if finished:
            sets.append("finished_at = ?")
            params.append(now)
        params.append(run_id)
        outcome = await self._store.execute(f"UPDATE execution_runs SET {', '.join(sets)} WHERE run_id = ?", params)  # noqa: S608
        if outcome.rowcount != 1:
            raise StoreError(f"execution run {run_id!r} does not exist")

    async def get_run(self, run_id: str) -> RunRecord | None:
        row = await self._store.fetchone("SELECT * FROM execution_runs WHERE run_id = ?", (run_id,))
        return None if row is None else _run(row)

    async def unfinished_runs(self) -> list[RunRecord]:
        rows = await self._store.fetchall(
            "SELECT * FROM execution_runs WHERE status IN (?, ?, ?) ORDER BY created_at", UNFINISHED
        )
        return [_run(row) for row in rows]

    async def latest_run(self) -> RunRecord | None:
        row = await self._store.fetchone("SELECT * FROM execution_runs ORDER BY created_at DESC, rowid DESC LIMIT 1")
        return None if row is None else _run(row)

    # -------------------------------------------------------------------------------------------- intents

    async def add_intent(
        self,
        *,
        client_order_id: str,
        run_id: str,
        symbol: str,
        side: OrderSide,
        step: int,
        order_type: OrderType,
        qty: Decimal,
        limit_price: Decimal | None,
        reference_price: Decimal | None,
        arrival: tuple[Decimal, Decimal] | None = None,
    ) -> IntentRecord:
        """Write the intent (committed before the caller sends). An intent with this id that never reached the broker
        (state ``intent``/``unknown``, e.g. written just before a crash) takes the new quantity and price; any other
        existing row is left as it is. ``arrival`` is the (bid, ask) the order was priced from (parity's TCA)."""
        now = self._now()
        await self._store.execute(
            "INSERT INTO execution_orders (client_order_id, run_id, symbol, side, step, order_type, qty,"
            " limit_price, reference_price, state, created_at, updated_at, arrival_bid, arrival_ask)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (client_order_id) DO UPDATE SET qty = excluded.qty, limit_price = excluded.limit_price,"
            " order_type = excluded.order_type, updated_at = excluded.updated_at"
            " WHERE execution_orders.state IN ('intent', 'unknown')",
            (
                client_order_id,
                run_id,
                symbol,
                side.value,
                step,
                order_type.value,
                str(qty),
                _s(limit_price),
                _s(reference_price),
                IntentState.INTENT,
                now,
                now,
                None if arrival is None else str(arrival[0]),
                None if arrival is None else str(arrival[1]),
            ),
        )
        intent = await self.get_intent(client_order_id)
        if intent is None:
            raise StoreError(f"intent {client_order_id} vanished after insert")
        return intent

    async def get_intent(self, client_order_id: str) -> IntentRecord | None:
        row = await self._store.fetchone("SELECT * FROM execution_orders WHERE client_order_id = ?", (client_order_id,))
        return None if row is None else _intent(row)

    async def intents_for_run(self, run_id: str) -> list[IntentRecord]:
        rows = await self._store.fetchall(
            "SELECT * FROM execution_orders WHERE run_id = ? ORDER BY symbol, side, step", (run_id,)
        )
        return [_intent(row) for row in rows]

    async def mark_intent(self, client_order_id: str, state: str, *, reject_reason: str | None = None) -> None:
        await self._store.execute(
            "UPDATE execution_orders SET state = ?, reject_reason = COALESCE(?, reject_reason), updated_at = ?"
            " WHERE client_order_id = ?",
            (state, reject_reason, self._now(), client_order_id),
        )

    async def record_order(self, order: Order, *, state: str | None = None) -> None:
        """Remember the broker's view of an intent's order (monotonic filled_qty is enforced by the caller)."""
        closed = order.status.is_terminal
        await self._store.execute(
            "UPDATE execution_orders SET broker_order_id = ?, broker_status = ?, filled_qty = ?, filled_avg_price = ?,"
            " state = ?, submitted_at = COALESCE(submitted_at, ?), updated_at = ? WHERE client_order_id = ?",
            (
                order.id,
                order.status.value,
                str(order.filled_qty),
                _s(order.filled_avg_price),
                state or (IntentState.CLOSED if closed else IntentState.SENT),
                (order.submitted_at or order.created_at).isoformat(),
                self._now(),
                order.client_order_id,
            ),
        )

    async def orders_since(self, since: datetime) -> tuple[int, Decimal]:
        """(orders sent, notional filled) since ``since`` — for the daily caps. Ladder re-submissions count as
        orders; notional counts what actually traded, so a re-priced step is not counted twice."""
        count = await self._store.fetchval(
            "SELECT COUNT(*) FROM execution_orders WHERE submitted_at IS NOT NULL AND submitted_at >= ?",
            (since.isoformat(),),
        )
        rows = await self._store.fetchall(
            "SELECT qty, price FROM execution_fills WHERE recorded_at >= ?", (since.isoformat(),)
        )
        notional = sum((Decimal(r["qty"]) * Decimal(r["price"]) for r in rows), ZERO)
        return int(count or 0), notional

    # --------------------------------------------------------------------------------------------- events

    async def add_event(self, client_order_id: str, update: TradeUpdate) -> bool:
        """Append one order event; False if this exact event was already stored."""
        order_id, event, marker = update.dedupe_key
        result = await self._store.execute(
            "INSERT OR IGNORE INTO execution_order_events (client_order_id, broker_order_id, event, marker, status,"
            " filled_qty, synthetic, received_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                client_order_id,
                order_id,
                event,
                marker,
                update.order.status.value,
                str(update.order.filled_qty),
                int(update.synthetic),
                self._now(),
                json.dumps(update.to_alpaca(), sort_keys=True, default=str),
            ),
        )
        return result.rowcount == 1

    async def events_for(self, client_order_id: str) -> list[sqlite3.Row]:
        return await self._store.fetchall(
            "SELECT * FROM execution_order_events WHERE client_order_id = ? ORDER BY id", (client_order_id,)
        )

    # ---------------------------------------------------------------------------------------------- fills

    async def add_fill(self, fill: FillRecord) -> bool:
        result = await self._store.execute(
            "INSERT OR IGNORE INTO execution_fills (fill_key, client_order_id, broker_order_id, run_id, symbol, side,"
            " qty, price, cum_qty, filled_at, source, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fill.fill_key,
                fill.client_order_id,
                fill.broker_order_id,
                fill.run_id,
                fill.symbol,
                fill.side.value,
                str(fill.qty),
                str(fill.price),
                str(fill.cum_qty),
                fill.filled_at.isoformat() if fill.filled_at else None,
                fill.source,
                self._now(),
            ),
        )
        return result.rowcount == 1

    async def fills_for_run(self, run_id: str) -> list[FillRecord]:
        rows = await self._store.fetchall("SELECT * FROM execution_fills WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [_fill(row) for row in rows]

    async def fills_for_order(self, client_order_id: str) -> list[FillRecord]:
        rows = await self._store.fetchall(
            "SELECT * FROM execution_fills WHERE client_order_id = ? ORDER BY rowid", (client_order_id,)
        )
        return [_fill(row) for row in rows]

    async def all_fills(self) -> list[FillRecord]:
        rows = await self._store.fetchall("SELECT * FROM execution_fills ORDER BY rowid")
        return [_fill(row) for row in rows]

    async def symbols_traded_since(self, since: datetime) -> tuple[frozenset[str], frozenset[str]]:
        """(bought, sold) symbols with fills recorded since ``since`` — for the PDT guard."""
        rows = await self._store.fetchall(
            "SELECT DISTINCT symbol, side FROM execution_fills WHERE COALESCE(filled_at, recorded_at) >= ?",
            (since.isoformat(),),
        )
        bought = frozenset(r["symbol"] for r in rows if r["side"] == OrderSide.BUY.value)
        sold = frozenset(r["symbol"] for r in rows if r["side"] == OrderSide.SELL.value)
        return bought, sold

    # ---------------------------------------------------------------------------------------------- books

    async def save_books(
        self,
        holdings: Mapping[str, Mapping[str, tuple[Decimal, Decimal, Decimal]]],
        pending: Mapping[str, Mapping[str, Decimal]],
    ) -> None:
        """Replace the books: strategy → symbol → (qty, cost, realized P&L), plus pending deltas."""
        now = self._now()
        async with self._store.transaction():
            await self._store.execute("DELETE FROM strategy_books")
            await self._store.execute("DELETE FROM strategy_book_pending")
            crash_point("during_book_update")
            for strategy, symbols in holdings.items():
                for symbol, (qty, cost, realized) in symbols.items():
                    await self._store.execute(
                        "INSERT INTO strategy_books (strategy, symbol, qty, cost, realized_pnl, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (strategy, symbol, str(qty), str(cost), str(realized), now),
                    )
            for symbol, per in pending.items():
                for strategy, delta in per.items():
                    await self._store.execute(
                        "INSERT INTO strategy_book_pending (symbol, strategy, delta) VALUES (?, ?, ?)",
                        (symbol, strategy, str(delta)),
                    )

    async def load_books(
        self,
    ) -> tuple[dict[str, dict[str, tuple[Decimal, Decimal, Decimal]]], dict[str, dict[str, Decimal]]]:
        holdings: dict[str, dict[str, tuple[Decimal, Decimal, Decimal]]] = {}
        for row in await self._store.fetchall("SELECT * FROM strategy_books ORDER BY strategy, symbol"):
            holdings.setdefault(row["strategy"], {})[row["symbol"]] = (
                Decimal(row["qty"]),
                Decimal(row["cost"]),
                Decimal(row["realized_pnl"]),
            )
        pending: dict[str, dict[str, Decimal]] = {}
        for row in await self._store.fetchall("SELECT * FROM strategy_book_pending"):
            pending.setdefault(row["symbol"], {})[row["strategy"]] = Decimal(row["delta"])
        return holdings, pending

    # ------------------------------------------------------------------------------------- high-water mark

    async def high_water_mark(self) -> Decimal:
        value = await self._store.fetchval("SELECT equity FROM execution_high_water_mark WHERE id = 1")
        return ZERO if value is None else Decimal(value)

    async def raise_high_water_mark(self, equity: Decimal) -> Decimal:
        current = await self.high_water_mark()
        if equity > current:
            await self._store.execute(
                "INSERT INTO execution_high_water_mark (id, equity, updated_at) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET equity = excluded.equity, updated_at = excluded.updated_at",
                (str(equity), self._now()),
            )
            return equity
        return current


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        status=row["status"],
        mode=row["mode"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        finished_at=_dt(row["finished_at"]),
        plan=json.loads(row["plan_json"]),
        verdict=json.loads(row["verdict_json"]) if row["verdict_json"] else None,
        result=json.loads(row["result_json"]) if row["result_json"] else None,
        detail=row["detail"],
    )


def _intent(row: sqlite3.Row) -> IntentRecord:
    return IntentRecord(
        client_order_id=row["client_order_id"],
        run_id=row["run_id"],
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        step=int(row["step"]),
        order_type=OrderType(row["order_type"]),
        qty=Decimal(row["qty"]),
        limit_price=_dec(row["limit_price"]),
        reference_price=_dec(row["reference_price"]),
        state=row["state"],
        broker_order_id=row["broker_order_id"],
        broker_status=row["broker_status"],
        filled_qty=Decimal(row["filled_qty"]),
        filled_avg_price=_dec(row["filled_avg_price"]),
        reject_reason=row["reject_reason"],
        created_at=datetime.fromisoformat(row["created_at"]),
        submitted_at=_dt(row["submitted_at"]),
    )


def _fill(row: sqlite3.Row) -> FillRecord:
    return FillRecord(
        fill_key=row["fill_key"],
        client_order_id=row["client_order_id"],
        broker_order_id=row["broker_order_id"],
        run_id=row["run_id"],
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        qty=Decimal(row["qty"]),
        price=Decimal(row["price"]),
        cum_qty=Decimal(row["cum_qty"]),
        filled_at=_dt(row["filled_at"]),
        source=row["source"],
    )
