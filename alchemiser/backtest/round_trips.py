"""Trade-level accounting of a backtest: round trips per strategy book and symbol, matched FIFO (pure).

Definitions (the report states them too):

- A **book fill** is one change of one strategy book's holding of one symbol: its share of an account fill (and
  of that fill's commission), an internal cross between books at the plan's reference price (no commission), a
  split (the open lots take the ratio: quantities x r, prices / r, cost unchanged) or income credited to the book
  (a dividend, cash in lieu of fractions: realised P&L of the trade open in that symbol, else of its latest one).
- A **trade** (round trip) is the life of one book's position in one symbol: it opens with the buy that takes the
  book from flat to long and closes with the sell that brings it back to flat. Buys and sells in between (rebalance
  adds and trims, i.e. partial closes) belong to the same trade.
- Lots are matched **FIFO**: each sell closes the oldest open lots first and realises ``(sell - lot price) x qty``.
- A trade's **net P&L** = realised P&L + unrealised P&L (only while open: the remaining lots at the last close)
  - the commissions of all its fills. Its **return** = net P&L / the cost of every lot it bought.
- **Holding time** = calendar days from the opening buy to the closing sell (to the last session when still open).
- **Win rate** = closed trades with net P&L > 0 / closed trades; **profit factor** = sum of the winners' net P&L /
  |sum of the losers' net P&L| (``None`` without a losing trade). Trades still open at the end are listed and
  counted apart, never in these ratios.

Quantities below ``FLAT`` shares (the books' rounding) count as flat: a residue left when a trade closes is
written off at its cost and its later sale credited to that trade, so the trades' P&L always adds up to the books'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd

ZERO = Decimal(0)
FLAT = Decimal("0.000001")

BOOK_FILL_COLUMNS = ("date", "book", "symbol", "side", "qty", "price", "commission", "kind", "ratio", "amount")
ROUND_TRIP_COLUMNS = (
    "book",
    "symbol",
    "opened",
    "closed",
    "status",
    "holding_days",
    "bought_qty",
    "avg_entry",
    "sold_qty",
    "avg_exit",
    "realized_pnl",
    "unrealized_pnl",
    "commissions",
    "net_pnl",
    "return_pct",
    "fills",
)


@dataclass(frozen=True, slots=True)
class BookFill:
    """One change of a book's holding (``side`` is ``buy`` or ``sell``; ``kind`` is ``fill`` or ``cross``)."""

    day: date
    book: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    commission: Decimal = ZERO
    kind: str = "fill"  # fill, cross, split (side "split", ``ratio``) or income (side "income", ``amount``)
    ratio: Decimal = Decimal(1)
    amount: Decimal = ZERO


@dataclass
class _Lot:
    qty: Decimal
    price: Decimal


@dataclass
class RoundTrip:
    """One trade of one book in one symbol (see the module docstring)."""

    book: str
    symbol: str
    opened: date
    closed: date | None = None
    bought_qty: Decimal = ZERO
    bought_cost: Decimal = ZERO
    sold_qty: Decimal = ZERO
    sold_value: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    commissions: Decimal = ZERO
    fills: int = 0
    end: date | None = None  # the last session, for a trade still open
    lots: deque[_Lot] = field(default_factory=deque, repr=False)

    @property
    def is_open(self) -> bool:
        return self.closed is None

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.commissions

    @property
    def holding_days(self) -> int:
        last = self.closed or self.end or self.opened
        return (last - self.opened).days

    @property
    def return_pct(self) -> Decimal | None:
        return self.net_pnl / self.bought_cost if self.bought_cost > 0 else None

    def row(self) -> dict[str, object]:
        return {
            "book": self.book,
            "symbol": self.symbol,
            "opened": self.opened.isoformat(),
            "closed": None if self.closed is None else self.closed.isoformat(),
            "status": "open" if self.is_open else "closed",
            "holding_days": self.holding_days,
            "bought_qty": self.bought_qty,
            "avg_entry": self.bought_cost / self.bought_qty if self.bought_qty else None,
            "sold_qty": self.sold_qty,
            "avg_exit": self.sold_value / self.sold_qty if self.sold_qty else None,
            "realized_pnl": self.realized_pnl,
            "unrealized_pnl": self.unrealized_pnl,
            "commissions": self.commissions,
            "net_pnl": self.net_pnl,
            "return_pct": self.return_pct,
            "fills": self.fills,
        }


def round_trips(
    fills: Iterable[BookFill], marks: Mapping[str, Decimal] | None = None, end: date | None = None
) -> list[RoundTrip]:
    """The trades of ``fills`` (in time order), ordered by opening date; ``marks`` value what is still open at
    ``end``. Raises ``ValueError`` naming the book and symbol when a sell exceeds what the book holds."""
    marks = marks or {}
    open_trips: dict[tuple[str, str], RoundTrip] = {}
    done: list[RoundTrip] = []
    latest: dict[tuple[str, str], RoundTrip] = {}
    for fill in fills:
        key = (fill.book, fill.symbol)
        trip = open_trips.get(key)
        if fill.side == "income":
            target = trip or latest.get(key)
            if target is not None:
                target.realized_pnl += fill.amount
            continue
        if fill.side == "split":
            if trip is not None:
                _split(trip, fill.ratio)
                _close_if_flat(trip, fill.day, open_trips, done)
            continue
        if fill.qty <= 0:
            raise ValueError(f"{fill.day} {fill.book} {fill.symbol}: fill quantity must be > 0, got {fill.qty}")
        if fill.side == "buy":
            if trip is None:
                trip = open_trips[key] = latest[key] = RoundTrip(fill.book, fill.symbol, fill.day)
            trip.lots.append(_Lot(fill.qty, fill.price))
            trip.bought_qty += fill.qty
            trip.bought_cost += fill.qty * fill.price
        elif fill.side == "sell":
            if trip is None:
                residue_of = latest.get(key)
                if fill.qty > FLAT or residue_of is None:
                    raise ValueError(f"{fill.day} {fill.book} {fill.symbol}: sell of {fill.qty} with nothing held")
                # the books sell a rounding residue after the trade closed (which wrote it off at cost)
                residue_of.realized_pnl += fill.qty * fill.price - fill.commission
                continue
            _close_fifo(trip, fill)
        else:
            raise ValueError(f"{fill.day} {fill.book} {fill.symbol}: side must be buy or sell, got {fill.side!r}")
        trip.commissions += fill.commission
        trip.fills += 1
        _close_if_flat(trip, fill.day, open_trips, done)
    for trip in open_trips.values():
        mark = marks.get(trip.symbol)
        trip.end = end
        if mark is not None:
            trip.unrealized_pnl = sum(((mark - lot.price) * lot.qty for lot in trip.lots), ZERO)
        done.append(trip)
    done.sort(key=lambda t: (t.opened, t.book, t.symbol))
    return done


def _close_if_flat(
    trip: RoundTrip, day: date, open_trips: dict[tuple[str, str], RoundTrip], done: list[RoundTrip]
) -> None:
    if sum((lot.qty for lot in trip.lots), ZERO) <= FLAT:
        # a rounding residue closes at no value (its later sale, if any, is credited to this trade): totals exact
        trip.realized_pnl -= sum((lot.qty * lot.price for lot in trip.lots), ZERO)
        trip.closed = day
        trip.lots.clear()
        done.append(open_trips.pop((trip.book, trip.symbol)))


def _split(trip: RoundTrip, ratio: Decimal) -> None:
    """Quantities x ``ratio``, prices / ``ratio``: the cost of every lot (and the trade's averages) unchanged."""
    for lot in trip.lots:
        lot.qty *= ratio
        if ratio:
            lot.price /= ratio
    trip.bought_qty *= ratio
    trip.sold_qty *= ratio


def _close_fifo(trip: RoundTrip, fill: BookFill) -> None:
    left = fill.qty
    while left > 0 and trip.lots:
        lot = trip.lots[0]
        take = min(left, lot.qty)
        trip.realized_pnl += (fill.price - lot.price) * take
        lot.qty -= take
        left -= take
        if lot.qty <= 0:
            trip.lots.popleft()
    if left > FLAT:
        raise ValueError(f"{fill.day} {fill.book} {fill.symbol}: sell of {fill.qty} exceeds the {fill.qty - left} held")
    trip.sold_qty += fill.qty
    trip.sold_value += fill.qty * fill.price


def round_trip_frame(trips: Iterable[RoundTrip]) -> pd.DataFrame:
    """One row per trade (``ROUND_TRIP_COLUMNS``; money and quantities as exact ``Decimal``)."""
    return pd.DataFrame([t.row() for t in trips], columns=list(ROUND_TRIP_COLUMNS))


def book_fill_frame(fills: Iterable[BookFill]) -> pd.DataFrame:
    rows = [(f.day, f.book, f.symbol, f.side, f.qty, f.price, f.commission, f.kind, f.ratio, f.amount) for f in fills]
    return pd.DataFrame(rows, columns=list(BOOK_FILL_COLUMNS))
