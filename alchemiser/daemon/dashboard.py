"""The dashboard plugin: account history recording and the operator's dashboard, wired to the trading stack.

Set up after the trading plugin (it reads the broker, stream, execution, decision cycle and scheduler that plugin
built). It

* records an account snapshot at start, after every decision (a finish listener of the decision cycle, which also
  writes a ``decision.finished`` line to the audit journal), and at each session close (:class:`SessionCloseRecorder`,
  a small supervised actor) — never backfilling what it did not observe;
* fills :class:`~alchemiser.services.sources.LiveSources` from the live components;
* adds the dashboard's routes to the daemon's HTTP app and closes its live streams at shutdown.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from alchemiser import __version__
from alchemiser.adapters.alpaca import AlpacaBroker
from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.logging import get_logger
from alchemiser.process.actor import Actor
from alchemiser.services.controls import KillControls
from alchemiser.services.sources import ComponentView, LiveSources, NextDecision, Readiness, StreamState
from alchemiser.store.account import AccountHistory, SnapshotKind, snapshot_of
from alchemiser.store.audit import AuditLog
from alchemiser.store.decisions import DecisionStore, Trigger
from alchemiser.store.execution import ExecutionRepository
from alchemiser.trading.decision_ports import DecisionOutcome, FinishListener
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar
from alchemiser.web.dashboard import Dashboard, DashboardDeps

if TYPE_CHECKING:
    from alchemiser.daemon.context import DaemonContext
    from alchemiser.daemon.trading import TradingPlugin

log = get_logger("account")
CLOSE_SETTLE = timedelta(minutes=1)  # marks settle after the close before the snapshot


class AccountRecorder:
    """Takes account snapshots from the broker (a broker that does not answer means no snapshot, and a log line)."""

    def __init__(self, broker: AlpacaBroker, history: AccountHistory, clock: Clock, run_id: str) -> None:
        self._broker = broker
        self.history = history
        self._clock = clock
        self._run_id = run_id

    async def record(self, kind: SnapshotKind, *, session: date | None = None, decision_id: str | None = None) -> bool:
        try:
            async with asyncio.timeout(30):
                account = await self._broker.get_account()
                positions = await self._broker.list_positions()
        except (TimeoutError, AlchemiserError) as exc:
            log.warning("account_snapshot_skipped", kind=kind, error=str(exc) or type(exc).__name__)
            return False
        snap = snapshot_of(
            account,
            positions,
            kind=kind,
            at=self._clock.now(),
            session=session,
            decision_id=decision_id,
            run_id=self._run_id,
        )
        return await self.history.record(snap)


class SessionCloseRecorder(Actor):
    """Sleeps until each session's close (plus a minute), then records the ``session_close`` snapshot."""

    def __init__(
        self, recorder: AccountRecorder, calendar: TradingCalendar, clock: Clock, runtime_clock: Clock
    ) -> None:
        super().__init__("account_recorder", runtime_clock, heartbeat_timeout=120.0)
        self._recorder = recorder
        self._calendar = calendar
        self._domain = clock
        self.next_wake: datetime | None = None  # when the next close snapshot is due (a sim jump must not skip it)

    async def run(self) -> None:
        while not self.stop_requested:
            now = self._domain.now()
            close = self._calendar.next_close(now)
            session = close.astimezone(NEW_YORK).date()
            self.next_wake = close + CLOSE_SETTLE
            await self.idle_wait(self._domain.sleep_until(self.next_wake))
            self.heartbeat()
            # A fast-forwarded sim clock may wake us later; the account is still the close's until the next open.
            if self._domain.now() < self._calendar.next_open(close):
                await self._recorder.record("session_close", session=session)
            else:
                self.log.warning("session_close_missed", session=session.isoformat())
            self.heartbeat()


def live_sources(ctx: DaemonContext, trading: TradingPlugin) -> LiveSources:
    broker, stream, execution = trading.broker, trading.stream, trading.execution
    cycle, scheduler, calendar = trading.cycle, trading.scheduler, trading.calendar
    if broker is None or stream is None or execution is None or cycle is None or scheduler is None or calendar is None:
        raise ConfigError(["dashboard: must be set up after the trading plugin (plugin order)"])
    clock = ctx.clock
    weights = {e.name: e.capital_weight for e in cycle.engines}
    closes: dict[tuple[date, date], dict[date, Decimal]] = {}

    async def readiness() -> Readiness:
        report = await ctx.readiness.evaluate()
        return Readiness(report.ready, report.failing)

    def components() -> list[ComponentView]:
        return [
            ComponentView(s.name, s.state.value, s.restarts, s.heartbeat_age_seconds, s.stale, s.critical, s.last_error)
            for s in ctx.supervisor.statuses()
        ]

    def stream_state() -> StreamState:
        if stream.failure is not None:
            return StreamState(False, f"failed: {stream.failure}")
        return StreamState(stream.connected, "trade_updates connected" if stream.connected else "reconnecting")

    def next_decision() -> NextDecision:
        slot = scheduler.upcoming_slot()
        return NextDecision(slot.day, slot.decision_at, scheduler.phase)

    async def benchmark(start: date, end: date) -> dict[date, Decimal]:
        # One fetch per (start, end) range: a page view does not hit the data API again.
        key = (start, end)
        if key not in closes:
            bars = await broker.get_daily_bars([BENCHMARK], start, end)
            closes.clear()
            closes[key] = {b.session_date: Decimal(repr(b.c)) for b in bars.get(BENCHMARK, [])}
        return closes[key]

    return LiveSources(
        mode=ctx.settings.mode,
        now=clock.now,
        readiness=readiness,
        components=components,
        breakers=lambda: {name: b.state.name.lower() for name, b in broker.breakers.items()},
        stream=stream_state,
        kill_switch=lambda: ctx.kill_switch.state,
        next_decision=next_decision,
        decision_running=lambda: cycle.running,
        plan_board=execution.board.snapshot,
        account=broker.get_account,
        positions=broker.list_positions,
        capital_weights=lambda: dict(weights),
        rebalance=trading.rebalance_outlooks,
        benchmark=benchmark,
        benchmark_symbol=BENCHMARK,
    )


BENCHMARK = "SPY"


class DashboardPlugin:
    name = "dashboard"

    def __init__(self, trading: TradingPlugin) -> None:
        self._trading = trading
        self.dashboard: Dashboard | None = None
        self.recorder: AccountRecorder | None = None
        self.close_recorder: SessionCloseRecorder | None = None
        self._start_snapshot: asyncio.Task[bool] | None = None

    async def _cancel_start_snapshot(self) -> None:
        if self._start_snapshot is not None and not self._start_snapshot.done():
            self._start_snapshot.cancel()
            await asyncio.gather(self._start_snapshot, return_exceptions=True)

    def next_wake(self) -> datetime | None:
        return None if self.close_recorder is None else self.close_recorder.next_wake

    async def setup(self, ctx: DaemonContext) -> None:
        trading = self._trading
        sources = live_sources(ctx, trading)  # raises unless the trading stack is built
        if trading.broker is None or trading.cycle is None or trading.calendar is None:
            raise ConfigError(["dashboard: must be set up after the trading plugin (plugin order)"])
        history = AccountHistory(ctx.store)
        recorder = AccountRecorder(trading.broker, history, ctx.clock, ctx.run_id)
        self.recorder = recorder
        # Off the start path: a slow broker must not delay the HTTP server or readiness.
        self._start_snapshot = asyncio.get_running_loop().create_task(recorder.record("start"), name="account-start")
        ctx.add_shutdown_hook(self._cancel_start_snapshot)
        trading.cycle.finish_listeners.append(_after_decision(recorder, ctx.audit))
        self.close_recorder = SessionCloseRecorder(recorder, trading.calendar, ctx.clock, ctx.runtime_clock)
        ctx.add_actor(self.close_recorder, critical=False)

        if ctx.view is None:
            raise ConfigError(["dashboard: the daemon did not provide its view (DaemonContext.view)"])
        view = ctx.view
        decision_api = trading.decision_api
        execution = trading.execution
        deps = DashboardDeps(
            mode=ctx.settings.mode,
            version=__version__,
            sources=sources,
            store=ctx.store,
            decisions=DecisionStore(ctx.store),
            execution=ExecutionRepository(ctx.store, ctx.clock),
            history=history,
            kill=KillControls(view),
            token=lambda: ctx.settings.control_token,
            http=lambda: ctx.settings.http,
            plan_board=None if execution is None else execution.board,
            rebalance=None if decision_api is None else decision_api.request_rebalance,
            accept_positions=None if decision_api is None else decision_api.accept_positions,
        )
        dashboard = Dashboard(deps)
        self.dashboard = dashboard
        for route in dashboard.routes():
            ctx.add_route(route)
        ctx.add_shutdown_hook(dashboard.close)


def _after_decision(recorder: AccountRecorder, audit: AuditLog) -> FinishListener:
    async def listener(outcome: DecisionOutcome, session: date, trigger: Trigger) -> None:
        await audit.append(
            "decision.finished",
            decision_id=outcome.decision_id,
            data={"status": outcome.status, "trigger": trigger, "reason": outcome.reason, "session": session},
        )
        await recorder.record("after_decision", session=session, decision_id=outcome.decision_id)

    return listener


__all__ = ["AccountRecorder", "DashboardPlugin", "SessionCloseRecorder", "live_sources"]
