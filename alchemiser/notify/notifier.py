"""The notifier actor: fans events out to every channel without ever blocking the caller.

``Notifier.publish(event)`` is synchronous and never waits: the event is rendered once (full or neutral) and put
on each channel's own bounded queue. Each channel has its own worker task, so a slow or failing channel delays
only itself. A send that fails is retried with exponential backoff (on the injected clock) up to
``max_attempts``; then the message is given up and counted. When a channel's queue is full the new message is
dropped and counted, and a ``NotificationsDropped`` message is queued for that channel as soon as there is room,
so drops are visible. ``stats()`` exposes the counters (for /status and metrics).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from alchemiser.clock import Clock
from alchemiser.notify.channels import Channel, NotificationError
from alchemiser.notify.events import Event, Message, NotificationsDropped, render

log = structlog.get_logger("alchemiser.notify")


@dataclass
class ChannelStats:
    sent: int = 0
    failed: int = 0  # given up after max_attempts
    retries: int = 0
    dropped: int = 0  # queue full
    queued: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "retries": self.retries,
            "dropped": self.dropped,
            "queued": self.queued,
        }


class _Lane:
    def __init__(self, channel: Channel, queue_size: int) -> None:
        self.channel = channel
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=queue_size)
        self.stats = ChannelStats()
        self.unreported_drops = 0


StatsListener = Callable[[str, str], None]  # (channel name, outcome: sent|failed|dropped|retry)


class Notifier:
    def __init__(
        self,
        channels: Sequence[Channel],
        clock: Clock,
        *,
        neutral: bool = False,
        queue_size: int = 100,
        max_attempts: int = 5,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        on_outcome: StatsListener | None = None,
    ) -> None:
        if queue_size < 2:
            raise ValueError("queue_size must be >= 2")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self._clock = clock
        self.neutral = neutral
        self._lanes = [_Lane(channel, queue_size) for channel in channels]
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._on_outcome = on_outcome
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def channel_names(self) -> list[str]:
        return [lane.channel.name for lane in self._lanes]

    def stats(self) -> dict[str, dict[str, int]]:
        for lane in self._lanes:
            lane.stats.queued = lane.queue.qsize()
        return {lane.channel.name: lane.stats.to_json() for lane in self._lanes}

    def publish(self, event: Event) -> None:
        """Queue ``event`` for every channel. Never blocks, never raises for a full or failing channel."""
        if not self._lanes:
            return
        message = render(event, neutral=self.neutral)
        for lane in self._lanes:
            try:
                lane.queue.put_nowait(message)
            except asyncio.QueueFull:
                lane.stats.dropped += 1
                lane.unreported_drops += 1
                self._emit(lane.channel.name, "dropped")
                log.warning("notification_dropped", channel=lane.channel.name, kind=message.kind)

    async def run(self) -> None:
        """Run one worker per channel until cancelled."""
        if not self._lanes:
            await asyncio.Event().wait()  # nothing to do; stay alive like any other actor
            return
        async with asyncio.TaskGroup() as group:
            for lane in self._lanes:
                self._tasks.append(group.create_task(self._work(lane), name=f"notify:{lane.channel.name}"))

    async def drain(self, wait_seconds: float) -> bool:
        """Wait (wall time, bounded) until every queue is empty; True if it emptied."""
        try:
            async with asyncio.timeout(wait_seconds):
                for lane in self._lanes:
                    await lane.queue.join()
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        for lane in self._lanes:
            lane.channel.close()

    async def _work(self, lane: _Lane) -> None:
        while True:
            message = await lane.queue.get()
            try:
                await self._deliver(lane, message)
            finally:
                lane.queue.task_done()
            if lane.unreported_drops and not lane.queue.full():
                report = NotificationsDropped(
                    channel=lane.channel.name, count=lane.unreported_drops, at=self._clock.now()
                )
                lane.unreported_drops = 0
                lane.queue.put_nowait(render(report, neutral=self.neutral))

    async def _deliver(self, lane: _Lane, message: Message) -> None:
        delay = self._backoff_initial
        for attempt in range(1, self._max_attempts + 1):
            try:
                await lane.channel.send(message)
            except NotificationError as exc:
                if attempt == self._max_attempts:
                    lane.stats.failed += 1
                    self._emit(lane.channel.name, "failed")
                    log.error(
                        "notification_failed",
                        channel=lane.channel.name,
                        kind=message.kind,
                        attempts=attempt,
                        error=str(exc),
                    )
                    return
                lane.stats.retries += 1
                self._emit(lane.channel.name, "retry")
                log.warning("notification_retry", channel=lane.channel.name, attempt=attempt, error=str(exc))
                await self._clock.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
            else:
                lane.stats.sent += 1
                self._emit(lane.channel.name, "sent")
                return

    def _emit(self, channel: str, outcome: str) -> None:
        if self._on_outcome is not None:
            self._on_outcome(channel, outcome)
