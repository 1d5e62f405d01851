"""Plan board and optional approval gate: the plan being executed, and the wait for an operator's verdict.

Served over HTTP by :mod:`alchemiser.web.plan_routes` (``GET /api/plan``, ``POST /api/plan/approve``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from alchemiser.clock import Clock


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"


@dataclass(slots=True)
class _Pending:
    run_id: str
    event: asyncio.Event = field(default_factory=asyncio.Event)
    decision: Decision | None = None
    by: str = ""


class PlanBoard:
    """What ``GET /api/plan`` shows: the next or current plan, its verdict, its status. Plus the approval gate."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.run_id: str | None = None
        self.status: str = "idle"
        self.plan: dict[str, Any] | None = None
        self.verdict: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.updated_at: datetime | None = None
        self._pending: _Pending | None = None
        self.decided_by: str | None = None  # who approved or rejected the last plan (for the audit journal)

    def show(
        self,
        run_id: str,
        status: str,
        *,
        plan: dict[str, Any] | None = None,
        verdict: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        if run_id != self.run_id:
            self.plan = self.verdict = self.result = None
        self.run_id = run_id
        self.status = status
        if plan is not None:
            self.plan = plan
        if verdict is not None:
            self.verdict = verdict
        if result is not None:
            self.result = result
        self.updated_at = self._clock.now()

    def snapshot(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "awaiting_approval": self._pending is not None and self._pending.decision is None,
            "plan": self.plan,
            "verdict": self.verdict,
            "result": self.result,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }

    async def await_approval(self, run_id: str, timeout_seconds: float) -> Decision:
        """Hold until approved, rejected, or ``timeout_seconds`` of clock time pass (``decided_by`` says who)."""
        self.decided_by = None
        pending = _Pending(run_id)
        self._pending = pending
        waiter = asyncio.ensure_future(pending.event.wait())
        sleeper = asyncio.ensure_future(self._clock.sleep(timeout_seconds))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, sleeper):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            self._pending = None
        return pending.decision or Decision.TIMED_OUT

    def awaiting(self, run_id: str | None = None) -> bool:
        """Whether a plan (with ``run_id``, when given) awaits an operator's verdict."""
        pending = self._pending
        return pending is not None and pending.decision is None and (run_id is None or run_id == pending.run_id)

    def decide(self, approve: bool, *, run_id: str | None = None, by: str = "operator") -> str | None:
        """Approve or reject the pending plan; returns its run id, or None if nothing (matching) awaits approval."""
        pending = self._pending
        if pending is None or pending.decision is not None:
            return None
        if run_id is not None and run_id != pending.run_id:
            return None
        pending.decision = Decision.APPROVED if approve else Decision.REJECTED
        pending.by = by
        self.decided_by = by
        pending.event.set()
        return pending.run_id
