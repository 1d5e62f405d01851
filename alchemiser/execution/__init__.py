"""Execution: the only code that places orders.

Public API::

    ExecutionActor(broker=..., repo=..., clock=..., metrics=..., mode=..., risk=..., params=..., feed=...,
                   audit=..., kill_switch=..., board=...)
        await start() / stop()                   load books, consume trade_updates
        await execute(plan, run_id) -> RunResult  one rebalance (idempotent per run id)
        await resume() -> list[RunResult]         continue or close runs a crash left unfinished
        await on_kill_switch(state)               KillSwitch listener: freeze / cancel / flatten
    ExecutionParams, risk_params_from / planner_params_from / execution_params_from (Settings → params)
    client_order_id(run_id, symbol, side, step)   deterministic, ≤ 48 chars
    PlanBoard (served by web.plan_routes)         GET /api/plan, POST /api/plan/approve
    ExecutionMetrics(registry)                    prometheus metrics on an injected registry

Modules: ``actor`` (runs: approval, plan verdict, sells then buys, resume, kill switch), ``line`` (one line: limit
ladder then market attempts), ``orders`` (idempotent submit, event-driven wait with the ack watchdog, confirmed
cancel), ``state`` (order state machine), ``tracking`` (event routing + persistence), ``fills`` (fills, books,
slippage/latency), ``ids``, ``ladder``, ``params``, ``approval``, ``journal``, ``outcomes``, ``results``,
``serialize``, ``ports``, ``metrics``; ``harness`` is a one-shot process entry point (crash test, benchmarks).
"""

from alchemiser.execution.actor import ExecutionActor
from alchemiser.execution.approval import Decision, PlanBoard
from alchemiser.execution.ids import MARKET_STEP, client_order_id
from alchemiser.execution.metrics import ExecutionMetrics
from alchemiser.execution.params import (
    ExecutionParams,
    execution_params_from,
    planner_params_from,
    risk_params_from,
)
from alchemiser.execution.results import LineOutcome, LineResult, RunResult, RunStatus
from alchemiser.execution.state import FillDelta, OrderTracker

__all__ = [
    "MARKET_STEP",
    "Decision",
    "ExecutionActor",
    "ExecutionMetrics",
    "ExecutionParams",
    "FillDelta",
    "LineOutcome",
    "LineResult",
    "OrderTracker",
    "PlanBoard",
    "RunResult",
    "RunStatus",
    "client_order_id",
    "execution_params_from",
    "planner_params_from",
    "risk_params_from",
]
