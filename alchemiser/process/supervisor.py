"""The supervisor: starts actors in order, restarts crashed or stuck ones with backoff, stops them in reverse order.

* A crash (``run()`` raised or returned) or a stale heartbeat (busy and silent past the timeout) restarts the actor
  after an exponential backoff (``base * 2**(n-1)``, capped) on the supervisor's clock.
* More than ``budget`` restarts within ``window_seconds`` → the supervisor gives up on that actor: it is marked
  ``failed``, the ``actors`` readiness condition fails (``/readyz`` 503), an ``supervisor.gave_up`` alert is logged
  at critical level and alert listeners are called (the notifier subscribes).
* ``stop()`` stops actors in reverse start order; each gets ``grace`` seconds to reach an idle point before it is
  cancelled, then ``on_stop()`` runs.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from alchemiser.clock import Clock
from alchemiser.config import SupervisorSettings
from alchemiser.logging import get_logger
from alchemiser.process.actor import Actor, MessageActor
from alchemiser.process.metrics import Metrics
from alchemiser.process.readiness import Check, Readiness


@dataclass(frozen=True)
class RestartPolicy:
    budget: int = 5
    window_seconds: float = 600.0
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: SupervisorSettings) -> RestartPolicy:
        return cls(
            budget=settings.restart_budget,
            window_seconds=settings.restart_window_seconds,
            backoff_base_seconds=settings.backoff_base_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
        )

    def backoff(self, attempt: int) -> float:
        """Delay before restart number ``attempt`` (1-based)."""
        return float(min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** max(0, attempt - 1)))


class ActorState(StrEnum):
    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SupervisorAlert:
    actor: str
    kind: str  # "gave_up"
    message: str
    at: datetime


AlertListener = Callable[[SupervisorAlert], Awaitable[None] | None]


@dataclass
class _Entry:
    actor: Actor
    policy: RestartPolicy
    heartbeat_timeout: float
    critical: bool
    state: ActorState = ActorState.PENDING
    restarts: int = 0
    recent_failures: deque[datetime] = field(default_factory=deque)
    last_error: str | None = None
    stale_since: datetime | None = None
    task: asyncio.Task[None] | None = None
    runner: asyncio.Task[None] | None = None
    stale_kill: bool = False


@dataclass(frozen=True)
class ActorStatus:
    name: str
    state: ActorState
    restarts: int
    last_error: str | None
    last_heartbeat: datetime
    heartbeat_age_seconds: float
    idle: bool
    stale: bool
    critical: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state.value,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_heartbeat": self.last_heartbeat.isoformat(),
            "heartbeat_age_seconds": round(self.heartbeat_age_seconds, 3),
            "idle": self.idle,
            "stale": self.stale,
            "critical": self.critical,
        }


class Supervisor:
    def __init__(
        self,
        clock: Clock,
        *,
        policy: RestartPolicy | None = None,
        heartbeat_timeout: float = 60.0,
        check_interval: float = 5.0,
        stop_grace: float = 10.0,
        metrics: Metrics | None = None,
        readiness: Readiness | None = None,
    ) -> None:
        self._clock = clock
        self.policy = policy or RestartPolicy()
        self.heartbeat_timeout = heartbeat_timeout
        self.check_interval = check_interval
        self.stop_grace = stop_grace
        self._metrics = metrics
        self._entries: dict[str, _Entry] = {}
        self._alert_listeners: list[AlertListener] = []
        self._stopping = False
        self._started = False
        self._watchdog: asyncio.Task[None] | None = None
        self._last_watch: datetime | None = None
        self._stop_event = asyncio.Event()
        self._log = get_logger("supervisor")
        if readiness is not None:
            readiness.register("actors", self.readiness_check)
        if metrics is not None:
            metrics.gauge_callback(
                "alchemiser_actor_heartbeat_age_seconds",
                "Seconds since the actor's last heartbeat (0 while idle)",
                ["actor"],
                self._heartbeat_ages,
            )

    @classmethod
    def from_settings(
        cls,
        settings: SupervisorSettings,
        clock: Clock,
        *,
        metrics: Metrics | None = None,
        readiness: Readiness | None = None,
    ) -> Supervisor:
        return cls(
            clock,
            policy=RestartPolicy.from_settings(settings),
            heartbeat_timeout=settings.heartbeat_timeout_seconds,
            check_interval=settings.check_interval_seconds,
            stop_grace=settings.shutdown_timeout_seconds / 3,
            metrics=metrics,
            readiness=readiness,
        )

    # ------------------------------------------------------------------------------------------ registration

    def add(
        self,
        actor: Actor,
        *,
        policy: RestartPolicy | None = None,
        heartbeat_timeout: float | None = None,
        critical: bool = True,
    ) -> None:
        """Register ``actor`` (start order = registration order). Added after ``start()`` it starts at once."""
        if actor.name in self._entries:
            raise ValueError(f"an actor named {actor.name!r} is already supervised")
        entry = _Entry(
            actor=actor,
            policy=policy or self.policy,
            heartbeat_timeout=heartbeat_timeout or actor.heartbeat_timeout or self.heartbeat_timeout,
            critical=critical,
        )
        self._entries[actor.name] = entry
        if self._metrics is not None:
            if isinstance(actor, MessageActor):
                self._metrics.watch_queue(actor.inbox)
            self._metrics.actor_up.labels(actor.name).set(0)
            self._metrics.actor_gave_up.labels(actor.name).set(0)
        if self._started and not self._stopping:
            self._launch(entry)

    def add_alert_listener(self, listener: AlertListener) -> None:
        self._alert_listeners.append(listener)

    @property
    def actor_names(self) -> list[str]:
        return list(self._entries)

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._last_watch = self._clock.now()
        self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name="supervisor-watchdog")
        for entry in self._entries.values():
            self._launch(entry)

    def _launch(self, entry: _Entry) -> None:
        entry.runner = asyncio.get_running_loop().create_task(
            self._supervise(entry), name=f"supervise-{entry.actor.name}"
        )

    async def stop(self, deadline_seconds: float = 30.0) -> bool:
        """Stop every actor in reverse order within ``deadline_seconds``; ``True`` if all stopped cleanly."""
        self._stopping = True
        self._stop_event.set()
        clean = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_seconds
        for entry in reversed(list(self._entries.values())):
            remaining = max(0.0, deadline - loop.time())
            clean = await self._stop_entry(entry, remaining) and clean
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        return clean

    async def _stop_entry(self, entry: _Entry, budget: float) -> bool:
        actor = entry.actor
        runner = entry.runner
        if runner is None or runner.done():
            entry.state = ActorState.STOPPED if entry.state is not ActorState.FAILED else entry.state
            return True
        entry.state = ActorState.STOPPING
        actor.request_stop()
        self._log.debug("actor.stopping", actor=actor.name)
        task = entry.task
        grace = min(self.stop_grace, budget)
        if task is not None and not task.done() and not actor.idle:
            idle_wait = asyncio.ensure_future(actor.wait_idle())
            await asyncio.wait({idle_wait, task}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            idle_wait.cancel()
        if task is not None and not task.done():
            task.cancel()
        done, _ = await asyncio.wait({runner}, timeout=max(0.1, budget))
        if runner not in done:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            self._log.error("actor.stop_timeout", actor=actor.name, budget_seconds=budget)
            entry.state = ActorState.STOPPED
            return False
        entry.state = ActorState.STOPPED
        self._log.debug("actor.stopped", actor=actor.name)
        return True

    # ------------------------------------------------------------------------------------------ supervision

    async def _supervise(self, entry: _Entry) -> None:
        actor = entry.actor
        while not self._stopping:
            entry.state = ActorState.STARTING
            actor.reset()
            entry.stale_kill = False
            entry.task = asyncio.get_running_loop().create_task(self._run_actor(entry), name=f"actor-{actor.name}")
            await asyncio.wait({entry.task})
            if self._metrics is not None:
                self._metrics.actor_up.labels(actor.name).set(0)
            await self._call_on_stop(actor)
            if self._stopping:
                break
            reason, detail = self._failure_of(entry)
            entry.last_error = detail
            if not await self._schedule_restart(entry, reason, detail):
                return
        entry.state = ActorState.STOPPED

    async def _run_actor(self, entry: _Entry) -> None:
        await entry.actor.on_start()
        entry.actor.heartbeat()
        entry.state = ActorState.RUNNING
        if self._metrics is not None:
            self._metrics.actor_up.labels(entry.actor.name).set(1)
        started = self._log.info if entry.restarts else self._log.debug  # a restart is news, a start routine
        started("actor.started", actor=entry.actor.name, restarts=entry.restarts)
        await entry.actor.run()

    def _failure_of(self, entry: _Entry) -> tuple[str, str]:
        task = entry.task
        if task is None:
            return "exited", "actor task missing"
        if task.cancelled():
            if entry.stale_kill:
                return "stale", f"heartbeat stale for more than {entry.heartbeat_timeout:g}s"
            return "cancelled", "actor task was cancelled from outside"
        exc = task.exception()
        if exc is None:
            return "exited", "run() returned (actors must run until stopped)"
        self._log.error(
            "actor.crashed",
            actor=entry.actor.name,
            error=str(exc),
            error_type=type(exc).__name__,
            exc_info=exc,
        )
        return "crash", f"{type(exc).__name__}: {exc}"

    async def _schedule_restart(self, entry: _Entry, reason: str, detail: str) -> bool:
        now = self._clock.now()
        entry.recent_failures.append(now)
        while entry.recent_failures and (now - entry.recent_failures[0]).total_seconds() > entry.policy.window_seconds:
            entry.recent_failures.popleft()
        attempt = len(entry.recent_failures)
        if attempt > entry.policy.budget:
            await self._give_up(entry, detail)
            return False
        delay = entry.policy.backoff(attempt)
        wake_at = now + timedelta(seconds=delay)  # fixed before anyone can observe the BACKOFF state
        entry.restarts += 1
        entry.state = ActorState.BACKOFF
        if self._metrics is not None:
            self._metrics.actor_restarts.labels(entry.actor.name, reason).inc()
        self._log.warning(
            "actor.restarting",
            actor=entry.actor.name,
            reason=reason,
            detail=detail,
            attempt=attempt,
            budget=entry.policy.budget,
            backoff_seconds=delay,
        )
        sleeper = asyncio.ensure_future(self._clock.sleep_until(wake_at))
        stopper = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()
        return not self._stopping

    async def _give_up(self, entry: _Entry, detail: str) -> None:
        entry.state = ActorState.FAILED
        if self._metrics is not None:
            self._metrics.actor_gave_up.labels(entry.actor.name).set(1)
        message = (
            f"actor {entry.actor.name!r} failed {len(entry.recent_failures)} times within "
            f"{entry.policy.window_seconds:g}s (budget {entry.policy.budget}); giving up. Last error: {detail}"
        )
        self._log.critical("supervisor.gave_up", actor=entry.actor.name, alert=True, detail=message)
        alert = SupervisorAlert(actor=entry.actor.name, kind="gave_up", message=message, at=self._clock.now())
        for listener in list(self._alert_listeners):
            result = listener(alert)
            if inspect.isawaitable(result):
                await result

    async def _call_on_stop(self, actor: Actor) -> None:
        try:
            async with asyncio.timeout(max(0.1, self.stop_grace)):
                await actor.on_stop()
        except TimeoutError:
            self._log.error("actor.on_stop_timeout", actor=actor.name)
        except Exception as exc:  # noqa: BLE001 - an actor's cleanup failing must not take the supervisor down; logged
            self._log.error("actor.on_stop_failed", actor=actor.name, error=str(exc), exc_info=exc)

    # ------------------------------------------------------------------------------------------ watchdog

    async def _watch(self) -> None:
        while not self._stopping:
            self.check_heartbeats()
            await self._clock.sleep(self.check_interval)

    def check_heartbeats(self) -> list[str]:
        """Find busy actors silent past their timeout, cancel them for restart; returns their names."""
        now = self._clock.now()
        self._last_watch = now
        stale: list[str] = []
        for entry in self._entries.values():
            if entry.state is not ActorState.RUNNING or entry.task is None or entry.task.done():
                entry.stale_since = None
                continue
            if entry.actor.is_stale(now, entry.heartbeat_timeout):
                stale.append(entry.actor.name)
                if entry.stale_since is None:
                    entry.stale_since = now
                    age = (now - entry.actor.last_heartbeat).total_seconds()
                    self._log.error(
                        "actor.heartbeat_stale",
                        actor=entry.actor.name,
                        age_seconds=round(age, 3),
                        timeout_seconds=entry.heartbeat_timeout,
                    )
                    entry.stale_kill = True
                    entry.task.cancel()
            else:
                entry.stale_since = None
        return stale

    # ------------------------------------------------------------------------------------------ views

    def statuses(self) -> list[ActorStatus]:
        now = self._clock.now()
        result = []
        for entry in self._entries.values():
            actor = entry.actor
            result.append(
                ActorStatus(
                    name=actor.name,
                    state=entry.state,
                    restarts=entry.restarts,
                    last_error=entry.last_error,
                    last_heartbeat=actor.last_heartbeat,
                    heartbeat_age_seconds=0.0 if actor.idle else (now - actor.last_heartbeat).total_seconds(),
                    idle=actor.idle,
                    stale=entry.stale_since is not None,
                    critical=entry.critical,
                )
            )
        return result

    def readiness_check(self) -> Check:
        failing = []
        for entry in self._entries.values():
            if not entry.critical:
                continue
            if entry.state is ActorState.FAILED:
                failing.append(f"{entry.actor.name} failed (restart budget exhausted)")
            elif entry.state is not ActorState.RUNNING:
                failing.append(f"{entry.actor.name} {entry.state.value}")
            elif entry.stale_since is not None:
                failing.append(f"{entry.actor.name} heartbeat stale")
        if not self._started:
            failing.insert(0, "supervisor not started")
        return Check.failed("; ".join(failing)) if failing else Check.passed(f"{len(self._entries)} actors running")

    def liveness(self) -> Check:
        """For ``/healthz``: the watchdog is running on time and no actor is stuck right now."""
        if not self._started:
            return Check.passed("starting")
        if self._watchdog is None or self._watchdog.done():
            return (
                Check.failed("supervisor watchdog is not running") if not self._stopping else Check.passed("stopping")
            )
        last = self._last_watch or self._clock.now()
        age = (self._clock.now() - last).total_seconds()
        if age > 3 * self.check_interval + 1:
            return Check.failed(f"supervisor watchdog last ran {age:.1f}s ago")
        stale = [e.actor.name for e in self._entries.values() if e.stale_since is not None]
        if stale:
            return Check.failed(f"stale heartbeat: {', '.join(stale)}")
        return Check.passed()

    def _heartbeat_ages(self) -> dict[tuple[str, ...], float]:
        return {(s.name,): s.heartbeat_age_seconds for s in self.statuses()}


__all__ = [
    "ActorState",
    "ActorStatus",
    "AlertListener",
    "RestartPolicy",
    "Supervisor",
    "SupervisorAlert",
]
