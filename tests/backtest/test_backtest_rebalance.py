"""Rebalance frequency, corridor and the account drift band in the backtest loop (dsl.md §4.1)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pandas as pd

from alchemiser.backtest.engine import EngineConfig, run_backtest
from alchemiser.backtest.signals import StrategySignals
from alchemiser.dsl.rebalance import RebalanceFrequency, RebalanceRule
from alchemiser.portfolio import PlannerParams

FRICTIONLESS = PlannerParams(
    min_trade_notional=Decimal(0),
    cash_buffer_pct=Decimal(0),
    buy_price_margin_pct=Decimal(0),
    sell_price_margin_pct=Decimal(0),
)
DATES = pd.bdate_range("2023-01-02", "2023-06-30")


def _closes(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    walk = lambda: 100 * np.cumprod(1 + rng.normal(0, 0.02, len(DATES)))  # noqa: E731
    return pd.DataFrame({"A": walk(), "B": walk()}, index=DATES)


def _run(rule: RebalanceRule | None, rows: list[dict[str, float] | None], planner: PlannerParams = FRICTIONLESS):
    signal = StrategySignals.from_rows("s", DATES, rows, rebalance_rule=rule)
    config = EngineConfig(initial_capital=Decimal(100_000), planner=planner, benchmark_symbol=None)
    return run_backtest([signal], _closes(), config)


def test_monthly_symphony_trades_on_exactly_the_first_session_of_each_month() -> None:
    # the symphony flips between two branches every day: a monthly rule must ignore that between rebalance days
    rows: list[dict[str, float] | None] = [
        {"A": 0.7, "B": 0.3} if i % 2 else {"A": 0.3, "B": 0.7} for i in range(len(DATES))
    ]
    result = _run(RebalanceRule(RebalanceFrequency.MONTHLY), rows)
    traded = sorted({pd.Timestamp(d).date() for d in result.trades["date"]})
    first = result.start
    month_starts = sorted({d.date() for d in pd.Series(DATES).groupby(DATES.to_period("M")).min()})
    assert traded == [first] + [d for d in month_starts if d > first]
    assert result.strategies[0].rebalance == "monthly"
    assert result.strategies[0].rebalances == len(traded)
    daily = _run(None, rows)
    assert len({pd.Timestamp(d).date() for d in daily.trades["date"]}) > 100  # the daily rule follows every flip


def test_corridor_trades_only_when_the_book_drifts_past_the_band() -> None:
    rows: list[dict[str, float] | None] = [{"A": 0.5, "B": 0.5}] * len(DATES)
    result = _run(RebalanceRule(RebalanceFrequency.NONE, 0.05), rows)
    days = sorted({pd.Timestamp(d) for d in result.trades["date"]})
    assert 1 < len(days) < 20
    closes = _closes()
    for before, day in itertools.pairwise(days):
        # on the day it trades, the book bought at ``before`` has drifted past 5 points
        growth = closes.loc[day] / closes.loc[before]
        weight_a = 0.5 * growth["A"] / (0.5 * growth["A"] + 0.5 * growth["B"])
        assert abs(weight_a - 0.5) > 0.05


def test_drift_band_stops_a_single_asset_symphony_churning_its_cash_buffer() -> None:
    rows: list[dict[str, float] | None] = [{"A": 1.0}] * len(DATES)
    with_buffer = PlannerParams(cash_buffer_pct=Decimal("0.01"), min_trade_notional=Decimal(1))
    churn = _run(None, rows, with_buffer)
    banded = _run(None, rows, PlannerParams(cash_buffer_pct=Decimal("0.01"), drift_band=Decimal("0.01")))
    assert len(churn.trades) > 50  # the 1 % buffer drifts every session and is traded back
    assert len(banded.trades) <= 3
    assert banded.performance().turnover < churn.performance().turnover
