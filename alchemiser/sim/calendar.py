"""Session calendars for the simulated exchange.

* ``XnysCalendar`` — the NYSE calendar from exchange-calendars (holidays, early closes), as numpy arrays so that
  "is the market open at t" and "next close after t" are binary searches.
* ``AlwaysOpenCalendar`` — every instant is in session (``--always-open``): each UTC day is one session whose
  prices follow the latest real session's bar; day orders expire at UTC midnight.

Both answer the same questions (``SessionCalendar``); the exchange, the quote model and the server never branch on
which one they hold.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

import exchange_calendars
import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.broker.models import NEW_YORK, CalendarDay
from alchemiser.clock import ensure_utc
from alchemiser.errors import DataError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS


def to_ns(moment: datetime) -> int:
    """Aware datetime → integer nanoseconds since the epoch (UTC)."""
    delta = ensure_utc(moment) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000


def from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


@dataclass(frozen=True, slots=True)
class SessionPosition:
    """Where an instant sits relative to the sessions.

    ``session`` is the session whose prices apply at the instant: the current session while open, otherwise the
    latest session that has opened (``None`` before the first). ``fraction`` runs 0 → 1 through the session
    (0 before its open, 1 after its close).
    """

    session: date | None
    fraction: float
    is_open: bool
    start: datetime | None = None  # the price session's open (``fraction`` 0)
    end: datetime | None = None  # and close (``fraction`` 1)


class SessionCalendar(Protocol):
    def is_open(self, moment: datetime) -> bool: ...

    def position(self, moment: datetime) -> SessionPosition: ...

    def next_open(self, moment: datetime) -> datetime:
        """First session open strictly after ``moment``."""
        ...

    def next_close(self, moment: datetime) -> datetime:
        """First session close strictly after ``moment``."""
        ...

    def session_close(self, session: date) -> datetime: ...

    def sessions(self, start: date, end: date) -> list[CalendarDay]:
        """Trading sessions with start ≤ date ≤ end."""
        ...

    def session_dates(self, start: date, end: date) -> list[date]: ...


def _utc_ns(column: pd.Series) -> npt.NDArray[np.int64]:
    """A tz-aware UTC datetime column as int64 nanoseconds since the epoch."""
    return np.asarray(column.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64))


class XnysCalendar:
    """NYSE sessions between ``start`` and ``end`` (inclusive), from exchange-calendars."""

    def __init__(self, start: date = date(1990, 1, 1), end: date = date(2045, 12, 31)) -> None:
        if end <= start:
            raise ValueError(f"calendar end {end} must be after start {start}")
        with warnings.catch_warnings():
            # exchange-calendars still uses Series.values on tz-aware columns (deprecated by pandas 3.1).
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            cal = exchange_calendars.get_calendar("XNYS", start=start.isoformat(), end=end.isoformat())
        schedule = cal.schedule
        self.first = start
        self.last = end
        self._open_cache: tuple[datetime | None, bool] = (None, False)  # the last is_open answer
        self._days: npt.NDArray[np.int64] = schedule.index.values.astype("datetime64[D]").astype(
            np.int64
        )  # days since epoch
        self._open: npt.NDArray[np.int64] = _utc_ns(schedule["open"])
        self._close: npt.NDArray[np.int64] = _utc_ns(schedule["close"])

    def _check(self, ns: int) -> None:
        if ns < int(self._open[0]) - 7 * _DAY_NS or ns > int(self._close[-1]):
            raise DataError(f"{from_ns(ns).isoformat()} is outside the calendar range {self.first}..{self.last}")

    def _latest_opened(self, ns: int) -> int:
        """Index of the latest session whose open ≤ ns (-1 if none)."""
        return int(np.searchsorted(self._open, ns, side="right")) - 1

    def is_open(self, moment: datetime) -> bool:
        if moment == self._open_cache[0]:
            return self._open_cache[1]
        ns = to_ns(moment)
        idx = self._latest_opened(ns)
        result = idx >= 0 and ns < int(self._close[idx])
        self._open_cache = (moment, result)
        return result

    def position(self, moment: datetime) -> SessionPosition:
        ns = to_ns(moment)
        self._check(ns)
        idx = self._latest_opened(ns)
        if idx < 0:
            return SessionPosition(None, 0.0, False)
        open_ns, close_ns = int(self._open[idx]), int(self._close[idx])
        session = date.fromordinal(date(1970, 1, 1).toordinal() + int(self._days[idx]))
        start, end = from_ns(open_ns), from_ns(close_ns)
        if ns >= close_ns:
            return SessionPosition(session, 1.0, False, start, end)
        return SessionPosition(session, (ns - open_ns) / (close_ns - open_ns), True, start, end)

    def next_open(self, moment: datetime) -> datetime:
        ns = to_ns(moment)
        self._check(ns)
        idx = int(np.searchsorted(self._open, ns, side="right"))
        if idx >= len(self._open):
            raise DataError(f"no session after {moment.isoformat()} within the calendar range")
        return from_ns(int(self._open[idx]))

    def next_close(self, moment: datetime) -> datetime:
        ns = to_ns(moment)
        self._check(ns)
        idx = int(np.searchsorted(self._close, ns, side="right"))
        if idx >= len(self._close):
            raise DataError(f"no session after {moment.isoformat()} within the calendar range")
        return from_ns(int(self._close[idx]))

    def _index(self, session: date) -> int:
        day = (session - date(1970, 1, 1)).days
        idx = int(np.searchsorted(self._days, day))
        if idx >= len(self._days) or int(self._days[idx]) != day:
            raise DataError(f"{session} is not an NYSE trading session")
        return idx

    def session_open(self, session: date) -> datetime:
        return from_ns(int(self._open[self._index(session)]))

    def session_close(self, session: date) -> datetime:
        return from_ns(int(self._close[self._index(session)]))

    def _range(self, start: date, end: date) -> tuple[int, int]:
        lo = int(np.searchsorted(self._days, (start - date(1970, 1, 1)).days, side="left"))
        hi = int(np.searchsorted(self._days, (end - date(1970, 1, 1)).days, side="right"))
        return lo, hi

    def session_dates(self, start: date, end: date) -> list[date]:
        lo, hi = self._range(start, end)
        base = date(1970, 1, 1).toordinal()
        return [date.fromordinal(base + int(d)) for d in self._days[lo:hi]]

    def session_days(self, start: date, end: date) -> npt.NDArray[np.int64]:
        """Sessions in [start, end] as days since the epoch (cheap, for market generators)."""
        lo, hi = self._range(start, end)
        return self._days[lo:hi].copy()

    def sessions(self, start: date, end: date) -> list[CalendarDay]:
        lo, hi = self._range(start, end)
        base = date(1970, 1, 1).toordinal()
        days: list[CalendarDay] = []
        for i in range(lo, hi):
            session = date.fromordinal(base + int(self._days[i]))
            open_at = from_ns(int(self._open[i])).astimezone(NEW_YORK).time()
            close_at = from_ns(int(self._close[i])).astimezone(NEW_YORK).time()
            days.append(CalendarDay(date=session, open=open_at, close=close_at))
        return days

    def previous_session(self, session: date) -> date | None:
        """The session before ``session`` (which need not be a session itself)."""
        idx = int(np.searchsorted(self._days, (session - date(1970, 1, 1)).days, side="left")) - 1
        if idx < 0:
            return None
        return date.fromordinal(date(1970, 1, 1).toordinal() + int(self._days[idx]))


class AlwaysOpenCalendar:
    """Every instant is in session; each UTC day is one session priced from the latest real (NYSE) session.

    Used by ``--always-open`` for crash and chaos tests of a daemon running at real time at any hour.
    """

    def __init__(self, real: XnysCalendar) -> None:
        self.real = real

    def is_open(self, moment: datetime) -> bool:
        del moment
        return True

    def position(self, moment: datetime) -> SessionPosition:
        utc = ensure_utc(moment)
        midnight = datetime.combine(utc.date(), time(0), UTC)
        fraction = (utc - midnight).total_seconds() / 86_400.0
        today = utc.date()
        session = today if self._is_real_session(today) else self.real.previous_session(today)
        return SessionPosition(session, fraction, True, midnight, midnight + timedelta(days=1))

    def _is_real_session(self, day: date) -> bool:
        return bool(self.real.session_dates(day, day))

    def next_open(self, moment: datetime) -> datetime:
        utc = ensure_utc(moment)
        return datetime.combine(utc.date() + timedelta(days=1), time(0), UTC)

    def next_close(self, moment: datetime) -> datetime:
        return self.next_open(moment)

    def session_close(self, session: date) -> datetime:
        return datetime.combine(session + timedelta(days=1), time(0), UTC)

    def sessions(self, start: date, end: date) -> list[CalendarDay]:
        return [
            CalendarDay(date=start + timedelta(days=i), open=time(0), close=time(23, 59))
            for i in range((end - start).days + 1)
        ]

    def session_dates(self, start: date, end: date) -> list[date]:
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]
