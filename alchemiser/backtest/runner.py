"""From symphony files and a bar folder to a backtest result, with the daemon's own strategy engine.

``run_files(specs, data_dir, config)`` parses each symphony (``alchemiser.dsl.load_symphony``), loads the adjusted
closes of every symbol it uses (``alchemiser.data.CsvBarSource``), evaluates it ONCE over the whole date axis
(``alchemiser.dsl.evaluate``: row D = allocation from bars through D's close), and hands the rows to the daily loop
(``alchemiser.backtest.engine.run_backtest``), which applies the as-of policy, planner, risk checks and fills.
With ``EngineConfig.prices == "events"`` (the default) the fills are priced on unadjusted closes and the splits and
dividends of the held symbols are replayed (``alchemiser.backtest.corporate``); when the data shows none and no
events are given, the run falls back to adjusted prices and the report says so.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from alchemiser.backtest.corporate import CorporateReplay, build_replay
from alchemiser.backtest.engine import EngineConfig, ProgressCallback, run_backtest
from alchemiser.backtest.quotes import DecisionTimeQuotes
from alchemiser.backtest.result import BacktestResult
from alchemiser.backtest.signals import StrategySignals
from alchemiser.data import BarSource, CsvBarSource, PriceMatrix, price_matrix
from alchemiser.dsl import Evaluation, Symphony, evaluate, load_symphony, used_symbols
from alchemiser.dsl.availability import backtestable_start
from alchemiser.errors import DataError, StrategyError

FillAt = Literal["close", "decision"]
FILL_AT: tuple[str, ...] = ("close", "decision")


@dataclass(frozen=True)
class StrategySpec:
    """A symphony file and the fraction of capital it manages."""

    path: Path
    capital_weight: Decimal = Decimal(1)


@dataclass(frozen=True)
class LoadedStrategy:
    spec: StrategySpec
    symphony: Symphony
    name: str


class _EvaluationErrors(Mapping[dt.date, str]):
    """The evaluator's error message for a date, looked up only when the report needs it."""

    def __init__(self, evaluation: Evaluation) -> None:
        self._evaluation = evaluation

    @cached_property
    def _dates(self) -> dict[dt.date, int]:
        # built on first use: a sweep evaluates thousands of points and looks up none of their errors
        return {dt.date.fromisoformat(str(d)): i for i, d in enumerate(self._evaluation.dates.astype(str))}

    def __getitem__(self, key: dt.date) -> str:
        i = self._dates[key]
        message = self._evaluation.result_at_row(i).error
        if message is None:
            raise KeyError(key)
        return message

    def __iter__(self) -> Iterator[dt.date]:
        return (d for d, i in self._dates.items() if self._evaluation.codes[i] != 0)

    def __len__(self) -> int:
        return int(np.count_nonzero(self._evaluation.codes))


def load_strategies(specs: Sequence[StrategySpec]) -> list[LoadedStrategy]:
    """Parse every symphony; a strategy is named by its file's stem (as ``alchemiser signals`` names it)."""
    if not specs:
        raise StrategyError("no strategy files given")
    loaded: list[LoadedStrategy] = []
    seen: set[str] = set()
    for spec in specs:
        if not spec.path.is_file():
            raise StrategyError(f"strategy file {spec.path} does not exist")
        symphony = load_symphony(spec.path)
        name = spec.path.stem
        if name in seen:
            raise StrategyError(f"two strategy files are named {name!r}: strategy names (file stems) must be unique")
        seen.add(name)
        loaded.append(LoadedStrategy(spec=spec, symphony=symphony, name=name))
    return loaded


def closes_frame(prices: PriceMatrix, missing: Sequence[str] = ()) -> pd.DataFrame:
    """A ``PriceMatrix`` as the engine's closes frame (sessions x symbols); ``missing`` symbols as empty columns."""
    index = pd.DatetimeIndex(prices.dates.astype("datetime64[ns]"))
    frame = pd.DataFrame(prices.values, index=index, columns=list(prices.symbols))
    for symbol in missing:
        if symbol not in frame.columns:
            frame[symbol] = np.nan
    return frame


def signals_of(strategy: LoadedStrategy, evaluation: Evaluation) -> StrategySignals:
    """An ``Evaluation`` (rows = dates) as the engine's ``StrategySignals``."""
    index = pd.DatetimeIndex(evaluation.dates.astype("datetime64[ns]"))
    weights = pd.DataFrame(evaluation.weights, index=index, columns=list(evaluation.symbols))
    ever: list[bool] = np.any(evaluation.weights > 0, axis=0).tolist()
    held = [sym for sym, hit in zip(evaluation.symbols, ever, strict=True) if hit]
    threshold = strategy.symphony.rebalance_threshold
    return StrategySignals(
        name=strategy.name,
        weights=weights[held],
        valid=np.asarray(evaluation.valid, dtype=bool),
        capital_weight=strategy.spec.capital_weight,
        rebalance_threshold=None if threshold is None else Decimal(repr(threshold)),
        source=str(strategy.spec.path),
        errors=_EvaluationErrors(evaluation),
        rebalance_rule=strategy.symphony.rebalance_rule,
    )


def evaluate_strategies(
    strategies: Sequence[LoadedStrategy], source: BarSource, end: dt.date | None, extra_symbols: Sequence[str] = ()
) -> tuple[list[StrategySignals], PriceMatrix, float]:
    """Evaluate each strategy once over the whole history; return its signals, the prices and the seconds spent."""
    needed: dict[str, None] = {}
    for strategy in strategies:
        needed.update(dict.fromkeys(used_symbols(strategy.symphony)))
    available = source.available()
    symbols = list(needed) + [s for s in extra_symbols if s in available and s not in needed]
    prices = price_matrix(source, symbols, end)
    if not len(prices):
        raise DataError(f"the bar data has none of the symbols the strategies use ({', '.join(sorted(needed))})")
    started = time.perf_counter()
    signals = [signals_of(s, evaluate(s.symphony, prices, end=end)) for s in strategies]
    return signals, prices, time.perf_counter() - started


def missing_symbols(strategies: Sequence[LoadedStrategy], source: BarSource) -> list[str]:
    """Symbols the strategies use that the bar data does not have."""
    available = source.available()
    return sorted({sym for s in strategies for sym in used_symbols(s.symphony)} - available)


def run_files(
    specs: Sequence[StrategySpec],
    data_dir: Path | BarSource,
    config: EngineConfig | None = None,
    *,
    fill_at: FillAt = "close",
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Backtest symphony files over a bar folder (or any ``BarSource``).

    ``fill_at="decision"`` prices each decision at the simulated exchange's mid 15 minutes before the close
    (``DecisionTimeQuotes``; needs a bar folder) instead of at the close.
    """
    source = CsvBarSource(data_dir) if isinstance(data_dir, Path) else data_dir
    quotes_dir = data_dir if isinstance(data_dir, Path) else None
    return run_strategies(
        load_strategies(specs), source, config, fill_at=fill_at, quotes_dir=quotes_dir, progress=progress
    )


def run_strategies(
    strategies: Sequence[LoadedStrategy],
    source: BarSource,
    config: EngineConfig | None = None,
    *,
    fill_at: FillAt = "close",
    quotes_dir: Path | None = None,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """``run_files`` for symphonies already parsed, over any ``BarSource`` (a Dask worker's shipped bars);
    ``fill_at="decision"`` reads the simulated exchange's CSV files in ``quotes_dir``."""
    config = config or EngineConfig()
    started = time.perf_counter()
    extra = [config.benchmark_symbol] if config.benchmark_symbol else []
    signals, prices, _eval_seconds = evaluate_strategies(strategies, source, config.end, extra)
    missing = missing_symbols(strategies, source)
    config, start_notes, backtestable = _backtestable(strategies, prices, config)
    reference: DecisionTimeQuotes | None = None
    if fill_at == "decision":
        if quotes_dir is None:
            raise DataError("decision-time fills need a bar folder (the simulated exchange replays its CSV files)")
        held = sorted({sym for s in signals for sym in s.symbols} - set(missing))
        reference = DecisionTimeQuotes(quotes_dir, held)
    replay = _replay(config, source, signals, missing)
    try:
        result = run_backtest(
            signals, closes_frame(prices, missing), config, reference=reference, progress=progress, replay=replay
        )
    except StrategyError as exc:
        if not missing:
            raise
        raise StrategyError(f"{exc}. The bar data has no file for {', '.join(missing)}") from exc
    if reference is not None:
        result.notes.append(
            "Decisions priced at the simulated exchange's mid 15 minutes before the close"
            + (f" ({reference.misses} lookups fell back to the close)." if reference.misses else ".")
        )
    result.notes[1:1] = start_notes
    for info in result.strategies:
        share = info.failed_sessions / max(len(result.equity), 1)
        if share > config.fail_closed_warn_share:
            result.notes.insert(
                0,
                f"WARNING: {info.name} failed closed on {info.failed_sessions} of {len(result.equity)} sessions "
                f"({share:.0%}): it kept stale holdings on those sessions and the metrics rest on them.",
            )
    if backtestable is not None and result.start < backtestable[0]:
        result.notes.insert(
            0,
            f"WARNING: the run starts {result.start.isoformat()}, before the backtestable start "
            f"{backtestable[0].isoformat()} ({backtestable[1]}): before it the strategies see fewer assets than "
            "they name, and may fail closed.",
        )
    if missing:
        result.notes.insert(
            1,
            f"No bar data for {', '.join(missing)}: indicators on them are unavailable and they cannot be held "
            "(the strategy fails closed on sessions that need them).",
        )
    result.elapsed_seconds = time.perf_counter() - started
    return result


def _replay(
    config: EngineConfig, source: BarSource, signals: Sequence[StrategySignals], missing: Sequence[str]
) -> CorporateReplay | None:
    if config.prices != "events":
        return None
    held = sorted({sym for s in signals for sym in s.symbols} - set(missing))
    return build_replay(source, held, extra_events=config.corporate_events, events_file=config.corporate_events_source)


def _backtestable(
    strategies: Sequence[LoadedStrategy], prices: PriceMatrix, config: EngineConfig
) -> tuple[EngineConfig, list[str], tuple[dt.date, str] | None]:
    """Composer's backtestable start (dsl.md §3): by default the run starts when the last strategy can; an earlier
    ``start`` is allowed (the caller warns). Returns the config to run, the data notes and (start, what sets it)."""
    starts = {s.name: backtestable_start(s.symphony, prices) for s in strategies}
    notes = [f"Data: {name}: {start.warning()}." for name, start in starts.items()]
    known = [(st.start, name) for name, st in starts.items() if st.start is not None]
    if len(known) < len(starts) or not known:
        return config, notes, None
    latest, name = max(known)
    setter = f"{name}: {starts[name].youngest}"
    if config.start is None:
        notes.append(f"Start {latest.isoformat()} by default: every strategy is past its backtestable start.")
        return replace(config, start=latest), notes, (latest, setter)
    return config, notes, (latest, setter)
