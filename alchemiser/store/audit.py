"""The append-only audit journal: every operator action and every consequential decision, in order.

The table refuses UPDATE and DELETE (triggers in ``0001_foundation.sql``). ``data`` is any JSON-able mapping;
Decimals and datetimes are written as strings.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alchemiser.clock import Clock
from alchemiser.store.database import Store


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    run_id: str | None
    kind: str
    actor: str
    decision_id: str | None
    order_id: str | None
    data: dict[str, Any]


class AuditLog:
    """Append and read audit events. ``run_id`` is stamped on every event this process writes."""

    def __init__(self, store: Store, clock: Clock, run_id: str | None = None) -> None:
        self._store = store
        self._clock = clock
        self.run_id = run_id

    async def append(
        self,
        kind: str,
        *,
        actor: str = "system",
        data: Mapping[str, Any] | None = None,
        decision_id: str | None = None,
        order_id: str | None = None,
    ) -> int:
        """Write one event (joins the caller's transaction if there is one); returns its id."""
        payload = json.dumps(dict(data or {}), default=str, sort_keys=True)
        result = await self._store.execute(
            "INSERT INTO audit_events (at, run_id, kind, actor, decision_id, order_id, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._clock.now().isoformat(), self.run_id, kind, actor, decision_id, order_id, payload),
        )
        return int(result.lastrowid or 0)

    async def recent(self, limit: int = 100, *, kind: str | None = None) -> list[AuditEvent]:
        """Newest first."""
        if kind is None:
            rows = await self._store.fetchall("SELECT * FROM audit_events ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = await self._store.fetchall(
                "SELECT * FROM audit_events WHERE kind = ? ORDER BY id DESC LIMIT ?", (kind, limit)
            )
        return [_event(row) for row in rows]

    async def for_decision(self, decision_id: str) -> list[AuditEvent]:
        rows = await self._store.fetchall(
            "SELECT * FROM audit_events WHERE decision_id = ? ORDER BY id", (decision_id,)
        )
        return [_event(row) for row in rows]


def _event(row: sqlite3.Row) -> AuditEvent:
    return AuditEvent(
        id=int(row["id"]),
        at=datetime.fromisoformat(row["at"]),
        run_id=row["run_id"],
        kind=row["kind"],
        actor=row["actor"],
        decision_id=row["decision_id"],
        order_id=row["order_id"],
        data=json.loads(row["data"]),
    )
