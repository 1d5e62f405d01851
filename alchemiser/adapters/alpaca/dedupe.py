"""Duplicate and stale trade_updates detection (pure, bounded memory).

Alpaca has re-sent ``new``/``fill`` with identical ``execution_id``s, and reconciliation re-reports what the stream
may already have delivered. An event is dropped when:

* its identity key (order id, event, execution id / event id / updated_at) was seen — a replay;
* its state key (order id, event, order status, cumulative filled qty) was seen — the same news by another path
  (e.g. a synthetic reconciliation event for a fill the stream delivered);
* it is a fill that does not raise the order's cumulative ``filled_qty`` — a stale or re-ordered fill; the order's
  ``filled_qty`` is the monotonic truth;
* it is not a fill and the order already reached a terminal state — it would move the order backwards.

Memory is bounded by what can still come back. Everything is kept per order (its progress and its seen keys); an
order is forgotten once it is terminal and its last event is older than ``retention`` in *event* time (the newest
event seen), never wall time: while the stream is down nothing ages, and the reconciliation after a reconnect
re-reports only from shortly before the disconnection, oldest first. Open orders are kept however old. ``capacity``
orders is a hard backstop (oldest activity first) should an account run thousands of orders within ``retention``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from alchemiser.broker.enums import TradeEvent
from alchemiser.broker.models import TradeUpdate

Verdict = Literal["duplicate", "stale"] | None
_FILL_EVENTS = frozenset({TradeEvent.FILL, TradeEvent.PARTIAL_FILL})
DEFAULT_RETENTION = timedelta(days=3)


@dataclass(slots=True)
class _OrderProgress:
    filled_qty: Decimal
    terminal: bool
    last_at: datetime | None  # event time of the newest event admitted for this order
    keys: set[tuple[str, ...]] = field(default_factory=set)


class EventDeduplicator:
    def __init__(self, capacity: int = 100_000, *, retention: timedelta = DEFAULT_RETENTION) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if retention <= timedelta(0):
            raise ValueError(f"retention must be positive, got {retention}")
        self._capacity = capacity
        self._retention = retention
        self._orders: OrderedDict[str, _OrderProgress] = OrderedDict()  # least recently active first
        self._sweep_after: datetime | None = None  # no order can have aged out before the newest event passes this
        self.last_event_at: datetime | None = None

    def admit(self, update: TradeUpdate) -> Verdict:
        """``None`` if the event is news (and remember it), else why it is dropped."""
        order = update.order
        identity = update.dedupe_key
        state = (order.id, "state", update.event.value, order.status.value, str(order.filled_qty.normalize()))
        progress = self._orders.get(order.id)
        is_fill = update.event in _FILL_EVENTS
        if progress is not None:
            if identity in progress.keys or state in progress.keys:
                return "duplicate"
            if is_fill and order.filled_qty <= progress.filled_qty:
                return "stale"
            if not is_fill and progress.terminal:
                return "stale"
        moment = update.timestamp or update.at or order.updated_at
        if progress is None:
            progress = _OrderProgress(filled_qty=order.filled_qty, terminal=order.status.is_terminal, last_at=moment)
            self._orders[order.id] = progress
            if len(self._orders) > self._capacity:
                self._orders.popitem(last=False)
        else:
            progress.filled_qty = max(progress.filled_qty, order.filled_qty)
            progress.terminal = progress.terminal or order.status.is_terminal
            if moment is not None and (progress.last_at is None or moment > progress.last_at):
                progress.last_at = moment
            self._orders.move_to_end(order.id)
        progress.keys.add(identity)
        progress.keys.add(state)
        if moment is not None and (self.last_event_at is None or moment > self.last_event_at):
            self.last_event_at = moment
            if self._sweep_after is None or moment > self._sweep_after:
                self._expire(moment - self._retention)
        return None

    def open_order_ids(self) -> frozenset[str]:
        """Orders seen on the stream whose last known state is not terminal (reconciliation re-reads them)."""
        return frozenset(order_id for order_id, p in self._orders.items() if not p.terminal)

    def __len__(self) -> int:
        """How many orders are remembered."""
        return len(self._orders)

    def remembered_keys(self) -> int:
        return sum(len(p.keys) for p in self._orders.values())

    def _expire(self, horizon: datetime) -> None:
        """Forget finished orders whose last event is older than ``horizon``, oldest activity first."""
        orders = self._orders
        self._sweep_after = None
        for _ in range(len(orders)):
            order_id, progress = next(iter(orders.items()))
            if progress.last_at is not None and progress.last_at >= horizon:
                self._sweep_after = progress.last_at + self._retention
                return
            if progress.terminal and progress.last_at is not None:
                del orders[order_id]
            else:  # still open (or of unknown age): keep it, behind the others
                orders.move_to_end(order_id)
                return
