"""The ``weight-inverse-volatility`` evaluator (dsl.md §2).

Per date: a single usable child passes through unchanged; if any usable child is a bare asset, every held symbol is
weighted by 1/σ (individual mode); otherwise each child sub-portfolio is weighted by 1/σ of its holdings' weighted
mean σ (sub-portfolio mode). σ is ``stdev-return`` over the node's window; holdings without a usable σ are skipped.
"""

from __future__ import annotations

import numpy as np

from alchemiser.data.prices import FloatArray
from alchemiser.dsl.ast import IndicatorName, Metric, WeightInverseVolatility
from alchemiser.dsl.context import EvalContext
from alchemiser.dsl.slots import BoolArray, Slot, Value, finite_or_none, normalise_rows, row_sums, symbol_union, usable


def inverse_volatility(ctx: EvalContext, node: WeightInverseVolatility, values: list[Value]) -> Value:
    n = ctx.n
    slots, err = ctx.children_slots(values)
    metric = Metric(IndicatorName.STDEV_RETURN, (("window", node.window),))
    union = symbol_union(s.symbols for s in slots)
    syms = tuple(union)
    sigma = np.column_stack([ctx.indicator(metric, s) for s in syms]) if syms else np.zeros((n, 0))
    sigma_ok = np.isfinite(sigma) & (sigma > 0)
    inv = np.divide(1.0, sigma, out=np.zeros_like(sigma), where=sigma_ok)
    # expand every slot to the union (normalised), with its usable mask
    expanded: list[FloatArray] = []
    uses: list[BoolArray] = []
    for s in slots:
        total = row_sums(s)
        use = usable(s, total)
        m = np.zeros((n, len(syms)))
        m[:, [union[x] for x in s.symbols]] = np.divide(
            s.weights, total[:, None], out=np.zeros_like(s.weights), where=(use & (total > 0))[:, None]
        )
        expanded.append(m)
        uses.append(use)
    count = np.sum(uses, axis=0) if uses else np.zeros(n, dtype=np.int64)
    individual = np.zeros(n, dtype=bool)
    for s, use in zip(slots, uses, strict=True):
        if s.is_asset:
            individual |= use
    # sub-portfolio mode: child σ = weighted mean of its holdings' σ (holdings with a usable σ)
    shares = np.zeros((n, len(slots)))
    for k, m in enumerate(expanded):
        w_ok = np.where(sigma_ok, m, 0.0).sum(axis=1)
        weighted = np.where(sigma_ok, m * np.where(sigma_ok, sigma, 0.0), 0.0).sum(axis=1)
        child_sigma = np.divide(weighted, w_ok, out=np.full(n, np.nan), where=w_ok > 0)
        ok = uses[k] & np.isfinite(child_sigma) & (child_sigma > 0)
        shares[:, k] = np.divide(1.0, child_sigma, out=np.zeros(n), where=ok)
    share_total = shares.sum(axis=1)
    sub = np.zeros((n, len(syms)))
    for k, m in enumerate(expanded):
        sub += m * np.divide(shares[:, k], share_total, out=np.zeros(n), where=share_total > 0)[:, None]
    # individual mode: every held symbol by 1/σ
    held = np.zeros((n, len(syms)), dtype=bool)
    for m in expanded:
        held |= m > 0
    ind = np.where(held, inv, 0.0)
    ind_total = ind.sum(axis=1)
    ind = normalise_rows(ind, ind_total)
    # single usable child: passes through unchanged
    single = np.zeros((n, len(syms)))
    for m, use in zip(expanded, uses, strict=True):
        single += np.where(use[:, None], m, 0.0)
    result = np.where((count == 1)[:, None], single, np.where(individual[:, None], ind, sub))
    none_left = (count > 1) & (np.where(individual, ind_total, share_total) <= 0)
    if none_left.any():
        code = ctx.code(
            f"weight-inverse-volatility {node.window}: no holding has a usable volatility "
            f"({metric.label()}) on {{date}}"
        )
        err = ctx.first_err(err, np.where(none_left, code, 0).astype(np.int32))
    if ctx.record_at is not None:
        i = ctx.record_at
        ctx.pending_volatility = {s: finite_or_none(sigma[i, j]) for j, s in enumerate(syms) if held[i, j]}
    return Value([Slot(syms, result, None, False, node)], err)
