"""Actors: components that own their state, run one loop, heartbeat, and receive typed messages on a bounded inbox.

Lifecycle (driven by the :class:`~alchemiser.process.supervisor.Supervisor`): ``on_start()`` → ``run()`` →
(``request_stop()``) → ``on_stop()``. ``run()`` must loop until cancelled; returning counts as a crash.

Liveness: an actor is *idle* while it waits in :meth:`Actor.receive` or :meth:`Actor.sleep` (healthy however long
it waits, and a safe point to stop it). Any other await (a network call, a computation) is *busy* and must call
:meth:`Actor.heartbeat` at least every ``heartbeat_timeout`` seconds, or the supervisor restarts it as stuck.

Queues never lose messages silently: :meth:`BoundedQueue.offer` returns ``False`` on a full queue, logs
``queue.full`` and notifies listeners (the ``alchemiser_queue_rejected_total`` metric); :meth:`BoundedQueue.put`
waits for room up to a timeout, then raises :class:`QueueFullError`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from alchemiser.clock import Clock
from alchemiser.errors import TransientError
from alchemiser.logging import get_logger

T = TypeVar("T")
M = TypeVar("M")

RejectListener = Callable[[str], None]


class QueueFullError(TransientError):
    """A bounded queue had no room; the message was not enqueued."""


class BoundedQueue(Generic[T]):
    """An ``asyncio.Queue`` with a name, a hard bound, and visible rejections."""

    def __init__(self, name: str, maxsize: int, clock: Clock) -> None:
        if maxsize < 1:
            raise ValueError(f"queue {name!r}: maxsize must be >= 1, got {maxsize}")
        self.name = name
        self.maxsize = maxsize
        self._clock = clock
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self._reject_listeners: list[RejectListener] = []
        self.rejected = 0
        self._log = get_logger("queue", queue=name)

    def add_reject_listener(self, listener: RejectListener) -> None:
        self._reject_listeners.append(listener)

    def qsize(self) -> int:
        return self._queue.qsize()

    def full(self) -> bool:
        return self._queue.full()

    def empty(self) -> bool:
        return self._queue.empty()

    def offer(self, item: T) -> bool:
        """Enqueue without waiting; ``False`` (logged, counted) when full."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._reject(type(item).__name__)
            return False
        return True

    async def put(self, item: T, wait_seconds: float | None = None) -> None:
        """Enqueue, waiting up to ``wait_seconds`` of clock time for room (forever if ``None``)."""
        if self.offer_quietly(item):
            return
        give_up_at = None if wait_seconds is None else self._clock.now() + timedelta(seconds=wait_seconds)
        put_task = asyncio.ensure_future(self._queue.put(item))
        if give_up_at is None:
            await put_task
            return
        sleep_task = asyncio.ensure_future(self._clock.sleep_until(give_up_at))
        try:
            await asyncio.wait({put_task, sleep_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep_task.cancel()
            if not put_task.done():
                put_task.cancel()
        if put_task.cancelled() or not put_task.done():
            self._reject(type(item).__name__)
            raise QueueFullError(f"queue {self.name!r} full for {wait_seconds}s", queue=self.name)

    def offer_quietly(self, item: T) -> bool:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    async def get(self) -> T:
        return await self._queue.get()

    def get_nowait(self) -> T:
        return self._queue.get_nowait()

    def _reject(self, item_type: str) -> None:
        self.rejected += 1
        self._log.warning("queue.full", maxsize=self.maxsize, item_type=item_type, rejected_total=self.rejected)
        for listener in self._reject_listeners:
            listener(self.name)


class Actor(ABC):
    """Base class of every long-running component. Subclasses implement :meth:`run`."""

    def __init__(self, name: str, clock: Clock, *, heartbeat_timeout: float | None = None) -> None:
        self.name = name
        self.clock = clock
        self.heartbeat_timeout = heartbeat_timeout
        self.log = get_logger(name)
        self._last_heartbeat: datetime = clock.now()
        self._idle_depth = 0
        self._idle_event = asyncio.Event()
        self._stop_requested = False

    # ---- hooks
    async def on_start(self) -> None:  # noqa: B027 - optional hook
        """Called before every (re)start of :meth:`run`."""

    @abstractmethod
    async def run(self) -> None:
        """The actor's loop. Runs until cancelled; returning or raising is treated as a crash."""

    async def on_stop(self) -> None:  # noqa: B027 - optional hook
        """Called after :meth:`run` ended (crash, restart or shutdown). Release resources here."""

    # ---- liveness
    def heartbeat(self) -> None:
        self._last_heartbeat = self.clock.now()

    @property
    def last_heartbeat(self) -> datetime:
        return self._last_heartbeat

    @property
    def idle(self) -> bool:
        return self._idle_depth > 0

    def is_stale(self, now: datetime, timeout: float) -> bool:
        """Busy and silent for longer than ``timeout`` seconds."""
        return not self.idle and (now - self._last_heartbeat).total_seconds() > timeout

    async def wait_idle(self) -> None:
        await self._idle_event.wait()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the actor's clock; counts as idle (healthy, safe to stop)."""
        self._enter_idle()
        try:
            await self.clock.sleep(seconds)
        finally:
            self._leave_idle()

    async def idle_wait(self, awaitable: Awaitable[T]) -> T:
        """Await something that may legitimately take long (e.g. a stream read) as idle time."""
        self._enter_idle()
        try:
            return await awaitable
        finally:
            self._leave_idle()

    def _enter_idle(self) -> None:
        self._idle_depth += 1
        self._idle_event.set()

    def _leave_idle(self) -> None:
        self._idle_depth = max(0, self._idle_depth - 1)
        if self._idle_depth == 0:
            self._idle_event.clear()
        self.heartbeat()

    # ---- stopping
    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def request_stop(self) -> None:
        """Ask the actor to finish: loops should check :attr:`stop_requested` at safe points."""
        self._stop_requested = True

    def reset(self) -> None:
        """Called by the supervisor before each start."""
        self._stop_requested = False
        self._idle_depth = 0
        self._idle_event.clear()
        self.heartbeat()


class MessageActor(Actor, Generic[M]):
    """An actor that processes messages from its bounded inbox one at a time with :meth:`handle`."""

    def __init__(
        self, name: str, clock: Clock, *, inbox_size: int = 100, heartbeat_timeout: float | None = None
    ) -> None:
        super().__init__(name, clock, heartbeat_timeout=heartbeat_timeout)
        self.inbox: BoundedQueue[M] = BoundedQueue(f"{name}.inbox", inbox_size, clock)

    def tell(self, message: M) -> bool:
        """Deliver without waiting; ``False`` (logged and counted) when the inbox is full."""
        return self.inbox.offer(message)

    async def send(self, message: M, wait_seconds: float | None = None) -> None:
        """Deliver, waiting for room up to ``wait_seconds``; raises :class:`QueueFullError`."""
        await self.inbox.put(message, wait_seconds)

    async def receive(self) -> M:
        """Next message (idle while waiting)."""
        self._enter_idle()
        try:
            return await self.inbox.get()
        finally:
            self._leave_idle()

    @abstractmethod
    async def handle(self, message: M) -> None:
        """Process one message."""

    async def run(self) -> None:
        while not self.stop_requested:
            message = await self.receive()
            await self.handle(message)
            self.heartbeat()
