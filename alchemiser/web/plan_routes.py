"""HTTP routes of the plan board: ``GET /api/plan`` and ``POST /api/plan/approve``.

Both sit under ``/api/``, so the daemon's bearer-token middleware guards them with the *current* control token (a
SIGHUP rotation applies at once). ``POST /api/plan/approve`` takes an optional JSON body ``{"run_id": "...",
"approve": true|false}``; ``false`` rejects the plan.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from alchemiser.execution.approval import PlanBoard
from alchemiser.services import control
from alchemiser.store.operator_requests import OperatorRequests
from alchemiser.web.requests import client_of, error, json_body


def plan_routes(board: PlanBoard, requests: OperatorRequests | None = None) -> list[Route]:
    """``GET /api/plan`` and ``POST /api/plan/approve`` for ``board`` (answers recorded in ``requests``)."""

    async def get_plan(request: Request) -> JSONResponse:
        del request
        return JSONResponse(board.snapshot())

    async def approve(request: Request) -> JSONResponse:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        run_id = body.get("run_id")
        approve_flag = body.get("approve", True)
        if run_id is not None and not isinstance(run_id, str):
            return error(400, "run_id must be a string")
        if not isinstance(approve_flag, bool):
            return error(400, "approve must be true or false")
        by = f"api:{client_of(request)}"
        decided = await control.decide_plan(board, requests, approve=approve_flag, run_id=run_id, by=by)
        if decided is None:
            return JSONResponse({"error": "no plan is awaiting approval", "run_id": run_id}, status_code=409)
        return JSONResponse({"run_id": decided, "decision": "approved" if approve_flag else "rejected"})

    return [
        Route("/api/plan", get_plan, methods=["GET"]),
        Route("/api/plan/approve", approve, methods=["POST"]),
    ]
