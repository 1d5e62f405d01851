"""Per-strategy P&L with the daemon's own per-strategy books (``alchemiser.portfolio.Books``).

Every executed plan sets the books' intents and crosses opposite wishes internally (``cross_from_plan``); every
fill is split between the strategies whose wish it serves (``apply_fill``), and so is its commission. A strategy's
value is its realised P&L plus its unrealised P&L at the close, minus the commissions it paid; its contribution on a
session is the change of that value over the previous session's account equity. The books always add up to the
account, so the contributions add up to the account's daily return (the ``unattributed`` book takes what no
strategy asked for, such as rounding).

Every change of a book's holding is also kept as a ``BookFill`` (the ledger the trade-level report matches FIFO):
a book's share of a fill with its share of the commission, a cross/reconciliation at the plan's price, a split
(its ratio) or income (a dividend, cash in lieu of fractions) credited to the book.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from alchemiser.backtest.fills import Fill
from alchemiser.backtest.round_trips import BookFill, RoundTrip, round_trips
from alchemiser.broker.enums import OrderSide
from alchemiser.portfolio import UNATTRIBUTED, Books, Plan

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BookDay:
    """Per column (strategies then ``unattributed``): the session's return contribution, the cumulative value
    (realised + unrealised P&L - commissions) and the market value held at the close."""

    contributions: list[float]
    values: list[float]
    invested: list[float]


class StrategyAttribution:
    """Daily per-strategy contributions from the books; columns are the strategy names then ``unattributed``."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = [*names, UNATTRIBUTED]
        self.books = Books(list(names))
        self.ledger: list[BookFill] = []
        self._commissions: dict[str, Decimal] = dict.fromkeys(self.names, ZERO)
        self._values: dict[str, Decimal] = dict.fromkeys(self.names, ZERO)
        self._marks: dict[str, Decimal] = {}

    def _holdings(self) -> dict[tuple[str, str], Decimal]:
        return {(n, s): h.qty for n, b in self.books.books.items() for s, h in b.holdings.items() if h.qty}

    def _realized(self) -> dict[tuple[str, str], Decimal]:
        return {(n, s): h.realized_pnl for n, b in self.books.books.items() for s, h in b.holdings.items()}

    def adjusted(self, day: date, apply: Callable[[], object]) -> None:
        """Run ``apply`` (the session's corporate actions on the books) and record what it did to each holding."""
        held, realized = self._holdings(), self._realized()
        apply()
        held_after, realized_after = self._holdings(), self._realized()
        for book, symbol in sorted(held.keys() | realized_after.keys()):
            before, after = held.get((book, symbol), ZERO), held_after.get((book, symbol), ZERO)
            if before > 0 and after != before:
                self.ledger.append(
                    BookFill(day, book, symbol, "split", after, ZERO, kind="split", ratio=after / before)
                )
            income = realized_after.get((book, symbol), ZERO) - realized.get((book, symbol), ZERO)
            if income:
                self.ledger.append(BookFill(day, book, symbol, "income", ZERO, ZERO, kind="income", amount=income))

    def _record(self, day: date, before: dict[tuple[str, str], Decimal], price: Callable[[str], Decimal]) -> None:
        after = self._holdings()
        for book, symbol in sorted(before.keys() | after.keys()):
            change = after.get((book, symbol), ZERO) - before.get((book, symbol), ZERO)
            if change:
                side = "buy" if change > 0 else "sell"
                self.ledger.append(BookFill(day, book, symbol, side, abs(change), price(symbol), kind="cross"))

    def planned(self, plan: Plan, day: date) -> None:
        """A plan is about to be executed: set the strategies' intents and cross opposite wishes."""
        before = self._holdings()
        self.books.cross_from_plan(plan)
        self._record(day, before, lambda symbol: plan.line(symbol).price)

    def filled(self, symbol: str, side: OrderSide, qty: Decimal, fill: Fill, day: date) -> None:
        for share in self.books.apply_fill(symbol, side, qty, fill.price):
            commission = fill.commission * share.qty / qty if fill.commission and qty else ZERO
            self._commissions[share.strategy] = self._commissions.get(share.strategy, ZERO) + commission
            self.ledger.append(
                BookFill(day, share.strategy, symbol, side.value, share.qty, fill.price, commission, "fill")
            )

    def closed(self, mark: Callable[[str], Decimal], previous_equity: float) -> BookDay:
        """Each column's contribution to the session's return; ``mark(symbol)`` is the symbol's close."""
        held = {sym for book in self.books.books.values() for sym, h in book.holdings.items() if h.qty}
        marks = {sym: mark(sym) for sym in held}
        self._marks.update(marks)
        day = BookDay([], [], [])
        for name in self.names:
            book = self.books.books.get(name)
            value = invested = ZERO
            if book is not None:
                value = book.realized_pnl + book.unrealized_pnl(marks) - self._commissions.get(name, ZERO)
                invested = book.market_value(marks)
            change = value - self._values[name]
            self._values[name] = value
            day.contributions.append(float(change) / previous_equity if previous_equity > 0 else 0.0)
            day.values.append(float(value))
            day.invested.append(float(invested))
        return day

    def round_trips(self, end: date) -> list[RoundTrip]:
        """The books' trades; those still open are valued at the last close seen."""
        return round_trips(self.ledger, self._marks, end)
