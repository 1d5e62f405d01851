"""The operator-request outbox (migration 0006): a state-changing request is stored before it is acknowledged.

A request is ``pending`` when accepted, ``running`` while carried out, and ends ``done``, ``failed`` or ``expired``
with an ``outcome`` saying what happened or why it was not carried out. Every transition is also written to the
audit journal (``operator_request.<status>``) in the same transaction, so the journal tells the whole story.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from alchemiser.clock import Clock
from alchemiser.store.audit import AuditLog
from alchemiser.store.database import Store

RequestKind = Literal["rebalance", "kill", "resume", "plan_approve", "plan_reject", "reconcile_accept"]
RequestStatus = Literal["pending", "running", "done", "failed", "expired"]
OPEN_STATUSES: tuple[RequestStatus, ...] = ("pending", "running")


@dataclass(frozen=True)
class OperatorRequest:
    request_id: str
    kind: RequestKind
    payload: dict[str, Any]
    requested_by: str
    requested_at: datetime
    run_id: str | None
    status: RequestStatus
    finished_at: datetime | None
    outcome: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "payload": self.payload,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "run_id": self.run_id,
            "status": self.status,
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "outcome": self.outcome,
        }


def new_request_id(kind: RequestKind, clock: Clock) -> str:
    """Sortable and unique: ``R20240306T154512123456-rebalance-1a2b3c``."""
    return f"R{clock.now():%Y%m%dT%H%M%S%f}-{kind}-{uuid.uuid4().hex[:6]}"


class OperatorRequests:
    """Record, advance and list operator requests; ``run_id`` is stamped on the requests this process accepts."""

    def __init__(self, store: Store, audit: AuditLog, clock: Clock, run_id: str | None = None) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self.run_id = run_id

    async def accept(
        self, kind: RequestKind, *, by: str, payload: Mapping[str, Any] | None = None, request_id: str | None = None
    ) -> OperatorRequest:
        """Store a new ``pending`` request (and its audit event) durably; returns it."""
        request_id = request_id or new_request_id(kind, self._clock)
        now = self._clock.now()
        body = dict(payload or {})
        async with self._store.transaction():
            await self._store.execute(
                "INSERT INTO operator_requests (request_id, kind, payload, requested_by, requested_at, run_id, status)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                (request_id, kind, json.dumps(body, default=str, sort_keys=True), by, now.isoformat(), self.run_id),
            )
            await self._audit.append(
                "operator_request.accepted", actor=by, data={"request_id": request_id, "kind": kind, "payload": body}
            )
        return OperatorRequest(request_id, kind, body, by, now, self.run_id, "pending", None, None)

    async def start(self, request_id: str) -> None:
        await self._store.execute(
            "UPDATE operator_requests SET status = 'running' WHERE request_id = ? AND status = 'pending'",
            (request_id,),
        )

    async def finish(self, request_id: str, status: RequestStatus, outcome: str) -> None:
        """Close a request as ``done``, ``failed`` or ``expired`` with what happened (audited)."""
        if status in OPEN_STATUSES:
            raise ValueError(f"finish() needs a final status, got {status!r}")
        async with self._store.transaction():
            await self._store.execute(
                "UPDATE operator_requests SET status = ?, finished_at = ?, outcome = ? WHERE request_id = ?",
                (status, self._clock.now().isoformat(), outcome, request_id),
            )
            await self._audit.append(f"operator_request.{status}", data={"request_id": request_id, "outcome": outcome})

    async def get(self, request_id: str) -> OperatorRequest | None:
        row = await self._store.fetchone("SELECT * FROM operator_requests WHERE request_id = ?", (request_id,))
        return None if row is None else _request(row)

    async def open_requests(self, kinds: tuple[RequestKind, ...] | None = None) -> list[OperatorRequest]:
        """Requests still ``pending`` or ``running`` (oldest first), optionally of some kinds only."""
        rows = await self._store.fetchall(
            "SELECT * FROM operator_requests WHERE status IN ('pending', 'running') ORDER BY requested_at, request_id"
        )
        found = [_request(row) for row in rows]
        return [r for r in found if kinds is None or r.kind in kinds]

    async def recent(self, limit: int = 10) -> list[OperatorRequest]:
        """Newest first."""
        rows = await self._store.fetchall(
            "SELECT * FROM operator_requests ORDER BY requested_at DESC, request_id DESC LIMIT ?", (limit,)
        )
        return [_request(row) for row in rows]

    async def status(self) -> dict[str, Any]:
        """The ``/status`` section: open requests and the latest ones with their outcomes."""
        return {
            "open": [r.as_json() for r in await self.open_requests()],
            "recent": [r.as_json() for r in await self.recent(10)],
        }


def _request(row: sqlite3.Row) -> OperatorRequest:
    return OperatorRequest(
        request_id=row["request_id"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        requested_by=row["requested_by"],
        requested_at=datetime.fromisoformat(row["requested_at"]),
        run_id=row["run_id"],
        status=row["status"],
        finished_at=None if row["finished_at"] is None else datetime.fromisoformat(row["finished_at"]),
        outcome=row["outcome"],
    )
