"""Corporate actions as the books see them (pure): non-trade activities → position changes and book adjustments.

* ``position_deltas`` — signed share change per symbol that a batch of activities explains (reconciliation adds it
  to the snapshot and the fills, so a split overnight is not a break).
* ``book_events`` — the same batch as events: a **split** (ratio = new ÷ old shares, plus cash in lieu), a
  **rename** (old → new symbol, ratio for a stock merger), a **cash-out** (shares removed for cash: a closed fund or
  a cash merger), **new shares** (a spin-off: they belong to no strategy, so ``unattributed``) and **cash** (income or
  expense on a symbol: dividends, interest, fees).
* ``apply_event`` — adjusts ``Books`` the way the account changed: quantity × ratio with the total cost kept (so the
  average cost per share ÷ ratio; the ratio is the shares delivered ÷ the shares removed), cash in lieu of
  fractional leftovers credited as realised P&L (the fractions' cost stays in the shares kept, so the strategy's
  total P&L is unchanged by the split),
  cash credited as realised P&L to the strategies that held the shares (pro rata; ``holders`` overrides the current
  holdings, e.g. the holdings on the record date), a cash-out realised like a sale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from alchemiser.broker.activities import ActivityTreatment, NonTradeActivity
from alchemiser.portfolio.books import QTY_QUANTUM, UNATTRIBUTED, Books

ZERO = Decimal(0)
EventKind = Literal["split", "rename", "cash_out", "new_shares", "cash"]


@dataclass(frozen=True, slots=True)
class BookEvent:
    kind: EventKind
    symbol: str
    day: date
    activity_type: str
    activity_ids: tuple[str, ...]
    ratio: Decimal = Decimal(1)  # split / rename: new shares per old
    new_symbol: str = ""  # rename
    qty: Decimal = ZERO  # new_shares: how many arrived; cash_out: how many left; split: shares after
    amount: Decimal = ZERO  # cash: signed; split: cash in lieu; cash_out: proceeds
    ordinary: bool = True

    def describe(self) -> str:
        if self.kind == "split":
            lieu = f", cash in lieu {self.amount:f}" if self.amount else ""
            return f"{self.symbol} split {self.ratio.normalize():f} new per old on {self.day}{lieu}"
        if self.kind == "rename":
            return f"{self.symbol} renamed {self.new_symbol} on {self.day} (ratio {self.ratio.normalize():f})"
        if self.kind == "cash_out":
            return f"{self.symbol}: {self.qty:f} shares removed for {self.amount:f} cash on {self.day}"
        if self.kind == "new_shares":
            return f"{self.symbol}: {self.qty:f} new shares ({self.activity_type}) on {self.day}"
        return f"{self.symbol or 'account'}: {self.activity_type} {self.amount:f} on {self.day}"


def _live(activities: Iterable[NonTradeActivity]) -> list[NonTradeActivity]:
    return [a for a in activities if not a.canceled]


def position_deltas(activities: Iterable[NonTradeActivity]) -> dict[str, Decimal]:
    """symbol → signed shares the corporate actions among ``activities`` added or removed."""
    deltas: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for a in _live(activities):
        if a.treatment is ActivityTreatment.POSITION and a.symbol and a.qty:
            deltas[a.symbol] += a.qty
    return {s: q for s, q in deltas.items() if q != 0}


def book_events(activities: Sequence[NonTradeActivity]) -> list[BookEvent]:
    """Group the activities into the events that change the books, oldest first."""
    events: list[BookEvent] = []
    groups: dict[tuple[str, date], list[NonTradeActivity]] = defaultdict(list)
    for a in _live(activities):
        if a.treatment is ActivityTreatment.POSITION:
            groups[(a.activity_type, a.date)].append(a)
        elif a.treatment in (ActivityTreatment.INCOME, ActivityTreatment.EXPENSE) and a.net_amount:
            events.append(BookEvent("cash", a.symbol or "", a.date, a.activity_type, (a.id,), amount=a.net_amount))
    for (kind, day), rows in groups.items():
        events.extend(_position_events(kind, day, rows))
    events.sort(key=lambda e: (e.day, e.kind != "split", e.symbol))
    return events


def _position_events(kind: str, day: date, rows: list[NonTradeActivity]) -> list[BookEvent]:
    ordinary = rows[0].ordinary
    out_by: dict[str, Decimal] = defaultdict(lambda: ZERO)
    in_by: dict[str, Decimal] = defaultdict(lambda: ZERO)
    cash_by: dict[str, Decimal] = defaultdict(lambda: ZERO)
    ids: dict[str, list[str]] = defaultdict(list)
    for a in rows:
        symbol = a.symbol or ""
        ids[symbol].append(a.id)
        qty = a.qty or ZERO
        (out_by if qty < 0 else in_by)[symbol] += abs(qty)
        cash_by[symbol] += a.net_amount
    events: list[BookEvent] = []
    outs = [s for s in out_by if out_by[s] > 0]
    ins = [s for s in in_by if in_by[s] > 0 and s not in outs]
    all_ids = tuple(i for group in ids.values() for i in group)
    for symbol in outs:
        old = out_by[symbol]
        if in_by[symbol] > 0:  # the same symbol left and came back: a split
            ratio = in_by[symbol] / old
            events.append(
                BookEvent(
                    "split", symbol, day, kind, tuple(ids[symbol]), ratio, "", in_by[symbol], cash_by[symbol], ordinary
                )
            )
        elif len(outs) == 1 and len(ins) == 1:  # one symbol became another: a rename (or a stock merger)
            new = ins.pop()
            ratio = in_by[new] / old
            events.append(
                BookEvent("rename", symbol, day, kind, all_ids, ratio, new, in_by[new], cash_by[symbol], ordinary)
            )
        else:
            events.append(
                BookEvent(
                    "cash_out",
                    symbol,
                    day,
                    kind,
                    tuple(ids[symbol]),
                    qty=old,
                    amount=cash_by[symbol],
                    ordinary=ordinary,
                )
            )
    for symbol in ins:
        events.append(
            BookEvent("new_shares", symbol, day, kind, tuple(ids[symbol]), qty=in_by[symbol], ordinary=ordinary)
        )
    return events


def _pro_rata(total: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    names = sorted(n for n, w in weights.items() if w > 0)
    whole = sum((weights[n] for n in names), ZERO)
    if not names or whole <= 0:
        return {}
    parts: dict[str, Decimal] = {}
    for i, name in enumerate(names):
        parts[name] = total - sum(parts.values(), ZERO) if i == len(names) - 1 else total * weights[name] / whole
    return parts


def holders_of(books: Books, symbol: str) -> dict[str, Decimal]:
    return {n: b.qty(symbol) for n, b in books.books.items() if b.qty(symbol) > 0}


def apply_event(books: Books, event: BookEvent, *, holders: Mapping[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Adjust ``books`` for one event; returns strategy → the quantity (or cash) it concerned, for the audit."""
    if event.kind == "split":
        return _split(books, event)
    if event.kind == "rename":
        return _rename(books, event)
    if event.kind == "cash_out":
        held = holders_of(books, event.symbol)
        total = sum(held.values(), ZERO)
        price = event.amount / total if total > 0 else ZERO
        for name, qty in held.items():
            books.book(name).holding(event.symbol).sell(qty, price)
        books.pending.pop(event.symbol, None)
        return held
    if event.kind == "new_shares":
        books.book(UNATTRIBUTED).holding(event.symbol).buy(event.qty, ZERO)
        return {UNATTRIBUTED: event.qty}
    weights = dict(holders) if holders is not None else holders_of(books, event.symbol)
    parts = _pro_rata(event.amount, weights) if event.symbol else {}
    if not parts:
        parts = {UNATTRIBUTED: event.amount}
    for name, amount in parts.items():
        books.book(name).holding(event.symbol).realized_pnl += amount
    return parts


def _split(books: Books, event: BookEvent) -> dict[str, Decimal]:
    held = holders_of(books, event.symbol)
    after: dict[str, Decimal] = {}
    for name, qty in held.items():
        holding = books.book(name).holding(event.symbol)
        holding.qty = (qty * event.ratio).quantize(QTY_QUANTUM)  # total cost unchanged: avg cost ÷ ratio
        after[name] = holding.qty
    pending = books.pending.get(event.symbol)
    if pending:
        books.pending[event.symbol] = {n: (d * event.ratio).quantize(QTY_QUANTUM) for n, d in pending.items()}
    if event.amount:  # cash in lieu of the fractions: realised, pro rata (their cost stays in the shares kept)
        for name, part in _pro_rata(event.amount, after).items():
            books.book(name).holding(event.symbol).realized_pnl += part
    return after


def _rename(books: Books, event: BookEvent) -> dict[str, Decimal]:
    moved: dict[str, Decimal] = {}
    for name, book in books.books.items():
        old = book.holdings.pop(event.symbol, None)
        if old is None:
            continue
        new = book.holding(event.new_symbol)
        new.qty += (old.qty * event.ratio).quantize(QTY_QUANTUM)
        new.cost += old.cost
        new.realized_pnl += old.realized_pnl
        moved[name] = new.qty
    pending = books.pending.pop(event.symbol, None)
    if pending:
        books.pending[event.new_symbol] = {n: (d * event.ratio).quantize(QTY_QUANTUM) for n, d in pending.items()}
    return moved
