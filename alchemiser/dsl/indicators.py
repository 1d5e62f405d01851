"""Vectorised indicators (dsl.md §3) over a whole close-price series.

Every function takes a float64 array of adjusted closes on the date axis (NaN where the symbol has no bar) and
returns a float64 array of the same length holding the indicator's value *as of each date* (computed only from
bars up to and including that date), NaN where it is unavailable. Nothing ever stands in for "unknown": no 0, no 50.

A *run* is a maximal stretch of consecutive dates with a bar. Windows never span a missing bar: an indicator that
needs ``k`` bars is available on a date only if the run ending there is at least ``k`` bars long. The recursive
indicators (RSI, EMA, PPO) use "the whole available history", i.e. the run ending at that date.

pandas is not imported here: the daemon's symphony worker process evaluates with numpy alone (pandas and the pyarrow
it loads are ~55 MiB resident). Long EMAs use pandas' ``ewm`` only where pandas is already loaded (backtests,
research); elsewhere a loop doing pandas' exact arithmetic gives the same floats bit for bit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from alchemiser.dsl.ast import IndicatorName, Metric

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def run_lengths(prices: FloatArray) -> npt.NDArray[np.int64]:
    """Number of consecutive bars ending at each date (0 where there is no bar)."""
    present = ~np.isnan(prices)
    n = present.shape[0]
    idx = np.arange(1, n + 1, dtype=np.int64)
    last_gap = np.maximum.accumulate(np.where(present, 0, idx))
    return np.where(present, idx - last_gap, 0)


def bars_needed(metric: Metric) -> int:
    """Bars an indicator needs before it is available (dsl.md §3, "needs")."""
    name = metric.name
    if name is IndicatorName.CURRENT_PRICE:
        return 1
    if name in (IndicatorName.PPO, IndicatorName.PPO_SIGNAL):
        need = metric.param("long-window")
        if name is IndicatorName.PPO_SIGNAL:
            need += metric.param("smooth-window")
        return need
    window = metric.param("window")
    if name in (
        IndicatorName.RSI,
        IndicatorName.MOVING_AVERAGE_RETURN,
        IndicatorName.CUMULATIVE_RETURN,
        IndicatorName.STDEV_RETURN,
    ):
        return window + 1
    return window


def is_recursive(metric: Metric) -> bool:
    """True for indicators whose value depends on the whole history (exponential averages)."""
    return metric.name in (
        IndicatorName.RSI,
        IndicatorName.EXPONENTIAL_MOVING_AVERAGE_PRICE,
        IndicatorName.PPO,
        IndicatorName.PPO_SIGNAL,
    )


def compute(metric: Metric, prices: FloatArray, runs: npt.NDArray[np.int64] | None = None) -> FloatArray:
    """Value of ``metric`` on every date of ``prices`` (NaN where unavailable).

    ``runs`` (default: :func:`run_lengths` of ``prices``) gives the length of the run of bars ending at each date;
    pass it when adjacent runs must not be joined (a portfolio's price series restarting at a new base).
    """
    prices = np.asarray(prices, dtype=np.float64)
    if runs is None:
        runs = run_lengths(prices)
    need = bars_needed(metric)
    name = metric.name
    if name is IndicatorName.CURRENT_PRICE:
        values = prices.copy()
    elif name is IndicatorName.RSI:
        values = _per_run(prices, runs, need, lambda seg: _rsi(seg, metric.param("window")))
    elif name is IndicatorName.EXPONENTIAL_MOVING_AVERAGE_PRICE:
        values = _per_run(prices, runs, need, lambda seg: _ema(seg, 2.0 / (metric.param("window") + 1.0)))
    elif name is IndicatorName.PPO:
        values = _per_run(
            prices, runs, need, lambda seg: _ppo(seg, metric.param("short-window"), metric.param("long-window"))
        )
    elif name is IndicatorName.PPO_SIGNAL:
        smooth = metric.param("smooth-window")
        values = _per_run(
            prices,
            runs,
            need,
            lambda seg: _ema(
                _ppo(seg, metric.param("short-window"), metric.param("long-window")), 2.0 / (smooth + 1.0)
            ),
        )
    else:
        window = metric.param("window")
        if name is IndicatorName.MOVING_AVERAGE_PRICE:
            values = _rolling(prices, window, lambda w: w.mean(axis=1))
        elif name is IndicatorName.STDEV_PRICE:
            values = _rolling(prices, window, lambda w: w.std(axis=1, ddof=1)) if window > 1 else _nan_like(prices)
        elif name is IndicatorName.MAX_DRAWDOWN:
            values = _rolling(prices, window, _max_drawdown)
        else:
            returns = daily_returns(prices)
            if name is IndicatorName.MOVING_AVERAGE_RETURN:
                values = _rolling(returns, window, lambda w: w.mean(axis=1)) * 100.0
            elif name is IndicatorName.STDEV_RETURN:
                # dsl.md §3: sample std (ddof 1) of daily % returns, not annualised (Composer's own allocations agree)
                values = (
                    _rolling(returns * 100.0, window, lambda w: w.std(axis=1, ddof=1))
                    if window > 1
                    else _nan_like(prices)
                )
            elif name is IndicatorName.CUMULATIVE_RETURN:
                values = _nan_like(prices)
                if window < prices.shape[0]:
                    values[window:] = (prices[window:] / prices[:-window] - 1.0) * 100.0
            else:  # pragma: no cover - every IndicatorName is handled above
                raise AssertionError(name)
    values[runs < need] = np.nan
    return values


def daily_returns(prices: FloatArray) -> FloatArray:
    """Close-to-close return on each date (NaN on a run's first bar and where there is no bar)."""
    out = _nan_like(prices)
    if prices.shape[0] > 1:
        out[1:] = prices[1:] / prices[:-1] - 1.0
    return out


def _nan_like(x: FloatArray) -> FloatArray:
    return np.full(x.shape[0], np.nan, dtype=np.float64)


def _rolling(x: FloatArray, window: int, reduce: Callable[[FloatArray], FloatArray]) -> FloatArray:
    out = _nan_like(x)
    if window > x.shape[0]:
        return out
    view = np.lib.stride_tricks.sliding_window_view(x, window)
    out[window - 1 :] = reduce(view)
    return out


def _max_drawdown(view: FloatArray) -> FloatArray:
    peaks = np.maximum.accumulate(view, axis=1)
    result: FloatArray = np.max(1.0 - view / peaks, axis=1) * 100.0
    return result


def _per_run(
    prices: FloatArray, runs: npt.NDArray[np.int64], need: int, fn: Callable[[FloatArray], FloatArray]
) -> FloatArray:
    """Apply ``fn`` to each run of at least ``need`` bars (shorter runs stay NaN: the value is unavailable)."""
    out = _nan_like(prices)
    is_end = runs > 0
    is_end[:-1] &= runs[1:] != runs[:-1] + 1
    ends = np.flatnonzero(is_end & (runs >= need)) + 1
    for stop in ends.tolist():
        start = stop - int(runs[stop - 1])
        out[start:stop] = fn(prices[start:stop])
    return out


_SHORT_RUN = 256  # below this a plain loop beats the fixed cost of pandas' ewm


def _ema(x: FloatArray, alpha: float) -> FloatArray:
    """y_0 = x_0, y_t = (1 − α)·y_{t−1} + α·x_t (no NaN inside ``x``)."""
    if x.shape[0] >= _SHORT_RUN:
        return _long_ema(x, alpha)
    out = np.empty(x.shape[0], dtype=np.float64)
    beta = 1.0 - alpha
    y = 0.0
    for i, v in enumerate(x.tolist()):
        y = v if i == 0 else beta * y + alpha * v
        out[i] = y
    return out


def _long_ema(x: FloatArray, alpha: float) -> FloatArray:
    """``pd.Series(x).ewm(alpha=alpha, adjust=False).mean()``: pandas' own kernel when pandas is loaded, else the
    same arithmetic in Python (pandas derives its weight from the centre of mass, normalises every step by the sum of
    the weights and keeps the mean on a repeated value), which gives identical floats."""
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return ewm_mean_like_pandas(x, alpha)
    result: FloatArray = pandas.Series(x).ewm(alpha=alpha, adjust=False).mean().to_numpy(dtype=np.float64)
    return result


def ewm_mean_like_pandas(x: FloatArray, alpha: float) -> FloatArray:
    """pandas' ``ewm(alpha=alpha, adjust=False).mean()`` of ``x`` (no NaN inside) step for step, without pandas."""
    new_weight = 1.0 / (1.0 + (1.0 - alpha) / alpha)
    old_weight = 1.0 - new_weight
    total_weight = old_weight + new_weight
    values = x.tolist()
    out = np.empty(len(values), dtype=np.float64)
    y = values[0]
    out[0] = y
    for i in range(1, len(values)):
        v = values[i]
        if y != v:
            y = (old_weight * y + new_weight * v) / total_weight
        out[i] = y
    return out


def _rsi(seg: FloatArray, window: int) -> FloatArray:
    delta = np.diff(seg, prepend=seg[0])  # 0 on the first bar of the history
    gains = np.maximum(delta, 0.0)
    losses = np.maximum(-delta, 0.0)
    alpha = 1.0 / window
    ag = _ema(gains, alpha)
    al = _ema(losses, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + ag / al)
    rsi = np.where(al == 0.0, np.where(ag > 0.0, 100.0, 50.0), rsi)
    result: FloatArray = rsi.astype(np.float64)
    return result


def _ppo(seg: FloatArray, short: int, long: int) -> FloatArray:
    ema_short = _ema(seg, 2.0 / (short + 1.0))
    ema_long = _ema(seg, 2.0 / (long + 1.0))
    result: FloatArray = (ema_short - ema_long) / ema_long * 100.0
    return result
