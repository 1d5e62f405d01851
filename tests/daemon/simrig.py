"""An in-process daemon in accelerated sim mode for the daemon tests and the soak script.

The real pieces run: the simulated exchange's protocol server on 127.0.0.1, the Alpaca adapter (REST + the
``trade_updates`` WebSocket), execution, the store on a real SQLite file, the HTTP server, the notifier posting to a
real local webhook. Only the clock is accelerated (and jumps over idle nights).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from alchemiser.clock import AcceleratedClock
from alchemiser.config import Settings, load_settings
from alchemiser.daemon.daemon import Daemon
from alchemiser.daemon.dashboard import DashboardPlugin
from alchemiser.daemon.parity import ParityPlugin
from alchemiser.daemon.sim_mode import SimLinkPlugin, SimPlugin
from alchemiser.daemon.trading import TradingPlugin, loopback_broker
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.faults import FaultConfig
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar

TOKEN = "daemon-test-token-0123456789"
STRATEGY_A = '(defsymphony "core" {:rebalance-frequency :daily} (weight-equal [(asset "SPY") (asset "TLT")]))\n'
STRATEGY_B = (
    '(defsymphony "switch" {:rebalance-frequency :daily}\n'
    '  (if (> (rsi "QQQ" {:window 10}) 50)\n'
    '      [(asset "QQQ")]\n'
    '      [(asset "GLD")]))\n'
)


def write_strategies(directory: Path) -> list[dict[str, Any]]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "core.clj").write_text(STRATEGY_A)
    (directory / "switch.clj").write_text(STRATEGY_B)
    return [
        {"file": str(directory / "core.clj"), "weight": 0.6},
        {"file": str(directory / "switch.clj"), "weight": 0.4},
    ]


def sim_settings(workdir: Path, *, start: date, webhook: str | None, extra: dict[str, Any] | None = None) -> Settings:
    overrides: dict[str, Any] = {
        "mode": "sim",
        "control_token": TOKEN,
        "strategies": write_strategies(workdir / "strategies"),
        "http": {"host": "127.0.0.1", "port": 0},
        "store": {"path": str(workdir / "var" / "store.sqlite")},
        "sim": {"start": start.isoformat(), "speed": 600.0, "seed": 11},
        "risk": {"max_order_notional": "1000000", "max_daily_notional": "10000000"},
        "execution": {"step_wait_seconds": 20.0},  # concurrent orders (the default 4), as users run it
        "notifications": {"urls": [webhook] if webhook else [], "timeout_seconds": 5.0},
        "logging": {"level": "WARNING", "format": "json"},
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(overrides.get(key), dict):
            overrides[key] = {**overrides[key], **value}
        else:
            overrides[key] = value
    return load_settings(None, overrides, secrets_dir=None)


@dataclass
class SimDaemon:
    daemon: Daemon
    sim: SimPlugin
    trading: TradingPlugin
    clock: AcceleratedClock
    dashboard: DashboardPlugin | None = None
    parity: ParityPlugin | None = None
    task: asyncio.Task[int] | None = None
    healthz_latencies: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.daemon.http is not None
        return self.daemon.http.url

    async def start(self, ready_timeout: float = 30.0) -> None:
        self.task = asyncio.create_task(self.daemon.run())
        async with asyncio.timeout(ready_timeout):
            while self.daemon.http is None or self.trading.scheduler is None or not self.daemon.http.port:
                if self.task.done():
                    raise AssertionError(f"daemon exited early with {self.task.result()}")
                await asyncio.sleep(0.02)

    async def stop(self) -> int:
        assert self.task is not None
        self.daemon.request_stop("test finished")
        return await asyncio.wait_for(self.task, 30)


def build_sim_daemon(
    settings: Settings,
    *,
    speed: float = 120.0,
    faults: FaultConfig | None = None,
    fault_seed: int = 0,
    start_at: datetime | None = None,
    fast_forward: bool = True,
    dashboard: bool = False,
    parity: bool = False,
    exchange: ExchangeConfig | None = None,
) -> SimDaemon:
    calendar = TradingCalendar(
        minutes_before_close=settings.schedule.minutes_before_close,
        data_refresh_lead_minutes=settings.schedule.data_refresh_lead_minutes,
        start=date(2015, 1, 1),
    )
    assert settings.sim.start is not None
    if start_at is None:
        slot = calendar.slot(settings.sim.start)
        assert slot is not None, "sim.start must be a session"
        start_at = slot.refresh_at - timedelta(seconds=20)
    clock = AcceleratedClock(start_at, speed=speed)
    sim = SimPlugin(
        faults=faults,
        fault_seed=fault_seed,
        fast_forward=fast_forward,
        fast_forward_margin=timedelta(seconds=15),
        exchange=exchange,
    )
    trading = TradingPlugin(
        broker_factory=loopback_broker(sim.endpoints, sim.credentials),
        stream_wait_seconds=300.0,
        watch_interval=1.0,
        readiness_interval=0.5,
        fresh_broker=lambda: not sim.continued,  # as the daemon: a continued world is reconciled
    )
    board = DashboardPlugin(trading) if dashboard or parity else None  # parity needs the close snapshots
    monitor = ParityPlugin(trading) if parity else None
    link = SimLinkPlugin(sim, lambda: trading.scheduler, wakes=[board.next_wake] if board else [])
    daemon = Daemon(
        settings,
        plugins=[sim, trading, link, *([board] if board else []), *([monitor] if monitor else [])],
        clock=clock,
        handle_signals=False,
    )
    return SimDaemon(daemon, sim, trading, clock, board, monitor)


STANDING_SPEED = 1e-3  # simulated time "standing": a second of it per 17 wall minutes


def ny(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), NEW_YORK)


async def started_after_its_decision(settings: Settings, *, speed: float, lead: timedelta) -> SimDaemon:
    """A sim daemon started ``lead`` before the scheduled decision of ``settings.sim.start``, returned once that
    decision has run (nothing else is running).

    Simulated time stands (almost) still while the daemon starts, so the decision runs on schedule however long a
    loaded host takes to start it (not late, as when the lead passed first); it runs at ``speed`` up to the
    decision, then at wall speed: the session's close is ``minutes_before_close`` after the decision, which at
    10-30x is 30-90 wall seconds, less than a loaded host takes for the tests that rebalance afterwards (they would
    be refused, the market being closed)."""
    assert settings.sim.start is not None
    slot = TradingCalendar(start=date(2020, 1, 1)).slot(settings.sim.start)
    assert slot is not None
    sim = build_sim_daemon(settings, speed=STANDING_SPEED, fast_forward=False, start_at=slot.decision_at - lead)
    await sim.start()
    sim.clock.set_speed(speed)
    decisions = sim.trading.decisions
    assert decisions is not None
    async with asyncio.timeout(60):
        while sim.clock.now() < slot.decision_at:
            await asyncio.sleep(0.01)
    sim.clock.set_speed(1.0)
    async with asyncio.timeout(120):
        while await decisions.count() < 1 or (sim.trading.cycle is not None and sim.trading.cycle.running):
            await asyncio.sleep(0.05)
    return sim


def store_rows(store: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Rows of a query on a store file, opened read-only (the daemon may be running or stopped)."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute(sql, params))
    finally:
        db.close()
