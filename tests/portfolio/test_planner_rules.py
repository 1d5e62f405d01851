"""Rebalance planner: merge, drift band, minimum trade, rounding, buying-power scaling, exact exits, bad input."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from alchemiser.portfolio import (
    AccountState,
    AssetInfo,
    LineReason,
    LineSide,
    PlanError,
    PlannerParams,
    StrategyTarget,
    plan_rebalance,
)

D = Decimal
NO_BUFFER = PlannerParams(cash_buffer_pct=D(0), buy_price_margin_pct=D(0), sell_price_margin_pct=D(0))


def assets(*symbols: str, whole: tuple[str, ...] = ()) -> dict[str, AssetInfo]:
    return {s: AssetInfo(s, fractionable=s not in whole) for s in symbols}


def test_merges_strategies_by_capital_weight() -> None:
    plan = plan_rebalance(
        [
            StrategyTarget("a", D("0.6"), {"SPY": D(1)}),
            StrategyTarget("b", D("0.4"), {"SPY": D("0.5"), "TLT": D("0.5")}),
        ],
        AccountState(equity=D(10000), cash=D(10000), buying_power=D(10000)),
        {},
        {"SPY": D(100), "TLT": D(50)},
        assets("SPY", "TLT"),
        params=NO_BUFFER,
    )
    assert plan.line("SPY").target_weight == D("0.8")
    assert plan.line("SPY").delta_qty == D(80)
    assert plan.line("TLT").delta_qty == D(40)
    assert plan.line("SPY").contributions == {"a": D("0.6"), "b": D("0.2")}
    assert plan.line("SPY").reason is LineReason.ENTER
    assert plan.totals.buy_notional == D(10000)
    assert plan.totals.turnover == D(1)


BAND_5 = PlannerParams(
    cash_buffer_pct=D(0), buy_price_margin_pct=D(0), sell_price_margin_pct=D(0), drift_band=D("0.05")
)


def test_drift_band_holds_inside_and_trades_outside() -> None:
    account = AccountState(equity=D(10000), cash=D(0), buying_power=D(0))
    strategy = StrategyTarget("a", D(1), {"SPY": D("0.5"), "TLT": D("0.5")}, frozenset({"SPY", "TLT"}))
    # SPY at 53 % (inside 5 pts), TLT at 47 % (inside)
    inside = plan_rebalance(
        [strategy],
        account,
        {"SPY": D(53), "TLT": D(47)},
        {"SPY": D(100), "TLT": D(100)},
        assets("SPY", "TLT"),
        params=BAND_5,
    )
    assert all(line.reason is LineReason.IN_BAND for line in inside.lines)
    assert inside.trades == ()
    # SPY at 60 % (outside)
    outside = plan_rebalance(
        [strategy],
        account,
        {"SPY": D(60), "TLT": D(40)},
        {"SPY": D(100), "TLT": D(100)},
        assets("SPY", "TLT"),
        params=BAND_5,
    )
    assert outside.line("SPY").side is LineSide.SELL
    assert outside.line("SPY").delta_qty == D(-10)
    assert outside.line("TLT").side is LineSide.BUY


def test_changed_selection_trades_fully_despite_band() -> None:
    account = AccountState(equity=D(10000), cash=D(0), buying_power=D(0))
    strategy = StrategyTarget(
        "a", D(1), {"SPY": D("0.5"), "GLD": D("0.5")}, previous_selection=frozenset({"SPY", "TLT"})
    )
    plan = plan_rebalance(
        [strategy],
        account,
        {"SPY": D(52), "TLT": D(48)},
        {"SPY": D(100), "TLT": D(100), "GLD": D(100)},
        assets("SPY", "TLT", "GLD"),
        params=BAND_5,
    )
    assert plan.line("TLT").reason is LineReason.EXIT
    assert plan.line("GLD").reason is LineReason.ENTER
    assert plan.line("SPY").reason is LineReason.REBALANCE  # band 0 because the set changed
    assert plan.line("SPY").delta_qty == D(-2)


def test_exact_rebalance_ignores_the_drift_band() -> None:
    account = AccountState(equity=D(10000), cash=D(0), buying_power=D(0))
    strategy = StrategyTarget("a", D(1), {"SPY": D("0.5"), "TLT": D("0.5")}, frozenset({"SPY", "TLT"}), exact=True)
    plan = plan_rebalance(
        [strategy],
        account,
        {"SPY": D(52), "TLT": D(48)},
        {"SPY": D(100), "TLT": D(100)},
        assets("SPY", "TLT"),
        params=BAND_5,
    )
    assert plan.line("SPY").delta_qty == D(-2) and plan.line("TLT").delta_qty == D(2)


def test_a_holding_strategy_trades_nothing_of_its_own_but_others_still_trade() -> None:
    account = AccountState(equity=D(10000), cash=D(5000), buying_power=D(5000))
    monthly = StrategyTarget("m", D("0.5"), {"SPY": D("0.7"), "TLT": D("0.3")}, frozenset({"SPY", "TLT"}), hold=True)
    daily = StrategyTarget("d", D("0.5"), {"GLD": D(1)}, frozenset({"GLD"}))
    plan = plan_rebalance(
        [monthly, daily],
        account,
        {"SPY": D(20), "TLT": D(30)},  # far from 35 % / 15 %: the monthly book has drifted
        {"SPY": D(100), "TLT": D(100), "GLD": D(100)},
        assets("SPY", "TLT", "GLD"),
        params=BAND_5,
    )
    assert plan.line("SPY").reason is LineReason.HELD and plan.line("SPY").delta_qty == 0
    assert plan.line("TLT").reason is LineReason.HELD and plan.line("TLT").delta_qty == 0
    assert plan.line("GLD").reason is LineReason.ENTER and plan.line("GLD").delta_qty == D(50)


def test_drift_band_must_not_be_negative() -> None:
    with pytest.raises(PlanError, match="drift_band"):
        PlannerParams(drift_band=D("-0.01"))


def test_minimum_trade_notional_skips_small_trades_but_not_exits() -> None:
    plan = plan_rebalance(
        [StrategyTarget("a", D(1), {"SPY": D(1)})],
        AccountState(equity=D(10005), cash=D(5), buying_power=D(5)),
        {"SPY": D(100), "DUST": D("0.05")},
        {"SPY": D(100), "DUST": D(100)},
        assets("SPY", "DUST"),
        params=PlannerParams(min_trade_notional=D(50), cash_buffer_pct=D(0), buy_price_margin_pct=D(0)),
    )
    assert plan.line("SPY").reason is LineReason.BELOW_MIN
    assert plan.line("SPY").delta_qty == 0
    exit_line = plan.line("DUST")
    assert exit_line.reason is LineReason.EXIT and exit_line.delta_qty == D("-0.05") and exit_line.full_exit


def test_whole_shares_round_toward_zero_and_fractions_to_six_decimals() -> None:
    plan = plan_rebalance(
        [StrategyTarget("a", D(1), {"BRK": D("0.5"), "QQQ": D("0.5")})],
        AccountState(equity=D(1000), cash=D(1000), buying_power=D(1000)),
        {},
        {"BRK": D(300), "QQQ": D(3)},
        assets("BRK", "QQQ", whole=("BRK",)),
        params=NO_BUFFER,
    )
    assert plan.line("BRK").delta_qty == D(1)  # 1.666… → 1
    assert plan.line("QQQ").delta_qty == D("166.666666")
    sell = plan_rebalance(
        [StrategyTarget("a", D(1), {"BRK": D("0.1"), "QQQ": D("0.9")})],
        AccountState(equity=D(3000), cash=D(0), buying_power=D(0)),
        {"BRK": D(10)},
        {"BRK": D(300), "QQQ": D(3)},
        assets("BRK", "QQQ", whole=("BRK",)),
        params=NO_BUFFER,
    )
    assert sell.line("BRK").delta_qty == D(-9)  # target 1 share


def test_full_exit_sells_exact_fractional_position() -> None:
    plan = plan_rebalance(
        [StrategyTarget("a", D(1), {"SPY": D(1)})],
        AccountState(equity=D(1000), cash=D(0), buying_power=D(0)),
        {"XLE": D("3.1415926535")},
        {"SPY": D(100), "XLE": D("318.31")},
        assets("SPY", "XLE", whole=("XLE",)),
        params=NO_BUFFER,
    )
    assert plan.line("XLE").delta_qty == D("-3.1415926535")
    assert plan.sells[0].symbol == "XLE" and plan.trades[0].symbol == "XLE"


def test_buys_scaled_to_cash_plus_sells_with_buffer() -> None:
    params = PlannerParams(cash_buffer_pct=D("0.02"), buy_price_margin_pct=D("0.01"), sell_price_margin_pct=D("0.01"))
    plan = plan_rebalance(
        [StrategyTarget("a", D(1), {"SPY": D("0.5"), "TLT": D("0.5")})],
        AccountState(equity=D(10000), cash=D(1000), buying_power=D(500)),  # e.g. cash reserved by open orders
        {"GLD": D(90)},
        {"SPY": D(100), "TLT": D(100), "GLD": D(100)},
        assets("SPY", "TLT", "GLD"),
        params=params,
    )
    assert plan.totals.buy_scale < 1
    spendable = D(500) + D(9000) * D("0.99")
    buy_cost = sum((ln.delta_qty * ln.price * D("1.01") for ln in plan.buys), D(0))
    assert buy_cost <= spendable
    assert buy_cost > spendable - D(1)
    assert all(ln.reason is LineReason.SCALED for ln in plan.buys)
    assert plan.totals.cash_residual >= 0


def test_sells_come_before_buys() -> None:
    plan = plan_rebalance(
        [StrategyTarget("a", D(1), {"AAA": D(1)})],
        AccountState(equity=D(1000), cash=D(0), buying_power=D(0)),
        {"ZZZ": D(10)},
        {"AAA": D(10), "ZZZ": D(100)},
        assets("AAA", "ZZZ"),
        params=NO_BUFFER,
    )
    assert [ln.symbol for ln in plan.trades] == ["ZZZ", "AAA"]


def test_non_tradable_symbol_is_held() -> None:
    plan = plan_rebalance(
        [StrategyTarget("a", D(1), {"AAA": D(1)})],
        AccountState(equity=D(1000), cash=D(1000), buying_power=D(1000)),
        {},
        {"AAA": D(10)},
        {"AAA": AssetInfo("AAA", tradable=False)},
        params=NO_BUFFER,
    )
    assert plan.line("AAA").reason is LineReason.NOT_TRADABLE and plan.trades == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prices": {}}, "no price for SPY"),
        ({"prices": {"SPY": D(0)}}, "prices must be > 0: SPY=0"),
        ({"assets": {}}, "no asset info for SPY"),
        ({"equity": D(0)}, "account equity must be > 0"),
        ({"positions": {"SPY": D(-1)}}, "position SPY is short"),
        ({"weights": {"SPY": D("1.2")}}, "weights sum to 1.2 > 1"),
        ({"weights": {"SPY": D("-0.1")}}, "negative weight"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, object], message: str) -> None:
    weights = kwargs.get("weights", {"SPY": D(1)})
    with pytest.raises(PlanError, match=re.escape(message)):
        plan_rebalance(
            [StrategyTarget("a", D(1), weights)],  # type: ignore[arg-type]
            AccountState(equity=kwargs.get("equity", D(100)), cash=D(100), buying_power=D(100)),  # type: ignore[arg-type]
            kwargs.get("positions", {}),  # type: ignore[arg-type]
            kwargs.get("prices", {"SPY": D(10)}),  # type: ignore[arg-type]
            kwargs.get("assets", assets("SPY")),  # type: ignore[arg-type]
        )


def test_capital_weights_over_one_and_duplicate_names_refused() -> None:
    account = AccountState(equity=D(100), cash=D(100), buying_power=D(100))
    with pytest.raises(PlanError, match=r"capital weights sum to 1\.5"):
        plan_rebalance(
            [StrategyTarget("a", D(1), {"SPY": D(1)}), StrategyTarget("b", D("0.5"), {"SPY": D(1)})],
            account,
            {},
            {"SPY": D(1)},
            assets("SPY"),
        )
    with pytest.raises(PlanError, match="duplicate strategy names"):
        plan_rebalance(
            [StrategyTarget("a", D("0.5"), {"SPY": D(1)}), StrategyTarget("a", D("0.5"), {"SPY": D(1)})],
            account,
            {},
            {"SPY": D(1)},
            assets("SPY"),
        )
    with pytest.raises(PlanError, match="cash_buffer_pct must be < 1"):
        PlannerParams(cash_buffer_pct=D(1))
