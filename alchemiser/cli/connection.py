"""How the operator commands reach a running daemon: its local control socket, else HTTP with the control token.

* ``--url`` or ``--token`` given → HTTP(S) to that URL (default ``http://<http.host>:<http.port>``) with the token.
* otherwise, when the daemon's control socket exists beside the configured store (``<store>.sock``) → over the
  socket, no token needed; a socket owned by another user or open to others is refused (exit 2), never used.
* otherwise → HTTP with ``control_token`` from the configuration (commands that change state need it).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from alchemiser.cli.daemon_client import DaemonClient
from alchemiser.config.control_access import load_control_access
from alchemiser.process.control_socket import check_private, socket_path

LOCAL_BASE_URL = "http://localhost"


@dataclass(frozen=True, slots=True)
class Connection:
    base_url: str
    token: str | None
    local_socket: str | None = None

    @property
    def authorised(self) -> bool:
        """Whether the daemon will accept state-changing requests (over the socket, or with a token)."""
        return self.local_socket is not None or bool(self.token)

    @property
    def where(self) -> str:
        return f"the control socket {self.local_socket}" if self.local_socket else self.base_url

    def client(self, timeout: float) -> DaemonClient:
        """Raises ``DaemonUnreachable`` for a URL that is not http(s)."""
        return DaemonClient(self.base_url, self.token, timeout, unix_socket=self.local_socket)


def connect(args: argparse.Namespace) -> Connection:
    """Pick the way to the daemon (see the module docstring); ``ConfigError`` for a bad config or foreign socket."""
    url: str | None = getattr(args, "url", None)
    token: str | None = getattr(args, "token", None)
    settings = load_control_access(args.config) if url is None or token is None else None
    if url is None and token is None and settings is not None:
        path = socket_path(settings.store_path)
        if path.exists() or path.is_symlink():
            check_private(path)
            return Connection(LOCAL_BASE_URL, None, str(path))
    if url is None and settings is not None:
        host = settings.host
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - connect, not bind
        host = f"[{host}]" if ":" in host else host
        url = f"http://{host}:{settings.port}"
    if token is None and settings is not None:
        token = settings.control_token
    return Connection((url or "").rstrip("/"), token)
