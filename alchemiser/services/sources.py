"""What the query services read besides the store: the daemon's live components, as plain callables.

The daemon (composition root) fills one :class:`LiveSources`; tests and benchmarks fill it with fakes. Keeping the
services' inputs this narrow means a page never reaches into an actor's internals, and the same query serves the
HTML page, its JSON twin and the CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from alchemiser.broker.models import Account, Position
from alchemiser.store.kill_switch import KillSwitchState
from alchemiser.trading.rebalance_outlook import RebalanceOutlook


@dataclass(frozen=True, slots=True)
class ComponentView:
    """One supervised component as the supervisor sees it."""

    name: str
    state: str
    restarts: int
    heartbeat_age_seconds: float
    stale: bool
    critical: bool
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class NextDecision:
    session: date
    decision_at: datetime
    phase: str


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    failing: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamState:
    connected: bool
    detail: str


BenchmarkCloses = Callable[[date, date], Awaitable[dict[date, Decimal]]]


@dataclass
class LiveSources:
    """Live state for the dashboard. Async callables may touch the broker: callers bound them with a timeout."""

    mode: str
    now: Callable[[], datetime]
    readiness: Callable[[], Awaitable[Readiness]]
    components: Callable[[], list[ComponentView]]
    breakers: Callable[[], dict[str, str]]
    stream: Callable[[], StreamState]
    kill_switch: Callable[[], KillSwitchState]
    next_decision: Callable[[], NextDecision | None]
    decision_running: Callable[[], bool]
    plan_board: Callable[[], dict[str, Any]]
    account: Callable[[], Awaitable[Account]]
    positions: Callable[[], Awaitable[list[Position]]]
    capital_weights: Callable[[], dict[str, Decimal]]
    #: strategy name → when it next rebalances (the daemon's ``TradingPlugin.rebalance_outlooks``)
    rebalance: Callable[[], Mapping[str, RebalanceOutlook]] = field(default=lambda: {})
    benchmark: BenchmarkCloses | None = None
    benchmark_symbol: str = "SPY"
    broker_timeout_seconds: float = 2.0
