"""When a symphony trades (dsl.md §4.1): calendar rebalance days over the real NYSE calendar, corridor decisions."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from alchemiser.dsl import parse_symphony
from alchemiser.dsl.rebalance import (
    RebalanceAction,
    RebalanceFrequency,
    RebalanceRule,
    action_on,
    drifted,
    evaluation_due,
    next_rebalance,
    rebalance_days,
)
from alchemiser.errors import StrategyError
from alchemiser.trading.schedule import xnys_sessions

D = dt.date
SESSIONS = [s.day for s in xnys_sessions(D(2022, 12, 1), D(2024, 1, 31))]


def firsts(frequency: str) -> list[dt.date]:
    rule = RebalanceRule.from_options(frequency, None)
    mask = rebalance_days(rule, SESSIONS)
    return [d for d, hit in zip(SESSIONS, mask.tolist(), strict=True) if hit]


def test_monthly_is_the_first_session_of_each_month_skipping_holidays() -> None:
    days = firsts("monthly")
    assert D(2023, 1, 3) in days  # Jan 2 2023 was the observed New Year holiday
    assert D(2023, 1, 2) not in days
    assert D(2023, 9, 1) in days and D(2023, 10, 2) in days  # Oct 1 2023 was a Sunday
    assert D(2024, 1, 2) in days  # year end: Jan 1 2024 a holiday
    assert len([d for d in days if d.year == 2023]) == 12


def test_quarterly_starting_on_a_holiday_and_yearly() -> None:
    q = [d for d in firsts("quarterly") if d.year == 2023]
    assert q == [D(2023, 1, 3), D(2023, 4, 3), D(2023, 7, 3), D(2023, 10, 2)]
    assert [d for d in firsts("yearly") if d.year >= 2023] == [D(2023, 1, 3), D(2024, 1, 2)]


def test_weekly_is_the_first_session_of_each_iso_week() -> None:
    days = firsts("weekly")
    assert D(2023, 1, 17) in days  # Monday Jan 16 2023 was MLK day: Tuesday opens the week
    assert D(2023, 1, 16) not in days and D(2023, 1, 18) not in days
    assert D(2023, 4, 10) in days  # the week after Good Friday starts normally
    assert all(a.isocalendar()[:2] != b.isocalendar()[:2] for a, b in itertools.pairwise(days))


def test_daily_trades_every_session_and_next_rebalance() -> None:
    assert len(firsts("daily")) == len(SESSIONS)
    rule = RebalanceRule(RebalanceFrequency.MONTHLY)
    after = [d for d in SESSIONS if d > D(2023, 3, 15)]
    assert next_rebalance(rule, D(2023, 3, 15), after) == D(2023, 4, 3)
    assert next_rebalance(RebalanceRule(RebalanceFrequency.NONE, 0.05), D(2023, 3, 15), after) is None


def test_corridor_trades_only_past_the_band_or_on_a_branch_switch() -> None:
    rule = RebalanceRule.from_options(None, 0.10)
    assert rule.frequency is RebalanceFrequency.NONE
    target = {"A": 0.5, "B": 0.5}
    day, before = D(2023, 3, 15), D(2023, 3, 14)
    assert action_on(rule, day, before, None, target) is RebalanceAction.FULL  # no book yet
    assert action_on(rule, day, before, {"A": 0.59, "B": 0.41}, target) is RebalanceAction.HOLD
    assert action_on(rule, day, before, {"A": 0.61, "B": 0.39}, target) is RebalanceAction.FULL
    assert action_on(rule, day, before, {"A": 0.5, "C": 0.5}, target) is RebalanceAction.FULL  # branch switch
    grown = drifted({"A": 0.5, "B": 0.5}, {"A": 1.5})
    assert grown == pytest.approx({"A": 0.6, "B": 0.4})


def test_calendar_rule_holds_between_rebalance_days() -> None:
    rule = RebalanceRule(RebalanceFrequency.MONTHLY)
    book = {"A": 0.55, "B": 0.45}
    target = {"A": 0.5, "B": 0.5}
    assert action_on(rule, D(2023, 3, 15), D(2023, 3, 14), book, target) is RebalanceAction.HOLD
    assert action_on(rule, D(2023, 4, 3), D(2023, 3, 31), book, target) is RebalanceAction.FULL
    # a branch switch between rebalance days waits for the next one too
    assert action_on(rule, D(2023, 3, 15), D(2023, 3, 14), {"C": 1.0}, target) is RebalanceAction.HOLD
    daily = RebalanceRule()
    assert action_on(daily, D(2023, 3, 15), D(2023, 3, 14), book, target) is RebalanceAction.TRADE


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{:rebalance-frequency :fortnightly}", "must be one of :none, :daily"),
        ("{:rebalance-frequency :monthly :rebalance-threshold 0.05}", "only with :rebalance-frequency :none"),
    ],
)
def test_bad_rebalance_options_are_parse_errors_naming_the_option(options: str, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        parse_symphony(f'(defsymphony "x" {options} (asset "SPY"))')


def test_options_become_the_rule() -> None:
    s = parse_symphony('(defsymphony "x" {:rebalance-frequency :quarterly} (asset "SPY"))')
    assert s.rebalance_rule == RebalanceRule(RebalanceFrequency.QUARTERLY)
    c = parse_symphony('(defsymphony "x" {:rebalance-threshold 0.05} (asset "SPY"))')
    assert c.rebalance_rule == RebalanceRule(RebalanceFrequency.NONE, 0.05)
    assert np.all(~rebalance_days(c.rebalance_rule, SESSIONS))  # a corridor has no calendar days


@pytest.mark.parametrize("frequency", [f.value for f in RebalanceFrequency])
def test_a_symphony_is_evaluated_exactly_when_its_evaluation_can_change_what_its_book_does(frequency: str) -> None:
    """Not due means held whatever the symphony would say: the daemon may skip the evaluation (issue 16)."""
    rule = RebalanceRule.from_options(frequency, 0.05 if frequency == "none" else None)
    held = {"A": 0.6, "B": 0.4}
    targets = [{"A": 0.5, "B": 0.5}, {"C": 1.0}, dict(held)]
    due_days = 0
    for previous, session in itertools.pairwise(SESSIONS):
        due = evaluation_due(rule, session, previous, held)
        due_days += due
        if not due:
            assert all(action_on(rule, session, previous, held, t) is RebalanceAction.HOLD for t in targets)
        assert evaluation_due(rule, session, previous, None), "a strategy without a book is always built"
    every = len(SESSIONS) - 1  # sessions from 2 December 2022 to 31 January 2024
    weeks = len({d.isocalendar()[:2] for d in SESSIONS}) - 1  # the ISO week of 1 December 2022 is not new
    expected = {"none": every, "daily": every, "weekly": weeks, "monthly": 13, "quarterly": 5, "yearly": 2}
    assert due_days == expected[frequency]
