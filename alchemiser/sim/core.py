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
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from alchemiser.broker.enums import OrderSide, OrderStatus, OrderType, PositionSide, TimeInForce, TradeEvent
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
    InsufficientBuyingPowerError,
    NotCancelableError,
    NotFoundError,
    OrderRejectedError,
)
from alchemiser.sim.assets import AssetBook
from alchemiser.sim.calendar import SessionCalendar
from alchemiser.sim.events import EventListener, ExchangeEvent, FillRecord
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.market import QuoteModel, round_price_down, round_price_up
from alchemiser.sim.orders import TERMINAL_STATUSES, OrderRecord
from alchemiser.sim.rules import IMMEDIATE_TIF, QTY_QUANTUM, fmt_decimal, need, reject, validate_order_shape

_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # version nibble and variant bits
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant
_ONE = Decimal(1)
_BPS = Decimal(10_000)
_FILL_EVENTS = frozenset((TradeEvent.FILL, TradeEvent.PARTIAL_FILL))
_new_event = tuple.__new__  # NamedTuple construction without its Python-level __new__ (the hot path)

Action = Literal["ack", "fill", "cancel", "expire"]
GTC_DAYS = 90
GTC_EXPIRY_TIME = time(16, 15)


@dataclass(slots=True)
class _Holding:
    qty: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # cost basis of the shares held


@dataclass(slots=True)
class _Schedule:
    heap: list[tuple[datetime, int, str, int, Action]] = field(default_factory=list)
    counter: int = 0


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
    ) -> None:
        self.quotes = quotes
        self.calendar = calendar
        self.assets = assets
        self.config = config or ExchangeConfig()
        self._rng = random.Random(self.config.seed)  # noqa: S311 - simulation, not security
        self.account_id = self._uuid()
        self.created_at = ensure_utc(created_at)
        self.cash = self.config.initial_cash
        self._holdings: dict[str, _Holding] = {}
        self._orders: dict[str, OrderRecord] = {}
        self._by_client: dict[str, OrderRecord] = {}
        self._order_list: list[OrderRecord] = []  # in submission order
        self._open: dict[str, OrderRecord] = {}  # not yet terminal, in submission order
        self._fills: list[FillRecord] = []
        self._schedule = _Schedule()
        self._listeners: tuple[EventListener, ...] = ()  # replaced, never mutated, so emitting can iterate it
        self._event_seq = 0
        self._order_seq = 0
        self.last_time = self.created_at
        self._quote_cache: dict[str, Quote] = {}
        self._quote_cache_at: datetime | None = None

    # ---- infrastructure -------------------------------------------------------------------------------------

    def _uuid(self) -> str:
        """A version-4 UUID string from the seeded RNG (same text as ``uuid.UUID(int=..., version=4)``)."""
        bits = (self._rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns an unsubscribe function."""
        self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def _emit(
        self,
        rec: OrderRecord,
        event: TradeEvent,
        at: datetime,
        *,
        price: Decimal | None = None,
        qty: Decimal | None = None,
        execution_id: str | None = None,
    ) -> None:
        self._event_seq += 1
        if not self._listeners:
            if rec.status in TERMINAL_STATUSES:
                rec.layout = None  # the order's last event: its layout is not needed any more
            return  # nobody listens (e.g. a backtest reading orders directly): build nothing
        position_qty = None
        if event in _FILL_EVENTS:
            holding = self._holdings.get(rec.symbol)
            position_qty = holding.qty if holding is not None else Decimal(0)
        snap = rec.snapshot()
        if rec.status in TERMINAL_STATUSES:
            rec.layout = None  # events already taken keep theirs; a later read lays it out again
        record = _new_event(
            ExchangeEvent, (self._event_seq, event, rec, snap, at, execution_id, price, qty, position_qty)
        )
        for listener in self._listeners:
            listener(record)

    def _schedule_action(self, rec: OrderRecord, at: datetime, action: Action) -> None:
        self._schedule.counter += 1
        heapq.heappush(self._schedule.heap, (at, self._schedule.counter, rec.id, rec.token, action))

    def next_due(self) -> datetime | None:
        """When the next scheduled action is due (``None`` if nothing is scheduled)."""
        heap = self._schedule.heap
        while heap:
            at, _, order_id, token, _ = heap[0]
            rec = self._orders.get(order_id)
            if rec is not None and rec.token == token and not rec.status.is_terminal:
                return at
            heapq.heappop(heap)
        return None

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

    def advance(self, now: datetime) -> int:
        """Run every action due at or before ``now``, in time order. Returns how many ran."""
        now = _utc(now)
        ran = 0
        heap = self._schedule.heap
        while heap and heap[0][0] <= now:
            at, _, order_id, token, action = heapq.heappop(heap)
            rec = self._orders.get(order_id)
            if rec is None or rec.token != token or rec.status.is_terminal:
                continue
            self.last_time = max(self.last_time, at)
            self._run(rec, action, at)
            ran += 1
        self.last_time = max(self.last_time, now)
        return ran

    def _run(self, rec: OrderRecord, action: Action, at: datetime) -> None:
        if action == "ack":
            self._acknowledge(rec, at)
        elif action == "fill":
            self._try_fill(rec, at)
        elif action == "cancel":
            self._finish_cancel(rec, at)
        else:
            self._expire(rec, at)

    # ---- account & positions --------------------------------------------------------------------------------

    def _held_cash(self) -> Decimal:
        return sum([o.reserved_cash for o in self._open.values()], Decimal(0))

    def _open_records(self) -> list[OrderRecord]:
        return list(self._open.values())

    def _finalize(self, rec: OrderRecord, status: OrderStatus, at: datetime) -> None:
        """Move ``rec`` to a terminal status: release its holds and drop its scheduled actions."""
        rec.status = status
        rec.updated_at = at
        rec.reserved_cash = Decimal(0)
        rec.reserved_qty = Decimal(0)
        rec.token += 1
        self._open.pop(rec.id, None)

    def _mark(self, symbol: str, now: datetime) -> Decimal:
        try:
            return self.quote(symbol, now).mid
        except DataError:
            holding = self._holdings[symbol]
            return holding.cost / holding.qty if holding.qty else Decimal(0)

    def long_market_value(self, now: datetime) -> Decimal:
        return sum((h.qty * self._mark(s, now) for s, h in self._holdings.items()), Decimal(0))

    def buying_power(self, now: datetime) -> Decimal:
        if self.config.margin_multiplier == 1:
            return max(Decimal(0), self.cash - self._held_cash())
        equity = self.cash + self.long_market_value(now)
        return max(Decimal(0), equity * self.config.margin_multiplier - self.long_market_value(now) - self._held_cash())

    def account(self, now: datetime) -> Account:
        lmv = self.long_market_value(now)
        equity = self.cash + lmv
        bp = self.buying_power(now)
        return Account.model_validate(
            {
                "id": self.account_id,
                "account_number": self.config.account_number,
                "status": "ACTIVE",
                "currency": "USD",
                "cash": self.cash,
                "buying_power": bp,
                "regt_buying_power": bp,
                "non_marginable_buying_power": max(Decimal(0), self.cash - self._held_cash()),
                "equity": equity,
                "portfolio_value": equity,
                "last_equity": equity,
                "long_market_value": lmv,
                "short_market_value": Decimal(0),
                "initial_margin": Decimal(0),
                "maintenance_margin": Decimal(0),
                "sma": Decimal(0),
                "multiplier": str(self.config.margin_multiplier),
                "shorting_enabled": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "trade_suspended_by_user": False,
                "pattern_day_trader": False,
                "daytrade_count": 0,
                "accrued_fees": Decimal(0),
                "created_at": self.created_at,
            }
        )

    def _position(self, symbol: str, holding: _Holding, now: datetime) -> Position:
        asset = self.assets.get(symbol)
        price = self._mark(symbol, now)
        market_value = holding.qty * price
        avg = (holding.cost / holding.qty).quantize(QTY_QUANTUM).normalize() if holding.qty else Decimal(0)
        held = sum((o.reserved_qty for o in self._open_records() if o.symbol == symbol), Decimal(0))
        unrealized = market_value - holding.cost
        return Position.model_validate(
            {
                "asset_id": asset.id,
                "symbol": symbol,
                "exchange": asset.exchange,
                "asset_class": "us_equity",
                "asset_marginable": True,
                "avg_entry_price": avg,
                "qty": holding.qty,
                "qty_available": holding.qty - held,
                "side": PositionSide.LONG.value,
                "market_value": market_value,
                "cost_basis": holding.cost,
                "unrealized_pl": unrealized,
                "unrealized_plpc": (unrealized / holding.cost).quantize(Decimal("0.0001")) if holding.cost else 0,
                "current_price": price,
                "lastday_price": self._lastday_price(symbol, now),
            }
        )

    def _lastday_price(self, symbol: str, now: datetime) -> Decimal | None:
        bars = self.quotes.daily_bars(symbol, now.date() - timedelta(days=10), now.date(), now)
        pos = self.calendar.position(now)
        previous = [b for b in bars if b.session != pos.session]
        return Decimal(repr(previous[-1].close)) if previous else None

    def positions(self, now: datetime) -> list[Position]:
        return [self._position(s, h, now) for s, h in sorted(self._holdings.items())]

    def position(self, symbol: str, now: datetime) -> Position:
        holding = self._holdings.get(symbol.upper())
        if holding is None:
            raise NotFoundError("position does not exist", status_code=404, code=40410000)
        return self._position(symbol.upper(), holding, now)

    def position_qty(self, symbol: str) -> Decimal:
        holding = self._holdings.get(symbol.upper())
        return holding.qty if holding is not None else Decimal(0)

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
        return self._route(rec, now)

    def _admit(self, request: OrderRequest, now: datetime, *, replaces: str | None = None) -> OrderRecord:
        """Validate, hold funds and register the order, emitting ``pending_new`` (``accepted`` when queued)."""
        symbol = request.symbol.upper()
        if request.client_order_id in self._by_client:
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
        reserved_cash, reserved_qty = self._check_funds(request, quote, now)
        self._order_seq += 1
        rec = OrderRecord(
            id=self._uuid(),
            seq=self._order_seq,
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
        self._register(rec, now)
        self._emit(rec, TradeEvent.ACCEPTED if queued else TradeEvent.PENDING_NEW, now)
        return rec

    def _route(self, rec: OrderRecord, now: datetime) -> Order:
        """Send an admitted order on: acknowledge (and try to fill) now, or when due. Returns the POST's answer."""
        answer = rec.to_order()  # pending_new (or accepted), as Alpaca answers the POST
        if rec.status is OrderStatus.ACCEPTED:
            self._schedule_action(rec, self.calendar.next_open(now), "ack")
        elif self.config.ack_delay == 0:
            self._acknowledge(rec, now)  # routed at once: its events follow the pending_new immediately
        else:
            self._schedule_action(rec, now + timedelta(seconds=self.config.ack_delay), "ack")
        return answer

    def _register(self, rec: OrderRecord, now: datetime) -> None:
        self._orders[rec.id] = rec
        self._by_client[rec.client_order_id] = rec
        self._order_list.append(rec)
        self._open[rec.id] = rec
        if rec.time_in_force is TimeInForce.DAY:
            rec.expire_at = self.calendar.next_close(now)
        else:  # gtc: Alpaca cancels it 90 days after creation, at 16:15 New York
            expiry_day = (now + timedelta(days=GTC_DAYS)).astimezone(NEW_YORK).date()
            rec.expire_at = datetime.combine(expiry_day, GTC_EXPIRY_TIME, NEW_YORK).astimezone(UTC)
        self._schedule_action(rec, rec.expire_at, "expire")

    def _estimate_buy_price(self, request: OrderRequest, quote: Quote) -> Decimal:
        if request.type is OrderType.LIMIT and request.limit_price is not None:
            return request.limit_price
        return round_price_up(quote.ask_price * (_ONE + self.config.slippage_bps / _BPS))

    def _check_funds(self, request: OrderRequest, quote: Quote, now: datetime) -> tuple[Decimal, Decimal]:
        """(cash to hold, shares to hold) for the order, or the buying-power / qty reject."""
        if request.side is OrderSide.BUY:
            if request.notional is not None:
                cost = request.notional
            else:
                cost = need(request.qty, "qty") * self._estimate_buy_price(request, quote)
            bp = self.buying_power(now)
            if cost > bp:
                raise reject(
                    InsufficientBuyingPowerError,
                    403,
                    40310000,
                    "insufficient buying power",
                    buying_power=fmt_decimal(bp),
                    cost_basis=fmt_decimal(cost),
                )
            return cost, Decimal(0)
        if request.qty is not None:
            wanted = request.qty
        else:
            wanted = (need(request.notional, "notional") / quote.bid_price).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)
        held = sum([o.reserved_qty for o in self._open.values() if o.symbol == quote.symbol], Decimal(0))
        available = self.position_qty(quote.symbol) - held
        if wanted > available:
            raise reject(
                OrderRejectedError,
                403,
                40310000,
                f"insufficient qty available for order (requested: {fmt_decimal(wanted)}, "
                f"available: {fmt_decimal(available)})",
                available=fmt_decimal(available),
                existing_qty=fmt_decimal(self.position_qty(quote.symbol)),
                held_for_orders=fmt_decimal(held),
                symbol=quote.symbol,
            )
        return Decimal(0), wanted

    # ---- lifecycle ------------------------------------------------------------------------------------------

    def _acknowledge(self, rec: OrderRecord, at: datetime) -> None:
        if rec.status is OrderStatus.ACCEPTED:
            rec.status = OrderStatus.PENDING_NEW
            rec.updated_at = at
            self._emit(rec, TradeEvent.PENDING_NEW, at)
        rate = self.config.reject_after_accept_rate
        if rate > 0 and self._rng.random() < rate:  # no draw when off: seeded runs stay as they were
            rec.failed_at = at
            self._finalize(rec, OrderStatus.REJECTED, at)
            self._emit(rec, TradeEvent.REJECTED, at)
            return
        rec.status = OrderStatus.NEW
        rec.updated_at = at
        self._emit(rec, TradeEvent.NEW, at)
        self._try_fill(rec, at)

    def _fill_price(self, rec: OrderRecord, quote: Quote) -> Decimal | None:
        """The price this order fills at against ``quote`` (``None`` when a limit is not marketable)."""
        slip = self.config.slippage_bps / _BPS
        if rec.side is OrderSide.BUY:
            if rec.type is OrderType.LIMIT:
                limit = need(rec.limit_price, "limit_price")
                return min(limit, quote.ask_price) if quote.ask_price <= limit else None
            return round_price_up(quote.ask_price * (_ONE + slip))
        if rec.type is OrderType.LIMIT:
            limit = need(rec.limit_price, "limit_price")
            return max(limit, quote.bid_price) if quote.bid_price >= limit else None
        return max(round_price_down(quote.bid_price * (_ONE - slip)), Decimal("0.0001"))

    def _try_fill(self, rec: OrderRecord, at: datetime) -> None:
        if rec.status in (OrderStatus.PENDING_CANCEL, OrderStatus.ACCEPTED) or rec.status.is_terminal:
            return
        if not self.calendar.is_open(at):
            if rec.time_in_force is TimeInForce.GTC:
                self._schedule_action(rec, self.calendar.next_open(at), "fill")
            return
        try:
            quote = self.quote(rec.symbol, at)
        except DataError:
            self._schedule_action(rec, self.calendar.next_open(at), "fill")
            return
        price = self._fill_price(rec, quote)
        if rec.time_in_force in IMMEDIATE_TIF:
            if price is not None:
                self._execute(rec, price, quote, at, allow_partial=rec.time_in_force is TimeInForce.IOC)
            if not rec.status.is_terminal:
                self._finish_cancel(rec, at)  # IOC/FOK: whatever did not fill at once is canceled
            return
        if price is None:
            when = self._next_marketable(rec, at)
            if when is not None:
                self._schedule_action(rec, when, "fill")
            elif rec.time_in_force is TimeInForce.GTC:
                self._schedule_action(rec, self.calendar.next_open(at), "fill")
            return
        self._execute(rec, price, quote, at)

    def _next_marketable(self, rec: OrderRecord, at: datetime) -> datetime | None:
        """The first instant after ``at`` in this session when the limit becomes marketable (``None``: not today)."""
        limit = need(rec.limit_price, "limit_price")
        pos = self.calendar.position(at)
        if pos.session is None or not pos.is_open:
            return None
        when = self.quotes.first_crossing(rec.symbol, at, limit, buy=rec.side is OrderSide.BUY)
        if when is None:
            return None
        return max(when, at + timedelta(seconds=1))

    def _fill_qty(self, rec: OrderRecord, price: Decimal, partial: bool) -> Decimal:
        whole = rec.qty is not None and rec.qty % 1 == 0
        if rec.notional is not None:
            remaining_notional = rec.notional - rec.filled_cost
            target = remaining_notional * Decimal(repr(self._rng.uniform(0.2, 0.8))) if partial else remaining_notional
            qty = (target / price).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)
            if rec.side is OrderSide.SELL:
                qty = min(qty, rec.reserved_qty)
            return qty
        remaining = need(rec.qty, "qty") - rec.filled_qty
        if not partial:
            return remaining
        fraction = Decimal(repr(self._rng.uniform(0.2, 0.8)))
        quantum = _ONE if whole else QTY_QUANTUM
        return (remaining * fraction).quantize(quantum, rounding=ROUND_DOWN)

    def _execute(
        self, rec: OrderRecord, price: Decimal, quote: Quote, at: datetime, *, allow_partial: bool = True
    ) -> None:
        partial = (
            allow_partial and self.config.partial_fill_rate > 0 and self._rng.random() < self.config.partial_fill_rate
        )
        qty = self._fill_qty(rec, price, partial)
        if partial and qty <= 0:
            partial, qty = False, self._fill_qty(rec, price, False)
        if (
            rec.side is OrderSide.BUY
            and rec.notional is None
            and qty * price > rec.reserved_cash
            and qty * price > (spendable := rec.reserved_cash + self.cash - self._held_cash())
        ):
            # The price moved past what was reserved and the account cannot pay: fill what it can afford.
            affordable = (spendable / price).quantize(
                _ONE if rec.qty is not None and rec.qty % 1 == 0 else QTY_QUANTUM, rounding=ROUND_DOWN
            )
            qty = max(Decimal(0), min(qty, affordable))
        if qty <= 0:
            # Nothing left to fill (e.g. a notional remainder below one share quantum): the order is done.
            self._complete(rec, at)
            return
        cost = qty * price
        holding = self._holdings.setdefault(rec.symbol, _Holding())
        if rec.side is OrderSide.BUY:
            self.cash -= cost
            holding.qty += qty
            holding.cost += cost
            rec.reserved_cash = max(Decimal(0), rec.reserved_cash - cost)
        else:
            basis = holding.cost * qty / holding.qty if holding.qty else Decimal(0)
            self.cash += cost
            holding.qty -= qty
            holding.cost -= basis
            rec.reserved_qty = max(Decimal(0), rec.reserved_qty - qty)
        if holding.qty == 0:
            del self._holdings[rec.symbol]
        rec.record_fill(qty, price)
        rec.updated_at = at
        done = self._is_done(rec, price, partial)
        execution_id = self._uuid()
        if done:
            rec.filled_at = at
            self._finalize(rec, OrderStatus.FILLED, at)
        else:
            rec.status = OrderStatus.PARTIALLY_FILLED
        self._fills.append(
            FillRecord(
                rec,
                qty,
                price,
                rec.filled_qty,
                Decimal(0) if done or rec.qty is None else rec.qty - rec.filled_qty,
                at,
                execution_id,
                done,
                quote.mid,
                self.account_id,
            )
        )
        self._emit(
            rec,
            TradeEvent.FILL if done else TradeEvent.PARTIAL_FILL,
            at,
            price=price,
            qty=qty,
            execution_id=execution_id,
        )
        if not done and rec.time_in_force not in IMMEDIATE_TIF:
            self._schedule_action(rec, at + timedelta(seconds=self.config.partial_fill_delay), "fill")

    def _is_done(self, rec: OrderRecord, price: Decimal, partial: bool) -> bool:
        if rec.qty is not None:
            return rec.filled_qty >= rec.qty
        left = need(rec.notional, "notional") - rec.filled_cost
        return not partial or left < price * QTY_QUANTUM * 10 or left < Decimal("0.01")

    def _complete(self, rec: OrderRecord, at: datetime) -> None:
        """End an order that cannot fill further.

        A notional order whose remainder is below one share quantum is filled (its last fill already happened);
        anything else — e.g. a buy whose remainder the account can no longer pay for — has the rest canceled.
        """
        if rec.notional is not None and rec.filled_qty > 0:
            rec.filled_at = at
            self._finalize(rec, OrderStatus.FILLED, at)
            self._emit(rec, TradeEvent.FILL, at, price=rec.filled_avg_price, qty=Decimal(0), execution_id=self._uuid())
        else:
            self._finish_cancel(rec, at)

    def _expire(self, rec: OrderRecord, at: datetime) -> None:
        rec.expired_at = at
        self._finalize(rec, OrderStatus.EXPIRED, at)
        self._emit(rec, TradeEvent.EXPIRED, at)

    # ---- cancel / replace -----------------------------------------------------------------------------------

    def _record(self, order_id: str) -> OrderRecord:
        rec = self._orders.get(order_id)
        if rec is None:
            raise NotFoundError("order not found", status_code=404, code=40410000)
        return rec

    def cancel(self, order_id: str, now: datetime) -> None:
        """Request a cancel (Alpaca's 204): ``pending_cancel`` now, ``canceled`` after ``cancel_delay``."""
        now = _utc(now)
        self.advance(now)
        rec = self._record(order_id)
        if rec.status.is_terminal or rec.status is OrderStatus.PENDING_CANCEL:
            raise NotCancelableError("order is not cancelable", status_code=422, code=42210000)
        rec.status = OrderStatus.PENDING_CANCEL
        rec.updated_at = now
        rec.token += 1
        self._emit(rec, TradeEvent.PENDING_CANCEL, now)
        self._schedule_action(rec, now + timedelta(seconds=self.config.cancel_delay), "cancel")
        if rec.expire_at is not None and rec.expire_at > now:
            self._schedule_action(rec, rec.expire_at, "expire")

    def _finish_cancel(self, rec: OrderRecord, at: datetime) -> None:
        rec.canceled_at = at
        self._finalize(rec, OrderStatus.CANCELED, at)
        self._emit(rec, TradeEvent.CANCELED, at)

    def cancel_all(self, now: datetime) -> list[tuple[str, int]]:
        """Cancel every open order: [(order id, HTTP status)] like Alpaca's 207 body."""
        self.advance(now)
        results: list[tuple[str, int]] = []
        for rec in self._open_records():
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
        old = self._record(order_id)
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
            client_order_id=client_order_id or self._uuid(),
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
        self._finalize(old, OrderStatus.REPLACED, now)
        self._emit(old, TradeEvent.REPLACED, now)
        self._route(new_rec, now)
        return new_rec.to_order()

    # ---- queries --------------------------------------------------------------------------------------------

    def get_order(self, order_id: str) -> Order:
        return self._record(order_id).to_order()

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        rec = self._by_client.get(client_order_id)
        if rec is None:
            raise NotFoundError("order not found", status_code=404, code=40410000)
        return rec.to_order()

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
        wanted = {s.upper() for s in symbols} if symbols else None
        picked: list[OrderRecord] = []
        for rec in self._order_list:
            if status == "open" and rec.status.is_terminal:
                continue
            if status == "closed" and not rec.status.is_terminal:
                continue
            if after is not None and rec.submitted_at <= after:
                continue
            if until is not None and rec.submitted_at >= until:
                continue
            if wanted is not None and rec.symbol not in wanted:
                continue
            if side is not None and rec.side is not side:
                continue
            picked.append(rec)
        if direction == "desc":
            picked.reverse()
        return [rec.to_order() for rec in picked[:limit]]

    def fill_activities(
        self,
        *,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: Literal["asc", "desc"] = "desc",
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> list[FillActivity]:
        fills = self._fills
        if after is not None:
            fills = [f for f in fills if f.at > after]
        if until is not None:
            fills = [f for f in fills if f.at < until]
        rows = [f.activity() for f in fills]
        if direction == "desc":
            rows.reverse()
        if page_token is not None:
            ids = [r.id for r in rows]
            if page_token in ids:
                rows = rows[ids.index(page_token) + 1 :]
        return rows[:page_size] if page_size is not None else rows

    def fills_with_mids(self) -> list[tuple[FillActivity, Decimal]]:
        """Every fill with the mid price at its instant (for cost accounting and tests)."""
        return [(f.activity(), f.mid) for f in self._fills]

    @property
    def order_count(self) -> int:
        return len(self._order_list)

    @property
    def event_count(self) -> int:
        """Trade updates emitted so far (whether or not anyone listened)."""
        return self._event_seq
