"""Trace recording (dsl.md §5): what one node did on the engine's ``record_at`` date, kept for the trace."""

from __future__ import annotations

import math
from dataclasses import dataclass

from alchemiser.data.prices import FloatArray
from alchemiser.dsl.ast import Comparison, Filter, If, Indicator, Literal, Node, Operand, WeightInverseVolatility
from alchemiser.dsl.conditions import condition
from alchemiser.dsl.context import EvalContext
from alchemiser.dsl.slots import RankEntry, Slot, Value, finite_or_none


@dataclass(slots=True)
class NodeRecord:
    """What one node did on the recorded date (trace mode)."""

    weights: dict[str, float]
    error: int
    condition: dict[str, object] | None = None
    branch: str | None = None
    ranking: list[RankEntry] | None = None
    volatility: dict[str, float | None] | None = None


def record_node(ctx: EvalContext, node: Node, value: Value, i: int) -> NodeRecord:
    """The node's record on row ``i``; takes the ranking / volatilities its evaluator left pending."""
    record = NodeRecord(weights=_row_weights(value.slots, i), error=int(value.err[i]))
    if isinstance(node, If):
        cond, _ = condition(ctx, node.condition)
        record.condition = {
            "expression": node.condition.label(),
            "left": _operand_at(ctx, node.condition.left, i),
            "right": _operand_at(ctx, node.condition.right, i),
            "result": None if _cond_unavailable(ctx, node.condition, i) else bool(cond[i]),
        }
        if record.condition["result"] is not None:
            record.branch = "then" if cond[i] else "else"
    elif isinstance(node, Filter):
        record.ranking = ctx.pending_ranking
        ctx.pending_ranking = None
    elif isinstance(node, WeightInverseVolatility):
        record.volatility = ctx.pending_volatility
        ctx.pending_volatility = None
    return record


def _row_weights(slots: list[Slot], i: int) -> dict[str, float]:
    """The engine's ``collapse`` restricted to row ``i`` (normalised)."""
    rows: list[tuple[tuple[str, ...], FloatArray, float]] = []
    for slot in slots:
        if slot.active is not None and not slot.active[i]:
            continue
        row = slot.weights[i]
        total = float(row.sum())
        if total > 0:
            rows.append((slot.symbols, row, total))
    out: dict[str, float] = {}
    for symbols, row, total in rows:
        for j, sym in enumerate(symbols):
            if row[j] > 0:
                out[sym] = out.get(sym, 0.0) + float(row[j]) / total / len(rows)
    return out


def _operand_at(ctx: EvalContext, operand: Operand, i: int) -> float | str | None:
    if isinstance(operand, Literal):
        return str(operand.value)
    return finite_or_none(ctx.indicator(operand.metric, operand.symbol)[i])


def _cond_unavailable(ctx: EvalContext, cmp: Comparison, i: int) -> bool:
    for op in (cmp.left, cmp.right):
        if isinstance(op, Indicator) and math.isnan(ctx.indicator(op.metric, op.symbol)[i]):
            return True
    return False
