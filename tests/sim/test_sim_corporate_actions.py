"""Corporate actions on the simulated exchange: applied at the open of their day to positions, open orders, cash,
assets and prices, and reported as Alpaca's non-trade activities and announcements."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.broker.enums import AssetStatus, OrderStatus
from alchemiser.errors import ConfigError, OrderRejectedError
from alchemiser.sim.assets import AssetBook
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.core import SimExchange
from alchemiser.sim.corporate_actions import CorporateActions
from alchemiser.sim.corporate_events import CorporateEvent, load_events_csv
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.market import QuoteModel
from alchemiser.sim.synthetic import SyntheticMarket
from tests.sim.conftest import MIDDAY, order

D = Decimal
EX_DATE = date(2025, 6, 4)  # Wednesday
OPEN_EX = datetime(2025, 6, 4, 13, 30, tzinfo=UTC)
EVENING = datetime(2025, 6, 3, 21, 0, tzinfo=UTC)  # 17:00 New York on the day before


def build(xnys: XnysCalendar, synthetic: SyntheticMarket, *events: CorporateEvent) -> SimExchange:
    quotes = QuoteModel(synthetic, xnys, spread_bps=2.0, seed=7)
    config = ExchangeConfig(partial_fill_rate=0.0)
    corporate = CorporateActions(events, xnys)
    return SimExchange(quotes, xnys, AssetBook(synthetic.symbols()), config, created_at=MIDDAY, corporate=corporate)


def test_reverse_split_at_the_open_scales_position_prices_and_bars(xnys, synthetic) -> None:
    ex = build(xnys, synthetic, CorporateEvent("split", "UVXY", EX_DATE, ratio=D("0.1")))
    ex.submit(order("UVXY", qty="105"), MIDDAY)
    ex.advance(MIDDAY)
    cost = ex.ledger.holdings["UVXY"].cost
    before = ex.quote("UVXY", EVENING).mid
    bars_before = ex.quotes.daily_bars("UVXY", date(2025, 5, 1), date(2025, 6, 3), EVENING)
    resting = ex.submit(order("UVXY", side="sell", qty="5", cid="queued"), EVENING)  # queued for the open
    ex.advance(OPEN_EX + timedelta(minutes=1))
    assert ex.position_qty("UVXY") == D("10.5") and ex.ledger.holdings["UVXY"].cost == cost  # fractions kept
    assert ex.get_order(resting.id).status is OrderStatus.CANCELED  # open orders canceled, as Alpaca does
    after_open = ex.quotes.daily_bars("UVXY", date(2025, 5, 1), date(2025, 6, 3), OPEN_EX + timedelta(minutes=1))
    assert after_open[-1].close == pytest.approx(bars_before[-1].close * 10)  # history adjusted as of now
    assert ex.quote("UVXY", OPEN_EX + timedelta(minutes=1)).mid > before * 5  # trades ~10× higher
    rows = ex.non_trade_activities()
    assert [(a.activity_type, a.qty) for a in rows] == [("SSP", D(-105)), ("SSP", D("10.5"))]
    assert rows[0].date == EX_DATE


def test_split_with_cash_in_lieu_pays_the_fraction(xnys, synthetic) -> None:
    ex = build(xnys, synthetic, CorporateEvent("split", "UVXY", EX_DATE, ratio=D("0.1"), cash_in_lieu=True))
    ex.submit(order("UVXY", qty="105"), MIDDAY)
    ex.advance(MIDDAY)
    cash = ex.cash
    ex.advance(OPEN_EX)
    price = ex.quote("UVXY", OPEN_EX).mid
    assert ex.position_qty("UVXY") == D(10)
    assert ex.cash - cash == (D("0.5") * price).quantize(D("0.01"))
    assert ex.non_trade_activities()[-1].net_amount == ex.cash - cash


def test_dividend_entitles_holders_at_the_ex_date_and_pays_on_the_pay_date(xnys, synthetic) -> None:
    event = CorporateEvent("dividend", "TLT", EX_DATE, amount=D("0.28"), pay_date=date(2025, 6, 6))
    ex = build(xnys, synthetic, event)
    ex.submit(order("TLT", qty="10"), MIDDAY)
    ex.advance(OPEN_EX)
    ex.submit(order("TLT", side="sell", qty="10", cid="sell"), OPEN_EX + timedelta(hours=1))  # sold after the ex-date
    ex.advance(OPEN_EX + timedelta(hours=1))
    cash = ex.cash
    ex.advance(datetime(2025, 6, 6, 14, 0, tzinfo=UTC))
    assert ex.cash - cash == D("2.80")
    [div] = ex.non_trade_activities()
    assert (div.activity_type, div.qty, div.per_share_amount, div.date) == ("DIV", D(10), D("0.28"), date(2025, 6, 6))


def test_halt_refuses_orders_until_resumed(xnys, synthetic) -> None:
    ex = build(
        xnys,
        synthetic,
        CorporateEvent("halt", "SOXL", EX_DATE),
        CorporateEvent("resume", "SOXL", date(2025, 6, 5)),
    )
    ex.advance(OPEN_EX)
    assert not ex.asset("SOXL").tradable
    with pytest.raises(OrderRejectedError, match="not tradable"):
        ex.submit(order("SOXL", qty="1"), OPEN_EX + timedelta(minutes=5))
    assert ex.announcements(OPEN_EX, EX_DATE, EX_DATE) == []  # halts are never announced
    ex.advance(datetime(2025, 6, 5, 13, 30, tzinfo=UTC))
    assert ex.asset("SOXL").tradable


def test_fund_closing_is_announced_ahead_then_redeemed(xnys, synthetic) -> None:
    ex = build(xnys, synthetic, CorporateEvent("close", "TECL", date(2025, 6, 20), announced=date(2025, 6, 2)))
    ex.submit(order("TECL", qty="4"), MIDDAY)
    [announced] = ex.announcements(MIDDAY, date(2025, 6, 1), date(2025, 7, 1), "TECL")
    assert (announced.ca_type, announced.ca_sub_type, announced.ex_date) == ("merger", "redemption", date(2025, 6, 20))
    assert not announced.ordinary
    cash = ex.cash
    ex.advance(datetime(2025, 6, 20, 14, 0, tzinfo=UTC))
    assert ex.position_qty("TECL") == 0 and ex.cash > cash
    assert ex.asset("TECL").status is AssetStatus.INACTIVE and not ex.asset("TECL").tradable
    [redeemed] = ex.non_trade_activities()
    assert redeemed.activity_type == "MA" and redeemed.qty == D(-4) and redeemed.net_amount == ex.cash - cash


def test_rename_moves_the_position_and_the_new_symbol_reads_the_old_history(xnys, synthetic) -> None:
    ex = build(xnys, synthetic, CorporateEvent("rename", "SQQQ", EX_DATE, new_symbol="SQQZ"))
    ex.submit(order("SQQQ", qty="3"), MIDDAY)
    ex.advance(OPEN_EX)
    assert ex.position_qty("SQQQ") == 0 and ex.position_qty("SQQZ") == 3
    assert ex.asset("SQQZ").id == ex.asset("SQQQ").id and not ex.asset("SQQQ").tradable
    old = ex.quotes.daily_bars("SQQQ", date(2025, 5, 1), date(2025, 6, 3), OPEN_EX)
    new = ex.quotes.daily_bars("SQQZ", date(2025, 5, 1), date(2025, 6, 3), OPEN_EX)
    assert [b.close for b in new] == [b.close for b in old]
    assert [(a.activity_type, a.symbol, a.qty) for a in ex.non_trade_activities()] == [
        ("NC", "SQQQ", D(-3)),
        ("NC", "SQQZ", D(3)),
    ]


def test_an_order_queued_at_20_00_fills_at_the_next_open(xnys, synthetic) -> None:
    ex = build(xnys, synthetic)
    queued = ex.submit(order("SPY", qty="2"), datetime(2025, 6, 4, 0, 0, tzinfo=UTC))  # 20:00 New York
    assert queued.status is OrderStatus.ACCEPTED
    ex.advance(OPEN_EX + timedelta(seconds=1))
    filled = ex.get_order(queued.id)
    assert filled.status is OrderStatus.FILLED and filled.filled_at == OPEN_EX


def test_events_csv_reads_and_names_bad_rows(tmp_path: Path) -> None:
    good = tmp_path / "events.csv"
    good.write_text(
        "kind,symbol,date,ratio,amount,pay_date,announced,new_symbol,cash_in_lieu\n"
        "# comment line\n"
        "split,uvxy,2025-06-04,0.1,,,,,true\n"
        "dividend,TLT,2025-06-04,,0.28,2025-06-06,,,\n"
    )
    split, dividend = load_events_csv(good)
    assert split.symbol == "UVXY" and split.cash_in_lieu and split.announce_on == date(2025, 5, 21)
    assert dividend.paid_on == date(2025, 6, 6)
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,symbol,date,ratio\nsplit,UVXY,2025-06-04,zero\n")
    with pytest.raises(ConfigError, match="line 2: ratio 'zero' is not a number"):
        load_events_csv(bad)
    bad.write_text("kind,symbol,date,ratio\nsplit,UVXY,2025-06-04,1\n")
    with pytest.raises(ConfigError, match="a split needs a ratio > 0 and ≠ 1"):
        load_events_csv(bad)
    bad.write_text("symbol,date\nUVXY,2025-06-04\n")
    with pytest.raises(ConfigError, match="missing columns kind"):
        load_events_csv(bad)
