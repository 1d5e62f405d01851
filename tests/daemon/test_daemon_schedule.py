"""XNYS schedule: holidays, early closes, DST, weekends, the missed-decision policy and the broker clock check."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from alchemiser.broker.models import MarketClock
from alchemiser.errors import ConfigError
from alchemiser.trading.schedule import (
    SlotAction,
    TradingCalendar,
    cross_check_clock,
    resolve_slot,
)

NY = ZoneInfo("America/New_York")


def ny(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), NY).astimezone(UTC)


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(minutes_before_close=15, data_refresh_lead_minutes=10, start=date(2023, 1, 1))


def test_regular_day_decides_at_1545_new_york(cal: TradingCalendar) -> None:
    slot = cal.slot(date(2024, 3, 5))
    assert slot is not None
    assert slot.decision_at == ny(date(2024, 3, 5), 15, 45)
    assert slot.refresh_at == ny(date(2024, 3, 5), 15, 35)
    assert not slot.session.early_close


def test_early_close_decides_at_1245(cal: TradingCalendar) -> None:
    # Day after Thanksgiving 2024 and Christmas Eve 2024 close at 13:00.
    for day in (date(2024, 11, 29), date(2024, 12, 24), date(2024, 7, 3)):
        slot = cal.slot(day)
        assert slot is not None, day
        assert slot.session.early_close
        assert slot.decision_at == ny(day, 12, 45)


@pytest.mark.parametrize(
    "day",
    [date(2024, 1, 1), date(2024, 1, 15), date(2024, 3, 29), date(2024, 7, 4), date(2024, 11, 28), date(2024, 12, 25)],
)
def test_no_decision_on_holidays(cal: TradingCalendar, day: date) -> None:
    assert cal.slot(day) is None
    assert not cal.is_session(day)


def test_no_decision_on_weekends_next_decision_is_monday(cal: TradingCalendar) -> None:
    friday_after = ny(date(2024, 3, 8), 16, 0)
    slot = cal.next_decision(friday_after)
    assert slot.day == date(2024, 3, 11)
    assert cal.slot(date(2024, 3, 9)) is None and cal.slot(date(2024, 3, 10)) is None


def test_next_decision_skips_holiday_and_handles_dst(cal: TradingCalendar) -> None:
    # Thanksgiving: Wed 27 → (Thu 28 closed) → Fri 29 early close.
    assert cal.next_decision(ny(date(2024, 11, 27), 16)).decision_at == ny(date(2024, 11, 29), 12, 45)
    # DST starts Sun 10 Mar 2024: 15:45 ET is 20:45 UTC before and 19:45 UTC after.
    before = cal.slot(date(2024, 3, 8))
    after = cal.slot(date(2024, 3, 11))
    assert before is not None and after is not None
    assert (before.decision_at.hour, before.decision_at.minute) == (20, 45)
    assert (after.decision_at.hour, after.decision_at.minute) == (19, 45)
    # DST ends Sun 3 Nov 2024.
    nov = cal.slot(date(2024, 11, 4))
    assert nov is not None and (nov.decision_at.hour, nov.decision_at.minute) == (20, 45)


def test_next_decision_strictly_after(cal: TradingCalendar) -> None:
    day = date(2024, 3, 5)
    at = ny(day, 15, 45)
    assert cal.next_decision(at - timedelta(seconds=1)).day == day
    assert cal.next_decision(at).day == date(2024, 3, 6)
    assert cal.next_decision(ny(day, 3)).day == day


def test_latest_decision(cal: TradingCalendar) -> None:
    assert cal.latest_decision(ny(date(2024, 3, 5), 15, 50)).day == date(2024, 3, 5)  # type: ignore[union-attr]
    assert cal.latest_decision(ny(date(2024, 3, 5), 10)).day == date(2024, 3, 4)  # type: ignore[union-attr]
    assert cal.latest_decision(ny(date(2024, 3, 10), 10)).day == date(2024, 3, 8)  # type: ignore[union-attr]


def test_is_open(cal: TradingCalendar) -> None:
    day = date(2024, 3, 5)
    assert cal.is_open(ny(day, 9, 30))
    assert cal.is_open(ny(day, 15, 59))
    assert not cal.is_open(ny(day, 16, 0))
    assert not cal.is_open(ny(day, 9, 29))
    assert not cal.is_open(ny(date(2024, 11, 29), 13, 30))  # early close


def test_custom_minutes_before_close() -> None:
    cal = TradingCalendar(minutes_before_close=30, data_refresh_lead_minutes=5, start=date(2024, 1, 1))
    slot = cal.slot(date(2024, 3, 5))
    assert slot is not None and slot.decision_at == ny(date(2024, 3, 5), 15, 30)
    assert slot.refresh_at == ny(date(2024, 3, 5), 15, 25)


def test_bad_config_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"schedule\.minutes_before_close"):
        TradingCalendar(minutes_before_close=-1)
    with pytest.raises(ConfigError, match=r"schedule\.data_refresh_lead_minutes"):
        TradingCalendar(data_refresh_lead_minutes=1000)


def test_out_of_range_day_is_refused(cal: TradingCalendar) -> None:
    with pytest.raises(ValueError, match="outside the loaded XNYS calendar"):
        cal.slot(date(2010, 1, 4))


def test_naive_datetime_refused(cal: TradingCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.next_decision(datetime(2024, 3, 5, 12))


# -- missed-decision policy ---------------------------------------------------------------------------------


def test_policy_wait_run_late_skip(cal: TradingCalendar) -> None:
    slot = cal.slot(date(2024, 3, 5))
    assert slot is not None
    window = timedelta(minutes=10)
    assert resolve_slot(slot, ny(date(2024, 3, 5), 15, 44), late_window=window).action is SlotAction.WAIT
    assert resolve_slot(slot, slot.decision_at + timedelta(seconds=30), late_window=window).action is SlotAction.RUN
    late = resolve_slot(slot, ny(date(2024, 3, 5), 15, 52), late_window=window)
    assert late.action is SlotAction.RUN_LATE and "late by 7.0 min" in late.reason
    skipped = resolve_slot(slot, ny(date(2024, 3, 5), 15, 56), late_window=window)
    assert skipped.action is SlotAction.SKIP and "beyond the late window" in skipped.reason


def test_policy_never_runs_after_close_even_with_a_big_window(cal: TradingCalendar) -> None:
    slot = cal.slot(date(2024, 11, 29))
    assert slot is not None
    res = resolve_slot(slot, ny(date(2024, 11, 29), 12, 59) + timedelta(seconds=30), late_window=timedelta(hours=5))
    assert res.action is SlotAction.SKIP and "session closes at 13:00" in res.reason
    res2 = resolve_slot(slot, ny(date(2024, 11, 29), 14), late_window=timedelta(hours=5))
    assert res2.action is SlotAction.SKIP


# -- broker clock cross-check -------------------------------------------------------------------------------


def _clock(stamp: datetime, is_open: bool, next_open: datetime, next_close: datetime) -> MarketClock:
    return MarketClock(timestamp=stamp, is_open=is_open, next_open=next_open, next_close=next_close)


def test_clock_agrees_when_open(cal: TradingCalendar) -> None:
    now = ny(date(2024, 3, 5), 11)
    clock = _clock(now, True, ny(date(2024, 3, 6), 9, 30), ny(date(2024, 3, 5), 16))
    check = cross_check_clock(clock, cal, now)
    assert check.ok, check.reason


def test_clock_agrees_on_weekend(cal: TradingCalendar) -> None:
    now = ny(date(2024, 3, 9), 11)
    clock = _clock(now, False, ny(date(2024, 3, 11), 9, 30), ny(date(2024, 3, 11), 16))
    assert cross_check_clock(clock, cal, now).ok


def test_clock_skew_is_measured_from_the_request_round_trip(cal: TradingCalendar) -> None:
    """An accelerated clock on a loaded host: the answer took 5 wall seconds, ten simulated minutes. A stamp taken
    while the request was in flight is no skew; one outside the round trip by more than 2 minutes is."""
    asked, arrived = ny(date(2024, 3, 5), 11), ny(date(2024, 3, 5), 11, 10)
    in_flight = _clock(ny(date(2024, 3, 5), 11, 1), True, ny(date(2024, 3, 6), 9, 30), ny(date(2024, 3, 5), 16))
    assert cross_check_clock(in_flight, cal, arrived, asked_at=asked).ok
    assert "differs from local clock" in cross_check_clock(in_flight, cal, arrived).reason  # no round trip known
    behind = _clock(ny(date(2024, 3, 5), 10, 57), True, ny(date(2024, 3, 6), 9, 30), ny(date(2024, 3, 5), 16))
    check = cross_check_clock(behind, cal, arrived, asked_at=asked)
    assert not check.ok and "by 180s (max 120s)" in check.reason
    ahead = _clock(ny(date(2024, 3, 5), 11, 13), True, ny(date(2024, 3, 6), 9, 30), ny(date(2024, 3, 5), 16))
    assert "by 180s (max 120s)" in cross_check_clock(ahead, cal, arrived, asked_at=asked).reason


def test_clock_disagreement_is_reported(cal: TradingCalendar) -> None:
    now = ny(date(2024, 7, 4), 11)  # holiday
    clock = _clock(now, True, ny(date(2024, 7, 5), 9, 30), ny(date(2024, 7, 4), 16))
    check = cross_check_clock(clock, cal, now)
    assert not check.ok
    assert "broker says market is open" in check.reason
    assert "next_close" in check.reason


def test_clock_skew_is_reported(cal: TradingCalendar) -> None:
    now = ny(date(2024, 3, 5), 11)
    stamp = now + timedelta(minutes=10)
    clock = _clock(stamp, True, ny(date(2024, 3, 6), 9, 30), ny(date(2024, 3, 5), 16))
    check = cross_check_clock(clock, cal, now)
    assert not check.ok and "differs from local clock" in check.reason


def test_clock_early_close_mismatch(cal: TradingCalendar) -> None:
    now = ny(date(2024, 11, 29), 11)
    clock = _clock(now, True, ny(date(2024, 12, 2), 9, 30), ny(date(2024, 11, 29), 16))
    check = cross_check_clock(clock, cal, now)
    assert not check.ok and "next_close" in check.reason
