"""The execution actor: the only code that places orders.

``execute(plan, run_id)`` runs one rebalance:

1. the run and its plan are stored (``planned``); in approval mode it waits for ``POST /api/plan/approve`` or the
   timeout; the plan-wide risk verdict is stored and may block it (a drawdown breach latches the kill switch);
2. sells, then buys, each line in its own task under a concurrency bound, worked by ``LineExecutor`` (limit ladder
   with fresh quotes and confirmed cancels, then market attempts; buys sized to the buying power available);
3. every step's client order id is derived from (run id, symbol, side, step): after a crash the same walk through
   the steps finds each existing order by that id and adopts it, so nothing is ever sent twice.

``resume()`` finds runs left unfinished by a crash and continues them (after cancelling the orders the dead process
left working), or closes them as ``abandoned_too_late`` (open orders cancelled, fills recorded) when the session is
over or about to close. ``on_kill_switch`` reacts to the latched kill switch: freeze, cancel, or flatten.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from decimal import Decimal

import structlog

from alchemiser.broker.protocol import Broker, TradeUpdateFeed
from alchemiser.clock import Clock
from alchemiser.errors import BrokerTransientError
from alchemiser.execution.approval import Decision, PlanBoard
from alchemiser.execution.fills import FillRecorder, OrderMeta
from alchemiser.execution.journal import Journal
from alchemiser.execution.line import LineExecutor, RunState
from alchemiser.execution.metrics import ExecutionMetrics
from alchemiser.execution.orders import OrderDriver, SendStatus
from alchemiser.execution.outcomes import final_status, flatten_plan, session_day_start, stored_result, unsent_line
from alchemiser.execution.params import ExecutionParams
from alchemiser.execution.ports import AuditSink, KillSwitchPort, KillSwitchStateLike
from alchemiser.execution.results import LineOutcome, LineResult, RunResult, RunStatus
from alchemiser.execution.serialize import plan_from_dict, plan_to_dict
from alchemiser.execution.tracking import OrderEvents
from alchemiser.portfolio.books import Books
from alchemiser.portfolio.planner import Plan
from alchemiser.portfolio.risk import RiskContext, RiskParams, TradingMode, check_plan
from alchemiser.process.crashpoints import crash_point
from alchemiser.store.execution import ExecutionRepository, IntentState, RunRecord

ZERO = Decimal(0)
FLATTEN_PREFIX = "flatten-"
STOP_SETTLE_SECONDS = 5.0  # wall-clock bound on waiting for in-flight store writes at stop
log = structlog.get_logger("alchemiser.execution.actor")


class ExecutionActor:
    def __init__(
        self,
        *,
        broker: Broker,
        repo: ExecutionRepository,
        clock: Clock,
        metrics: ExecutionMetrics,
        mode: TradingMode,
        risk: RiskParams | None = None,
        params: ExecutionParams | None = None,
        feed: TradeUpdateFeed | None = None,
        audit: AuditSink | None = None,
        kill_switch: KillSwitchPort | None = None,
        board: PlanBoard | None = None,
        books: Books | None = None,
    ) -> None:
        self._broker = broker
        self._repo = repo
        self._clock = clock
        self._metrics = metrics
        self._mode = mode
        self._risk = risk or RiskParams()
        self._params = params or ExecutionParams()
        self._feed = feed
        self._kill_switch = kill_switch
        self.board = board or PlanBoard(clock)
        self._journal = Journal(audit)
        self.fills = FillRecorder(repo, books or Books(), metrics, clock, self._journal)
        self.events = OrderEvents(repo, clock, self.fills.on_fill)
        self._driver = OrderDriver(broker, self.events, clock, self._params, metrics)
        self._lines = LineExecutor(
            broker=broker,
            repo=repo,
            clock=clock,
            params=self._params,
            risk=self._risk,
            metrics=metrics,
            events=self.events,
            driver=self._driver,
            recorder=self.fills,
            journal=self._journal,
            halted=lambda: self.halted,
            latch=self._latch,
        )
        self._pump: asyncio.Task[None] | None = None
        self._halted = False
        self._run_lock = asyncio.Lock()

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the strategy books and start consuming order events."""
        await self.fills.load_books()
        if self._feed is not None and self._pump is None:
            self._pump = asyncio.create_task(self.events.pump(self._feed), name="execution-events")

    async def stop(self) -> None:
        """Let in-flight store writes finish (bounded), then stop consuming events."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.events.settle(list(self.events.trackers)), timeout=STOP_SETTLE_SECONDS)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None

    @property
    def books(self) -> Books:
        """Per-strategy virtual holdings and P&L (attributed from fills)."""
        return self.fills.books

    @property
    def halted(self) -> bool:
        return self._halted or (self._kill_switch is not None and self._kill_switch.engaged)

    # ------------------------------------------------------------------------------------------ public API

    async def execute(self, plan: Plan, run_id: str) -> RunResult:
        """Execute ``plan`` as run ``run_id`` (idempotent: a finished run returns its stored result)."""
        async with self._run_lock:
            existing = await self._repo.get_run(run_id)
            if existing is not None and RunStatus(existing.status).finished:
                return stored_result(existing)
            if existing is None:
                await self._repo.create_run(run_id, mode=self._mode.value, plan=plan_to_dict(plan))
                transfers = self.books.cross_from_plan(plan)
                await self.fills.save_books()
                await self._journal.record(
                    "execution.plan",
                    run_id,
                    {"plan": plan_to_dict(plan), "book_transfers": [list(map(str, t)) for t in transfers]},
                )
                crash_point("after_plan_stored")
            else:
                plan = plan_from_dict(existing.plan)
            return await self._run(run_id, plan, previous_status=existing.status if existing else None)

    async def run_result(self, run_id: str) -> RunResult | None:
        """The stored result of a finished run; None if the run is unknown or unfinished."""
        record = await self._repo.get_run(run_id)
        if record is None or not RunStatus(record.status).finished:
            return None
        return stored_result(record)

    async def resume(self) -> list[RunResult]:
        """Continue (or close, when too late) every run a crash left unfinished."""
        results: list[RunResult] = []
        for record in await self._repo.unfinished_runs():
            async with self._run_lock:
                too_late, why = await self._too_late()
                await self._journal.record("execution.resume", record.run_id, {"too_late": too_late, "why": why})
                log.warning("execution.resume", run_id=record.run_id, status=record.status, too_late=too_late)
                if too_late:
                    results.append(await self._abandon(record, why))
                elif record.run_id.startswith(FLATTEN_PREFIX):
                    await self._settle_open_orders(record.run_id, mark_unsent=False)
                    results.append(await self._run_flatten(record.run_id, plan_from_dict(record.plan)))
                else:
                    plan = plan_from_dict(record.plan)
                    results.append(await self._run(record.run_id, plan, previous_status=record.status))
        return results

    async def on_kill_switch(self, state: KillSwitchStateLike) -> None:
        """Kill-switch listener: freeze (nothing more), cancel open orders, or flatten every position."""
        if not state.engaged:
            self._halted = False
            return
        action = state.action or self._risk.kill_switch_action.value
        await self._journal.record("execution.kill_switch", None, {"action": action})
        if action in ("cancel", "flatten"):
            await self.cancel_all_open()
        if action == "flatten":
            await self.flatten()

    async def cancel_all_open(self) -> int:
        """Cancel every open order at the broker and confirm each; returns how many were open."""
        orders = await self._broker.list_orders(status="open")
        for order in orders:
            tracker = await self.events.track(order.client_order_id)
            await self.events.apply_snapshot(order)
            confirmed = await self._driver.cancel_and_confirm(tracker)
            await self._journal.record(
                "execution.cancel", None, {"client_order_id": order.client_order_id, "confirmed": confirmed}
            )
        return len(orders)

    async def flatten(self) -> RunResult:
        """Sell every position at market (kill switch ``flatten``). Market hours still apply.

        Waits for a running rebalance to wind down first (its lines stop at their next step once the switch is
        latched, and ``cancel_all_open`` has cancelled their orders), so no buy of it can land after the sells."""
        async with self._run_lock:
            return await self._flatten()

    async def _flatten(self) -> RunResult:
        positions = await self._broker.list_positions()
        run_id = f"{FLATTEN_PREFIX}{self._clock.now().strftime('%Y%m%dT%H%M%S')}"
        plan = flatten_plan(positions)
        await self._repo.create_run(run_id, mode=self._mode.value, plan=plan_to_dict(plan), status="executing")
        await self._journal.record("execution.plan", run_id, {"plan": plan_to_dict(plan), "flatten": True})
        return await self._run_flatten(run_id, plan)

    async def _run_flatten(self, run_id: str, plan: Plan) -> RunResult:
        """Market sells of every line (also the path a flatten interrupted by a crash resumes on)."""
        context = await self._context()
        state = RunState(run_id, context, flatten=True, fill_notional_at_start=self.fills.fill_notional)
        results = await self._gather([self._lines.execute(state, line) for line in plan.sells])
        return await self._finish(run_id, final_status(results, halted=False), results, "kill switch flatten")

    # ------------------------------------------------------------------------------------------ the run

    async def _run(self, run_id: str, plan: Plan, *, previous_status: str | None) -> RunResult:
        self.board.show(run_id, "planned", plan=plan_to_dict(plan))
        if self._params.approval_mode and previous_status in (None, "planned", "awaiting_approval"):
            await self._repo.set_run_status(run_id, RunStatus.AWAITING_APPROVAL.value)
            self.board.show(run_id, RunStatus.AWAITING_APPROVAL.value)
            decision = await self.board.await_approval(run_id, self._params.approval_timeout_seconds)
            await self._journal.record(
                "execution.approval", run_id, {"decision": decision.value}, actor=self.board.decided_by or "timeout"
            )
            if decision is Decision.TIMED_OUT:
                return await self._finish(run_id, RunStatus.APPROVAL_TIMEOUT, (), "no approval before the timeout")
            if decision is Decision.REJECTED:
                return await self._finish(run_id, RunStatus.REJECTED_BY_OPERATOR, (), "rejected by the operator")

        context = await self._context()
        blocked_symbols: frozenset[str]
        reasons: dict[str, str] = {}
        record = await self._repo.get_run(run_id)
        if previous_status == RunStatus.EXECUTING.value and record is not None and record.verdict is not None:
            # resumed mid-run: the plan passed its checks before the crash; the account has moved since (our own
            # fills), so re-checking plan-wide limits would be wrong. Every order is still checked before sending.
            blocked_symbols = frozenset(record.verdict.get("blocked_symbols", []))
            await self._journal.record("execution.resumed", run_id, {"blocked_symbols": sorted(blocked_symbols)})
            await self._settle_open_orders(run_id, mark_unsent=False)
        else:
            verdict = check_plan(plan, context, self._risk)
            await self._repo.set_run_status(run_id, RunStatus.EXECUTING.value, verdict=verdict.as_dict())
            self.board.show(run_id, RunStatus.EXECUTING.value, verdict=verdict.as_dict())
            await self._journal.record("execution.risk_verdict", run_id, verdict.as_dict())
            if verdict.latch_kill_switch:
                await self._latch(verdict.kill_switch_reason, "risk.drawdown_guard")
            if not verdict.allowed:
                names = tuple(sorted({r.rule.value for r in verdict.blocking if r.symbol is None}))
                detail = "; ".join(r.message for r in verdict.blocking if r.symbol is None)
                lines = tuple(
                    unsent_line(line, LineOutcome.NOT_STARTED, f"plan blocked: {', '.join(names)}")
                    for line in plan.trades
                )
                return await self._finish(run_id, RunStatus.BLOCKED, lines, detail, blocked_by=names)
            blocked_symbols = verdict.blocked_symbols
            reasons = {r.symbol: f"{r.rule.value}: {r.message}" for r in verdict.blocking if r.symbol is not None}

        state = RunState(run_id, context, fill_notional_at_start=self.fills.fill_notional)
        sells = [ln for ln in plan.sells if ln.symbol not in blocked_symbols]
        sell_results = await self._gather([self._lines.execute(state, line) for line in sells])
        state.failed_sells = sum(1 for r in sell_results if r.outcome is not LineOutcome.FILLED)
        state.buying = True
        buys = [ln for ln in plan.buys if ln.symbol not in blocked_symbols]
        buy_results = await self._gather([self._lines.execute(state, line) for line in buys])
        blocked_lines = tuple(
            unsent_line(line, LineOutcome.BLOCKED, reasons.get(line.symbol, "blocked by a per-symbol risk rule"))
            for line in plan.trades
            if line.symbol in blocked_symbols
        )
        results = (*sell_results, *buy_results, *blocked_lines)
        await self._update_exposure()
        return await self._finish(run_id, final_status(results, halted=self.halted), results, "")

    async def _gather(self, coroutines: Sequence[Awaitable[LineResult]]) -> tuple[LineResult, ...]:
        semaphore = asyncio.Semaphore(self._params.max_concurrent_orders)

        async def bounded(coro: Awaitable[LineResult]) -> LineResult:
            async with semaphore:
                return await coro

        # a line that raises (an outage outlasting the client's retries) fails the run: its sibling lines are
        # cancelled rather than left working orders unobserved; the run stays ``executing`` and resumes from the store
        tasks = [asyncio.ensure_future(bounded(c)) for c in coroutines]
        try:
            return tuple(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    # ------------------------------------------------------------------------------------------ helpers

    async def _context(self) -> RiskContext:
        account = await self._broker.get_account()
        market = await self._broker.get_clock()
        hwm = await self._repo.raise_high_water_mark(account.equity)
        day_start = session_day_start(self._clock.now())
        orders, notional = await self._repo.orders_since(day_start)
        bought, sold = await self._repo.symbols_traded_since(day_start)
        self.fills.bought_today |= bought
        self.fills.sold_today |= sold
        return RiskContext(
            mode=self._mode,
            market_open=market.is_open,
            equity=account.equity,
            cash=account.cash,
            buying_power=account.buying_power,
            high_water_mark=hwm,
            kill_switch_latched=self.halted,
            orders_today=orders,
            notional_today=notional,
            bought_today=frozenset(self.fills.bought_today),
            sold_today=frozenset(self.fills.sold_today),
        )

    async def _too_late(self) -> tuple[bool, str]:
        market = await self._broker.get_clock()
        now = self._clock.now()
        enforced = self._risk.market_hours_enforced or self._mode is TradingMode.LIVE
        if not market.is_open:
            return (True, f"market closed at {now.isoformat()}") if enforced else (False, "")
        left = (market.next_close - now).total_seconds() / 60
        if left < self._params.resume_cutoff_minutes:
            return True, f"{left:.1f} minutes to the close (< {self._params.resume_cutoff_minutes})"
        return False, ""

    async def _settle_open_orders(self, run_id: str, *, mark_unsent: bool) -> None:
        """Reconcile every intent of a run found after a restart by client order id: orders still open at the
        broker (their ladder timing died with the old process, and they hold buying power) are cancelled and the
        cancel confirmed; with ``mark_unsent`` intents the broker never saw are closed as ``not_sent``."""
        for intent in await self._repo.intents_for_run(run_id):
            if intent.state in (IntentState.REJECTED, IntentState.NOT_SENT, IntentState.CLOSED):
                continue
            self.fills.remember(
                intent.client_order_id,
                OrderMeta(intent.run_id, intent.symbol, intent.side, intent.reference_price or ZERO),
            )
            tracker = await self.events.track(intent.client_order_id)
            found = await self._driver.lookup(intent.client_order_id)
            if found.status is SendStatus.NOT_FOUND and intent.state == IntentState.INTENT and mark_unsent:
                await self._repo.mark_intent(intent.client_order_id, IntentState.NOT_SENT)
            elif found.status is SendStatus.SENT and not tracker.terminal:
                confirmed = await self._driver.cancel_and_confirm(tracker)
                await self._journal.record(
                    "execution.resume_cancel", run_id, {"confirmed": confirmed}, order_id=intent.client_order_id
                )

    async def _abandon(self, record: RunRecord, why: str) -> RunResult:
        await self._settle_open_orders(record.run_id, mark_unsent=True)
        return await self._finish(record.run_id, RunStatus.ABANDONED_TOO_LATE, (), why)

    async def _latch(self, reason: str, by: str) -> None:
        self._halted = True
        if self._kill_switch is not None and not self._kill_switch.engaged:
            await self._kill_switch.engage(reason=reason, by=by, action=self._risk.kill_switch_action.value)

    async def _update_exposure(self) -> None:
        try:
            account = await self._broker.get_account()
            positions = await self._broker.list_positions()
        except BrokerTransientError as exc:
            log.warning("execution.exposure_unavailable", error=str(exc))
            return
        self._metrics.cash.set(float(account.cash))
        self._metrics.exposure.set(float(sum((abs(p.market_value or ZERO) for p in positions), ZERO)))

    async def _finish(
        self,
        run_id: str,
        status: RunStatus,
        lines: Sequence[LineResult],
        detail: str,
        blocked_by: tuple[str, ...] = (),
    ) -> RunResult:
        result = RunResult(run_id=run_id, status=status, lines=tuple(lines), detail=detail, blocked_by=blocked_by)
        for coid in [c for c, m in self.fills.meta.items() if m.run_id == run_id]:
            tracker = self.events.trackers.get(coid)
            if tracker is None or tracker.terminal:  # open orders stay tracked (a late fill is still recorded)
                self.fills.meta.pop(coid, None)
                self.events.trackers.pop(coid, None)
        await self._repo.set_run_status(run_id, status.value, detail=detail, result=result.as_dict(), finished=True)
        self._metrics.runs.labels(status=status.value).inc()
        self.board.show(run_id, status.value, result=result.as_dict())
        await self._journal.record("execution.run_finished", run_id, result.as_dict())
        # routine when completed: the decision line says how it went
        level = log.debug if status.value == "completed" else log.info
        level("execution.run_finished", run_id=run_id, status=status.value, detail=detail)
        return result
