"""``if`` conditions: operand values with their availability masks, and exact comparison (dsl.md §2, §6).

An indicator operand is unavailable on a date when it is NaN there; the error code says why (no price data at all,
no bar on that date, or too short a run of bars). Comparisons of an indicator with a literal are exact: the literal
is never rounded to a float (the float 0.1 is above the literal 0.1).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from alchemiser.data.prices import FloatArray
from alchemiser.dsl import indicators
from alchemiser.dsl.ast import CompareOp, Comparison, Literal, Operand
from alchemiser.dsl.context import EvalContext
from alchemiser.dsl.slots import BoolArray, IntArray


def operand(ctx: EvalContext, op: Operand) -> tuple[FloatArray | Decimal, IntArray]:
    """The operand's values and, per date, the code of why it is unavailable (0 = available)."""
    if isinstance(op, Literal):
        return op.value, ctx.zero_err
    values = ctx.indicator(op.metric, op.symbol)
    missing = np.isnan(values)
    if not missing.any():
        return values, ctx.zero_err
    label = op.label()
    closes = ctx.closes(op.symbol)
    if closes is None:
        code = ctx.code(f"{label} is unavailable on {{date}}: no price data for {op.symbol}")
        return values, np.where(missing, code, 0).astype(np.int32)
    need = indicators.bars_needed(op.metric)
    short = ctx.code(
        f"{label} is unavailable on {{date}}: needs {need} consecutive bars of {op.symbol} through that date"
    )
    no_bar = ctx.code(f"{label} is unavailable on {{date}}: {op.symbol} has no bar on that date")
    err: IntArray = np.where(missing, np.where(np.isnan(closes), no_bar, short), 0).astype(np.int32)
    return values, err


def condition(ctx: EvalContext, cmp: Comparison) -> tuple[BoolArray, IntArray]:
    """Per date: whether the comparison holds (False where an operand is unavailable) and the operands' error."""
    left, left_err = operand(ctx, cmp.left)
    right, right_err = operand(ctx, cmp.right)
    err = ctx.first_err(left_err, right_err)
    result = compare(cmp.op, left, right, ctx.n)
    return result, err


def _float_floor(d: Decimal) -> tuple[float, bool]:
    """Largest float ≤ d, and whether it equals d exactly."""
    f = float(d)
    exact = Decimal(f)
    if exact > d:
        f = math.nextafter(f, -math.inf)
        exact = Decimal(f)
    return f, exact == d


def compare(op: CompareOp, left: FloatArray | Decimal, right: FloatArray | Decimal, n: int) -> BoolArray:
    """Exact comparison: literal vs literal in Decimal, float vs literal exactly (no rounding of the literal)."""
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        const = {
            CompareOp.GT: left > right,
            CompareOp.LT: left < right,
            CompareOp.GE: left >= right,
            CompareOp.LE: left <= right,
            CompareOp.EQ: left == right,
        }[op]
        return np.full(n, const, dtype=bool)
    if isinstance(left, Decimal):
        flipped = {
            CompareOp.GT: CompareOp.LT,
            CompareOp.LT: CompareOp.GT,
            CompareOp.GE: CompareOp.LE,
            CompareOp.LE: CompareOp.GE,
            CompareOp.EQ: CompareOp.EQ,
        }[op]
        return compare(flipped, right, left, n)
    x = left
    with np.errstate(invalid="ignore"):
        if isinstance(right, Decimal):
            lo, exact = _float_floor(right)
            if op is CompareOp.GT:
                result = x > lo
            elif op is CompareOp.LE:
                result = x <= lo
            elif op is CompareOp.GE:
                result = x >= lo if exact else x > lo
            elif op is CompareOp.LT:
                result = x < lo if exact else x <= lo
            else:
                result = x == lo if exact else np.zeros(n, dtype=bool)
        else:
            y = right
            result = {
                CompareOp.GT: x > y,
                CompareOp.LT: x < y,
                CompareOp.GE: x >= y,
                CompareOp.LE: x <= y,
                CompareOp.EQ: x == y,
            }[op]
    out: BoolArray = np.asarray(result, dtype=bool) & ~np.isnan(x)
    if not isinstance(right, Decimal):
        out &= ~np.isnan(right)
    return out
