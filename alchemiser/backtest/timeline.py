"""The run's date axis: which row decides each session, where the run can start, where it ends.

Everything here is computed once, vectorised over the whole axis, before the daily loop:

- each strategy's weights and validity aligned on the closes' sessions and shifted by the as-of policy
  (``previous_close``: the decision on session i is row i-1; ``live``: row i);
- which sessions have a bar for each symbol, and the closes carried forward for marking;
- the first session on which every strategy decides and every symbol it targets has a bar (the start moves
  forward to it), and, without an explicit end, the last such session, no later than the last bar of a symbol the
  strategies hold (a position must not outlive its data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.backtest.signals import StrategySignals
from alchemiser.errors import DataError, StrategyError

AsOfPolicy = Literal["previous_close", "live"]
AS_OF_POLICIES: tuple[str, ...] = ("previous_close", "live")
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Decisions:
    """One strategy's decided weights per session (sessions x its symbols) and whether each decision is valid."""

    weights: FloatArray
    valid: BoolArray
    columns: npt.NDArray[np.int64]  # the strategy's symbols as columns of the timeline's symbol list


@dataclass(frozen=True, eq=False)
class Timeline:
    """The sessions of a run and the per-session facts the daily loop reads."""

    index: pd.DatetimeIndex
    symbols: tuple[str, ...]
    has_bar: BoolArray  # sessions x symbols
    marks: FloatArray  # closes carried forward over missing bars (NaN before a symbol's first bar)
    decisions: tuple[Decisions, ...]
    first: int
    last: int
    end_note: str
    dates: tuple[date, ...] = ()  # index as datetime.date, filled by build_timeline (cheap per-session lookups)
    stamps: tuple[pd.Timestamp, ...] = ()

    @property
    def column(self) -> dict[str, int]:
        return {sym: j for j, sym in enumerate(self.symbols)}

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.index[self.first : self.last + 1]

    def session(self, i: int) -> date:
        return self.dates[i] if self.dates else pd.Timestamp(self.index[i]).date()


def _check_inputs(strategies: Sequence[StrategySignals], closes: pd.DataFrame) -> None:
    if not strategies:
        raise StrategyError("no strategies to backtest")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise StrategyError(f"strategy names must be unique, got {names}")
    capital = sum((s.capital_weight for s in strategies), Decimal(0))
    if capital > Decimal("1.000001"):
        raise StrategyError(f"capital weights sum to {capital} > 1")
    if not isinstance(closes.index, pd.DatetimeIndex) or not closes.index.is_monotonic_increasing:
        raise DataError("closes must be indexed by increasing session dates")
    if closes.index.has_duplicates:
        raise DataError("closes hold duplicate session dates")
    needed = {sym for s in strategies for sym in s.symbols}
    missing = sorted(needed - {str(c) for c in closes.columns})
    if missing:
        raise DataError(f"no price data for {', '.join(missing)} (needed by the strategies)")


def _shifted(signal: StrategySignals, index: pd.DatetimeIndex, policy: AsOfPolicy) -> tuple[FloatArray, BoolArray]:
    """The strategy's weights and validity aligned on ``index`` and shifted by the as-of policy."""
    weights = signal.weights.reindex(index).to_numpy(dtype=np.float64, na_value=0.0)
    valid_series = pd.Series(np.asarray(signal.valid, dtype=bool), index=signal.weights.index)
    valid = valid_series.reindex(index, fill_value=False).to_numpy(dtype=bool)
    if policy == "previous_close" and len(weights):
        weights = np.vstack([np.zeros((1, weights.shape[1])), weights[:-1]])
        valid = np.concatenate([[False], valid[:-1]])
    return weights, valid


def build_timeline(
    strategies: Sequence[StrategySignals],
    closes: pd.DataFrame,
    *,
    policy: AsOfPolicy,
    start: date | None,
    end: date | None,
) -> Timeline:
    """Align the strategies on the closes' sessions and find the run's first and last session."""
    _check_inputs(strategies, closes)
    index = pd.DatetimeIndex(closes.index)
    symbols = tuple(sorted({sym for s in strategies for sym in s.symbols}))
    col = {sym: j for j, sym in enumerate(symbols)}
    px = closes[list(symbols)].to_numpy(dtype=np.float64, copy=True) if symbols else np.zeros((len(index), 0))
    has_bar = np.isfinite(px) & (px > 0)
    marks = pd.DataFrame(np.where(has_bar, px, np.nan), index=index).ffill().to_numpy(dtype=np.float64)
    decisions: list[Decisions] = []
    priced = np.ones(len(index), dtype=bool)
    for signal in strategies:
        weights, valid = _shifted(signal, index, policy)
        columns = np.array([col[sym] for sym in signal.symbols], dtype=np.int64)
        if columns.size:
            priced &= ~np.any((weights > 0) & ~has_bar[:, columns], axis=1)
        decisions.append(Decisions(weights, valid, columns))
    lo = 0 if start is None else int(index.searchsorted(pd.Timestamp(start)))
    hi = len(index) - 1 if end is None else int(index.searchsorted(pd.Timestamp(end), "right")) - 1
    if lo > hi:
        covers = f"{index[0].date()} to {index[-1].date()}" if len(index) else "nothing"
        raise DataError(
            f"no sessions in the data between {start or 'the start'} and {end or 'the end'} (data covers {covers})"
        )
    tradable = np.logical_and.reduce([d.valid for d in decisions]) & priced
    hits = np.nonzero(tradable[lo : hi + 1])[0]
    if hits.size == 0:
        firsts = ", ".join(f"{s.name}: {s.first_valid() or 'never'}" for s in strategies)
        last_day = index[hi].date()
        why = "; ".join(f"{s.name} on {last_day}: {s.error_on(last_day)}" for s in strategies if s.errors)
        raise StrategyError(
            f"no session between {index[lo].date()} and {last_day} on which every strategy evaluates "
            f"(first valid evaluation — {firsts}; the {policy} policy decides on the next session)"
            + (f". {why}" if why else "")
        )
    first = lo + int(hits[0])
    last, end_note = hi, ""
    if end is None:
        last, end_note = _default_end(tradable, decisions, strategies, has_bar, col, first=first, hi=hi)
        end_note = f"End {index[last].date().isoformat()}: {end_note}."
    stamps = tuple(pd.Timestamp(t) for t in index)
    dates = tuple(t.date() for t in stamps)
    return Timeline(index, symbols, has_bar, marks, tuple(decisions), first, last, end_note, dates, stamps)


def _default_end(
    tradable: BoolArray,
    decisions: Sequence[Decisions],
    strategies: Sequence[StrategySignals],
    has_bar: BoolArray,
    col: dict[str, int],
    *,
    first: int,
    hi: int,
) -> tuple[int, str]:
    last = first + int(np.nonzero(tradable[first : hi + 1])[0][-1])
    end, reason = last, "the last session on which every strategy can evaluate and trade"
    for signal, decided in zip(strategies, decisions, strict=True):
        window = decided.weights[first : last + 1][decided.valid[first : last + 1]]
        held = np.nonzero((window > 0).any(axis=0))[0] if window.size else np.array([], dtype=np.int64)
        for k in held:
            sym = signal.symbols[int(k)]
            bars = np.nonzero(has_bar[: last + 1, col[sym]])[0]
            sym_end = max(int(bars[-1]) if bars.size else first, first)
            if sym_end < end:
                end, reason = sym_end, f"the last bar of {sym}, which the strategies hold"
    return end, reason
