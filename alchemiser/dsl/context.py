"""What every node evaluator shares: the price axis, cached indicator series, error codes and the slot combinators.

:class:`EvalContext` is the base of :class:`alchemiser.dsl.engine.Engine`; the node evaluators (combinators,
filters, inverse volatility, conditions) are functions of it, so they sit below the engine's traversal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from alchemiser.data.prices import FloatArray, PriceMatrix
from alchemiser.dsl import indicators
from alchemiser.dsl.ast import Asset, Metric
from alchemiser.dsl.slots import IntArray, RankEntry, Slot, Value, row_sums, symbol_union, usable

IndicatorCache = dict[tuple[Metric, str], FloatArray]

# (symbols, weights, per-date scale or None = 1) of one part of a weighted sum
Part = tuple[tuple[str, ...], FloatArray, FloatArray | None]


def render_message(template: str, date: dt.date) -> str:
    """An error message for ``date`` (messages are stored once per symphony with a ``{date}`` placeholder)."""
    return template.replace("{date}", date.isoformat())


@dataclass
class EvalContext:
    """Evaluation state of one symphony over the date axis of ``prices``."""

    prices: PriceMatrix
    record_at: int | None = None
    messages: list[str] = field(default_factory=lambda: [""])
    # indicator vectors by (metric, symbol); pass a dict to share them between evaluations over the SAME prices
    indicator_cache: IndicatorCache | None = None

    def __post_init__(self) -> None:
        self.n = len(self.prices)
        self._msg_index: dict[str, int] = {}
        self.zero_err: IntArray = np.zeros(self.n, dtype=np.int32)
        self.zero_err.setflags(write=False)
        self._ones: FloatArray = np.ones((self.n, 1), dtype=np.float64)
        self._ones.setflags(write=False)
        self._ones_sums: FloatArray = np.ones(self.n, dtype=np.float64)
        self._ones_sums.setflags(write=False)
        self._indicators: IndicatorCache = {} if self.indicator_cache is None else self.indicator_cache
        self._returns: dict[str, FloatArray] = {}
        self.portfolio_scores: dict[tuple[int, Metric], FloatArray] = {}
        # what the last filter / inverse-volatility node saw on ``record_at``, picked up by the trace recorder
        self.pending_ranking: list[RankEntry] | None = None
        self.pending_volatility: dict[str, float | None] | None = None

    # -- errors ----------------------------------------------------------------------------------------------------
    def code(self, message: str) -> int:
        idx = self._msg_index.get(message)
        if idx is None:
            idx = len(self.messages)
            self.messages.append(message)
            self._msg_index[message] = idx
        return idx

    def first_err(self, a: IntArray, b: IntArray) -> IntArray:
        """Per date, the first non-zero error code of ``a`` then ``b``."""
        if b is self.zero_err:
            return a
        if a is self.zero_err:
            return b
        out: IntArray = np.where(a != 0, a, b).astype(np.int32)
        return out

    # -- data ------------------------------------------------------------------------------------------------------
    def closes(self, symbol: str) -> FloatArray | None:
        return self.prices.column(symbol)

    def indicator(self, metric: Metric, symbol: str) -> FloatArray:
        key = (metric, symbol)
        values = self._indicators.get(key)
        if values is None:
            col = self.closes(symbol)
            values = np.full(self.n, np.nan) if col is None else indicators.compute(metric, col)
            values.setflags(write=False)
            self._indicators[key] = values
        return values

    def returns(self, symbol: str) -> FloatArray:
        values = self._returns.get(symbol)
        if values is None:
            col = self.closes(symbol)
            values = np.full(self.n, np.nan) if col is None else indicators.daily_returns(col)
            values.setflags(write=False)
            self._returns[symbol] = values
        return values

    # -- combinators -----------------------------------------------------------------------------------------------
    def asset_slot(self, asset: Asset) -> Slot:
        """An asset held at weight 1 on every date."""
        return Slot((asset.symbol,), self._ones, None, True, asset, self._ones_sums)

    def accumulate(self, parts: Sequence[Part]) -> Slot:
        """Σ scale_i · W_i over the union of the parts' symbols (scale None = 1)."""
        union = symbol_union(syms for syms, _, _ in parts)
        out = np.zeros((self.n, len(union)), dtype=np.float64)
        for syms, w, scale in parts:
            cols = [union[s] for s in syms]
            contrib = w if scale is None else w * scale[:, None]
            if len(cols) == 1:
                out[:, cols[0]] += contrib[:, 0]
            else:
                out[:, cols] += contrib
        return Slot(tuple(union), out)

    def collapse(self, slots: list[Slot]) -> Slot:
        """Equal weight across the slots that are active and non-empty on each date (weight-equal semantics)."""
        if len(slots) == 1 and slots[0].active is None:
            return slots[0]
        sums = [row_sums(s) for s in slots]
        uses = [usable(s, t) for s, t in zip(slots, sums, strict=True)]
        count = np.sum(uses, axis=0, dtype=np.float64) if uses else np.zeros(self.n)
        parts: list[Part] = []
        for slot, total, use in zip(slots, sums, uses, strict=True):
            denom = total * count
            scale = np.divide(1.0, denom, out=np.zeros(self.n), where=use & (denom > 0))
            parts.append((slot.symbols, slot.weights, scale))
        return self.accumulate(parts)

    def children_slots(self, values: list[Value]) -> tuple[list[Slot], IntArray]:
        """The children's slots side by side and their first error per date."""
        slots: list[Slot] = []
        err = self.zero_err
        for v in values:
            slots.extend(v.slots)
            err = self.first_err(err, v.err)
        return slots, err
