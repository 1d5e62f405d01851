"""The daily loop on hand-checkable inputs: timing, trades, accounting, costs, drift band, risk, bad input."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from alchemiser.backtest.engine import EngineConfig, run_backtest
from alchemiser.backtest.result import Costs
from alchemiser.backtest.signals import StrategySignals
from alchemiser.errors import DataError, StrategyError
from alchemiser.portfolio import PlannerParams, RiskParams

FRICTIONLESS = PlannerParams(
    min_trade_notional=Decimal(0),
    cash_buffer_pct=Decimal(0),
    buy_price_margin_pct=Decimal(0),
    sell_price_margin_pct=Decimal(0),
)
DATES = pd.bdate_range("2024-03-04", periods=5)


def _closes(**columns: list[float]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=DATES[:n], dtype="float64")


def _config(**kwargs: object) -> EngineConfig:
    base: dict[str, object] = {"initial_capital": Decimal(100_000), "planner": FRICTIONLESS, "benchmark_symbol": None}
    base.update(kwargs)
    return EngineConfig(**base)  # type: ignore[arg-type]


def _switcher(rows: list[dict[str, float] | None], name: str = "switch", **kwargs: object) -> StrategySignals:
    return StrategySignals.from_rows(name, DATES[: len(rows)], rows, **kwargs)  # type: ignore[arg-type]


CLOSES = _closes(A=[10.0, 10.0, 11.0, 12.0, 12.0], B=[20.0, 20.0, 20.0, 18.0, 24.0])
ROWS: list[dict[str, float] | None] = [{"A": 1.0}, {"A": 1.0}, {"B": 1.0}, {"B": 1.0}, {"A": 1.0}]


def test_two_asset_switch_trades_and_returns_by_hand() -> None:
    result = run_backtest([_switcher(ROWS)], CLOSES, _config())
    # previous_close: the decision on day i uses row i-1, so day 0 cannot trade and the run starts on day 1
    assert result.start == DATES[1].date()
    trades = result.trades
    assert [(t.date, t.symbol, t.side, t.qty, t.price) for t in trades.itertuples()] == [
        (DATES[1], "A", "buy", Decimal("10000"), Decimal("10.0")),
        (DATES[3], "A", "sell", Decimal("10000"), Decimal("12.0")),
        (DATES[3], "B", "buy", Decimal("6666.666666"), Decimal("18.0")),
    ]
    leftover = 120_000 - 6666.666666 * 18
    expected = [100_000.0, 110_000.0, 120_000.0, 6666.666666 * 24 + leftover]
    assert result.equity.tolist() == pytest.approx(expected, rel=1e-12)
    assert result.cash.iloc[-1] == pytest.approx(leftover, abs=1e-9)
    metrics = result.performance()
    assert metrics.total_return == pytest.approx(expected[-1] / 100_000 - 1)
    assert metrics.trades == 3
    assert result.notes[0].startswith("Start 2024-03-05")


def test_live_policy_decides_on_the_same_sessions_close() -> None:
    result = run_backtest([_switcher(ROWS)], CLOSES, _config(as_of_policy="live"))
    assert result.start == DATES[0].date()
    sides = [(t.date, t.symbol, t.side) for t in result.trades.itertuples()]
    assert sides == [
        (DATES[0], "A", "buy"),
        (DATES[2], "A", "sell"),
        (DATES[2], "B", "buy"),
        (DATES[4], "B", "sell"),
        (DATES[4], "A", "buy"),
    ]


def test_no_look_ahead_the_decision_on_d_ignores_rows_from_d_onwards() -> None:
    base = run_backtest([_switcher(ROWS)], CLOSES, _config())
    # change what the strategy says on day 3 and day 4: decisions up to day 3 must not move
    changed_rows = [*ROWS[:3], {"A": 1.0}, {"B": 1.0}]
    changed = run_backtest([_switcher(changed_rows)], CLOSES, _config())
    until = DATES[3]
    assert base.trades[base.trades["date"] <= until].equals(changed.trades[changed.trades["date"] <= until])
    assert base.equity.loc[:until].tolist() == changed.equity.loc[:until].tolist()
    assert base.strategy_targets["switch"].loc[DATES[4], "B"] == 1.0  # row 3 decides day 4
    assert changed.strategy_targets["switch"].loc[DATES[4], "A"] == 1.0


def test_equity_is_cash_plus_positions_every_session_and_costs_are_paid_once() -> None:
    costs = Costs(
        spread_bps=Decimal(10),
        slippage_bps=Decimal(5),
        commission_per_order=Decimal(1),
        commission_per_share=Decimal("0.005"),
    )
    rng = np.random.default_rng(11)
    n = 60
    dates = pd.bdate_range("2023-01-02", periods=n)
    closes = pd.DataFrame(
        {s: 50 * np.cumprod(1 + rng.normal(0, 0.02, n)) for s in ("A", "B", "C")}, index=dates, dtype="float64"
    )
    picks = [{"A": 0.5, "B": 0.5}, {"B": 1.0}, {"A": 0.2, "C": 0.8}]
    rows: list[dict[str, float] | None] = [picks[(i // 7) % 3] for i in range(n)]
    signal = StrategySignals.from_rows("mix", dates, rows)
    result = run_backtest([signal], closes, _config(costs=costs, planner=PlannerParams()))
    # cash + sum(weights) x equity = equity on every session
    invested = (result.weights.sum(axis=1) * result.equity).to_numpy()
    assert np.allclose(invested + result.cash.to_numpy(), result.equity.to_numpy(), rtol=1e-12)
    assert (result.cash >= 0).all()
    # costs are paid once: replaying the trades' cash flows reproduces the final cash exactly
    cash = Decimal(100_000)
    for t in result.trades.itertuples():
        if t.side == "buy":
            cash -= t.qty * t.price + t.commission
        else:
            cash += t.qty * t.price - t.commission
    assert float(cash) == pytest.approx(float(result.cash.iloc[-1]), abs=1e-6)
    # every fill pays the per-order and per-share commission
    assert all(t.commission == Decimal(1) + Decimal("0.005") * t.qty for t in result.trades.itertuples())
    # buys fill above the close, sells below (spread + slippage)
    for t in result.trades.itertuples():
        close = closes.loc[t.date, t.symbol]
        assert (float(t.price) > close) if t.side == "buy" else (float(t.price) < close)
    # the per-strategy contributions add up to the daily returns, and the shares of growth to 1
    daily = result.equity.to_numpy() / np.concatenate(([100_000.0], result.equity.to_numpy()[:-1])) - 1
    assert np.allclose(result.contributions.sum(axis=1).to_numpy(), daily, atol=1e-12)
    assert sum(result.performance().contribution_shares.values()) == pytest.approx(1.0)


def test_costs_lower_the_result_against_a_frictionless_run() -> None:
    free = run_backtest([_switcher(ROWS)], CLOSES, _config())
    costly = run_backtest(
        [_switcher(ROWS)], CLOSES, _config(costs=Costs(spread_bps=Decimal(20), commission_per_order=Decimal(5)))
    )
    assert costly.equity.iloc[-1] < free.equity.iloc[-1]
    first_buy = costly.trades.iloc[0]
    assert first_buy.price == Decimal("10.01")  # ask = 10 + 10 bps half-spread, rounded up to the cent
    assert first_buy.reference == Decimal("10.0")
    metrics = costly.performance()
    assert metrics.commissions == pytest.approx(5.0 * len(costly.trades))
    expected = sum(
        float(abs(t.price - t.reference) * t.qty) for t in costly.trades.itertuples()
    )  # every fill pays half the spread against its decision price
    assert metrics.execution_cost == pytest.approx(expected)
    assert free.performance().execution_cost == 0.0
    assert first_buy.qty * first_buy.price + Decimal(5) <= Decimal(100_000)


def test_whole_shares_round_down_and_leave_cash() -> None:
    closes = _closes(A=[30.0, 30.0, 33.0])
    signal = _switcher([{"A": 1.0}] * 3)
    result = run_backtest([signal], closes, _config(whole_shares=True))
    buy = result.trades.iloc[0]
    assert buy.qty == Decimal(3333)
    assert result.cash.iloc[0] == pytest.approx(100_000 - 3333 * 30)


def test_drift_band_holds_until_the_weight_leaves_the_band() -> None:
    dates = pd.bdate_range("2024-01-01", periods=4)
    closes = pd.DataFrame({"A": [10.0, 10.0, 11.0, 14.0], "B": [10.0, 10.0, 10.0, 10.0]}, index=dates)
    rows: list[dict[str, float] | None] = [{"A": 0.5, "B": 0.5}] * 4

    def run(threshold: Decimal | None) -> pd.DataFrame:
        signal = StrategySignals.from_rows("band", dates, rows, rebalance_threshold=threshold)
        return run_backtest([signal], closes, _config()).trades

    # no band: rebalanced back to 50/50 after each move
    assert len(run(None)) == 2 + 2 + 2
    # band 0.1: A at 11/21 = 52 % stays; A at 14/24 = 58 % drifts 8 % < 10 % and stays too
    assert len(run(Decimal("0.1"))) == 2
    # band 0.05: the 8 % drift trades
    trades = run(Decimal("0.05"))
    assert len(trades) == 4
    last = trades[trades["date"] == dates[3]]
    assert list(last["side"]) == ["sell", "buy"]
    # the buy is trimmed by the sell's rounding toward zero (planner: buys fit cash + sell proceeds)
    assert list(last["reason"]) == ["rebalance", "scaled_to_buying_power"]


def test_capital_weights_merge_two_strategies_and_attribute_contribution() -> None:
    closes = _closes(A=[10.0, 10.0, 12.0], B=[10.0, 10.0, 9.0])
    a = _switcher([{"A": 1.0}] * 3, name="a", capital_weight=Decimal("0.75"))
    b = _switcher([{"B": 1.0}] * 3, name="b", capital_weight=Decimal("0.25"))
    result = run_backtest([a, b], closes, _config())
    assert result.targets.iloc[0].to_dict() == {"A": 0.75, "B": 0.25}
    contributions = result.contributions.sum()
    assert contributions["a"] == pytest.approx(0.75 * 0.2)
    assert contributions["b"] == pytest.approx(0.25 * -0.1)
    assert result.performance().total_return == pytest.approx(0.75 * 0.2 - 0.25 * 0.1)


def test_start_moves_forward_to_the_first_session_every_strategy_evaluates() -> None:
    early = _switcher(ROWS, name="early", capital_weight=Decimal("0.5"))
    late = _switcher([None, None, {"B": 1.0}, {"B": 1.0}, {"B": 1.0}], name="late", capital_weight=Decimal("0.5"))
    result = run_backtest([early, late], CLOSES, _config(start=DATES[0].date()))
    assert result.start == DATES[3].date()  # late's first row is day 2, decided on day 3
    assert result.start_moved
    assert result.notes[0].startswith("Start moved from 2024-03-04 to 2024-03-07")
    assert "late evaluates from 2024-03-06" in result.notes[0]


def test_a_failed_evaluation_keeps_the_previous_target_and_is_reported() -> None:
    rows: list[dict[str, float] | None] = [{"A": 1.0}, {"A": 1.0}, None, {"B": 1.0}, {"B": 1.0}]
    signal = _switcher(rows, errors={DATES[2].date(): "rsi(SPY) unavailable on 2024-03-06"})
    result = run_backtest([signal], CLOSES, _config())
    assert result.strategies[0].failed_sessions == 1
    assert result.strategy_targets["switch"].loc[DATES[3], "A"] == 1.0  # kept on the failed day
    assert any("failed to evaluate on 1 session(s) (2024-03-07)" in n for n in result.notes)
    assert any("rsi(SPY) unavailable on 2024-03-06" in n for n in result.notes)
    assert [t.date for t in result.trades.itertuples()] == [DATES[1], DATES[4], DATES[4]]


def test_benchmark_is_buy_and_hold_of_spy_from_the_start() -> None:
    closes = CLOSES.assign(SPY=[400.0, 400.0, 410.0, 420.0, 440.0])
    result = run_backtest([_switcher(ROWS)], closes, _config(benchmark_symbol="SPY"))
    assert result.benchmark_symbol == "SPY"
    assert result.benchmark is not None
    assert result.benchmark.tolist() == pytest.approx([100_000.0, 102_500.0, 105_000.0, 110_000.0])
    missing = run_backtest([_switcher(ROWS)], CLOSES, _config(benchmark_symbol="SPY"))
    assert missing.benchmark is None
    assert "No benchmark: SPY is not in the data." in missing.notes


def test_drawdown_guard_latches_and_stops_trading() -> None:
    closes = _closes(A=[10.0, 10.0, 6.0, 6.0, 6.0], B=[20.0, 20.0, 20.0, 20.0, 20.0])
    rows: list[dict[str, float] | None] = [{"A": 1.0}, {"A": 1.0}, {"B": 1.0}, {"B": 1.0}, {"B": 1.0}]
    risk = RiskParams(drawdown_halt_pct=Decimal("0.3"), pdt_guard=False)
    result = run_backtest([_switcher(rows)], closes, _config(risk=risk))
    # day 2 is priced at its close (6): equity is 40 % under the peak, the guard latches; the switch to B that
    # row 2 asks for on day 3 never happens
    assert len(result.trades) == 1
    assert any("kill switch latched on 2024-03-06" in n for n in result.notes)
    assert result.equity.tolist() == [100_000.0, 60_000.0, 60_000.0, 60_000.0]


def test_bad_input_is_rejected_with_clear_errors() -> None:
    with pytest.raises(StrategyError, match="no strategies"):
        run_backtest([], CLOSES, _config())
    with pytest.raises(DataError, match="no price data for C"):
        run_backtest([_switcher([{"C": 1.0}] * 5)], CLOSES, _config())
    with pytest.raises(StrategyError, match="unique"):
        run_backtest([_switcher(ROWS), _switcher(ROWS)], CLOSES, _config())
    with pytest.raises(StrategyError, match=r"capital weights sum to 1\.5"):
        run_backtest(
            [
                _switcher(ROWS, name="x", capital_weight=Decimal("0.75")),
                _switcher(ROWS, name="y", capital_weight=Decimal("0.75")),
            ],
            CLOSES,
            _config(),
        )
    with pytest.raises(StrategyError, match=r"no session between .* on which every strategy evaluates"):
        run_backtest([_switcher([None] * 5)], CLOSES, _config())
    with pytest.raises(DataError, match="no sessions in the data between"):
        run_backtest([_switcher(ROWS)], CLOSES, _config(start=pd.Timestamp("2030-01-01").date()))
    with pytest.raises(StrategyError, match="must sum to 1"):
        _switcher([{"A": 0.5}] * 5)
    with pytest.raises(ValueError, match="as-of policy must be one of"):
        _config(as_of_policy="tomorrow")


def test_per_order_collar_blocks_fills_too_far_from_the_decision_price() -> None:
    # 8 % spread: the ask is 4 % above the decision price, beyond the 3 % collar of the risk rules
    wide = Costs(spread_bps=Decimal(800))
    result = run_backtest([_switcher(ROWS)], CLOSES, _config(costs=wide))
    assert result.trades.empty
    assert any("Risk rule limit_collar blocked" in n for n in result.notes)
    assert result.equity.tolist() == [100_000.0] * 4
    # without risk rules the same orders fill
    unchecked = run_backtest([_switcher(ROWS)], CLOSES, _config(costs=wide, risk=None))
    assert len(unchecked.trades) == 3


def test_opposite_wishes_cross_inside_the_books_and_each_strategy_keeps_its_own_pnl() -> None:
    closes = _closes(A=[10.0, 10.0, 12.0, 12.0], B=[10.0, 10.0, 10.0, 15.0])
    half = Decimal("0.5")
    a = _switcher([{"A": 1.0}, {"A": 1.0}, {"B": 1.0}, {"B": 1.0}], name="a", capital_weight=half)
    b = _switcher([{"B": 1.0}, {"B": 1.0}, {"A": 1.0}, {"A": 1.0}], name="b", capital_weight=half)
    result = run_backtest([a, b], closes, _config())
    # day 3 (A 12, B 15, equity 137.5k): a swaps its A for B and b its B for A; the books cross 4583.33 shares of
    # each inside; the account only trades the residual rebalance (sell B, buy A: 13.75k each), not two switches
    day3 = result.trades[result.trades["date"] == DATES[3]]
    assert list(zip(day3["side"], day3["symbol"], strict=True)) == [("sell", "B"), ("buy", "A")]
    assert float(day3["notional"].astype(float).sum()) == pytest.approx(27_500.0, abs=0.01)
    # a: A 10 -> 12 on its 50k (day 2); b: held B 10 -> 15 until it crossed it away at 15 on day 3
    totals = result.contributions.sum()
    assert totals["a"] == pytest.approx(10_000 / 100_000)
    assert totals["b"] == pytest.approx(27_500 / 110_000)
    assert "unattributed" not in result.contributions.columns
