"""Reference prices for a session's decision: the close (default) or the simulated exchange's intraday mid.

The daemon decides ``minutes_before_close`` minutes before the close and prices its plan at the quotes of that
moment. ``DecisionTimeQuotes`` asks the simulated exchange's ``QuoteModel`` (``alchemiser.sim``) for the mid of each
symbol at that instant of the session: a deterministic path through the day's adjusted open, high, low and close.
The fill model then puts its spread, slippage and commission around that mid. Marking to market stays at the
close either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

from alchemiser.errors import DataError
from alchemiser.sim import CsvMarket, QuoteModel, XnysCalendar

DEFAULT_MINUTES_BEFORE_CLOSE = 15


class ReferencePrices(Protocol):
    def price(self, session: date, symbol: str) -> float | None:
        """The reference (mid) price of ``symbol`` for the decision on ``session``; ``None`` = use the close."""
        ...


class DecisionTimeQuotes:
    """The simulated exchange's mid at ``minutes_before_close`` before each session's close."""

    def __init__(
        self,
        data_dir: Path,
        symbols: Sequence[str],
        *,
        minutes_before_close: int = DEFAULT_MINUTES_BEFORE_CLOSE,
        seed: int = 0,
    ) -> None:
        if not 0 <= minutes_before_close <= 390:
            raise ValueError(f"minutes before close must be within [0, 390], got {minutes_before_close}")
        self._calendar = XnysCalendar()
        self._model = QuoteModel(CsvMarket(data_dir, list(symbols)), self._calendar, spread_bps=0.0, seed=seed)
        self._lead = timedelta(minutes=minutes_before_close)
        self.misses = 0

    def price(self, session: date, symbol: str) -> float | None:
        try:
            return self._model.mid(symbol, self._calendar.session_close(session) - self._lead)
        except DataError:
            self.misses += 1
            return None
