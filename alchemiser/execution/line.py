"""One plan line worked to completion: the limit ladder, then market attempts.

For each step (0..n-1 limit, then market steps 90, 91, 92): a deterministic client order id; if an intent with that
id already exists (a restart), the order is looked up and adopted instead of sent; otherwise a fresh quote, the
remaining quantity (buys sized to the buying power available right now), the pre-trade risk check, the intent
written, the order sent, a wait driven by its events, and a confirmed cancel before the next step. The line never
sends a new order while an earlier one of its orders might still fill.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

import structlog

from alchemiser.broker.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from alchemiser.broker.models import OrderRequest, Quote
from alchemiser.broker.protocol import Broker
from alchemiser.clock import Clock
from alchemiser.errors import BrokerError, BrokerTransientError
from alchemiser.execution.buying_power import MARKET_BUY_MARGIN, BuyingPower, fit_to_budget
from alchemiser.execution.fills import FillRecorder, OrderMeta
from alchemiser.execution.ids import MARKET_ATTEMPTS, MARKET_STEP, client_order_id
from alchemiser.execution.journal import Journal
from alchemiser.execution.ladder import far_side, ladder_price, usable
from alchemiser.execution.metrics import ExecutionMetrics
from alchemiser.execution.orders import OrderDriver, SendStatus
from alchemiser.execution.params import ExecutionParams
from alchemiser.execution.results import LineOutcome, LineResult
from alchemiser.execution.state import OrderTracker
from alchemiser.execution.tracking import OrderEvents
from alchemiser.portfolio.planner import PlanLine
from alchemiser.portfolio.risk import OrderCheck, RiskContext, RiskParams, RuleName, check_order
from alchemiser.process.crashpoints import crash_point
from alchemiser.store.execution import ExecutionRepository, IntentState

ZERO = Decimal(0)
#: a remainder below the planner's fraction quantum is dust left by 9-decimal fills: the line counts as filled
DUST = Decimal("0.000001")
REJECTED_EVENT = "rejected_event"  # reject metric label of an order rejected after it was accepted
STORE_RETRIES = 3  # REST re-derivations of an order whose change failed to persist before the line gives up
log = structlog.get_logger("alchemiser.execution.line")

Failure = tuple[LineOutcome, str]


@dataclass(slots=True)
class RunState:
    """What the lines of one run share."""

    run_id: str
    context: RiskContext  # gathered once at the start of the run
    failed_sells: int = 0
    buying: bool = False  # buy phase: size each buy to the buying power available when it is sent
    flatten: bool = False  # kill-switch flatten: market orders only, allowed while the switch is latched
    sent_orders: int = 0
    fill_notional_at_start: Decimal = ZERO


class LineExecutor:
    def __init__(
        self,
        *,
        broker: Broker,
        repo: ExecutionRepository,
        clock: Clock,
        params: ExecutionParams,
        risk: RiskParams,
        metrics: ExecutionMetrics,
        events: OrderEvents,
        driver: OrderDriver,
        recorder: FillRecorder,
        journal: Journal,
        halted: Callable[[], bool],
        latch: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self._broker, self._repo, self._clock, self._params = broker, repo, clock, params
        self._risk = risk
        self._metrics = metrics
        self._events = events
        self._driver = driver
        self._recorder = recorder
        self._journal = journal
        self._halted = halted
        self._latch = latch
        # capacity read → check → intent → send is serialised across buy lines, so two lines never spend the same
        # buying power (the broker's buying power reflects each sent order's hold)
        self._buy_lock = asyncio.Lock()
        self._buying_power = BuyingPower(broker, recorder, self._quote)

    def steps(self, state: RunState) -> list[int]:
        market = [MARKET_STEP + i for i in range(MARKET_ATTEMPTS)]
        return market if state.flatten else [*range(len(self._params.ladder_steps)), *market]

    async def execute(self, state: RunState, line: PlanLine) -> LineResult:
        side = line.side.to_order_side()
        target = line.order_qty
        coids: list[str] = []
        step_reached = -1
        failure: Failure | None = None
        sized_down = ""
        market_open = await self._market_open()
        for step in self.steps(state):
            remaining = target - self._events.filled_qty(coids)
            if remaining < DUST:
                break
            if self._halted() and not state.flatten:
                failure = (LineOutcome.BLOCKED, f"{RuleName.KILL_SWITCH.value}: kill switch latched during the run")
                break
            is_market = step >= MARKET_STEP
            if is_market and not self._params.market_fallback:
                failure = (LineOutcome.UNFILLED, "limit ladder exhausted; market fallback disabled")
                break
            coid = client_order_id(state.run_id, line.symbol, side, step)
            self._recorder.remember(coid, OrderMeta(state.run_id, line.symbol, side, line.price))
            tracker = await self._events.track(coid)
            adopted = await self._adopt(state.run_id, coid, tracker, is_market)
            if adopted is not None:
                taken, failure = adopted
                if taken:
                    coids.append(coid)
                    step_reached = step
                if failure is not None:
                    break
                continue
            quote = await self._quote(line.symbol)
            if quote is None or not usable(quote):
                if is_market:
                    failure = (LineOutcome.BLOCKED, f"{RuleName.LIMIT_COLLAR.value}: no usable quote to check")
                    break
                continue
            price = far_side(quote, side) if is_market else ladder_price(quote, side, self._params.ladder_steps[step])
            if remaining != remaining.to_integral_value() and remaining * price < self._params.min_order_notional:
                failure = (LineOutcome.PARTIALLY_FILLED, "remainder below the broker's minimum order value")
                break
            sent, failure, note = await self._send(
                state, line, coid=coid, step=step, qty=remaining, price=price, market_open=market_open, quote=quote
            )
            sized_down = note or sized_down
            if sent:
                coids.append(coid)
                step_reached = step
            if failure is not None:
                break
            if not sent:
                continue  # nothing went out at this step (buying power unreadable): the next step tries again
            if not await self._finish_step(tracker, is_market):
                self._metrics.unresolved.inc()
                failure = (LineOutcome.UNRESOLVED, f"cancel of {coid} not confirmed; not sending another order")
                break
            failure = await self._rejected_after_acceptance(state.run_id, tracker)
            if failure is not None:
                break
        if failure is None and sized_down:
            failure = (LineOutcome.PARTIALLY_FILLED, sized_down)
        await self._events.settle(coids)
        return self._result(line, side=side, target=target, coids=coids, step_reached=step_reached, failure=failure)

    async def _adopt(
        self, run_id: str, coid: str, tracker: OrderTracker, is_market: bool
    ) -> tuple[bool, Failure | None] | None:
        """An intent with this id exists (restart): adopt its order. None = nothing to adopt, send this step.

        Returns (the order exists at the broker, failure or None)."""
        intent = await self._repo.get_intent(coid)
        if intent is None:
            return None
        if intent.state == IntentState.REJECTED:
            return True, (LineOutcome.REJECTED, intent.reject_reason or "rejected")
        if intent.state == IntentState.NOT_SENT:
            return False, None
        found = await self._driver.lookup(coid)
        if found.status is SendStatus.SENT:
            if not await self._finish_step(tracker, is_market):
                return True, (LineOutcome.UNRESOLVED, f"cancel of {coid} not confirmed")
            return True, await self._rejected_after_acceptance(run_id, tracker)
        if found.status is SendStatus.UNKNOWN:
            return True, (LineOutcome.UNRESOLVED, f"{coid}: {found.reason}")
        if intent.state not in (IntentState.INTENT, IntentState.UNKNOWN):
            return True, (LineOutcome.UNRESOLVED, f"{coid} was recorded as sent but the broker does not know it")
        return None  # never reached the broker: send it now, with the same id

    async def _send(
        self,
        state: RunState,
        line: PlanLine,
        *,
        coid: str,
        step: int,
        qty: Decimal,
        price: Decimal,
        market_open: bool,
        quote: Quote | None = None,
    ) -> tuple[bool, Failure | None, str]:
        """Size, check, write the intent, send. Returns (sent, failure, sized-down note)."""
        side = line.side.to_order_side()
        is_market = step >= MARKET_STEP
        buy_sizing = side is OrderSide.BUY and state.buying
        note = ""
        if buy_sizing:
            await self._buy_lock.acquire()
        try:
            available: Decimal | None = None
            if buy_sizing:
                try:
                    available = await self._buying_power.available()
                except BrokerTransientError as exc:
                    # the client's retries are spent (a 429 storm, an outage): nothing is sent at this step. A limit
                    # step is skipped (the next one reads again); the last market step ends the line, not the run
                    log.warning("execution.buying_power_unavailable", symbol=line.symbol, step=step, error=str(exc))
                    if step < MARKET_STEP + MARKET_ATTEMPTS - 1:
                        return False, None, note
                    reason = f"{RuleName.BUYING_POWER.value}: account unreadable before the last step ({exc})"
                    return False, (LineOutcome.BLOCKED, reason), note
                sizing_price = price * (1 + MARKET_BUY_MARGIN) if is_market else price
                fitted = fit_to_budget(qty, sizing_price, available, line.fractionable)
                if fitted <= 0 or (
                    fitted != fitted.to_integral_value() and fitted * price < self._params.min_order_notional
                ):
                    reason = (
                        f"{RuleName.BUYING_POWER.value}: {available:.2f} available for {line.symbol}, "
                        f"needs {qty * sizing_price:.2f}"
                    )
                    return False, (LineOutcome.BLOCKED, reason), note
                if fitted < qty:
                    note = f"{RuleName.BUYING_POWER.value}: step {step} sized down to the cash available"
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
                await self._journal.record("execution.order_blocked", state.run_id, verdict.as_dict(), order_id=coid)
                return False, (LineOutcome.BLOCKED, f"{first.rule.value}: {first.message}"), note
            order_type = OrderType.MARKET if is_market else OrderType.LIMIT
            limit_price = None if is_market else price
            await self._repo.add_intent(
                client_order_id=coid,
                run_id=state.run_id,
                symbol=line.symbol,
                side=side,
                step=step,
                order_type=order_type,
                qty=qty,
                limit_price=limit_price,
                reference_price=line.price,
                arrival=None if quote is None else (quote.bid_price, quote.ask_price),
            )
            request = OrderRequest(
                symbol=line.symbol,
                side=side,
                type=order_type,
                time_in_force=TimeInForce.DAY,
                client_order_id=coid,
                qty=qty,
                limit_price=limit_price,
            )
            self._recorder.meta[coid].submitted_at = self._clock.now()
            crash_point("before_order_submit")
            outcome = await self._driver.submit(request)
            crash_point("after_order_submit")
        finally:
            if buy_sizing:
                self._buy_lock.release()
        if outcome.status is SendStatus.REJECTED:
            await self._repo.mark_intent(coid, IntentState.REJECTED, reject_reason=outcome.reason)
            self._metrics.rejects.labels(reason=outcome.error_type or "rejected").inc()
            await self._journal.record(
                "execution.order_rejected", state.run_id, {"reason": outcome.reason}, order_id=coid
            )
            return True, (LineOutcome.REJECTED, outcome.reason), note
        if outcome.status is not SendStatus.SENT:
            await self._repo.mark_intent(coid, IntentState.UNKNOWN, reject_reason=outcome.reason)
            self._metrics.unresolved.inc()
            return True, (LineOutcome.UNRESOLVED, outcome.reason or "send outcome unknown"), note
        state.sent_orders += 1
        await self._journal.record(
            "execution.order_sent",
            state.run_id,
            {
                "symbol": line.symbol,
                "side": side.value,
                "qty": str(qty),
                "type": order_type.value,
                "limit_price": None if limit_price is None else str(limit_price),
                "step": step,
            },
            order_id=coid,
        )
        return True, None, note

    async def _rejected_after_acceptance(self, run_id: str, tracker: OrderTracker) -> Failure | None:
        """The broker accepted the order and then rejected it (a ``rejected`` trade update, or the status a REST
        lookup found): the line stops here — the next step would most likely be refused for the same reason. The
        intent is marked rejected (once: a resume that finds it again does not count it twice)."""
        if tracker.status is not OrderStatus.REJECTED:
            return None
        coid = tracker.client_order_id
        reason = f"{coid} rejected by the broker after it was accepted (trade_updates 'rejected')"
        intent = await self._repo.get_intent(coid)
        if intent is None or intent.state != IntentState.REJECTED:
            await self._repo.mark_intent(coid, IntentState.REJECTED, reject_reason=reason)
            self._metrics.rejects.labels(reason=REJECTED_EVENT).inc()
            await self._journal.record(
                "execution.order_rejected", run_id, {"reason": reason, "after_acceptance": True}, order_id=coid
            )
        return LineOutcome.REJECTED, reason

    async def _finish_step(self, tracker: OrderTracker, is_market: bool) -> bool:
        """Wait for the step's order, then cancel it if still open. True when the order ended (confirmed)."""
        wait = self._params.step_wait_seconds
        if is_market:
            wait = max(wait, self._params.ack_sla_seconds * 3)
        await self._driver.wait(tracker, self._clock.now() + timedelta(seconds=wait))
        confirmed = tracker.terminal or await self._driver.cancel_and_confirm(tracker)
        await self._events.settle([tracker.client_order_id])
        for _ in range(STORE_RETRIES):
            if not tracker.dirty:
                break
            # a fill or state change failed to persist and was undone: derive it again from the broker's truth
            await self._driver.refresh(tracker)
            await self._events.settle([tracker.client_order_id])
        if tracker.dirty:
            log.error("execution.order_state_not_persisted", client_order_id=tracker.client_order_id)
            return False
        if not tracker.terminal:
            confirmed = await self._driver.cancel_and_confirm(tracker)
            await self._events.settle([tracker.client_order_id])
        return confirmed and tracker.terminal and not tracker.dirty

    def _result(
        self,
        line: PlanLine,
        *,
        side: OrderSide,
        target: Decimal,
        coids: list[str],
        step_reached: int,
        failure: Failure | None,
    ) -> LineResult:
        filled = self._events.filled_qty(coids)
        value = ZERO
        for coid in coids:
            order = self._events.tracker(coid).order
            if order is not None and order.filled_qty > 0 and order.filled_avg_price is not None:
                value += order.filled_qty * order.filled_avg_price
        avg = (value / filled).quantize(Decimal("0.000001")) if filled > 0 else None
        if filled > target - DUST:
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

    def _order_context(self, state: RunState, market_open: bool, available: Decimal | None) -> RiskContext:
        recorder = self._recorder
        context = replace(
            state.context,
            market_open=market_open,
            kill_switch_latched=self._halted(),
            orders_today=state.context.orders_today + state.sent_orders,
            notional_today=state.context.notional_today + recorder.fill_notional - state.fill_notional_at_start,
            failed_sells=state.failed_sells,
            bought_today=frozenset(recorder.bought_today),
            sold_today=frozenset(recorder.sold_today),
        )
        if available is not None:
            context = replace(context, cash=available, buying_power=available, committed_buy_notional=ZERO)
        return context

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
