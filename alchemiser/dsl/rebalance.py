"""When a symphony trades (dsl.md §4.1): its rebalance frequency or corridor, one implementation for the daemon and
the backtester.

- **Calendar modes** (``:daily`` — the default —, ``:weekly``, ``:monthly``, ``:quarterly``, ``:yearly``): the
  symphony's book is rebalanced to target on the first trading session of each period (ISO week, month, quarter,
  year) and on no other day. Which session is "first" is decided from the session before it: a session opens a
  period when the previous session lies in an earlier period, so holidays are respected by construction.
- **Corridor** (``:rebalance-threshold x``, with ``:rebalance-frequency :none`` or none given): evaluated every
  session, the book is rebalanced — all of it — when any holding's weight inside the book is more than ``x`` away
  from its target, or when the set of selected symbols changes.
- ``:none`` without a threshold: the book trades only when the selection changes (a corridor of infinite width).

Everything here is plain values (dates, weight mappings): the caller supplies the sessions (the exchange calendar
live, the data's sessions in a backtest) and the book's current weights.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from alchemiser.errors import StrategyError

BoolArray = npt.NDArray[np.bool_]


class RebalanceFrequency(StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


FREQUENCIES: tuple[str, ...] = tuple(f.value for f in RebalanceFrequency)


class RebalanceAction(StrEnum):
    """What a strategy's book does on a session."""

    TRADE = "trade"  # brought to target (the account planner's drift band and minimum trade still apply)
    FULL = "full"  # brought to target exactly: a calendar rebalance day, a corridor breach or a branch switch
    HOLD = "hold"  # drifts with the market: nothing of it trades


@dataclass(frozen=True, slots=True)
class RebalanceRule:
    """A symphony's ``:rebalance-frequency`` / ``:rebalance-threshold`` as one validated rule."""

    frequency: RebalanceFrequency = RebalanceFrequency.DAILY
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None:
            if not 0 <= self.threshold < 1:
                raise StrategyError(f":rebalance-threshold must be in [0, 1), got {self.threshold}")
            if self.frequency is not RebalanceFrequency.NONE:
                raise StrategyError(
                    f":rebalance-threshold goes only with :rebalance-frequency :none (a corridor), "
                    f"not with :{self.frequency.value}"
                )

    @classmethod
    def from_options(cls, frequency: str | None, threshold: float | None) -> RebalanceRule:
        """The rule of a symphony's options; a threshold without a frequency is a corridor (``:none``)."""
        if frequency is None:
            freq = RebalanceFrequency.NONE if threshold is not None else RebalanceFrequency.DAILY
        else:
            try:
                freq = RebalanceFrequency(frequency.strip().lower())
            except ValueError:
                raise StrategyError(
                    f":rebalance-frequency must be one of {', '.join(':' + f for f in FREQUENCIES)}, got :{frequency}"
                ) from None
        return cls(freq, threshold)

    @property
    def calendar(self) -> bool:
        """True when the rule trades on calendar days (not on drift)."""
        return self.frequency is not RebalanceFrequency.NONE

    def describe(self) -> str:
        if self.calendar:
            return self.frequency.value
        if self.threshold is None:
            return "on selection change"
        return f"corridor {self.threshold:g}"


def period_of(frequency: RebalanceFrequency, day: dt.date) -> tuple[int, int]:
    """The calendar period ``day`` lies in (ISO week, month, quarter, year); every day is its own for daily."""
    if frequency is RebalanceFrequency.WEEKLY:
        iso = day.isocalendar()
        return iso.year, iso.week
    if frequency is RebalanceFrequency.MONTHLY:
        return day.year, day.month
    if frequency is RebalanceFrequency.QUARTERLY:
        return day.year, (day.month - 1) // 3
    if frequency is RebalanceFrequency.YEARLY:
        return day.year, 0
    return day.year, day.timetuple().tm_yday


def opens_period(rule: RebalanceRule, session: dt.date, previous_session: dt.date | None) -> bool:
    """True if ``session`` is a calendar rebalance day: the first session of its period (every session for daily).

    ``previous_session`` is the exchange session before ``session`` (None: unknown, the session counts as first).
    A corridor rule has no calendar days: it is checked every session (:func:`corridor_action`)."""
    if not rule.calendar:
        return False
    if previous_session is None:
        return True
    return period_of(rule.frequency, previous_session) != period_of(rule.frequency, session)


def rebalance_days(rule: RebalanceRule, sessions: Sequence[dt.date]) -> BoolArray:
    """Per session, whether it is a calendar rebalance day (:func:`opens_period` over consecutive sessions)."""
    out = np.zeros(len(sessions), dtype=bool)
    previous: dt.date | None = None
    for i, session in enumerate(sessions):
        out[i] = opens_period(rule, session, previous)
        previous = session
    return out


def next_rebalance(rule: RebalanceRule, last_session: dt.date, upcoming: Iterable[dt.date]) -> dt.date | None:
    """The first of the ``upcoming`` sessions (ascending, after ``last_session``) that is a calendar rebalance day;
    None for a corridor rule (it may trade any session) or when ``upcoming`` holds none."""
    if not rule.calendar:
        return None
    previous = last_session
    for session in upcoming:
        if opens_period(rule, session, previous):
            return session
        previous = session
    return None


def drifted(weights: Mapping[str, float], growth: Mapping[str, float]) -> dict[str, float]:
    """A book's weights after each holding grew by ``growth[sym]`` (price now / price at the rebalance), renormalised.
    A holding without a growth figure keeps its value."""
    values = {s: w * growth.get(s, 1.0) for s, w in weights.items() if w > 0}
    total = sum(values.values())
    return {s: v / total for s, v in values.items()} if total > 0 else {}


def max_drift(held: Mapping[str, float], target: Mapping[str, float]) -> float:
    """The largest |held − target| weight over the symbols of either."""
    symbols = set(held) | set(target)
    return max((abs(held.get(s, 0.0) - target.get(s, 0.0)) for s in symbols), default=0.0)


def selection(weights: Mapping[str, float]) -> frozenset[str]:
    return frozenset(s for s, w in weights.items() if w > 0)


def corridor_action(
    rule: RebalanceRule, held: Mapping[str, float] | None, target: Mapping[str, float]
) -> RebalanceAction:
    """A corridor rule's action on a session: FULL when there is no book yet, the selection changed or a holding
    drifted more than the threshold from its target (``held`` and ``target`` are weights within the book); else HOLD."""
    if held is None or not held or selection(held) != selection(target):
        return RebalanceAction.FULL
    if rule.threshold is not None and max_drift(held, target) > rule.threshold:
        return RebalanceAction.FULL
    return RebalanceAction.HOLD


def evaluation_due(
    rule: RebalanceRule, session: dt.date, previous_session: dt.date | None, held: Mapping[str, float] | None
) -> bool:
    """Whether the symphony is evaluated on ``session`` at all: not for a calendar rule (weekly to yearly) whose
    book exists on a session that opens no period — :func:`action_on` holds that book whatever the symphony says,
    so the daemon does not evaluate it (dsl.md §4.1: evaluated and traded on the first session of each period only).
    Daily, corridor and ``:none`` rules are evaluated every session; a strategy without a book yet is built now."""
    if not rule.calendar or rule.frequency is RebalanceFrequency.DAILY or not held:
        return True
    return opens_period(rule, session, previous_session)


def action_on(
    rule: RebalanceRule,
    session: dt.date,
    previous_session: dt.date | None,
    held: Mapping[str, float] | None,
    target: Mapping[str, float],
) -> RebalanceAction:
    """What the book does on ``session`` given its current weights ``held`` (None: no book yet) and the symphony's
    ``target``: the one decision the daemon and the backtester share."""
    if not rule.calendar:
        return corridor_action(rule, held, target)
    if held is None or not held:
        return RebalanceAction.FULL  # a new book is built on its first decision, whatever the day
    if rule.frequency is RebalanceFrequency.DAILY:
        return RebalanceAction.FULL if selection(held) != selection(target) else RebalanceAction.TRADE
    return RebalanceAction.FULL if evaluation_due(rule, session, previous_session, held) else RebalanceAction.HOLD
