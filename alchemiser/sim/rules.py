"""Order rules of the simulated exchange: the shape and funds checks and reject errors Alpaca applies to a request,
and when an accepted order lapses.

Pure functions; every reject carries Alpaca's HTTP status, 8-digit code and message (``alpaca-protocol.md`` §2).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from alchemiser.broker.enums import OrderType, TimeInForce
from alchemiser.broker.models import NEW_YORK, Asset, OrderRequest, Quote
from alchemiser.errors import InsufficientBuyingPowerError, NotFractionableError, OrderRejectedError
from alchemiser.sim.calendar import SessionCalendar

QTY_QUANTUM = Decimal("0.000000001")
_ONE = Decimal(1)
SUPPORTED_TIF = frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK})
IMMEDIATE_TIF = frozenset({TimeInForce.IOC, TimeInForce.FOK})  # fill now (IOC: what it can) or cancel the rest
GTC_DAYS = 90
GTC_EXPIRY_TIME = time(16, 15)


def reject(cls: type[OrderRejectedError], status: int, code: int, message: str, **extra: str) -> OrderRejectedError:
    return cls(message, status_code=status, code=code, body_extra=extra)


def need(value: Decimal | None, what: str) -> Decimal:
    """Narrow an optional order field the request validation guarantees (a bug here is a ValueError)."""
    if value is None:
        raise ValueError(f"order is missing {what}")
    return value


def fmt_decimal(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def validate_order_shape(request: OrderRequest, asset: Asset) -> None:
    """Reject what Alpaca (or the simulator) does not accept for this asset, with Alpaca's status/code/message."""
    if request.type not in (OrderType.MARKET, OrderType.LIMIT):
        raise reject(
            OrderRejectedError, 422, 42210000, f"order type {request.type.value} is not supported by the simulator"
        )
    if request.time_in_force not in SUPPORTED_TIF:
        raise reject(
            OrderRejectedError,
            422,
            42210000,
            f"time_in_force {request.time_in_force.value} is not supported by the simulator",
        )
    if request.qty is not None:
        if request.qty <= 0:
            raise reject(OrderRejectedError, 422, 40010001, "qty must be > 0")
        if request.qty != request.qty.quantize(QTY_QUANTUM):
            raise reject(OrderRejectedError, 422, 40010001, "qty must have at most 9 decimal places")
    fractional = request.notional is not None or (request.qty is not None and request.qty % 1 != 0)
    if fractional:
        if not asset.fractionable:
            raise reject(NotFractionableError, 422, 40010001, "requested asset is not fractionable")
        if request.time_in_force is not TimeInForce.DAY:
            raise reject(OrderRejectedError, 422, 42210000, "fractional orders must be DAY orders")
    if request.notional is not None:
        if request.type is not OrderType.MARKET:
            raise reject(OrderRejectedError, 422, 42210000, "notional orders must be market orders")
        if request.notional < _ONE:
            raise reject(OrderRejectedError, 403, 40310000, "cost basis must be >= 1")
    if request.limit_price is not None:
        price = request.limit_price
        if price <= 0:
            raise reject(OrderRejectedError, 422, 42210000, "limit_price must be > 0")
        tick = Decimal("0.01") if price >= 1 else Decimal("0.0001")
        if price != price.quantize(tick):
            raise reject(
                OrderRejectedError,
                422,
                42210000,
                f"invalid limit_price {fmt_decimal(price)}. "
                "sub-penny increment does not fulfill minimum pricing criteria",
            )
    if request.extended_hours and not (request.type is OrderType.LIMIT and request.time_in_force is TimeInForce.DAY):
        raise reject(OrderRejectedError, 422, 42210000, "extended hours order must be DAY limit orders")


def require_buying_power(cost: Decimal, buying_power: Decimal) -> None:
    """Reject a buy whose cost (notional, or qty × expected price) is more than the buying power."""
    if cost > buying_power:
        raise reject(
            InsufficientBuyingPowerError,
            403,
            40310000,
            "insufficient buying power",
            buying_power=fmt_decimal(buying_power),
            cost_basis=fmt_decimal(cost),
        )


def shares_to_hold(request: OrderRequest, quote: Quote, position_qty: Decimal, held_qty: Decimal) -> Decimal:
    """The shares a sell holds (its qty, or notional ÷ bid), or the reject when open sells already hold the rest."""
    if request.qty is not None:
        wanted = request.qty
    else:
        wanted = (need(request.notional, "notional") / quote.bid_price).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)
    available = position_qty - held_qty
    if wanted > available:
        raise reject(
            OrderRejectedError,
            403,
            40310000,
            f"insufficient qty available for order (requested: {fmt_decimal(wanted)}, "
            f"available: {fmt_decimal(available)})",
            available=fmt_decimal(available),
            existing_qty=fmt_decimal(position_qty),
            held_for_orders=fmt_decimal(held_qty),
            symbol=quote.symbol,
        )
    return wanted


def order_expiry(time_in_force: TimeInForce, now: datetime, calendar: SessionCalendar) -> datetime:
    """When an order placed at ``now`` lapses: a day order at the session's close, any other 90 days after creation
    at 16:15 New York (as Alpaca cancels a GTC order; IOC/FOK orders end long before)."""
    if time_in_force is TimeInForce.DAY:
        return calendar.next_close(now)
    expiry_day = (now + timedelta(days=GTC_DAYS)).astimezone(NEW_YORK).date()
    return datetime.combine(expiry_day, GTC_EXPIRY_TIME, NEW_YORK).astimezone(UTC)
