"""When to decide: XNYS sessions, decision and data-refresh times, the missed-decision policy and the clock check.

Pure and synchronous (no I/O, no sleeping): the scheduler actor asks this module *when*, and sleeps on the injected
clock itself.

* ``TradingCalendar`` — the New York Stock Exchange sessions from ``exchange_calendars`` (holidays and early closes
  included), precomputed once into a date → ``Session`` table.
* ``DecisionSlot`` — one session's decision instant (close − ``minutes_before_close``: 15:45 ET normally, 12:45 on
  early-close days) and its data-refresh instant (decision − ``data_refresh_lead_minutes``).
* ``TradingCalendar.next_decision(after)`` — the first slot whose decision time is strictly after ``after``.
* ``resolve_slot(slot, now, late_window)`` — whether a slot is still ahead, due now, runnable late, or must be
  skipped and reported (the daemon was down at its time).
* ``cross_check_clock(broker_clock, calendar, now)`` — the broker's ``/v2/clock`` against the calendar: any
  disagreement means no trading, with a reason an operator can read.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars
import pandas as pd

from alchemiser.broker.models import MarketClock
from alchemiser.clock import ensure_utc
from alchemiser.errors import ConfigError

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR_NAME = "XNYS"
_REGULAR_SESSION = timedelta(hours=6, minutes=30)


@dataclass(frozen=True)
class Session:
    """One regular trading session; times are aware UTC."""

    day: date
    open_at: datetime
    close_at: datetime

    @property
    def early_close(self) -> bool:
        return self.close_at - self.open_at < _REGULAR_SESSION

    def contains(self, moment: datetime) -> bool:
        return self.open_at <= moment < self.close_at


@dataclass(frozen=True)
class DecisionSlot:
    """When one session's decision happens and when its data is refreshed beforehand."""

    session: Session
    decision_at: datetime
    refresh_at: datetime

    @property
    def day(self) -> date:
        return self.session.day

    @property
    def close_at(self) -> datetime:
        return self.session.close_at

    def to_json(self) -> dict[str, str | bool]:
        return {
            "session": self.day.isoformat(),
            "decision_at": self.decision_at.isoformat(),
            "decision_at_new_york": self.decision_at.astimezone(NEW_YORK).isoformat(),
            "refresh_at": self.refresh_at.isoformat(),
            "close_at": self.close_at.isoformat(),
            "early_close": self.session.early_close,
        }


@lru_cache(maxsize=4)
def xnys_sessions(start: date | None = None, end: date | None = None) -> tuple[Session, ...]:
    """The XNYS sessions between ``start`` and ``end`` (``exchange_calendars``' defaults when ``None``), in order.

    Building an ``exchange_calendars`` calendar costs a few hundred milliseconds of CPU (pandas holiday rules), and a
    sim daemon needs the same table for its clock and for its scheduler: the result is immutable, so it is computed
    once per range and shared.
    """
    kwargs: dict[str, pd.Timestamp] = {}
    if start is not None:
        kwargs["start"] = pd.Timestamp(start)
    if end is not None:
        kwargs["end"] = pd.Timestamp(end)
    with warnings.catch_warnings():
        # exchange_calendars trips pandas deprecation warnings on construction; they are not ours to fix.
        warnings.simplefilter("ignore")
        calendar = exchange_calendars.get_calendar(CALENDAR_NAME, **kwargs)
        opens = list(calendar.schedule["open"])
        closes = list(calendar.schedule["close"])
        labels = list(calendar.sessions)
    return tuple(
        Session(
            day=label.date(),
            open_at=open_ts.to_pydatetime().astimezone(UTC),
            close_at=close_ts.to_pydatetime().astimezone(UTC),
        )
        for label, open_ts, close_ts in zip(labels, opens, closes, strict=True)
    )


class TradingCalendar:
    """XNYS sessions between ``start`` and ``end`` (defaults: what ``exchange_calendars`` ships, ~20 years back
    to ~1 year ahead), with the decision-time rule applied."""

    def __init__(
        self,
        *,
        minutes_before_close: int = 15,
        data_refresh_lead_minutes: int = 10,
        start: date | None = None,
        end: date | None = None,
    ) -> None:
        problems: list[str] = []
        if not 0 <= minutes_before_close < 180:
            problems.append(f"schedule.minutes_before_close must be in [0, 180), got {minutes_before_close}")
        if not 0 <= data_refresh_lead_minutes <= 240:
            problems.append(f"schedule.data_refresh_lead_minutes must be in [0, 240], got {data_refresh_lead_minutes}")
        if problems:
            raise ConfigError(problems)
        self.minutes_before_close = minutes_before_close
        self.data_refresh_lead_minutes = data_refresh_lead_minutes
        self._sessions: dict[date, Session] = {session.day: session for session in xnys_sessions(start, end)}
        self._days: list[date] = sorted(self._sessions)
        self.first_day = self._days[0]
        self.last_day = self._days[-1]

    # -- sessions -------------------------------------------------------------------------------------------

    def session(self, day: date) -> Session | None:
        """The session on ``day`` (a New York date), or ``None`` on weekends and holidays."""
        self._check_range(day)
        return self._sessions.get(day)

    def is_session(self, day: date) -> bool:
        return self.session(day) is not None

    def sessions_between(self, start: date, end: date) -> list[Session]:
        """Sessions with ``start <= day <= end``."""
        return [self._sessions[d] for d in self._days if start <= d <= end]

    def session_at(self, moment: datetime) -> Session | None:
        """The session whose regular hours contain ``moment``, if any."""
        session = self.session(ensure_utc(moment).astimezone(NEW_YORK).date())
        if session is not None and session.contains(ensure_utc(moment)):
            return session
        return None

    def is_open(self, moment: datetime) -> bool:
        return self.session_at(moment) is not None

    def next_session(self, after: date) -> Session:
        """The first session strictly after the New York date ``after``."""
        day = after + timedelta(days=1)
        while True:
            self._check_range(day)
            found = self._sessions.get(day)
            if found is not None:
                return found
            day += timedelta(days=1)

    def previous_session(self, before: date) -> Session:
        """The last session strictly before the New York date ``before``."""
        day = before - timedelta(days=1)
        while True:
            self._check_range(day)
            found = self._sessions.get(day)
            if found is not None:
                return found
            day -= timedelta(days=1)

    def next_open(self, after: datetime) -> datetime:
        """The first session open strictly after ``after``."""
        moment = ensure_utc(after)
        today = self._sessions.get(moment.astimezone(NEW_YORK).date())
        if today is not None and today.open_at > moment:
            return today.open_at
        return self.next_session(moment.astimezone(NEW_YORK).date()).open_at

    def next_close(self, after: datetime) -> datetime:
        """The first session close strictly after ``after``."""
        moment = ensure_utc(after)
        today = self._sessions.get(moment.astimezone(NEW_YORK).date())
        if today is not None and today.close_at > moment:
            return today.close_at
        return self.next_session(moment.astimezone(NEW_YORK).date()).close_at

    # -- decisions ------------------------------------------------------------------------------------------

    def slot(self, day: date) -> DecisionSlot | None:
        """The decision slot of the session on ``day``, or ``None`` when the market is closed that day."""
        session = self.session(day)
        return None if session is None else self._slot(session)

    def _slot(self, session: Session) -> DecisionSlot:
        decision_at = session.close_at - timedelta(minutes=self.minutes_before_close)
        return DecisionSlot(
            session=session,
            decision_at=decision_at,
            refresh_at=decision_at - timedelta(minutes=self.data_refresh_lead_minutes),
        )

    def next_decision(self, after: datetime) -> DecisionSlot:
        """The first decision slot whose decision time is strictly after ``after``."""
        moment = ensure_utc(after)
        today = self._sessions.get(moment.astimezone(NEW_YORK).date())
        if today is not None:
            slot = self._slot(today)
            if slot.decision_at > moment:
                return slot
        return self._slot(self.next_session(moment.astimezone(NEW_YORK).date()))

    def latest_decision(self, at: datetime) -> DecisionSlot | None:
        """The last slot whose decision time is at or before ``at`` (``None`` before the calendar starts)."""
        moment = ensure_utc(at)
        day = moment.astimezone(NEW_YORK).date()
        today = self._sessions.get(day)
        if today is not None:
            slot = self._slot(today)
            if slot.decision_at <= moment:
                return slot
        if day <= self.first_day:
            return None
        return self._slot(self.previous_session(day))

    def _check_range(self, day: date) -> None:
        if not self.first_day - timedelta(days=7) <= day <= self.last_day + timedelta(days=7):
            raise ValueError(
                f"{day.isoformat()} is outside the loaded {CALENDAR_NAME} calendar "
                f"({self.first_day.isoformat()} .. {self.last_day.isoformat()})"
            )


class SlotAction(StrEnum):
    WAIT = "wait"  # the decision time has not come yet
    RUN = "run"  # due now (within the grace period)
    RUN_LATE = "run_late"  # missed, but still inside the late window and the session is open
    SKIP = "skip"  # missed beyond the late window (or after the close): skipped and reported


@dataclass(frozen=True)
class SlotResolution:
    action: SlotAction
    slot: DecisionSlot
    reason: str


def resolve_slot(
    slot: DecisionSlot,
    now: datetime,
    *,
    late_window: timedelta,
    grace: timedelta = timedelta(seconds=60),
    close_margin: timedelta = timedelta(minutes=1),
) -> SlotResolution:
    """Apply the missed-decision policy to ``slot`` at ``now``.

    A decision is "on time" within ``grace`` of its instant; "late" while ``now`` is inside ``late_window`` after
    it and at least ``close_margin`` before the close (orders need the session open); otherwise it is skipped.
    """
    moment = ensure_utc(now)
    when = slot.decision_at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")
    if moment < slot.decision_at:
        return SlotResolution(SlotAction.WAIT, slot, f"decision at {when}")
    late_by = moment - slot.decision_at
    if moment >= slot.close_at - close_margin:
        return SlotResolution(
            SlotAction.SKIP,
            slot,
            f"missed decision of {when}: late by {_minutes(late_by)} and the session closes at "
            f"{slot.close_at.astimezone(NEW_YORK).strftime('%H:%M %Z')}",
        )
    if late_by <= grace:
        return SlotResolution(SlotAction.RUN, slot, f"decision at {when}")
    if late_by <= late_window:
        return SlotResolution(
            SlotAction.RUN_LATE,
            slot,
            f"running decision of {when} late by {_minutes(late_by)} (late window {_minutes(late_window)})",
        )
    return SlotResolution(
        SlotAction.SKIP,
        slot,
        f"missed decision of {when}: late by {_minutes(late_by)}, beyond the late window of {_minutes(late_window)}",
    )


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.1f} min"


@dataclass(frozen=True)
class ClockCheck:
    """Result of comparing the broker's market clock with the calendar. ``ok`` False means: do not trade."""

    ok: bool
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "broker clock agrees with the XNYS calendar"


def cross_check_clock(
    broker_clock: MarketClock,
    calendar: TradingCalendar,
    now: datetime,
    *,
    asked_at: datetime | None = None,
    max_skew: timedelta = timedelta(minutes=2),
    boundary_tolerance: timedelta = timedelta(minutes=1),
) -> ClockCheck:
    """Compare ``GET /v2/clock`` with the XNYS calendar and our own clock.

    Checks: the broker's timestamp is within ``max_skew`` of ``now`` (the answer's arrival; given ``asked_at``, the
    request's departure, of the interval between them: the round trip is not skew, and with an accelerated clock
    a slow answer spans minutes); ``is_open`` matches the calendar at the broker's timestamp;
    ``next_open``/``next_close`` match the calendar's within ``boundary_tolerance``. Near a session boundary
    (within the tolerance) the open/closed flag is allowed to differ.
    """
    reasons: list[str] = []
    stamp = broker_clock.timestamp
    arrived = ensure_utc(now)
    departed = min(ensure_utc(asked_at), arrived) if asked_at is not None else arrived
    skew = max(departed - stamp, stamp - arrived, timedelta(0))
    if skew > max_skew:
        reasons.append(
            f"broker clock {stamp.isoformat()} differs from local clock {ensure_utc(now).isoformat()} "
            f"by {skew.total_seconds():.0f}s (max {max_skew.total_seconds():.0f}s)"
        )
    calendar_open = calendar.is_open(stamp)
    near_boundary = any(
        abs(stamp - edge) <= boundary_tolerance
        for edge in (calendar.next_open(stamp - boundary_tolerance), calendar.next_close(stamp - boundary_tolerance))
    )
    if broker_clock.is_open != calendar_open and not near_boundary:
        reasons.append(
            f"broker says market is {'open' if broker_clock.is_open else 'closed'} at {stamp.isoformat()} "
            f"but the XNYS calendar says {'open' if calendar_open else 'closed'}"
        )
    expected_close = calendar.next_close(stamp)
    if abs(broker_clock.next_close - expected_close) > boundary_tolerance and not near_boundary:
        reasons.append(
            f"broker next_close {broker_clock.next_close.isoformat()} != calendar {expected_close.isoformat()}"
        )
    expected_open = calendar.next_open(stamp)
    if abs(broker_clock.next_open - expected_open) > boundary_tolerance and not near_boundary:
        reasons.append(f"broker next_open {broker_clock.next_open.isoformat()} != calendar {expected_open.isoformat()}")
    return ClockCheck(ok=not reasons, reasons=tuple(reasons))
