"""The execution actor: the only code that places orders.

``execute(plan, run_id)`` runs one rebalance:

1. the run and its plan are stored (``planned``); in approval mode it waits for ``POST /api/plan/approve`` or the
   timeout; the plan-wide risk verdict is stored and may block it (a drawdown breach latches the kill switch);
2. sells, then buys, each line in its own task under a concurrency bound. Per line a limit ladder: at each step a
   fresh quote, the remaining quantity, a limit price a fraction of the spread from the near side, a pre-trade risk
   check, the intent written to the store, the order sent, a wait driven by its events (REST-verified by the ack
   watchdog), and a confirmed cancel before the next step; then a market order for the remainder unless the collar
   (or ``market_fallback = false``) forbids it. Buys are sized to the cash left after the sells;
3. every step's client order id is derived from (run id, symbol, side, step): after a crash the same walk through
   the steps finds each existing order by that id and adopts it, so nothing is ever sent twice.

``resume()`` finds runs left unfinished by a crash and continues them, or closes them as ``abandoned_too_late``
(their open orders cancelled, their fills recorded) when the session is over or about to close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import structlog

from alchemiser.broker.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from alchemiser.broker.models import OrderRequest, Position, Quote
from alchemiser.broker.protocol import Broker, TradeUpdateFeed
from alchemiser.clock import Clock
from alchemiser.errors import BrokerError, BrokerTransientError
from alchemiser.execution.approval import Decision, PlanBoard
from alchemiser.execution.ids import MARKET_ATTEMPTS, MARKET_STEP, client_order_id
from alchemiser.execution.ladder import far_side, ladder_price, usable
from alchemiser.execution.metrics import ExecutionMetrics
from alchemiser.execution.orders import OrderDriver, SendStatus
from alchemiser.execution.params import ExecutionParams
from alchemiser.execution.ports import AuditSink, KillSwitchPort, KillSwitchStateLike
from alchemiser.execution.results import LineOutcome, LineResult, RunResult, RunStatus
from alchemiser.execution.serialize import plan_from_dict, plan_to_dict
from alchemiser.execution.state import FillDelta, OrderTracker
from alchemiser.execution.tracking import OrderEvents
from alchemiser.portfolio.books import Books
from alchemiser.portfolio.planner import LineReason, LineSide, Plan, PlanLine, PlanTotals
from alchemiser.portfolio.risk import (
    OrderCheck,
    RiskContext,
    RiskParams,
    RuleName,
    TradingMode,
    check_order,
    check_plan,
)
from alchemiser.store.execution import ExecutionRepository, FillRecord, IntentState, RunRecord

NEW_YORK = ZoneInfo("America/New_York")
MARKET_BUY_MARGIN = Decimal("0.005")  # a market buy is sized as if it paid this much above the ask
STOP_SETTLE_SECONDS = 5.0  # wall-clock bound on waiting for in-flight store writes at stop
ZERO = Decimal(0)
log = structlog.get_logger("alchemiser.execution.actor")


@dataclass(slots=True)
class _OrderMeta:
    run_id: str
    symbol: str
    side: OrderSide
    reference_price: Decimal
    submitted_at: datetime | None = None
    sent_here: bool = False  # sent by this process (not adopted after a restart)


@dataclass(slots=True)
class _RunState:
    run_id: str
    context: RiskContext
    failed_sells: int = 0
    buying: bool = False  # in the buy phase: size buys to the money actually available
    flatten: bool = False
    sent_orders: int = 0
    fill_notional_at_start: Decimal = ZERO


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
        self._audit = audit
        self._kill_switch = kill_switch
        self.board = board or PlanBoard(clock)
        self.books = books or Books()
        self.events = OrderEvents(repo, clock, self._on_fill)
        self._driver = OrderDriver(broker, self.events, clock, self._params, metrics)
        self._meta: dict[str, _OrderMeta] = {}
        self._pump: asyncio.Task[None] | None = None
        self._halted = False
        self._bought_today: set[str] = set()
        self._sold_today: set[str] = set()
        self._run_lock = asyncio.Lock()
        self._blocked_reasons: dict[str, dict[str, str]] = {}
        self._buy_lock = asyncio.Lock()
        self._fill_notional = ZERO  # notional of fills recorded by this process (daily cap bookkeeping)

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the strategy books and start consuming order events."""
        holdings, pending = await self._repo.load_books()
        for strategy, symbols in holdings.items():
            book = self.books.book(strategy)
            for symbol, (qty, cost, realized) in symbols.items():
                held = book.holding(symbol)
                held.qty, held.cost, held.realized_pnl = qty, cost, realized
        self.books.pending = {s: dict(p) for s, p in pending.items()}
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
    def halted(self) -> bool:
        return self._halted or (self._kill_switch is not None and self._kill_switch.engaged)

    # ------------------------------------------------------------------------------------------ public API

    async def execute(self, plan: Plan, run_id: str) -> RunResult:
        """Execute ``plan`` as run ``run_id`` (idempotent: a finished run returns its stored result)."""
        async with self._run_lock:
            existing = await self._repo.get_run(run_id)
            if existing is not None and RunStatus(existing.status).finished:
                return _stored_result(existing)
            if existing is None:
                await self._repo.create_run(run_id, mode=self._mode.value, plan=plan_to_dict(plan))
                transfers = self.books.cross_from_plan(plan)
                await self._save_books()
                await self._audit_event(
                    "execution.plan",
                    run_id,
                    {"plan": plan_to_dict(plan), "book_transfers": [list(map(str, t)) for t in transfers]},
                )
            else:
                plan = plan_from_dict(existing.plan)
            return await self._run(run_id, plan, previous_status=existing.status if existing else None)

    async def run_result(self, run_id: str) -> RunResult | None:
        """The stored result of a finished run; None if the run is unknown or unfinished."""
        record = await self._repo.get_run(run_id)
        if record is None or not RunStatus(record.status).finished:
            return None
        return _stored_result(record)

    async def resume(self) -> list[RunResult]:
        """Continue (or close, when too late) every run a crash left unfinished."""
        results: list[RunResult] = []
        for record in await self._repo.unfinished_runs():
            async with self._run_lock:
                too_late, why = await self._too_late()
                await self._audit_event("execution.resume", record.run_id, {"too_late": too_late, "why": why})
                log.warning("execution.resume", run_id=record.run_id, status=record.status, too_late=too_late)
                if too_late:
                    results.append(await self._abandon(record, why))
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
        await self._audit_event("execution.kill_switch", None, {"action": action})
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
            await self._audit_event(
                "execution.cancel", None, {"client_order_id": order.client_order_id, "confirmed": confirmed}
            )
        return len(orders)

    async def flatten(self) -> RunResult:
        """Sell every position at market (kill switch ``flatten``). Market hours still apply."""
        positions = await self._broker.list_positions()
        run_id = f"flatten-{self._clock.now().strftime('%Y%m%dT%H%M%S')}"
        plan = _flatten_plan(positions)
        await self._repo.create_run(run_id, mode=self._mode.value, plan=plan_to_dict(plan), status="executing")
        context = await self._context()
        state = _RunState(run_id, context, flatten=True, fill_notional_at_start=self._fill_notional)
        results = await self._gather([self._execute_line(state, line) for line in plan.sells])
        return await self._finish(run_id, _final_status(results, halted=False), results, "kill switch flatten")

    # ------------------------------------------------------------------------------------------ the run

    async def _run(self, run_id: str, plan: Plan, *, previous_status: str | None) -> RunResult:
        self.board.show(run_id, "planned", plan=plan_to_dict(plan))
        if self._params.approval_mode and previous_status in (None, "planned", "awaiting_approval"):
            await self._repo.set_run_status(run_id, RunStatus.AWAITING_APPROVAL.value)
            self.board.show(run_id, RunStatus.AWAITING_APPROVAL.value)
            decision = await self.board.await_approval(run_id, self._params.approval_timeout_seconds)
            await self._audit_event("execution.approval", run_id, {"decision": decision.value}, actor="operator")
            if decision is Decision.TIMED_OUT:
                return await self._finish(run_id, RunStatus.APPROVAL_TIMEOUT, (), "no approval before the timeout")
            if decision is Decision.REJECTED:
                return await self._finish(run_id, RunStatus.REJECTED_BY_OPERATOR, (), "rejected by the operator")

        context = await self._context()
        blocked_symbols: frozenset[str]
        record = await self._repo.get_run(run_id)
        if previous_status == RunStatus.EXECUTING.value and record is not None and record.verdict is not None:
            # resumed mid-run: the plan passed its checks before the crash; the account has moved since (our own
            # fills), so re-checking plan-wide limits would be wrong. Every order is still checked before sending.
            blocked_symbols = frozenset(record.verdict.get("blocked_symbols", []))
            await self._audit_event("execution.resumed", run_id, {"blocked_symbols": sorted(blocked_symbols)})
            await self._settle_open_orders(run_id, mark_unsent=False)
        else:
            verdict = check_plan(plan, context, self._risk)
            await self._repo.set_run_status(run_id, RunStatus.EXECUTING.value, verdict=verdict.as_dict())
            self.board.show(run_id, RunStatus.EXECUTING.value, verdict=verdict.as_dict())
            await self._audit_event("execution.risk_verdict", run_id, verdict.as_dict())
            if verdict.latch_kill_switch:
                await self._latch(verdict.kill_switch_reason, "risk.drawdown_guard")
            if not verdict.allowed:
                names = tuple(sorted({r.rule.value for r in verdict.blocking if r.symbol is None}))
                detail = "; ".join(r.message for r in verdict.blocking if r.symbol is None)
                lines = tuple(_not_started(line, f"plan blocked: {', '.join(names)}") for line in plan.trades)
                return await self._finish(run_id, RunStatus.BLOCKED, lines, detail, blocked_by=names)
            blocked_symbols = verdict.blocked_symbols
            self._blocked_reasons[run_id] = {
                r.symbol: f"{r.rule.value}: {r.message}" for r in verdict.blocking if r.symbol is not None
            }

        state = _RunState(run_id, context, fill_notional_at_start=self._fill_notional)
        sells = [ln for ln in plan.sells if ln.symbol not in blocked_symbols]
        sell_results = await self._gather([self._execute_line(state, line) for line in sells])
        state.failed_sells = sum(1 for r in sell_results if r.outcome is not LineOutcome.FILLED)
        state.buying = True
        buys = [ln for ln in plan.buys if ln.symbol not in blocked_symbols]
        buy_results = await self._gather([self._execute_line(state, line) for line in buys])
        reasons = self._blocked_reasons.pop(run_id, {})
        blocked_lines = tuple(
            _blocked_line(line, reasons.get(line.symbol, "blocked by a per-symbol risk rule"))
            for line in plan.trades
            if line.symbol in blocked_symbols
        )
        results = (*sell_results, *buy_results, *blocked_lines)
        await self._update_exposure()
        return await self._finish(run_id, _final_status(results, halted=self.halted), results, "")

    async def _gather(self, coroutines: Sequence[Awaitable[LineResult]]) -> tuple[LineResult, ...]:
        semaphore = asyncio.Semaphore(self._params.max_concurrent_orders)

        async def bounded(coro: Awaitable[LineResult]) -> LineResult:
            async with semaphore:
                return await coro

        return tuple(await asyncio.gather(*(bounded(c) for c in coroutines)))

    # ------------------------------------------------------------------------------------------ one line

    async def _execute_line(self, state: _RunState, line: PlanLine) -> LineResult:
        side = line.side.to_order_side()
        target = line.order_qty
        coids: list[str] = []
        step_reached = -1
        failure: tuple[LineOutcome, str] | None = None
        sized_down = ""
        market_open = await self._market_open()
        market_steps = [MARKET_STEP + i for i in range(MARKET_ATTEMPTS)]
        steps = market_steps if state.flatten else [*range(len(self._params.ladder_steps)), *market_steps]
        for step in steps:
            remaining = target - self.events.filled_qty(coids)
            if remaining <= 0:
                break
            if self.halted and not state.flatten:
                failure = (LineOutcome.BLOCKED, f"{RuleName.KILL_SWITCH.value}: kill switch latched during the run")
                break
            is_market = step >= MARKET_STEP
            if is_market and not self._params.market_fallback:
                failure = (LineOutcome.UNFILLED, "limit ladder exhausted; market fallback disabled")
                break
            coid = client_order_id(state.run_id, line.symbol, side, step)
            self._meta.setdefault(coid, _OrderMeta(state.run_id, line.symbol, side, line.price))
            tracker = await self.events.track(coid)
            intent = await self._repo.get_intent(coid)
            if intent is not None:
                if intent.state == IntentState.REJECTED:
                    coids.append(coid)
                    step_reached = step
                    failure = (LineOutcome.REJECTED, intent.reject_reason or "rejected")
                    break
                if intent.state == IntentState.NOT_SENT:
                    continue
                found = await self._driver.lookup(coid)
                if found.status is SendStatus.SENT:
                    coids.append(coid)
                    step_reached = step
                    if not await self._finish_step(tracker, is_market, line.symbol, state):
                        failure = (LineOutcome.UNRESOLVED, f"cancel of {coid} not confirmed")
                        break
                    continue
                if found.status is SendStatus.UNKNOWN:
                    coids.append(coid)
                    failure = (LineOutcome.UNRESOLVED, f"{coid}: {found.reason}")
                    break
                if intent.state not in (IntentState.INTENT, IntentState.UNKNOWN):
                    coids.append(coid)
                    failure = (LineOutcome.UNRESOLVED, f"{coid} was recorded as sent but the broker does not know it")
                    break
                # NOT_FOUND for an intent never confirmed sent: the broker never saw it; send it now, same id.
            quote = await self._quote(line.symbol)
            if quote is None or not usable(quote):
                if is_market:
                    failure = (LineOutcome.BLOCKED, f"{RuleName.LIMIT_COLLAR.value}: no usable quote to check")
                    break
                continue
            price = far_side(quote, side) if is_market else ladder_price(quote, side, self._params.ladder_steps[step])
            qty = remaining
            if qty != qty.to_integral_value() and qty * price < self._params.min_order_notional:
                failure = (LineOutcome.PARTIALLY_FILLED, "remainder below the broker's minimum order value")
                break
            buy_sizing = side is OrderSide.BUY and state.buying
            if buy_sizing:
                # capacity read → check → intent → send is serialised across buy lines, so two lines never
                # spend the same buying power (the broker's buying power reflects each sent order's hold)
                await self._buy_lock.acquire()
            try:
                available: Decimal | None = None
                if buy_sizing:
                    available = await self._buy_capacity()
                    sizing_price = price * (1 + MARKET_BUY_MARGIN) if is_market else price
                    fitted = _fit_to_budget(qty, sizing_price, available, line.fractionable)
                    if fitted <= 0 or (
                        fitted != fitted.to_integral_value() and fitted * price < self._params.min_order_notional
                    ):
                        failure = (
                            LineOutcome.BLOCKED,
                            f"{RuleName.BUYING_POWER.value}: {available:.2f} available for {line.symbol}, "
                            f"needs {qty * sizing_price:.2f}",
                        )
                        break
                    if fitted < qty:
                        sized_down = f"{RuleName.BUYING_POWER.value}: step {step} sized down to the cash available"
                    qty = fitted
                verdict = check_order(
                    OrderCheck(line.symbol, side, qty, price, line.price, is_flatten=state.flatten),
                    self._order_context(state, market_open, available),
                    self._risk,
                )
                if verdict.latch_kill_switch:
                    await self._latch(verdict.kill_switch_reason, "risk.drawdown_guard")
                if verdict.blocking:
                    first = verdict.blocking[0]
                    self._metrics.rejects.labels(reason=first.rule.value).inc()
                    await self._audit_event("execution.order_blocked", state.run_id, verdict.as_dict(), order_id=coid)
                    failure = (LineOutcome.BLOCKED, f"{first.rule.value}: {first.message}")
                    break
                order_type = OrderType.MARKET if is_market else OrderType.LIMIT
                await self._repo.add_intent(
                    client_order_id=coid,
                    run_id=state.run_id,
                    symbol=line.symbol,
                    side=side,
                    step=step,
                    order_type=order_type,
                    qty=qty,
                    limit_price=None if is_market else price,
                    reference_price=line.price,
                )
                request = OrderRequest(
                    symbol=line.symbol,
                    side=side,
                    type=order_type,
                    time_in_force=TimeInForce.DAY,
                    client_order_id=coid,
                    qty=qty,
                    limit_price=None if is_market else price,
                )
                self._meta[coid].submitted_at = self._clock.now()
                self._meta[coid].sent_here = True
                outcome = await self._driver.submit(request)
            finally:
                if buy_sizing:
                    self._buy_lock.release()
            coids.append(coid)
            step_reached = step
            if outcome.status is SendStatus.REJECTED:
                await self._repo.mark_intent(coid, IntentState.REJECTED, reject_reason=outcome.reason)
                self._metrics.rejects.labels(reason=outcome.error_type or "rejected").inc()
                await self._audit_event(
                    "execution.order_rejected", state.run_id, {"reason": outcome.reason}, order_id=coid
                )
                failure = (LineOutcome.REJECTED, outcome.reason)
                break
            if outcome.status is not SendStatus.SENT:
                await self._repo.mark_intent(coid, IntentState.UNKNOWN, reject_reason=outcome.reason)
                self._metrics.unresolved.inc()
                failure = (LineOutcome.UNRESOLVED, outcome.reason or "send outcome unknown")
                break
            state.sent_orders += 1
            await self._audit_event(
                "execution.order_sent",
                state.run_id,
                {
                    "symbol": line.symbol,
                    "side": side.value,
                    "qty": str(qty),
                    "type": order_type.value,
                    "limit_price": None if is_market else str(price),
                    "step": step,
                },
                order_id=coid,
            )
            confirmed = await self._finish_step(tracker, is_market, line.symbol, state)
            if not confirmed:
                self._metrics.unresolved.inc()
                failure = (LineOutcome.UNRESOLVED, f"cancel of {coid} not confirmed; not sending another order")
                break
        if failure is None and sized_down:
            failure = (LineOutcome.PARTIALLY_FILLED, sized_down)
        await self.events.settle(coids)
        return self._line_result(
            line, side=side, target=target, coids=coids, step_reached=step_reached, failure=failure
        )

    async def _finish_step(self, tracker: OrderTracker, is_market: bool, symbol: str, state: _RunState) -> bool:
        """Wait for the step's order, then cancel it if still open. True when the order ended (confirmed)."""
        wait = self._params.step_wait_seconds
        if is_market:
            wait = max(wait, self._params.ack_sla_seconds * 3)
        await self._driver.wait(tracker, self._clock.now() + timedelta(seconds=wait))
        confirmed = tracker.terminal or await self._driver.cancel_and_confirm(tracker)
        await self.events.settle([tracker.client_order_id])
        return confirmed

    def _line_result(
        self,
        line: PlanLine,
        *,
        side: OrderSide,
        target: Decimal,
        coids: list[str],
        step_reached: int,
        failure: tuple[LineOutcome, str] | None,
    ) -> LineResult:
        filled = self.events.filled_qty(coids)
        value = ZERO
        for coid in coids:
            order = self.events.tracker(coid).order
            if order is not None and order.filled_qty > 0 and order.filled_avg_price is not None:
                value += order.filled_qty * order.filled_avg_price
        avg = (value / filled).quantize(Decimal("0.000001")) if filled > 0 else None
        if filled >= target:
            outcome, reason = LineOutcome.FILLED, ""
        elif failure is not None:
            outcome, reason = failure
            if outcome in (LineOutcome.BLOCKED, LineOutcome.REJECTED, LineOutcome.UNFILLED) and filled > 0:
                outcome, reason = LineOutcome.PARTIALLY_FILLED, f"{failure[0].value}: {failure[1]}"
        elif filled > 0:
            outcome, reason = LineOutcome.PARTIALLY_FILLED, "ladder ended with quantity left"
        else:
            outcome, reason = LineOutcome.UNFILLED, "no step filled"
        if step_reached >= 0:
            label = "market" if step_reached >= MARKET_STEP else str(step_reached)
            self._metrics.ladder_step.labels(step=label).inc()
        return LineResult(
            symbol=line.symbol,
            side=side,
            requested_qty=target,
            filled_qty=filled,
            avg_price=avg,
            outcome=outcome,
            reason=reason,
            step_reached=step_reached,
            client_order_ids=tuple(coids),
        )

    # ------------------------------------------------------------------------------------------ fills

    async def _on_fill(self, fill: FillDelta) -> None:
        meta = self._meta.get(fill.client_order_id)
        if meta is None:
            intent = await self._repo.get_intent(fill.client_order_id)
            if intent is None:
                log.warning("execution.fill_for_unknown_order", client_order_id=fill.client_order_id)
                return
            meta = _OrderMeta(intent.run_id, intent.symbol, intent.side, intent.reference_price or fill.price)
            self._meta[fill.client_order_id] = meta
        record = FillRecord(
            fill_key=fill.key,
            client_order_id=fill.client_order_id,
            broker_order_id=fill.order_id,
            run_id=meta.run_id,
            symbol=fill.symbol,
            side=meta.side,
            qty=fill.qty,
            price=fill.price,
            cum_qty=fill.cum_qty,
            filled_at=fill.at,
            source=fill.source,
        )
        async with self._repo.store.transaction():
            new = await self._repo.add_fill(record)
            if new:
                self.books.apply_fill(fill.symbol, meta.side, fill.qty, fill.price)
                await self._save_books()
        if not new:
            return
        (self._bought_today if meta.side is OrderSide.BUY else self._sold_today).add(fill.symbol)
        self._fill_notional += fill.qty * fill.price
        self._metrics.observe_slippage(meta.side, fill.price, meta.reference_price)
        tracker = self.events.tracker(fill.client_order_id)
        if tracker.status is OrderStatus.FILLED and meta.submitted_at is not None:
            self._metrics.submit_to_fill.observe((self._clock.now() - meta.submitted_at).total_seconds())
            meta.submitted_at = None
        await self._audit_event(
            "execution.fill",
            meta.run_id,
            {
                "symbol": fill.symbol,
                "side": meta.side.value,
                "qty": str(fill.qty),
                "price": str(fill.price),
                "cum_qty": str(fill.cum_qty),
                "source": fill.source,
            },
            order_id=fill.client_order_id,
        )

    async def _save_books(self) -> None:
        holdings = {
            name: {s: (h.qty, h.cost, h.realized_pnl) for s, h in book.holdings.items()}
            for name, book in self.books.books.items()
        }
        await self._repo.save_books(holdings, self.books.pending)

    # ------------------------------------------------------------------------------------------ helpers

    async def _context(self) -> RiskContext:
        account = await self._broker.get_account()
        market = await self._broker.get_clock()
        hwm = await self._repo.raise_high_water_mark(account.equity)
        day_start = _session_day_start(self._clock.now())
        orders, notional = await self._repo.orders_since(day_start)
        bought, sold = await self._repo.symbols_traded_since(day_start)
        self._bought_today |= bought
        self._sold_today |= sold
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
            bought_today=frozenset(self._bought_today),
            sold_today=frozenset(self._sold_today),
        )

    def _order_context(self, state: _RunState, market_open: bool, available: Decimal | None) -> RiskContext:
        context = replace(
            state.context,
            market_open=market_open,
            kill_switch_latched=self.halted,
            orders_today=state.context.orders_today + state.sent_orders,
            notional_today=state.context.notional_today + self._fill_notional - state.fill_notional_at_start,
            failed_sells=state.failed_sells,
            bought_today=frozenset(self._bought_today),
            sold_today=frozenset(self._sold_today),
        )
        if available is not None:
            context = replace(context, cash=available, buying_power=available, committed_buy_notional=ZERO)
        return context

    async def _buy_capacity(self) -> Decimal:
        """Money for one more buy now: ``min(cash, buying_power)`` read fresh from the broker.

        The broker's buying power already holds back what our open buy orders may spend (Alpaca and the simulated
        exchange both do), and this line has no open order when it asks; cash keeps a margin account from borrowing.
        Callers hold ``_buy_lock`` from this read until their order is sent.
        """
        account = await self._broker.get_account()
        available = max(ZERO, min(account.cash, account.buying_power))
        log.debug(
            "execution.buy_capacity",
            cash=str(account.cash),
            buying_power=str(account.buying_power),
            available=str(available),
        )
        return available

    async def _market_open(self) -> bool:
        try:
            return (await self._broker.get_clock()).is_open
        except BrokerTransientError as exc:
            log.warning("execution.clock_unavailable", error=str(exc))
            return False

    async def _quote(self, symbol: str) -> Quote | None:
        try:
            quotes = await self._broker.get_latest_quotes([symbol])
        except BrokerError as exc:
            log.warning("execution.quote_unavailable", symbol=symbol, error=str(exc))
            return None
        return quotes.get(symbol)

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
            self._meta.setdefault(
                intent.client_order_id,
                _OrderMeta(intent.run_id, intent.symbol, intent.side, intent.reference_price or ZERO),
            )
            tracker = await self.events.track(intent.client_order_id)
            found = await self._driver.lookup(intent.client_order_id)
            if found.status is SendStatus.NOT_FOUND and intent.state == IntentState.INTENT and mark_unsent:
                await self._repo.mark_intent(intent.client_order_id, IntentState.NOT_SENT)
            elif found.status is SendStatus.SENT and not tracker.terminal:
                confirmed = await self._driver.cancel_and_confirm(tracker)
                await self._audit_event(
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
        for coid in [c for c, m in self._meta.items() if m.run_id == run_id]:
            tracker = self.events.trackers.get(coid)
            if tracker is None or tracker.terminal:  # open orders stay tracked (a late fill is still recorded)
                self._meta.pop(coid, None)
                self.events.trackers.pop(coid, None)
        await self._repo.set_run_status(run_id, status.value, detail=detail, result=result.as_dict(), finished=True)
        self._metrics.runs.labels(status=status.value).inc()
        self.board.show(run_id, status.value, result=result.as_dict())
        await self._audit_event("execution.run_finished", run_id, result.as_dict())
        log.info("execution.run_finished", run_id=run_id, status=status.value, detail=detail)
        return result

    async def _audit_event(
        self,
        kind: str,
        run_id: str | None,
        data: dict[str, object],
        *,
        order_id: str | None = None,
        actor: str = "execution",
    ) -> None:
        if self._audit is None:
            return
        payload = dict(data)
        if run_id is not None:
            payload["execution_run_id"] = run_id
        await self._audit.append(kind, actor=actor, data=payload, order_id=order_id)


def _fit_to_budget(qty: Decimal, price: Decimal, available: Decimal, fractionable: bool) -> Decimal:
    if qty * price <= available:
        return qty
    if available <= 0:
        return ZERO
    quantum = Decimal("0.000001") if fractionable else Decimal(1)
    return (available / price).quantize(quantum, rounding="ROUND_DOWN")


def _session_day_start(now: datetime) -> datetime:
    local = now.astimezone(NEW_YORK)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _final_status(results: Sequence[LineResult], *, halted: bool) -> RunStatus:
    if halted and any(r.outcome is not LineOutcome.FILLED for r in results):
        return RunStatus.HALTED
    if all(r.outcome is LineOutcome.FILLED for r in results):
        return RunStatus.COMPLETED
    return RunStatus.COMPLETED_WITH_ISSUES


def _not_started(line: PlanLine, reason: str) -> LineResult:
    return LineResult(
        symbol=line.symbol,
        side=line.side.to_order_side(),
        requested_qty=line.order_qty,
        filled_qty=ZERO,
        avg_price=None,
        outcome=LineOutcome.NOT_STARTED,
        reason=reason,
    )


def _blocked_line(line: PlanLine, reason: str) -> LineResult:
    return LineResult(
        symbol=line.symbol,
        side=line.side.to_order_side(),
        requested_qty=line.order_qty,
        filled_qty=ZERO,
        avg_price=None,
        outcome=LineOutcome.BLOCKED,
        reason=reason,
    )


def _stored_result(record: RunRecord) -> RunResult:
    data = record.result or {}
    lines = tuple(
        LineResult(
            symbol=ln["symbol"],
            side=OrderSide(ln["side"]),
            requested_qty=Decimal(ln["requested_qty"]),
            filled_qty=Decimal(ln["filled_qty"]),
            avg_price=None if ln["avg_price"] is None else Decimal(ln["avg_price"]),
            outcome=LineOutcome(ln["outcome"]),
            reason=ln["reason"],
            step_reached=int(ln["step_reached"]),
            client_order_ids=tuple(ln["client_order_ids"]),
        )
        for ln in data.get("lines", [])
    )
    return RunResult(
        run_id=record.run_id,
        status=RunStatus(record.status),
        lines=lines,
        detail=record.detail,
        blocked_by=tuple(data.get("blocked_by", [])),
    )


def _flatten_plan(positions: Sequence[Position]) -> Plan:
    lines = []
    for position in sorted(positions, key=lambda p: p.symbol):
        if position.qty <= 0:
            continue
        price = position.current_price or position.avg_entry_price
        lines.append(
            PlanLine(
                symbol=position.symbol,
                price=price,
                current_qty=position.qty,
                current_value=position.qty * price,
                target_weight=ZERO,
                target_value=ZERO,
                target_qty=ZERO,
                delta_qty=-position.qty,
                delta_notional=-position.qty * price,
                side=LineSide.SELL,
                reason=LineReason.EXIT,
                fractionable=True,
                full_exit=True,
                band=ZERO,
            )
        )
    sells = sum((-ln.delta_notional for ln in lines), ZERO)
    totals = PlanTotals(
        equity=sells,
        sell_notional=sells,
        buy_notional=ZERO,
        turnover=ZERO,
        cash_before=ZERO,
        cash_residual=sells,
        buy_scale=Decimal(1),
    )
    return Plan(lines=tuple(lines), totals=totals, strategies=())
