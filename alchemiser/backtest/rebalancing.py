"""Each strategy's book between rebalances in a backtest: its weights at the last rebalance, drifted with prices, and
the rule of :mod:`alchemiser.dsl.rebalance` (the daemon's) deciding whether it trades on a session.

The book of strategy k is the weights it was last brought to and the session of that rebalance; on a later session
its weights are those weights grown by each symbol's close-to-close change since (``dsl.rebalance.drifted``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from alchemiser.backtest.signals import StrategySignals
from alchemiser.dsl.rebalance import RebalanceAction, RebalanceRule, action_on, drifted

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BookDecision:
    """What strategy k does on a session: the weights handed to the planner and how it trades."""

    weights: dict[str, float]
    action: RebalanceAction
    previous_selection: frozenset[str] | None

    @property
    def hold(self) -> bool:
        return self.action is RebalanceAction.HOLD

    @property
    def exact(self) -> bool:
        return self.action is RebalanceAction.FULL


class StrategyBooks:
    """Per-strategy book state of one run; ``marks`` are the timeline's carried-forward closes (sessions x symbols)."""

    def __init__(self, strategies: Sequence[StrategySignals], marks: FloatArray, column: Mapping[str, int]) -> None:
        self.rules: list[RebalanceRule] = [s.rule for s in strategies]
        self._marks = marks
        self._col = dict(column)
        self._weights: list[dict[str, float] | None] = [None for _ in strategies]
        self._anchor: list[int] = [0 for _ in strategies]
        self.rebalances: list[int] = [0 for _ in strategies]
        #: per strategy, the sessions on which its evaluation decided its book (the daemon evaluates on exactly these)
        self.rebalance_sessions: list[list[date]] = [[] for _ in strategies]
        self.held_sessions: list[int] = [0 for _ in strategies]

    def current(self, k: int, i: int) -> dict[str, float] | None:
        """Strategy k's book weights on session ``i`` (drifted since its last rebalance); None before its first."""
        book = self._weights[k]
        if book is None:
            return None
        start = self._anchor[k]
        growth: dict[str, float] = {}
        for sym in book:
            j = self._col[sym]
            before, now = float(self._marks[start, j]), float(self._marks[i, j])
            if math.isfinite(before) and math.isfinite(now) and before > 0:
                growth[sym] = now / before
        return drifted(book, growth)

    def decide(
        self, k: int, i: int, session: date, previous: date | None, target: Mapping[str, float] | None
    ) -> BookDecision:
        """Strategy k's decision on session ``i``: ``target`` is its evaluated allocation (None: failed closed,
        the book drifts)."""
        held = self.current(k, i)
        previous_selection = None if held is None else frozenset(held)
        if target is None:
            self.held_sessions[k] += held is not None
            return BookDecision(held or {}, RebalanceAction.HOLD, previous_selection)
        action = action_on(self.rules[k], session, previous, held, target)
        if action is RebalanceAction.HOLD and held is not None:
            self.held_sessions[k] += 1
            return BookDecision(held, action, previous_selection)
        book = {s: w for s, w in target.items() if w > 0}
        self._weights[k], self._anchor[k] = book, i
        self.rebalances[k] += 1
        self.rebalance_sessions[k].append(session)
        return BookDecision(dict(book), action, previous_selection)


def to_decimal_weights(weights: Mapping[str, float]) -> dict[str, Decimal]:
    """Float weights as the planner's ``Decimal`` (summing to at most 1 after rounding)."""
    out = {s: Decimal(repr(float(w))) for s, w in weights.items() if w > 0}
    total = sum(out.values(), Decimal(0))
    if total > 1:
        out = {s: w / total for s, w in out.items()}
    return out
