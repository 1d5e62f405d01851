"""The uvicorn server embedded in the daemon's event loop.

The socket is bound by us so a busy port is a clear :class:`ConfigError`, and uvicorn's own signal handling is
disabled — the daemon owns signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn
from starlette.types import ASGIApp

from alchemiser.errors import ConfigError
from alchemiser.logging import get_logger


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
