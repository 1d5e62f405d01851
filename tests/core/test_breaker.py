from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alchemiser.clock import ManualClock
from alchemiser.errors import BrokerTransientError, OrderRejectedError
from alchemiser.process.breaker import BreakerState, CircuitBreaker, CircuitOpenError

START = datetime(2026, 1, 5, 15, tzinfo=UTC)


async def _fail() -> None:
    raise BrokerTransientError("boom", status_code=503)


async def _ok() -> str:
    return "ok"


def _breaker(clock: ManualClock, seen: list[tuple[str, BreakerState]]) -> CircuitBreaker:
    return CircuitBreaker(
        "trading",
        clock,
        failure_threshold=3,
        cooldown=timedelta(seconds=30),
        on_state_change=lambda name, state: seen.append((name, state)),
    )


async def test_opens_after_threshold_then_half_opens_and_closes() -> None:
    clock = ManualClock(START)
    seen: list[tuple[str, BreakerState]] = []
    breaker = _breaker(clock, seen)
    for _ in range(2):
        with pytest.raises(BrokerTransientError):
            await breaker.call(_fail)
    assert breaker.state is BreakerState.CLOSED
    with pytest.raises(BrokerTransientError):
        await breaker.call(_fail)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError, match="trading"):
        await breaker.call(_ok)  # fails fast without calling
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    assert await breaker.call(_ok) == "ok"
    assert breaker.state is BreakerState.CLOSED
    assert seen == [
        ("trading", BreakerState.OPEN),
        ("trading", BreakerState.HALF_OPEN),
        ("trading", BreakerState.CLOSED),
    ]


async def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = ManualClock(START)
    breaker = _breaker(clock, [])
    for _ in range(3):
        with pytest.raises(BrokerTransientError):
            await breaker.call(_fail)
    clock.advance(31)
    with pytest.raises(BrokerTransientError):
        await breaker.call(_fail)
    assert breaker.state is BreakerState.OPEN
    clock.advance(29)
    assert breaker.state is BreakerState.OPEN
    clock.advance(1)
    assert breaker.state is BreakerState.HALF_OPEN


async def test_permanent_errors_do_not_trip_and_success_resets_count() -> None:
    clock = ManualClock(START)
    breaker = _breaker(clock, [])

    async def rejected() -> None:
        raise OrderRejectedError("insufficient buying power", status_code=403)

    for _ in range(10):
        with pytest.raises(OrderRejectedError):
            await breaker.call(rejected)
    assert breaker.state is BreakerState.CLOSED
    for _ in range(2):
        with pytest.raises(BrokerTransientError):
            await breaker.call(_fail)
    await breaker.call(_ok)
    assert breaker.consecutive_failures == 0
    with pytest.raises(BrokerTransientError):
        await breaker.call(_fail)
    assert breaker.state is BreakerState.CLOSED


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", ManualClock(START), failure_threshold=0)
