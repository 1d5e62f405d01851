"""Broker domain models: what the execution layer sees, whichever broker is behind it.

Money and quantities are ``Decimal``; times are timezone-aware UTC; unknown fields are kept (``extra="allow"``)
and unknown enum values become ``UNKNOWN``. Models parse Alpaca's JSON directly (``Model.model_validate(json)``),
and ``to_alpaca()`` produces Alpaca's JSON shape (used by the simulated exchange's protocol face).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from alchemiser.broker.enums import (
    AssetClass,
    AssetStatus,
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    TimeInForce,
    TradeEvent,
)

NEW_YORK = ZoneInfo("America/New_York")


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


def _as_utc(value: datetime) -> datetime:
    """Pydantic parses Alpaca's mixed offsets and nanoseconds (truncated to µs); refuse naive, return aware UTC."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: broker times must carry an offset")
    return value.astimezone(UTC)


def _to_decimal(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str):
        return Decimal(str(value))
    return value


def _decimal_to_str(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f") if value == value.to_integral() else str(value)


UtcDatetime = Annotated[datetime, BeforeValidator(_blank_to_none), AfterValidator(_as_utc)]
Money = Annotated[Decimal, BeforeValidator(_to_decimal), PlainSerializer(_decimal_to_str, return_type=str)]


class _BarTimeSchema:
    """``UtcDatetime`` for high-volume market data, without a Python call per value when the JSON is already UTC.

    From JSON (``validate_json``, the bars endpoint's path) a time with a zero offset (Alpaca's ``...Z``) is
    accepted natively by pydantic-core; any other offset falls back to the Python conversion to UTC; naive or
    unreadable times are refused. From Python objects it is exactly ``UtcDatetime``. A time accepted natively
    carries pydantic-core's zero-offset ``TzInfo``, which compares, hashes, pickles and formats as UTC.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        converted = core_schema.no_info_after_validator_function(_as_utc, core_schema.datetime_schema())
        from_json = core_schema.union_schema(
            [core_schema.datetime_schema(tz_constraint=0), converted],
            mode="left_to_right",
            custom_error_type="utc_datetime",
            custom_error_message="Input should be a datetime with an offset (naive or unreadable times are refused)",
        )
        return core_schema.json_or_python_schema(json_schema=from_json, python_schema=converted)


BarTime = Annotated[datetime, _BarTimeSchema]


class BrokerModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    def to_alpaca(self) -> dict[str, Any]:
        """This model as Alpaca's JSON (strings for money, ISO times, aliases)."""
        return self.model_dump(mode="json", by_alias=True)


class Account(BrokerModel):
    id: str
    account_number: str = ""
    status: str = "ACTIVE"
    currency: str = "USD"
    cash: Money
    buying_power: Money
    equity: Money
    portfolio_value: Money | None = None
    last_equity: Money | None = None
    long_market_value: Money | None = None
    short_market_value: Money | None = None
    non_marginable_buying_power: Money | None = None
    multiplier: str | None = None
    trading_blocked: bool = False
    account_blocked: bool = False
    transfers_blocked: bool = False
    trade_suspended_by_user: bool = False
    shorting_enabled: bool = False
    pattern_day_trader: bool | None = None
    daytrade_count: int | None = None
    created_at: UtcDatetime | None = None


class Position(BrokerModel):
    symbol: str
    qty: Money
    asset_id: str = ""
    exchange: str = ""
    asset_class: AssetClass = AssetClass.US_EQUITY
    avg_entry_price: Money = Decimal(0)
    qty_available: Money | None = None
    side: PositionSide = PositionSide.LONG
    market_value: Money | None = None
    cost_basis: Money | None = None
    unrealized_pl: Money | None = None
    current_price: Money | None = None
    lastday_price: Money | None = None


class Asset(BrokerModel):
    id: str
    symbol: str
    asset_class: AssetClass = Field(default=AssetClass.US_EQUITY, alias="class")
    exchange: str = ""
    name: str = ""
    status: AssetStatus = AssetStatus.ACTIVE
    tradable: bool = True
    marginable: bool = True
    shortable: bool = False
    easy_to_borrow: bool = False
    fractionable: bool = False
    attributes: list[str] | None = None


class Order(BrokerModel):
    id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    status: OrderStatus
    qty: Money | None = None
    notional: Money | None = None
    filled_qty: Money = Decimal(0)
    filled_avg_price: Money | None = None
    limit_price: Money | None = None
    stop_price: Money | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    extended_hours: bool = False
    asset_id: str = ""
    asset_class: AssetClass = AssetClass.US_EQUITY
    created_at: UtcDatetime
    updated_at: UtcDatetime | None = None
    submitted_at: UtcDatetime | None = None
    filled_at: UtcDatetime | None = None
    expired_at: UtcDatetime | None = None
    canceled_at: UtcDatetime | None = None
    failed_at: UtcDatetime | None = None
    replaced_at: UtcDatetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_order_class(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("order_class") == "":
            data = {**data, "order_class": "simple"}
        return data

    @property
    def remaining_qty(self) -> Decimal | None:
        return None if self.qty is None else self.qty - self.filled_qty

    def to_alpaca(self) -> dict[str, Any]:
        body = super().to_alpaca()
        body["order_type"] = body["type"]
        if body.get("order_class") == "simple":
            body["order_class"] = ""
        return body


class OrderRequest(BrokerModel):
    """What the execution layer asks a broker to place. Exactly one of ``qty`` / ``notional``."""

    symbol: str
    side: OrderSide
    type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    client_order_id: str
    qty: Money | None = None
    notional: Money | None = None
    limit_price: Money | None = None
    extended_hours: bool = False

    @model_validator(mode="after")
    def _check(self) -> OrderRequest:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("exactly one of qty and notional is required")
        if self.type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("limit orders need limit_price")
        if len(self.client_order_id) > 48:
            raise ValueError("client_order_id longer than 48 characters")
        return self

    def to_alpaca(self) -> dict[str, Any]:
        """Alpaca POST /v2/orders body: decimals as strings (qty ≤ 9 dp), no null fields."""
        body: dict[str, Any] = {
            "symbol": self.symbol,
            "side": self.side.value,
            "type": self.type.value,
            "time_in_force": self.time_in_force.value,
            "client_order_id": self.client_order_id,
        }
        if self.qty is not None:
            body["qty"] = format(self.qty.quantize(Decimal("0.000000001")).normalize(), "f")
        if self.notional is not None:
            body["notional"] = format(self.notional.quantize(Decimal("0.01")), "f")
        if self.limit_price is not None:
            body["limit_price"] = format(self.limit_price, "f")
        if self.extended_hours:
            body["extended_hours"] = True
        return body


class MarketClock(BrokerModel):
    timestamp: UtcDatetime
    is_open: bool
    next_open: UtcDatetime
    next_close: UtcDatetime


class CalendarDay(BrokerModel):
    """One trading session. ``open``/``close`` are New York wall-clock times as Alpaca sends them."""

    date: date
    open: time
    close: time

    @property
    def open_at(self) -> datetime:
        return datetime.combine(self.date, self.open, NEW_YORK).astimezone(UTC)

    @property
    def close_at(self) -> datetime:
        return datetime.combine(self.date, self.close, NEW_YORK).astimezone(UTC)

    def to_alpaca(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "open": self.open.strftime("%H:%M"),
            "close": self.close.strftime("%H:%M"),
            "session_open": "0400",
            "session_close": "2000",
            "settlement_date": (self.date + timedelta(days=1)).isoformat(),
        }


class Bar(BrokerModel):
    """A daily bar. Prices are floats (market data feeds float64 indicators); ``t`` is the session's NY midnight.

    Bars come by the hundred thousand, so unknown fields are ignored (not kept as extras: one dict less per bar) and
    ``t`` validates natively from JSON when it is already UTC (see ``BarTime``).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    t: BarTime
    o: float
    h: float
    low: float = Field(alias="l")
    c: float
    v: float = 0.0
    n: int | None = None
    vw: float | None = None

    @property
    def session_date(self) -> date:
        return self.t.astimezone(NEW_YORK).date()


class Quote(BrokerModel):
    symbol: str
    timestamp: UtcDatetime = Field(alias="t")
    bid_price: Money = Field(alias="bp")
    ask_price: Money = Field(alias="ap")
    bid_size: Money = Field(default=Decimal(0), alias="bs")
    ask_size: Money = Field(default=Decimal(0), alias="as")

    def to_alpaca(self) -> dict[str, Any]:
        """Market data sends prices and sizes as JSON numbers, unlike trading money fields."""
        return {
            "t": self.timestamp.isoformat().replace("+00:00", "Z"),
            "bp": float(self.bid_price),
            "ap": float(self.ask_price),
            "bs": float(self.bid_size),
            "as": float(self.ask_size),
            "bx": "V",
            "ax": "V",
            "c": ["R"],
            "z": "C",
        }

    @property
    def mid(self) -> Decimal:
        return (self.bid_price + self.ask_price) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask_price - self.bid_price


class TradeUpdate(BrokerModel):
    """One ``trade_updates`` event. ``price``/``qty`` are for this fill; ``order`` carries cumulative truth."""

    event: TradeEvent
    order: Order
    execution_id: str | None = None
    event_id: str | None = None
    timestamp: UtcDatetime | None = None
    at: UtcDatetime | None = None
    price: Money | None = None
    qty: Money | None = None
    position_qty: Money | None = None
    synthetic: bool = False  # produced by REST reconciliation, not received on the stream

    @property
    def dedupe_key(self) -> tuple[str, str, str]:
        """(order id, event, execution id / event id / order's updated_at) — identical for a replayed event."""
        marker = self.execution_id or self.event_id
        if marker is None:
            marker = self.order.updated_at.isoformat() if self.order.updated_at else str(self.order.filled_qty)
        return (self.order.id, self.event.value, marker)


class FillActivity(BrokerModel):
    """A row of GET /v2/account/activities/FILL."""

    id: str
    activity_type: str = "FILL"
    order_id: str
    symbol: str
    side: OrderSide
    qty: Money
    price: Money
    cum_qty: Money
    leaves_qty: Money
    transaction_time: UtcDatetime
    type: str = "fill"


class SubmitStatus(StrEnum):
    SUBMITTED = "submitted"  # the broker answered the POST with the order
    ADOPTED = "adopted"  # the POST's outcome was unclear; a lookup by client_order_id found the order
    UNKNOWN = "unknown"  # the POST's outcome is unclear and the lookup could not settle it


class SubmitResult(BrokerModel):
    """Outcome of submitting an order. ``order`` is set unless ``status`` is UNKNOWN."""

    status: SubmitStatus
    client_order_id: str
    order: Order | None = None
    detail: str = ""
