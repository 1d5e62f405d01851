"""How an order meets the quote: the price it fills at, how much of it fills, when a resting limit first becomes
marketable, and when a notional order counts as done.

Pure functions of the order, the quote and the knobs they are given; the seeded generator decides partial sizes.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from alchemiser.broker.enums import OrderSide, OrderType
from alchemiser.broker.models import OrderRequest, Quote
from alchemiser.sim.calendar import SessionCalendar
from alchemiser.sim.market import QuoteModel, round_price_down, round_price_up
from alchemiser.sim.orders import OrderRecord
from alchemiser.sim.rules import QTY_QUANTUM, need

_ONE = Decimal(1)
_BPS = Decimal(10_000)


def buy_cost(request: OrderRequest, quote: Quote, slippage_bps: Decimal) -> Decimal:
    """The cash a buy holds: its notional, or qty × the price it is expected to fill at (limit, or slipped ask)."""
    if request.notional is not None:
        return request.notional
    if request.type is OrderType.LIMIT and request.limit_price is not None:
        price = request.limit_price
    else:
        price = round_price_up(quote.ask_price * (_ONE + slippage_bps / _BPS))
    return need(request.qty, "qty") * price


def fill_price(rec: OrderRecord, quote: Quote, slippage_bps: Decimal) -> Decimal | None:
    """The price this order fills at against ``quote`` (``None`` when a limit is not marketable)."""
    slip = slippage_bps / _BPS
    if rec.side is OrderSide.BUY:
        if rec.type is OrderType.LIMIT:
            limit = need(rec.limit_price, "limit_price")
            return min(limit, quote.ask_price) if quote.ask_price <= limit else None
        return round_price_up(quote.ask_price * (_ONE + slip))
    if rec.type is OrderType.LIMIT:
        limit = need(rec.limit_price, "limit_price")
        return max(limit, quote.bid_price) if quote.bid_price >= limit else None
    return max(round_price_down(quote.bid_price * (_ONE - slip)), Decimal("0.0001"))


def fill_qty(rec: OrderRecord, price: Decimal, partial: bool, rng: random.Random) -> Decimal:
    """How much fills now: the whole remainder, or (``partial``) a random 20–80 % of it in whole or 1e-9 shares."""
    whole = rec.qty is not None and rec.qty % 1 == 0
    if rec.notional is not None:
        remaining_notional = rec.notional - rec.filled_cost
        target = remaining_notional * Decimal(repr(rng.uniform(0.2, 0.8))) if partial else remaining_notional
        qty = (target / price).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)
        if rec.side is OrderSide.SELL:
            qty = min(qty, rec.reserved_qty)
        return qty
    remaining = need(rec.qty, "qty") - rec.filled_qty
    if not partial:
        return remaining
    fraction = Decimal(repr(rng.uniform(0.2, 0.8)))
    quantum = _ONE if whole else QTY_QUANTUM
    return (remaining * fraction).quantize(quantum, rounding=ROUND_DOWN)


def is_done(rec: OrderRecord, price: Decimal, partial: bool) -> bool:
    """Whether the fill just recorded completes the order (a notional remainder too small to buy counts as done)."""
    if rec.qty is not None:
        return rec.filled_qty >= rec.qty
    left = need(rec.notional, "notional") - rec.filled_cost
    return not partial or left < price * QTY_QUANTUM * 10 or left < Decimal("0.01")


def next_marketable(rec: OrderRecord, at: datetime, calendar: SessionCalendar, quotes: QuoteModel) -> datetime | None:
    """The first instant after ``at`` in this session when the limit becomes marketable (``None``: not today)."""
    limit = need(rec.limit_price, "limit_price")
    pos = calendar.position(at)
    if pos.session is None or not pos.is_open:
        return None
    when = quotes.first_crossing(rec.symbol, at, limit, buy=rec.side is OrderSide.BUY)
    if when is None:
        return None
    return max(when, at + timedelta(seconds=1))
