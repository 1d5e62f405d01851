"""What the parity monitor reads about one session, as plain values (no store, no clock).

``OrderFacts`` is one plan line as execution worked it (all its ladder steps together): the price the planner used
(the *decision price*), the quote the first order was priced from (the *arrival quote*), what filled, when, at which
ladder step and whether the market fallback was needed. ``LiveSession`` is the account around one session: its
state before the decision, the orders, and its equity at the close. Fees are what the fill data says: Alpaca's and
the simulated exchange's equity fills carry no commission, so live fees are 0 unless a source records them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal(0)
MARKET_STEP = 90  # execution's first market step (alchemiser.execution.ids.MARKET_STEP)


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """One plan line as execution worked it. ``side`` is ``buy``/``sell``; quantities are unsigned."""

    symbol: str
    side: str
    planned_qty: Decimal
    filled_qty: Decimal
    decision_price: Decimal
    avg_fill_price: Decimal | None = None
    arrival_bid: Decimal | None = None
    arrival_ask: Decimal | None = None
    fees: Decimal = ZERO
    decided_at: datetime | None = None
    last_fill_at: datetime | None = None
    filled_step: int | None = None  # the highest ladder step that filled (>= 90: a market order)
    strategies: Mapping[str, Decimal] = field(default_factory=dict)  # strategy -> share of the line (sums to 1)

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"{self.symbol}: order side must be 'buy' or 'sell', got {self.side!r}")
        if self.planned_qty < 0 or self.filled_qty < 0:
            raise ValueError(f"{self.symbol}: quantities must be >= 0, got {self.planned_qty}/{self.filled_qty}")
        if self.decision_price <= 0:
            raise ValueError(f"{self.symbol}: decision price must be > 0, got {self.decision_price}")
        if self.filled_qty > 0 and (self.avg_fill_price is None or self.avg_fill_price <= 0):
            raise ValueError(f"{self.symbol}: {self.filled_qty} filled without a fill price")

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def arrival_mid(self) -> Decimal | None:
        if self.arrival_bid is None or self.arrival_ask is None:
            return None
        return (self.arrival_bid + self.arrival_ask) / 2

    @property
    def market_fallback(self) -> bool:
        return self.filled_step is not None and self.filled_step >= MARKET_STEP

    @property
    def seconds_to_fill(self) -> float | None:
        if self.decided_at is None or self.last_fill_at is None:
            return None
        return max(0.0, (self.last_fill_at - self.decided_at).total_seconds())

    def is_late(self, late_after_seconds: float) -> bool:
        seconds = self.seconds_to_fill
        return seconds is not None and seconds > late_after_seconds


@dataclass(frozen=True, slots=True)
class LiveSession:
    """The account around one session: before the decision, the orders, and the close.

    ``start_equity`` is the account's equity as the broker marked it before the decision (the previous close's
    snapshot); ``end_equity`` the equity at this session's close. ``previous_closes``/``closes`` are the bar closes
    (as known now) of the session before and of this session; ``decision_prices`` the planner's prices."""

    session: date
    decision_id: str
    start_cash: Decimal
    start_positions: Mapping[str, Decimal]
    start_equity: Decimal
    end_equity: Decimal
    end_positions: Mapping[str, Decimal]
    orders: tuple[OrderFacts, ...]
    decision_prices: Mapping[str, Decimal]
    previous_closes: Mapping[str, Decimal]
    closes: Mapping[str, Decimal]
    live_targets: Mapping[str, Decimal]  # merged target weight per symbol as decided live
    replay_targets: Mapping[str, Decimal]  # the same, as the replay decides with the bars known now

    def price_at_decision(self, symbol: str) -> Decimal:
        """The planner's price, else the previous close (the as-of bar), else this close."""
        for source in (self.decision_prices, self.previous_closes, self.closes):
            if symbol in source:
                return source[symbol]
        raise ValueError(f"{self.session}: no price for {symbol} (not in the plan nor in the bars)")

    def close_of(self, symbol: str) -> Decimal:
        if symbol in self.closes:
            return self.closes[symbol]
        if symbol in self.previous_closes:
            return self.previous_closes[symbol]
        raise ValueError(f"{self.session}: no close for {symbol} (no bar this session nor the one before)")

    def previous_close_of(self, symbol: str) -> Decimal:
        return self.previous_closes.get(symbol, self.price_at_decision(symbol))
