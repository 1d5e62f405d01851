"""Limit-ladder prices (pure): each step sits a fraction of the spread from the near side, on Alpaca's tick."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from alchemiser.broker.enums import OrderSide
from alchemiser.broker.models import Quote

PENNY = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")


def tick_for(price: Decimal) -> Decimal:
    """Alpaca's sub-penny rule: prices ≥ $1 take 2 decimals, below $1 take 4."""
    return PENNY if price >= 1 else SUB_PENNY


def usable(quote: Quote | None) -> bool:
    return quote is not None and quote.bid_price > 0 and quote.ask_price > 0 and quote.ask_price >= quote.bid_price


def ladder_price(quote: Quote, side: OrderSide, fraction: float) -> Decimal:
    """Buy: bid + f × spread, rounded up to the tick; sell: ask − f × spread, rounded down. Always within [bid, ask].

    Raises ``ValueError`` for an unusable quote (missing side or crossed).
    """
    if not usable(quote):
        raise ValueError(f"unusable quote for {quote.symbol}: bid {quote.bid_price} ask {quote.ask_price}")
    step = Decimal(str(fraction)) * quote.spread
    tick = tick_for(quote.bid_price)
    if side is OrderSide.BUY:
        price = (quote.bid_price + step).quantize(tick, rounding=ROUND_CEILING)
        return min(max(price, quote.bid_price), quote.ask_price)
    price = (quote.ask_price - step).quantize(tick, rounding=ROUND_FLOOR)
    return max(min(price, quote.ask_price), quote.bid_price)


def far_side(quote: Quote, side: OrderSide) -> Decimal:
    """The price a marketable order expects: the ask for a buy, the bid for a sell."""
    return quote.ask_price if side is OrderSide.BUY else quote.bid_price
