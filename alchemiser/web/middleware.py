"""ASGI middleware of the daemon's HTTP server: the ``/healthz`` fast path, bearer-token auth on ``/api/``, and the
marker that lets requests arriving over the owner-only local control socket through without a token."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from alchemiser.web.requests import API_PREFIX, error


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


LOCAL_SOCKET_KEY = "alchemiser.local_socket"


class LocalSocketMarker:
    """Wraps the app served on the Unix control socket: its requests are marked as local (no token needed).

    Only the socket's server is wrapped; a TCP request cannot set an ASGI scope key, so it cannot claim to be local.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, LOCAL_SOCKET_KEY: True, "client": ("local-socket", 0)}
        await self.app(scope, receive, send)


class BearerAuthMiddleware:
    """Requires ``Authorization: Bearer <control_token>`` on every ``/api/`` path; 403 when no token is configured."""

    def __init__(self, app: ASGIApp, token: Callable[[], SecretStr | None], log: Any) -> None:
        self.app = app
        self._token = token
        self._log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not str(scope.get("path", "")).startswith(API_PREFIX)
            or scope.get(LOCAL_SOCKET_KEY) is True
        ):
            await self.app(scope, receive, send)
            return
        configured = self._token()
        client = scope.get("client")
        where = {"path": scope.get("path"), "client": client[0] if client else None}
        if configured is None:
            response = error(403, "control API disabled: no control_token is configured")
        else:
            presented = _bearer(scope)
            expected = configured.get_secret_value().encode()
            if presented is None:
                self._log.warning("http.auth_missing", **where)
                response = error(401, "missing bearer token", auth=True)
            elif not hmac.compare_digest(presented, expected):
                self._log.warning("http.auth_rejected", **where)
                response = error(401, "invalid bearer token", auth=True)
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
