"""Wall time of a 40-line rebalance through the real stack in accelerated sim: sequential vs concurrent.

Stack: simulated exchange server on loopback (``SimExchangeServer``) ↔ Alpaca adapter (REST + trade_updates) ↔
``ExecutionActor`` with the default ladder (50 % → 75 % → 95 % of the spread, 15 s per step, then market), on an
``AcceleratedClock``. The timed run buys 40 symbols from cash, then a second run rotates half of them (20 sells,
20 buys). ``max_concurrent_orders`` is 1 (sequential) or N (concurrent).

    .venv/bin/python benchmarks/execution_rebalance.py [--speed 120] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.clock import AcceleratedClock
from alchemiser.execution import ExecutionActor, ExecutionMetrics, ExecutionParams, RunResult
from alchemiser.execution.harness import build_plan
from alchemiser.portfolio import PlannerParams, RiskParams, TradingMode
from alchemiser.sim import ExchangeConfig, SimOptions, build_sim
from alchemiser.sim.server import SimExchangeServer
from alchemiser.store import Store
from alchemiser.store.execution import ExecutionRepository

START = datetime(2026, 3, 10, 14, 45, tzinfo=UTC)  # 10:45 New York


async def one(
    concurrency: int, speed: float, symbols: list[str] | None
) -> tuple[list[str], list[tuple[str, float, float, RunResult]]]:
    clock = AcceleratedClock(START, speed=speed)
    parts = build_sim(
        SimOptions(always_open=True, seed=9, history_years=1, exchange=ExchangeConfig(seed=9)), now=clock.now()
    )
    universe = symbols or parts.market.symbols()[:40]
    server = SimExchangeServer(parts.exchange, clock=clock)
    await server.start()
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.db", clock=clock)
        broker = AlpacaBroker.create(
            credentials=AlpacaCredentials.of("sim-key", "sim-secret"),
            clock=clock,
            endpoints=AlpacaEndpoints(
                trading_url=server.base_url, data_url=server.base_url, stream_url=server.stream_url
            ),
            rate_limit_per_minute=190,  # Alpaca's budget, in simulated time
            registry=CollectorRegistry(),
        )
        stream = broker.trade_updates()
        stream.start()
        actor = ExecutionActor(
            broker=broker,
            repo=ExecutionRepository(store, clock),
            clock=clock,
            metrics=ExecutionMetrics(CollectorRegistry()),
            mode=TradingMode.SIM,
            risk=RiskParams(max_turnover=None),
            params=ExecutionParams(max_concurrent_orders=concurrency),
            feed=stream,
        )
        await actor.start()
        runs: list[tuple[str, float, float, RunResult]] = []
        try:
            targets = [
                {s: Decimal(1) / len(universe) for s in universe},
                {
                    s: Decimal(1) / len(universe)
                    for s in universe[:20] + parts.market.symbols()[40:47] + universe[27:40]
                },
            ]
            for i, weights in enumerate(targets):
                plan = await build_plan(broker, {s: w for s, w in weights.items() if w > 0}, PlannerParams())
                sim0, wall0 = clock.now(), time.perf_counter()
                result = await actor.execute(plan, f"bench-{concurrency}-{i}")
                wall = time.perf_counter() - wall0
                sim = (clock.now() - sim0).total_seconds()
                runs.append((f"{len(plan.sells)} sells + {len(plan.buys)} buys", wall, sim, result))
        finally:
            await actor.stop()
            await stream.stop()
            await broker.aclose()
            await store.close()
            await server.stop()
    return universe, runs


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", type=float, default=120.0, help="simulated seconds per wall second")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(f"40-line rebalance, loopback sim at {args.speed:g}x, ladder 0.5/0.75/0.95 × 15 s then market")
    for concurrency in (1, args.concurrency):
        _, runs = await one(concurrency, args.speed, None)
        label = "sequential" if concurrency == 1 else f"concurrent ({concurrency})"
        for lines, wall, sim, result in runs:
            steps = Counter("market" if ln.step_reached >= 90 else str(ln.step_reached) for ln in result.lines)
            outcomes = Counter(ln.outcome.value for ln in result.lines)
            print(
                f"{label:>16}: {lines:<20} wall {wall:6.2f} s  sim {sim / 60:6.1f} min  status {result.status.value}"
                f"  steps {dict(sorted(steps.items()))}  outcomes {dict(outcomes)}"
            )


if __name__ == "__main__":
    asyncio.run(main())
