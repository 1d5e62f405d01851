"""The exchange's timetable: order actions (acknowledge, fill, cancel, expire) queued by the instant they are due.

An entry is stale once its order has moved on: the order's ``token`` changed (a cancel, replace or finish bumps it)
or the order is terminal. Stale entries are skipped, never removed eagerly.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Literal

from alchemiser.sim.orders import OrderRecord

Action = Literal["ack", "fill", "cancel", "expire"]


class ActionSchedule:
    """A min-heap of (due instant, insertion counter, order, token, action); the counter keeps ties in FIFO order."""

    __slots__ = ("_counter", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, OrderRecord, int, Action]] = []
        self._counter = 0

    def add(self, rec: OrderRecord, at: datetime, action: Action) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (at, self._counter, rec, rec.token, action))

    def next_due(self) -> datetime | None:
        """When the next live action is due (``None`` if nothing is scheduled); drops stale entries on the way."""
        heap = self._heap
        while heap:
            at, _, rec, token, _ = heap[0]
            if rec.token == token and not rec.status.is_terminal:
                return at
            heapq.heappop(heap)
        return None

    def pop_due(self, now: datetime) -> tuple[datetime, OrderRecord, Action] | None:
        """Remove and return the earliest live action due at or before ``now`` (``None`` when there is none)."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, rec, token, action = heapq.heappop(heap)
            if rec.token == token and not rec.status.is_terminal:
                return at, rec, action
        return None
