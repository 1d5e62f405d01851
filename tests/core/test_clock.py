from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from alchemiser.clock import AcceleratedClock, ManualClock, RealClock, ensure_utc

START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def test_ensure_utc_refuses_naive_and_converts_offsets() -> None:
    with pytest.raises(ValueError, match="naive"):
        ensure_utc(datetime(2026, 1, 1))
    eastern = datetime(2026, 1, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert ensure_utc(eastern) == datetime(2026, 1, 2, 14, 30, tzinfo=UTC)
    assert ensure_utc(eastern).tzinfo is UTC


def test_real_clock_is_aware_utc() -> None:
    now = RealClock().now()
    assert now.tzinfo is UTC
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5


async def test_manual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = ManualClock(START)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 60)), asyncio.create_task(sleeper("early", 10))]
    await asyncio.sleep(0)
    assert clock.pending_sleepers == 2
    clock.advance(5)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(10)
    await asyncio.sleep(0)
    assert woke == ["early"]
    clock.advance(100)
    await asyncio.gather(*tasks)
    assert woke == ["early", "late"]
    assert clock.now() == START + timedelta(seconds=115)


async def test_manual_clock_cannot_go_backwards_and_past_deadline_returns() -> None:
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(START - timedelta(seconds=1))
    await asyncio.wait_for(clock.sleep_until(START - timedelta(hours=1)), timeout=1)


async def test_accelerated_clock_runs_faster_than_wall_time() -> None:
    clock = AcceleratedClock(START, speed=3600.0)  # one simulated hour per wall second
    await asyncio.wait_for(clock.sleep(36), timeout=2)  # 36 simulated seconds = 10 ms of wall time
    elapsed = clock.now() - START
    assert timedelta(seconds=36) <= elapsed < timedelta(minutes=30)


async def test_accelerated_clock_jump_wakes_sleeper_and_never_goes_back() -> None:
    clock = AcceleratedClock(START, speed=1.0)
    task = asyncio.create_task(clock.sleep_until(START + timedelta(days=1)))
    await asyncio.sleep(0.01)
    assert not task.done()
    clock.jump_to(START + timedelta(days=1, seconds=1))
    await asyncio.wait_for(task, timeout=1)
    before = clock.now()
    clock.jump_to(START)  # backwards: ignored
    assert clock.now() >= before


def test_accelerated_clock_rejects_bad_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        AcceleratedClock(START, speed=0)
    clock = AcceleratedClock(START, speed=2)
    with pytest.raises(ValueError, match="speed"):
        clock.set_speed(-1)
    clock.set_speed(10)
    assert clock.speed == 10
