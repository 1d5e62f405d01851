"""A minimal client of a running daemon's HTTP API for the CLI (``status``, ``kill``, ``rebalance``, ...).

Built on the standard library's ``http.client`` rather than httpx for start-up time: importing httpx also imports
its own command-line tool (click, rich, pygments) and costs about 100 ms, a third of the budget of
``alchemiser status``. These calls are one JSON request at a time to the daemon's own address; nothing more is needed.

With ``unix_socket`` the requests go over the daemon's local control socket (``process/control_socket.py``) instead
of TCP; the URL then only supplies the path prefix.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class DaemonUnreachable(Exception):
    """No answer: connection refused or reset, timeout, a malformed response."""


@dataclass(frozen=True)
class Reply:
    status_code: int
    payload: Any
    """The JSON body, or the text when the body is not JSON."""

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def error_message(self) -> Any:
        return self.payload.get("error") if isinstance(self.payload, dict) else self.payload


class _UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over an ``AF_UNIX`` stream socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DaemonClient:
    """Requests to ``base_url`` with ``Authorization: Bearer <token>`` when a token is given."""

    def __init__(self, base_url: str, token: str | None, timeout: float, *, unix_socket: str | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DaemonUnreachable(f"not an http(s) URL: {base_url!r}")
        self._parts = parts
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._unix_socket = unix_socket
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> Reply:
        return self._request("GET", path, None, self._timeout)

    def post(self, path: str, body: dict[str, Any], *, timeout: float | None = None) -> Reply:
        return self._request("POST", path, json.dumps(body).encode(), timeout or self._timeout)

    def _request(self, method: str, path: str, body: bytes | None, timeout: float) -> Reply:
        connection: http.client.HTTPConnection
        if self._unix_socket is not None:
            connection = _UnixHTTPConnection(self._unix_socket, timeout)
        elif self._parts.scheme == "https":
            connection = http.client.HTTPSConnection(self._parts.hostname or "", self._parts.port, timeout=timeout)
        else:
            connection = http.client.HTTPConnection(self._parts.hostname or "", self._parts.port, timeout=timeout)
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, self._prefix + path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DaemonUnreachable(str(exc) or type(exc).__name__) from exc
        finally:
            connection.close()
        text = raw.decode("utf-8", errors="replace")
        try:
            payload: Any = json.loads(text)
        except json.JSONDecodeError:
            payload = text
        return Reply(response.status, payload)
