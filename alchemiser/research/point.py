"""One sweep point, end to end, on whichever process runs it: apply the values, evaluate, backtest, summarise.

Everything a worker needs travels once in a :class:`SweepContext` (symphony texts, the closes of every symbol, the
engine settings, the block edges); ``run_chunk(context, points)`` evaluates a list of points. Each point is a full
backtest on the daemon's engine, planner and fill model (``alchemiser.backtest.run_backtest``), fed by the DSL
evaluator exactly as ``run_files`` feeds it.

Per worker process, and per context, :class:`WorkerState` keeps

* one indicator cache per strategy (``evaluate(..., indicator_cache=...)``): a sweep that moves only thresholds
  computes each ``rsi 10`` series once per worker, not once per point;
* a memo of finished backtests by *decision signature* (the exact allocation rows, capital weights, drift bands
  and planner settings): two points whose decisions are identical on every session have identical backtests, so
  the second is not re-simulated. Both are pure caches: results are the same with or without them.

A point that fails (a value the symphony rejects, a planner setting out of range) yields a row with its error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.backtest import BacktestResult, EngineConfig, StrategySignals, run_backtest
from alchemiser.backtest.corporate import CorporateReplay
from alchemiser.backtest.metrics import daily_returns
from alchemiser.backtest.runner import LoadedStrategy, StrategySpec, signals_of
from alchemiser.data import PriceMatrix
from alchemiser.dsl import evaluate, parse_symphony
from alchemiser.dsl.context import IndicatorCache
from alchemiser.dsl.rebalance import RebalanceRule
from alchemiser.research.sites import apply_values, format_number
from alchemiser.research.space import Point
from alchemiser.research.spec import Param, StrategyEntry

MEMO_SIZE = 512  # finished backtests remembered per worker (a few KB each)
MAX_CACHED_INDICATORS = 4096  # per strategy; a window sweep over many values must not grow without bound
METRIC_COLUMNS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "trades",
    "exposure",
    "final_equity",
)


@dataclass(frozen=True, eq=False)
class SweepContext:
    """What every worker needs, shipped once. ``fingerprint`` identifies the inputs (see ``runner.fingerprint``)."""

    fingerprint: str
    strategies: tuple[StrategyEntry, ...]
    params: tuple[Param, ...]
    prices: PriceMatrix
    closes: pd.DataFrame
    config: EngineConfig
    block_starts: tuple[np.datetime64, ...]
    replay: CorporateReplay | None = None  # unadjusted closes, splits and dividends (``--prices events``)
    share_indicators: bool = True
    memo_decisions: bool = True


@dataclass
class WorkerState:
    caches: list[IndicatorCache]
    memo: OrderedDict[str, dict[str, Any]] = dataclasses.field(default_factory=OrderedDict)
    evaluated: int = 0
    memo_hits: int = 0
    backtests: int = 0


_STATES: dict[str, WorkerState] = {}


def worker_state(context: SweepContext) -> WorkerState:
    """This process's caches for ``context`` (the caches of any other context are dropped)."""
    state = _STATES.get(context.fingerprint)
    if state is None:
        _STATES.clear()
        state = _STATES[context.fingerprint] = WorkerState(caches=[{} for _ in context.strategies])
    return state


@dataclass(frozen=True)
class Variant:
    """A point applied: symphony texts, capital weights, drift band and planner settings."""

    texts: tuple[str, ...]
    weights: tuple[Decimal, ...]
    drift_band: Decimal | None
    config: EngineConfig


def apply_point(context: SweepContext, values: tuple[float | int, ...]) -> Variant:
    """The point's symphony texts (the files stay untouched) and settings."""
    edits: list[dict[int, str]] = [{} for _ in context.strategies]
    weights = [s.weight for s in context.strategies]
    drift: Decimal | None = None
    planner = context.config.planner
    for param, value in zip(context.params, values, strict=True):
        number = Decimal(format_number(value))
        if param.kind == "site":
            edits[param.strategy].update(dict.fromkeys(param.offsets, format_number(value)))
        elif param.kind == "weight":
            weights[param.strategy] = number
        elif param.setting == "drift_band":
            drift = number
        elif param.setting == "min_trade":
            planner = dataclasses.replace(planner, min_trade_notional=number)
        else:
            planner = dataclasses.replace(planner, cash_buffer_pct=number)
    total = sum(weights, Decimal(0))
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError(f"strategy weights must be ≥ 0 with a positive sum, got {[str(w) for w in weights]}")
    texts = tuple(apply_values(s.text, e) for s, e in zip(context.strategies, edits, strict=True))
    normalised = tuple(w / total for w in weights)
    return Variant(texts, normalised, drift, dataclasses.replace(context.config, planner=planner))


def evaluate_variant(context: SweepContext, variant: Variant, state: WorkerState | None) -> list[StrategySignals]:
    """Each strategy's signals for the variant (shared indicator caches when ``state`` is given)."""
    out: list[StrategySignals] = []
    for k, (entry, text, weight) in enumerate(zip(context.strategies, variant.texts, variant.weights, strict=True)):
        if weight == 0:
            continue
        symphony = parse_symphony(text, str(entry.path))
        cache = None if state is None else state.caches[k]
        if cache is not None and len(cache) > MAX_CACHED_INDICATORS:
            cache.clear()
        evaluation = evaluate(symphony, context.prices, end=context.config.end, indicator_cache=cache)
        loaded = LoadedStrategy(StrategySpec(Path(entry.path), weight), symphony, entry.name)
        signals = signals_of(loaded, evaluation)
        if variant.drift_band is not None:
            # a corridor of that width instead of the symphony's own rule (dsl.md §4.1)
            rule = RebalanceRule.from_options(None, float(variant.drift_band))
            signals = dataclasses.replace(signals, rebalance_threshold=variant.drift_band, rebalance_rule=rule)
        out.append(signals)
    return out


def decision_signature(signals: list[StrategySignals], config: EngineConfig) -> str:
    """Hash of everything the daily loop reads besides the closes (the same for every point of a context)."""
    digest = hashlib.sha256()
    for s in signals:
        digest.update(repr((s.name, list(s.weights.columns), str(s.capital_weight), s.rule.describe())).encode())
        digest.update(np.ascontiguousarray(s.weights.to_numpy(dtype=np.float64)).tobytes())
        digest.update(np.ascontiguousarray(s.valid).tobytes())
    digest.update(repr(config.planner).encode())
    return digest.hexdigest()


def block_stats(
    returns: pd.Series, block_starts: tuple[np.datetime64, ...]
) -> tuple[list[float], list[float], list[float]]:
    """Count, sum and sum of squares of the daily returns falling in each block (blocks start at the given dates)."""
    dates = returns.index.to_numpy(dtype="datetime64[D]")
    edges = np.asarray(block_starts, dtype="datetime64[D]")
    which = np.searchsorted(edges, dates, side="right") - 1
    values = returns.to_numpy(dtype=np.float64)
    keep = (which >= 0) & np.isfinite(values)
    size = len(edges)
    count = np.bincount(which[keep], minlength=size).astype(np.float64)
    total = np.bincount(which[keep], weights=values[keep], minlength=size)
    squares = np.bincount(which[keep], weights=values[keep] ** 2, minlength=size)
    return count.tolist(), total.tolist(), squares.tolist()


def _moments(values: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """Per-period Sharpe (mean / std), skewness and (non-excess) kurtosis of daily returns; NaN when undefined."""
    if values.shape[0] < 3:
        return float("nan"), float("nan"), float("nan")
    mean, std = float(values.mean()), float(values.std(ddof=1))
    if std == 0:
        return float("nan"), float("nan"), float("nan")
    z = (values - mean) / values.std(ddof=0)
    return mean / std, float(np.mean(z**3)), float(np.mean(z**4))


def _or_nan(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)


def summarise(result: BacktestResult, context: SweepContext) -> dict[str, Any]:
    """A finished backtest as a result row: the report's own metrics plus what the overfitting statistics need
    (per-period Sharpe, skewness, kurtosis, per-block return sums). No curves: a row is a few hundred bytes."""
    metrics = result.performance()
    returns = daily_returns(result.equity, float(context.config.initial_capital))
    sr, skew, kurt = _moments(returns.to_numpy(dtype=np.float64))
    count, total, squares = block_stats(returns, context.block_starts)
    return {
        "start": metrics.start.isoformat(),
        "end": metrics.end.isoformat(),
        "sessions": metrics.sessions,
        "total_return": metrics.total_return,
        "cagr": _or_nan(metrics.annualised_return),
        "volatility": _or_nan(metrics.volatility),
        "sharpe": _or_nan(metrics.sharpe),
        "sortino": _or_nan(metrics.sortino),
        "max_drawdown": metrics.max_drawdown.depth,
        "calmar": _or_nan(metrics.calmar),
        "trades": _or_nan(metrics.trades),
        "exposure": _or_nan(metrics.exposure),
        "final_equity": metrics.end_equity,
        "sr": sr,
        "skew": skew,
        "kurtosis": kurt,
        "block_n": count,
        "block_sum": total,
        "block_sumsq": squares,
    }


def backtest_variant(context: SweepContext, signals: list[StrategySignals], config: EngineConfig) -> BacktestResult:
    """The full backtest of a variant (no benchmark: it is the same for every point)."""
    return run_backtest(
        signals, context.closes, dataclasses.replace(config, benchmark_symbol=None), replay=context.replay
    )


def _point_row(context: SweepContext, point: Point) -> dict[str, Any]:
    row: dict[str, Any] = {"point": point.index, "key": point.key}
    row.update({f"p_{p.name}": float(v) for p, v in zip(context.params, point.values, strict=True)})
    return row


def _error(row: dict[str, Any], exc: Exception) -> None:
    row["status"], row["error"], row["signature"] = "error", f"{type(exc).__name__}: {exc}", ""


def _decisions(
    context: SweepContext, point: Point, state: WorkerState | None
) -> tuple[list[StrategySignals], EngineConfig, str]:
    """The point's signals, engine settings and decision signature."""
    variant = apply_point(context, point.values)
    signals = evaluate_variant(context, variant, state if context.share_indicators else None)
    return signals, variant.config, decision_signature(signals, variant.config)


def run_point(context: SweepContext, point: Point, state: WorkerState | None) -> dict[str, Any]:
    started = time.perf_counter()
    row = _point_row(context, point)
    try:
        signals, config, signature = _decisions(context, point, state)
        memo = state.memo if state is not None and context.memo_decisions else None
        summary = memo.get(signature) if memo is not None else None
        if summary is None:
            summary = summarise(backtest_variant(context, signals, config), context)
            if state is not None:
                state.backtests += 1
            if memo is not None:
                memo[signature] = summary
                if len(memo) > MEMO_SIZE:
                    memo.popitem(last=False)
        elif state is not None:
            state.memo_hits += 1
        row.update(summary)
        row["status"], row["error"], row["signature"] = "ok", "", signature[:16]
    # Any exception is the point's own result (a value the symphony, planner or engine rejects): it is recorded
    # with its message and the sweep goes on; the worker process itself stays healthy.
    except Exception as exc:  # noqa: BLE001
        _error(row, exc)
    if state is not None:
        state.evaluated += 1
    row["seconds"] = time.perf_counter() - started
    return row


def run_chunk(context: SweepContext, chunk: list[Point]) -> list[dict[str, Any]]:
    """Evaluate points in order with this process's caches (the Dask task)."""
    state = worker_state(context)
    return [run_point(context, point, state) for point in chunk]


def screen_chunk(context: SweepContext, chunk: list[Point]) -> list[dict[str, Any]]:
    """The first of a sweep's two Dask passes: each point evaluated, not backtested. A row per point: its error
    (final), or status ``pending`` with its full decision signature."""
    state = worker_state(context)
    rows = []
    for point in chunk:
        started = time.perf_counter()
        row = _point_row(context, point)
        try:
            row["status"], row["error"], row["signature"] = "pending", "", _decisions(context, point, state)[2]
        except Exception as exc:  # noqa: BLE001  (the point's own result, as in run_point)
            _error(row, exc)
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
    return rows


def backtest_groups(context: SweepContext, groups: list[list[Point]]) -> list[dict[str, Any]]:
    """The second pass: the points of a group share one decision signature (``screen_chunk``), so the group's
    first point is backtested and every other point gets a copy of its row (``seconds`` 0: no work of its own)."""
    state = worker_state(context)
    rows = []
    for first, *others in groups:
        row = run_point(context, first, state)
        rows.append(row)
        rows.extend({**row, **_point_row(context, point), "seconds": 0.0} for point in others)
    return rows
