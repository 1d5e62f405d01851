"""Strategies: per symphony its capital weight, when it next rebalances, its current allocation, the logic tree of
its last decision, and its history of allocations.

The tree is the stored decision trace (``alchemiser.dsl.trace``): the active path in depth-first order, each
``if`` with both operand values and the branch taken, each ``filter`` with its ranking (kept candidates marked),
each leaf asset with its weight. :func:`tree` nests the flat steps for rendering.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from alchemiser.store.database import Store
from alchemiser.store.decisions import EVALUATED_IN, NOT_DUE
from alchemiser.trading.rebalance_outlook import RebalanceOutlook

HISTORY = 30


@dataclass(frozen=True, slots=True)
class TraceNode:
    kind: str
    name: str | None
    weights: dict[str, float]
    at: str | None = None
    condition: dict[str, Any] | None = None  # expression, left, right
    branch: str | None = None  # "then" / "else" / None (unavailable)
    ranking: tuple[dict[str, Any], ...] = ()  # candidate, score, kept
    volatility: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    children: tuple[TraceNode, ...] = ()

    @property
    def leaf(self) -> bool:
        return self.kind == "asset"


@dataclass(frozen=True, slots=True)
class AllocationEntry:
    decision_id: str
    session: str
    status: str
    allocation: dict[str, Decimal]
    fail_reason: str | None


@dataclass(frozen=True, slots=True)
class StrategyView:
    name: str
    capital_weight: Decimal
    status: str | None  # of the last decision: ok / failed_closed / None (never decided)
    decision_id: str | None
    as_of: str | None
    allocation: dict[str, Decimal]  # the last successful allocation (what the strategy holds a share of)
    fail_reason: str | None
    tree: tuple[TraceNode, ...]
    history: tuple[AllocationEntry, ...]
    rebalance: RebalanceOutlook | None = None  # when it next rebalances (None: not known to the caller)
    #: "not due; next rebalance <date>" when the last decision did not evaluate it (a calendar rule between its
    #: rebalance days): ``tree`` and ``as_of`` are then those of the decision that last evaluated it
    not_due: str | None = None


def tree(steps: list[dict[str, Any]]) -> tuple[TraceNode, ...]:
    """Nest the trace's flat steps (``parent`` = index of the parent step) into root nodes."""
    children: dict[int | None, list[int]] = {}
    for index, step in enumerate(steps):
        children.setdefault(step.get("parent"), []).append(index)

    def build(index: int) -> TraceNode:
        step = steps[index]
        kids = tuple(build(c) for c in children.get(index, []))
        return TraceNode(
            kind=str(step.get("kind", "?")),
            name=step.get("name"),
            weights={str(k): float(v) for k, v in (step.get("weights") or {}).items()},
            at=None if step.get("at") is None else str(step["at"]),
            condition=step.get("condition"),
            branch=step.get("branch"),
            ranking=tuple(step.get("ranking") or ()),
            volatility=dict(step.get("volatility") or {}),
            error=step.get("error"),
            children=kids,
        )

    return tuple(build(i) for i in children.get(None, []))


def _allocation(text: str | None) -> dict[str, Decimal]:
    return {s: Decimal(w) for s, w in sorted(json.loads(text or "{}").items())}


async def strategy_views(
    store: Store, capital_weights: dict[str, Decimal], outlooks: Mapping[str, RebalanceOutlook] | None = None
) -> list[StrategyView]:
    found = outlooks or {}
    return [await strategy_view(store, name, weight, found.get(name)) for name, weight in capital_weights.items()]


async def strategy_view(
    store: Store, name: str, capital_weight: Decimal, rebalance: RebalanceOutlook | None = None
) -> StrategyView:
    rows = await store.fetchall(
        "SELECT s.decision_id, d.session, s.status, s.allocation, s.fail_reason FROM decision_strategies s"
        " JOIN decisions d ON d.decision_id = s.decision_id WHERE s.strategy = ?"
        " ORDER BY d.started_at DESC, d.decision_id DESC LIMIT ?",
        (name, HISTORY),
    )
    history = tuple(AllocationEntry(str(r[0]), str(r[1]), str(r[2]), _allocation(r[3]), r[4]) for r in rows)
    last = history[0] if history else None
    last_ok = next((h for h in history if h.status == "ok"), None)
    trace = {} if last is None else await _trace(store, last.decision_id, name)
    not_due = trace.get(NOT_DUE) if isinstance(trace.get(NOT_DUE), str) else None
    if not_due is not None:
        evaluated_in = trace.get(EVALUATED_IN)
        trace = await _trace(store, evaluated_in, name) if isinstance(evaluated_in, str) else {}
    return StrategyView(
        name=name,
        capital_weight=capital_weight,
        status=None if last is None else last.status,
        decision_id=None if last is None else last.decision_id,
        as_of=trace.get("asof"),
        allocation={} if last_ok is None else last_ok.allocation,
        fail_reason=None if last is None else last.fail_reason,
        tree=tree(list(trace.get("steps") or [])),
        history=history,
        rebalance=rebalance,
        not_due=not_due,
    )


async def _trace(store: Store, decision_id: str, name: str) -> dict[str, Any]:
    raw = await store.fetchval(
        "SELECT trace FROM decision_strategies WHERE decision_id = ? AND strategy = ?", (decision_id, name)
    )
    trace = json.loads(raw) if raw else {}
    return trace if isinstance(trace, dict) else {}
