"""Injected clocks: every timestamp and every sleep in alchemiser goes through one of these.

* ``RealClock`` — wall time.
* ``AcceleratedClock`` — simulated time running ``speed`` times faster than wall time from a start instant,
  with ``jump_to`` to skip idle stretches (nights, weekends). Used by ``sim`` mode, shared by the daemon and the
  embedded exchange so both see the same time.
* ``ManualClock`` — time moves only when a test calls ``advance``; sleepers wake when their deadline passes.

All clocks return timezone-aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What every component needs from time."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock's time."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Sleep until this clock reads ``when`` (returns at once if already past)."""
        ...


def last_skip(clock: Clock) -> datetime | None:
    """Where ``clock`` last jumped to (a sim fast-forward over idle hours); ``None`` for clocks that never jump.

    Watchdogs measuring silence in clock time start counting again from here: nothing could arrive during time
    that was skipped.
    """
    skipped: datetime | None = getattr(clock, "skipped_to", None)
    return skipped


def ensure_utc(moment: datetime) -> datetime:
    """Return ``moment`` as aware UTC; naive datetimes are refused, not guessed."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} where an aware one is required")
    return moment.astimezone(UTC)


class RealClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((ensure_utc(when) - self.now()).total_seconds())


class AcceleratedClock:
    """Simulated time = ``start`` + (wall seconds elapsed × ``speed``) + jumps.

    ``speed`` 1.0 runs at real speed from ``start``. ``jump_to`` moves simulated time forward instantly and wakes
    sleepers, which re-check their deadlines.
    """

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        self._origin_sim = ensure_utc(start)
        self._origin_wall = time.monotonic()
        self.speed = float(speed)
        self._waiters: set[asyncio.Event] = set()
        self.skipped_to: datetime | None = None  # the target of the last jump_to (see last_skip)

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._origin_wall) * self.speed
        return self._origin_sim + timedelta(seconds=elapsed)

    def set_speed(self, speed: float) -> None:
        """Change the acceleration from now on, keeping the current simulated instant."""
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        self._origin_sim = self.now()
        self._origin_wall = time.monotonic()
        self.speed = float(speed)
        self._wake_all()

    def jump_to(self, when: datetime) -> None:
        """Move simulated time forward to ``when`` (never backwards)."""
        target = ensure_utc(when)
        if target <= self.now():
            return
        self._origin_sim = target
        self._origin_wall = time.monotonic()
        self.skipped_to = target
        self._wake_all()

    def _wake_all(self) -> None:
        for waiter in list(self._waiters):
            waiter.set()

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, when: datetime) -> None:
        target = ensure_utc(when)
        while True:
            remaining = (target - self.now()).total_seconds()
            if remaining <= 0:
                return
            waiter = asyncio.Event()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter.wait(), timeout=remaining / self.speed)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)


class ManualClock:
    """A clock that only moves when told to. Sleepers wake in deadline order as time advances."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, when: datetime) -> None:
        target = ensure_utc(when)
        if target <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (target, next(self._counter), future))
        await future

    def set(self, when: datetime) -> None:
        """Set the time (forward only) and wake every sleeper whose deadline has passed."""
        target = ensure_utc(when)
        if target < self._now:
            raise ValueError("ManualClock cannot go backwards")
        self._now = target
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def advance(self, seconds: float) -> None:
        self.set(self._now + timedelta(seconds=seconds))

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())
