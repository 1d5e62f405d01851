"""Per-strategy P&L with the daemon's own per-strategy books (``alchemiser.portfolio.Books``).

Every executed plan sets the books' intents and crosses opposite wishes internally (``cross_from_plan``); every
fill is split between the strategies whose wish it serves (``apply_fill``), and so is its commission. A strategy's
value is its realised P&L plus its unrealised P&L at the close, minus the commissions it paid; its contribution on a
session is the change of that value over the previous session's account equity. The books always add up to the
account, so the contributions add up to the account's daily return (the ``unattributed`` book takes what no
strategy asked for, such as rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from alchemiser.backtest.fills import Fill
from alchemiser.broker.enums import OrderSide
from alchemiser.portfolio import UNATTRIBUTED, Books, Plan

ZERO = Decimal(0)


class StrategyAttribution:
    """Daily per-strategy contributions from the books; columns are the strategy names then ``unattributed``."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = [*names, UNATTRIBUTED]
        self.books = Books(list(names))
        self._commissions: dict[str, Decimal] = dict.fromkeys(self.names, ZERO)
        self._values: dict[str, Decimal] = dict.fromkeys(self.names, ZERO)

    def planned(self, plan: Plan) -> None:
        """A plan is about to be executed: set the strategies' intents and cross opposite wishes."""
        self.books.cross_from_plan(plan)

    def filled(self, symbol: str, side: OrderSide, qty: Decimal, fill: Fill) -> None:
        for share in self.books.apply_fill(symbol, side, qty, fill.price):
            if fill.commission and qty:
                self._commissions[share.strategy] = (
                    self._commissions.get(share.strategy, ZERO) + fill.commission * share.qty / qty
                )

    def closed(self, mark: Callable[[str], Decimal], previous_equity: float) -> list[float]:
        """Each column's contribution to the session's return; ``mark(symbol)`` is the symbol's close."""
        held = {sym for book in self.books.books.values() for sym, h in book.holdings.items() if h.qty}
        marks = {sym: mark(sym) for sym in held}
        out: list[float] = []
        for name in self.names:
            book = self.books.books.get(name)
            value = ZERO
            if book is not None:
                value = book.realized_pnl + book.unrealized_pnl(marks) - self._commissions.get(name, ZERO)
            change = value - self._values[name]
            self._values[name] = value
            out.append(float(change) / previous_equity if previous_equity > 0 else 0.0)
        return out
