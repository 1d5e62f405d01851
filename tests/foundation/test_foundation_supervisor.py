"""Actors and the supervisor on a ManualClock: restarts with backoff, budget, stale heartbeats, ordered stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from alchemiser.clock import ManualClock
from alchemiser.errors import TransientError
from alchemiser.process.actor import Actor, BoundedQueue, MessageActor, QueueFullError
from alchemiser.process.breaker import BreakerState, CircuitBreaker
from alchemiser.process.metrics import Metrics
from alchemiser.process.readiness import Check, Readiness
from alchemiser.process.supervisor import ActorState, RestartPolicy, Supervisor, SupervisorAlert

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


class Crasher(Actor):
    def __init__(self, clock: ManualClock, crash_times: int = 1_000) -> None:
        super().__init__("crasher", clock)
        self.starts = 0
        self.crash_times = crash_times

    async def run(self) -> None:
        self.starts += 1
        if self.starts <= self.crash_times:
            raise TransientError(f"boom {self.starts}")
        await self.sleep(10_000)


class Stuck(Actor):
    """Busy forever without heartbeats (a hung network call)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__("stuck", clock, heartbeat_timeout=30)
        self.starts = 0
        self.hang = True

    async def run(self) -> None:
        self.starts += 1
        if self.hang:
            await asyncio.Event().wait()
        while True:
            await self.sleep(1)


class Recorder(MessageActor[str]):
    def __init__(self, name: str, clock: ManualClock, log: list[str], inbox_size: int = 10) -> None:
        super().__init__(name, clock, inbox_size=inbox_size)
        self.events = log
        self.handled: list[str] = []

    async def on_start(self) -> None:
        self.events.append(f"start:{self.name}")

    async def on_stop(self) -> None:
        self.events.append(f"stop:{self.name}")

    async def handle(self, message: str) -> None:
        self.handled.append(message)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


async def test_crash_restarts_with_exponential_backoff_then_gives_up(clock: ManualClock) -> None:
    metrics = Metrics(process_metrics=False)
    readiness = Readiness()
    alerts: list[SupervisorAlert] = []
    policy = RestartPolicy(budget=3, window_seconds=600, backoff_base_seconds=1, backoff_max_seconds=60)
    supervisor = Supervisor(clock, policy=policy, metrics=metrics, readiness=readiness, check_interval=1000)
    supervisor.add_alert_listener(alerts.append)
    actor = Crasher(clock)
    supervisor.add(actor)
    await supervisor.start()

    status = lambda: supervisor.statuses()[0]  # noqa: E731
    await eventually(lambda: status().state is ActorState.BACKOFF)
    assert actor.starts == 1 and status().restarts == 1 and "boom 1" in (status().last_error or "")
    for delay, starts in ((1, 2), (2, 3), (4, 4)):
        clock.advance(delay - 0.5)
        await asyncio.sleep(0.01)
        assert actor.starts == starts - 1, "restarted before its backoff elapsed"
        clock.advance(0.5)
        await eventually(lambda s=starts: actor.starts == s)  # type: ignore[misc]
        await eventually(lambda: status().state in (ActorState.BACKOFF, ActorState.FAILED))
    await eventually(lambda: status().state is ActorState.FAILED)
    assert actor.starts == 4  # first run + budget of 3 restarts
    assert sample(metrics, "alchemiser_actor_restarts_total", actor="crasher", reason="crash") == 3
    assert sample(metrics, "alchemiser_actor_failed", actor="crasher") == 1
    assert len(alerts) == 1 and alerts[0].actor == "crasher" and "giving up" in alerts[0].message
    report = await readiness.evaluate()
    assert not report.ready and "crasher failed" in report.failing["actors"]
    assert await supervisor.stop(5)


async def test_restart_budget_window_forgets_old_failures(clock: ManualClock) -> None:
    policy = RestartPolicy(budget=1, window_seconds=60, backoff_base_seconds=1, backoff_max_seconds=1)
    supervisor = Supervisor(clock, policy=policy, check_interval=1000)
    actor = Crasher(clock, crash_times=2)
    supervisor.add(actor)
    await supervisor.start()
    await eventually(lambda: actor.starts == 1 and supervisor.statuses()[0].state is ActorState.BACKOFF)
    clock.advance(61)  # the first failure leaves the window before the second happens
    await eventually(lambda: actor.starts == 2)
    await eventually(lambda: supervisor.statuses()[0].state is ActorState.BACKOFF)
    clock.advance(1)
    await eventually(lambda: supervisor.statuses()[0].state is ActorState.RUNNING)
    assert actor.starts == 3
    assert supervisor.readiness_check().ok
    await supervisor.stop(5)


async def test_run_returning_counts_as_a_crash(clock: ManualClock) -> None:
    class Quitter(Actor):
        runs = 0

        async def run(self) -> None:
            self.runs += 1
            if self.runs > 1:
                await self.sleep(10_000)

    supervisor = Supervisor(clock, policy=RestartPolicy(budget=5, backoff_base_seconds=2), check_interval=1000)
    actor = Quitter("quitter", clock)
    supervisor.add(actor)
    await supervisor.start()
    await eventually(lambda: supervisor.statuses()[0].state is ActorState.BACKOFF)
    assert "returned" in (supervisor.statuses()[0].last_error or "")
    clock.advance(2)
    await eventually(lambda: supervisor.statuses()[0].state is ActorState.RUNNING and actor.runs == 2)
    await supervisor.stop(5)


async def test_stale_heartbeat_is_detected_and_restarted(clock: ManualClock) -> None:
    metrics = Metrics(process_metrics=False)
    supervisor = Supervisor(
        clock, policy=RestartPolicy(budget=2, backoff_base_seconds=1), metrics=metrics, check_interval=5
    )
    stuck = Stuck(clock)
    idle = Recorder("idle", clock, [])
    supervisor.add(stuck)
    supervisor.add(idle)
    await supervisor.start()
    await eventually(lambda: all(s.state is ActorState.RUNNING for s in supervisor.statuses()))
    assert supervisor.liveness().ok
    clock.advance(29)
    assert supervisor.check_heartbeats() == []
    stuck.hang = False  # the restarted instance behaves
    clock.advance(2)  # 31 s busy without a heartbeat > 30 s; idle actor waiting on its inbox is fine
    assert supervisor.check_heartbeats() == ["stuck"]
    await eventually(lambda: supervisor.statuses()[0].state is ActorState.BACKOFF)
    assert "heartbeat stale" in (supervisor.statuses()[0].last_error or "")
    assert sample(metrics, "alchemiser_actor_restarts_total", actor="stuck", reason="stale") == 1
    clock.advance(1)
    await eventually(lambda: stuck.starts == 2 and supervisor.statuses()[0].state is ActorState.RUNNING)
    clock.advance(1000)
    assert supervisor.check_heartbeats() == []  # sleeping counts as idle
    idle_status = supervisor.statuses()[1]
    assert idle_status.idle and idle_status.restarts == 0
    await supervisor.stop(5)


async def test_watchdog_failure_shows_in_liveness(clock: ManualClock) -> None:
    supervisor = Supervisor(clock, check_interval=5)
    await supervisor.start()
    await asyncio.sleep(0)
    assert supervisor.liveness().ok
    clock._now += timedelta(seconds=100)  # time passes but the watchdog has not run (a blocked loop)
    check = supervisor.liveness()
    assert not check.ok and "watchdog last ran" in check.reason
    await supervisor.stop(5)


async def test_ordered_start_and_reverse_stop(clock: ManualClock) -> None:
    events: list[str] = []
    supervisor = Supervisor(clock, check_interval=1000)
    actors = [Recorder(name, clock, events) for name in ("store", "broker", "execution")]
    for actor in actors:
        supervisor.add(actor)
    with pytest.raises(ValueError, match="already supervised"):
        supervisor.add(Recorder("broker", clock, events))
    await supervisor.start()
    await eventually(lambda: len(events) == 3)
    assert events == ["start:store", "start:broker", "start:execution"]
    assert actors[2].tell("order-1")
    await eventually(lambda: actors[2].handled == ["order-1"])
    assert await supervisor.stop(5)
    assert events[3:] == ["stop:execution", "stop:broker", "stop:store"]
    assert {s.state for s in supervisor.statuses()} == {ActorState.STOPPED}


async def test_stop_gives_a_busy_actor_grace_to_reach_an_idle_point(clock: ManualClock) -> None:
    finished = asyncio.Event()
    release = asyncio.Event()

    class Busy(MessageActor[str]):
        async def handle(self, message: str) -> None:
            await release.wait()  # an order in flight
            finished.set()

    supervisor = Supervisor(clock, check_interval=1000, stop_grace=5)
    actor = Busy("busy", clock)
    supervisor.add(actor)
    await supervisor.start()
    await eventually(lambda: actor.idle)
    actor.tell("work")
    await eventually(lambda: not actor.idle)
    stopping = asyncio.create_task(supervisor.stop(10))
    await asyncio.sleep(0.05)
    assert not stopping.done()
    release.set()
    assert await asyncio.wait_for(stopping, 5)
    assert finished.is_set()


async def test_full_inbox_is_visible_never_silent(clock: ManualClock) -> None:
    metrics = Metrics(process_metrics=False)
    actor = Recorder("slow", clock, [], inbox_size=2)
    metrics.watch_queue(actor.inbox)
    assert actor.tell("a") and actor.tell("b")
    assert not actor.tell("c")
    assert actor.inbox.rejected == 1
    assert sample(metrics, "alchemiser_queue_rejected_total", queue="slow.inbox") == 1
    assert sample(metrics, "alchemiser_queue_depth", queue="slow.inbox") == 2
    assert sample(metrics, "alchemiser_queue_capacity", queue="slow.inbox") == 2

    waiting = asyncio.create_task(actor.send("d", wait_seconds=3))
    await asyncio.sleep(0.01)
    clock.advance(3)
    with pytest.raises(QueueFullError):
        await asyncio.wait_for(waiting, 5)
    assert sample(metrics, "alchemiser_queue_rejected_total", queue="slow.inbox") == 2

    room = asyncio.create_task(actor.send("e", wait_seconds=3))
    await asyncio.sleep(0.01)
    assert actor.inbox.get_nowait() == "a"
    await asyncio.wait_for(room, 5)
    assert [actor.inbox.get_nowait() for _ in range(2)] == ["b", "e"]


def test_queue_bound_must_be_positive(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        BoundedQueue("q", 0, clock)


async def test_breaker_transitions_exported(clock: ManualClock) -> None:
    metrics = Metrics(process_metrics=False)
    breaker = CircuitBreaker("alpaca_rest", clock, failure_threshold=2, cooldown=timedelta(seconds=30))
    metrics.watch_breaker(breaker)
    state = lambda: sample(metrics, "alchemiser_breaker_state", breaker="alpaca_rest")  # noqa: E731
    assert state() == BreakerState.CLOSED

    async def fail() -> None:
        raise TransientError("503")

    async def ok() -> str:
        return "ok"

    for _ in range(2):
        with pytest.raises(TransientError):
            await breaker.call(fail)
    assert state() == BreakerState.OPEN
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN and state() == BreakerState.HALF_OPEN
    with pytest.raises(TransientError):
        await breaker.call(fail)
    assert state() == BreakerState.OPEN
    clock.advance(30)
    assert await breaker.call(ok) == "ok"
    assert state() == BreakerState.CLOSED
    opened = sample(metrics, "alchemiser_breaker_transitions_total", breaker="alpaca_rest", state="open")
    assert opened == 2


async def test_readiness_conditions() -> None:
    readiness = Readiness(timeout_seconds=0.05)
    flag = readiness.flag("stream", reason="connecting")
    readiness.register("sync", Check.passed)

    async def slow() -> Check:
        await asyncio.sleep(10)
        return Check.passed()

    def broken() -> Check:
        raise ValueError("bad state")

    readiness.register("slow", slow)
    readiness.register("broken", broken)
    with pytest.raises(ValueError):
        readiness.register("sync", Check.passed)
    report = await readiness.evaluate()
    assert not report.ready
    assert report.failing == {
        "stream": "connecting",
        "slow": "check timed out after 0.05s",
        "broken": "check raised ValueError: bad state",
    }
    readiness.unregister("slow")
    readiness.unregister("broken")
    flag.set_ok()
    assert (await readiness.evaluate()).ready
