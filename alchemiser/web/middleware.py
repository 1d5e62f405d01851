"""ASGI middleware of the daemon's HTTP server: the ``/healthz`` fast path, the ``Host`` check, bearer-token auth on
``/api/``, and the marker that lets requests arriving over the owner-only local control socket through without a
token."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from alchemiser.web.requests import API_PREFIX, error

LOCAL_SOCKET_KEY = "alchemiser.local_socket"


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


class HostCheckMiddleware:
    """Answers 421 unless the ``Host`` header names this daemon (``http.host``, loopback, ``http.allowed_hosts``).

    A web page on a DNS-rebinding name resolves to this address but still sends its own name: without this check it
    could read ``/status`` (or the dashboard) from the operator's browser. Requests over the owner-only Unix control
    socket pass: no browser can open it, and a client there may name any host."""

    def __init__(self, app: ASGIApp, hosts: Callable[[], Collection[str]], log: Any) -> None:
        self.app = app
        self._hosts = hosts
        self._log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(LOCAL_SOCKET_KEY) is True:
            await self.app(scope, receive, send)
            return
        name = host_name(_header(scope, b"host"))
        if name in self._hosts():
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        self._log.warning(
            "http.host_rejected", host=name[:100], path=scope.get("path"), client=client[0] if client else None
        )
        response = error(421, "misdirected request: this host name is not configured (http.allowed_hosts)")
        await response(scope, receive, send)


def host_name(header: bytes | None) -> str:
    """The name of a ``Host`` header, lower case, without the port (``[::1]`` keeps its brackets); ``""`` if absent."""
    host = (header or b"").decode("latin-1").strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


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


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value)
    return None


def _bearer(scope: Scope) -> bytes | None:
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(b" ")
    if scheme.lower() == b"bearer" and token.strip():
        return token.strip()
    return None
