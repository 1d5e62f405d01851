"""Decisions: the history (status, trigger, duration) and one decision in full — its plan, each risk rule's
verdict, its orders with every ladder step and fill, and the slippage in basis points against the decision price.

A decision's execution run has the decision's id (``execution_runs.run_id``), so the plan, verdict, orders and
fills are found by that id.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from alchemiser.store.decisions import DecisionRecord, DecisionStore
from alchemiser.store.execution import ExecutionRepository, FillRecord, IntentRecord

ZERO = Decimal(0)
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class DecisionRow:
    decision_id: str
    session: str
    trigger: str
    status: str
    reason: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    rule: str
    passed: bool
    message: str
    symbol: str | None


@dataclass(frozen=True, slots=True)
class FillView:
    at: datetime | None
    qty: Decimal
    price: Decimal
    slippage_bps: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderStep:
    """One order of the ladder (step 0 is the first limit; a market fallback is the last step)."""

    client_order_id: str
    step: int
    order_type: str
    qty: Decimal
    limit_price: Decimal | None
    state: str
    broker_status: str | None
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    reject_reason: str | None
    fills: tuple[FillView, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderLine:
    """Everything sent for one symbol and side: the ladder steps, what filled, the slippage vs the decision price."""

    symbol: str
    side: str
    decision_price: Decimal | None
    filled_qty: Decimal
    avg_price: Decimal | None
    slippage_bps: Decimal | None
    steps: tuple[OrderStep, ...] = ()


@dataclass(frozen=True, slots=True)
class DecisionDetail:
    row: DecisionRow
    as_of: str | None
    strategies: tuple[dict[str, Any], ...]  # strategy, capital weight, status, allocation, fail reason (no trace)
    plan_lines: tuple[dict[str, Any], ...]
    plan_totals: dict[str, Any]
    execution_status: str | None
    verdict: tuple[RuleVerdict, ...]
    verdict_allowed: bool | None
    orders: tuple[OrderLine, ...] = field(default_factory=tuple)


def slippage_bps(side: str, price: Decimal | None, reference: Decimal | None) -> Decimal | None:
    """Signed cost in basis points against ``reference`` (positive: paid more on a buy / got less on a sell)."""
    if price is None or reference is None or reference == 0:
        return None
    raw = (price - reference) / reference * BPS
    return (raw if side == "buy" else -raw).quantize(Decimal("0.1"))


def decision_row(record: DecisionRecord) -> DecisionRow:
    duration = None if record.finished_at is None else (record.finished_at - record.started_at).total_seconds()
    return DecisionRow(
        decision_id=record.decision_id,
        session=record.session.isoformat(),
        trigger=record.trigger,
        status=record.status,
        reason=record.reason,
        started_at=record.started_at,
        finished_at=record.finished_at,
        duration_seconds=duration,
    )


async def decision_history(decisions: DecisionStore, limit: int = 100) -> list[DecisionRow]:
    """The most recent ``limit`` decisions, newest first."""
    return [decision_row(r) for r in await decisions.latest(limit)]


def order_lines(intents: list[IntentRecord], fills: list[FillRecord], prices: dict[str, Decimal]) -> list[OrderLine]:
    """Group the run's orders by symbol and side; ``prices`` are the plan's decision prices per symbol."""
    fills_by_order: dict[str, list[FillRecord]] = defaultdict(list)
    for fill in fills:
        fills_by_order[fill.client_order_id].append(fill)
    grouped: dict[tuple[str, str], list[IntentRecord]] = defaultdict(list)
    for intent in intents:
        grouped[(intent.symbol, intent.side.value)].append(intent)
    lines = []
    for (symbol, side), group in sorted(grouped.items()):
        group.sort(key=lambda i: i.step)
        reference = next((i.reference_price for i in group if i.reference_price is not None), prices.get(symbol))
        steps = []
        filled = notional = ZERO
        for intent in group:
            views = []
            for fill in fills_by_order.get(intent.client_order_id, []):
                filled += fill.qty
                notional += fill.qty * fill.price
                views.append(FillView(fill.filled_at, fill.qty, fill.price, slippage_bps(side, fill.price, reference)))
            steps.append(
                OrderStep(
                    client_order_id=intent.client_order_id,
                    step=intent.step,
                    order_type=intent.order_type.value,
                    qty=intent.qty,
                    limit_price=intent.limit_price,
                    state=intent.state,
                    broker_status=intent.broker_status,
                    filled_qty=intent.filled_qty,
                    filled_avg_price=intent.filled_avg_price,
                    reject_reason=intent.reject_reason,
                    fills=tuple(views),
                )
            )
        avg = notional / filled if filled else None
        lines.append(OrderLine(symbol, side, reference, filled, avg, slippage_bps(side, avg, reference), tuple(steps)))
    return lines


async def decision_detail(
    decisions: DecisionStore, execution: ExecutionRepository, decision_id: str
) -> DecisionDetail | None:
    record = await decisions.get(decision_id)
    if record is None:
        return None
    run = await execution.get_run(decision_id)
    plan: dict[str, Any] = (run.plan if run is not None else None) or record.plan or {}
    verdict: dict[str, Any] = (run.verdict if run is not None else None) or {}
    plan_lines = tuple(plan.get("lines") or ())
    prices = {str(ln["symbol"]): Decimal(str(ln["price"])) for ln in plan_lines if ln.get("price") is not None}
    intents = await execution.intents_for_run(decision_id)
    fills = await execution.fills_for_run(decision_id)
    return DecisionDetail(
        row=decision_row(record),
        as_of=None if record.as_of is None else record.as_of.isoformat(),
        strategies=tuple({k: v for k, v in s.to_json().items() if k != "trace"} for s in record.strategies),
        plan_lines=plan_lines,
        plan_totals=dict(plan.get("totals") or {}),
        execution_status=None if run is None else run.status,
        verdict=tuple(
            RuleVerdict(str(r["rule"]), bool(r["passed"]), str(r.get("message") or ""), r.get("symbol"))
            for r in verdict.get("results") or ()
        ),
        verdict_allowed=verdict.get("allowed"),
        orders=tuple(order_lines(intents, fills, prices)),
    )
