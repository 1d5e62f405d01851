"""TCA per order and its summaries."""

from __future__ import annotations

from datetime import date

import pytest

from alchemiser.portfolio.tca import rows_from_trades, summarise, tca_row, worst_orders
from tests.parity.factories import D, order

DAY = date(2024, 3, 5)


def test_a_buy_above_the_decision_price_costs_and_splits_into_spread_and_beyond() -> None:
    row = tca_row(DAY, order("SPY", "buy", "10", "10", "100.00", "100.08", bid="99.98", ask="100.02", step=1))
    assert row.cost_vs_decision == D("0.80")
    assert row.bps_vs_decision == D("8.0")
    assert row.cost_vs_arrival == D("0.80")  # the arrival mid is the decision price here
    assert row.spread_paid == D("0.20")  # 0.02 half-spread of the 0.08 paid above the mid
    assert row.filled_step == 1 and not row.market_fallback
    assert row.seconds_to_fill == 30.0


def test_a_sell_below_and_a_market_fallback() -> None:
    row = tca_row(DAY, order("QQQ", "sell", "5", "5", "400.00", "399.50", bid="399.90", ask="400.10", step=90))
    assert row.cost_vs_decision == D("2.50")
    assert row.market_fallback


def test_an_unfilled_order_costs_nothing_here() -> None:
    row = tca_row(DAY, order("QQQ", "buy", "5", "0", "400.00", None))
    assert row.cost_vs_decision == 0 and row.notional == 0 and row.bps_vs_decision == 0


def test_summaries_by_symbol_strategy_day_and_the_worst_orders() -> None:
    rows = [
        tca_row(DAY, order("SPY", "buy", "10", "10", "100", "100.10")),
        tca_row(DAY, order("SPY", "sell", "10", "10", "100", "99.95")),
        tca_row(date(2024, 3, 6), order("TLT", "buy", "10", "10", "90", "90.50")),
    ]
    by_symbol = {s.key: s for s in summarise(rows, "symbol")}
    assert by_symbol["SPY"].orders == 2 and by_symbol["SPY"].cost_vs_decision == D("1.50")
    assert [s.key for s in summarise(rows, "day")] == ["2024-03-05", "2024-03-06"]
    assert summarise(rows, "strategy")[0].key == "alpha"
    assert [r.symbol for r in worst_orders(rows, 1)] == ["TLT"]
    with pytest.raises(ValueError, match="not 'week'"):
        summarise(rows, "week")


def test_rows_round_trip_through_json_and_come_from_backtest_trades() -> None:
    row = tca_row(DAY, order("SPY", "buy", "10", "10", "100.00", "100.08", bid="99.98", ask="100.02"))
    assert type(row).from_json(row.to_json()).cost_vs_decision == D("0.80")
    [sim] = rows_from_trades(
        [{"date": DAY, "symbol": "SPY", "side": "buy", "qty": 2, "price": 100.05, "reference": 100.0, "commission": 0}]
    )
    assert sim.cost_vs_decision == D("0.10") and sim.cost_vs_arrival is None


def test_summaries_add_up_the_fees_each_order_bore() -> None:
    rows = rows_from_trades(
        [
            {"date": DAY, "symbol": "SPY", "side": s, "qty": 2, "price": 100, "reference": 100, "commission": c}
            for s, c in (("buy", "0.25"), ("sell", "0.50"))
        ]
    )
    [spy] = summarise(rows, "symbol")
    assert spy.fees == D("0.75") and spy.to_json()["fees"] == "0.75"
