"""Per-strategy books: fills attributed by remaining delta, internal crosses, average-cost P&L."""

from __future__ import annotations

from decimal import Decimal

from alchemiser.broker.enums import OrderSide
from alchemiser.portfolio import (
    UNATTRIBUTED,
    AccountState,
    AssetInfo,
    Books,
    PlannerParams,
    StrategyTarget,
    plan_rebalance,
)

D = Decimal
FLAT = PlannerParams(cash_buffer_pct=D(0), buy_price_margin_pct=D(0), sell_price_margin_pct=D(0))


def test_fills_split_by_each_strategys_delta_and_pnl_attributed() -> None:
    plan = plan_rebalance(
        [StrategyTarget("a", D("0.75"), {"SPY": D(1)}), StrategyTarget("b", D("0.25"), {"SPY": D(1)})],
        AccountState(equity=D(10000), cash=D(10000), buying_power=D(10000)),
        {},
        {"SPY": D(100)},
        {"SPY": AssetInfo("SPY")},
        params=FLAT,
    )
    books = Books(["a", "b"])
    assert books.cross_from_plan(plan) == []
    first = books.apply_fill("SPY", OrderSide.BUY, D(40), D(100))
    assert {s.strategy: s.qty for s in first} == {"a": D(30), "b": D(10)}
    books.apply_fill("SPY", OrderSide.BUY, D(60), D(100))
    assert books.book("a").qty("SPY") == D(75)
    assert books.book("b").qty("SPY") == D(25)
    assert books.symbol_qty("SPY") == D(100)
    marks = {"SPY": D(110)}
    assert books.book("a").unrealized_pnl(marks) == D(750)
    assert books.book("b").unrealized_pnl(marks) == D(250)
    # b leaves; a takes everything: an internal cross of 25 at the reference price, nothing at the broker
    plan2 = plan_rebalance(
        [StrategyTarget("a", D(1), {"SPY": D(1)}), StrategyTarget("b", D(0), {"SPY": D(1)})],
        AccountState(equity=D(11000), cash=D(0), buying_power=D(0)),
        {"SPY": D(100)},
        {"SPY": D(110)},
        {"SPY": AssetInfo("SPY")},
        params=FLAT,
    )
    transfers = books.cross_from_plan(plan2)
    assert transfers == [("SPY", "b", "a", D(25), D(110))]
    assert books.book("b").realized_pnl == D(250)
    assert books.book("a").qty("SPY") == D(100)
    assert books.pending["SPY"] == {}


def test_sell_fill_realises_against_average_cost_and_overflow_is_kept() -> None:
    books = Books(["a"])
    books.pending = {"SPY": {"a": D(10)}}
    books.apply_fill("SPY", OrderSide.BUY, D(10), D(100))
    books.pending = {"SPY": {"a": D(-4)}}
    shares = books.apply_fill("SPY", OrderSide.SELL, D(5), D(120))  # one more than planned
    assert [(s.strategy, s.qty) for s in shares] == [("a", D(4)), ("a", D(1))]
    assert books.book("a").realized_pnl == D(100)
    assert books.book("a").qty("SPY") == D(5)
    stray = books.apply_fill("QQQ", OrderSide.BUY, D(2), D(10))
    assert stray[0].strategy == UNATTRIBUTED
    assert books.summary({"SPY": D(120), "QQQ": D(10)})["a"]["unrealized_pnl"] == "100"


def test_existing_positions_are_reconciled_then_crossed_to_the_strategies_that_want_them() -> None:
    plan = plan_rebalance(
        [StrategyTarget("a", D("0.5"), {"SPY": D(1)}), StrategyTarget("b", D("0.5"), {"TLT": D(1)})],
        AccountState(equity=D(10000), cash=D(2000), buying_power=D(2000)),
        {"SPY": D(60), "GLD": D(2)},  # held before the books existed
        {"SPY": D(100), "TLT": D(50), "GLD": D(100)},
        {s: AssetInfo(s) for s in ("SPY", "TLT", "GLD")},
        params=FLAT,
    )
    books = Books(["a", "b"])
    transfers = books.cross_from_plan(plan)
    assert ("SPY", UNATTRIBUTED, "a", D(50), D(100)) in transfers
    assert books.book("a").qty("SPY") == D(50)
    assert books.book(UNATTRIBUTED).qty("SPY") == D(10)  # the surplus the plan sells
    assert books.pending["SPY"] == {UNATTRIBUTED: D(-10)}
    books.apply_fill("SPY", OrderSide.SELL, D(10), D(100))
    books.apply_fill("GLD", OrderSide.SELL, D(2), D(100))
    tlt = plan.line("TLT").delta_qty  # scaled to the money: 64
    books.apply_fill("TLT", OrderSide.BUY, tlt, D(50))
    for symbol, held in {"SPY": D(50), "GLD": D(0), "TLT": tlt}.items():
        assert books.symbol_qty(symbol) == held
    assert books.book("b").qty("TLT") == tlt == D(64)
    # a position sold outside alchemiser is taken from the holders
    books.reconcile("TLT", D(40), D(50))
    assert books.book("b").qty("TLT") == D(40)
