"""Daily outputs of the loop: float64 arrays filled row by row, turned into frames at the end."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

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

    def frames(self, index: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
        """``weights`` / ``targets`` (columns ever non-zero), ``contributions``, ``strategy:<name>`` frames."""
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(self.equity[:, None] > 0, self.values / self.equity[:, None], 0.0)
        weights_df = pd.DataFrame(weights, index=index, columns=self.symbols)
        targets_df = pd.DataFrame(self.targets, index=index, columns=self.symbols)
        contributions = pd.DataFrame(self.contributions[:, :-1], index=index, columns=self.names)
        if np.any(np.abs(self.contributions[:, -1]) > UNATTRIBUTED_NOISE):  # more than rounding of the books
            contributions[UNATTRIBUTED] = self.contributions[:, -1]
        return {
            "weights": weights_df.loc[:, (weights_df != 0).any(axis=0)],
            "targets": targets_df.loc[:, (targets_df != 0).any(axis=0)],
            "contributions": contributions,
        }
