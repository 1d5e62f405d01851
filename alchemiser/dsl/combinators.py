"""Evaluators of the weighting nodes that need no market data beyond their condition: ``group``/``weight-equal``,
``weight-specified`` and ``if`` (dsl.md §2). Each takes the already-evaluated values of the node's children."""

from __future__ import annotations

import numpy as np

from alchemiser.dsl.ast import Group, If, WeightEqual, WeightSpecified
from alchemiser.dsl.conditions import condition
from alchemiser.dsl.context import EvalContext, Part
from alchemiser.dsl.slots import IntArray, Slot, Value, row_sums


def equal(ctx: EvalContext, node: Group | WeightEqual, values: list[Value]) -> Value:
    slots, err = ctx.children_slots(values)
    slot = ctx.collapse(slots)
    return Value([Slot(slot.symbols, slot.weights, None, False, node, slot.sums)], err)


def specified(ctx: EvalContext, node: WeightSpecified, values: list[Value]) -> Value:
    parts: list[Part] = []
    err = ctx.zero_err
    for weight, value in zip(node.weights, values, strict=True):
        err = ctx.first_err(err, value.err)
        child = ctx.collapse(value.slots)
        total = row_sums(child)
        scale = np.divide(float(weight), total, out=np.zeros(ctx.n), where=total > 0)
        parts.append((child.symbols, child.weights, scale))
    slot = ctx.accumulate(parts)
    return Value([Slot(slot.symbols, slot.weights, None, False, node, slot.sums)], err)


def if_(ctx: EvalContext, node: If, then: list[Value], otherwise: list[Value] | None) -> Value:
    """Both branches' slots, masked by the condition; an error counts only on dates its branch is taken."""
    cond, cond_err = condition(ctx, node.condition)
    slots: list[Slot] = []
    then_err = ctx.zero_err
    for v in then:
        then_err = ctx.first_err(then_err, v.err)
        for s in v.slots:
            active = cond if s.active is None else (s.active & cond)
            slots.append(Slot(s.symbols, s.weights, active, s.is_asset, s.node, row_sums(s)))
    not_cond = ~cond
    if otherwise is None:
        code = ctx.code(f"{node.condition.label()} is false on {{date}} and the if has no else branch")
        else_err: IntArray = np.where(not_cond, code, 0).astype(np.int32)
    else:
        else_err = ctx.zero_err
        for v in otherwise:
            else_err = ctx.first_err(else_err, v.err)
            for s in v.slots:
                active = not_cond if s.active is None else (s.active & not_cond)
                slots.append(Slot(s.symbols, s.weights, active, s.is_asset, s.node, row_sums(s)))
    branch_err: IntArray = np.where(cond, then_err, else_err).astype(np.int32)
    return Value(slots, ctx.first_err(cond_err, branch_err))
