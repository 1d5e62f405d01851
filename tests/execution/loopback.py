"""The real stack over loopback: simulated exchange server ↔ Alpaca adapter (REST + trade_updates) ↔ actor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.adapters.alpaca.stream import TradeUpdateStream
from alchemiser.clock import AcceleratedClock
from alchemiser.execution import ExecutionActor, ExecutionMetrics, ExecutionParams
from alchemiser.execution.harness import build_plan
from alchemiser.execution.ports import MemoryAudit
from alchemiser.portfolio import Plan, PlannerParams, RiskParams, TradingMode
from alchemiser.sim import ExchangeConfig, SimOptions, build_sim
from alchemiser.sim.faults import FaultConfig
from alchemiser.sim.server import SimExchangeServer
from alchemiser.store import Store
from alchemiser.store.execution import ExecutionRepository

SIM_START = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 11:00 New York


@dataclass
class Stack:
    clock: AcceleratedClock
    server: SimExchangeServer
    broker: AlpacaBroker
    stream: TradeUpdateStream
    actor: ExecutionActor
    repo: ExecutionRepository
    registry: CollectorRegistry
    audit: MemoryAudit

    async def plan(self, weights: dict[str, Decimal]) -> Plan:
        return await build_plan(self.broker, weights, PlannerParams())

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.registry.get_sample_value(name, labels or {})
        return 0.0 if value is None else value


@asynccontextmanager
async def loopback_stack(
    tmp_path: Path,
    *,
    faults: FaultConfig | None = None,
    params: ExecutionParams | None = None,
    exchange: ExchangeConfig | None = None,
    speed: float = 60.0,
    seed: int = 3,
    client_timeout: float = 10.0,
    rate_limit_per_minute: int = 100_000,
) -> AsyncIterator[Stack]:
    clock = AcceleratedClock(SIM_START, speed=speed)
    parts = build_sim(
        SimOptions(always_open=True, seed=seed, exchange=exchange or ExchangeConfig(seed=seed)),
        now=clock.now(),
    )
    server = SimExchangeServer(parts.exchange, clock=clock, faults=faults, fault_seed=seed)
    await server.start()
    store = await Store.open(tmp_path / "loopback.db", clock=clock)
    broker = AlpacaBroker.create(
        credentials=AlpacaCredentials.of("sim-key", "sim-secret"),
        clock=clock,
        endpoints=AlpacaEndpoints(trading_url=server.base_url, data_url=server.base_url, stream_url=server.stream_url),
        rate_limit_per_minute=rate_limit_per_minute,
        registry=CollectorRegistry(),
        timeout_seconds=client_timeout,
        lookup_delay=0.05,
    )
    stream = broker.trade_updates(backoff_base=0.05, backoff_cap=0.5)
    stream.start()
    registry = CollectorRegistry()
    repo = ExecutionRepository(store, clock)
    audit = MemoryAudit()
    actor = ExecutionActor(
        broker=broker,
        repo=repo,
        clock=clock,
        metrics=ExecutionMetrics(registry),
        mode=TradingMode.SIM,
        risk=RiskParams(max_turnover=None, max_position_weight=None),
        params=params or ExecutionParams(step_wait_seconds=20, ack_sla_seconds=10, max_concurrent_orders=4),
        feed=stream,
        audit=audit,
    )
    await actor.start()
    try:
        yield Stack(clock, server, broker, stream, actor, repo, registry, audit)
    finally:
        await actor.stop()
        await stream.stop()
        await broker.aclose()
        await store.close()
        await server.stop()
