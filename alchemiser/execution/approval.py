"""Plan board, optional approval gate, and the HTTP routes ``GET /api/plan`` and ``POST /api/plan/approve``.

The routes are starlette ``Route`` objects for the daemon's HTTP server (``plan_routes(board, token)``). Approval
is token-protected (bearer token, constant-time comparison) and disabled (403) when no token is configured.
``POST /api/plan/approve`` takes an optional JSON body ``{"run_id": "...", "approve": true|false}``; ``false``
rejects the plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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
        """Hold until approved, rejected, or ``timeout_seconds`` of clock time pass."""
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

    def decide(self, approve: bool, *, run_id: str | None = None, by: str = "operator") -> str | None:
        """Approve or reject the pending plan; returns its run id, or None if nothing (matching) awaits approval."""
        pending = self._pending
        if pending is None or pending.decision is not None:
            return None
        if run_id is not None and run_id != pending.run_id:
            return None
        pending.decision = Decision.APPROVED if approve else Decision.REJECTED
        pending.by = by
        pending.event.set()
        return pending.run_id


def _authorised(request: Request, token: str | None) -> JSONResponse | None:
    if not token:
        return JSONResponse({"error": "control API disabled: no api token configured"}, status_code=403)
    header = request.headers.get("authorization", "")
    scheme, _, supplied = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(supplied.encode(), token.encode()):
        return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
    return None


def plan_routes(board: PlanBoard, token: str | None) -> list[Route]:
    """``GET /api/plan`` (read-only, open like /status) and ``POST /api/plan/approve`` (bearer token)."""

    async def get_plan(request: Request) -> JSONResponse:
        del request
        return JSONResponse(board.snapshot())

    async def approve(request: Request) -> JSONResponse:
        denied = _authorised(request, token)
        if denied is not None:
            return denied
        body: dict[str, Any] = {}
        raw = await request.body()
        if raw:
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError as exc:
                return JSONResponse({"error": f"body is not JSON: {exc.msg}"}, status_code=400)
            if not isinstance(parsed, dict):
                return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
            body = parsed
        run_id = body.get("run_id")
        approve_flag = body.get("approve", True)
        if run_id is not None and not isinstance(run_id, str):
            return JSONResponse({"error": "run_id must be a string"}, status_code=400)
        if not isinstance(approve_flag, bool):
            return JSONResponse({"error": "approve must be true or false"}, status_code=400)
        decided = board.decide(approve_flag, run_id=run_id, by="api")
        if decided is None:
            return JSONResponse({"error": "no plan is awaiting approval", "run_id": run_id}, status_code=409)
        return JSONResponse({"run_id": decided, "decision": "approved" if approve_flag else "rejected"})

    return [
        Route("/api/plan", get_plan, methods=["GET"]),
        Route("/api/plan/approve", approve, methods=["POST"]),
    ]
