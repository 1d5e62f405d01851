"""Duplicate and stale trade_updates detection (pure, bounded memory).

Alpaca has re-sent ``new``/``fill`` with identical ``execution_id``s, and reconciliation re-reports what the stream
may already have delivered. An event is dropped when:

* its identity key (order id, event, execution id / event id / updated_at) was seen — a replay;
* its state key (order id, event, order status, cumulative filled qty) was seen — the same news by another path
  (e.g. a synthetic reconciliation event for a fill the stream delivered);
* it is a fill that does not raise the order's cumulative ``filled_qty`` — a stale or re-ordered fill; the order's
  ``filled_qty`` is the monotonic truth;
* it is not a fill and the order already reached a terminal state — it would move the order backwards.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from alchemiser.broker.enums import TradeEvent
from alchemiser.broker.models import TradeUpdate

Verdict = Literal["duplicate", "stale"] | None
_FILL_EVENTS = frozenset({TradeEvent.FILL, TradeEvent.PARTIAL_FILL})


@dataclass(slots=True)
class _OrderProgress:
    filled_qty: Decimal
    terminal: bool


class EventDeduplicator:
    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._keys: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._orders: OrderedDict[str, _OrderProgress] = OrderedDict()
        self.last_event_at: datetime | None = None

    def admit(self, update: TradeUpdate) -> Verdict:
        """``None`` if the event is news (and remember it), else why it is dropped."""
        order = update.order
        identity = update.dedupe_key
        state = (order.id, "state", update.event.value, order.status.value, str(order.filled_qty.normalize()))
        keys = self._keys
        if identity in keys or state in keys:
            return "duplicate"
        progress = self._orders.get(order.id)
        is_fill = update.event in _FILL_EVENTS
        if progress is not None:
            if is_fill and order.filled_qty <= progress.filled_qty:
                return "stale"
            if not is_fill and progress.terminal:
                return "stale"
        self._remember(identity)
        self._remember(state)
        if progress is None:
            progress = _OrderProgress(filled_qty=order.filled_qty, terminal=order.status.is_terminal)
            self._orders[order.id] = progress
            if len(self._orders) > self._capacity:
                self._orders.popitem(last=False)
        else:
            progress.filled_qty = max(progress.filled_qty, order.filled_qty)
            progress.terminal = progress.terminal or order.status.is_terminal
            self._orders.move_to_end(order.id)
        moment = update.timestamp or update.at or order.updated_at
        if moment is not None and (self.last_event_at is None or moment > self.last_event_at):
            self.last_event_at = moment
        return None

    def open_order_ids(self) -> frozenset[str]:
        """Orders seen on the stream whose last known state is not terminal (reconciliation re-reads them)."""
        return frozenset(order_id for order_id, p in self._orders.items() if not p.terminal)

    def _remember(self, key: tuple[str, ...]) -> None:
        self._keys[key] = None
        if len(self._keys) > 2 * self._capacity:
            self._keys.popitem(last=False)
