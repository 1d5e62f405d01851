"""The trading plugin: wires broker, order stream, execution, data refresh, decisions, scheduler, reconciliation,
notifications, readiness, status and routes into the daemon (``alchemiser.daemon.daemon``).

Start order inside ``setup`` (before the HTTP server and the supervisor start):

1. broker (Alpaca adapter; in ``sim`` the endpoints of the embedded exchange) and its breakers on /metrics;
2. notifier (own supervised actor; a failing channel never blocks anything);
3. execution actor with the ``trade_updates`` stream as its event feed; the stream is started;
4. decisions left ``running`` by a crash are closed, unfinished execution runs are resumed (or abandoned when
   too late);
5. startup reconciliation — a mismatch beyond tolerance leaves the ``reconcile`` readiness condition failing
   (the decision gate stays closed) until ``POST /api/reconcile/accept``;
6. symphonies parsed; bar refresher, decision cycle, scheduler, market watch and readiness watch registered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from alchemiser.adapters.alpaca import AlpacaBroker, AlpacaCredentials, AlpacaEndpoints, TradeUpdateStream
from alchemiser.broker.models import NEW_YORK
from alchemiser.daemon.context import DaemonContext
from alchemiser.errors import AlchemiserError, BrokerError
from alchemiser.execution.actor import ExecutionActor
from alchemiser.execution.metrics import ExecutionMetrics
from alchemiser.execution.params import execution_params_from, planner_params_from, risk_params_from
from alchemiser.logging import get_logger
from alchemiser.notify.channels import channels_from_urls
from alchemiser.notify.events import CorporateActionAlert, Failure, KillSwitchChanged
from alchemiser.notify.notifier import Notifier
from alchemiser.portfolio.risk import TradingMode
from alchemiser.process.readiness import Check, ReadinessFlag
from alchemiser.services.money import MoneySnapshot
from alchemiser.services.positions import merged_targets
from alchemiser.store.corporate_actions import CorporateActionStore
from alchemiser.store.decisions import DecisionStore
from alchemiser.store.execution import ExecutionRepository
from alchemiser.store.kill_switch import KillSwitchState
from alchemiser.store.retention import apply_retention, policy_from
from alchemiser.trading.corporate_actions import CorporateActionDesk
from alchemiser.trading.data_refresh import BarRefresher
from alchemiser.trading.decision import DecisionCycle
from alchemiser.trading.decision_ports import GateResult
from alchemiser.trading.execution_bridge import PlanningExecutor
from alchemiser.trading.manual_rebalance import RequestRecovery, store_fault_listener
from alchemiser.trading.metrics import DecisionMetrics
from alchemiser.trading.rebalance_outlook import RebalanceOutlook, strategy_outlooks
from alchemiser.trading.reconcile import Reconciler
from alchemiser.trading.schedule import TradingCalendar
from alchemiser.trading.scheduler import SchedulerActor
from alchemiser.trading.strategies import load_engines
from alchemiser.trading.symphony_worker import stop_predecessor_worker, worker_lock_path
from alchemiser.trading.watchers import ClockSource, MarketWatch, NotifierActor, ReadinessWatch
from alchemiser.web.decision_routes import DecisionApi
from alchemiser.web.plan_routes import plan_routes

log = get_logger("trading")
BrokerFactory = Callable[["DaemonContext"], Awaitable[AlpacaBroker]]


async def alpaca_from_settings(ctx: DaemonContext) -> AlpacaBroker:
    """paper/live: the configured Alpaca endpoints and keys."""
    return AlpacaBroker.from_settings(ctx.settings.alpaca, ctx.clock, registry=ctx.metrics.registry)


def loopback_broker(endpoints: Callable[[], AlpacaEndpoints], credentials: AlpacaCredentials) -> BrokerFactory:
    """sim: the real adapter pointed at the embedded exchange (endpoints known once its server has started)."""

    async def build(ctx: DaemonContext) -> AlpacaBroker:
        return AlpacaBroker.create(
            credentials=credentials,
            clock=ctx.clock,
            endpoints=endpoints(),
            registry=ctx.metrics.registry,
            rate_limit_per_minute=ctx.settings.alpaca.rate_limit_per_minute,
            timeout_seconds=ctx.settings.alpaca.timeout_seconds,
        )

    return build


SIM_CREDENTIALS = AlpacaCredentials.of("sim-key-id", SecretStr("sim-secret-key"))


class TradingPlugin:
    name = "trading"

    def __init__(
        self,
        *,
        broker_factory: BrokerFactory | None = None,
        stream_wait_seconds: float = 120.0,
        watch_interval: float = 30.0,
        readiness_interval: float = 5.0,
        evaluation_timeout: float = 120.0,
        cross_check_clock: bool = True,
        stream_stale_after: timedelta = timedelta(minutes=2),
        fresh_broker: bool | Callable[[], bool] = False,
    ) -> None:
        self._stream_stale_after = stream_stale_after
        self._fresh_broker = fresh_broker
        self._broker_factory = broker_factory or alpaca_from_settings
        self._stream_wait = stream_wait_seconds
        self._watch_interval = watch_interval
        self._readiness_interval = readiness_interval
        self._evaluation_timeout = evaluation_timeout
        self._cross_check = cross_check_clock
        # Filled by setup (for tests, the sim plugin and the soak script).
        self.broker: AlpacaBroker | None = None
        self.stream: TradeUpdateStream | None = None
        self.execution: ExecutionActor | None = None
        self.cycle: DecisionCycle | None = None
        self.refresher: BarRefresher | None = None  # the bars the decisions read (parity keeps a copy)
        self.scheduler: SchedulerActor | None = None
        self.reconciler: Reconciler | None = None
        self.notifier: Notifier | None = None
        self.decisions: DecisionStore | None = None
        self.calendar: TradingCalendar | None = None
        self.reconcile_flag: ReadinessFlag | None = None
        self.decision_api: DecisionApi | None = None
        self.corporate: CorporateActionDesk | None = None

    async def setup(self, ctx: DaemonContext) -> None:
        settings = ctx.settings
        clock = ctx.clock
        calendar = TradingCalendar(
            minutes_before_close=settings.schedule.minutes_before_close,
            data_refresh_lead_minutes=settings.schedule.data_refresh_lead_minutes,
        )
        self.calendar = calendar
        engines = load_engines(settings.strategies)
        worker_lock = worker_lock_path(settings.store.path)
        orphan = await asyncio.to_thread(stop_predecessor_worker, worker_lock)
        if orphan is not None:
            log.warning("symphony_worker_orphan_stopped", pid=orphan)
        metrics = DecisionMetrics(ctx.metrics.registry)

        broker = await self._broker_factory(ctx)
        self.broker = broker
        for breaker in broker.breakers.values():
            ctx.metrics.watch_breaker(breaker)
        ctx.add_shutdown_hook(broker.aclose)

        notifier = Notifier(
            channels_from_urls(settings.notifications.urls, timeout_seconds=settings.notifications.timeout_seconds),
            ctx.runtime_clock,
            neutral=settings.notifications.neutral,
            on_outcome=metrics.on_notification,
        )
        self.notifier = notifier
        ctx.add_actor(NotifierActor(notifier, ctx.runtime_clock), critical=False)

        async def drain_notifications() -> None:
            await notifier.drain(min(5.0, settings.notifications.timeout_seconds))
            notifier.close()

        ctx.add_shutdown_hook(drain_notifications)
        ctx.supervisor.add_alert_listener(
            lambda alert: notifier.publish(Failure("supervisor", f"{alert.actor}: {alert.message}", alert.at))
        )

        # The staleness watchdog runs on the domain clock: scale it with the simulation speed.
        speed = max(1.0, float(getattr(clock, "speed", 1.0)))
        stream = broker.trade_updates(
            market_open=lambda: calendar.is_open(clock.now()), stale_after=self._stream_stale_after * speed
        )
        self.stream = stream
        execution = ExecutionActor(
            broker=broker,
            repo=ExecutionRepository(ctx.store, clock),
            clock=clock,
            metrics=ExecutionMetrics(ctx.metrics.registry),
            mode=TradingMode(settings.mode),
            risk=risk_params_from(settings.risk),
            params=execution_params_from(settings.execution),
            feed=stream,
            audit=ctx.audit,
            kill_switch=ctx.kill_switch,
        )
        self.execution = execution
        await execution.start()
        stream.start()
        ctx.add_shutdown_hook(stream.stop)
        ctx.add_shutdown_hook(execution.stop)

        async def on_kill(state: KillSwitchState) -> None:
            notifier.publish(KillSwitchChanged(state.engaged, state.reason or "", state.changed_by, state.changed_at))
            await execution.on_kill_switch(state)

        ctx.kill_switch.add_listener(on_kill)

        decisions = DecisionStore(ctx.store)
        self.decisions = decisions
        interrupted = await decisions.mark_interrupted(clock.now())
        if interrupted:
            log.warning("decisions_interrupted", decision_ids=interrupted)
        try:
            resumed = await execution.resume()
        except BrokerError as exc:
            log.error("execution_resume_failed", error=str(exc))
        else:
            if resumed:
                log.warning("execution_resumed", runs=[r.as_dict() for r in resumed])

        desk_store = CorporateActionStore(ctx.store, clock)
        desk = CorporateActionDesk(
            broker=broker,
            keeper=execution.fills,
            store=desk_store,
            audit=ctx.audit,
            clock=clock,
            symbols=lambda: self.cycle.symbols if self.cycle is not None else frozenset(),
            notifier=notifier,
        )
        self.corporate = desk

        async def untradable(symbol: str, why: str) -> None:
            day = clock.now().astimezone(NEW_YORK).date()
            message = f"{symbol} is {why}: left out of today's plan, its share kept in cash"
            if await desk_store.alert_once(f"plan:{symbol}:{day}", message):
                notifier.publish(CorporateActionAlert(symbol, message, clock.now()))

        reconciler = Reconciler(broker, ctx.store, ctx.audit, clock, on_corporate_actions=desk.apply)
        self.reconciler = reconciler
        reconcile_flag = ctx.readiness.flag("reconcile", reason="reconciling with the broker")
        self.reconcile_flag = reconcile_flag
        fresh = self._fresh_broker() if callable(self._fresh_broker) else self._fresh_broker
        if fresh:
            # A new simulated exchange starts empty: its state is the new baseline (a continued one is reconciled).
            report = await reconciler.accept(by="sim", reason="the embedded simulated exchange starts fresh")
            reconcile_flag.set_ok(report.baseline)
        else:
            await self._reconcile(reconciler, reconcile_flag, source="startup")

        refresher = self.refresher = BarRefresher(broker, calendar, clock, on_data_age=metrics.on_data_age)
        for old, new, effective in await desk_store.renames():  # renames applied before this start
            refresher.follow_rename(old, new, effective)
        desk.on_rename = refresher.follow_rename

        def last_close(symbol: str) -> Decimal | None:
            bars = refresher.snapshot([symbol], clock.now().date(), 1).bars.get(symbol)
            return Decimal(repr(bars[-1].c)) if bars else None

        async def last_fill_at(run_id: str) -> datetime | None:
            # Read-only look at execution's fills (migration 0003): when did this run's last fill happen?
            value = await ctx.store.fetchval(
                "SELECT MAX(COALESCE(filled_at, recorded_at)) FROM execution_fills WHERE run_id = ?", (run_id,)
            )
            return None if value is None else datetime.fromisoformat(str(value))

        executor = PlanningExecutor(
            broker=broker,
            runner=execution,
            clock=clock,
            params=planner_params_from(settings.risk),
            stream_ready=lambda: stream.connected,
            stream_wait=self._stream_wait,
            last_close=last_close,
            last_fill_at=last_fill_at,
            on_untradable=untradable,
        )

        async def live_prices(symbols: Sequence[str]) -> dict[str, float]:
            quotes = await broker.get_latest_quotes(symbols)
            return {s: float(q.mid) for s, q in quotes.items() if q.bid_price > 0 and q.ask_price >= q.bid_price}

        clock_source = ClockSource(broker.get_clock, calendar, clock, cross_check=self._cross_check)

        async def gate() -> GateResult:
            reasons: list[str] = []
            # A corporate action since the last reconciliation (a split overnight) is explained and booked before
            # planning, so the plan starts from adjusted books; without one this costs a single activities read.
            if reconcile_flag().ok and await reconciler.has_new_activities():
                await self._reconcile(reconciler, reconcile_flag, source="pre-decision")
            if ctx.kill_switch.engaged:
                reasons.append(f"kill switch engaged: {ctx.kill_switch.state.reason}")
            if ctx.store.write_fault is not None:
                reasons.append(f"store writes failing: {ctx.store.write_fault}")
            if not reconcile_flag().ok:
                reasons.append(f"reconciliation: {reconcile_flag().reason}")
            try:
                broker_clock, check = await clock_source.check()
            except BrokerError as exc:
                reasons.append(f"broker clock unavailable: {exc}")
            else:
                if not check.ok:
                    reasons.append(f"broker clock disagrees with the calendar: {check.reason}")
                if not broker_clock.is_open:
                    reasons.append(f"market closed per the broker clock at {broker_clock.timestamp.isoformat()}")
            return GateResult(not reasons, tuple(reasons))

        async def post_trade(decision_id: str) -> str | None:
            report = await self._reconcile(reconciler, reconcile_flag, source="decision")
            await desk.after_decision()  # the books' record for the day, then alerts ahead (never blocks)
            return None if report else reconcile_flag().reason

        async def pnl() -> tuple[dict[str, Decimal], Decimal | None, Decimal | None]:
            account = await broker.get_account()
            positions = await broker.list_positions()
            marks = {p.symbol: p.current_price for p in positions if p.current_price is not None}
            values = {
                name: book.realized_pnl + book.unrealized_pnl(marks) for name, book in execution.books.books.items()
            }
            return values, account.equity, account.cash

        async def book_values() -> dict[str, dict[str, Decimal]]:
            positions = await broker.list_positions()
            marks = {p.symbol: p.current_price for p in positions if p.current_price is not None}
            return {
                name: {s: h.qty * marks[s] for s, h in book.holdings.items() if h.qty > 0 and s in marks}
                for name, book in execution.books.books.items()
            }

        def previous_session(day: date) -> date | None:
            try:
                return calendar.previous_session(day).day
            except ValueError:  # outside the loaded calendar: the session counts as a period's first
                return None

        cycle = DecisionCycle(
            engines=engines,
            refresher=refresher,
            decisions=decisions,
            executor=executor,
            clock=clock,
            gate=gate,
            notifier=notifier,
            post_trade=post_trade,
            pnl=pnl,
            as_of_policy=settings.schedule.as_of_policy,
            evaluation_timeout=self._evaluation_timeout,
            run_id=ctx.run_id,
            on_metrics=metrics.on_stats,
            live_prices=live_prices,
            book_values=book_values,
            previous_session=previous_session,
            worker_lock=worker_lock,
            calendar=calendar,
        )
        self.cycle = cycle
        ctx.add_shutdown_hook(cycle.close)
        scheduler = SchedulerActor(
            cycle,
            calendar,
            decisions,
            clock,
            late_window=timedelta(minutes=settings.schedule.late_window_minutes),
            notifier=notifier,
            run_id=ctx.run_id,
            runtime_clock=ctx.runtime_clock,
            on_slot=metrics.on_slot,
            after_decision=lambda: apply_retention(ctx.store, policy_from(settings.store), clock.now()),
        )
        self.scheduler = scheduler
        ctx.add_actor(scheduler)
        clock_flag = ctx.readiness.flag("broker_clock", reason="not checked yet")
        watch = MarketWatch(clock_source, clock_flag, ctx.runtime_clock, interval=self._watch_interval)
        await watch.check_once()
        ctx.add_actor(watch, critical=False)
        ctx.add_actor(
            ReadinessWatch(ctx.readiness, notifier, ctx.runtime_clock, interval=self._readiness_interval),
            critical=False,
        )

        def stream_check() -> Check:
            if stream.failure is not None:
                return Check.failed(f"order stream failed: {stream.failure}")
            return Check.passed("connected") if stream.connected else Check.failed("order stream not connected")

        def schedule_check() -> Check:
            slot = scheduler.upcoming_slot()
            return Check.passed(f"next decision {slot.decision_at.isoformat()} ({scheduler.phase})")

        ctx.readiness.register("stream", stream_check)
        ctx.readiness.register("schedule", schedule_check)

        api = DecisionApi(
            cycle=cycle,
            decisions=decisions,
            calendar=calendar,
            clock=clock,
            reconciler=reconciler,
            on_accepted=lambda: reconcile_flag.set_ok("accepted by operator"),
            requests=ctx.requests,
        )
        self.decision_api = api
        ctx.add_shutdown_hook(api.close)
        ctx.add_actor(RequestRecovery(api.manual, ctx.runtime_clock), critical=False)
        ctx.store.add_fault_listener(store_fault_listener(notifier, decisions, api.manual, clock))
        for route in api.routes():
            ctx.add_route(route)
        for route in plan_routes(execution.board, ctx.requests):
            ctx.add_route(route)

        money = MoneySnapshot(
            broker,
            lambda: _targets(decisions, {e.name: e.capital_weight for e in engines}),
            clock.now,
            initial_equity=settings.sim.initial_cash if settings.mode == "sim" else None,
        )

        async def decisions_status() -> Any:
            return {
                "last_per_strategy": await decisions.last_per_strategy(),
                "stats": {
                    "decisions": cycle.stats.decisions,
                    "failed_closed": cycle.stats.failed_closed,
                    "blocked": cycle.stats.blocked,
                    "by_status": dict(cycle.stats.by_status),
                    "last_duration_seconds": cycle.stats.last_duration_seconds,
                },
                "skipped": list(scheduler.skipped),
                "running": cycle.running,
            }

        def next_decision_status() -> Any:
            return scheduler.upcoming_slot().to_json() | {"phase": scheduler.phase}

        ctx.add_status("next_decision", next_decision_status)
        ctx.add_status("account", money.account_section)
        ctx.add_status("positions", money.positions_section)
        ctx.add_status("decisions", decisions_status)
        ctx.add_status("breakers", lambda: {name: b.state.name.lower() for name, b in broker.breakers.items()})
        ctx.add_status("notifications", notifier.stats)
        ctx.add_status(
            "reconcile", lambda: None if reconciler.last_report is None else reconciler.last_report.to_json()
        )
        ctx.add_status("data", lambda: None if refresher.last_report is None else refresher.last_report.to_json())
        ctx.add_status("rebalance", lambda: {name: o.to_json() for name, o in self.rebalance_outlooks().items()})
        ctx.add_status("execution", execution.board.snapshot)
        log.info(
            "trading_ready",
            strategies=[e.name for e in engines],
            symbols=sorted(cycle.symbols),
            next_decision=calendar.next_decision(clock.now()).decision_at.isoformat(),
        )

    def rebalance_outlooks(self) -> dict[str, RebalanceOutlook]:
        """When each strategy next rebalances, for ``/status`` and the dashboard's Strategies page."""
        if self.cycle is None or self.scheduler is None or self.calendar is None:
            return {}
        return strategy_outlooks(self.cycle.engines, self.calendar, self.scheduler.upcoming_slot().day)

    async def _reconcile(self, reconciler: Reconciler, flag: ReadinessFlag, *, source: str) -> bool:
        try:
            report = await reconciler.run(source=source)
        except BrokerError as exc:
            flag.set_failed(f"cannot reconcile, broker unreachable: {exc}")
            return False
        except AlchemiserError as exc:
            flag.set_failed(f"reconciliation failed: {exc}")
            return False
        if report.ok:
            flag.set_ok(report.baseline)
            return True
        flag.set_failed(report.reason)  # the readiness watch notifies the operator
        return False


async def _targets(decisions: DecisionStore, capital: dict[str, Decimal]) -> dict[str, Decimal]:
    return merged_targets(await decisions.last_per_strategy(), capital)
