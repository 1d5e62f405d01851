"""Regulatory fees on sells in the simulated exchange: none by default (Alpaca paper), Alpaca's live schedule when
configured — taken from cash and posted as FEE activities naming the order, as the parity monitor reads them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from alchemiser.sim.fees import ALPACA_LIVE_2024, FeeSchedule
from alchemiser.store.fees import fee_rows
from tests.sim.conftest import MIDDAY, MakeExchange, order


def test_the_schedule_rounds_each_fee_up_to_the_cent_and_caps_the_taf() -> None:
    assert ALPACA_LIVE_2024.on_sell(Decimal(100), Decimal(50_000)) == {"REG": Decimal("1.39"), "TAF": Decimal("0.02")}
    assert ALPACA_LIVE_2024.on_sell(Decimal(100_000), Decimal(10))["TAF"] == Decimal("8.30")
    assert FeeSchedule().on_sell(Decimal(100), Decimal(50_000)) == {}
    with pytest.raises(ValueError, match="taf_per_share must be ≥ 0"):
        FeeSchedule(taf_per_share=Decimal(-1))


def test_a_sell_pays_the_live_schedule_and_posts_fee_activities(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange(fees=ALPACA_LIVE_2024)
    bought = ex.submit(order(qty="100", cid="b"), MIDDAY)
    ex.advance(MIDDAY)
    assert ex.non_trade_activities() == []  # buys pay no regulatory fee
    after_buy = ex.cash
    sold = ex.submit(order(side="sell", qty="100", cid="s"), MIDDAY)
    ex.advance(MIDDAY)
    filled = ex.get_order(sold.id)
    assert filled.filled_avg_price is not None and ex.get_order(bought.id).filled_qty == 100
    proceeds = 100 * filled.filled_avg_price
    fees = ALPACA_LIVE_2024.on_sell(Decimal(100), proceeds)
    assert ex.cash == after_buy + proceeds - sum(fees.values())
    rows = fee_rows(ex.non_trade_activities(after=date(2025, 6, 2)))
    assert {(r.kind, r.amount, r.order_id) for r in rows} == {(k, v, sold.id) for k, v in fees.items()}
    assert ex.non_trade_activities(after=date(2025, 6, 3)) == []  # dated the session of the fill
    assert ex.non_trade_activities(types=frozenset({"DIV"})) == []


def test_by_default_a_sell_pays_no_fee(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    ex.submit(order(qty="10", cid="b"), MIDDAY)
    ex.advance(MIDDAY)
    ex.submit(order(side="sell", qty="10", cid="s"), MIDDAY)
    ex.advance(MIDDAY)
    assert ex.non_trade_activities() == []
