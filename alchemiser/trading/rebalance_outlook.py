"""When a strategy next rebalances (dsl.md §4.1), as ``explain``, ``/status`` and the dashboard's Strategies page say
it: one function over the XNYS calendar, so the three can never disagree.

A calendar rule names its next rebalance session (the first session of the next ISO week, month, quarter or year, or
of the current period when that session is still to be decided); ``:daily`` trades every session; a corridor
(``:rebalance-threshold x``) and ``:none`` are checked every session and have no calendar day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from alchemiser.dsl.rebalance import RebalanceFrequency, RebalanceRule, next_rebalance
from alchemiser.trading.schedule import Session, TradingCalendar, xnys_sessions

#: how far ahead the next rebalance session is looked for (a yearly rule's next one is at most a year away)
HORIZON = timedelta(days=400)

_PERIOD = {
    RebalanceFrequency.WEEKLY: "ISO week",
    RebalanceFrequency.MONTHLY: "month",
    RebalanceFrequency.QUARTERLY: "quarter",
    RebalanceFrequency.YEARLY: "year",
}


class RuledStrategy(Protocol):
    """A configured strategy as far as its rebalance days go (the decision cycle's engines are)."""

    @property
    def name(self) -> str: ...

    @property
    def rebalance_rule(self) -> RebalanceRule: ...


@dataclass(frozen=True, slots=True)
class RebalanceOutlook:
    """A strategy's rule (``RebalanceRule.describe``), its next calendar rebalance session (None: a corridor or
    ``:none``, which may trade any session, or none within the loaded calendar) and a sentence for people."""

    rule: str
    next: date | None
    summary: str
    basis: str  # the rule in words, without the date: "monthly: first session of each month"
    headline: str  # the next rebalance in a short phrase: its session, or "every session"

    def to_json(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "next": None if self.next is None else self.next.isoformat(),
            "summary": self.summary,
            "basis": self.basis,
            "headline": self.headline,
        }


def rebalance_outlook(rule: RebalanceRule, last_session: date, upcoming: Iterable[date]) -> RebalanceOutlook:
    """The outlook after ``last_session`` was decided; ``upcoming`` are the sessions after it, ascending."""
    following = next_rebalance(rule, last_session, upcoming)
    basis = _basis(rule)
    if not rule.calendar or rule.frequency is RebalanceFrequency.DAILY:
        return RebalanceOutlook(rule.describe(), following, basis, basis, "every session")
    when = "beyond the loaded calendar" if following is None else following.isoformat()
    summary = f"{rule.frequency.value}: next rebalance {when} (first session of the {_PERIOD[rule.frequency]})"
    return RebalanceOutlook(rule.describe(), following, summary, basis, when)


def outlook_after(rule: RebalanceRule, day: date, calendar: TradingCalendar | None = None) -> RebalanceOutlook:
    """The outlook after the session ``day`` was decided, over ``calendar`` (the daemon's) or, without one, an XNYS
    table of the following :data:`HORIZON` (any date the exchange calendar knows: ``explain`` on old data)."""
    first, last = day + timedelta(days=1), day + HORIZON
    sessions: Iterable[Session]
    try:
        sessions = calendar.sessions_between(first, last) if calendar is not None else xnys_sessions(first, last)
    except ValueError:  # outside the range exchange_calendars knows
        sessions = ()
    return rebalance_outlook(rule, day, (s.day for s in sessions))


def pending_outlook(rule: RebalanceRule, calendar: TradingCalendar, pending: date) -> RebalanceOutlook:
    """The outlook of a running daemon whose next decision is on the session ``pending`` (not decided yet): that
    session counts when it opens a period."""
    return outlook_after(rule, calendar.previous_session(pending).day, calendar)


def strategy_outlooks(
    strategies: Iterable[RuledStrategy], calendar: TradingCalendar, pending: date
) -> dict[str, RebalanceOutlook]:
    """:func:`pending_outlook` of every configured strategy, by name."""
    return {s.name: pending_outlook(s.rebalance_rule, calendar, pending) for s in strategies}


def _basis(rule: RebalanceRule) -> str:
    if rule.frequency is RebalanceFrequency.DAILY:
        return "daily: every session"
    if not rule.calendar:
        if rule.threshold is None:
            return "none: checked every session, rebalances only when the selection changes"
        return f"threshold: every session, rebalances when drift > {rule.threshold:g} or the selection changes"
    return f"{rule.frequency.value}: first session of each {_PERIOD[rule.frequency]}"
