"""The request budget shared by every call to one Alpaca API (trading or data).

A sliding-window log: at most ``per_minute`` acquisitions in any ``window`` of the injected clock, which is how
Alpaca counts (200 requests per minute per account). A leaky bucket such as ``aiolimiter.AsyncLimiter(200, 60)``
lets up to twice the rate through in one window (a full bucket plus a minute of leak) and reads the event loop's
time, so it can neither hold the budget strictly nor be tested against a fake clock; this limiter does both.

On top of the window the limiter honours what the server says: ``pause_until`` (a 429's ``Retry-After`` or
``X-Ratelimit-Reset``) and ``observe_headers`` (``X-Ratelimit-Remaining: 0`` pauses until the reset). A small
``reserve`` of the budget is kept for priority calls (order submission and cancels), so a burst of reads never
delays an order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime, timedelta

from alchemiser.clock import Clock


class RateLimiter:
    def __init__(
        self,
        clock: Clock,
        *,
        per_minute: int,
        window: timedelta = timedelta(minutes=1),
        reserve: int = 0,
        max_pause: timedelta = timedelta(minutes=2),
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"rate limit must be >= 1 request per window, got {per_minute}")
        if not 0 <= reserve < per_minute:
            raise ValueError(f"reserve must be in [0, {per_minute}), got {reserve}")
        self._clock = clock
        self.limit = per_minute
        self.window = window
        self.reserve = reserve
        self._max_pause = max_pause
        self._stamps: deque[datetime] = deque()
        self._paused_until: datetime | None = None
        self._normal_lock = asyncio.Lock()
        self._priority_lock = asyncio.Lock()
        self.waited_seconds = 0.0

    @property
    def paused_until(self) -> datetime | None:
        if self._paused_until is not None and self._paused_until <= self._clock.now():
            self._paused_until = None
        return self._paused_until

    def in_window(self) -> int:
        """Acquisitions counted in the current window."""
        self._expire(self._clock.now())
        return len(self._stamps)

    def pause_until(self, when: datetime) -> None:
        """Hold every acquisition until ``when`` (capped at ``max_pause`` from now; never shortens a pause)."""
        now = self._clock.now()
        when = min(when, now + self._max_pause)
        if when > now and (self._paused_until is None or when > self._paused_until):
            self._paused_until = when

    def pause_for(self, seconds: float) -> None:
        self.pause_until(self._clock.now() + timedelta(seconds=max(0.0, seconds)))

    def observe_headers(self, remaining: str | None, reset_epoch: str | None) -> None:
        """Apply ``X-Ratelimit-Remaining`` / ``X-Ratelimit-Reset``: an exhausted budget pauses until the reset."""
        if remaining is None or reset_epoch is None:
            return
        try:
            left = int(float(remaining))
            reset = float(reset_epoch)
        except ValueError:
            return
        if left <= 0:
            self.pause_for(reset - self._clock.now().timestamp())

    async def acquire(self, *, priority: bool = False) -> float:
        """Wait until a request may be sent; returns the seconds waited (on the injected clock)."""
        started = self._clock.now()
        lock = self._priority_lock if priority else self._normal_lock
        allowed = self.limit if priority else self.limit - self.reserve
        async with lock:
            while True:
                now = self._clock.now()
                paused = self.paused_until
                if paused is not None:
                    await self._clock.sleep_until(paused)
                    continue
                self._expire(now)
                if len(self._stamps) < allowed:
                    self._stamps.append(now)
                    break
                # The oldest stamps leave the window first; wait for the one that frees a slot for this caller.
                await self._clock.sleep_until(self._stamps[len(self._stamps) - allowed] + self.window)
        waited = (self._clock.now() - started).total_seconds()
        self.waited_seconds += waited
        return waited

    def _expire(self, now: datetime) -> None:
        horizon = now - self.window
        stamps = self._stamps
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
