"""A small, faithful scripted broker for deterministic execution scenarios.

It follows Alpaca's rules that matter to execution: client order ids unique forever (a resubmit gets
``DuplicateClientOrderIdError``), the ``pending_new → new → partial_fill* → fill`` / ``canceled`` event sequence with
cumulative ``filled_qty`` on the order, cancel of a finished order → ``NotCancelableError``, lookups by client id,
and account/positions updated by fills. What happens to each order is scripted per test (``behaviour``).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from alchemiser.broker.enums import OrderSide, OrderStatus, OrderType, TradeEvent
from alchemiser.broker.models import (
    Account,
    Asset,
    Bar,
    CalendarDay,
    FillActivity,
    MarketClock,
    Order,
    OrderRequest,
    Position,
    Quote,
    SubmitResult,
    SubmitStatus,
    TradeUpdate,
)
from alchemiser.clock import Clock
from alchemiser.errors import (
    BrokerTransientError,
    DuplicateClientOrderIdError,
    NotCancelableError,
    NotFoundError,
    OrderRejectedError,
    TransientError,
)

STEP = re.compile(r"-([bs])(\d+)-[0-9a-f]{10}$")


def step_of(client_order_id: str) -> int:
    match = STEP.search(client_order_id)
    assert match, client_order_id
    return int(match.group(2))


@dataclass
class Behaviour:
    """What the exchange does with one order right after accepting it."""

    fill_fraction: Decimal = Decimal(0)  # of the order's qty, filled at once
    reject: OrderRejectedError | None = None
    fill_on_cancel: bool = False  # cancel race: the order fills before the cancel lands (422 not cancelable)
    ignore_cancel: bool = False  # cancel is accepted (204) but never happens
    reject_after_ack: bool = False  # accepted (pending_new), then a ``rejected`` trade update (asynchronous reject)


Script = Callable[[OrderRequest], Behaviour]


def fill_at_step(step: int, fraction: Decimal = Decimal(1)) -> Script:
    def script(request: OrderRequest) -> Behaviour:
        return Behaviour(fill_fraction=fraction if step_of(request.client_order_id) == step else Decimal(0))

    return script


@dataclass
class FakeFeed:
    queue: asyncio.Queue[TradeUpdate] = field(default_factory=asyncio.Queue)
    dropped: bool = False  # stream down: events are lost
    duplicate: bool = False  # every event delivered twice
    raise_while_dropped: bool = True
    delivered: int = 0

    def push(self, update: TradeUpdate) -> None:
        if self.dropped:
            return
        self.queue.put_nowait(update)
        if self.duplicate:
            self.queue.put_nowait(update)

    async def next_event(self) -> TradeUpdate:
        if self.dropped and self.raise_while_dropped and self.queue.empty():
            await asyncio.sleep(0.01)
            raise BrokerTransientError("trade_updates stream disconnected")
        update = await self.queue.get()
        self.delivered += 1
        return update


class FakeBroker:
    def __init__(
        self,
        clock: Clock,
        *,
        quotes: dict[str, tuple[str, str]],
        cash: Decimal = Decimal(100000),
        positions: dict[str, Decimal] | None = None,
        fractionable: Sequence[str] = (),
        script: Script | None = None,
        market_open: bool = True,
    ) -> None:
        self.clock = clock
        self.feed = FakeFeed()
        self.quotes = {s: (Decimal(b), Decimal(a)) for s, (b, a) in quotes.items()}
        self.cash = cash
        self.positions: dict[str, Decimal] = dict(positions or {})
        self.fractionable = set(fractionable)
        self.script: Script = script or (lambda request: Behaviour(fill_fraction=Decimal(1)))
        self.market_open = market_open
        self.orders: dict[str, Order] = {}
        self.by_coid: dict[str, str] = {}
        self.behaviours: dict[str, Behaviour] = {}
        self.requests: list[OrderRequest] = []
        self.submit_faults: list[str] = []  # "lost_response" (created, then timeout) / "timeout_before" (not created)
        self.lookup_faults: int = 0
        self.fills: list[FillActivity] = []
        self.cancels: list[str] = []
        self.stale_replays: bool = False  # after each fill, replay an older event (out of order)
        self.stale_submit_reply: bool = False  # submit answers with the pending_new snapshot
        self._first_snapshot: dict[str, Order] = {}
        self._ids = itertools.count(1)
        self._exec = itertools.count(1)
        self.history: list[TradeUpdate] = []

    # ------------------------------------------------------------------------------------------- helpers

    def _emit(
        self, event: TradeEvent, order: Order, *, qty: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        update = TradeUpdate(
            event=event,
            order=order,
            execution_id=f"x{next(self._exec)}" if event in (TradeEvent.FILL, TradeEvent.PARTIAL_FILL) else None,
            timestamp=self.clock.now(),
            price=price,
            qty=qty,
            position_qty=self.positions.get(order.symbol, Decimal(0)),
        )
        self.history.append(update)
        self.feed.push(update)

    def _update(self, order: Order, **changes: object) -> Order:
        changes.setdefault("updated_at", self.clock.now() + timedelta(microseconds=len(self.history)))
        new = order.model_copy(update=changes)
        self.orders[new.id] = new
        return new

    def fill(self, order_id: str, qty: Decimal, price: Decimal | None = None) -> Order:
        order = self.orders[order_id]
        if price is None:
            price = order.limit_price if order.limit_price is not None else self._far(order)
        cum = order.filled_qty + qty
        avg = ((order.filled_avg_price or Decimal(0)) * order.filled_qty + price * qty) / cum
        done = order.qty is not None and cum >= order.qty
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        sign = 1 if order.side is OrderSide.BUY else -1
        self.positions[order.symbol] = self.positions.get(order.symbol, Decimal(0)) + sign * qty
        self.cash -= sign * qty * price
        previous = order
        order = self._update(order, filled_qty=cum, filled_avg_price=avg, status=status, filled_at=self.clock.now())
        self.fills.append(
            FillActivity(
                id=f"act{len(self.fills) + 1}",
                order_id=order.id,
                symbol=order.symbol,
                side=order.side,
                qty=qty,
                price=price,
                cum_qty=cum,
                leaves_qty=(order.qty or cum) - cum,
                transaction_time=self.clock.now(),
            )
        )
        self._emit(TradeEvent.FILL if done else TradeEvent.PARTIAL_FILL, order, qty=qty, price=price)
        if self.stale_replays:
            self.feed.push(TradeUpdate(event=TradeEvent.NEW, order=previous, timestamp=self.clock.now()))
        return order

    def _far(self, order: Order) -> Decimal:
        bid, ask = self.quotes[order.symbol]
        return ask if order.side is OrderSide.BUY else bid

    def orders_for(self, symbol: str) -> list[Order]:
        return [o for o in self.orders.values() if o.symbol == symbol]

    # ------------------------------------------------------------------------------------------- Broker

    async def get_account(self) -> Account:
        equity = self.cash + sum(
            (q * (self.quotes[s][0] + self.quotes[s][1]) / 2 for s, q in self.positions.items()), Decimal(0)
        )
        held = sum(
            (
                ((o.qty or Decimal(0)) - o.filled_qty) * (o.limit_price or self._far(o))
                for o in self.orders.values()
                if o.side is OrderSide.BUY and not o.status.is_terminal
            ),
            Decimal(0),
        )
        # like Alpaca: buying power is held back for open buy orders
        return Account(id="fake", cash=self.cash, buying_power=max(self.cash - held, Decimal(0)), equity=equity)

    async def list_positions(self) -> list[Position]:
        out = []
        for symbol, qty in sorted(self.positions.items()):
            if qty == 0:
                continue
            bid, ask = self.quotes[symbol]
            mid = (bid + ask) / 2
            out.append(Position(symbol=symbol, qty=qty, current_price=mid, market_value=qty * mid))
        return out

    async def get_asset(self, symbol: str) -> Asset:
        if symbol not in self.quotes:
            raise NotFoundError(f"asset not found for {symbol}", status_code=404)
        return Asset(id=symbol, symbol=symbol, fractionable=symbol in self.fractionable)

    async def submit_order(self, request: OrderRequest) -> SubmitResult:
        await asyncio.sleep(0)
        fault = self.submit_faults.pop(0) if self.submit_faults else None
        if fault == "timeout_before":
            raise BrokerTransientError("timed out before the order reached the broker")
        if request.client_order_id in self.by_coid:
            raise DuplicateClientOrderIdError("client_order_id must be unique", status_code=422)
        self.requests.append(request)
        behaviour = self.script(request)
        if behaviour.reject is not None:
            raise behaviour.reject
        now = self.clock.now()
        order = Order(
            id=f"ord-{next(self._ids)}",
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            status=OrderStatus.PENDING_NEW,
            qty=request.qty,
            limit_price=request.limit_price,
            created_at=now,
            submitted_at=now,
            updated_at=now,
        )
        self.orders[order.id] = order
        self.by_coid[request.client_order_id] = order.id
        self.behaviours[order.id] = behaviour
        self._first_snapshot[order.id] = order
        self._emit(TradeEvent.PENDING_NEW, order)
        if behaviour.reject_after_ack:
            order = self._update(order, status=OrderStatus.REJECTED)
            self._emit(TradeEvent.REJECTED, order)
            return SubmitResult(status=SubmitStatus.SUBMITTED, client_order_id=request.client_order_id, order=order)
        order = self._update(order, status=OrderStatus.NEW)
        self._emit(TradeEvent.NEW, order)
        fill_qty = (request.qty or Decimal(0)) * behaviour.fill_fraction
        if request.type is OrderType.MARKET and behaviour.fill_fraction == 0:
            fill_qty = request.qty or Decimal(0)  # market orders always fill here unless scripted partial
        if fill_qty > 0:
            order = self.fill(order.id, fill_qty)
        if fault == "lost_response":
            raise BrokerTransientError("read timeout: the response was lost")
        if self.stale_submit_reply:
            # the reply carries the order as first accepted (pending_new), whatever happened since
            order = self._first_snapshot[order.id]
        return SubmitResult(status=SubmitStatus.SUBMITTED, client_order_id=request.client_order_id, order=order)

    async def get_order(self, order_id: str) -> Order:
        if order_id not in self.orders:
            raise NotFoundError(f"order {order_id} not found", status_code=404)
        return self.orders[order_id]

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        if self.lookup_faults > 0:
            self.lookup_faults -= 1
            raise BrokerTransientError("503 on lookup")
        if client_order_id not in self.by_coid:
            raise NotFoundError(f"order {client_order_id} not found", status_code=404)
        return self.orders[self.by_coid[client_order_id]]

    async def cancel_order(self, order_id: str) -> None:
        self.cancels.append(order_id)
        order = self.orders[order_id]
        behaviour = self.behaviours.get(order_id, Behaviour())
        if order.status.is_terminal:
            raise NotCancelableError("order is not cancelable", status_code=422)
        if behaviour.fill_on_cancel:
            self.fill(order_id, (order.qty or Decimal(0)) - order.filled_qty)
            raise NotCancelableError("order is not cancelable", status_code=422)
        if behaviour.ignore_cancel:
            return
        order = self._update(order, status=OrderStatus.PENDING_CANCEL)
        self._emit(TradeEvent.PENDING_CANCEL, order)
        order = self._update(order, status=OrderStatus.CANCELED, canceled_at=self.clock.now())
        self._emit(TradeEvent.CANCELED, order)

    async def list_orders(
        self,
        *,
        status: str = "all",
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int = 500,
    ) -> list[Order]:
        del after, limit
        out = sorted(self.orders.values(), key=lambda o: o.created_at)
        if status == "open":
            out = [o for o in out if not o.status.is_terminal]
        elif status == "closed":
            out = [o for o in out if o.status.is_terminal]
        if symbols:
            out = [o for o in out if o.symbol in symbols]
        return out

    async def list_fill_activities(self, *, after: datetime | None = None) -> list[FillActivity]:
        del after
        return list(self.fills)

    async def get_clock(self) -> MarketClock:
        now = self.clock.now()
        return MarketClock(
            timestamp=now,
            is_open=self.market_open,
            next_open=now + timedelta(hours=17),
            next_close=now + timedelta(hours=3),
        )

    async def get_calendar(self, start: date, end: date) -> list[CalendarDay]:
        del start, end
        return []

    async def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        now = self.clock.now()
        return {
            s: Quote(symbol=s, t=now, bp=self.quotes[s][0], ap=self.quotes[s][1]) for s in symbols if s in self.quotes
        }

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        del symbols, start, end
        return {}


__all__ = ["Behaviour", "FakeBroker", "FakeFeed", "TransientError", "fill_at_step", "step_of"]
