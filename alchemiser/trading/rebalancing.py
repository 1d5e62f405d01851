"""When each configured strategy trades in the daemon: ``alchemiser.dsl.rebalance`` (the backtester's rule) applied
to the live book.

On a session, a strategy's evaluated allocation becomes a planner target marked ``hold`` (its book drifts: nothing
of it trades — between calendar rebalance days, inside its corridor, or failed closed), ``exact`` (brought exactly
to target: a calendar rebalance day, a corridor breach, a branch switch) or plain (a daily symphony: the account
planner's drift band applies). The book's current weights come from the per-strategy books (``BookValues``: market
value of each holding), so a corridor is measured on what the strategy really holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from alchemiser.dsl.rebalance import RebalanceAction, RebalanceRule, action_on
from alchemiser.portfolio.planner import StrategyTarget
from alchemiser.store.decisions import StrategyDecision

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
    held = book_weights(book)
    if held is None and last_allocation:
        held = {s: float(w) for s, w in last_allocation.items() if w > 0}
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
    last_weights: dict[str, Decimal] = {}
    if last is not None and last.get("status") == "ok":
        last_weights = {s: Decimal(w) for s, w in (last.get("allocation") or {}).items()}
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
