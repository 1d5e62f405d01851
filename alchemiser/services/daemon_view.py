"""The read side of a running daemon, as the query layer sees it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from alchemiser.clock import Clock
from alchemiser.process.metrics import Metrics
from alchemiser.process.readiness import Check, Readiness
from alchemiser.process.supervisor import Supervisor
from alchemiser.store.kill_switch import KillAction, KillSwitch
from alchemiser.store.operator_requests import OperatorRequests

LOOPBACK_NAMES: frozenset[str] = frozenset({"127.0.0.1", "localhost", "[::1]"})
StatusProvider = Callable[[], Any | Awaitable[Any]]


@dataclass
class DaemonView:
    """Everything the built-in queries read. ``control_token`` and ``accepted_hosts`` are callables so a SIGHUP
    reload applies at once; ``requests`` is the operator-request outbox (``None`` in tests without a store)."""

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
    accepted_hosts: Callable[[], Collection[str]] = field(default=lambda: LOOPBACK_NAMES)
    requests: OperatorRequests | None = None
