"""Routes order events (stream and REST) to per-order state machines and persists them.

One ``OrderEvents`` per execution actor. ``pump()`` consumes the ``TradeUpdateFeed``; ``apply_snapshot`` feeds REST
lookups through the same path, so a fill seen twice (stream + REST, or a replayed event) is recorded once. Every
event for one of our orders is written to the store after it is received; new fills go to the fill sink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import structlog

from alchemiser.broker.models import Order, TradeUpdate
from alchemiser.broker.protocol import TradeUpdateFeed
from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError, TransientError
from alchemiser.execution.state import Applied, FillDelta, OrderTracker
from alchemiser.store.execution import ExecutionRepository

FillSink = Callable[[FillDelta], Awaitable[None]]
OUR_PREFIX = "alc-"
MAX_ORPHANS = 10_000

log = structlog.get_logger("alchemiser.execution.tracking")


class OrderEvents:
    def __init__(self, repo: ExecutionRepository, clock: Clock, fill_sink: FillSink) -> None:
        self._repo = repo
        self._clock = clock
        self._fill_sink = fill_sink
        self.trackers: dict[str, OrderTracker] = {}
        self._orphans: dict[str, list[TradeUpdate]] = {}
        self.events_seen = 0
        self.stream_errors = 0
        self.stream_failed: AlchemiserError | None = None

    def tracker(self, client_order_id: str) -> OrderTracker:
        """The tracker for this id (created on first use)."""
        existing = self.trackers.get(client_order_id)
        if existing is not None:
            return existing
        tracker = OrderTracker(client_order_id)
        self.trackers[client_order_id] = tracker
        return tracker

    async def track(self, client_order_id: str) -> OrderTracker:
        """Tracker for this id, seeded with fills already in the store (a restart) and with any events that
        arrived before it was registered applied."""
        fresh = client_order_id not in self.trackers
        tracker = self.tracker(client_order_id)
        if fresh and tracker.order is None:
            for fill in await self._repo.fills_for_order(client_order_id):
                tracker.base_filled += fill.qty
                tracker.base_value += fill.qty * fill.price
        for update in self._orphans.pop(client_order_id, []):
            await self._apply(tracker, update)
        return tracker

    async def on_event(self, update: TradeUpdate) -> Applied:
        self.events_seen += 1
        coid = update.order.client_order_id
        tracker = self.trackers.get(coid)
        if tracker is None:
            if coid.startswith(OUR_PREFIX) and sum(len(v) for v in self._orphans.values()) < MAX_ORPHANS:
                self._orphans.setdefault(coid, []).append(update)
            return Applied(False, reason="untracked")
        return await self._apply(tracker, update)

    async def _apply(self, tracker: OrderTracker, update: TradeUpdate) -> Applied:
        self._begin(tracker)
        before = tracker.order
        try:
            applied = tracker.apply_event(update)
            if applied.reason == "duplicate":
                return applied
            await self._repo.add_event(tracker.client_order_id, update)
            await self._after(tracker, applied)
            if applied.accepted:
                tracker.dirty = False
            return applied
        except AlchemiserError:
            self._undo(tracker, before, update.order)
            tracker.seen.discard(update.dedupe_key)
            raise
        finally:
            self._end(tracker)

    async def apply_snapshot(self, order: Order) -> Applied:
        tracker = self.tracker(order.client_order_id)
        self._begin(tracker)
        before = tracker.order
        try:
            applied = tracker.apply_snapshot(order)
            await self._after(tracker, applied)
            if applied.accepted:
                tracker.dirty = False
            return applied
        except AlchemiserError:
            self._undo(tracker, before, order)
            raise
        finally:
            self._end(tracker)

    @staticmethod
    def _undo(tracker: OrderTracker, before: Order | None, applied: Order) -> None:
        """Persisting failed: forget the change (if nothing moved the order since), so the next event or REST check
        derives the same fills again instead of them being lost."""
        tracker.dirty = True
        if tracker.order is not None and tracker.order.filled_qty == applied.filled_qty:
            tracker.order = before

    @staticmethod
    def _begin(tracker: OrderTracker) -> None:
        tracker.inflight += 1
        tracker.settled.clear()

    @staticmethod
    def _end(tracker: OrderTracker) -> None:
        tracker.inflight -= 1
        if tracker.inflight == 0:
            tracker.settled.set()

    async def settle(self, client_order_ids: list[str]) -> None:
        """Wait until every change already applied to these orders is in the store (fills, events, state), so a
        result is never reported (or a process stopped) ahead of what it persisted."""
        for coid in client_order_ids:
            tracker = self.trackers.get(coid)
            if tracker is not None and tracker.inflight:
                await tracker.settled.wait()

    async def _after(self, tracker: OrderTracker, applied: Applied) -> None:
        if not applied.accepted or tracker.order is None:
            return
        for fill in applied.fills:
            await self._fill_sink(fill)
        await self._repo.record_order(tracker.order)

    async def pump(self, feed: TradeUpdateFeed) -> None:
        """Consume the feed until cancelled. Transient stream errors are counted and waited out (the ack watchdog
        verifies orders by REST meanwhile); a permanent error ends the pump (kept in ``stream_failed``)."""
        backoff = 0.5
        while True:
            try:
                update = await feed.next_event()
            except TransientError as exc:
                self.stream_errors += 1
                log.warning("execution.stream_error", error=str(exc), error_type=type(exc).__name__)
                await self._clock.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            except AlchemiserError as exc:
                # the feed gave up for good (e.g. credentials refused): orders are still verified by REST
                self.stream_errors += 1
                self.stream_failed = exc
                log.error("execution.stream_failed", error=str(exc), error_type=type(exc).__name__)
                return
            backoff = 0.5
            try:
                await self.on_event(update)
            except AlchemiserError as exc:  # a store hiccup must not kill the pump; REST verification covers it
                log.error("execution.event_not_recorded", error=str(exc), order_id=update.order.id)

    def filled_qty(self, client_order_ids: list[str]) -> Decimal:
        return sum((self.tracker(c).filled_qty for c in client_order_ids), Decimal(0))
