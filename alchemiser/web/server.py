"""The uvicorn server embedded in the daemon's event loop.

The socket is bound by us so a busy port is a clear :class:`ConfigError`, and uvicorn's own signal handling is
disabled — the daemon owns signals. With ``local_socket`` the same app is also served on an owner-only Unix socket
(``process/control_socket.py``) whose requests need no token (``middleware.LocalSocketMarker``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from alchemiser.errors import ConfigError
from alchemiser.logging import get_logger
from alchemiser.process import control_socket
from alchemiser.web.middleware import LocalSocketMarker


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

    def __init__(self, app: ASGIApp, host: str, port: int, *, local_socket: Path | None = None) -> None:
        self._app = app
        self.local_socket = local_socket
        self._local: _EmbeddedServer | None = None
        self._local_task: asyncio.Task[None] | None = None
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
        self._server, self._task = await self._serve(self._app, self._socket, startup_timeout)
        self._log.info("http.listening", url=self.url)
        if self.local_socket is not None:
            await self._start_local(self.local_socket, startup_timeout)

    async def _start_local(self, path: Path, startup_timeout: float) -> None:
        try:
            sock = control_socket.bind_private(path)
        except ConfigError as exc:
            self._log.error("http.local_socket_refused", problems=exc.problems)
            self.local_socket = None
            return
        self._local, self._local_task = await self._serve(LocalSocketMarker(self._app), sock, startup_timeout)
        self._log.info("http.local_socket", path=str(path))

    async def _serve(
        self, app: ASGIApp, sock: socket.socket, startup_timeout: float
    ) -> tuple[_EmbeddedServer, asyncio.Task[None]]:
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=5,
            ws="none",
            http="httptools",  # C parser: a fraction of h11's CPU per request (health checks, metrics scrapes)
        )
        server = _EmbeddedServer(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name="http")
        async with asyncio.timeout(startup_timeout):
            while not server.started:
                if task.done():
                    task.result()
                    raise ConfigError([f"http: server on {sock.getsockname()} stopped during startup"])
                await asyncio.sleep(0.005)
        return server, task

    async def stop(self, grace: float = 5.0) -> None:
        if self._local is not None and self._local_task is not None:
            await _stop_server(self._local, self._local_task, grace)
            self._local = self._local_task = None
        if self.local_socket is not None:
            control_socket.remove(self.local_socket)
        if self._server is None or self._task is None:
            return
        await _stop_server(self._server, self._task, grace)
        if self._socket is not None:
            self._socket.close()
        self._log.info("http.stopped")


async def _stop_server(server: _EmbeddedServer, task: asyncio.Task[None], grace: float) -> None:
    server.should_exit = True
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        server.force_exit = True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
