"""Property tests: no plan buys more than cash + sells allow; targets are reached within rounding."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemiser.portfolio import AccountState, AssetInfo, PlannerParams, StrategyTarget, plan_rebalance

D = Decimal
SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]

prices_st = st.fixed_dictionaries({s: st.decimals(min_value=D("0.5"), max_value=D(2000), places=2) for s in SYMBOLS})
positions_st = st.dictionaries(
    st.sampled_from(SYMBOLS), st.decimals(min_value=D(0), max_value=D(500), places=4), max_size=6
)
weights_st = st.dictionaries(
    st.sampled_from(SYMBOLS), st.integers(min_value=1, max_value=10), min_size=1, max_size=4
).map(lambda raw: {s: D(v) / D(sum(raw.values())) for s, v in raw.items()})
fractionable_st = st.fixed_dictionaries({s: st.booleans() for s in SYMBOLS})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prices=prices_st,
    positions=positions_st,
    weights_a=weights_st,
    weights_b=weights_st,
    split=st.integers(min_value=0, max_value=10),
    cash=st.decimals(min_value=D(-500), max_value=D(50000), places=2),
    bp_factor=st.sampled_from([D(0), D("0.5"), D(1), D(2)]),
    fractionable=fractionable_st,
    buffer=st.sampled_from([D(0), D("0.01"), D("0.05")]),
)
def test_buys_never_exceed_cash_plus_sells(  # noqa: PLR0917
    prices: dict[str, Decimal],
    positions: dict[str, Decimal],
    weights_a: dict[str, Decimal],
    weights_b: dict[str, Decimal],
    split: int,
    cash: Decimal,
    bp_factor: Decimal,
    fractionable: dict[str, bool],
    buffer: Decimal,
) -> None:
    positions = {s: q if fractionable[s] else q.to_integral_value() for s, q in positions.items()}
    equity = cash + sum((q * prices[s] for s, q in positions.items()), D(0))
    if equity <= 0:
        return
    params = PlannerParams(cash_buffer_pct=buffer)
    plan = plan_rebalance(
        [
            StrategyTarget("a", D(split) / 10, weights_a),
            StrategyTarget("b", D(10 - split) / 10, weights_b),
        ],
        AccountState(equity=equity, cash=cash, buying_power=max(cash, D(0)) * bp_factor),
        positions,
        prices,
        {s: AssetInfo(s, fractionable=fractionable[s]) for s in SYMBOLS},
        params=params,
    )
    sells = sum((-ln.delta_qty * ln.price * (1 - params.sell_price_margin_pct) for ln in plan.sells), D(0))
    buys = sum((ln.delta_qty * ln.price * (1 + params.buy_price_margin_pct) for ln in plan.buys), D(0))
    assert buys <= max(D(0), min(cash, max(cash, D(0)) * bp_factor)) + sells
    for line in plan.lines:
        # never sell more than held, never a short
        assert line.current_qty + line.delta_qty >= 0
        if not line.fractionable and not line.full_exit:
            assert line.delta_qty == line.delta_qty.to_integral_value()
        else:
            assert line.delta_qty == line.delta_qty.quantize(D("0.000001")) or line.full_exit


@settings(max_examples=200, deadline=None)
@given(
    prices=prices_st,
    positions=positions_st,
    weights=weights_st,
    fractionable=fractionable_st,
)
def test_targets_reached_within_rounding_when_money_allows(
    prices: dict[str, Decimal],
    positions: dict[str, Decimal],
    weights: dict[str, Decimal],
    fractionable: dict[str, bool],
) -> None:
    positions = {s: q if fractionable[s] else q.to_integral_value() for s, q in positions.items()}
    cash = D(1_000_000)  # plenty: no scaling
    equity = cash + sum((q * prices[s] for s, q in positions.items()), D(0))
    # a 1 % buffer covers sells rounded toward zero (< one share of the dearest symbol), so money always allows
    params = PlannerParams(
        min_trade_notional=D(0), cash_buffer_pct=D("0.01"), buy_price_margin_pct=D(0), sell_price_margin_pct=D(0)
    )
    plan = plan_rebalance(
        [StrategyTarget("a", D(1), weights)],
        AccountState(equity=equity, cash=cash, buying_power=cash),
        positions,
        prices,
        {s: AssetInfo(s, fractionable=fractionable[s]) for s in SYMBOLS},
        params=params,
    )
    assert plan.totals.buy_scale == 1
    for line in plan.lines:
        final = line.current_qty + line.delta_qty
        step = D("0.000001") if line.fractionable else D(1)
        if line.target_weight == 0:
            assert final == 0
        else:
            # rounding toward zero of the trade: within one step of the target, never overshooting the trade
            assert abs(final - line.target_qty) < step
            target_weight_reached = final * line.price / (equity * D("0.99"))
            assert abs(target_weight_reached - line.target_weight) <= step * line.price / (equity * D("0.99"))
