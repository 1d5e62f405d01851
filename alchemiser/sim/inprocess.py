"""The in-process face of the simulated exchange: the ``Broker`` protocol on the core, with no sockets.

* ``SimBroker`` — implements ``alchemiser.broker.Broker``; every call first brings the exchange up to the injected
  clock's time, so fills and expiries happen as that clock advances.
* ``SimTradeUpdateFeed`` — implements ``TradeUpdateFeed`` from the exchange's events.
* ``DailyFillModel`` — what a daily backtest needs cheaply: "execute these orders at instant t" returning the final
  orders, and the quote at t (the same quote model and fill rules as the live sim).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from alchemiser.broker.activities import Announcement, NonTradeActivity
from alchemiser.broker.enums import OrderSide
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
from alchemiser.broker.protocol import OrderQueryStatus
from alchemiser.clock import Clock, ensure_utc
from alchemiser.errors import DataError, OrderRejectedError
from alchemiser.sim.core import SimExchange
from alchemiser.sim.events import ExchangeEvent
from alchemiser.sim.fastmodel import Trusted

_ALL = 1 << 62
_SUBMIT_RESULT = Trusted(SubmitResult)


class SimBroker:
    """``Broker`` on the simulated exchange core, driven by ``clock``."""

    def __init__(self, exchange: SimExchange, clock: Clock) -> None:
        self.exchange = exchange
        self.clock = clock

    def _now(self) -> datetime:
        now = self.clock.now()
        self.exchange.advance(now)
        return now

    async def get_account(self) -> Account:
        return self.exchange.account(self._now())

    async def list_positions(self) -> list[Position]:
        return self.exchange.positions(self._now())

    async def get_asset(self, symbol: str) -> Asset:
        return self.exchange.asset(symbol)

    async def submit_order(self, request: OrderRequest) -> SubmitResult:
        order = self.exchange.submit(request, self._now())
        return _SUBMIT_RESULT(
            {
                "status": SubmitStatus.SUBMITTED,
                "client_order_id": request.client_order_id,
                "order": order,
                "detail": "",
            },
        )

    async def get_order(self, order_id: str) -> Order:
        self._now()
        return self.exchange.get_order(order_id)

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        self._now()
        return self.exchange.get_order_by_client_id(client_order_id)

    async def cancel_order(self, order_id: str) -> None:
        self.exchange.cancel(order_id, self._now())

    async def list_orders(
        self,
        *,
        status: OrderQueryStatus = "all",
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int = 500,
    ) -> list[Order]:
        del limit  # in-process there are no pages: return the whole range
        self._now()
        return self.exchange.list_orders(status=status, after=after, symbols=symbols, limit=_ALL, direction="asc")

    async def list_fill_activities(self, *, after: datetime | None = None) -> list[FillActivity]:
        self._now()
        return self.exchange.fill_activities(after=after, direction="asc")

    async def list_non_trade_activities(self, *, after: date | None = None) -> list[NonTradeActivity]:
        self._now()
        return self.exchange.non_trade_activities(after=None if after is None else after - timedelta(days=1))

    async def list_announcements(self, symbols: Sequence[str], since: date, until: date) -> list[Announcement]:
        now = self._now()
        found = {a.id: a for s in symbols for a in self.exchange.announcements(now, since, until, s)}
        return sorted(found.values(), key=lambda a: (a.effective_date or since, a.id))

    async def get_clock(self) -> MarketClock:
        return self.exchange.market_clock(self._now())

    async def get_calendar(self, start: date, end: date) -> list[CalendarDay]:
        return self.exchange.trading_calendar(start, end)

    async def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        now = self._now()
        quotes: dict[str, Quote] = {}
        for symbol in symbols:
            try:
                quotes[symbol] = self.exchange.quote(symbol.upper(), now)
            except DataError:
                continue  # like Alpaca: symbols without data are absent from the map
        return quotes

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        now = self._now()
        out: dict[str, list[Bar]] = {}
        for symbol in symbols:
            bars = self.exchange.quotes.daily_bars(symbol.upper(), start, end, now)
            if bars:
                out[symbol] = [b.to_bar() for b in bars]
        return out


class SimTradeUpdateFeed:
    """``TradeUpdateFeed`` over the exchange's events (every event from construction on, in order).

    Events wait as the exchange's cheap tuples in a deque (no ``asyncio.Queue`` bookkeeping per event: the exchange
    calls the listener on the loop's thread); the ``TradeUpdate`` model is built when a consumer takes the event.
    """

    def __init__(self, exchange: SimExchange) -> None:
        self._events: deque[ExchangeEvent] = deque()
        self._waiters: list[asyncio.Future[None]] = []
        self._unsubscribe = exchange.subscribe(self._push)

    def _push(self, event: ExchangeEvent) -> None:
        self._events.append(event)
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def next_event(self) -> TradeUpdate:
        while not self._events:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)  # cancelled while waiting
        return self._events.popleft().to_update()

    def pending(self) -> int:
        return len(self._events)

    def drain(self) -> list[TradeUpdate]:
        """Every event ready now, without waiting."""
        events = self._events
        out = [event.to_update() for event in events]
        events.clear()
        return out

    def close(self) -> None:
        self._unsubscribe()


class DailyFillModel:
    """Execute orders at a chosen instant of a session with the exchange's quote model and fill rules.

    ``execute(requests, at)`` submits each request at ``at`` (sells first if asked), runs the exchange until each
    order is terminal or ``settle`` seconds have passed (partial fills complete after ``partial_fill_delay``), and
    returns the placed orders in request order and the rejects (``OrderRejectedError``) separately.
    """

    def __init__(self, exchange: SimExchange, *, settle_seconds: float = 60.0) -> None:
        self.exchange = exchange
        self.settle = timedelta(seconds=settle_seconds)

    def quote(self, symbol: str, at: datetime) -> Quote:
        return self.exchange.quote(symbol.upper(), ensure_utc(at))

    def expected_price(self, symbol: str, side: OrderSide, at: datetime) -> Decimal:
        """What a market order would pay (buy) or receive (sell) at ``at``, before partial fills."""
        quote = self.quote(symbol, at)
        slip = self.exchange.config.slippage_bps / Decimal(10_000)
        if side is OrderSide.BUY:
            return quote.ask_price * (1 + slip)
        return quote.bid_price * (1 - slip)

    def execute(self, requests: Sequence[OrderRequest], at: datetime) -> tuple[list[Order], list[OrderRejectedError]]:
        at = ensure_utc(at)
        self.exchange.advance(at)
        placed: list[Order] = []
        errors: list[OrderRejectedError] = []
        for request in requests:
            try:
                placed.append(self.exchange.submit(request, at))
            except OrderRejectedError as err:
                errors.append(err)
        self.exchange.advance(at)
        deadline = at + self.settle
        while True:
            due = self.exchange.next_due()
            if due is None or due > deadline:
                break
            if all(self.exchange.get_order(o.id).status.is_terminal for o in placed):
                break
            self.exchange.advance(due)
        return [self.exchange.get_order(o.id) for o in placed], errors
