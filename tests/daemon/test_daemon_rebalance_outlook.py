"""When each strategy next rebalances (trading/rebalance_outlook.py) over the real XNYS calendar: the one function
behind ``explain``, ``/status`` and the Strategies page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from alchemiser.dsl.rebalance import RebalanceFrequency, RebalanceRule
from alchemiser.trading.rebalance_outlook import outlook_after, pending_outlook, strategy_outlooks
from alchemiser.trading.schedule import TradingCalendar

F = RebalanceFrequency


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return TradingCalendar(start=date(2015, 1, 1))


@pytest.mark.parametrize(
    ("frequency", "after", "expected"),
    [
        (F.MONTHLY, date(2024, 8, 15), date(2024, 9, 3)),  # 1 Sep a Sunday, 2 Sep Labor Day
        (F.MONTHLY, date(2023, 12, 29), date(2024, 1, 2)),  # New Year's Day a Monday
        (F.QUARTERLY, date(2024, 2, 1), date(2024, 4, 1)),
        (F.QUARTERLY, date(2023, 10, 2), date(2024, 1, 2)),  # across the year end, the quarter opens on a holiday
        (F.WEEKLY, date(2024, 1, 10), date(2024, 1, 16)),  # Monday 15 Jan is Martin Luther King Jr. Day
        (F.YEARLY, date(2024, 3, 1), date(2025, 1, 2)),
        (F.DAILY, date(2024, 3, 28), date(2024, 4, 1)),  # Good Friday closed
    ],
)
def test_next_rebalance_session_respects_holidays(
    calendar: TradingCalendar, frequency: RebalanceFrequency, after: date, expected: date
) -> None:
    rule = RebalanceRule(frequency)
    assert outlook_after(rule, after, calendar).next == expected
    assert outlook_after(rule, after).next == expected, "the CLI's own XNYS table agrees with the daemon's calendar"


def test_a_pending_session_that_opens_the_period_is_the_next_rebalance(calendar: TradingCalendar) -> None:
    monthly = RebalanceRule(F.MONTHLY)
    assert pending_outlook(monthly, calendar, date(2024, 9, 3)).next == date(2024, 9, 3)
    assert pending_outlook(monthly, calendar, date(2024, 9, 4)).next == date(2024, 10, 1)


def test_summaries_name_the_rule_in_words(calendar: TradingCalendar) -> None:
    after = date(2024, 3, 5)
    monthly = outlook_after(RebalanceRule(F.MONTHLY), after, calendar)
    assert monthly.to_json() == {
        "rule": "monthly",
        "next": "2024-04-01",
        "summary": "monthly: next rebalance 2024-04-01 (first session of the month)",
        "basis": "monthly: first session of each month",
        "headline": "2024-04-01",
    }
    daily = outlook_after(RebalanceRule(F.DAILY), after, calendar)
    assert (daily.summary, daily.headline, daily.next) == ("daily: every session", "every session", date(2024, 3, 6))
    corridor = outlook_after(RebalanceRule(F.NONE, 0.05), after, calendar)
    assert corridor.next is None and corridor.rule == "corridor 0.05" and corridor.headline == "every session"
    assert corridor.summary == "threshold: every session, rebalances when drift > 0.05 or the selection changes"
    selection = outlook_after(RebalanceRule(F.NONE), after, calendar)
    assert selection.next is None and "only when the selection changes" in selection.summary
    beyond = outlook_after(RebalanceRule(F.YEARLY), calendar.last_day, calendar)
    assert beyond.next is None and beyond.headline == "beyond the loaded calendar"
    assert beyond.summary == "yearly: next rebalance beyond the loaded calendar (first session of the year)"


@dataclass
class _Engine:
    name: str
    rebalance_rule: RebalanceRule


def test_strategy_outlooks_by_name(calendar: TradingCalendar) -> None:
    engines = [_Engine("m", RebalanceRule(F.MONTHLY)), _Engine("q", RebalanceRule(F.QUARTERLY))]
    found = strategy_outlooks(engines, calendar, date(2024, 3, 5))
    assert {name: o.next for name, o in found.items()} == {"m": date(2024, 4, 1), "q": date(2024, 4, 1)}
