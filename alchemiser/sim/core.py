"""The simulated exchange core: pure and deterministic given a seed and the instants it is told.

Nothing here reads a clock or does I/O. Every call that depends on time takes ``now``; ``advance(now)`` runs every
scheduled action (acknowledgement, fill, remainder of a partial fill, cancel, expiry at the close) whose time has
come, in time order, each at its own scheduled instant. The protocol face (``server.py``) and the in-process face
(``inprocess.py``) both drive it from an injected clock.

Semantics (after Alpaca paper trading, ``alpaca-protocol.md`` §2 and §6 item 12):

* one cash account (``margin_multiplier`` 1 by default: buying power = cash − cash held by open buys);
* market and limit orders, ``day`` (any qty/notional), ``gtc`` (whole qty; expires after 90 days) or
  ``ioc``/``fok`` (whole qty; fill at once — IOC what it can — and cancel the rest); qty xor notional;
* lifecycle ``pending_new → new → partial_fill* → fill``; ``pending_cancel → canceled``; ``expired`` at the close
  for day orders; ``replaced`` (old) + ``pending_new``/``new`` (new) on replace; every step is a ``TradeUpdate``;
* a market order fills at the ask (buy) / bid (sell) moved by ``slippage_bps``; a limit order fills when
  marketable, at the better of its limit and the touch — the first marketable instant is found exactly on the
  piecewise-linear intraday path; ``partial_fill_rate`` of fills (default 10 %) are partial, the rest follows
  ``partial_fill_delay`` seconds later at the then-current price;
* rejects carry Alpaca's HTTP status, code and message (the checks live in ``rules.py``).

``SimExchange`` is the face and the wiring; the parts: ``ledger`` (cash and positions: the account state),
``order_book`` (orders, open holds, fills), ``lifecycle`` (an order's steps), ``matching`` (fill price and size),
``schedule`` (steps due later), ``events.EventEmitter`` (trade updates to listeners), ``rng`` (the seeded source).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from alchemiser.broker.activities import Announcement, NonTradeActivity
from alchemiser.broker.enums import OrderSide, OrderStatus, TimeInForce, TradeEvent
from alchemiser.broker.models import (
    NEW_YORK,
    Account,
    Asset,
    CalendarDay,
    FillActivity,
    MarketClock,
    Order,
    OrderRequest,
    Position,
    Quote,
)
from alchemiser.clock import ensure_utc
from alchemiser.errors import (
    DataError,
    DuplicateClientOrderIdError,
    NotCancelableError,
    OrderRejectedError,
)
from alchemiser.sim.assets import AssetBook
from alchemiser.sim.calendar import SessionCalendar
from alchemiser.sim.corporate_actions import CorporateActions
from alchemiser.sim.events import EventEmitter, EventListener
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.ledger import Ledger
from alchemiser.sim.lifecycle import OrderLifecycle
from alchemiser.sim.market import QuoteModel
from alchemiser.sim.matching import buy_cost
from alchemiser.sim.order_book import OrderBook
from alchemiser.sim.orders import OrderRecord
from alchemiser.sim.rng import SimRandom
from alchemiser.sim.rules import (
    order_expiry,
    reject,
    require_buying_power,
    shares_to_hold,
    validate_order_shape,
)
from alchemiser.sim.schedule import ActionSchedule


def _utc(moment: datetime) -> datetime:
    """``ensure_utc`` without the conversion when the instant is already in UTC (the hot path)."""
    return moment if moment.tzinfo is UTC else ensure_utc(moment)


class SimExchange:
    """The exchange: one account, its positions and orders, driven by explicit instants."""

    def __init__(
        self,
        quotes: QuoteModel,
        calendar: SessionCalendar,
        assets: AssetBook,
        config: ExchangeConfig | None = None,
        *,
        created_at: datetime,
        corporate: CorporateActions | None = None,
    ) -> None:
        self.quotes = quotes
        self.calendar = calendar
        self.assets = assets
        self._config = config or ExchangeConfig()
        self._rng = SimRandom(self._config.seed)
        self.created_at = ensure_utc(created_at)
        self.last_time = self.created_at
        self._quote_cache: dict[str, Quote] = {}
        self._quote_cache_at: datetime | None = None
        self.ledger = Ledger(
            self._config,
            account_id=self._rng.uuid4(),
            created_at=self.created_at,
            quote=self.quote,
            quotes=quotes,
            calendar=calendar,
            assets=assets,
        )
        self.book = OrderBook()
        self._schedule = ActionSchedule()
        self._events = EventEmitter(self.ledger.qty)
        self._lifecycle = OrderLifecycle(
            self._config,
            calendar=calendar,
            quotes=quotes,
            quote=self.quote,
            rng=self._rng,
            book=self.book,
            ledger=self.ledger,
            schedule=self._schedule,
            events=self._events,
        )
        self.corporate = corporate or CorporateActions((), calendar)
        quotes.adjuster = self.corporate

    @property
    def config(self) -> ExchangeConfig:
        return self._config

    @config.setter
    def config(self, value: ExchangeConfig) -> None:
        """New knobs for a live exchange (tests change them mid-order): every part reads them from now on."""
        self._config = self.ledger.config = self._lifecycle.config = value

    @property
    def account_id(self) -> str:
        return self.ledger.account_id

    @property
    def rng(self) -> SimRandom:
        """The exchange's one seeded random source (saved and restored with its state)."""
        return self._rng

    def requeue_open_orders(self, now: datetime) -> None:
        """After a restore: queue the next step of every open order, and its expiry."""
        now = _utc(now)
        for rec in self.book.open_records():
            if rec.expire_at is not None:
                self._schedule.add(rec, rec.expire_at, "expire")
            if rec.status is OrderStatus.ACCEPTED:
                self._schedule.add(rec, self.calendar.next_open(now), "ack")
            elif rec.status is OrderStatus.PENDING_NEW:
                self._schedule.add(rec, now, "ack")
            elif rec.status is OrderStatus.PENDING_CANCEL:
                self._schedule.add(rec, now, "cancel")
            else:
                self._schedule.add(rec, now, "fill")

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns an unsubscribe function."""
        return self._events.subscribe(listener)

    def quote(self, symbol: str, at: datetime) -> Quote:
        """The quote at ``at`` (cached per instant; raises ``DataError`` when the symbol has no bar)."""
        if at != self._quote_cache_at:
            self._quote_cache.clear()
            self._quote_cache_at = at
        cached = self._quote_cache.get(symbol)
        if cached is None:
            cached = self.quotes.quote(symbol, at)
            self._quote_cache[symbol] = cached
        return cached

    # ---- time -----------------------------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """When the next scheduled action or corporate action is due (``None`` if nothing is scheduled)."""
        dues = [d for d in (self._schedule.next_due(), self.corporate.next_due()) if d is not None]
        return min(dues) if dues else None

    def _run_corporate_actions(self, now: datetime) -> int:
        """Corporate actions due by ``now`` and not after the next order step (they run first on a tie)."""
        ran = 0
        while (due := self.corporate.next_due()) is not None and due <= now:
            step = self._schedule.next_due()
            if step is not None and step < due:
                break
            self._quote_cache.clear()
            self._quote_cache_at = None
            self.corporate.run_next(
                ledger=self.ledger,
                book=self.book,
                assets=self.assets,
                cancel=self._lifecycle.finish_cancel,
                price=lambda symbol, at: self.quote(symbol, at).mid,
            )
            self.last_time = max(self.last_time, due)
            ran += 1
        return ran

    def advance(self, now: datetime) -> int:
        """Run every action due at or before ``now``, in time order (corporate actions first on a tie)."""
        now = _utc(now)
        ran = self._run_corporate_actions(now)
        while (due := self._schedule.pop_due(now)) is not None:
            at, rec, action = due
            self.last_time = max(self.last_time, at)
            self._lifecycle.run(rec, action, at)
            ran += 1 + self._run_corporate_actions(now)
        self.last_time = max(self.last_time, now)
        return ran

    # ---- account & positions --------------------------------------------------------------------------------

    @property
    def cash(self) -> Decimal:
        return self.ledger.cash

    def long_market_value(self, now: datetime) -> Decimal:
        return self.ledger.long_market_value(now)

    def buying_power(self, now: datetime) -> Decimal:
        return self.ledger.buying_power(now, self.book.held_cash())

    def account(self, now: datetime) -> Account:
        return self.ledger.account(now, self.book.held_cash())

    def positions(self, now: datetime) -> list[Position]:
        return self.ledger.positions(now, self.book.held_qty)

    def position(self, symbol: str, now: datetime) -> Position:
        return self.ledger.position(symbol.upper(), now, self.book.held_qty)

    def position_qty(self, symbol: str) -> Decimal:
        return self.ledger.qty(symbol.upper())

    # ---- market info ----------------------------------------------------------------------------------------

    def asset(self, symbol_or_id: str) -> Asset:
        return self.assets.get(symbol_or_id)

    def market_clock(self, now: datetime) -> MarketClock:
        return MarketClock.model_construct(
            timestamp=now,
            is_open=self.calendar.is_open(now),
            next_open=self.calendar.next_open(now),
            next_close=self.calendar.next_close(now),
        )

    def trading_calendar(self, start: date, end: date) -> list[CalendarDay]:
        return self.calendar.sessions(start, end)

    # ---- submit ---------------------------------------------------------------------------------------------

    def submit(self, request: OrderRequest, now: datetime) -> Order:
        """Accept an order (status ``pending_new``, or ``accepted`` when queued) or raise the reject Alpaca gives.

        Raises ``DuplicateClientOrderIdError``, ``NotFractionableError``, ``InsufficientBuyingPowerError`` or
        ``OrderRejectedError`` (each with ``status_code``/``code`` and the message as Alpaca words it).
        """
        now = _utc(now)
        self.advance(now)
        rec = self._admit(request, now)
        return self._lifecycle.route(rec, now)

    def _admit(self, request: OrderRequest, now: datetime, *, replaces: str | None = None) -> OrderRecord:
        """Validate, hold funds and register the order, emitting ``pending_new`` (``accepted`` when queued)."""
        symbol = request.symbol.upper()
        if self.book.has_client_order_id(request.client_order_id):
            raise reject(DuplicateClientOrderIdError, 422, 40010001, "client_order_id must be unique")
        asset = self.assets.find(symbol)
        if asset is None:
            raise reject(OrderRejectedError, 422, 42210000, f'asset "{symbol}" not found')
        if not asset.tradable:
            raise reject(OrderRejectedError, 422, 42210000, f"asset {symbol} is not tradable")
        validate_order_shape(request, asset)
        queued = False
        if not self.calendar.is_open(now):
            if self.config.closed_market == "reject" or request.time_in_force is not TimeInForce.DAY:
                raise reject(OrderRejectedError, 403, 40310000, "market is closed")
            queued = True
        try:
            quote = self.quote(symbol, now)
        except DataError as err:
            raise reject(OrderRejectedError, 422, 42210000, f"no quote available for {symbol}") from err
        reserved_cash, reserved_qty = self._holds(request, quote, now)
        rec = OrderRecord(
            id=self._rng.uuid4(),
            seq=self.book.next_seq(),
            client_order_id=request.client_order_id,
            symbol=symbol,
            asset_id=asset.id,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            qty=request.qty,
            notional=request.notional,
            limit_price=request.limit_price,
            extended_hours=request.extended_hours,
            status=OrderStatus.ACCEPTED if queued else OrderStatus.PENDING_NEW,
            now=now,
            replaces=replaces,
        )
        rec.reserved_cash, rec.reserved_qty = reserved_cash, reserved_qty
        self.book.add(rec)
        rec.expire_at = order_expiry(rec.time_in_force, now, self.calendar)
        self._schedule.add(rec, rec.expire_at, "expire")
        self._events.emit(rec, TradeEvent.ACCEPTED if queued else TradeEvent.PENDING_NEW, now)
        return rec

    def _holds(self, request: OrderRequest, quote: Quote, now: datetime) -> tuple[Decimal, Decimal]:
        """(cash to hold, shares to hold) for the order, or the buying-power / qty reject."""
        if request.side is OrderSide.BUY:
            cost = buy_cost(request, quote, self.config.slippage_bps)
            require_buying_power(cost, self.buying_power(now))
            return cost, Decimal(0)
        symbol = quote.symbol
        return Decimal(0), shares_to_hold(request, quote, self.ledger.qty(symbol), self.book.held_qty(symbol))

    # ---- cancel / replace -----------------------------------------------------------------------------------

    def cancel(self, order_id: str, now: datetime) -> None:
        """Request a cancel (Alpaca's 204): ``pending_cancel`` now, ``canceled`` after ``cancel_delay``."""
        now = _utc(now)
        self.advance(now)
        rec = self.book.record(order_id)
        if rec.status.is_terminal or rec.status is OrderStatus.PENDING_CANCEL:
            raise NotCancelableError("order is not cancelable", status_code=422, code=42210000)
        rec.status = OrderStatus.PENDING_CANCEL
        rec.updated_at = now
        rec.token += 1
        self._events.emit(rec, TradeEvent.PENDING_CANCEL, now)
        self._schedule.add(rec, now + timedelta(seconds=self.config.cancel_delay), "cancel")
        if rec.expire_at is not None and rec.expire_at > now:
            self._schedule.add(rec, rec.expire_at, "expire")

    def cancel_all(self, now: datetime) -> list[tuple[str, int]]:
        """Cancel every open order: [(order id, HTTP status)] like Alpaca's 207 body."""
        self.advance(now)
        results: list[tuple[str, int]] = []
        for rec in self.book.open_records():
            try:
                self.cancel(rec.id, now)
                results.append((rec.id, 200))
            except NotCancelableError:
                results.append((rec.id, 422))
        return results

    def replace(
        self,
        order_id: str,
        now: datetime,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Replace an open order: the old one becomes ``replaced``, a new one (new id, ``replaces``) is placed."""
        now = _utc(now)
        self.advance(now)
        old = self.book.record(order_id)
        if old.status.is_terminal or old.status is OrderStatus.PENDING_CANCEL:
            raise NotCancelableError("order is not replaceable", status_code=422, code=42210000)
        if old.notional is not None:
            raise reject(OrderRejectedError, 422, 42210000, "notional orders cannot be replaced")
        new_qty = qty if qty is not None else (old.qty or Decimal(0)) - old.filled_qty
        request = OrderRequest.model_construct(
            symbol=old.symbol,
            side=old.side,
            type=old.type,
            time_in_force=time_in_force or old.time_in_force,
            client_order_id=client_order_id or self._rng.uuid4(),
            qty=new_qty,
            notional=None,
            limit_price=limit_price if limit_price is not None else old.limit_price,
            extended_hours=old.extended_hours,
        )
        # Release the old order's hold while checking the new one (Alpaca holds the larger of the two).
        saved = (old.reserved_cash, old.reserved_qty)
        old.reserved_cash, old.reserved_qty = Decimal(0), Decimal(0)
        try:
            new_rec = self._admit(request, now, replaces=old.id)
        except OrderRejectedError:
            old.reserved_cash, old.reserved_qty = saved
            raise
        old.replaced_at = now
        old.replaced_by = new_rec.id
        self.book.finalize(old, OrderStatus.REPLACED, now)
        self._events.emit(old, TradeEvent.REPLACED, now)
        self._lifecycle.route(new_rec, now)
        return new_rec.to_order()

    # ---- queries --------------------------------------------------------------------------------------------

    def get_order(self, order_id: str) -> Order:
        return self.book.get_order(order_id)

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        return self.book.get_order_by_client_id(client_order_id)

    def list_orders(
        self,
        *,
        status: Literal["open", "closed", "all"] = "open",
        after: datetime | None = None,
        until: datetime | None = None,
        symbols: Sequence[str] | None = None,
        side: OrderSide | None = None,
        limit: int = 50,
        direction: Literal["asc", "desc"] = "desc",
    ) -> list[Order]:
        return self.book.list_orders(
            status=status, after=after, until=until, symbols=symbols, side=side, limit=limit, direction=direction
        )

    def fill_activities(
        self,
        *,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: Literal["asc", "desc"] = "desc",
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> list[FillActivity]:
        return self.book.fill_activities(
            after=after, until=until, direction=direction, page_size=page_size, page_token=page_token
        )

    def non_trade_activities(
        self, *, after: date | None = None, types: frozenset[str] | None = None
    ) -> list[NonTradeActivity]:
        """Corporate-action and fee activities posted so far (dated after ``after``), oldest first."""
        fees = [
            a
            for a in self._lifecycle.fees.activities
            if (after is None or a.date > after) and (types is None or a.activity_type in types)
        ]
        corporate = self.corporate.list_activities(after=after, types=types)
        return sorted([*corporate, *fees], key=lambda a: a.date) if fees else corporate

    def announcements(self, now: datetime, since: date, until: date, symbol: str | None = None) -> list[Announcement]:
        return self.corporate.announcements(now.astimezone(NEW_YORK).date(), since, until, symbol)

    def fills_with_mids(self) -> list[tuple[FillActivity, Decimal]]:
        """Every fill with the mid price at its instant (for cost accounting and tests)."""
        return self.book.fills_with_mids()

    @property
    def order_count(self) -> int:
        return len(self.book.records)

    @property
    def event_count(self) -> int:
        """Trade updates emitted so far (whether or not anyone listened)."""
        return self._events.emitted
