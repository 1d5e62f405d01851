"""Daily outputs of the loop: float64 arrays filled row by row, turned into frames at the end."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.backtest.attribution import BookDay

FloatArray = npt.NDArray[np.float64]
UNATTRIBUTED = "unattributed"
UNATTRIBUTED_NOISE = 1e-12  # the books split quantities at 1e-9 shares: residues below this are not shown


class Recorder:
    """Row ``r`` of every array is the r-th session of the run."""

    def __init__(
        self, sessions: int, symbols: Sequence[str], strategies: Sequence[Sequence[str]], names: Sequence[str]
    ):
        self.symbols = list(symbols)
        self.names = list(names)
        self.equity = np.zeros(sessions)
        self.cash = np.zeros(sessions)
        self.values = np.zeros((sessions, len(symbols)))
        self.targets = np.zeros((sessions, len(symbols)))
        self.decided = [np.zeros((sessions, len(cols))) for cols in strategies]
        self.contributions = np.zeros((sessions, len(names) + 1))  # last column: unattributed
        self.book_values = np.zeros((sessions, len(names) + 1))
        self.book_invested = np.zeros((sessions, len(names) + 1))

    def books(self, r: int, day: BookDay) -> None:
        """Session ``r``'s per-book contributions, cumulative P&L and market value."""
        self.contributions[r] = day.contributions
        self.book_values[r] = day.values
        self.book_invested[r] = day.invested

    def frames(self, index: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
        """``weights`` / ``targets`` (columns ever non-zero), ``contributions``, ``book_pnl`` (cumulative P&L per
        book) and ``book_invested`` (market value per book); ``unattributed`` only when it holds more than noise."""
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(self.equity[:, None] > 0, self.values / self.equity[:, None], 0.0)
        weights_df = pd.DataFrame(weights, index=index, columns=self.symbols)
        targets_df = pd.DataFrame(self.targets, index=index, columns=self.symbols)
        contributions = pd.DataFrame(self.contributions[:, :-1], index=index, columns=self.names)
        book_pnl = pd.DataFrame(self.book_values[:, :-1], index=index, columns=self.names)
        book_invested = pd.DataFrame(self.book_invested[:, :-1], index=index, columns=self.names)
        if np.any(np.abs(self.contributions[:, -1]) > UNATTRIBUTED_NOISE):  # more than rounding of the books
            contributions[UNATTRIBUTED] = self.contributions[:, -1]
            book_pnl[UNATTRIBUTED] = self.book_values[:, -1]
            book_invested[UNATTRIBUTED] = self.book_invested[:, -1]
        return {
            "weights": weights_df.loc[:, (weights_df != 0).any(axis=0)],
            "targets": targets_df.loc[:, (targets_df != 0).any(axis=0)],
            "contributions": contributions,
            "book_pnl": book_pnl,
            "book_invested": book_invested,
        }
