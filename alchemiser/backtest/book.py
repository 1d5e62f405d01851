"""The simulated cash account: cash and long positions in ``Decimal``, each fill's costs paid once from cash.

``equity = cash + sum(qty x price)`` by construction; a buy never takes cash below zero (``affordable`` cuts it),
a sell of the whole position (or more, after rounding) closes it exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from alchemiser.backtest.fills import Fill
from alchemiser.errors import RiskError

ZERO = Decimal(0)


@dataclass
class Book:
    """Cash, positions, the equity high-water mark and the latched kill switch of one run."""

    cash: Decimal
    positions: dict[str, Decimal] = field(default_factory=dict)
    high_water_mark: Decimal = ZERO
    kill_switch: bool = False

    def equity_at(self, prices: Mapping[str, Decimal]) -> Decimal:
        return self.cash + sum((qty * prices[sym] for sym, qty in self.positions.items()), ZERO)

    def buy(self, symbol: str, qty: Decimal, fill: Fill) -> Decimal:
        """Add ``qty`` at the fill price; returns the cash spent (notional + commission)."""
        cost = qty * fill.price + fill.commission
        if cost > self.cash:
            raise RiskError("cash_account", f"buy of {qty} {symbol} costs {cost}, more than the cash {self.cash}")
        self.cash -= cost
        self.positions[symbol] = self.positions.get(symbol, ZERO) + qty
        return cost

    def sell(self, symbol: str, qty: Decimal, fill: Fill, *, full_exit: bool) -> Decimal:
        """Remove ``qty`` at the fill price; returns the cash received (notional - commission)."""
        proceeds = qty * fill.price - fill.commission
        self.cash += proceeds
        left = self.positions.get(symbol, ZERO) - qty
        if left <= 0 or full_exit:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = left
        return proceeds


def affordable(cash: Decimal, price: Decimal, per_order: Decimal, per_share: Decimal, quantum: Decimal) -> Decimal:
    """The largest multiple of ``quantum`` shares whose cost ``qty x (price + per_share) + per_order`` fits."""
    room = cash - per_order
    if room <= 0 or price <= 0:
        return ZERO
    qty = (room / (price + per_share)).quantize(quantum, rounding=ROUND_DOWN)
    while qty > 0 and qty * (price + per_share) + per_order > cash:
        qty -= quantum
    return max(qty, ZERO)
