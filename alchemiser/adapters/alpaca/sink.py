"""Where ``trade_updates`` events go: deduplicated, counted by kind and origin, then queued for the consumer.

Events from the socket and from REST reconciliation pass through the same dedupe, so a fill seen both ways is
delivered once. The queue is bounded: when it is full, delivery waits (back-pressure); it never drops an event.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from prometheus_client import Counter

from alchemiser.adapters.alpaca.dedupe import EventDeduplicator
from alchemiser.adapters.alpaca.metrics import AdapterMetrics
from alchemiser.broker.models import TradeUpdate
from alchemiser.clock import Clock

Origin = Literal["stream", "reconciliation"]


class EventSink:
    def __init__(self, *, clock: Clock, metrics: AdapterMetrics, queue_size: int, dedupe_capacity: int) -> None:
        self.queue: asyncio.Queue[TradeUpdate] = asyncio.Queue(maxsize=queue_size)
        self.dedupe = EventDeduplicator(dedupe_capacity)
        self._clock = clock
        self._metrics = metrics
        self._counters: dict[tuple[str, str], Counter] = {}

    async def deliver(self, update: TradeUpdate, origin: Origin) -> bool:
        """Queue ``update`` unless it is a duplicate; returns whether it was queued."""
        verdict = self.dedupe.admit(update)
        if verdict is not None:
            self._metrics.stream_dedupes.labels(verdict).inc()
            return False
        moment = update.timestamp or update.at
        if moment is not None and origin == "stream":
            self._metrics.stream_lag.set(max(0.0, (self._clock.now() - moment).total_seconds()))
        key = (update.event.value, origin)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self._metrics.stream_events.labels(*key)
        counter.inc()
        await self.queue.put(update)
        return True
