"""The protocol face: Alpaca's trading REST, market-data REST and ``trade_updates`` WebSocket on ONE port.

``SimExchangeServer(exchange, clock=...)`` runs a starlette app under uvicorn as a task in the caller's event loop
(``await server.start()`` … ``await server.stop()``), or standalone through ``alchemiser sim-exchange``. A time
driver task advances the exchange as the injected clock moves (fills, partial-fill remainders, cancels, expiries
at the close happen at their simulated instants), waking early whenever a request changes something.

Embedding in ``sim`` mode: give the server the daemon's ``AcceleratedClock``; ``base_url`` serves as the trading
and data URL, ``stream_url`` as the stream URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import warnings
from collections.abc import Generator
from datetime import datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute, WebSocketRoute

from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError
from alchemiser.sim.build import SimOptions, build_sim
from alchemiser.sim.context import SimContext
from alchemiser.sim.control import control_routes
from alchemiser.sim.core import SimExchange
from alchemiser.sim.faults import FaultConfig, FaultInjector
from alchemiser.sim.market_data import market_data_routes
from alchemiser.sim.rest import trading_routes
from alchemiser.sim.stream import StreamHub

DEFAULT_KEY_ID = "sim-key"
DEFAULT_SECRET_KEY = "sim-secret"  # noqa: S105 - the simulator's well-known default, not a secret
START_TIMEOUT_SECONDS = 10.0


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handling: the host process (daemon, test, CLI) owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def build_app(ctx: SimContext, hub: StreamHub) -> Starlette:
    routes: list[BaseRoute] = [
        *trading_routes(ctx),
        *market_data_routes(ctx),
        *control_routes(ctx, hub),
        WebSocketRoute("/stream", hub.endpoint),
    ]
    return Starlette(routes=routes)


class SimExchangeServer:
    """Serve ``exchange`` on ``host:port`` (port 0 picks a free port; read ``.port`` after ``start()``)."""

    def __init__(
        self,
        exchange: SimExchange,
        *,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        key_id: str = DEFAULT_KEY_ID,
        secret_key: str = DEFAULT_SECRET_KEY,
        faults: FaultConfig | None = None,
        fault_seed: int = 0,
        fault_token: str | None = None,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.host = host
        self._requested_port = port
        self.ctx = SimContext(
            exchange=exchange,
            clock=clock,
            key_id=key_id,
            secret_key=secret_key,
            faults=FaultInjector(faults, seed=fault_seed),
            fault_token=fault_token,
        )
        self.hub = StreamHub(self.ctx)
        self.app = build_app(self.ctx, self.hub)
        self._server: _EmbeddedServer | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._driver_task: asyncio.Task[None] | None = None
        self.driver_wakeups = 0  # how often the time driver ran (it must not poll when idle)
        self._socket: socket.socket | None = None
        self.port = port

    @classmethod
    def create(
        cls, options: SimOptions, *, clock: Clock, host: str = "127.0.0.1", port: int = 0, **kwargs: Any
    ) -> SimExchangeServer:
        """Build the exchange from ``options`` at the clock's current instant and wrap it in a server.

        For ``sim`` mode: ``clock = AcceleratedClock(start_instant, speed)`` shared with the daemon, then
        ``server = SimExchangeServer.create(options, clock=clock); await server.start()``.
        """
        parts = build_sim(options, now=clock.now())
        return cls(parts.exchange, clock=clock, host=host, port=port, **kwargs)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stream"

    @property
    def faults(self) -> FaultInjector:
        return self.ctx.faults

    @property
    def running(self) -> bool:
        return self._serve_task is not None and not self._serve_task.done()

    async def start(self) -> None:
        """Bind, start serving and start the time driver; returns once the port accepts connections."""
        if self._serve_task is not None:
            raise AlchemiserError("simulated exchange server already started")
        self.hub.open()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this: without it every response waits ~40 ms on Nagle + delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as err:
            sock.close()
            raise AlchemiserError(f"cannot bind {self.host}:{self._requested_port}: {err}") from err
        sock.listen(128)
        sock.setblocking(False)
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ws="websockets",
            ws_ping_interval=20.0,
            ws_ping_timeout=60.0,
            timeout_graceful_shutdown=1,
        )
        with warnings.catch_warnings():
            # The legacy websockets protocol is the one uvicorn implementation that can refuse a handshake with an
            # HTTP status (Alpaca's 429 for a second stream); uvicorn and websockets both flag it as deprecated.
            warnings.simplefilter("ignore")
            config.load()
        self._server = _EmbeddedServer(config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]), name="sim-exchange-http")
        self._driver_task = asyncio.create_task(self._drive(), name="sim-exchange-clock")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if self._serve_task.done():
                self._serve_task.result()
                raise AlchemiserError("simulated exchange server stopped while starting")
            if loop.time() > deadline:
                await self.stop()
                raise AlchemiserError("simulated exchange server did not start within 10 s")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Close streams, stop serving and stop the driver (idempotent)."""
        self.hub.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._serve_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await asyncio.wait_for(self._serve_task, timeout=5.0)
                except TimeoutError:
                    self._serve_task.cancel()
        if self._driver_task is not None:
            self._driver_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver_task
        if self._socket is not None:
            self._socket.close()
        self._serve_task = None
        self._driver_task = None
        self._server = None
        self._socket = None

    async def __aenter__(self) -> SimExchangeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _drive(self) -> None:
        """Advance the exchange whenever a scheduled action comes due, or a request moves the schedule earlier.

        With nothing scheduled it only waits for a kick (no polling, whatever the clock's speed).
        """
        ctx = self.ctx
        kick = ctx.kick
        sleeper: asyncio.Future[None] | None = None
        sleeper_due: datetime | None = None
        try:
            while True:
                kick.clear()
                self.driver_wakeups += 1
                self.exchange.advance(self.clock.now())
                due = self.exchange.next_due()
                if due != sleeper_due or sleeper is None or sleeper.done():
                    if sleeper is not None and not sleeper.done():
                        sleeper.cancel()
                    sleeper = asyncio.ensure_future(self.clock.sleep_until(due)) if due is not None else None
                    sleeper_due = due
                ctx.driver_due = due  # what reschedule() compares against: always the sleeper's own deadline
                waker: asyncio.Future[Any] = asyncio.ensure_future(kick.wait())
                waiting: set[asyncio.Future[Any]] = {waker} if sleeper is None else {sleeper, waker}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if not waker.done():
                    waker.cancel()
                if sleeper is not None and sleeper.done():
                    sleeper, sleeper_due = None, None
        finally:
            if sleeper is not None and not sleeper.done():
                sleeper.cancel()
