"""What the dashboard needs from the daemon (filled by the composition root; fakes in tests)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from alchemiser.config import HttpSettings
from alchemiser.execution.approval import PlanBoard
from alchemiser.services.controls import KillControls
from alchemiser.services.sources import LiveSources
from alchemiser.store.account import AccountHistory
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionStore
from alchemiser.store.execution import ExecutionRepository

Rebalance = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]  # (by=, wait=) → (status, body)
AcceptPositions = Callable[..., Awaitable[dict[str, Any]]]  # (by=, reason=) → report


@dataclass
class DashboardDeps:
    mode: str
    version: str
    sources: LiveSources
    store: Store
    decisions: DecisionStore
    execution: ExecutionRepository
    history: AccountHistory
    kill: KillControls
    token: Callable[[], SecretStr | None]
    http: Callable[[], HttpSettings]
    plan_board: PlanBoard | None = None
    rebalance: Rebalance | None = None
    accept_positions: AcceptPositions | None = None
