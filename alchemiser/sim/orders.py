"""The simulated exchange's mutable order record and its immutable snapshots.

The exchange mutates ``OrderRecord`` as an order moves through Alpaca's lifecycle; every event carries a cheap
``OrderSnapshot`` (the fields that change), and the pydantic ``Order`` is only built when someone reads it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from alchemiser.broker.enums import AssetClass, OrderClass, OrderSide, OrderStatus, OrderType, TimeInForce
from alchemiser.broker.models import Order
from alchemiser.sim.fastmodel import Trusted

_AVG_QUANTUM = Decimal("0.000000001")
_ORDER = Trusted(Order)
_new_tuple = tuple.__new__  # NamedTuple construction without its Python-level __new__ (the hot path)
TERMINAL_STATUSES = frozenset(status for status in OrderStatus if status.is_terminal)


class OrderSnapshot(NamedTuple):
    """The fields of an order that change, frozen at one event (a tuple: cheap to make on the hot path)."""

    status: OrderStatus
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    updated_at: datetime
    filled_at: datetime | None
    expired_at: datetime | None
    canceled_at: datetime | None
    failed_at: datetime | None
    replaced_at: datetime | None
    replaced_by: str | None
    layout: dict[str, Any]  # the record's fixed fields as an ``Order`` dict (shared, never mutated)


class OrderRecord:
    """One order's full state inside the exchange."""

    __slots__ = (
        "asset_id",
        "avg_price",
        "canceled_at",
        "client_order_id",
        "created_at",
        "expire_at",
        "expired_at",
        "extended_hours",
        "failed_at",
        "filled_at",
        "filled_cost",
        "filled_qty",
        "id",
        "layout",
        "limit_price",
        "notional",
        "qty",
        "replaced_at",
        "replaced_by",
        "replaces",
        "reserved_cash",
        "reserved_qty",
        "seq",
        "side",
        "status",
        "submitted_at",
        "symbol",
        "time_in_force",
        "token",
        "type",
        "updated_at",
    )

    def __init__(
        self,
        *,
        id: str,
        seq: int,
        client_order_id: str,
        symbol: str,
        asset_id: str,
        side: OrderSide,
        type: OrderType,
        time_in_force: TimeInForce,
        qty: Decimal | None,
        notional: Decimal | None,
        limit_price: Decimal | None,
        extended_hours: bool,
        status: OrderStatus,
        now: datetime,
        replaces: str | None = None,
    ) -> None:
        self.id = id
        self.seq = seq
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.asset_id = asset_id
        self.side = side
        self.type = type
        self.time_in_force = time_in_force
        self.qty = qty
        self.notional = notional
        self.limit_price = limit_price
        self.extended_hours = extended_hours
        self.status = status
        self.created_at = now
        self.submitted_at = now
        self.updated_at = now
        self.filled_at: datetime | None = None
        self.expired_at: datetime | None = None
        self.canceled_at: datetime | None = None
        self.failed_at: datetime | None = None
        self.replaced_at: datetime | None = None
        self.replaced_by: str | None = None
        self.replaces = replaces
        self.filled_qty = Decimal(0)
        self.filled_cost = Decimal(0)  # Σ fill qty × fill price
        self.avg_price: Decimal | None = None
        self.reserved_cash = Decimal(0)  # buying power held by an open buy
        self.reserved_qty = Decimal(0)  # shares held by an open sell
        self.expire_at: datetime | None = None
        self.token = 0  # bumped whenever scheduled actions for this order become stale
        # The fixed fields laid out as an Order dict, built on first use and kept while the order is live (the
        # exchange drops it after the order's terminal event), so each event's Order is a dict copy plus the ten
        # fields that change, not a 27-entry literal.
        self.layout: dict[str, Any] | None = None

    @property
    def filled_avg_price(self) -> Decimal | None:
        return self.avg_price

    def record_fill(self, qty: Decimal, price: Decimal) -> None:
        self.filled_qty += qty
        self.filled_cost += qty * price
        if self.filled_qty == qty:
            self.avg_price = price  # first (or only) fill: no division
        else:
            self.avg_price = (self.filled_cost / self.filled_qty).quantize(_AVG_QUANTUM).normalize()

    @property
    def remaining_notional(self) -> Decimal | None:
        return None if self.notional is None else self.notional - self.filled_cost

    @property
    def remaining_qty(self) -> Decimal | None:
        return None if self.qty is None else self.qty - self.filled_qty

    def snapshot(self) -> OrderSnapshot:
        layout = self.layout
        if layout is None:
            layout = self._layout()
            if self.status not in TERMINAL_STATUSES:
                self.layout = layout  # a finished order (read by REST) lays it out per read, keeping nothing
        return _new_tuple(
            OrderSnapshot,
            (
                self.status,
                self.filled_qty,
                self.avg_price,
                self.updated_at,
                self.filled_at,
                self.expired_at,
                self.canceled_at,
                self.failed_at,
                self.replaced_at,
                self.replaced_by,
                layout,
            ),
        )

    def to_order(self, snap: OrderSnapshot | None = None) -> Order:
        """The broker model for this order (as of ``snap``, or now)."""
        s = snap if snap is not None else self.snapshot()
        values = s.layout.copy()
        values["status"] = s.status
        values["filled_qty"] = s.filled_qty
        values["filled_avg_price"] = s.filled_avg_price
        values["updated_at"] = s.updated_at
        values["filled_at"] = s.filled_at
        values["expired_at"] = s.expired_at
        values["canceled_at"] = s.canceled_at
        values["failed_at"] = s.failed_at
        values["replaced_at"] = s.replaced_at
        values["replaced_by"] = s.replaced_by
        return _ORDER(values, {"expires_at": self.expire_at})  # Alpaca's newer field: when a day / GTC order lapses

    def _layout(self) -> dict[str, Any]:
        """Every ``Order`` field in the model's order; the ones that change are placeholders ``to_order`` fills."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "time_in_force": self.time_in_force,
            "status": None,
            "qty": self.qty,
            "notional": self.notional,
            "filled_qty": None,
            "filled_avg_price": None,
            "limit_price": self.limit_price,
            "stop_price": None,
            "order_class": OrderClass.SIMPLE,
            "extended_hours": self.extended_hours,
            "asset_id": self.asset_id,
            "asset_class": AssetClass.US_EQUITY,
            "created_at": self.created_at,
            "updated_at": None,
            "submitted_at": self.submitted_at,
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": self.replaces,
        }
