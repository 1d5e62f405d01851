"""The loop's parts on their own: fill model, cash book, signals validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from alchemiser.backtest.book import Book, affordable
from alchemiser.backtest.fills import Fill, QuoteFillModel
from alchemiser.backtest.notes import ADJUSTED_PRICES_NOTE, RunNotes
from alchemiser.backtest.result import Costs
from alchemiser.backtest.signals import StrategySignals
from alchemiser.broker.enums import OrderSide
from alchemiser.errors import RiskError, StrategyError


def test_fill_model_touches_the_quote_then_slips_and_charges_commission() -> None:
    model = QuoteFillModel(
        Costs(
            spread_bps=Decimal(10),
            slippage_bps=Decimal(5),
            commission_per_order=Decimal(1),
            commission_per_share=Decimal("0.01"),
        )
    )
    assert model.quote(Decimal(100)) == (Decimal("99.95"), Decimal("100.05"))
    buy = model.fill("X", OrderSide.BUY, Decimal(10), Decimal(100))
    # ask 100.05 x (1 + 5 bps) = 100.100025, rounded up to the cent
    assert buy == Fill(price=Decimal("100.11"), commission=Decimal("1.10"))
    sell = model.fill("X", OrderSide.SELL, Decimal(10), Decimal(100))
    # bid 99.95 x (1 - 5 bps) = 99.900025, rounded down to the cent
    assert sell.price == Decimal("99.90")


def test_fill_model_uses_sub_cent_ticks_below_a_dollar_and_never_fills_at_zero() -> None:
    model = QuoteFillModel(Costs(spread_bps=Decimal(20)))
    bid, ask = model.quote(Decimal("0.5"))
    assert (bid, ask) == (Decimal("0.4995"), Decimal("0.5005"))
    huge = QuoteFillModel(Costs(spread_bps=Decimal(0), slippage_bps=Decimal(20_000)))
    assert huge.fill("X", OrderSide.SELL, Decimal(1), Decimal(5)).price == Decimal("0.0001")


def test_fill_model_without_costs_fills_at_the_reference_exactly() -> None:
    model = QuoteFillModel(Costs())
    assert model.fill("X", OrderSide.BUY, Decimal(3), Decimal("24.113266")) == Fill(Decimal("24.113266"), Decimal(0))


def test_fill_model_rejects_negative_costs() -> None:
    with pytest.raises(ValueError, match=r"costs\.slippage_bps must be ≥ 0"):
        QuoteFillModel(Costs(slippage_bps=Decimal(-1)))


def test_book_buys_sells_and_never_overdraws() -> None:
    book = Book(cash=Decimal(1000))
    cost = book.buy("A", Decimal(9), Fill(Decimal(100), Decimal(1)))
    assert cost == Decimal(901)
    assert book.cash == Decimal(99)
    assert book.equity_at({"A": Decimal(110)}) == Decimal(99) + 9 * Decimal(110)
    with pytest.raises(RiskError, match="more than the cash"):
        book.buy("A", Decimal(1), Fill(Decimal(100), Decimal(0)))
    proceeds = book.sell("A", Decimal(4), Fill(Decimal(110), Decimal(1)), full_exit=False)
    assert proceeds == Decimal(439)
    assert book.positions == {"A": Decimal(5)}
    book.sell("A", Decimal(5), Fill(Decimal(110), Decimal(0)), full_exit=True)
    assert book.positions == {}
    assert book.cash == Decimal(99) + Decimal(439) + Decimal(550)


def test_affordable_fits_price_commission_and_quantum() -> None:
    qty = affordable(Decimal(1000), Decimal(33), Decimal(1), Decimal("0.01"), Decimal("0.000001"))
    assert qty * (Decimal(33) + Decimal("0.01")) + 1 <= 1000
    assert (qty + Decimal("0.000001")) * (Decimal(33) + Decimal("0.01")) + 1 > 1000
    assert affordable(Decimal(1000), Decimal(33), Decimal(1), Decimal(0), Decimal(1)) == Decimal(30)
    assert affordable(Decimal("0.5"), Decimal(33), Decimal(1), Decimal(0), Decimal(1)) == 0


def test_signals_validate_their_rows() -> None:
    dates = pd.bdate_range("2024-01-01", periods=3)
    ok = StrategySignals.from_rows(
        "s", dates, [None, {"A": 0.25, "B": 0.75}, {"A": 1.0}], errors={date(2024, 1, 1): "rsi unavailable"}
    )
    assert ok.symbols == ("A", "B")
    assert ok.first_valid() == date(2024, 1, 2)
    assert ok.error_on(date(2024, 1, 1)) == "rsi unavailable"
    assert ok.error_on(date(2024, 1, 3)) == "evaluation failed"
    with pytest.raises(StrategyError, match="negative weights"):
        StrategySignals.from_rows("s", dates[:1], [{"A": 1.5, "B": -0.5}])
    with pytest.raises(StrategyError, match="capital weight must be > 0"):
        StrategySignals.from_rows("s", dates[:1], [{"A": 1.0}], capital_weight=Decimal(0))
    with pytest.raises(StrategyError, match=r"rebalance threshold must be in \[0, 1\)"):
        StrategySignals.from_rows("s", dates[:1], [{"A": 1.0}], rebalance_threshold=Decimal(1))
    frame = pd.DataFrame({"A": [1.0, 1.0]}, index=[dates[1], dates[0]])
    with pytest.raises(StrategyError, match="strictly increasing"):
        StrategySignals("s", frame, np.array([True, True]))
    with pytest.raises(StrategyError, match="2 validity flags for 3 rows"):
        StrategySignals("s", pd.DataFrame({"A": [1.0] * 3}, index=dates), np.array([True, True]))


def test_report_notes_say_corporate_actions_are_not_replayed() -> None:
    lines = RunNotes().render(strategies=[], policy="previous_close", requested_start=None, start=date(2024, 1, 2))
    assert ADJUSTED_PRICES_NOTE in lines and "not applied as events" in ADJUSTED_PRICES_NOTE
