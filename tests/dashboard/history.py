"""A simulated history written through the real repositories into a real SQLite store, and fake live sources.

``populate`` writes ``days`` sessions: each a decision with two strategies (allocation + trace), an execution run
with its plan and verdict, ``orders_per_day`` ladder orders with fills, account snapshots after the decision and
at the close, and the audit events execution writes. Shared by the service tests and ``benchmarks/dashboard.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from alchemiser.broker.enums import OrderSide, OrderType
from alchemiser.broker.models import Account, Position
from alchemiser.clock import ManualClock
from alchemiser.config import HttpSettings
from alchemiser.dsl.rebalance import RebalanceFrequency, RebalanceRule
from alchemiser.execution.approval import PlanBoard
from alchemiser.process.metrics import Metrics
from alchemiser.process.readiness import Readiness as ReadinessChecks
from alchemiser.process.supervisor import Supervisor
from alchemiser.services.controls import KillControls
from alchemiser.services.daemon_view import DaemonView
from alchemiser.services.sources import ComponentView, LiveSources, NextDecision, Readiness, StreamState
from alchemiser.store.account import AccountHistory, snapshot_of
from alchemiser.store.audit import AuditLog
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionStore, StrategyDecision, scheduled_decision_id
from alchemiser.store.execution import ExecutionRepository, FillRecord
from alchemiser.store.kill_switch import KillSwitch, KillSwitchState
from alchemiser.trading.rebalance_outlook import RebalanceOutlook, outlook_after
from alchemiser.web.dashboard import DashboardDeps

SYMBOLS = ("SPY", "TLT", "QQQ", "GLD")
START = date(2024, 1, 2)

TRACE = {
    "symphony": "switch",
    "asof": "2024-03-04",
    "allocation": {"QQQ": 1.0},
    "steps": [
        {"depth": 0, "parent": None, "kind": "root", "name": "switch", "weights": {"QQQ": 1.0}},
        {
            "depth": 1,
            "parent": 0,
            "kind": "if",
            "weights": {"QQQ": 1.0},
            "condition": {"expression": '(> (rsi "QQQ" {:window 10}) 50)', "left": 61.25, "right": 50},
            "branch": "then",
        },
        {
            "depth": 2,
            "parent": 1,
            "kind": "filter",
            "name": "rsi select-top 1",
            "weights": {"QQQ": 1.0},
            "ranking": [
                {"candidate": "QQQ", "score": 61.25, "kept": True},
                {"candidate": "GLD", "score": 40.5, "kept": False},
            ],
        },
        {"depth": 3, "parent": 2, "kind": "asset", "name": "QQQ", "weights": {"QQQ": 1.0}},
    ],
}


def sessions(days: int) -> list[date]:
    out, day = [], START
    while len(out) < days:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


async def populate(store: Store, *, days: int = 5, orders_per_day: int = 4, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    clock = ManualClock(datetime.combine(START, datetime.min.time(), UTC))
    decisions = DecisionStore(store)
    execution = ExecutionRepository(store, clock)
    history = AccountHistory(store)
    audit = AuditLog(store, clock, "run-1")
    equity = Decimal("100000")
    spy = Decimal("470")
    closes: dict[date, Decimal] = {}
    for day in sessions(days):
        at = datetime(day.year, day.month, day.day, 20, 45, tzinfo=UTC)
        clock.set(at)
        decision_id = scheduled_decision_id(day)
        async with store.transaction():
            await decisions.start(
                decision_id, session=day, trigger="schedule", as_of_policy="previous_close", as_of=day, started_at=at
            )
            await decisions.record_strategy(
                decision_id,
                StrategyDecision("core", Decimal("0.6"), "ok", {"SPY": Decimal("0.5"), "TLT": Decimal("0.5")}),
            )
            await decisions.record_strategy(
                decision_id, StrategyDecision("switch", Decimal("0.4"), "ok", {"QQQ": Decimal("1")}, trace=TRACE)
            )
            plan = {
                "totals": {"equity": str(equity), "turnover": "0.1"},
                "lines": [{"symbol": s, "price": "100", "side": "buy", "target_weight": "0.25"} for s in SYMBOLS],
            }
            await execution.create_run(decision_id, mode="sim", plan=plan, status="executing")
            await execution.set_run_status(
                decision_id,
                "succeeded",
                verdict={
                    "allowed": True,
                    "results": [{"rule": "max_turnover", "passed": True, "message": "ok", "symbol": None}],
                },
            )
            for n in range(orders_per_day):
                symbol = SYMBOLS[n % len(SYMBOLS)]
                side = OrderSide.BUY if n % 2 == 0 else OrderSide.SELL
                coid = f"{decision_id}-{symbol}-{side.value}-{n}"
                qty = Decimal(rng.randint(1, 50))
                await execution.add_intent(
                    client_order_id=coid,
                    run_id=decision_id,
                    symbol=symbol,
                    side=side,
                    step=n // len(SYMBOLS),
                    order_type=OrderType.LIMIT,
                    qty=qty,
                    limit_price=Decimal("100.05"),
                    reference_price=Decimal("100"),
                )
                price = Decimal("100") + Decimal(rng.randint(-10, 10)) / 100
                await execution.add_fill(
                    FillRecord(
                        f"b-{coid}:{qty}", coid, f"b-{coid}", decision_id, symbol, side, qty, price, qty, at, "stream"
                    )
                )
                await audit.append(
                    "execution.fill",
                    actor="execution",
                    order_id=coid,
                    data={
                        "symbol": symbol,
                        "side": side.value,
                        "qty": str(qty),
                        "price": str(price),
                        "execution_run_id": decision_id,
                    },
                )
            await decisions.finish(decision_id, status="executed", finished_at=at + timedelta(seconds=42), plan=plan)
        equity = (equity * (1 + Decimal(rng.randint(-150, 170)) / 10_000)).quantize(Decimal("0.01"))
        spy = (spy * (1 + Decimal(rng.randint(-120, 130)) / 10_000)).quantize(Decimal("0.01"))
        closes[day] = spy
        account = Account(id="a", cash=Decimal("1000"), buying_power=Decimal("1000"), equity=equity)
        await history.record(
            snapshot_of(account, [], kind="after_decision", at=at, session=day, decision_id=decision_id)
        )
        await history.record(snapshot_of(account, [], kind="session_close", at=at + timedelta(minutes=16), session=day))
    await execution.save_books(
        {
            "core": {"SPY": (Decimal("60"), Decimal("28200"), Decimal("0"))},
            "switch": {"QQQ": (Decimal("10"), Decimal("4000"), Decimal("0"))},
        },
        {},
    )
    return {"closes": closes, "equity": equity, "sessions": sessions(days)}


@dataclass
class FakeLive:
    """Settable live state behind a ``LiveSources``."""

    account: Account = field(
        default_factory=lambda: Account(
            id="a",
            cash=Decimal("1000"),
            buying_power=Decimal("2000"),
            equity=Decimal("100000"),
            last_equity=Decimal("99000"),
        )
    )
    positions: list[Position] = field(
        default_factory=lambda: [
            Position(
                symbol="SPY",
                qty=Decimal("60"),
                market_value=Decimal("30000"),
                current_price=Decimal("500"),
                unrealized_pl=Decimal("120.5"),
            ),
            Position(symbol="QQQ", qty=Decimal("10"), market_value=Decimal("4000"), current_price=Decimal("400")),
        ]
    )
    closes: dict[date, Decimal] = field(default_factory=dict)
    fail_broker: bool = False
    board: dict[str, Any] = field(default_factory=lambda: {"awaiting_approval": False})
    now: datetime = datetime(2024, 3, 5, 20, 0, tzinfo=UTC)
    #: core monthly, switch a 5-point corridor (after the 2024-03-05 session was decided)
    outlooks: dict[str, RebalanceOutlook] = field(
        default_factory=lambda: {
            "core": outlook_after(RebalanceRule(RebalanceFrequency.MONTHLY), date(2024, 3, 5)),
            "switch": outlook_after(RebalanceRule(RebalanceFrequency.NONE, 0.05), date(2024, 3, 5)),
        }
    )

    def sources(self) -> LiveSources:
        async def account() -> Account:
            if self.fail_broker:
                from alchemiser.errors import BrokerError

                raise BrokerError("connection refused")
            return self.account

        async def positions() -> list[Position]:
            return self.positions

        async def readiness() -> Readiness:
            return Readiness(False, {"reconcile": "positions differ"})

        async def benchmark(start: date, end: date) -> dict[date, Decimal]:
            return {d: c for d, c in self.closes.items() if start <= d <= end}

        state = KillSwitchState(False, None, None, self.now, "migration")
        return LiveSources(
            mode="sim",
            now=lambda: self.now,
            readiness=readiness,
            components=lambda: [ComponentView("scheduler", "running", 0, 1.5, False, True)],
            breakers=lambda: {"trading": "closed"},
            stream=lambda: StreamState(True, "connected"),
            kill_switch=lambda: state,
            next_decision=lambda: NextDecision(date(2024, 3, 6), self.now + timedelta(hours=1), "waiting_refresh"),
            decision_running=lambda: False,
            plan_board=lambda: self.board,
            account=account,
            positions=positions,
            capital_weights=lambda: {"core": Decimal("0.6"), "switch": Decimal("0.4")},
            rebalance=lambda: self.outlooks,
            benchmark=benchmark,
        )


def daemon_view(kill_switch: KillSwitch, clock: ManualClock) -> DaemonView:
    """The daemon's read side around a real kill switch (what the control commands act through)."""
    return DaemonView(
        mode="sim",
        version="test",
        run_id="run-1",
        started_at=clock.now(),
        runtime_clock=clock,
        domain_clock=clock,
        readiness=ReadinessChecks(),
        metrics=Metrics(mode="sim", process_metrics=False),
        supervisor=Supervisor(clock),
        kill_switch=kill_switch,
        control_token=lambda: None,
        default_kill_action=lambda: "freeze",
    )


async def dashboard_deps(
    store: Store,
    clock: ManualClock,
    *,
    version: str,
    token: Callable[[], SecretStr | None],
    http: Callable[[], HttpSettings],
    live: FakeLive | None = None,
    plan_board: PlanBoard | None = None,
) -> tuple[DashboardDeps, KillSwitch]:
    """The dashboard's dependencies over a real store and a real (loaded) kill switch, returned beside them; live
    sources are fakes."""
    kill_switch = KillSwitch(store, AuditLog(store, clock), clock)
    await kill_switch.load()
    sources = (live or FakeLive()).sources()
    sources.kill_switch = lambda: kill_switch.state
    deps = DashboardDeps(
        mode="sim",
        version=version,
        sources=sources,
        store=store,
        decisions=DecisionStore(store),
        execution=ExecutionRepository(store, clock),
        history=AccountHistory(store),
        kill=KillControls(daemon_view(kill_switch, clock)),
        token=token,
        http=http,
        plan_board=plan_board,
    )
    return deps, kill_switch
