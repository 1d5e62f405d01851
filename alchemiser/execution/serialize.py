"""Plans to and from JSON-able dicts (Decimals as strings), for the store, the audit journal and the HTTP API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from alchemiser.portfolio.planner import LineReason, LineSide, Plan, PlanLine, PlanTotals


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "strategies": list(plan.strategies),
        "totals": {
            "equity": str(plan.totals.equity),
            "sell_notional": str(plan.totals.sell_notional),
            "buy_notional": str(plan.totals.buy_notional),
            "turnover": str(plan.totals.turnover),
            "cash_before": str(plan.totals.cash_before),
            "cash_residual": str(plan.totals.cash_residual),
            "buy_scale": str(plan.totals.buy_scale),
        },
        "lines": [
            {
                "symbol": ln.symbol,
                "price": str(ln.price),
                "current_qty": str(ln.current_qty),
                "current_value": str(ln.current_value),
                "target_weight": str(ln.target_weight),
                "target_value": str(ln.target_value),
                "target_qty": str(ln.target_qty),
                "delta_qty": str(ln.delta_qty),
                "delta_notional": str(ln.delta_notional),
                "side": ln.side.value,
                "reason": ln.reason.value,
                "fractionable": ln.fractionable,
                "full_exit": ln.full_exit,
                "band": str(ln.band),
                "contributions": {k: str(v) for k, v in ln.contributions.items()},
            }
            for ln in plan.lines
        ],
    }


def plan_from_dict(data: dict[str, Any]) -> Plan:
    totals = data["totals"]
    return Plan(
        strategies=tuple(data["strategies"]),
        totals=PlanTotals(**{k: Decimal(v) for k, v in totals.items()}),
        lines=tuple(
            PlanLine(
                symbol=ln["symbol"],
                price=Decimal(ln["price"]),
                current_qty=Decimal(ln["current_qty"]),
                current_value=Decimal(ln["current_value"]),
                target_weight=Decimal(ln["target_weight"]),
                target_value=Decimal(ln["target_value"]),
                target_qty=Decimal(ln["target_qty"]),
                delta_qty=Decimal(ln["delta_qty"]),
                delta_notional=Decimal(ln["delta_notional"]),
                side=LineSide(ln["side"]),
                reason=LineReason(ln["reason"]),
                fractionable=bool(ln["fractionable"]),
                full_exit=bool(ln["full_exit"]),
                band=Decimal(ln["band"]),
                contributions={k: Decimal(v) for k, v in ln["contributions"].items()},
            )
            for ln in data["lines"]
        ),
    )
