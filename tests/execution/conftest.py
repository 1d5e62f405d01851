"""Fixtures for execution tests: a real SQLite store file, a fast injected clock, and an actor factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alchemiser.clock import AcceleratedClock
from alchemiser.execution import ExecutionActor, ExecutionMetrics, ExecutionParams
from alchemiser.execution.ports import MemoryAudit, MemoryKillSwitch
from alchemiser.portfolio import (
    AccountState,
    AssetInfo,
    Plan,
    PlannerParams,
    RiskParams,
    StrategyTarget,
    TradingMode,
    plan_rebalance,
)
from alchemiser.store import Store
from alchemiser.store.execution import ExecutionRepository
from tests.execution.fakes import FakeBroker

START = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # 14:00 New York, a Tuesday
FAST = ExecutionParams(step_wait_seconds=5, ack_sla_seconds=2, max_concurrent_orders=4)


@pytest.fixture
def clock() -> AcceleratedClock:
    # 1 simulated second = 1 ms of wall time: ladder waits are real clock waits, just fast
    return AcceleratedClock(START, speed=1000)


@pytest.fixture
async def store(tmp_path: Path, clock: AcceleratedClock) -> AsyncIterator[Store]:
    db = await Store.open(tmp_path / "alchemiser.db", clock=clock)
    yield db
    await db.close()


@pytest.fixture
def repo(store: Store, clock: AcceleratedClock) -> ExecutionRepository:
    return ExecutionRepository(store, clock)


@dataclass
class Harness:
    actor: ExecutionActor
    broker: FakeBroker
    audit: MemoryAudit
    kill_switch: MemoryKillSwitch
    registry: CollectorRegistry
    repo: ExecutionRepository

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.registry.get_sample_value(name, labels or {})
        return 0.0 if value is None else value


ActorFactory = Callable[..., Harness]


@pytest.fixture
def make_actor(repo: ExecutionRepository, clock: AcceleratedClock) -> ActorFactory:
    def factory(
        broker: FakeBroker,
        *,
        params: ExecutionParams = FAST,
        risk: RiskParams | None = None,
        mode: TradingMode = TradingMode.PAPER,
        with_feed: bool = True,
        **kwargs: Any,
    ) -> Harness:
        registry = CollectorRegistry()
        audit = MemoryAudit()
        kill = MemoryKillSwitch()
        actor = ExecutionActor(
            broker=broker,
            repo=repo,
            clock=clock,
            metrics=ExecutionMetrics(registry),
            mode=mode,
            risk=risk or RiskParams(max_turnover=None, max_position_weight=None),
            params=params,
            feed=broker.feed if with_feed else None,
            audit=audit,
            kill_switch=kill,
            **kwargs,
        )
        return Harness(actor, broker, audit, kill, registry, repo)

    return factory


async def plan_for(
    broker: FakeBroker,
    weights: dict[str, Decimal],
    *,
    whole: tuple[str, ...] = (),
) -> Plan:
    account = await broker.get_account()
    symbols = set(weights) | set(broker.positions)
    prices = {s: (broker.quotes[s][0] + broker.quotes[s][1]) / 2 for s in symbols}
    return plan_rebalance(
        [StrategyTarget("main", Decimal(1), weights)],
        AccountState(equity=account.equity, cash=account.cash, buying_power=account.buying_power),
        {s: q for s, q in broker.positions.items() if q},
        prices,
        {s: AssetInfo(s, fractionable=s not in whole) for s in symbols},
        params=PlannerParams(cash_buffer_pct=Decimal("0.01")),
    )
