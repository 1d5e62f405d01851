"""When each configured strategy trades in the daemon: ``alchemiser.dsl.rebalance`` (the backtester's rule) applied
to the live book.

On a session, a strategy's evaluated allocation becomes a planner target marked ``hold`` (its book drifts: nothing
of it trades — between calendar rebalance days, inside its corridor, or failed closed), ``exact`` (brought exactly
to target: a calendar rebalance day, a corridor breach, a branch switch) or plain (a daily symphony: the account
planner's drift band applies). The book's current weights come from the per-strategy books (``BookValues``: market
value of each holding), so a corridor is measured on what the strategy really holds. A calendar strategy that is
not due on the session is not evaluated at all (:func:`not_due_book`, :func:`not_due_decision`): it holds its book.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from alchemiser.dsl.rebalance import RebalanceAction, RebalanceRule, action_on, evaluation_due
from alchemiser.portfolio.planner import StrategyTarget
from alchemiser.store.decisions import EVALUATED_IN, NOT_DUE, StrategyDecision
from alchemiser.trading.evaluation import WEIGHT_QUANTUM
from alchemiser.trading.rebalance_outlook import RebalanceOutlook

#: strategy name → symbol → market value of its book's holding (the execution books priced at the latest marks)
BookValues = Callable[[], Awaitable[Mapping[str, Mapping[str, Decimal]]]]
PreviousSession = Callable[[date], date | None]


def book_weights(values: Mapping[str, Decimal] | None) -> dict[str, float] | None:
    """A book's holdings as weights within the book; None when it holds nothing."""
    if not values:
        return None
    held = {s: float(v) for s, v in values.items() if v > 0}
    total = sum(held.values())
    return {s: v / total for s, v in held.items()} if total > 0 else None


def held_weights(book: Mapping[str, Decimal] | None, last_allocation: Mapping[str, Decimal]) -> dict[str, float] | None:
    """What the strategy holds, as weights within its book: the priced book, or (unknown) its last allocation."""
    held = book_weights(book)
    if held is None and last_allocation:
        held = {s: float(w) for s, w in last_allocation.items() if w > 0}
    return held


def last_ok_allocation(last: Mapping[str, Any] | None) -> dict[str, Decimal]:
    """The allocation of a strategy's last stored decision (``last_per_strategy``) when that decision was ``ok``."""
    if last is None or last.get("status") != "ok":
        return {}
    return {s: Decimal(w) for s, w in (last.get("allocation") or {}).items()}


def live_target(
    *,
    name: str,
    capital_weight: Decimal,
    rule: RebalanceRule,
    session: date,
    previous_session: date | None,
    allocation: Mapping[str, Decimal] | None,
    last_allocation: Mapping[str, Decimal],
    book: Mapping[str, Decimal] | None,
) -> tuple[StrategyTarget, RebalanceAction]:
    """The planner target of one strategy on ``session``.

    ``allocation`` is today's evaluation (None: failed closed); ``last_allocation`` the last successful one;
    ``book`` the market value of what the strategy holds (None: unknown — then the last allocation stands in)."""
    held = held_weights(book, last_allocation)
    previous_selection = frozenset(held) if held else None
    if allocation is None:
        keep = {s: Decimal(repr(w)) for s, w in (held or {}).items()}
        target = StrategyTarget(name, capital_weight, keep, previous_selection, hold=True)
        return target, RebalanceAction.HOLD
    wanted = {s: float(w) for s, w in allocation.items() if w > 0}
    action = action_on(rule, session, previous_session, held, wanted)
    if action is RebalanceAction.HOLD and held:
        keep = {s: Decimal(repr(w)) for s, w in held.items()}
        return StrategyTarget(name, capital_weight, keep, previous_selection, hold=True), action
    exact = action is RebalanceAction.FULL
    return StrategyTarget(name, capital_weight, dict(allocation), previous_selection, exact=exact), action


def decision_target(
    rule: RebalanceRule,
    result: StrategyDecision,
    last: Mapping[str, Any] | None,
    *,
    session: date,
    previous_session: date | None,
    books: Mapping[str, Mapping[str, Decimal]],
) -> StrategyTarget:
    """:func:`live_target` for one strategy of a decision: ``last`` is its last stored decision (its allocation
    counts when that decision was ``ok``); the rule and the action taken are added to the stored trace."""
    last_weights = last_ok_allocation(last)
    target, action = live_target(
        name=result.strategy,
        capital_weight=result.capital_weight,
        rule=rule,
        session=session,
        previous_session=previous_session,
        allocation=dict(result.allocation) if result.status == "ok" else None,
        last_allocation=last_weights,
        book=books.get(result.strategy),
    )
    if isinstance(result.trace, dict):
        result.trace["rebalance"] = {"rule": rule.describe(), "action": action.value}
    return target


def not_due_book(
    rule: RebalanceRule,
    session: date,
    previous_session: date | None,
    book: Mapping[str, Decimal] | None,
    last: Mapping[str, Any] | None,
) -> dict[str, float] | None:
    """The weights a strategy holds when it is not due on ``session`` (then it is not evaluated); None when it is
    due (``dsl.rebalance.evaluation_due``). ``book`` and ``last`` are as for :func:`decision_target`."""
    held = held_weights(book, last_ok_allocation(last))
    if held is None or evaluation_due(rule, session, previous_session, held):
        return None
    return held


def not_due_decision(
    rule: RebalanceRule,
    *,
    name: str,
    capital_weight: Decimal,
    session: date,
    held: Mapping[str, float],
    outlook: RebalanceOutlook,
    last: Mapping[str, Any] | None,
) -> tuple[StrategyDecision, StrategyTarget]:
    """A calendar strategy on a session that is not its rebalance day (``dsl.rebalance.evaluation_due`` is False):
    not evaluated; its target is the book it holds (drifting, nothing of it trades). The stored decision is ``ok``
    with the held weights as its allocation and a trace saying so: ``not_due`` is "not due; next rebalance <date>",
    ``evaluated_in`` the decision that last evaluated it (from ``last``, its ``last_per_strategy`` entry)."""
    exact = {s: Decimal(repr(w)) for s, w in held.items() if w > 0}  # the hold target, as on any held session
    target, action = live_target(
        name=name,
        capital_weight=capital_weight,
        rule=rule,
        session=session,
        previous_session=None,
        allocation=None,
        last_allocation=exact,
        book=None,
    )
    note = f"not due; next rebalance {outlook.headline}"
    trace = {
        NOT_DUE: note,
        EVALUATED_IN: None if last is None else last.get(EVALUATED_IN),
        "decision_session": session.isoformat(),
        "rebalance": {"rule": rule.describe(), "action": action.value, "next": outlook.to_json()["next"]},
    }
    recorded = {s: w.quantize(WEIGHT_QUANTUM, ROUND_DOWN).normalize() for s, w in exact.items()}
    return StrategyDecision(name, capital_weight, "ok", allocation=recorded, trace=trace), target
