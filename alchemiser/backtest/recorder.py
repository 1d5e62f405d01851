"""Daily outputs of the loop (float64 arrays filled row by row) and the per-strategy P&L attribution.

Attribution: each symbol's P&L on a session (value at the close - value at the previous close - cash spent on
it that session, costs included) is split between strategies by their share of the symbol's merged target
weight (the planner's ``PlanLine.contributions``); a symbol leaving every target keeps the shares it had until it
is sold. Divided by the previous equity, the strategies' contributions add up to the account's daily return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
UNATTRIBUTED = "unattributed"


class Recorder:
    """Row ``r`` of every array is the r-th session of the run."""

    def __init__(
        self, sessions: int, symbols: Sequence[str], strategies: Sequence[Sequence[str]], names: Sequence[str]
    ):
        self.symbols = list(symbols)
        self.names = list(names)
        self._strategy_pos = {name: k for k, name in enumerate(names)}
        self.equity = np.zeros(sessions)
        self.cash = np.zeros(sessions)
        self.values = np.zeros((sessions, len(symbols)))
        self.targets = np.zeros((sessions, len(symbols)))
        self.decided = [np.zeros((sessions, len(cols))) for cols in strategies]
        self.contributions = np.zeros((sessions, len(names) + 1))  # last column: unattributed
        self._shares: dict[int, dict[int, float]] = {}

    def set_shares(self, column: int, shares: Mapping[str, float]) -> None:
        """The strategies' shares of one symbol's target (sum to 1)."""
        self._shares[column] = {self._strategy_pos[name]: share for name, share in shares.items()}

    def attribute(self, r: int, spent: Mapping[int, float], previous_equity: float) -> None:
        """Split session ``r``'s P&L per symbol between strategies (``spent``: net cash per symbol column)."""
        if previous_equity <= 0:
            return
        columns = set(spent) | set(np.nonzero(self.values[r])[0].tolist())
        if r > 0:
            columns |= set(np.nonzero(self.values[r - 1])[0].tolist())
        for j in columns:
            start = self.values[r - 1, j] if r > 0 else 0.0
            pnl = (self.values[r, j] - start - spent.get(j, 0.0)) / previous_equity
            owners = self._shares.get(j)
            if not owners:
                self.contributions[r, -1] += pnl
                continue
            for k, share in owners.items():
                self.contributions[r, k] += share * pnl

    def frames(self, index: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
        """``weights`` / ``targets`` (columns ever non-zero), ``contributions``, ``strategy:<name>`` frames."""
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(self.equity[:, None] > 0, self.values / self.equity[:, None], 0.0)
        weights_df = pd.DataFrame(weights, index=index, columns=self.symbols)
        targets_df = pd.DataFrame(self.targets, index=index, columns=self.symbols)
        contributions = pd.DataFrame(self.contributions[:, :-1], index=index, columns=self.names)
        if np.any(np.abs(self.contributions[:, -1]) > 0):
            contributions[UNATTRIBUTED] = self.contributions[:, -1]
        return {
            "weights": weights_df.loc[:, (weights_df != 0).any(axis=0)],
            "targets": targets_df.loc[:, (targets_df != 0).any(axis=0)],
            "contributions": contributions,
        }
