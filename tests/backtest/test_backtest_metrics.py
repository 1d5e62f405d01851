"""Metrics checked against hand calculations on tiny equity curves."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alchemiser.backtest.metrics import (
    buy_and_hold,
    compute_metrics,
    daily_returns,
    exposure,
    max_drawdown,
    monthly_returns,
    turnover,
)
from alchemiser.errors import DataError


def _series(values: list[float], start: str = "2024-01-02") -> pd.Series:
    idx = pd.bdate_range(start, periods=len(values))
    return pd.Series(values, index=idx, dtype="float64")


def test_daily_returns_first_return_is_against_initial_capital() -> None:
    eq = _series([99.0, 108.9, 98.01])
    rets = daily_returns(eq, 100.0)
    assert rets.tolist() == pytest.approx([-0.01, 0.10, -0.10])
    # without the initial capital the first day has no return
    assert daily_returns(eq).tolist() == pytest.approx([0.10, -0.10])


def test_total_and_annualised_return_by_hand() -> None:
    # 252 sessions growing 10 % in total: CAGR = 10 % exactly
    values = list(np.linspace(100.0, 110.0, 253)[1:])
    m = compute_metrics(_series(values), initial_equity=100.0)
    assert m.sessions == 252
    assert m.total_return == pytest.approx(0.10)
    assert m.annualised_return == pytest.approx(0.10)
    # half a year (126 sessions) of +10 % annualises to 1.1**2 - 1
    m2 = compute_metrics(_series(values[:126]), initial_equity=100.0)
    assert m2.annualised_return == pytest.approx((values[125] / 100.0) ** 2 - 1.0)


def test_volatility_sharpe_sortino_by_hand() -> None:
    eq = _series([101.0, 99.99, 102.9897, 101.959803])
    m = compute_metrics(eq, initial_equity=100.0)
    r = [0.01, -0.01, 0.03, -0.01]
    mean = sum(r) / 4
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 3)
    assert m.volatility == pytest.approx(sd * math.sqrt(252))
    assert m.sharpe == pytest.approx(mean / sd * math.sqrt(252))
    downside = math.sqrt((0.01**2 + 0.01**2) / 4)
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(252))
    # a risk-free rate lowers Sharpe by rf/252 per day
    m_rf = compute_metrics(eq, initial_equity=100.0, risk_free_rate=0.0252)
    assert m_rf.sharpe == pytest.approx((mean - 0.0001) / sd * math.sqrt(252))


def test_flat_curve_has_no_sharpe_or_sortino_rather_than_infinity() -> None:
    m = compute_metrics(_series([100.0] * 5), initial_equity=100.0)
    assert m.volatility == 0.0
    assert m.sharpe is None
    assert m.sortino is None
    assert m.max_drawdown.depth == 0.0
    assert m.calmar is None


def test_max_drawdown_depth_and_dates() -> None:
    eq = _series([100.0, 120.0, 90.0, 60.0, 100.0, 121.0, 110.0])
    dd = max_drawdown(eq, 100.0)
    assert dd.depth == pytest.approx(0.5)
    dates = [d.date() for d in eq.index]
    assert dd.peak == dates[1]
    assert dd.trough == dates[3]
    assert dd.recovery == dates[5]


def test_max_drawdown_from_starting_capital_and_never_recovered() -> None:
    eq = _series([95.0, 80.0, 90.0])
    dd = max_drawdown(eq, 100.0)
    assert dd.depth == pytest.approx(0.2)
    assert dd.peak is None  # the peak is the starting capital
    assert dd.trough == eq.index[1].date()
    assert dd.recovery is None


def test_calmar_is_annual_return_over_drawdown() -> None:
    eq = _series([100.0, 120.0, 90.0, 60.0, 100.0, 121.0, 110.0])
    m = compute_metrics(eq, initial_equity=100.0)
    assert m.annualised_return is not None
    assert m.calmar == pytest.approx(m.annualised_return / 0.5)


def test_turnover_trades_exposure_contributions() -> None:
    eq = _series([100.0, 100.0, 100.0, 100.0])
    trades = pd.DataFrame({"notional": [100.0, 50.0, 50.0]})
    # (200 / 2) / 100 mean equity = 1.0 over 4 sessions -> x 252/4 per year
    assert turnover(trades, eq) == pytest.approx(1.0 * 252 / 4)
    weights = pd.DataFrame({"A": [1.0, 0.5, 0.0, 0.0], "B": [0.0, 0.5, 0.5, 0.0]}, index=eq.index)
    assert exposure(weights) == pytest.approx((1.0 + 1.0 + 0.5 + 0.0) / 4)
    contributions = pd.DataFrame({"s1": [0.01, 0.02, -0.01, 0.0], "s2": [0.0, 0.0, 0.005, 0.0]}, index=eq.index)
    m = compute_metrics(eq, initial_equity=100.0, weights=weights, trades=trades, contributions=contributions)
    assert m.trades == 3
    assert m.contributions == pytest.approx({"s1": 0.02, "s2": 0.005})
    assert m.exposure == pytest.approx(0.625)


def test_to_dict_is_json_ready() -> None:
    m = compute_metrics(_series([100.0, 90.0, 95.0]), initial_equity=100.0)
    d = m.to_dict()
    assert d["start"] == "2024-01-02"
    assert d["max_drawdown"]["trough"] == "2024-01-03"
    assert d["max_drawdown"]["peak"] is None


def test_bad_equity_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(DataError, match="empty"):
        compute_metrics(pd.Series([], dtype="float64"))
    with pytest.raises(DataError, match="NaN"):
        compute_metrics(_series([100.0, float("nan")]))
    unsorted = pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-03", "2024-01-02"]))
    with pytest.raises(DataError, match="increasing"):
        compute_metrics(unsorted)
    with pytest.raises(DataError, match="zero"):
        compute_metrics(_series([100.0, 0.0, 10.0]), initial_equity=100.0)


def test_buy_and_hold_benchmark() -> None:
    prices = _series([float("nan"), 50.0, 55.0, float("nan"), 60.0])
    bench = buy_and_hold(prices, 1000.0)
    assert bench.tolist() == pytest.approx([1000.0, 1100.0, 1100.0, 1200.0])
    with pytest.raises(DataError, match="no prices"):
        buy_and_hold(_series([float("nan")]), 1000.0)


def test_monthly_returns_compound_within_each_month() -> None:
    idx = pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"])
    eq = pd.Series([110.0, 121.0, 108.9, 119.79], index=idx)
    table = monthly_returns(eq, 100.0)
    assert table.loc[2024, 1] == pytest.approx(0.21)
    assert table.loc[2024, 2] == pytest.approx(119.79 / 121.0 - 1.0)
    assert math.isnan(table.loc[2024, 3])
    assert list(table.columns) == list(range(1, 13))
    assert table.index.tolist() == [2024]


def test_contribution_shares_split_compounded_growth_and_add_up_to_one() -> None:
    eq = _series([110.0, 104.5])  # +10 %, then -5 %
    contributions = pd.DataFrame({"up": [0.10, 0.0], "down": [0.0, -0.05]}, index=eq.index)
    m = compute_metrics(eq, initial_equity=100.0, contributions=contributions)
    growth = math.log(1.045)
    assert m.contribution_shares["up"] == pytest.approx(math.log(1.10) / growth)
    assert m.contribution_shares["down"] == pytest.approx(math.log(0.95) / growth)
    assert sum(m.contribution_shares.values()) == pytest.approx(1.0)
    assert m.contributions == pytest.approx({"up": 0.10, "down": -0.05})
    with pytest.raises(DataError, match="1 rows of contributions for 2 daily returns"):
        compute_metrics(eq, initial_equity=100.0, contributions=contributions.iloc[:1])


def test_commissions_and_execution_cost_against_decision_prices() -> None:
    eq = _series([100.0, 100.0])
    trades = pd.DataFrame(
        {
            "side": ["buy", "sell"],
            "qty": [10.0, 4.0],
            "price": [10.02, 9.97],
            "reference": [10.0, 10.0],
            "notional": [100.2, 39.88],
            "commission": [1.0, 0.5],
        }
    )
    m = compute_metrics(eq, initial_equity=100.0, trades=trades)
    assert m.commissions == pytest.approx(1.5)
    assert m.execution_cost == pytest.approx(10 * 0.02 + 4 * 0.03)
    bare = compute_metrics(eq, initial_equity=100.0, trades=pd.DataFrame({"notional": [1.0]}))
    assert bare.commissions is None and bare.execution_cost is None
