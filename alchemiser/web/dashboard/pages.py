"""The read-only pages (Overview, Positions, Strategies, Decisions, Orders, Parity, Events, Controls), each from one
service call, answered as HTML or as its JSON twin."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from alchemiser.services.decisions import decision_detail, decision_history
from alchemiser.services.events import recent_events
from alchemiser.services.orders import FilterError, OrderFilter, orders_view
from alchemiser.services.overview import overview, pending_plan
from alchemiser.services.parity import parity_view
from alchemiser.services.positions import positions_view
from alchemiser.services.strategies import strategy_views
from alchemiser.web.dashboard.charts import curve_chart
from alchemiser.web.dashboard.deps import DashboardDeps
from alchemiser.web.dashboard.parity_chart import parity_chart
from alchemiser.web.dashboard.render import Renderer, wants_json

EVENT_CATEGORIES = ("fill", "order", "decision", "control", "warning", "system")


class Pages:
    def __init__(self, deps: DashboardDeps, renderer: Renderer) -> None:
        self._deps = deps
        self._render = renderer

    async def overview(self, request: Request) -> Response:
        d = self._deps
        data = await overview(d.sources, d.decisions, d.history)
        events = await recent_events(d.store, 8)
        return self._render.page(
            request, "overview.html", data, chart=curve_chart(data.curve), events=events, now=d.sources.now()
        )

    async def positions(self, request: Request) -> Response:
        data = await positions_view(self._deps.sources, self._deps.store)
        return self._render.page(request, "positions.html", data)

    async def strategies(self, request: Request) -> Response:
        sources = self._deps.sources
        data = await strategy_views(self._deps.store, sources.capital_weights(), sources.rebalance())
        return self._render.page(request, "strategies.html", data)

    async def decisions(self, request: Request) -> Response:
        data = await decision_history(self._deps.decisions, 250)
        return self._render.page(request, "decisions.html", data)

    async def decision(self, request: Request) -> Response:
        decision_id = str(request.path_params["decision_id"])
        data = await decision_detail(self._deps.decisions, self._deps.execution, decision_id)
        if data is None:
            return self._not_found(request, f"no decision with id {decision_id!r}")
        return self._render.page(request, "decision.html", data)

    async def orders(self, request: Request) -> Response:
        try:
            selection = OrderFilter.parse(dict(request.query_params))
        except FilterError as exc:
            if wants_json(request):
                return JSONResponse({"error": str(exc)}, status_code=400)
            return self._render.html(request, "error.html", 400, title="Orders", message=str(exc))
        data = await orders_view(self._deps.store, selection)
        return self._render.page(request, "orders.html", data)

    async def parity(self, request: Request) -> Response:
        data = await parity_view(self._deps.store)
        chart = parity_chart(data["sessions"], data["cumulative"])
        return self._render.page(request, "parity.html", data, chart=chart)

    async def events(self, request: Request) -> Response:
        category = request.query_params.get("category") or None
        if category is not None and category not in EVENT_CATEGORIES:
            message = f"category must be one of {', '.join(EVENT_CATEGORIES)}, got {category!r}"
            if wants_json(request):
                return JSONResponse({"error": message}, status_code=400)
            return self._render.html(request, "error.html", 400, title="Events", message=message)
        data = await recent_events(self._deps.store, 200, category_filter=category)
        return self._render.page(request, "events.html", data, categories=EVENT_CATEGORIES, category=category)

    async def controls(self, request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
        d = self._deps
        ready = await d.sources.readiness()
        data = {
            "kill_switch": d.sources.kill_switch(),
            "plan": pending_plan(d.sources.plan_board()),
            "decision_running": d.sources.decision_running(),
            "reconcile_problem": ready.failing.get("reconcile"),
            "can_rebalance": d.rebalance is not None,
            "can_accept": d.accept_positions is not None,
            "can_approve": d.plan_board is not None,
        }
        done = request.query_params.get("done")
        return self._render.page(
            request, "controls.html", data, status_code, error=error, done=DONE_MESSAGES.get(done or "")
        )

    def _not_found(self, request: Request, message: str) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=404)
        return self._render.html(request, "error.html", 404, title="Not found", message=message)


DONE_MESSAGES = {
    "kill": "Kill switch engaged.",
    "resume": "Kill switch cleared: trading resumes at the next decision.",
    "rebalance": "Rebalance started.",
    "approve": "Plan approved.",
    "reject": "Plan rejected.",
    "accept": "Broker positions accepted as the truth.",
}
