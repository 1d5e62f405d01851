"""REST reconciliation after every (re)connect of the trade_updates stream: what the stream may have missed.

``synthesize_events`` is pure: orders + fill activities → synthetic ``TradeUpdate``s (``synthetic=True``), oldest
first, which go through the same deduplication as stream events. ``RestReconciler`` gathers the inputs through any
``Broker`` (so it works against Alpaca and the simulated exchange alike).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from alchemiser.broker.enums import OrderStatus, TradeEvent
from alchemiser.broker.models import FillActivity, Order, TradeUpdate
from alchemiser.broker.protocol import Broker
from alchemiser.errors import NotFoundError
from alchemiser.logging import get_logger

log = get_logger("alpaca_reconcile")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FILLED_STATES = frozenset({OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED})
# Order statuses that carry no event worth re-reporting (bracket legs waiting, internal review states).
_NO_EVENT = frozenset({TradeEvent.UNKNOWN})


def execution_id_of(activity: FillActivity) -> str:
    """Alpaca's activity ids look like ``20190524113406977::<uuid>``; the uuid part identifies the execution."""
    _, sep, tail = activity.id.partition("::")
    return tail if sep and tail else activity.id


def synthesize_events(orders: Iterable[Order], fills: Iterable[FillActivity]) -> list[TradeUpdate]:
    """Synthetic events describing the given orders' current state and the given fills, oldest first.

    Fill activities become ``fill``/``partial_fill`` events whose order snapshot carries the cumulative quantity
    at that fill. A filled order without a matching activity becomes one event from its snapshot (``qty`` unknown,
    ``price`` = average). Every other status becomes the event of the same name.
    """
    by_id = {order.id: order for order in orders}
    events: list[tuple[datetime, int, TradeUpdate]] = []
    orders_with_fills: set[str] = set()
    for activity in sorted(fills, key=lambda f: f.transaction_time):
        order = by_id.get(activity.order_id)
        if order is None:
            log.warning("reconcile_fill_without_order", order_id=activity.order_id, activity_id=activity.id)
            continue
        orders_with_fills.add(order.id)
        complete = activity.leaves_qty == 0
        snapshot = order.model_copy(
            update={
                "filled_qty": activity.cum_qty,
                "status": OrderStatus.FILLED if complete else OrderStatus.PARTIALLY_FILLED,
                "filled_avg_price": order.filled_avg_price if activity.cum_qty == order.filled_qty else None,
                "updated_at": activity.transaction_time,
            }
        )
        update = TradeUpdate(
            event=TradeEvent.FILL if complete else TradeEvent.PARTIAL_FILL,
            order=snapshot,
            execution_id=execution_id_of(activity),
            timestamp=activity.transaction_time,
            price=activity.price,
            qty=activity.qty,
            synthetic=True,
        )
        events.append((activity.transaction_time, 1, update))
    for order in by_id.values():
        moment = order.updated_at or order.submitted_at or order.created_at or _EPOCH
        if order.status in _FILLED_STATES:
            if order.id in orders_with_fills or order.filled_qty <= Decimal(0):
                continue
            event = TradeEvent.FILL if order.status is OrderStatus.FILLED else TradeEvent.PARTIAL_FILL
            update = TradeUpdate(
                event=event, order=order, timestamp=moment, price=order.filled_avg_price, synthetic=True
            )
            events.append((moment, 1, update))
            continue
        event = TradeEvent(order.status.value)
        if event in _NO_EVENT:
            continue
        events.append((moment, 2, TradeUpdate(event=event, order=order, timestamp=moment, synthetic=True)))
    events.sort(key=lambda item: (item[0], item[1]))
    return [update for _, _, update in events]


class RestReconciler:
    """Reads, through a ``Broker``, every order that may have changed since ``since`` and the fills since then."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def __call__(self, since: datetime, open_order_ids: frozenset[str]) -> list[TradeUpdate]:
        orders: dict[str, Order] = {}
        for order in await self._broker.list_orders(status="all", after=since):
            orders[order.id] = order
        for order in await self._broker.list_orders(status="open"):
            orders[order.id] = order
        fills = await self._broker.list_fill_activities(after=since)
        wanted = (set(open_order_ids) | {fill.order_id for fill in fills}) - orders.keys()
        for order_id in sorted(wanted):
            try:
                orders[order_id] = await self._broker.get_order(order_id)
            except NotFoundError:
                log.warning("reconcile_order_not_found", order_id=order_id)
        return synthesize_events(orders.values(), fills)
