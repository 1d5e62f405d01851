"""Circuit breaker: stop calling a failing dependency for a cool-down, then probe it once.

States: CLOSED (calls pass; ``failure_threshold`` consecutive failures open it) → OPEN (calls fail fast with
``CircuitOpenError`` until ``cooldown`` has passed on the injected clock) → HALF_OPEN (one probe call at a time;
success closes, failure re-opens). State changes are reported to an optional listener (metrics, readiness, logs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import IntEnum
from typing import TypeVar

from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError, TransientError

T = TypeVar("T")


class BreakerState(IntEnum):
    """Numeric values are what the ``alchemiser_breaker_state`` gauge exports."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpenError(TransientError):
    """The breaker is open: the call was not attempted."""


StateListener = Callable[[str, BreakerState], None]


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        cooldown: timedelta = timedelta(seconds=30),
        counts_as_failure: Callable[[BaseException], bool] | None = None,
        on_state_change: StateListener | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.name = name
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        # By default only transient errors trip the breaker: a rejected order says nothing about availability.
        self._counts_as_failure = counts_as_failure or (lambda exc: isinstance(exc, TransientError | OSError))
        self._listeners: list[StateListener] = [on_state_change] if on_state_change else []
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at: datetime | None = None
        self._probe_lock = asyncio.Lock()

    def add_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooldown_over():
            self._set_state(BreakerState.HALF_OPEN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _cooldown_over(self) -> bool:
        return self._opened_at is not None and self._clock.now() - self._opened_at >= self.cooldown

    def _set_state(self, state: BreakerState) -> None:
        if state is self._state:
            return
        self._state = state
        for listener in self._listeners:
            listener(self.name, state)

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._set_state(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._opened_at = self._clock.now()
            self._set_state(BreakerState.OPEN)

    def check(self) -> None:
        """Raise ``CircuitOpenError`` if a call may not be attempted now."""
        if self.state is BreakerState.OPEN:
            raise CircuitOpenError(f"circuit '{self.name}' is open", breaker=self.name)

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` under the breaker. Half-open admits one probe at a time."""
        self.check()
        if self._state is BreakerState.HALF_OPEN:
            async with self._probe_lock:
                self.check()
                return await self._run(operation)
        return await self._run(operation)

    async def _run(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await operation()
        except (AlchemiserError, OSError) as exc:
            if self._counts_as_failure(exc):
                self.record_failure()
            raise
        self.record_success()
        return result
