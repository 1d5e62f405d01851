"""What the parity monitor reads about one session, as plain values (no store, no clock).

``OrderFacts`` (``alchemiser.portfolio.tca``: the backtest report reads the same shape) is one plan line as
execution worked it. ``DecisionLeg`` is one decision of the session (the scheduled one, a manual rebalance after it,
a retried decision): its orders, the planner's prices, the targets decided live and by the replay. ``LiveSession``
is the account around one session: its state before the first decision, every decision in order, and its equity at
the close. Fees are what the broker reports: per order (``OrderFacts.fees``) and, for a fee no order carries, the
session's ``other_fees``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from alchemiser.portfolio.tca import ZERO, OrderFacts

__all__ = ["ZERO", "DecisionLeg", "LiveSession", "OrderFacts"]

#: strategy -> its replayed allocation (None: the replay failed closed, the book drifts)
Allocations = Mapping[str, Mapping[str, Decimal] | None]


@dataclass(frozen=True, slots=True)
class DecisionLeg:
    """One decision of a session: its orders, the planner's prices and the targets (merged by capital weight)."""

    decision_id: str
    orders: tuple[OrderFacts, ...]
    decision_prices: Mapping[str, Decimal]
    live_targets: Mapping[str, Decimal]  # merged target weight per symbol as decided live
    replay_targets: Mapping[str, Decimal]  # the same, as the replay decides with the bars known now
    #: per strategy, the replay's allocation: the shadow applies each strategy's rebalance rule to it (empty: the
    #: shadow trades to ``replay_targets`` exactly, one book)
    replay_allocations: Allocations = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveSession:
    """The account around one session: before its first decision, every decision in order, and the close.

    ``start_equity`` is the account's equity as the broker marked it before the first decision (the previous
    close's snapshot); ``end_equity`` the equity at this session's close. ``previous_closes``/``closes`` are the bar
    closes (as known now) of the session before and of this session; ``previous_session`` that session's date."""

    session: date
    start_cash: Decimal
    start_positions: Mapping[str, Decimal]
    start_equity: Decimal
    end_equity: Decimal
    end_positions: Mapping[str, Decimal]
    decisions: tuple[DecisionLeg, ...]
    previous_closes: Mapping[str, Decimal]
    closes: Mapping[str, Decimal]
    previous_session: date | None = None
    other_fees: Decimal = ZERO  # fees the broker charged this session that no order of ours carries

    def __post_init__(self) -> None:
        if not self.decisions:
            raise ValueError(f"{self.session}: a parity session needs at least one decision")

    @property
    def decision_id(self) -> str:
        """The session's last decision (the one whose targets the account ends on)."""
        return self.decisions[-1].decision_id

    @property
    def orders(self) -> tuple[OrderFacts, ...]:
        """Every decision's orders, in decision order."""
        return tuple(o for leg in self.decisions for o in leg.orders)

    @property
    def fees(self) -> Decimal:
        return sum((o.fees for o in self.orders), ZERO) + self.other_fees

    def prices_along(self, symbol: str) -> list[Decimal]:
        """The symbol's price path through the session: the previous close, each decision's price (a decision that
        did not price it keeps the last point), the close."""
        path = [self.previous_close_of(symbol)]
        for leg in self.decisions:
            path.append(leg.decision_prices.get(symbol, path[-1]))
        path.append(self.close_of(symbol))
        return path

    def price_at_decision(self, symbol: str, leg: int = 0) -> Decimal:
        """The planner's price at decision ``leg``, else the last point before it (see ``prices_along``)."""
        price = self.previous_close_of(symbol)
        for earlier in self.decisions[: leg + 1]:
            price = earlier.decision_prices.get(symbol, price)
        return price

    def close_of(self, symbol: str) -> Decimal:
        if symbol in self.closes:
            return self.closes[symbol]
        if symbol in self.previous_closes:
            return self.previous_closes[symbol]
        raise ValueError(f"{self.session}: no close for {symbol} (no bar this session nor the one before)")

    def previous_close_of(self, symbol: str) -> Decimal:
        if symbol in self.previous_closes:
            return self.previous_closes[symbol]
        for leg in self.decisions:
            if symbol in leg.decision_prices:
                return leg.decision_prices[symbol]
        return self.close_of(symbol)
