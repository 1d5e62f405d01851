"""Performance metrics from daily series (pure: pandas/numpy in, plain numbers out).

Conventions, stated once so that every figure can be checked by hand:

- ``equity`` is the account value at each session's close, indexed by session date (ascending). The value before
  the first session (``initial_equity``, the starting capital) is the base of the first daily return, so the costs
  of the first day's buy-in show up in the returns.
- Daily return r_t = E_t / E_{t-1} - 1. A year has 252 sessions.
- Annualised return (CAGR) = (E_end / E_0) ** (252 / n) - 1, n = number of daily returns.
- Volatility = sample standard deviation (ddof 1) of daily returns x sqrt(252).
- Sharpe = mean(r - rf_d) / std(r - rf_d, ddof 1) x sqrt(252), rf_d = annual risk-free rate / 252.
- Sortino = mean(r - rf_d) / sqrt(mean(min(r - rf_d, 0) ** 2)) x sqrt(252) (downside deviation over all days).
- Max drawdown = max_t (1 - E_t / max_{s<=t} E_s) over E_0..E_end, as a positive fraction, with the peak date, the
  trough date and the first date the old peak was regained (``None`` while under water). When the peak is the
  starting capital E_0, its date is ``None``.
- Calmar = annualised return / max drawdown.
- Turnover = (sum of |traded notional| / 2) / mean equity, annualised by x 252 / n (one-way, per year).
- Commissions = sum of the fills' commissions; execution cost = sum of (fill - decision price) x qty, signed
  against the trader (spread and slippage), in account currency.
- Exposure = mean over sessions of gross invested value / equity (0 = all cash, 1 = fully invested).
- Contribution of a strategy = sum over sessions of its daily return contribution (fractions of the account);
  its share of growth = the same with each day scaled to log returns, so that the shares add up to 1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from alchemiser.errors import DataError

TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall from a running peak. ``depth`` is a positive fraction (0.25 = 25 %)."""

    depth: float
    peak: date | None
    trough: date | None
    recovery: date | None


@dataclass(frozen=True)
class Metrics:
    """Summary statistics of one equity curve (see the module docstring for the definitions)."""

    start: date
    end: date
    sessions: int
    start_equity: float
    end_equity: float
    total_return: float
    annualised_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: Drawdown
    calmar: float | None
    turnover: float | None = None
    trades: int | None = None
    commissions: float | None = None
    execution_cost: float | None = None
    exposure: float | None = None
    contributions: dict[str, float] = field(default_factory=dict)
    contribution_shares: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings, NaN never appears (``None`` instead)."""
        raw = asdict(self)
        return _jsonable(raw)  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _as_date(stamp: Any) -> date:
    return pd.Timestamp(stamp).date()


def _check_equity(equity: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    if len(equity) == 0:
        raise DataError("equity series is empty: nothing to measure")
    if not equity.index.is_monotonic_increasing or equity.index.has_duplicates:
        raise DataError("equity series index must be strictly increasing session dates")
    values = equity.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DataError("equity series holds NaN or infinite values")
    return values


def daily_returns(equity: pd.Series, initial_equity: float | None = None) -> pd.Series:
    """r_t = E_t / E_{t-1} - 1; the first return is against ``initial_equity`` (dropped when it is ``None``)."""
    values = _check_equity(equity)
    base = np.concatenate(([np.nan if initial_equity is None else float(initial_equity)], values[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = values / base - 1.0
    out = pd.Series(rets, index=equity.index, name="return")
    return out.iloc[1:] if initial_equity is None else out


def max_drawdown(equity: pd.Series, initial_equity: float | None = None) -> Drawdown:
    """Deepest peak-to-trough fall; the peak may be the starting capital (then ``peak`` is ``None``)."""
    values = _check_equity(equity)
    dates: list[date | None] = [_as_date(d) for d in equity.index]
    if initial_equity is not None:
        values = np.concatenate(([float(initial_equity)], values))
        dates = [None, *dates]
    running_peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(running_peak > 0, 1.0 - values / running_peak, 0.0)
    trough_i = int(np.argmax(dd))
    depth = float(dd[trough_i])
    if depth <= 0.0:
        return Drawdown(depth=0.0, peak=None, trough=None, recovery=None)
    peak_i = int(np.argmax(values[: trough_i + 1]))  # first index holding the running peak
    peak_value = values[peak_i]
    recovered = np.nonzero(values[trough_i + 1 :] >= peak_value)[0]
    recovery = dates[trough_i + 1 + int(recovered[0])] if recovered.size else None
    return Drawdown(depth=depth, peak=dates[peak_i], trough=dates[trough_i], recovery=recovery)


def _annualised_return(start_equity: float, end_equity: float, n: int) -> float | None:
    if n <= 0 or start_equity <= 0:
        return None
    growth = end_equity / start_equity
    if growth <= 0:
        return -1.0
    return float(growth ** (TRADING_DAYS_PER_YEAR / n) - 1.0)


def _volatility(rets: np.ndarray[Any, np.dtype[np.float64]]) -> float | None:
    if rets.size < 2:
        return None
    return float(np.std(rets, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR))


def _sharpe(excess: np.ndarray[Any, np.dtype[np.float64]]) -> float | None:
    if excess.size < 2:
        return None
    sd = float(np.std(excess, ddof=1))
    if sd <= 1e-15:
        return None
    return float(np.mean(excess) / sd * math.sqrt(TRADING_DAYS_PER_YEAR))


def _sortino(excess: np.ndarray[Any, np.dtype[np.float64]]) -> float | None:
    if excess.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside <= 1e-15:
        return None
    return float(np.mean(excess) / downside * math.sqrt(TRADING_DAYS_PER_YEAR))


def turnover(trades: pd.DataFrame, equity: pd.Series) -> float | None:
    """Annualised one-way turnover: (sum |notional| / 2) / mean equity x 252 / sessions."""
    values = _check_equity(equity)
    mean_equity = float(np.mean(values))
    if mean_equity <= 0:
        return None
    traded = float(np.abs(trades["notional"].to_numpy(dtype=np.float64)).sum()) if len(trades) else 0.0
    return traded / 2.0 / mean_equity * TRADING_DAYS_PER_YEAR / len(values)


def _column_sum(trades: pd.DataFrame | None, column: str) -> float | None:
    if trades is None or column not in trades.columns:
        return None
    return float(trades[column].to_numpy(dtype=np.float64).sum()) if len(trades) else 0.0


def execution_cost(trades: pd.DataFrame) -> float | None:
    """What fills cost against their decision prices: sum of (price - reference) x qty for buys, the reverse for
    sells (spread and slippage; negative when fills beat the reference). ``None`` without a ``reference`` column."""
    if "reference" not in trades.columns:
        return None
    if not len(trades):
        return 0.0
    price = trades["price"].to_numpy(dtype=np.float64)
    reference = trades["reference"].to_numpy(dtype=np.float64)
    qty = trades["qty"].to_numpy(dtype=np.float64)
    sign = np.where(trades["side"].to_numpy() == "buy", 1.0, -1.0)
    return float((sign * (price - reference) * qty).sum())


def exposure(weights: pd.DataFrame) -> float | None:
    """Mean gross invested fraction of equity over sessions (weights: sessions x symbols, fractions of equity)."""
    if len(weights) == 0:
        return None
    gross = weights.abs().sum(axis=1).to_numpy(dtype=np.float64)
    return float(np.mean(gross))


def compute_metrics(
    equity: pd.Series,
    *,
    initial_equity: float | None = None,
    weights: pd.DataFrame | None = None,
    trades: pd.DataFrame | None = None,
    contributions: pd.DataFrame | None = None,
    risk_free_rate: float = 0.0,
) -> Metrics:
    """All metrics of one equity curve.

    ``weights`` (sessions x symbols, end-of-session holdings as fractions of equity) gives exposure; ``trades``
    (a ``notional`` column, one row per fill) gives turnover and the trade count; ``contributions`` (sessions x
    strategies, daily return contributions) gives per-strategy contribution. Each is optional.
    """
    values = _check_equity(equity)
    rets = daily_returns(equity, initial_equity).to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(rets)):
        raise DataError("equity reaches zero or below: daily returns are undefined")
    start_equity = float(initial_equity) if initial_equity is not None else float(values[0])
    end_equity = float(values[-1])
    total = end_equity / start_equity - 1.0 if start_equity > 0 else math.nan
    annual = _annualised_return(start_equity, end_equity, rets.size)
    excess = rets - risk_free_rate / TRADING_DAYS_PER_YEAR
    dd = max_drawdown(equity, initial_equity)
    calmar = annual / dd.depth if annual is not None and dd.depth > 0 else None
    return Metrics(
        start=_as_date(equity.index[0]),
        end=_as_date(equity.index[-1]),
        sessions=len(values),
        start_equity=start_equity,
        end_equity=end_equity,
        total_return=float(total),
        annualised_return=annual,
        volatility=_volatility(rets),
        sharpe=_sharpe(excess),
        sortino=_sortino(excess),
        max_drawdown=dd,
        calmar=_finite_or_none(calmar) if calmar is not None else None,
        turnover=turnover(trades, equity) if trades is not None else None,
        trades=len(trades) if trades is not None else None,
        commissions=_column_sum(trades, "commission"),
        execution_cost=execution_cost(trades) if trades is not None else None,
        exposure=exposure(weights) if weights is not None else None,
        contributions=(
            {str(col): float(contributions[col].sum()) for col in contributions.columns}
            if contributions is not None
            else {}
        ),
        contribution_shares=contribution_shares(contributions, rets) if contributions is not None else {},
    )


def contribution_shares(contributions: pd.DataFrame, rets: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, float]:
    """Each strategy's share of the compounded growth: sum_t c_t x ln(1 + r_t) / r_t over ln(E_end / E_0).

    Daily contributions c_t add up to r_t; scaling each day by ln(1 + r_t) / r_t makes them add up to the day's log
    return, so the shares add up to 1 over the whole run (unattributed P&L included). Empty when the run did not
    grow or shrink.
    """
    values = contributions.to_numpy(dtype=np.float64)
    if len(values) != rets.size:
        raise DataError(f"{len(values)} rows of contributions for {rets.size} daily returns")
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.abs(rets) > 1e-15, np.log1p(rets) / rets, 1.0)
    total = float(np.log1p(rets).sum())
    if abs(total) < 1e-12:
        return {}
    scaled = (values * scale[:, None]).sum(axis=0) / total
    return {str(col): float(v) for col, v in zip(contributions.columns, scaled, strict=True)}


def buy_and_hold(prices: pd.Series, capital: float) -> pd.Series:
    """Equity of ``capital`` invested at the first close of ``prices`` and held (no costs): the benchmark curve.

    Missing closes are carried forward; the series starts at the first valid close.
    """
    clean = prices.astype(np.float64).ffill().dropna()
    if clean.empty:
        raise DataError("benchmark has no prices in the backtest period")
    if float(clean.iloc[0]) <= 0:
        raise DataError("benchmark's first close is not positive")
    return (clean / float(clean.iloc[0]) * float(capital)).rename("benchmark")


def monthly_returns(equity: pd.Series, initial_equity: float | None = None) -> pd.DataFrame:
    """Compounded return of each calendar month: a years x months (1..12) table, NaN where there is no data."""
    rets = daily_returns(equity, initial_equity)
    if rets.empty:
        return pd.DataFrame(index=pd.Index([], name="year"), columns=pd.Index(range(1, 13), name="month"))
    idx = pd.DatetimeIndex(rets.index)
    grouped = (1.0 + rets).groupby([idx.year, idx.month]).prod() - 1.0
    table = grouped.unstack()
    table.index.name = "year"
    table.columns.name = "month"
    return table.reindex(columns=range(1, 13))
