"""The request budget holds under load, counted per window on a fake clock, and honours server pauses."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from alchemiser.adapters.alpaca.limiter import RateLimiter
from alchemiser.clock import ManualClock
from tests.adapters.alpaca_fakes import T0


async def settle(tasks: list[asyncio.Task[float]]) -> None:
    """Let the loop run until no more task finishes at the current fake time."""
    quiet = 0
    done = -1
    while quiet < 3:
        await asyncio.sleep(0)
        now_done = sum(t.done() for t in tasks)
        quiet = quiet + 1 if now_done == done else 0
        done = now_done


async def drive(clock: ManualClock, tasks: list[asyncio.Task[float]], step: float, max_steps: int) -> None:
    """Advance the fake clock in steps until every task is done (bounded)."""
    for _ in range(max_steps):
        await settle(tasks)
        if all(t.done() for t in tasks):
            return
        clock.advance(step)
    raise AssertionError("tasks did not finish within the step budget")


async def test_never_exceeds_budget_under_1000_concurrent_calls():
    clock = ManualClock(T0)
    limiter = RateLimiter(clock, per_minute=200)
    stamps: list[float] = []

    async def call() -> float:
        await limiter.acquire()
        stamps.append((clock.now() - T0).total_seconds())
        return 0.0

    tasks = [asyncio.create_task(call()) for _ in range(1000)]
    await drive(clock, tasks, step=0.5, max_steps=2000)
    assert len(stamps) == 1000
    stamps.sort()
    # Every window [t, t + 60) starting at an acquisition holds at most 200 acquisitions.
    j = 0
    worst = 0
    for i, start in enumerate(stamps):
        while j < len(stamps) and stamps[j] < start + 60:
            j += 1
        worst = max(worst, j - i)
    assert worst == 200
    # And the budget is used, not wasted: 1000 calls need 4 further windows after the first burst.
    assert 240 <= stamps[-1] <= 241


async def test_reserve_keeps_slots_for_priority_calls():
    clock = ManualClock(T0)
    limiter = RateLimiter(clock, per_minute=20, reserve=5)
    reads = [asyncio.create_task(limiter.acquire()) for _ in range(30)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert sum(t.done() for t in reads) == 15  # reads stop at limit - reserve
    order = asyncio.create_task(limiter.acquire(priority=True))
    for _ in range(5):
        await asyncio.sleep(0)
    assert order.done() and order.result() == 0.0  # the order did not wait behind the queued reads
    for t in reads:
        t.cancel()
    await asyncio.gather(*reads, return_exceptions=True)


async def test_pause_until_holds_everything_and_is_capped():
    clock = ManualClock(T0)
    limiter = RateLimiter(clock, per_minute=100, max_pause=timedelta(seconds=90))
    limiter.pause_for(10_000)  # absurd server value → capped
    assert limiter.paused_until == T0 + timedelta(seconds=90)
    task = asyncio.create_task(limiter.acquire())
    await drive(clock, [task], step=1.0, max_steps=200)
    assert task.result() == pytest.approx(90.0)


async def test_observe_headers_pauses_only_when_exhausted():
    clock = ManualClock(T0)
    limiter = RateLimiter(clock, per_minute=100)
    reset = str(int(T0.timestamp()) + 12)
    limiter.observe_headers("5", reset)
    assert limiter.paused_until is None
    limiter.observe_headers("garbage", reset)
    assert limiter.paused_until is None
    limiter.observe_headers("0", reset)
    assert limiter.paused_until == T0 + timedelta(seconds=12)


def test_bad_configuration_is_refused():
    clock = ManualClock(T0)
    with pytest.raises(ValueError, match="rate limit must be >= 1"):
        RateLimiter(clock, per_minute=0)
    with pytest.raises(ValueError, match="reserve"):
        RateLimiter(clock, per_minute=10, reserve=10)
