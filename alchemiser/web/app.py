"""The daemon's HTTP server: health, readiness, metrics, status and the token-protected control API.

Served by uvicorn (httptools parser) inside the daemon's own event loop (:class:`HttpServer`; the socket is bound by
us so a busy port is a clear error, and uvicorn's own signal handling is disabled — the daemon owns signals).

Endpoints:

* ``GET /healthz`` — liveness: 200 ``ok`` while the loop answers and the supervisor's heartbeats are fresh, else
  503 with the reason. Tiny, no auth (for uptime monitors and Docker/systemd health checks).
* ``GET /readyz`` — 200 only when every readiness condition holds, else 503 with the failing ones (JSON).
* ``GET /metrics`` — Prometheus text format.
* ``GET /status`` — JSON: mode, version, run id, uptime, actors, kill switch, readiness, next decision, plus one
  section per registered status provider.
* ``POST /api/kill`` / ``POST /api/resume`` — latch / clear the kill switch (JSON body ``{"reason": ..., "action":
  "freeze|cancel|flatten"}``, both optional).

Every path under ``/api/`` — including routes other components add — requires ``Authorization: Bearer <token>``
(compared with ``hmac.compare_digest``). With no ``control_token`` configured the whole control API answers 403
"disabled": it is never open. Other components extend the server without editing this module::

    app = build_app(deps, routes=[Route("/api/plan", plan_endpoint, methods=["GET"])])
    deps.status_providers["execution"] = execution.status   # sync or async, returns JSON-able data
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from alchemiser.clock import Clock
from alchemiser.errors import ConfigError
from alchemiser.logging import get_logger
from alchemiser.process.metrics import Metrics
from alchemiser.process.readiness import Check, Readiness
from alchemiser.process.supervisor import Supervisor
from alchemiser.store.kill_switch import KillAction, KillSwitch

StatusProvider = Callable[[], Any | Awaitable[Any]]
API_PREFIX = "/api/"
_MAX_BODY = 16_384
_KILL_ACTIONS: tuple[KillAction, ...] = ("freeze", "cancel", "flatten")


@dataclass
class HttpDeps:
    """Everything the built-in endpoints read. ``control_token`` is a callable so a SIGHUP rotation applies at once."""

    mode: str
    version: str
    run_id: str
    started_at: datetime
    runtime_clock: Clock
    domain_clock: Clock
    readiness: Readiness
    metrics: Metrics
    supervisor: Supervisor
    kill_switch: KillSwitch
    control_token: Callable[[], SecretStr | None]
    default_kill_action: Callable[[], KillAction]
    status_providers: dict[str, StatusProvider] = field(default_factory=dict)
    liveness: list[Callable[[], Check]] = field(default_factory=list)


def build_app(deps: HttpDeps, routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI app: built-in endpoints plus ``routes`` (paths under ``/api/`` are token-protected)."""
    log = get_logger("http")

    def health() -> tuple[int, str]:
        checks = [deps.supervisor.liveness(), *(probe() for probe in deps.liveness)]
        failing = [c.reason for c in checks if not c.ok]
        if failing:
            return 503, "unhealthy: " + "; ".join(failing) + "\n"
        return 200, "ok\n"

    async def healthz(request: Request) -> Response:
        code, text = health()
        return PlainTextResponse(text, status_code=code)

    async def readyz(request: Request) -> Response:
        report = await deps.readiness.evaluate()
        deps.metrics.ready.set(1 if report.ready else 0)
        return JSONResponse(report.as_json(), status_code=200 if report.ready else 503)

    async def metrics(request: Request) -> Response:
        deps.metrics.kill_switch.set(1 if deps.kill_switch.engaged else 0)
        body, content_type = deps.metrics.render()
        return Response(body, media_type=content_type)

    async def status(request: Request) -> Response:
        now = deps.runtime_clock.now()
        report = await deps.readiness.evaluate()
        body: dict[str, Any] = {
            "mode": deps.mode,
            "version": deps.version,
            "run_id": deps.run_id,
            "started_at": deps.started_at.isoformat(),
            "uptime_seconds": round((now - deps.started_at).total_seconds(), 3),
            "now": deps.domain_clock.now().isoformat(),
            "ready": report.ready,
            "readiness": report.failing,
            "kill_switch": deps.kill_switch.state.as_json(),
            "actors": [s.as_json() for s in deps.supervisor.statuses()],
            "next_decision": None,
        }
        for name, provider in list(deps.status_providers.items()):
            body[name] = await _provide(provider)
        return JSONResponse(_jsonable(body))

    async def kill(request: Request) -> Response:
        payload = await _json_body(request)
        if isinstance(payload, Response):
            return payload
        reason = str(payload.get("reason") or "operator request via HTTP API")
        action = payload.get("action") or deps.default_kill_action()
        if action not in _KILL_ACTIONS:
            return _error(400, f"action must be one of {', '.join(_KILL_ACTIONS)}, got {action!r}")
        state = await deps.kill_switch.engage(
            reason=reason, by=f"http:{_client(request)}", action=cast(KillAction, action)
        )
        deps.metrics.kill_switch.set(1)
        return JSONResponse({"kill_switch": state.as_json()})

    async def resume(request: Request) -> Response:
        payload = await _json_body(request)
        if isinstance(payload, Response):
            return payload
        reason = str(payload.get("reason") or "operator resume via HTTP API")
        state = await deps.kill_switch.resume(reason=reason, by=f"http:{_client(request)}")
        deps.metrics.kill_switch.set(0)
        return JSONResponse({"kill_switch": state.as_json()})

    builtin: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/status", status, methods=["GET"]),
        Route("/api/kill", kill, methods=["POST"]),
        Route("/api/resume", resume, methods=["POST"]),
    ]
    app = Starlette(routes=[*builtin, *routes])
    app.add_middleware(BearerAuthMiddleware, token=deps.control_token, log=log)
    app.add_middleware(HealthFastPath, health=health)  # outermost: before auth, routing and request objects
    return app


class HealthFastPath:
    """Answers ``GET``/``HEAD /healthz`` before Starlette's routing, exception handling and request objects.

    Uptime monitors and orchestrators poll it hard, and it must stay cheap when the host is busy; the answer is the
    ``/healthz`` route's (same status, body and content type)."""

    def __init__(self, app: ASGIApp, health: Callable[[], tuple[int, str]]) -> None:
        self.app = app
        self._health = health

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != "/healthz" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        status, text = self._health()
        body = text.encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class BearerAuthMiddleware:
    """Requires ``Authorization: Bearer <control_token>`` on every ``/api/`` path; 403 when no token is configured."""

    def __init__(self, app: ASGIApp, token: Callable[[], SecretStr | None], log: Any) -> None:
        self.app = app
        self._token = token
        self._log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        configured = self._token()
        client = scope.get("client")
        where = {"path": scope.get("path"), "client": client[0] if client else None}
        if configured is None:
            response = _error(403, "control API disabled: no control_token is configured")
        else:
            presented = _bearer(scope)
            expected = configured.get_secret_value().encode()
            if presented is None:
                self._log.warning("http.auth_missing", **where)
                response = _error(401, "missing bearer token", auth=True)
            elif not hmac.compare_digest(presented, expected):
                self._log.warning("http.auth_rejected", **where)
                response = _error(401, "invalid bearer token", auth=True)
            else:
                await self.app(scope, receive, send)
                return
        await response(scope, receive, send)


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = bytes(value).partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            return None
    return None


def _error(status: int, message: str, *, auth: bool = False) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="alchemiser"'} if auth else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _json_body(request: Request) -> dict[str, Any] | Response:
    body = await request.body()
    if len(body) > _MAX_BODY:
        return _error(413, "request body too large")
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _error(400, f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return _error(400, "body must be a JSON object")
    return payload


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _provide(provider: StatusProvider) -> Any:
    result = provider()
    if inspect.isawaitable(result):
        result = await result
    return result


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the daemon decides what SIGTERM/SIGINT mean."""

    def capture_signals(self) -> contextlib.nullcontext[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves (port 0 picks a free port); a busy port is a ``ConfigError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError([f"http.port: cannot listen on {host}:{port}: {exc.strerror or exc}"]) from exc
    sock.listen(512)
    sock.setblocking(False)
    return sock


class HttpServer:
    """Run ``app`` with uvicorn in the current event loop."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self._app = app
        self.host = host
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._log = get_logger("http")

    @property
    def port(self) -> int:
        if self._socket is None:
            return self._requested_port
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104 - mapping, not binding
        return f"http://{host}:{self.port}"

    async def start(self, startup_timeout: float = 10.0) -> None:
        self._socket = bind_socket(self.host, self._requested_port)
        config = uvicorn.Config(
            self._app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=5,
            ws="none",
            http="httptools",  # C parser: a fraction of h11's CPU per request (health checks, metrics scrapes)
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._socket]), name="http")
        async with asyncio.timeout(startup_timeout):
            while not self._server.started:
                if self._task.done():
                    self._task.result()
                    raise ConfigError([f"http: server on {self.host}:{self.port} stopped during startup"])
                await asyncio.sleep(0.005)
        self._log.info("http.listening", url=self.url)

    async def stop(self, grace: float = 5.0) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._server.force_exit = True
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._socket is not None:
            self._socket.close()
        self._log.info("http.stopped")


__all__ = [
    "API_PREFIX",
    "BearerAuthMiddleware",
    "HealthFastPath",
    "HttpDeps",
    "HttpServer",
    "StatusProvider",
    "bind_socket",
    "build_app",
]
