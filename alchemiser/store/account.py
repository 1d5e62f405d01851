"""Account history: snapshots of the broker account as the daemon saw it (schema in ``0005_account_snapshots.sql``).

A snapshot is taken after every decision, at each session close and at start (``kind``). Nothing is ever
backfilled: the equity curve shows exactly the moments the daemon observed. A session's close is recorded once
(a unique index); recording it again is a no-op that returns ``False``.

Build one from the broker's models with :func:`snapshot_of` (pure) and store it with :meth:`AccountHistory.record`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from alchemiser.broker.models import Account, Position
from alchemiser.clock import ensure_utc
from alchemiser.errors import StoreError
from alchemiser.store.database import Store

SnapshotKind = Literal["after_decision", "session_close", "start"]
SNAPSHOT_KINDS: tuple[SnapshotKind, ...] = ("after_decision", "session_close", "start")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """One position inside a snapshot (price and value as the broker marked them then)."""

    qty: Decimal
    price: Decimal | None
    value: Decimal

    def to_json(self) -> dict[str, str | None]:
        return {
            "qty": format(self.qty, "f"),
            "price": None if self.price is None else format(self.price, "f"),
            "value": format(self.value, "f"),
        }


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    taken_at: datetime
    kind: SnapshotKind
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    positions_value: Decimal
    positions: Mapping[str, HeldPosition] = field(default_factory=dict)
    session: date | None = None
    decision_id: str | None = None
    run_id: str | None = None
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "taken_at": self.taken_at.isoformat(),
            "kind": self.kind,
            "session": None if self.session is None else self.session.isoformat(),
            "decision_id": self.decision_id,
            "run_id": self.run_id,
            "equity": format(self.equity, "f"),
            "cash": format(self.cash, "f"),
            "buying_power": format(self.buying_power, "f"),
            "positions_value": format(self.positions_value, "f"),
            "positions": {s: p.to_json() for s, p in sorted(self.positions.items())},
        }


def snapshot_of(
    account: Account,
    positions: Iterable[Position],
    *,
    kind: SnapshotKind,
    at: datetime,
    session: date | None = None,
    decision_id: str | None = None,
    run_id: str | None = None,
) -> AccountSnapshot:
    """A snapshot from the broker's account and positions (a position without a market value counts at cost)."""
    if kind not in SNAPSHOT_KINDS:
        raise ValueError(f"snapshot kind must be one of {', '.join(SNAPSHOT_KINDS)}, got {kind!r}")
    held: dict[str, HeldPosition] = {}
    for p in positions:
        value = p.market_value if p.market_value is not None else (p.cost_basis or p.qty * p.avg_entry_price)
        held[p.symbol] = HeldPosition(qty=p.qty, price=p.current_price, value=value)
    return AccountSnapshot(
        taken_at=ensure_utc(at),
        kind=kind,
        equity=account.equity,
        cash=account.cash,
        buying_power=account.buying_power,
        positions_value=sum((h.value for h in held.values()), ZERO),
        positions=held,
        session=session,
        decision_id=decision_id,
        run_id=run_id,
    )


class AccountHistory:
    """Writes and reads account snapshots through the shared ``Store``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, snapshot: AccountSnapshot) -> bool:
        """Store ``snapshot``; ``False`` when it is a session close already recorded for that session."""
        if snapshot.kind == "session_close" and snapshot.session is None:
            raise StoreError("a session_close snapshot needs its session date")
        positions = json.dumps({s: p.to_json() for s, p in snapshot.positions.items()}, sort_keys=True)
        result = await self._store.execute(
            "INSERT OR IGNORE INTO account_snapshots (taken_at, kind, session, decision_id, run_id, equity, cash,"
            " buying_power, positions_value, positions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ensure_utc(snapshot.taken_at).isoformat(),
                snapshot.kind,
                None if snapshot.session is None else snapshot.session.isoformat(),
                snapshot.decision_id,
                snapshot.run_id,
                format(snapshot.equity, "f"),
                format(snapshot.cash, "f"),
                format(snapshot.buying_power, "f"),
                format(snapshot.positions_value, "f"),
                positions,
            ),
        )
        return result.rowcount == 1

    async def has_session_close(self, session: date) -> bool:
        row = await self._store.fetchone(
            "SELECT 1 FROM account_snapshots WHERE kind = 'session_close' AND session = ?", (session.isoformat(),)
        )
        return row is not None

    async def latest(self) -> AccountSnapshot | None:
        rows = await self._store.fetchall(f"{_SELECT} ORDER BY taken_at DESC, id DESC LIMIT 1")
        return _snapshot(rows[0]) if rows else None

    async def latest_before(self, at: datetime) -> AccountSnapshot | None:
        """The last snapshot taken strictly before ``at`` (the account as a decision found it)."""
        rows = await self._store.fetchall(
            f"{_SELECT} WHERE taken_at < ? ORDER BY taken_at DESC, id DESC LIMIT 1", (ensure_utc(at).isoformat(),)
        )
        return _snapshot(rows[0]) if rows else None

    async def session_close(self, session: date) -> AccountSnapshot | None:
        rows = await self._store.fetchall(
            f"{_SELECT} WHERE kind = 'session_close' AND session = ? LIMIT 1", (session.isoformat(),)
        )
        return _snapshot(rows[0]) if rows else None

    async def history(self, *, since: datetime | None = None, limit: int = 5000) -> list[AccountSnapshot]:
        """Snapshots in time order (oldest first), at most the newest ``limit``."""
        if since is None:
            rows = await self._store.fetchall(f"{_SELECT} ORDER BY taken_at DESC, id DESC LIMIT ?", (limit,))
        else:
            rows = await self._store.fetchall(
                f"{_SELECT} WHERE taken_at >= ? ORDER BY taken_at DESC, id DESC LIMIT ?",
                (ensure_utc(since).isoformat(), limit),
            )
        return [_snapshot(r) for r in reversed(rows)]

    async def count(self) -> int:
        return int(await self._store.fetchval("SELECT COUNT(*) FROM account_snapshots") or 0)


_SELECT = (
    "SELECT id, taken_at, kind, session, decision_id, run_id, equity, cash, buying_power, positions_value, positions"
    " FROM account_snapshots"
)


def _snapshot(row: sqlite3.Row) -> AccountSnapshot:
    positions = {
        symbol: HeldPosition(
            qty=Decimal(p["qty"]),
            price=None if p.get("price") is None else Decimal(p["price"]),
            value=Decimal(p["value"]),
        )
        for symbol, p in json.loads(row["positions"]).items()
    }
    return AccountSnapshot(
        id=int(row["id"]),
        taken_at=datetime.fromisoformat(row["taken_at"]),
        kind=row["kind"],
        session=None if row["session"] is None else date.fromisoformat(row["session"]),
        decision_id=row["decision_id"],
        run_id=row["run_id"],
        equity=Decimal(row["equity"]),
        cash=Decimal(row["cash"]),
        buying_power=Decimal(row["buying_power"]),
        positions_value=Decimal(row["positions_value"]),
        positions=positions,
    )
