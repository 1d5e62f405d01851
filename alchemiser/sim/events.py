"""What the exchange records as things happen: trade-update events and executions (fills), and the emitter that
numbers the events and hands them to listeners.

Both are cheap tuples on the hot path; the broker models (``TradeUpdate``, ``FillActivity``) are built only when
someone reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from alchemiser.broker.enums import OrderStatus, TradeEvent
from alchemiser.broker.models import FillActivity, TradeUpdate
from alchemiser.sim.fastmodel import Trusted
from alchemiser.sim.orders import TERMINAL_STATUSES, OrderRecord, OrderSnapshot

_TRADE_UPDATE = Trusted(TradeUpdate)
_FILL_ACTIVITY = Trusted(FillActivity)
_FILL_EVENTS = frozenset((TradeEvent.FILL, TradeEvent.PARTIAL_FILL))
_new_event = tuple.__new__  # NamedTuple construction without its Python-level __new__ (the hot path)


class ExchangeEvent(NamedTuple):
    """A trade update as recorded by the exchange; ``to_update()`` builds the broker model."""

    seq: int
    event: TradeEvent
    record: OrderRecord
    snap: OrderSnapshot
    timestamp: datetime
    execution_id: str | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None

    def to_update(self) -> TradeUpdate:
        return _TRADE_UPDATE(
            {
                "event": self.event,
                "order": self.record.to_order(self.snap),
                "execution_id": self.execution_id,
                "event_id": None,
                "timestamp": self.timestamp,
                "at": self.timestamp,
                "price": self.price,
                "qty": self.qty,
                "position_qty": self.position_qty,
                "synthetic": False,
            },
        )


class FillRecord(NamedTuple):
    """One execution; the ``FillActivity`` row is built only when someone reads it."""

    record: OrderRecord
    qty: Decimal
    price: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    at: datetime
    execution_id: str
    done: bool
    mid: Decimal  # the mid at the fill instant (for cost accounting)
    account_id: str

    def activity(self) -> FillActivity:
        return _FILL_ACTIVITY(
            {
                "id": f"{self.at.strftime('%Y%m%d%H%M%S%f')[:17]}::{self.execution_id}",
                "activity_type": "FILL",
                "order_id": self.record.id,
                "symbol": self.record.symbol,
                "side": self.record.side,
                "qty": self.qty,
                "price": self.price,
                "cum_qty": self.cum_qty,
                "leaves_qty": self.leaves_qty,
                "transaction_time": self.at,
                "type": "fill" if self.done else "partial_fill",
            },
            {
                "account_id": self.account_id,
                "order_status": (OrderStatus.FILLED if self.done else OrderStatus.PARTIALLY_FILLED).value,
            },
        )


EventListener = Callable[[ExchangeEvent], None]


class EventEmitter:
    """Numbers every trade update and calls the listeners with it; builds nothing when nobody listens."""

    __slots__ = ("_listeners", "_position_qty", "emitted")

    def __init__(self, position_qty: Callable[[str], Decimal]) -> None:
        self._position_qty = position_qty  # the account's shares of a symbol after a fill (``position_qty``)
        self._listeners: tuple[EventListener, ...] = ()  # replaced, never mutated, so emitting can iterate it
        self.emitted = 0  # trade updates so far, whether or not anyone listened (also each event's ``seq``)

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns an unsubscribe function."""
        self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def emit(
        self,
        rec: OrderRecord,
        event: TradeEvent,
        at: datetime,
        *,
        price: Decimal | None = None,
        qty: Decimal | None = None,
        execution_id: str | None = None,
    ) -> None:
        self.emitted += 1
        if not self._listeners:
            if rec.status in TERMINAL_STATUSES:
                rec.layout = None  # the order's last event: its layout is not needed any more
            return  # nobody listens (e.g. a backtest reading orders directly): build nothing
        position_qty = self._position_qty(rec.symbol) if event in _FILL_EVENTS else None
        snap = rec.snapshot()
        if rec.status in TERMINAL_STATUSES:
            rec.layout = None  # events already taken keep theirs; a later read lays it out again
        record = _new_event(ExchangeEvent, (self.emitted, event, rec, snap, at, execution_id, price, qty, position_qty))
        for listener in self._listeners:
            listener(record)
