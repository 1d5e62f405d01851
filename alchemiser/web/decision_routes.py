"""Operator HTTP routes of the decision side (all under ``/api/``, so the daemon requires the control token):

* ``GET /api/decisions?limit=N`` — recent decisions (no traces);
* ``GET /api/decisions/last`` — the most recent decision that was not skipped, with traces;
* ``GET /api/decisions/{id}`` — one decision with every strategy's allocation, trace or fail-closed reason;
* ``POST /api/rebalance`` — run a decision cycle now (``{"wait_seconds": 0..600}``: how long to wait for the
  outcome; 202 with the decision id if it is still running). Stored in the operator-request outbox before the
  answer, so a crash cannot lose it (:mod:`alchemiser.trading.manual_rebalance`). Subject to every risk rule and to
  the session being open (the cycle's gate); 409 while another decision runs (exactly one of concurrent requests
  is accepted);
* ``POST /api/reconcile/accept`` — the operator accepts the broker's positions as the truth after a reconciliation
  mismatch (``{"reason": "..."}``), which makes the daemon ready again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError
from alchemiser.logging import get_logger
from alchemiser.services.controls import ControlError
from alchemiser.store.decisions import DecisionStore
from alchemiser.store.operator_requests import OperatorRequests
from alchemiser.trading.decision import DecisionCycle
from alchemiser.trading.decision_ports import DecisionOutcome
from alchemiser.trading.manual_rebalance import ManualRebalance, RebalanceRefused
from alchemiser.trading.reconcile import Reconciler
from alchemiser.trading.schedule import TradingCalendar
from alchemiser.web.requests import BodyError, client_of, error, json_body, reason_field

log = get_logger("decision_api")
MAX_WAIT_SECONDS = 600.0


def outcome_json(outcome: DecisionOutcome) -> dict[str, Any]:
    return {
        "decision_id": outcome.decision_id,
        "status": outcome.status,
        "reason": outcome.reason,
        "already_decided": outcome.already_decided,
        "strategies": [s.to_json() | {"trace": None} for s in outcome.strategies],
        "execution": None
        if outcome.execution is None
        else {"status": outcome.execution.status, "ok": outcome.execution.ok, "detail": outcome.execution.detail},
    }


class DecisionApi:
    def __init__(
        self,
        *,
        cycle: DecisionCycle,
        decisions: DecisionStore,
        calendar: TradingCalendar,
        clock: Clock,
        reconciler: Reconciler | None = None,
        on_accepted: Callable[[], None] | None = None,
        requests: OperatorRequests | None = None,
    ) -> None:
        self._cycle = cycle
        self._decisions = decisions
        self._calendar = calendar
        self._clock = clock
        self._reconciler = reconciler
        self._on_accepted = on_accepted
        self._requests = requests
        self._manual = ManualRebalance(
            cycle=cycle, decisions=decisions, calendar=calendar, clock=clock, requests=requests
        )

    @property
    def manual(self) -> ManualRebalance:
        return self._manual

    def routes(self) -> list[Route]:
        return [
            Route("/api/decisions", self.list_decisions, methods=["GET"]),
            Route("/api/decisions/last", self.last_decision, methods=["GET"]),
            Route("/api/decisions/{decision_id}", self.get_decision, methods=["GET"]),
            Route("/api/rebalance", self.rebalance, methods=["POST"]),
            Route("/api/reconcile/accept", self.accept, methods=["POST"]),
        ]

    async def list_decisions(self, request: Request) -> JSONResponse:
        try:
            limit = max(1, min(500, int(request.query_params.get("limit", "20"))))
        except ValueError:
            return error(400, "limit must be an integer")
        records = await self._decisions.latest(limit)
        return JSONResponse({"decisions": [r.to_json(with_traces=False) for r in records]})

    async def last_decision(self, request: Request) -> JSONResponse:
        record = await self._decisions.last()
        if record is None:
            return error(404, "no decision has been made yet")
        return JSONResponse(record.to_json())

    async def get_decision(self, request: Request) -> JSONResponse:
        decision_id = str(request.path_params["decision_id"])
        record = await self._decisions.get(decision_id)
        if record is None:
            return error(404, f"no decision with id {decision_id!r}")
        return JSONResponse(record.to_json())

    async def rebalance(self, request: Request) -> JSONResponse:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        wait = body.get("wait_seconds", 0)
        if isinstance(wait, bool) or not isinstance(wait, int | float):
            return error(400, "wait_seconds must be a number")
        try:
            code, result = await self.request_rebalance(by=f"api:{client_of(request)}", wait=wait)
        except ControlError as exc:
            return error(exc.status, exc.message)
        return JSONResponse(result, status_code=code)

    async def request_rebalance(self, *, by: str, wait: float = 0.0) -> tuple[int, dict[str, Any]]:
        """Start a manual decision now (shared by ``POST /api/rebalance`` and the dashboard): ``(200, outcome)`` if
        it finished within ``wait`` seconds, else ``(202, {"decision_id", "status": "running"})``. ``ControlError``
        when the market is closed, a decision is already running, or ``wait`` is out of range."""
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise ControlError(400, f"wait_seconds must be within [0, {MAX_WAIT_SECONDS:.0f}]")
        try:
            decision_id, task = await self._manual.request(by=by)
        except RebalanceRefused as exc:
            raise ControlError(409, str(exc)) from exc
        except AlchemiserError as exc:
            log.error("rebalance_not_accepted", error=f"{type(exc).__name__}: {exc}")
            raise ControlError(503, "the rebalance could not be recorded (the store is failing); nothing runs") from exc
        done, _ = await asyncio.wait({task}, timeout=wait) if wait > 0 else (set(), set())
        if task in done and not task.cancelled() and task.exception() is None:
            return 200, outcome_json(task.result())
        if task in done:  # logged by the rebalance itself; no raw error text in the answer
            raise ControlError(503, f"rebalance {decision_id} failed; see the daemon log and /status operator_requests")
        return 202, {"decision_id": decision_id, "status": "running"}

    async def accept(self, request: Request) -> JSONResponse:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            reason = reason_field(body, "accepted by operator")
        except BodyError as exc:
            return error(400, str(exc))
        try:
            report = await self.accept_positions(by=f"api:{client_of(request)}", reason=reason)
        except ControlError as exc:
            return error(exc.status, exc.message)
        return JSONResponse(report)

    async def accept_positions(self, *, by: str, reason: object) -> dict[str, Any]:
        """Accept the broker's positions as the truth (shared by the API and the dashboard; the reconciler audits
        ``by`` and the reason; the request is in the outbox first)."""
        if self._reconciler is None:
            raise ControlError(404, "reconciliation is not configured")
        text = (str(reason).strip() if reason else "") or "accepted by operator"
        outbox = None
        if self._requests is not None:
            outbox = await self._requests.accept("reconcile_accept", by=by, payload={"reason": text})
        report = await self._reconciler.accept(by=by, reason=text)
        if self._on_accepted is not None:
            self._on_accepted()
        if self._requests is not None and outbox is not None:
            await self._requests.finish(outbox.request_id, "done", f"broker positions accepted: {report.baseline}")
        return report.to_json()

    async def close(self) -> None:
        await self._manual.close()
