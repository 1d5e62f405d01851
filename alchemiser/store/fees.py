"""Repository of migration 0011: the fees the broker charged (fee activities), per order where the activity says so.

Recorded with the other non-trade activities when reconciliation takes them into account
(``CorporateActionStore.record``); read by the parity monitor, which books an order's fees on that order and the
rest of a session's fees on the session.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from alchemiser.broker.activities import NonTradeActivity
from alchemiser.store.database import Store


@dataclass(frozen=True, slots=True)
class FeeRow:
    activity_id: str
    kind: str
    day: date
    amount: Decimal  # charged (> 0); a refund < 0
    symbol: str | None
    order_id: str | None
    description: str


def fee_rows(activities: Iterable[NonTradeActivity]) -> list[FeeRow]:
    """The fee activities among ``activities`` (a canceled one is no fee)."""
    return [
        FeeRow(a.id, kind, a.date, -a.net_amount, a.symbol, a.order_id, a.description)
        for a in activities
        if (kind := a.fee_kind) is not None and not a.canceled
    ]


class FeeStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, activities: Iterable[NonTradeActivity], recorded_at: str) -> int:
        """Keep every fee activity once (a second sight of the same activity is ignored)."""
        rows = [
            (f.activity_id, f.kind, f.day.isoformat(), str(f.amount), f.symbol, f.order_id, f.description, recorded_at)
            for f in fee_rows(activities)
        ]
        if not rows:
            return 0
        return await self._store.executemany(
            "INSERT OR IGNORE INTO fees (activity_id, kind, fee_date, amount, symbol, order_id, description,"
            " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    async def for_orders(self, order_ids: Iterable[str]) -> list[FeeRow]:
        """The fees that name one of ``order_ids`` (the broker's order ids), whatever their date."""
        wanted = sorted(set(order_ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = await self._store.fetchall(
            f"SELECT * FROM fees WHERE order_id IN ({marks}) ORDER BY activity_id",  # noqa: S608 - only ?s
            wanted,
        )
        return [_row(r) for r in rows]

    async def unmatched_on(self, day: date) -> list[FeeRow]:
        """The fees dated ``day`` that name no order of ours (none at all, or one alchemiser did not place)."""
        rows = await self._store.fetchall(
            "SELECT * FROM fees WHERE fee_date = ? AND (order_id IS NULL OR order_id NOT IN"
            " (SELECT broker_order_id FROM execution_orders WHERE broker_order_id IS NOT NULL)) ORDER BY activity_id",
            (day.isoformat(),),
        )
        return [_row(r) for r in rows]


def _row(r: sqlite3.Row) -> FeeRow:
    return FeeRow(
        activity_id=r["activity_id"],
        kind=r["kind"],
        day=date.fromisoformat(r["fee_date"]),
        amount=Decimal(r["amount"]),
        symbol=r["symbol"],
        order_id=r["order_id"],
        description=r["description"],
    )
