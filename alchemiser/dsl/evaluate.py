"""Public evaluation API: ``evaluate(symphony, prices, start, end) -> Evaluation`` and ``requirements``.

Row ``D`` of an :class:`Evaluation` is the allocation computed from bars through ``D``'s close (nothing later is
visible: the prices are truncated at ``end`` before evaluation and every indicator is causal). The as-of policy of
dsl.md §4 ("a decision on D uses closes through D−1") is the caller's shift: use the row of the previous session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alchemiser.data.prices import DateArray, FloatArray, PriceMatrix, to_date, to_date64
from alchemiser.dsl import indicators
from alchemiser.dsl.ast import (
    Asset,
    Filter,
    If,
    Indicator,
    Metric,
    Node,
    WeightInverseVolatility,
    children_of,
)
from alchemiser.dsl.context import IndicatorCache, render_message
from alchemiser.dsl.engine import Engine
from alchemiser.dsl.slots import normalise_rows
from alchemiser.dsl.symphony import Symphony
from alchemiser.errors import DataError

EMPTY_ALLOCATION = "no holding selected on {date} (every branch came out empty)"


@dataclass(frozen=True, slots=True)
class DateResult:
    """One date of an evaluation: an allocation (symbol → weight, sums to 1) or an error message."""

    date: dt.date
    allocation: dict[str, float] | None
    error: str | None


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Per-date allocations of one symphony: ``weights[i]`` (normalised, 0 = not held) or ``messages[codes[i]]``."""

    symphony: str
    dates: DateArray
    symbols: tuple[str, ...]
    weights: FloatArray
    codes: npt.NDArray[np.int32]
    messages: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.dates.shape[0])

    def _index(self, date: dt.date | str | np.datetime64) -> int | None:
        d = to_date64(date)
        i = int(np.searchsorted(self.dates, d))
        return i if i < self.dates.shape[0] and self.dates[i] == d else None

    def _row(self, date: dt.date | str | np.datetime64) -> int:
        i = self._index(date)
        if i is None:
            raise DataError(
                f"{to_date64(date)} is not a trading date of this evaluation (no bar of any symbol it uses)"
            )
        return i

    def has_date(self, date: dt.date | str | np.datetime64) -> bool:
        return self._index(date) is not None

    def result_at_row(self, i: int) -> DateResult:
        date = to_date(self.dates[i])
        code = int(self.codes[i])
        if code:
            return DateResult(date, None, render_message(self.messages[code], date))
        row = self.weights[i]
        nz = np.flatnonzero(row > 0)
        return DateResult(date, {self.symbols[j]: float(row[j]) for j in nz.tolist()}, None)

    def result_at(self, date: dt.date | str | np.datetime64) -> DateResult:
        return self.result_at_row(self._row(date))

    def allocation_at(self, date: dt.date | str | np.datetime64) -> dict[str, float] | None:
        """Allocation on ``date`` (None when the strategy errors that day). DataError if not a trading date."""
        return self.result_at(date).allocation

    def error_at(self, date: dt.date | str | np.datetime64) -> str | None:
        return self.result_at(date).error

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        ok: npt.NDArray[np.bool_] = self.codes == 0
        return ok

    @property
    def first_valid_date(self) -> dt.date | None:
        """First date that evaluates without an error (where a backtest starts)."""
        idx = np.flatnonzero(self.codes == 0)
        return to_date(self.dates[idx[0]]) if idx.shape[0] else None

    def __iter__(self) -> Iterator[DateResult]:
        for i in range(len(self)):
            yield self.result_at_row(i)

    @property
    def last(self) -> DateResult:
        if not len(self):
            raise DataError("evaluation has no dates")
        return self.result_at_row(len(self) - 1)


def used_symbols(symphony: Symphony) -> tuple[str, ...]:
    """Every ticker the symphony references (held or read by an indicator), sorted."""
    return tuple(sorted(requirements(symphony).min_bars))


def evaluate(
    symphony: Symphony,
    prices: PriceMatrix,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    *,
    require_prices: bool = True,
    indicator_cache: IndicatorCache | None = None,
) -> Evaluation:
    """Evaluate ``symphony`` on every date of ``prices`` in [start, end] (data after ``end`` is never seen).

    The date axis is the union of the dates of the symbols the symphony uses (other columns of ``prices`` do not
    affect the result). With ``require_prices`` (the default) an allocation that holds a symbol without a bar on
    that date is an error for that date (it could not be valued or traded); pass False to get the raw allocation.
    """
    if end is not None:
        prices = prices.truncate(end)
    prices = prices.select(used_symbols(symphony))
    engine = Engine(prices, indicator_cache=indicator_cache)
    slot, err = engine.run(symphony.root)
    weights, codes = finalise(engine, slot.symbols, slot.weights, err, prices=prices if require_prices else None)
    dates = prices.dates
    lo = 0 if start is None else int(np.searchsorted(dates, to_date64(start), side="left"))
    return Evaluation(symphony.name, dates[lo:], slot.symbols, weights[lo:], codes[lo:], tuple(engine.messages))


def finalise(
    engine: Engine,
    symbols: tuple[str, ...],
    raw: FloatArray,
    err: npt.NDArray[np.int32],
    *,
    prices: PriceMatrix | None,
    rows: slice = slice(None),
) -> tuple[FloatArray, npt.NDArray[np.int32]]:
    """Normalise rows to 1; empty rows without an error get the empty-allocation error; with ``prices``, holding a
    symbol that has no bar on the date is an error. ``rows`` selects the rows of ``prices`` that ``raw`` holds."""
    total = raw.sum(axis=1) if raw.shape[1] else np.zeros(raw.shape[0])
    weights = normalise_rows(raw, total)
    weights[weights < 1e-15] = 0.0
    codes = err.copy()
    empty = (total <= 0) & (codes == 0)
    if empty.any():
        codes[empty] = engine.code(EMPTY_ALLOCATION)
    if prices is not None:
        for j, symbol in enumerate(symbols):
            col = prices.column(symbol)
            no_bar = weights[:, j] > 0
            if col is not None:
                no_bar &= np.isnan(col[rows])
            bad = no_bar & (codes == 0)
            if bad.any():
                why = "no price data" if col is None else "no bar on that date"
                codes[bad] = engine.code(f"the allocation holds {symbol}, which has {why} ({{date}})")
    weights[codes != 0] = 0.0
    return weights, codes


@dataclass(frozen=True, slots=True)
class Requirements:
    """What data a symphony needs.

    ``min_bars[sym]``: bars of ``sym`` (through the decision date) without which some indicator on it is
    unavailable (0 = the ticker is only held, never measured). ``warmup_bars[sym]``: history to fetch so that
    exponential indicators (RSI, EMA, PPO) have settled and portfolio-mode scores have their own history; fetching
    this much makes live values agree with a long backtest to many decimals.
    """

    min_bars: dict[str, int]
    warmup_bars: dict[str, int]

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(self.min_bars)

    @property
    def longest(self) -> int:
        return max(self.warmup_bars.values(), default=0)


_WARMUP_FACTOR = 10  # an EMA with α = 1/n has forgotten all but (1−1/n)^(10n) ≈ e^-10 of its seed


def _needs(metric: Metric) -> tuple[int, int]:
    need = indicators.bars_needed(metric)
    if indicators.is_recursive(metric):
        return need, _WARMUP_FACTOR * need
    return need, need


def requirements(symphony: Symphony) -> Requirements:
    """Tickers and history lengths needed to evaluate ``symphony`` (for data fetching)."""
    min_bars: dict[str, int] = {}
    warm: dict[str, int] = {}

    def add(sym: str, need: int, warmup: int) -> None:
        min_bars[sym] = max(min_bars.get(sym, 0), need)
        warm[sym] = max(warm.get(sym, 0), warmup)

    # extra history a subtree needs because an ancestor measures its holdings (portfolio filter, inverse-vol)
    extra: dict[int, tuple[int, int]] = {id(symphony.root): (0, 0)}
    stack: list[Node] = [symphony.root]
    while stack:
        node = stack.pop()
        e_need, e_warm = extra[id(node)]
        child_extra = (e_need, e_warm)
        if isinstance(node, Asset):
            add(node.symbol, e_need, e_warm)
        elif isinstance(node, If):
            for operand in (node.condition.left, node.condition.right):
                if isinstance(operand, Indicator):
                    need, warmup = _needs(operand.metric)
                    add(operand.symbol, need + e_need, warmup + e_warm)
        elif isinstance(node, Filter):
            need, warmup = _needs(node.metric)
            if node.asset_mode:
                for c in node.candidates:
                    if isinstance(c, Asset):
                        add(c.symbol, need + e_need, warmup + e_warm)
            else:
                # the candidates' own return series must span the metric's window (conservative by at most 1)
                child_extra = (e_need + need, e_warm + warmup)
        elif isinstance(node, WeightInverseVolatility):
            child_extra = (e_need + node.window + 1, e_warm + node.window + 1)
        for child in children_of(node):
            prev = extra.get(id(child))
            if prev is None or prev[0] < child_extra[0] or prev[1] < child_extra[1]:
                extra[id(child)] = (
                    max(child_extra[0], prev[0] if prev else 0),
                    max(child_extra[1], prev[1] if prev else 0),
                )
                stack.append(child)
    return Requirements(dict(sorted(min_bars.items())), dict(sorted(warm.items())))
