"""The operator's dashboard: server-rendered pages on the daemon's own HTTP port, live over SSE.

``Dashboard(deps).routes()`` gives the daemon's app its routes (``DaemonContext.add_route`` each):

* pages ``/``, ``/positions``, ``/strategies``, ``/decisions``, ``/decisions/{id}``, ``/orders``, ``/events``,
  ``/controls`` — a session is required (else a redirect to ``/login``); ``?format=json`` answers the JSON twin;
* the same data under ``/api/dashboard/…`` for API clients (bearer token, like every ``/api/`` path);
* ``/login`` (form, or the one-click ``?token=`` URL), ``POST /logout``, ``POST /controls/{action}``;
* ``/events/stream`` — Server-Sent Events for open pages;
* ``/static/…`` — the CSS and JS shipped in the package (no CDN, nothing fetched at run time).

Without a control token the dashboard is off and every page says how to turn it on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from alchemiser.store.dashboard_sessions import DashboardSessionRepository
from alchemiser.web.dashboard.actions import Actions
from alchemiser.web.dashboard.deps import DashboardDeps
from alchemiser.web.dashboard.live import EventHub, status_snapshot
from alchemiser.web.dashboard.pages import Pages
from alchemiser.web.dashboard.render import Renderer, wants_json
from alchemiser.web.dashboard.security import guarded
from alchemiser.web.dashboard.sessions import LoginThrottle, SessionStore

Endpoint = Callable[[Request], Awaitable[Response]]
PAGES = ("overview", "positions", "strategies", "decisions", "orders", "parity", "events", "controls")


class Dashboard:
    def __init__(self, deps: DashboardDeps, *, login_delay: float = 0.5) -> None:
        self.deps = deps
        # Sessions and login throttling run on wall time (the domain clock is accelerated in sim).
        lifetime = timedelta(hours=deps.http().session_hours)
        self.sessions = SessionStore(DashboardSessionRepository(deps.store), deps.token, _wall_now, lifetime)
        self.throttle = LoginThrottle(_wall_now, failure_delay=login_delay)
        self.renderer = Renderer({"mode": deps.mode, "version": deps.version}, lambda: status_snapshot(deps.sources))
        self.pages = Pages(deps, self.renderer)
        self.actions = Actions(deps, self.renderer, self.pages, self.sessions, self.throttle)
        self.hub = EventHub(deps.store, deps.sources)

    def _hosts(self) -> frozenset[str]:
        return self.deps.http().dashboard_hosts()

    def _page(self, endpoint: Endpoint) -> Endpoint:
        """Session required (the ``/api/dashboard`` twins are bearer-protected by the app instead)."""

        async def handler(request: Request) -> Response:
            if request.url.path.startswith("/api/"):
                return await endpoint(request)
            if not self.sessions.enabled:
                return self.renderer.html(request, "disabled.html", 403)
            session = await self.actions.session_of(request)
            if session is None:
                if wants_json(request):
                    return JSONResponse({"error": "log in first (session cookie) or use /api/dashboard"}, 401)
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            request.scope["dashboard_session"] = session
            return await endpoint(request)

        return guarded(handler, self._hosts)

    async def _stream(self, request: Request) -> Response:
        if await self.actions.session_of(request) is None:
            return JSONResponse({"error": "log in first"}, status_code=401)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(self.hub.stream(), media_type="text/event-stream", headers=headers)

    def routes(self) -> list[BaseRoute]:
        p, a = self.pages, self.actions
        views: dict[str, Endpoint] = {
            "overview": p.overview,
            "positions": p.positions,
            "strategies": p.strategies,
            "decisions": p.decisions,
            "orders": p.orders,
            "parity": p.parity,
            "events": p.events,
            "controls": p.controls,
        }
        routes: list[BaseRoute] = [Route("/", self._page(p.overview), methods=["GET"])]
        for name in PAGES[1:]:
            routes.append(Route(f"/{name}", self._page(views[name]), methods=["GET"]))
        for name in PAGES:
            routes.append(Route(f"/api/dashboard/{name}", self._page(views[name]), methods=["GET"]))
        routes += [
            Route("/decisions/{decision_id}", self._page(p.decision), methods=["GET"]),
            Route("/api/dashboard/decisions/{decision_id}", self._page(p.decision), methods=["GET"]),
            Route("/login", guarded(a.login_form, self._hosts), methods=["GET"]),
            Route("/login", guarded(a.login_submit, self._hosts), methods=["POST"]),
            Route("/logout", guarded(a.logout, self._hosts), methods=["POST"]),
            Route("/controls/{action}", guarded(a.control, self._hosts), methods=["POST"]),
            Route("/events/stream", guarded(self._stream, self._hosts), methods=["GET"]),
            Mount("/static", StaticFiles(packages=[("alchemiser.web", "static")]), name="static"),
        ]
        return routes

    async def close(self) -> None:
        await self.hub.close()


def _wall_now() -> datetime:
    return datetime.now(UTC)
