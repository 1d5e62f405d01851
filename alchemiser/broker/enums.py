"""Tolerant enums for broker values: an unknown value from the server maps to ``UNKNOWN``, never an exception.

The value sets are a superset of alpaca-py 0.44's enums (checked by a contract test) plus the events and statuses
Alpaca documents that alpaca-py lacks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class TolerantEnum(StrEnum):
    """A ``StrEnum`` whose unknown values become ``UNKNOWN`` instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            lowered = value.lower()
            for member in cls:
                if member.value == lowered:
                    return member
        return cls.__members__.get("UNKNOWN")


class OrderSide(TolerantEnum):
    BUY = "buy"
    SELL = "sell"
    UNKNOWN = "unknown"


class OrderType(TolerantEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"
    UNKNOWN = "unknown"


class TimeInForce(TolerantEnum):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"
    UNKNOWN = "unknown"


class OrderClass(TolerantEnum):
    SIMPLE = "simple"
    MLEG = "mleg"
    BRACKET = "bracket"
    OCO = "oco"
    OTO = "oto"
    UNKNOWN = "unknown"


class OrderStatus(TolerantEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    PENDING_REVIEW = "pending_review"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    STOPPED = "stopped"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    CALCULATED = "calculated"
    HELD = "held"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """No further fills can happen for this order id."""
        return self in _TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return not self.is_terminal and self is not OrderStatus.UNKNOWN


_TERMINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.REPLACED,
        OrderStatus.REJECTED,
    }
)


class TradeEvent(TolerantEnum):
    ACCEPTED = "accepted"
    CANCELED = "canceled"
    EXPIRED = "expired"
    FILL = "fill"
    NEW = "new"
    PARTIAL_FILL = "partial_fill"
    PENDING_CANCEL = "pending_cancel"
    PENDING_NEW = "pending_new"
    PENDING_REPLACE = "pending_replace"
    REJECTED = "rejected"
    REPLACED = "replaced"
    RESTATED = "restated"
    DONE_FOR_DAY = "done_for_day"
    CALCULATED = "calculated"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    ORDER_REPLACE_REJECTED = "order_replace_rejected"
    ORDER_CANCEL_REJECTED = "order_cancel_rejected"
    UNKNOWN = "unknown"


class PositionSide(TolerantEnum):
    LONG = "long"
    SHORT = "short"
    UNKNOWN = "unknown"


class AssetClass(TolerantEnum):
    US_EQUITY = "us_equity"
    US_OPTION = "us_option"
    CRYPTO = "crypto"
    CRYPTO_PERP = "crypto_perp"
    UNKNOWN = "unknown"


class AssetStatus(TolerantEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"
