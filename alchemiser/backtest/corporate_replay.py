"""The backtest loop's corporate-action step: splits and dividends applied to the account and the strategy books
at the open of each session, as the simulated exchange and Alpaca apply them.

* **Split** (ratio r, ex-date d): at the open of the first session on or after d every position becomes qty x r.
  A symbol traded in whole shares keeps the whole part; the fraction is paid in cash (cash in lieu) at the last
  close in post-split terms (``close[d-1] / r``). The strategy books follow (``portfolio.apply_event``: the total
  cost is kept, the cash in lieu is realised pro rata).
* **Dividend** (amount a per share, ex-date d, pay date p): the shares held at the open of d are entitled, and the
  strategies holding them then; on the first session on or after p the account is credited ``qty x a`` (to the
  cent) and the books pro rata.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.backtest.book import Book
from alchemiser.backtest.corporate import CorporateReplay
from alchemiser.backtest.timeline import Timeline
from alchemiser.portfolio import Books
from alchemiser.portfolio.corporate_actions import BookEvent, apply_event, holders_of
from alchemiser.sim.corporate_events import CorporateEvent

ZERO = Decimal(0)
CENT = Decimal("0.01")
LastClose = Callable[[int, str], Decimal]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class _Payment:
    symbol: str
    amount: Decimal
    holders: dict[str, Decimal]


@dataclass
class ReplayCounts:
    splits: int = 0
    dividends: int = 0
    cash_in_lieu: Decimal = ZERO
    dividend_cash: Decimal = ZERO

    def note(self) -> str:
        return (
            f"Corporate actions applied to the account: {self.splits} split(s) "
            f"(cash in lieu {self.cash_in_lieu:.2f}), {self.dividends} dividend payment(s) "
            f"totalling {self.dividend_cash:.2f}."
        )


class CorporateStep:
    """Events indexed by the session they take effect on; ``apply(i, day)`` runs before session i's decision.

    ``book`` is the account, ``books`` the strategy books, ``last_close(i, symbol)`` the quoted close of session i
    and ``fractionable(symbol)`` whether the symbol is traded in fractions (else splits pay cash in lieu).
    """

    def __init__(
        self,
        events: Sequence[CorporateEvent],
        sessions: pd.DatetimeIndex,
        *,
        book: Book,
        books: Books,
        last_close: LastClose,
        fractionable: Callable[[str], bool],
    ) -> None:
        self._book, self._books, self._last_close, self._fractionable = book, books, last_close, fractionable
        self._effective: dict[int, list[CorporateEvent]] = defaultdict(list)
        self._pay_index: dict[str, int] = {}
        for event in events:
            if event.kind not in ("split", "dividend"):
                continue
            i = int(sessions.searchsorted(pd.Timestamp(event.effective)))
            if i >= len(sessions):
                continue
            self._effective[i].append(event)
            if event.kind == "dividend":
                self._pay_index[event.key] = int(sessions.searchsorted(pd.Timestamp(event.paid_on)))
        self._payments: dict[int, list[_Payment]] = defaultdict(list)
        self.counts = ReplayCounts()

    def apply(self, i: int, day: date) -> None:
        for event in self._effective.pop(i, []):
            if event.kind == "split":
                self._split(i, day, event)
            else:
                self._entitle(event)
        for payment in self._payments.pop(i, []):
            self._book.cash += payment.amount
            cash = BookEvent("cash", payment.symbol, day, "DIV", (), amount=payment.amount)
            apply_event(self._books, cash, holders=payment.holders)
            self.counts.dividends += 1
            self.counts.dividend_cash += payment.amount

    def _split(self, i: int, day: date, event: CorporateEvent) -> None:
        book = self._book
        old = book.positions.get(event.symbol, ZERO)
        if old <= 0:
            return
        new = old * event.ratio
        lieu = ZERO
        if not self._fractionable(event.symbol):
            whole = new.to_integral_value(rounding=ROUND_DOWN)
            if whole != new and i > 0:
                lieu = ((new - whole) * self._last_close(i - 1, event.symbol) / event.ratio).quantize(CENT)
            new = whole
        book.cash += lieu
        if new > 0:
            book.positions[event.symbol] = new
        else:
            book.positions.pop(event.symbol, None)
        # the books take the account's own ratio (whole shares kept ÷ shares held) so they keep adding up to it
        split = BookEvent("split", event.symbol, day, "SSP", (), ratio=new / old, qty=new, amount=lieu)
        apply_event(self._books, split)
        self.counts.splits += 1
        self.counts.cash_in_lieu += lieu

    def _entitle(self, event: CorporateEvent) -> None:
        qty = self._book.positions.get(event.symbol, ZERO)
        amount = (qty * event.amount).quantize(CENT)
        if qty <= 0 or amount <= 0:
            return
        pay = self._pay_index.get(event.key, 0)
        holders: Mapping[str, Decimal] = holders_of(self._books, event.symbol)
        self._payments[pay].append(_Payment(event.symbol, amount, dict(holders)))


def quoted_marks(replay: CorporateReplay, timeline: Timeline) -> FloatArray:
    """The replay's unadjusted closes on the timeline (carried forward like the adjusted marks); a symbol the
    replay does not cover keeps its adjusted closes."""
    quoted = timeline.marks.copy()
    frame = replay.closes.reindex(timeline.index)
    for sym, j in timeline.column.items():
        if sym in frame.columns:
            column = frame[sym].to_numpy(dtype=np.float64)
            present = np.isfinite(column) & timeline.has_bar[:, j]
            quoted[:, j] = pd.Series(np.where(present, column, np.nan)).ffill().to_numpy(dtype=np.float64)
    return quoted
