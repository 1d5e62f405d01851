"""Pure helpers that turn lines and stored runs into typed results (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from alchemiser.broker.enums import OrderSide
from alchemiser.broker.models import Position
from alchemiser.execution.results import LineOutcome, LineResult, RunResult, RunStatus
from alchemiser.portfolio.planner import LineReason, LineSide, Plan, PlanLine, PlanTotals
from alchemiser.store.execution import RunRecord

NEW_YORK = ZoneInfo("America/New_York")
ZERO = Decimal(0)


def session_day_start(now: datetime) -> datetime:
    """Midnight New York of ``now``'s trading day (the start of the daily caps' window)."""
    local = now.astimezone(NEW_YORK)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def final_status(results: Sequence[LineResult], *, halted: bool) -> RunStatus:
    if halted and any(r.outcome is not LineOutcome.FILLED for r in results):
        return RunStatus.HALTED
    if all(r.outcome is LineOutcome.FILLED for r in results):
        return RunStatus.COMPLETED
    return RunStatus.COMPLETED_WITH_ISSUES


def unsent_line(line: PlanLine, outcome: LineOutcome, reason: str) -> LineResult:
    """A line that never reached the broker (plan blocked, symbol blocked)."""
    return LineResult(
        symbol=line.symbol,
        side=line.side.to_order_side(),
        requested_qty=line.order_qty,
        filled_qty=ZERO,
        avg_price=None,
        outcome=outcome,
        reason=reason,
    )


def stored_result(record: RunRecord) -> RunResult:
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


def flatten_plan(positions: Sequence[Position]) -> Plan:
    """Sell every long position exactly (kill switch ``flatten``)."""
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
