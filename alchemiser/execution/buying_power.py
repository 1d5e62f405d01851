"""How much one more buy may spend right now: the account's buying power, less what open buy orders at the broker
may still spend on a margin account (which would otherwise borrow), and the quantity that fits it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import ROUND_DOWN, Decimal

import structlog

from alchemiser.broker.enums import OrderSide
from alchemiser.broker.models import Order, Quote
from alchemiser.broker.protocol import Broker
from alchemiser.execution.fills import FillRecorder

ZERO = Decimal(0)
MARKET_BUY_MARGIN = Decimal("0.005")  # a market buy is sized as if it paid this much above the ask
log = structlog.get_logger("alchemiser.execution.buying_power")


class BuyingPower:
    def __init__(self, broker: Broker, recorder: FillRecorder, quote: Callable[[str], Awaitable[Quote | None]]) -> None:
        self._broker = broker
        self._recorder = recorder
        self._quote = quote

    async def available(self) -> Decimal:
        """Money for one more buy now (the caller holds its buy lock from this read until its order is sent, so
        two buy lines never spend the same money).

        * ``buying_power`` already holds back what open buy orders may spend (Alpaca and the simulated exchange both
          do, atomically with their fills): a just-filled order is in ``cash`` once, never also as a hold. On a cash
          account (multiplier 1) that figure is the whole answer and nothing is subtracted from it here.
        * ``cash`` keeps a margin account from borrowing, but it ignores open orders: on a margin account (multiplier
          > 1, or not reported) what every open buy order at the broker (ours or not) may still spend is subtracted
          from it. The open orders are listed *before* the account is read, so a fill is never missed (which would
          borrow); a fill landing between the two reads is counted twice for this one step only (sized down, the
          next step buys the rest).
        """
        account = await self._broker.get_account()
        if not is_margin_account(account.multiplier):
            return max(ZERO, min(account.cash, account.buying_power))
        open_buys = [o for o in await self._broker.list_orders(status="open") if o.side is OrderSide.BUY]
        committed = await self._commitment(open_buys)
        if committed is None:
            return ZERO  # an open order we cannot price: spend nothing rather than maybe borrow
        account = await self._broker.get_account()
        return max(ZERO, min(account.cash, account.buying_power, account.cash - committed))

    async def _commitment(self, orders: list[Order]) -> Decimal | None:
        """What these open buy orders may still spend: remaining quantity × limit price, or the unfilled notional;
        a market order by quantity is priced at our decision-time price (ours) or the current ask, plus the market
        margin. None when an order cannot be priced (no quote)."""
        total = ZERO
        unpriced: list[Order] = []
        for order in orders:
            if order.qty is None:
                spent = order.filled_qty * (order.filled_avg_price or ZERO)
                total += max(ZERO, (order.notional or ZERO) - spent)
            elif order.limit_price is not None:
                total += max(ZERO, order.qty - order.filled_qty) * order.limit_price
            else:
                meta = self._recorder.meta.get(order.client_order_id)
                if meta is not None and meta.reference_price > 0:
                    total += max(ZERO, order.qty - order.filled_qty) * meta.reference_price * (1 + MARKET_BUY_MARGIN)
                else:
                    unpriced.append(order)
        for order in unpriced:
            quote = await self._quote(order.symbol)
            if quote is None or quote.ask_price <= 0:
                log.warning("execution.open_buy_unpriced", client_order_id=order.client_order_id, symbol=order.symbol)
                return None
            remaining = max(ZERO, (order.qty or ZERO) - order.filled_qty)
            total += remaining * quote.ask_price * (1 + MARKET_BUY_MARGIN)
        return total


def is_margin_account(multiplier: str | None) -> bool:
    """Alpaca reports ``multiplier`` "1" for cash accounts, "2"/"4" for margin; unknown counts as margin (safe)."""
    if multiplier is None:
        return True
    try:
        return Decimal(multiplier) > 1
    except ArithmeticError:
        return True


def fit_to_budget(qty: Decimal, price: Decimal, available: Decimal, fractionable: bool) -> Decimal:
    """The largest quantity ≤ ``qty`` that ``available`` pays for at ``price`` (whole shares unless fractionable)."""
    if qty * price <= available:
        return qty
    if available <= 0:
        return ZERO
    quantum = Decimal("0.000001") if fractionable else Decimal(1)
    return (available / price).quantize(quantum, rounding=ROUND_DOWN)
