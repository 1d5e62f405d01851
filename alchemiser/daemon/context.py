"""What a plugin sees of the daemon: :class:`DaemonContext` (shared components, registration) and the
:class:`DaemonPlugin` protocol.

Kept apart from :mod:`alchemiser.daemon.daemon` so that plugins (the trading stack, the simulated exchange) and the
daemon that lists them do not import each other: both import this module. The daemon appears here only as the
:class:`DaemonHost` protocol — the registries a plugin may append to and the live settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from starlette.routing import BaseRoute

from alchemiser.clock import Clock
from alchemiser.config import Settings
from alchemiser.logging import Redactor
from alchemiser.process.actor import Actor
from alchemiser.process.metrics import Metrics
from alchemiser.process.readiness import Check, Readiness
from alchemiser.process.supervisor import RestartPolicy, Supervisor
from alchemiser.services.daemon_view import DaemonView, StatusProvider
from alchemiser.store.audit import AuditLog
from alchemiser.store.database import Store
from alchemiser.store.kill_switch import KillSwitch
from alchemiser.store.operator_requests import OperatorRequests
from alchemiser.store.runs import RunRepository

ReloadValidator = Callable[[Settings], Awaitable[None] | None]
ReloadListener = Callable[[Settings, Settings], Awaitable[None] | None]
ShutdownHook = Callable[[], Awaitable[None] | None]


class DaemonHost(Protocol):
    """The daemon as its plugins see it (implemented by :class:`alchemiser.daemon.daemon.Daemon`)."""

    settings: Settings
    reload_validators: list[ReloadValidator]
    reload_listeners: list[ReloadListener]
    shutdown_hooks: list[ShutdownHook]
    liveness_probes: list[Callable[[], Check]]

    def request_stop(self, reason: str = ...) -> None: ...


class DaemonPlugin(Protocol):
    """A component that plugs itself into the daemon at start."""

    name: str

    async def setup(self, ctx: DaemonContext) -> None: ...


@dataclass
class DaemonContext:
    """What a plugin gets: the shared components and the ways to register with the daemon."""

    daemon: DaemonHost
    clock: Clock
    runtime_clock: Clock
    store: Store
    audit: AuditLog
    kill_switch: KillSwitch
    runs: RunRepository
    run_id: str
    metrics: Metrics
    readiness: Readiness
    supervisor: Supervisor
    redactor: Redactor
    requests: OperatorRequests | None = None  # the operator-request outbox (store/operator_requests.py)
    routes: list[BaseRoute] = field(default_factory=list)
    status_providers: dict[str, StatusProvider] = field(default_factory=dict)
    view: DaemonView | None = None  # the read side the HTTP surface serves (commands go through it)

    @property
    def settings(self) -> Settings:
        """The current settings (replaced after a successful reload)."""
        return self.daemon.settings

    def add_actor(
        self,
        actor: Actor,
        *,
        policy: RestartPolicy | None = None,
        heartbeat_timeout: float | None = None,
        critical: bool = True,
    ) -> None:
        self.supervisor.add(actor, policy=policy, heartbeat_timeout=heartbeat_timeout, critical=critical)

    def add_route(self, route: BaseRoute) -> None:
        """Add an HTTP route; paths under ``/api/`` require the control token."""
        self.routes.append(route)

    def add_status(self, name: str, provider: StatusProvider) -> None:
        """Add a section to ``GET /status`` (``next_decision`` replaces the built-in null)."""
        self.status_providers[name] = provider

    def add_reload_validator(self, validator: ReloadValidator) -> None:
        """Called with candidate settings on SIGHUP; raise ``AlchemiserError`` to reject the reload."""
        self.daemon.reload_validators.append(validator)

    def add_reload_listener(self, listener: ReloadListener) -> None:
        """Called with ``(new, old)`` after a reload was applied."""
        self.daemon.reload_listeners.append(listener)

    def add_shutdown_hook(self, hook: ShutdownHook) -> None:
        """Called after the actors stopped and before the store closes (in reverse registration order)."""
        self.daemon.shutdown_hooks.append(hook)

    def add_liveness(self, probe: Callable[[], Check]) -> None:
        """An extra ``/healthz`` condition (use sparingly: failing liveness gets the process restarted)."""
        self.daemon.liveness_probes.append(probe)
