"""The daemon's per-strategy book rule (trading/rebalancing.py) on the live book, and the same rule in the backtest.

dsl.md §3: "After the start, a strategy that fails closed keeps its previous holdings (live and in backtests)" and
"fail closed: that strategy places no trades" — its book drifts with the market; it is *not* traded back to its last
target (that would place trades for a strategy that could not decide).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from alchemiser.backtest.engine import EngineConfig, run_backtest
from alchemiser.backtest.signals import StrategySignals
from alchemiser.dsl.rebalance import RebalanceAction, RebalanceFrequency, RebalanceRule
from alchemiser.portfolio import PlannerParams
from alchemiser.trading.rebalancing import live_target

MONTHLY = RebalanceRule(RebalanceFrequency.MONTHLY)
DAILY = RebalanceRule(RebalanceFrequency.DAILY)
LAST = {"A": Decimal("0.5"), "B": Decimal("0.5")}
BOOK = {"A": Decimal("6000"), "B": Decimal("4000")}  # A rose since the last rebalance: 60/40 now


def _target(rule: RebalanceRule, session: date, previous: date, allocation: dict[str, Decimal] | None, book=BOOK):  # type: ignore[no-untyped-def]
    return live_target(
        name="s",
        capital_weight=Decimal("0.5"),
        rule=rule,
        session=session,
        previous_session=previous,
        allocation=allocation,
        last_allocation=LAST,
        book=book,
    )


@pytest.mark.parametrize("rule", [DAILY, MONTHLY])
def test_a_failed_strategy_keeps_its_drifted_holdings_not_its_last_target(rule: RebalanceRule) -> None:
    target, action = _target(rule, date(2024, 4, 1), date(2024, 3, 28), None)  # even on a rebalance day
    assert action is RebalanceAction.HOLD and target.hold and not target.exact
    assert {s: round(float(w), 9) for s, w in target.weights.items()} == {"A": 0.6, "B": 0.4}
    unknown, _ = _target(rule, date(2024, 4, 1), date(2024, 3, 28), None, book=None)
    assert unknown.hold and dict(unknown.weights) == {"A": Decimal("0.5"), "B": Decimal("0.5")}, (
        "without a priced book the last allocation stands in for the holdings"
    )


def test_monthly_book_holds_between_rebalance_days_and_trades_exactly_on_the_first_session() -> None:
    wanted = {"A": Decimal("0.5"), "B": Decimal("0.5")}
    between, action = _target(MONTHLY, date(2024, 3, 5), date(2024, 3, 4), wanted)
    assert action is RebalanceAction.HOLD and between.hold
    first, action = _target(MONTHLY, date(2024, 4, 1), date(2024, 3, 28), wanted)
    assert action is RebalanceAction.FULL and first.exact and dict(first.weights) == wanted
    daily, action = _target(DAILY, date(2024, 3, 5), date(2024, 3, 4), wanted)
    assert action is RebalanceAction.TRADE and not daily.hold and not daily.exact  # the drift band applies


def test_backtest_book_of_a_failed_strategy_drifts_and_nothing_of_it_trades() -> None:
    dates = pd.bdate_range("2024-03-04", periods=7)
    closes = pd.DataFrame({"A": [100.0, 100.0, 100.0, 120.0, 120.0, 120.0, 120.0], "B": 100.0}, index=dates)
    ok = {"A": 0.5, "B": 0.5}
    rows: list[dict[str, float] | None] = [ok, ok, None, None, None, ok, ok]  # rows 2-4 decide sessions 3-5
    errors = {d.date(): "rsi(SPY) unavailable" for d in dates[2:5]}
    signal = StrategySignals.from_rows("s", dates, rows, errors=errors, rebalance_rule=DAILY)
    planner = PlannerParams(min_trade_notional=Decimal(0), cash_buffer_pct=Decimal(0), buy_price_margin_pct=Decimal(0))
    result = run_backtest([signal], closes, EngineConfig(planner=planner, benchmark_symbol=None))
    traded = sorted({pd.Timestamp(d) for d in result.trades["date"]})
    assert traded == [dates[1], dates[6]], "the failed sessions 3-5 place no trades; session 6 decides again"
    targets = result.targets  # the account's target weights: the planner's input
    for day in dates[3:6]:
        assert targets.loc[day, "A"] == pytest.approx(120 / 220), "the held book drifted (not reset to 50/50)"
    assert targets.loc[dates[6], "A"] == pytest.approx(0.5)
    assert result.strategies[0].failed_sessions == 3
    assert np.isfinite(result.equity.to_numpy()).all()
