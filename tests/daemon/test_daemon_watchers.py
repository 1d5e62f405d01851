"""Market watch (broker clock vs calendar → readiness), readiness-change notifications, the stream wait bound."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from alchemiser.broker.models import MarketClock
from alchemiser.clock import ManualClock
from alchemiser.errors import BrokerTransientError
from alchemiser.notify.events import ReadinessChanged
from alchemiser.process.readiness import Readiness
from alchemiser.trading.execution_bridge import PlanningExecutor
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar
from alchemiser.trading.watchers import ClockSource, MarketWatch, ReadinessWatch

DAY = date(2024, 3, 5)


def ny(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hh, mm), NEW_YORK).astimezone(UTC)


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(start=date(2023, 1, 1))


class BrokerClock:
    """Stands in for Alpaca's GET /v2/clock."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.lie_open: bool | None = None
        self.down = False

    async def get_clock(self) -> MarketClock:
        if self.down:
            raise BrokerTransientError("503 service unavailable", status_code=503)
        now = self.clock.now()
        is_open = ny(9, 30) <= now < ny(16) if self.lie_open is None else self.lie_open
        return MarketClock(timestamp=now, is_open=is_open, next_open=ny(9, 30, date(2024, 3, 6)), next_close=ny(16))


async def test_market_watch_sets_readiness_from_the_cross_check(cal: TradingCalendar) -> None:
    clock = ManualClock(ny(11))
    broker = BrokerClock(clock)
    readiness = Readiness()
    flag = readiness.flag("broker_clock")
    watch = MarketWatch(ClockSource(broker.get_clock, cal, clock), flag, clock)
    await watch.check_once()
    assert flag().ok and "market open" in flag().reason
    broker.lie_open = False  # the broker says closed in the middle of a session
    await watch.check_once()
    assert not flag().ok and "broker says market is closed" in flag().reason
    broker.down = True
    await watch.check_once()
    assert not flag().ok and "broker clock unavailable" in flag().reason and "503" in flag().reason


async def test_cross_check_can_be_disabled_for_an_always_open_sim(cal: TradingCalendar) -> None:
    clock = ManualClock(ny(20))
    broker = BrokerClock(clock)
    broker.lie_open = True
    source = ClockSource(broker.get_clock, cal, clock, cross_check=False)
    _, check = await source.check()
    assert check.ok


class Events:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def publish(self, event: Any) -> None:
        self.items.append(event)


async def test_readiness_watch_notifies_transitions_only() -> None:
    clock = ManualClock(ny(11))
    readiness = Readiness()
    flag = readiness.flag("reconcile", ok=True, reason="ok")
    events = Events()
    watch = ReadinessWatch(readiness, events, clock)
    await watch.check_once()
    assert events.items == []  # ready at start: nothing to say
    flag.set_failed("position mismatch: SPY")
    await watch.check_once()
    await watch.check_once()
    assert len(events.items) == 1
    lost = events.items[0]
    assert (
        isinstance(lost, ReadinessChanged) and not lost.ready and lost.reasons == ("reconcile: position mismatch: SPY",)
    )
    flag.set_ok()
    await watch.check_once()
    assert len(events.items) == 2 and events.items[1].ready


class NeverRunner:
    async def execute(self, plan: Any, run_id: str) -> Any:
        raise AssertionError("must not trade while the stream is down")


async def test_stream_wait_is_bounded_on_the_clock() -> None:
    clock = ManualClock(ny(15, 45))
    connected = False
    executor = PlanningExecutor(
        broker=None,  # type: ignore[arg-type]
        runner=NeverRunner(),
        clock=clock,
        params=None,  # type: ignore[arg-type]
        stream_ready=lambda: connected,
        stream_wait=60.0,
    )
    task = asyncio.create_task(executor.wait_for_stream())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not task.done()
    clock.advance(30)
    for _ in range(10):
        await asyncio.sleep(0)
    connected = True  # back within the bound
    clock.advance(5)
    await asyncio.wait_for(task, 1)
    connected = False
    task = asyncio.create_task(executor.wait_for_stream())
    for _ in range(30):
        clock.advance(5)
        for _ in range(5):
            await asyncio.sleep(0)
        if task.done():
            break
    with pytest.raises(BrokerTransientError, match="still down after 60s: not trading blind"):
        await task
