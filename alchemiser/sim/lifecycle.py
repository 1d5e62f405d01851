"""An accepted order's life inside the exchange: routing, acknowledgement, fills (whole, partial, IOC/FOK), and
the terminal steps (filled, canceled, expired, rejected after accept) — each a ``TradeUpdate`` with its holds,
cash and shares moved in the ledger.

Called with the instant each step happens at: by the exchange when an order arrives or is canceled, and from the
schedule when a queued step comes due.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from alchemiser.broker.enums import OrderSide, OrderStatus, TimeInForce, TradeEvent
from alchemiser.broker.models import NEW_YORK, Order, Quote
from alchemiser.errors import DataError
from alchemiser.sim.calendar import SessionCalendar
from alchemiser.sim.events import EventEmitter, FillRecord
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.fees import FeeDesk
from alchemiser.sim.ledger import Ledger
from alchemiser.sim.market import QuoteModel
from alchemiser.sim.matching import fill_price, fill_qty, is_done, next_marketable
from alchemiser.sim.order_book import OrderBook
from alchemiser.sim.orders import OrderRecord
from alchemiser.sim.rng import SimRandom
from alchemiser.sim.rules import IMMEDIATE_TIF, QTY_QUANTUM
from alchemiser.sim.schedule import Action, ActionSchedule

_ONE = Decimal(1)


class OrderLifecycle:
    """Moves orders through Alpaca's states; owns no state of its own beyond its collaborators."""

    def __init__(
        self,
        config: ExchangeConfig,
        *,
        calendar: SessionCalendar,
        quotes: QuoteModel,
        quote: Callable[[str, datetime], Quote],
        rng: SimRandom,
        book: OrderBook,
        ledger: Ledger,
        schedule: ActionSchedule,
        events: EventEmitter,
    ) -> None:
        self.config = config
        self.fees = FeeDesk(config.fees)
        self.calendar = calendar
        self.quotes = quotes
        self.quote = quote
        self.rng = rng
        self.book = book
        self.ledger = ledger
        self.schedule = schedule
        self.events = events

    def run(self, rec: OrderRecord, action: Action, at: datetime) -> None:
        """Run one scheduled step."""
        if action == "ack":
            self.acknowledge(rec, at)
        elif action == "fill":
            self.try_fill(rec, at)
        elif action == "cancel":
            self.finish_cancel(rec, at)
        else:
            self.expire(rec, at)

    def route(self, rec: OrderRecord, now: datetime) -> Order:
        """Send an admitted order on: acknowledge (and try to fill) now, or when due. Returns the POST's answer."""
        answer = rec.to_order()  # pending_new (or accepted), as Alpaca answers the POST
        if rec.status is OrderStatus.ACCEPTED:
            self.schedule.add(rec, self.calendar.next_open(now), "ack")
        elif self.config.ack_delay == 0:
            self.acknowledge(rec, now)  # routed at once: its events follow the pending_new immediately
        else:
            self.schedule.add(rec, now + timedelta(seconds=self.config.ack_delay), "ack")
        return answer

    def acknowledge(self, rec: OrderRecord, at: datetime) -> None:
        if rec.status is OrderStatus.ACCEPTED:
            rec.status = OrderStatus.PENDING_NEW
            rec.updated_at = at
            self.events.emit(rec, TradeEvent.PENDING_NEW, at)
        rate = self.config.reject_after_accept_rate
        if rate > 0 and self.rng.random() < rate:  # no draw when off: seeded runs stay as they were
            rec.failed_at = at
            self.book.finalize(rec, OrderStatus.REJECTED, at)
            self.events.emit(rec, TradeEvent.REJECTED, at)
            return
        rec.status = OrderStatus.NEW
        rec.updated_at = at
        self.events.emit(rec, TradeEvent.NEW, at)
        self.try_fill(rec, at)

    def try_fill(self, rec: OrderRecord, at: datetime) -> None:
        if rec.status in (OrderStatus.PENDING_CANCEL, OrderStatus.ACCEPTED) or rec.status.is_terminal:
            return
        if not self.calendar.is_open(at):
            if rec.time_in_force is TimeInForce.GTC:
                self.schedule.add(rec, self.calendar.next_open(at), "fill")
            return
        try:
            quote = self.quote(rec.symbol, at)
        except DataError:
            self.schedule.add(rec, self.calendar.next_open(at), "fill")
            return
        price = fill_price(rec, quote, self.config.slippage_bps)
        if rec.time_in_force in IMMEDIATE_TIF:
            if price is not None:
                self._execute(rec, price, quote, at, allow_partial=rec.time_in_force is TimeInForce.IOC)
            if not rec.status.is_terminal:
                self.finish_cancel(rec, at)  # IOC/FOK: whatever did not fill at once is canceled
            return
        if price is None:
            when = next_marketable(rec, at, self.calendar, self.quotes)
            if when is not None:
                self.schedule.add(rec, when, "fill")
            elif rec.time_in_force is TimeInForce.GTC:
                self.schedule.add(rec, self.calendar.next_open(at), "fill")
            return
        self._execute(rec, price, quote, at)

    def _execute(
        self, rec: OrderRecord, price: Decimal, quote: Quote, at: datetime, *, allow_partial: bool = True
    ) -> None:
        config, rng = self.config, self.rng
        partial = allow_partial and config.partial_fill_rate > 0 and rng.random() < config.partial_fill_rate
        qty = fill_qty(rec, price, partial, rng)
        if partial and qty <= 0:
            partial, qty = False, fill_qty(rec, price, False, rng)
        if (
            rec.side is OrderSide.BUY
            and rec.notional is None
            and qty * price > rec.reserved_cash
            and qty * price > (spendable := rec.reserved_cash + self.ledger.cash - self.book.held_cash())
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
        self.ledger.roll(at)  # the previous close's equity, before this fill changes the account
        if rec.side is OrderSide.BUY:
            self.ledger.buy(rec.symbol, qty, cost)
            rec.reserved_cash = max(Decimal(0), rec.reserved_cash - cost)
        else:
            self.ledger.sell(rec.symbol, qty, cost)
            self.ledger.cash -= self.fees.charge(rec.id, rec.symbol, qty, cost, at.astimezone(NEW_YORK).date())
            rec.reserved_qty = max(Decimal(0), rec.reserved_qty - qty)
        rec.record_fill(qty, price)
        rec.updated_at = at
        done = is_done(rec, price, partial)
        execution_id = rng.uuid4()
        if done:
            rec.filled_at = at
            self.book.finalize(rec, OrderStatus.FILLED, at)
        else:
            rec.status = OrderStatus.PARTIALLY_FILLED
        self.book.fills.append(
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
                self.ledger.account_id,
            )
        )
        self.events.emit(
            rec,
            TradeEvent.FILL if done else TradeEvent.PARTIAL_FILL,
            at,
            price=price,
            qty=qty,
            execution_id=execution_id,
        )
        if not done and rec.time_in_force not in IMMEDIATE_TIF:
            self.schedule.add(rec, at + timedelta(seconds=config.partial_fill_delay), "fill")

    def _complete(self, rec: OrderRecord, at: datetime) -> None:
        """End an order that cannot fill further.

        A notional order whose remainder is below one share quantum is filled (its last fill already happened);
        anything else — e.g. a buy whose remainder the account can no longer pay for — has the rest canceled.
        """
        if rec.notional is not None and rec.filled_qty > 0:
            rec.filled_at = at
            self.book.finalize(rec, OrderStatus.FILLED, at)
            self.events.emit(
                rec, TradeEvent.FILL, at, price=rec.filled_avg_price, qty=Decimal(0), execution_id=self.rng.uuid4()
            )
        else:
            self.finish_cancel(rec, at)

    def expire(self, rec: OrderRecord, at: datetime) -> None:
        rec.expired_at = at
        self.book.finalize(rec, OrderStatus.EXPIRED, at)
        self.events.emit(rec, TradeEvent.EXPIRED, at)

    def finish_cancel(self, rec: OrderRecord, at: datetime) -> None:
        rec.canceled_at = at
        self.book.finalize(rec, OrderStatus.CANCELED, at)
        self.events.emit(rec, TradeEvent.CANCELED, at)
