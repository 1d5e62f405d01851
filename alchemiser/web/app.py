"""The daemon's HTTP app: health, readiness, metrics, status and the token-protected control API.

Served by :class:`alchemiser.web.server.HttpServer` inside the daemon's own event loop. The endpoints read through
:mod:`alchemiser.services`, the layer the dashboard and the CLI share.

Endpoints:

* ``GET /healthz`` — liveness: 200 ``ok`` while the loop answers and the supervisor's heartbeats are fresh, else
  503 with the reason. Tiny, no auth (for uptime monitors and Docker/systemd health checks).
* ``GET /readyz`` — 200 only when every readiness condition holds, else 503 with the failing ones (JSON).
* ``GET /metrics`` — Prometheus text format.
* ``GET /status`` — JSON: mode, version, run id, uptime, actors, kill switch, readiness, next decision, plus one
  section per registered status provider.
* ``POST /api/kill`` / ``POST /api/resume`` — latch / clear the kill switch (JSON body ``{"reason": ..., "action":
  "freeze|cancel|flatten"}``, both optional). ``resume`` answers ``"changed": false`` (and changes nothing) when
  the switch was not engaged.

Every request but ``/healthz`` must name this daemon in its ``Host`` header (else 421: DNS rebinding). Every path
under ``/api/`` — including routes other components add — requires ``Authorization: Bearer <token>``
(compared with ``hmac.compare_digest``). With no ``control_token`` configured the whole control API answers 403
"disabled": it is never open. Other components extend the server without editing this module::

    app = build_app(view, routes=[Route("/api/plan", plan_endpoint, methods=["GET"])])
    view.status_providers["execution"] = execution.status   # sync or async, returns JSON-able data
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from alchemiser.errors import ConfigError
from alchemiser.logging import get_logger
from alchemiser.services import control
from alchemiser.services.daemon_view import DaemonView
from alchemiser.services.status import liveness, status_snapshot
from alchemiser.web.middleware import BearerAuthMiddleware, HealthFastPath, HostCheckMiddleware
from alchemiser.web.requests import BodyError, client_of, error, json_body, reason_field


def build_app(view: DaemonView, routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI app: built-in endpoints plus ``routes`` (paths under ``/api/`` are token-protected)."""
    log = get_logger("http")

    def health() -> tuple[int, str]:
        return liveness(view)

    async def healthz(request: Request) -> Response:
        code, text = health()
        return PlainTextResponse(text, status_code=code)

    async def readyz(request: Request) -> Response:
        report = await view.readiness.evaluate()
        view.metrics.ready.set(1 if report.ready else 0)
        return JSONResponse(report.as_json(), status_code=200 if report.ready else 503)

    async def metrics(request: Request) -> Response:
        view.metrics.kill_switch.set(1 if view.kill_switch.engaged else 0)
        body, content_type = view.metrics.render()
        return Response(body, media_type=content_type)

    async def status(request: Request) -> Response:
        return JSONResponse(await status_snapshot(view))

    async def kill(request: Request) -> Response:
        payload = await json_body(request)
        if isinstance(payload, Response):
            return payload
        try:
            action = control.kill_action_field(payload, view)
            reason = reason_field(payload, "operator request via HTTP API")
        except ConfigError as exc:
            return error(400, "; ".join(exc.problems))
        except BodyError as exc:
            return error(400, str(exc))
        state = await control.engage_kill(view, reason=reason, by=f"http:{client_of(request)}", action=action)
        return JSONResponse({"kill_switch": state.as_json()})

    async def resume(request: Request) -> Response:
        payload = await json_body(request)
        if isinstance(payload, Response):
            return payload
        try:
            reason = reason_field(payload, "operator resume via HTTP API")
        except BodyError as exc:
            return error(400, str(exc))
        state, changed = await control.resume(view, reason=reason, by=f"http:{client_of(request)}")
        body = {"kill_switch": state.as_json(), "changed": changed}
        return JSONResponse(body if changed else body | {"message": "the kill switch was not engaged"})

    builtin: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/status", status, methods=["GET"]),
        Route("/api/kill", kill, methods=["POST"]),
        Route("/api/resume", resume, methods=["POST"]),
    ]
    app = Starlette(routes=[*builtin, *routes])
    app.add_middleware(BearerAuthMiddleware, token=view.control_token, log=log)
    app.add_middleware(HostCheckMiddleware, hosts=view.accepted_hosts, log=log)
    app.add_middleware(HealthFastPath, health=health)  # outermost: before auth, routing and request objects
    return app
