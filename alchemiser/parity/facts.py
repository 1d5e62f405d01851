"""What the parity monitor reads about one session, as plain values (no store, no clock).

``OrderFacts`` (``alchemiser.portfolio.tca``: the backtest report reads the same shape) is one plan line as
execution worked it. ``LiveSession`` is the account around one session: its state before the decision, the orders,
and its equity at the close. Fees are what the fill data says: Alpaca's and the simulated exchange's equity fills
carry no commission, so live fees are 0 unless a source records them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from alchemiser.portfolio.tca import ZERO, OrderFacts

__all__ = ["ZERO", "LiveSession", "OrderFacts"]


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
