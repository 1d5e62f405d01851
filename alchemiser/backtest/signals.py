"""A strategy's evaluated allocations over the whole date axis, as the backtest engine consumes them.

Row ``i`` of ``weights`` is the allocation the symphony gives when evaluated with bars through session ``i``'s close
(the DSL evaluator's output, one row per date). ``valid[i]`` is False where evaluation failed on that date
(insufficient data on the chosen branch, for instance); ``errors`` holds the evaluator's message for such rows
when it gave one. Which row drives the decision on a session is the engine's business (the as-of policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.dsl.rebalance import RebalanceRule
from alchemiser.errors import StrategyError

WEIGHT_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class StrategySignals:
    """One strategy's allocations (sessions x symbols, rows sum to 1 where valid) and its run settings."""

    name: str
    weights: pd.DataFrame
    valid: npt.NDArray[np.bool_]
    capital_weight: Decimal = Decimal(1)
    rebalance_threshold: Decimal | None = None
    source: str = ""
    errors: Mapping[date, str] = field(default_factory=dict)
    #: when the strategy trades (dsl.md §4.1); None: daily, or a corridor when ``rebalance_threshold`` is given
    rebalance_rule: RebalanceRule | None = None

    @property
    def rule(self) -> RebalanceRule:
        if self.rebalance_rule is not None:
            return self.rebalance_rule
        threshold = None if self.rebalance_threshold is None else float(self.rebalance_threshold)
        return RebalanceRule.from_options(None, threshold)

    def __post_init__(self) -> None:
        if len(self.valid) != len(self.weights):
            raise StrategyError(
                f"strategy {self.name!r}: {len(self.valid)} validity flags for {len(self.weights)} rows of weights"
            )
        if not isinstance(self.weights.index, pd.DatetimeIndex):
            raise StrategyError(f"strategy {self.name!r}: weights must be indexed by session dates")
        if not self.weights.index.is_monotonic_increasing or self.weights.index.has_duplicates:
            raise StrategyError(f"strategy {self.name!r}: weight dates must be strictly increasing")
        if self.capital_weight <= 0:
            raise StrategyError(f"strategy {self.name!r}: capital weight must be > 0, got {self.capital_weight}")
        if self.rebalance_threshold is not None and not 0 <= self.rebalance_threshold < 1:
            raise StrategyError(
                f"strategy {self.name!r}: rebalance threshold must be in [0, 1), got {self.rebalance_threshold}"
            )
        values = self.weights.to_numpy(dtype=np.float64, na_value=0.0)
        rows = values[np.asarray(self.valid, dtype=bool)]
        if rows.size:
            if float(rows.min()) < 0:
                raise StrategyError(f"strategy {self.name!r}: negative weights")
            sums = rows.sum(axis=1)
            bad = np.nonzero(np.abs(sums - 1.0) > WEIGHT_SUM_TOLERANCE)[0]
            if bad.size:
                raise StrategyError(
                    f"strategy {self.name!r}: valid rows must sum to 1; {bad.size} do not "
                    f"(first sums to {sums[bad[0]]:.6f})"
                )

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.weights.columns)

    def first_valid(self) -> date | None:
        hits = np.nonzero(np.asarray(self.valid, dtype=bool))[0]
        return None if hits.size == 0 else pd.Timestamp(self.weights.index[int(hits[0])]).date()

    def error_on(self, session: date) -> str:
        return self.errors.get(session, "evaluation failed")

    @classmethod
    def from_rows(
        cls,
        name: str,
        dates: Any,
        rows: list[Mapping[str, float] | None],
        **kwargs: Any,
    ) -> StrategySignals:
        """From one ``{symbol: weight}`` per date (``None`` = evaluation failed): convenient for tests and tools."""
        index = pd.DatetimeIndex(pd.to_datetime(list(dates)))
        symbols = sorted({s for row in rows if row for s in row})
        matrix = np.zeros((len(rows), len(symbols)), dtype=np.float64)
        position = {s: j for j, s in enumerate(symbols)}
        for i, row in enumerate(rows):
            for symbol, weight in (row or {}).items():
                matrix[i, position[symbol]] = weight
        valid = np.array([row is not None for row in rows], dtype=bool)
        return cls(name=name, weights=pd.DataFrame(matrix, index=index, columns=symbols), valid=valid, **kwargs)
