"""What the exchange records as things happen: trade-update events and executions (fills).

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
from alchemiser.sim.orders import OrderRecord, OrderSnapshot

_TRADE_UPDATE = Trusted(TradeUpdate)
_FILL_ACTIVITY = Trusted(FillActivity)


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
