"""Pure JSON shaping for the protocol face: domain objects → Alpaca's JSON, and Alpaca's request JSON → requests.

Kept apart from I/O so the shapes can be checked (against alpaca-py's models) and benchmarked on their own.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from alchemiser.broker.enums import OrderSide, OrderType, TimeInForce
from alchemiser.broker.models import NEW_YORK, MarketClock, OrderRequest, Quote
from alchemiser.errors import BrokerError, OrderRejectedError
from alchemiser.sim.events import ExchangeEvent
from alchemiser.sim.market import DailyBar

CLIENT_ORDER_ID_MAX = 128


class RequestError(BrokerError):
    """A malformed request: answered with ``status_code`` and Alpaca's ``{"code", "message"}`` body."""


def iso_z(moment: datetime) -> str:
    """Aware datetime → RFC 3339 in UTC with a ``Z`` (as Alpaca's order/event timestamps)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_et(moment: datetime) -> str:
    """Aware datetime → RFC 3339 with the New York offset (as Alpaca's ``/v2/clock``)."""
    return moment.astimezone(NEW_YORK).isoformat()


def error_body(err: BrokerError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": err.code or 0, "message": err.message}
    extra = err.context.get("body_extra")
    if isinstance(extra, dict):
        body.update(extra)
    return body


def clock_json(clock: MarketClock) -> dict[str, Any]:
    return {
        "timestamp": iso_et(clock.timestamp),
        "is_open": clock.is_open,
        "next_open": iso_et(clock.next_open),
        "next_close": iso_et(clock.next_close),
    }


def trade_update_json(event: ExchangeEvent) -> dict[str, Any]:
    """One ``trade_updates`` message's ``data`` (numbers as strings, like Alpaca)."""
    data: dict[str, Any] = {
        "event": event.event.value,
        "event_id": f"SIM{event.seq:023d}",
        "at": iso_z(event.timestamp),
        "timestamp": iso_z(event.timestamp),
        "order": event.record.to_order(event.snap).to_alpaca(),
    }
    if event.execution_id is not None:
        data["execution_id"] = event.execution_id
    for key in ("price", "qty", "position_qty"):
        value = getattr(event, key)
        if value is not None:
            data[key] = _dec(value)
    return data


def _dec(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def bar_json(bar: DailyBar) -> dict[str, Any]:
    midnight = datetime.combine(bar.session, time(0), NEW_YORK)
    vw = (bar.high + bar.low + bar.close) / 3.0
    return {
        "t": iso_z(midnight),
        "o": round(bar.open, 6),
        "h": round(bar.high, 6),
        "l": round(bar.low, 6),
        "c": round(bar.close, 6),
        "v": int(bar.volume),
        "n": max(1, int(bar.volume // 100)),
        "vw": round(vw, 6),
    }


def quote_json(quote: Quote) -> dict[str, Any]:
    return quote.to_alpaca()


def trade_json(quote: Quote, seq: int) -> dict[str, Any]:
    return {
        "t": iso_z(quote.timestamp),
        "x": "V",
        "p": float(quote.mid),
        "s": 100,
        "c": ["@"],
        "i": seq,
        "z": "C",
    }


def encode_page_token(symbol: str, session: date) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{session.isoformat()}".encode()).decode()


def decode_page_token(token: str) -> tuple[str, date]:
    try:
        symbol, _, day = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return symbol, date.fromisoformat(day)
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise RequestError("invalid page_token", status_code=400, code=40010001) from err


def parse_time(value: str, name: str, *, end_of_day: bool = False) -> datetime:
    """RFC 3339 or ``YYYY-MM-DD`` (a date means its New York midnight, or the end of it for ``end_of_day``)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.max if end_of_day else time.min, NEW_YORK)
            return moment.astimezone(UTC)
        parsed = datetime.fromisoformat(_trim_nanos(text.replace("Z", "+00:00")))
    except ValueError as err:
        raise RequestError(f"invalid {name}: {value!r}", status_code=422, code=42210000) from err
    if parsed.tzinfo is None:
        raise RequestError(f"invalid {name}: {value!r} has no UTC offset", status_code=422, code=42210000)
    return parsed.astimezone(UTC)


def parse_date(value: str, name: str) -> date:
    """``YYYY-MM-DD`` (an RFC 3339 time is accepted and means its New York date)."""
    text = value.strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError as err:
            raise RequestError(f"invalid {name}: {value!r}", status_code=422, code=42210000) from err
    return parse_time(text, name).astimezone(NEW_YORK).date()


def _trim_nanos(text: str) -> str:
    if "." not in text:
        return text
    head, _, rest = text.partition(".")
    digits = ""
    while rest and rest[0].isdigit():
        digits, rest = digits + rest[0], rest[1:]
    return f"{head}.{digits[:6]}{rest}"


def decimal_field(body: dict[str, Any], name: str) -> Decimal | None:
    raw = body.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise OrderRejectedError(f"invalid {name}", status_code=422, code=40010001)
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
    except InvalidOperation as err:
        raise OrderRejectedError(f"invalid {name}: {raw!r}", status_code=422, code=40010001) from err
    if not value.is_finite():
        raise OrderRejectedError(f"invalid {name}: {raw!r}", status_code=422, code=40010001)
    return value


def parse_order_body(body: Any, new_client_id: str | None = None) -> OrderRequest:
    """Alpaca's POST /v2/orders JSON → ``OrderRequest`` (422 / 400 with Alpaca's wording when malformed)."""
    if not isinstance(body, dict):
        raise RequestError("request body format is invalid", status_code=400, code=40010000)
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise OrderRejectedError("symbol is required", status_code=422, code=40010001)
    side = body.get("side")
    if side not in ("buy", "sell"):
        raise OrderRejectedError(f"invalid side: {side!r}", status_code=422, code=40010001)
    order_type = body.get("type", body.get("order_type"))
    if order_type is None:
        raise OrderRejectedError("type is required", status_code=422, code=40010001)
    if OrderType(order_type) is OrderType.UNKNOWN:
        raise OrderRejectedError(f"invalid type: {order_type!r}", status_code=422, code=40010001)
    tif = body.get("time_in_force")
    if tif is None:
        raise OrderRejectedError("time_in_force is required", status_code=422, code=40010001)
    if TimeInForce(tif) is TimeInForce.UNKNOWN:
        raise OrderRejectedError(f"invalid time_in_force: {tif!r}", status_code=422, code=40010001)
    qty = decimal_field(body, "qty")
    notional = decimal_field(body, "notional")
    if qty is not None and notional is not None:
        raise OrderRejectedError("qty and notional cannot both be specified", status_code=400, code=40010001)
    if qty is None and notional is None:
        raise OrderRejectedError("qty or notional is required", status_code=422, code=40010001)
    limit_price = decimal_field(body, "limit_price")
    if OrderType(order_type) is OrderType.LIMIT and limit_price is None:
        raise OrderRejectedError("limit_price is required for limit orders", status_code=422, code=40010001)
    client_order_id = body.get("client_order_id") or new_client_id or str(uuid.uuid4())
    if not isinstance(client_order_id, str) or len(client_order_id) > CLIENT_ORDER_ID_MAX:
        raise OrderRejectedError(
            f"client_order_id must be no more than {CLIENT_ORDER_ID_MAX} characters", status_code=422, code=40010001
        )
    extended = body.get("extended_hours", False)
    return OrderRequest.model_construct(
        symbol=symbol.strip().upper(),
        side=OrderSide(side),
        type=OrderType(order_type),
        time_in_force=TimeInForce(tif),
        client_order_id=client_order_id,
        qty=qty,
        notional=notional,
        limit_price=limit_price,
        extended_hours=bool(extended),
    )
