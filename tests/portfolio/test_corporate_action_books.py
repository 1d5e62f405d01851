"""Books follow corporate actions the way the account does (pure), and reconciliation explains share changes by them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from alchemiser.broker.activities import NonTradeActivity
from alchemiser.broker.models import Position
from alchemiser.portfolio.books import UNATTRIBUTED, Books
from alchemiser.portfolio.corporate_actions import apply_event, book_events, position_deltas
from alchemiser.trading.reconcile import Snapshot, compare

D = Decimal
DAY = date(2024, 4, 11)


def nta(kind: str, symbol: str | None, qty: str | None, amount: str = "0", *, n: int = 0, **extra: object):
    body = {"id": f"{DAY:%Y%m%d}::{kind}-{symbol}-{n}", "activity_type": kind, "date": DAY.isoformat()}
    body |= {"symbol": symbol, "qty": qty, "net_amount": amount, **extra}
    return NonTradeActivity.model_validate(body)


def two_books() -> Books:
    books = Books(["a", "b"])
    books.book("a").holding("UVXY").buy(D(60), D(5))  # cost 300
    books.book("b").holding("UVXY").buy(D(45), D(6))  # cost 270
    return books


def test_reverse_split_scales_qty_keeps_cost_and_realises_the_cash_in_lieu() -> None:
    books = two_books()
    rows = [nta("SSP", "UVXY", "-105", n=1), nta("SSP", "UVXY", "10", "14.85", n=2)]
    assert position_deltas(rows) == {"UVXY": D(-95)}
    [event] = book_events(rows)
    assert event.kind == "split" and event.ratio == D(10) / D(105) and event.amount == D("14.85")
    apply_event(books, event)
    a, b = books.book("a").holding("UVXY"), books.book("b").holding("UVXY")
    assert a.qty + b.qty == D(10)  # the books sum to the account again
    assert a.qty == (D(60) * 10 / 105).quantize(D("0.000000001"))  # each book × the delivered ratio
    assert a.cost == D(300) and b.cost == D(270)  # total cost kept: average cost per share ÷ ratio
    assert a.realized_pnl + b.realized_pnl == D("14.85")  # the cash in lieu, realised pro rata
    assert abs(a.realized_pnl - D("14.85") * 60 / 105) < D("0.000001")


def test_exact_split_changes_average_cost_by_the_ratio() -> None:
    books = two_books()
    [event] = book_events([nta("SSP", "UVXY", "-105", n=1), nta("SSP", "UVXY", "210", n=2)])
    apply_event(books, event)
    held = books.book("a").holding("UVXY")
    assert held.qty == D(120) and held.cost == D(300) and held.avg_cost == D("2.5") and held.realized_pnl == 0


def test_dividend_goes_to_the_record_date_holders_pro_rata() -> None:
    books = two_books()
    [event] = book_events([nta("DIV", "UVXY", "105", "21", per_share_amount="0.2")])
    parts = apply_event(books, event, holders={"a": D(60), "b": D(45)})
    assert parts == {"a": D(12), "b": D(9)}
    assert books.book("a").realized_pnl == D(12) and books.book("b").realized_pnl == D(9)
    # nobody held it: the cash still lands somewhere the books add up
    [orphan] = book_events([nta("DIV", "TLT", "5", "1.40")])
    assert apply_event(books, orphan) == {UNATTRIBUTED: D("1.40")}


def test_rename_moves_holdings_and_pending() -> None:
    books = two_books()
    books.pending = {"FB": {"a": D(2)}}
    books.book("a").holding("FB").buy(D(3), D(100))
    [event] = book_events([nta("NC", "FB", "-3", n=1), nta("NC", "META", "3", n=2)])
    assert event.kind == "rename" and event.new_symbol == "META" and not event.ordinary
    apply_event(books, event)
    assert "FB" not in books.book("a").holdings and books.book("a").holding("META").cost == D(300)
    assert books.pending == {"META": {"a": D(2)}}


def test_closed_fund_cash_out_is_realised_like_a_sale() -> None:
    books = two_books()
    [event] = book_events([nta("MA", "UVXY", "-105", "630")])
    assert event.kind == "cash_out"
    apply_event(books, event)
    assert books.symbol_qty("UVXY") == 0
    assert books.book("a").realized_pnl == D(60) and books.book("b").realized_pnl == D(0)


def test_canceled_and_capital_rows_change_nothing() -> None:
    rows = [nta("SSP", "UVXY", "-105", status="canceled"), nta("CSD", None, None, "1000"), nta("JNLS", "SPY", "5")]
    assert position_deltas(rows) == {}
    assert book_events(rows) == []


def test_reconciliation_explains_a_split_but_not_a_share_journal() -> None:
    at = datetime(2024, 4, 11, 19, 0, tzinfo=UTC)
    snapshot = Snapshot(datetime(2024, 4, 10, 20, 0, tzinfo=UTC), "decision", {"UVXY": D(105), "SPY": D(5)})
    broker = [Position(symbol="UVXY", qty=D(10)), Position(symbol="SPY", qty=D(10))]
    split = [nta("SSP", "UVXY", "-105", n=1), nta("SSP", "UVXY", "10", "14.85", n=2)]
    common = {"at": at, "snapshot": snapshot, "broker_positions": broker, "fills_since": [], "our_order_ids": set()}
    report = compare(**common, open_orders=[], known_client_ids=set(), corporate_deltas=position_deltas(split))
    assert report.mismatches == ("SPY: broker holds 10, store expects 5 (diff 5)",)  # SPY moved by a journal
    assert report.corporate_actions == ("UVXY -95",)
    journal = [nta("JNLS", "SPY", "5")]
    still = compare(**common, open_orders=[], known_client_ids=set(), corporate_deltas=position_deltas(split + journal))
    assert not still.ok and "SPY" in still.reason
