"""Order state machine: fed by ``trade_updates`` events and verified by REST snapshots.

Truth rules (alpaca-protocol.md §6.5):

* an event already seen (same ``dedupe_key``) is ignored;
* the order's cumulative ``filled_qty`` is monotonic truth: an event or snapshot carrying less than what is known
  is stale and changes nothing (out-of-order delivery);
* nothing moves an order out of a terminal status (filled, canceled, expired, rejected, replaced);
* fills are derived from increases of the cumulative quantity, so a fill seen on the stream, replayed, or only found
  by a REST lookup is counted exactly once. The price of an increment comes from the event when the event carries
  exactly that quantity, else from the change of ``filled_avg_price × filled_qty``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from alchemiser.broker.enums import OrderStatus
from alchemiser.broker.models import Order, TradeUpdate

ZERO = Decimal(0)
PRICE_QUANTUM = Decimal("0.000001")

# How far along the lifecycle a status is; a snapshot with a lower rank never replaces a higher one.
_RANK: dict[OrderStatus, int] = {
    OrderStatus.PENDING_NEW: 1,
    OrderStatus.ACCEPTED: 2,
    OrderStatus.ACCEPTED_FOR_BIDDING: 2,
    OrderStatus.PENDING_REVIEW: 2,
    OrderStatus.HELD: 2,
    OrderStatus.NEW: 3,
    OrderStatus.CALCULATED: 3,
    OrderStatus.SUSPENDED: 3,
    OrderStatus.STOPPED: 3,
    OrderStatus.PARTIALLY_FILLED: 4,
    OrderStatus.PENDING_REPLACE: 5,
    OrderStatus.PENDING_CANCEL: 5,
    OrderStatus.DONE_FOR_DAY: 6,
}


@dataclass(frozen=True, slots=True)
class FillDelta:
    """New quantity filled since the last known state."""

    client_order_id: str
    order_id: str
    symbol: str
    qty: Decimal
    price: Decimal
    cum_qty: Decimal
    at: datetime | None
    source: str  # "stream" or "rest"
    completes_order: bool = False  # the order is filled with this fill

    @property
    def key(self) -> str:
        return f"{self.order_id}:{self.cum_qty.normalize()}"


@dataclass(frozen=True, slots=True)
class Applied:
    accepted: bool  # the input changed our view of the order
    fills: tuple[FillDelta, ...] = ()
    reason: str = ""


@dataclass(slots=True)
class OrderTracker:
    """One order (one client order id). ``changed`` is set whenever the state moves."""

    client_order_id: str
    order: Order | None = None
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    acked: bool = False
    #: set while no store write for this order is in flight (see ``OrderEvents``); results wait for it
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    inflight: int = 0
    #: a change could not be persisted and was undone: verify by REST before trusting this tracker
    dirty: bool = False
    #: fills already recorded before this tracker existed (a restart): quantity and value, so they are not re-counted
    base_filled: Decimal = ZERO
    base_value: Decimal = ZERO

    @property
    def status(self) -> OrderStatus | None:
        return self.order.status if self.order else None

    @property
    def filled_qty(self) -> Decimal:
        return self.order.filled_qty if self.order else ZERO

    @property
    def terminal(self) -> bool:
        return self.order is not None and self.order.status.is_terminal

    def apply_event(self, update: TradeUpdate) -> Applied:
        key = update.dedupe_key
        if key in self.seen:
            return Applied(False, reason="duplicate")
        self.seen.add(key)
        return self._merge(update.order, update, "rest" if update.synthetic else "stream")

    def apply_snapshot(self, order: Order) -> Applied:
        return self._merge(order, None, "rest")

    def _merge(self, incoming: Order, update: TradeUpdate | None, source: str) -> Applied:
        if incoming.client_order_id != self.client_order_id:
            return Applied(False, reason="other order")
        current = self.order
        self.acked = True
        if current is None:
            self.order = incoming
            fills = self._fills(None, incoming, update, source)
            self.changed.set()
            return Applied(True, fills)
        if current.status.is_terminal:
            # terminal: only a late fill report of the same terminal state can add quantity (e.g. a fill event
            # arriving after a REST snapshot already showed "filled")
            if incoming.filled_qty > current.filled_qty:
                fills = self._fills(current, incoming, update, source)
                self.order = current.model_copy(
                    update={"filled_qty": incoming.filled_qty, "filled_avg_price": incoming.filled_avg_price}
                )
                self.changed.set()
                return Applied(True, fills)
            return Applied(False, reason="terminal")
        if incoming.filled_qty < current.filled_qty:
            return Applied(False, reason="stale filled_qty")
        if (
            incoming.filled_qty == current.filled_qty
            and not incoming.status.is_terminal
            and _RANK.get(incoming.status, 0) < _RANK.get(current.status, 0)
        ):
            return Applied(False, reason="backwards status")
        fills = self._fills(current, incoming, update, source)
        self.order = incoming
        self.changed.set()
        return Applied(True, fills)

    def _fills(
        self, before: Order | None, after: Order, update: TradeUpdate | None, source: str
    ) -> tuple[FillDelta, ...]:
        old_qty = before.filled_qty if before else self.base_filled
        delta = after.filled_qty - old_qty
        if delta <= 0:
            return ()
        price: Decimal | None = None
        if update is not None and update.qty is not None and update.price is not None and update.qty == delta:
            price = update.price
        elif after.filled_avg_price is not None:
            old_value = old_qty * (before.filled_avg_price or ZERO) if before else self.base_value
            price = ((after.filled_avg_price * after.filled_qty - old_value) / delta).quantize(PRICE_QUANTUM)
        elif update is not None and update.price is not None:
            price = update.price
        if price is None:
            price = ZERO
        at = (update.timestamp if update else None) or after.filled_at or after.updated_at
        return (
            FillDelta(
                client_order_id=self.client_order_id,
                order_id=after.id,
                symbol=after.symbol,
                qty=delta,
                price=price,
                cum_qty=after.filled_qty,
                at=at,
                source=source,
                completes_order=after.status is OrderStatus.FILLED,
            ),
        )
