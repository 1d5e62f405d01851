"""Risk engine: every rule blocks and names itself; live + closed market never passes."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from alchemiser.broker.enums import OrderSide
from alchemiser.errors import RiskError
from alchemiser.portfolio import (
    AccountState,
    AssetInfo,
    OrderCheck,
    Plan,
    PlannerParams,
    RiskContext,
    RiskParams,
    RuleName,
    StrategyTarget,
    TradingMode,
    check_order,
    check_plan,
    plan_rebalance,
)

D = Decimal
OPEN = RiskContext(mode=TradingMode.PAPER, market_open=True, equity=D(100000), cash=D(50000), buying_power=D(50000))


def make_plan() -> Plan:
    return plan_rebalance(
        [StrategyTarget("a", D(1), {"SPY": D("0.6"), "TLT": D("0.4")})],
        AccountState(equity=D(100000), cash=D(50000), buying_power=D(50000)),
        {"GLD": D(250)},
        {"SPY": D(500), "TLT": D(100), "GLD": D(200)},
        {s: AssetInfo(s) for s in ("SPY", "TLT", "GLD")},
        params=PlannerParams(cash_buffer_pct=D(0), buy_price_margin_pct=D(0), sell_price_margin_pct=D(0)),
    )


def blocking_rules(verdict: object) -> set[RuleName]:
    return {r.rule for r in verdict.blocking}  # type: ignore[attr-defined]


def test_happy_plan_passes_every_rule() -> None:
    verdict = check_plan(make_plan(), OPEN, RiskParams())
    assert verdict.fully_allowed, verdict.blocking
    assert {r.rule for r in verdict.results} >= {
        RuleName.MARKET_HOURS,
        RuleName.KILL_SWITCH,
        RuleName.DRAWDOWN_GUARD,
        RuleName.MAX_TURNOVER,
        RuleName.BUYING_POWER,
    }


@pytest.mark.parametrize(
    ("context", "params", "rule"),
    [
        (replace(OPEN, market_open=False), RiskParams(), RuleName.MARKET_HOURS),
        (replace(OPEN, kill_switch_latched=True), RiskParams(), RuleName.KILL_SWITCH),
        (replace(OPEN, high_water_mark=D(200000)), RiskParams(drawdown_halt_pct=D("0.2")), RuleName.DRAWDOWN_GUARD),
        (OPEN, RiskParams(max_position_weight=D("0.5")), RuleName.MAX_POSITION_WEIGHT),
        (OPEN, RiskParams(max_turnover=D("0.5")), RuleName.MAX_TURNOVER),
        (replace(OPEN, orders_today=399), RiskParams(max_daily_orders=400), RuleName.MAX_DAILY_ORDERS),
        (replace(OPEN, notional_today=D(950000)), RiskParams(), RuleName.MAX_DAILY_NOTIONAL),
        (replace(OPEN, cash=D(1000), buying_power=D(1000)), RiskParams(), RuleName.BUYING_POWER),
    ],
)
def test_plan_rule_blocks_and_names_itself(context: RiskContext, params: RiskParams, rule: RuleName) -> None:
    verdict = check_plan(make_plan(), context, params)
    assert not verdict.allowed
    assert rule in blocking_rules(verdict)
    with pytest.raises(RiskError) as info:
        verdict.raise_if_blocked()
    assert info.value.rule in {r.value for r in blocking_rules(verdict)}


def test_drawdown_latches_kill_switch() -> None:
    verdict = check_plan(make_plan(), replace(OPEN, high_water_mark=D(200000)), RiskParams(drawdown_halt_pct=D("0.2")))
    assert verdict.latch_kill_switch
    assert "below the high-water mark" in verdict.kill_switch_reason
    ok = check_plan(make_plan(), replace(OPEN, high_water_mark=D(110000)), RiskParams(drawdown_halt_pct=D("0.2")))
    assert not ok.latch_kill_switch and ok.allowed


def test_per_line_rules_block_only_their_symbol() -> None:
    verdict = check_plan(make_plan(), OPEN, RiskParams(max_order_notional=D(45000)))
    assert verdict.allowed  # plan-wide rules pass
    assert verdict.blocked_symbols == {"GLD", "SPY"}  # 50000 and 60000 > 45000, TLT 40000 passes
    pdt = check_plan(
        make_plan(),
        replace(OPEN, equity=D(20000), sold_today=frozenset({"TLT"}), bought_today=frozenset({"GLD"})),
        RiskParams(max_turnover=None, max_position_weight=None),
    )
    assert pdt.blocked_symbols == {"TLT", "GLD"}
    assert {r.rule for r in pdt.blocking} == {RuleName.PDT_GUARD}
    rich = check_plan(make_plan(), replace(OPEN, sold_today=frozenset({"TLT"})), RiskParams())
    assert rich.fully_allowed  # equity above the PDT minimum


def test_live_with_market_closed_never_passes_even_if_not_enforced() -> None:
    closed_live = replace(OPEN, mode=TradingMode.LIVE, market_open=False)
    params = RiskParams(market_hours_enforced=False)
    assert RuleName.MARKET_HOURS in blocking_rules(check_plan(make_plan(), closed_live, params))
    order = OrderCheck("SPY", OrderSide.BUY, D(1), D(500), D(500))
    assert RuleName.MARKET_HOURS in blocking_rules(check_order(order, closed_live, params))
    flatten = OrderCheck("SPY", OrderSide.SELL, D(1), D(500), D(500), is_flatten=True)
    assert RuleName.MARKET_HOURS in blocking_rules(check_order(flatten, closed_live, params))
    # paper with enforcement off may trade a closed market
    assert check_order(order, replace(closed_live, mode=TradingMode.PAPER), params).fully_allowed


@pytest.mark.parametrize(
    ("order", "context", "params", "rule"),
    [
        (OrderCheck("SPY", OrderSide.BUY, D(1), D(520), D(500)), OPEN, RiskParams(), RuleName.LIMIT_COLLAR),
        (OrderCheck("SPY", OrderSide.SELL, D(1), D(480), D(500)), OPEN, RiskParams(), RuleName.LIMIT_COLLAR),
        (
            OrderCheck("SPY", OrderSide.BUY, D(100), D(500), D(500)),
            OPEN,
            RiskParams(max_order_notional=D(10000)),
            RuleName.MAX_ORDER_NOTIONAL,
        ),
        (
            OrderCheck("SPY", OrderSide.BUY, D(1), D(500), D(500)),
            replace(OPEN, orders_today=10),
            RiskParams(max_daily_orders=10),
            RuleName.MAX_DAILY_ORDERS,
        ),
        (
            OrderCheck("SPY", OrderSide.BUY, D(10), D(500), D(500)),
            replace(OPEN, notional_today=D(999000)),
            RiskParams(),
            RuleName.MAX_DAILY_NOTIONAL,
        ),
        (
            OrderCheck("SPY", OrderSide.BUY, D(1), D(500), D(500)),
            replace(OPEN, failed_sells=1),
            RiskParams(),
            RuleName.FAILED_SELLS_BLOCK_BUYS,
        ),
        (OrderCheck("SPY", OrderSide.BUY, D(200), D(500), D(500)), OPEN, RiskParams(), RuleName.BUYING_POWER),
        (
            OrderCheck("SPY", OrderSide.SELL, D(1), D(500), D(500)),
            replace(OPEN, equity=D(10000), bought_today=frozenset({"SPY"})),
            RiskParams(),
            RuleName.PDT_GUARD,
        ),
        (
            OrderCheck("SPY", OrderSide.SELL, D(1), D(500), D(500)),
            replace(OPEN, kill_switch_latched=True),
            RiskParams(),
            RuleName.KILL_SWITCH,
        ),
    ],
)
def test_order_rule_blocks_and_names_itself(
    order: OrderCheck, context: RiskContext, params: RiskParams, rule: RuleName
) -> None:
    verdict = check_order(order, context, params)
    assert rule in blocking_rules(verdict)
    assert any(rule.value in r.message or r.rule is rule for r in verdict.blocking)


def test_order_rules_pass_for_favourable_price_and_flatten_under_kill_switch() -> None:
    cheap_buy = OrderCheck("SPY", OrderSide.BUY, D(1), D(400), D(500))
    assert check_order(cheap_buy, OPEN, RiskParams()).fully_allowed
    assert check_order(
        OrderCheck("SPY", OrderSide.BUY, D(1), D(500), D(500)),
        replace(OPEN, failed_sells=2),
        RiskParams(max_failed_sells_before_blocking_buys=2),
    ).fully_allowed
    flatten = OrderCheck("SPY", OrderSide.SELL, D(1), D(500), D(500), is_flatten=True)
    assert check_order(flatten, replace(OPEN, kill_switch_latched=True), RiskParams()).fully_allowed
    # sell proceeds already realised in the run count toward buys
    big = OrderCheck("SPY", OrderSide.BUY, D(200), D(500), D(500))
    assert check_order(big, replace(OPEN, realized_sell_proceeds=D(60000)), RiskParams()).fully_allowed


def test_bad_risk_params_refused() -> None:
    with pytest.raises(ValueError, match="limit_collar_pct"):
        RiskParams(limit_collar_pct=D(0))
    with pytest.raises(ValueError, match="drawdown_halt_pct"):
        RiskParams(drawdown_halt_pct=D("1.5"))
