"""The ``filter`` evaluator (dsl.md §2): rank candidates by a metric per date and keep the best k.

Asset mode (every candidate a bare asset) scores each ticker's own prices; portfolio mode scores each candidate's
own return series (:mod:`alchemiser.dsl.portfolio_scores`). Candidates whose score is unavailable are left out;
ties break by candidate name. A candidate in error fails the filter on a date only if it would be kept there (or if
nothing is kept).
"""

from __future__ import annotations

import numpy as np

from alchemiser.data.prices import FloatArray
from alchemiser.dsl.ast import Asset, Filter, Group, Node, SelectKind
from alchemiser.dsl.context import EvalContext, Part
from alchemiser.dsl.portfolio_scores import portfolio_score
from alchemiser.dsl.slots import BoolArray, IntArray, RankEntry, Slot, Value, finite_or_none, row_sums


def evaluate_filter(ctx: EvalContext, node: Filter, values: list[Value]) -> Value:
    if node.asset_mode:
        assets = [c for c in node.candidates if isinstance(c, Asset)]
        names = [a.symbol for a in assets]
        scores = np.column_stack([ctx.indicator(node.metric, s) for s in names])
        slot_list = [ctx.asset_slot(a) for a in assets]
        errs: list[IntArray] = [ctx.zero_err] * len(names)
    else:
        slot_list = []
        for cand, v in zip(node.candidates, values, strict=True):
            c = ctx.collapse(v.slots)
            slot_list.append(Slot(c.symbols, c.weights, c.active, False, cand, c.sums))
        errs = [v.err for v in values]
        names = [_candidate_name(c) for c in node.candidates]
        cols = []
        for cand, slot, err in zip(node.candidates, slot_list, errs, strict=True):
            cols.append(portfolio_score(ctx, cand, slot, err, node.metric))
        scores = np.column_stack(cols)
        # an empty candidate cannot be held on that date
        for j, slot in enumerate(slot_list):
            empty = row_sums(slot) <= 0.0
            if empty.any():
                scores[empty, j] = np.nan
    order = sorted(range(len(names)), key=lambda j: (names[j], j))
    scores = scores[:, order]
    names = [names[j] for j in order]
    slot_list = [slot_list[j] for j in order]
    errs = [errs[j] for j in order]
    kept = _rank(scores, node.select.kind if node.select else None, node.select.count if node.select else None)
    count = kept.sum(axis=1).astype(np.float64)
    parts: list[Part] = []
    err = ctx.zero_err
    for j, slot in enumerate(slot_list):
        total = row_sums(slot)
        denom = total * count
        scale = np.divide(1.0, denom, out=np.zeros(ctx.n), where=kept[:, j] & (denom > 0))
        parts.append((slot.symbols, slot.weights, scale))
        if errs[j] is not ctx.zero_err:
            err = ctx.first_err(err, np.where(kept[:, j], errs[j], 0).astype(np.int32))
    # nothing kept while some candidate errored: the filter is not "empty", it failed (fail closed)
    none_kept = count == 0
    for j in range(len(slot_list)):
        if errs[j] is not ctx.zero_err:
            err = ctx.first_err(err, np.where(none_kept, errs[j], 0).astype(np.int32))
    out = ctx.accumulate(parts)
    if ctx.record_at is not None:
        i = ctx.record_at
        ranking = [
            RankEntry(names[j], finite_or_none(scores[i, j]), bool(kept[i, j]), slot_list[j].node)
            for j in range(len(names))
        ]
        top = node.select is None or node.select.kind is SelectKind.TOP
        ranking.sort(key=lambda e: (e.score is None, -(e.score or 0.0) if top else (e.score or 0.0), e.candidate))
        ctx.pending_ranking = ranking
    return Value([Slot(out.symbols, out.weights, None, False, node)], err)


def _candidate_name(node: Node) -> str:
    if isinstance(node, Asset):
        return node.symbol
    if isinstance(node, Group):
        return node.name
    return ""


def _rank(scores: FloatArray, kind: SelectKind | None, k: int | None) -> BoolArray:
    """Kept mask: the k best available scores per row; ties keep column order (columns sorted by name)."""
    available = ~np.isnan(scores)
    if kind is None or k is None:
        return available
    key = -scores if kind is SelectKind.TOP else scores
    key = np.where(available, key, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(scores.shape[1])[None, :]
    kept: BoolArray = (ranks < k) & available
    return kept
