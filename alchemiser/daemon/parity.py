"""The parity plugin: after each decision, off the event loop's critical path, the live-vs-backtest monitor runs.

A finish listener of the decision cycle starts a background task (the listener returns at once, so the decision,
its orders and the scheduler never wait for it): keep the bars the decision read, then settle every earlier
session whose close snapshot exists — replay with the bars known now, shadow, attribution, TCA
(``alchemiser.parity.monitor``; the CPU part in a worker thread). A failure is logged and counted
(``alchemiser_parity_failures_total``), never raised. Gauges: tracking error, the gap, data-drift events; a
notification when the tracking error or the data-drift count crosses ``[parity]``'s thresholds.

The monitor (and with it the backtester's fill model, pandas and numpy) is imported in ``setup``, not at the top:
``alchemiser run`` must build its parser without importing the backtester (``benchmarks/cli_startup.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

from alchemiser.clock import Clock
from alchemiser.config import Settings
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.execution.params import planner_params_from
from alchemiser.logging import get_logger
from alchemiser.notify.events import ParityAlert
from alchemiser.store.decisions import Trigger
from alchemiser.trading.decision_ports import DecisionOutcome, Publisher
from alchemiser.trading.strategies import SymphonyEngine

if TYPE_CHECKING:
    from alchemiser.daemon.context import DaemonContext
    from alchemiser.daemon.trading import TradingPlugin
    from alchemiser.parity.monitor import ParityMonitor, SessionResult

log = get_logger("parity")
Closes = dict[str, list[tuple[date, float]]]
DecidedBars = Callable[[Sequence[str], date], Closes]  # the closes the decision on a session read
#: what a parity run may raise and is contained (logged and counted): data, store, broker and arithmetic faults
CONTAINED = (AlchemiserError, ValueError, ArithmeticError, KeyError, OSError)
DRIFT_WINDOW = 30  # sessions over which data-drift events are counted for the alert


class ParityMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.tracking_error = Gauge(
            "alchemiser_parity_tracking_error_bps",
            "|account equity - backtest shadow equity| at the last settled close, in bps of the account",
            registry=registry,
        )
        self.gap = Gauge(
            "alchemiser_parity_gap_dollars", "Account minus backtest shadow equity (cumulative)", registry=registry
        )
        self.data_drift = Gauge(
            "alchemiser_parity_data_drift_events",
            f"Decisions flipped by revised bars over the last {DRIFT_WINDOW} settled sessions",
            registry=registry,
        )
        self.failures = Counter(
            "alchemiser_parity_failures_total",
            "Parity runs that failed (logged only)",
            registry=registry,
        )
        self.sessions = Counter("alchemiser_parity_sessions_total", "Sessions settled by parity", registry=registry)


class ParityRunner:
    """Runs the monitor after each decision as a background task; one at a time, failures contained."""

    def __init__(
        self,
        monitor: ParityMonitor,
        metrics: ParityMetrics,
        notifier: Publisher | None,
        clock: Clock,
        decided_bars: DecidedBars,
    ) -> None:
        self.monitor = monitor
        self._decided_bars = decided_bars
        self.metrics = metrics
        self._notifier = notifier
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._drift: list[int] = []
        self.settled = 0  # sessions settled since start
        self.failures = 0
        self.last: SessionResult | None = None

    async def on_decision(self, outcome: DecisionOutcome, session: date, trigger: Trigger) -> None:
        del trigger
        task = asyncio.get_running_loop().create_task(self.run(outcome.decision_id, session), name="parity")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, decision_id: str, session: date) -> None:
        """Keep the decision's bars, then settle each ready session on its own (one failing does not stop the rest;
        it is tried again after the next decision)."""
        async with self._lock:
            try:
                closes = await asyncio.to_thread(self._decided_bars, self.monitor.symbols, session)
                ready = await self.monitor.record_decision(decision_id, closes)
            except CONTAINED as exc:
                self._failed(decision_id, None, exc)
                return
            for day in ready:
                try:
                    result = await self.monitor.settle(day)
                except CONTAINED as exc:
                    self._failed(decision_id, day, exc)
                    continue
                if result is not None:
                    self._observe(result)

    def _failed(self, decision_id: str, session: date | None, exc: Exception) -> None:
        self.metrics.failures.inc()
        self.failures += 1
        log.warning(
            "parity_failed",
            decision_id=decision_id,
            session=None if session is None else session.isoformat(),
            error=f"{type(exc).__name__}: {exc}",
        )

    def status(self) -> dict[str, object]:
        """The ``parity`` section of ``/status``."""
        last = self.last
        return {
            "sessions_settled": self.settled,
            "failures": self.failures,
            "last_session": None if last is None else last.session.isoformat(),
            "gap": None if last is None else str(last.gap),
            "tracking_error_bps": None if last is None else round(last.tracking_error_bps, 2),
            "data_drift_events": sum(self._drift),
        }

    def _observe(self, result: SessionResult) -> None:
        settings = self.monitor.settings
        self.last = result
        self.metrics.sessions.inc()
        self.settled += 1
        self.metrics.tracking_error.set(result.tracking_error_bps)
        self.metrics.gap.set(float(result.gap))
        self._drift = [*self._drift, result.data_drift][-DRIFT_WINDOW:]
        drift = sum(self._drift)
        self.metrics.data_drift.set(drift)
        log.info(
            "parity_settled",
            session=result.session.isoformat(),
            gap=str(result.gap),
            session_gap=str(result.attribution.session_gap),
            tracking_error_bps=round(result.tracking_error_bps, 2),
            data_drift=result.data_drift,
        )
        threshold = settings.tracking_error_alert_bps
        if threshold and result.tracking_error_bps > threshold:
            message = f"tracking error {result.tracking_error_bps:.1f} bps > {threshold:g} (gap {result.gap})"
            self._alert("tracking_error", result, message)
        if result.data_drift and settings.data_drift_alert_count and drift >= settings.data_drift_alert_count:
            flips = "; ".join(f.describe() for r in result.replays if r.data_drift for f in r.flips)
            bars = "; ".join(c.describe() for r in result.replays if r.data_drift for c in r.changed_bars[:3])
            self._alert("data_drift", result, f"{drift} event(s) in {DRIFT_WINDOW} sessions: {flips} [{bars}]")

    def _alert(self, what: str, result: SessionResult, message: str) -> None:
        if self._notifier is not None:
            self._notifier.publish(ParityAlert(what, result.session.isoformat(), message, self._clock.now()))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class ParityPlugin:
    name = "parity"

    def __init__(self, trading: TradingPlugin) -> None:
        self._trading = trading
        self.runner: ParityRunner | None = None

    async def setup(self, ctx: DaemonContext) -> None:
        from alchemiser.parity.monitor import ParityMonitor, ParityStrategy  # start-up time: see the module docstring

        settings = ctx.settings.parity
        cycle, refresher, broker = self._trading.cycle, self._trading.refresher, self._trading.broker
        if cycle is None or refresher is None or broker is None:
            raise ConfigError(["parity: must be set up after the trading plugin (plugin order)"])
        if not settings.enabled:
            return
        strategies = {
            e.name: ParityStrategy(e.symphony, Decimal(e.capital_weight), e.warmup)
            for e in cycle.engines
            if isinstance(e, SymphonyEngine)
        }

        async def bars_now(symbols: Sequence[str], start: date, end: date) -> Closes:
            fetched = await broker.get_daily_bars(list(symbols), start, end)
            return {s: [(b.session_date, b.c) for b in rows] for s, rows in fetched.items()}

        def decided_bars(symbols: Sequence[str], session: date) -> Closes:
            snapshot = refresher.snapshot(symbols, session, 1)
            return {s: [(b.session_date, b.c) for b in rows] for s, rows in snapshot.bars.items()}

        planner = planner_params_from(ctx.settings.risk)  # the live planner's band, minimum trade and buffer
        monitor = ParityMonitor(ctx.store, strategies, settings, clock=ctx.clock, bars=bars_now, planner=planner)
        metrics = ParityMetrics(ctx.metrics.registry)
        runner = self.runner = ParityRunner(monitor, metrics, self._trading.notifier, ctx.clock, decided_bars)

        def reload(new: Settings, old: Settings) -> None:
            del old
            monitor.configure(new.parity)  # thresholds and the shadow's costs; enabling/disabling needs a restart
            monitor.planner = planner_params_from(new.risk)

        ctx.add_reload_listener(reload)
        ctx.add_status("parity", runner.status)
        cycle.finish_listeners.append(self.runner.on_decision)
        ctx.add_shutdown_hook(self.runner.close)
