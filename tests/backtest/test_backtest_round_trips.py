"""Trade-level arithmetic: FIFO round trips per book and symbol, and the statistics over them, against hand sums."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from alchemiser.backtest.round_trips import BookFill, round_trip_frame, round_trips
from alchemiser.backtest.trade_stats import ALL_BOOKS, all_trade_stats, trade_stats

D = Decimal


def _fill(
    day: int, side: str, qty: str, price: str, commission: str = "0", *, book: str = "a", sym: str = "X"
) -> BookFill:
    return BookFill(date(2024, 1, day), book, sym, side, D(qty), D(price), D(commission))


def test_a_simple_round_trip_nets_its_commissions() -> None:
    [trip] = round_trips([_fill(1, "buy", "10", "100", "1"), _fill(5, "sell", "10", "110", "1")])
    assert (trip.opened, trip.closed, trip.holding_days) == (date(2024, 1, 1), date(2024, 1, 5), 4)
    assert trip.realized_pnl == D(100)  # 10 x (110 - 100)
    assert trip.commissions == D(2)
    assert trip.net_pnl == D(98)
    assert trip.return_pct == D("0.098")  # 98 / 1000 bought
    assert not trip.is_open and trip.fills == 2


def test_partial_closes_match_the_oldest_lots_first() -> None:
    fills = [
        _fill(1, "buy", "10", "100"),
        _fill(2, "buy", "10", "110"),
        _fill(3, "sell", "15", "120"),  # closes 10 @ 100 (+200) and 5 @ 110 (+50)
        _fill(10, "sell", "5", "90"),  # closes the last 5 @ 110 (-100)
    ]
    [trip] = round_trips(fills)
    assert trip.realized_pnl == D(150)
    assert trip.closed == date(2024, 1, 10) and trip.holding_days == 9
    row = trip.row()
    assert row["avg_entry"] == D(105)  # (1000 + 1100) / 20
    assert row["avg_exit"] == D("112.5")  # (1800 + 450) / 20
    assert row["bought_qty"] == row["sold_qty"] == D(20)


def test_fifo_decides_what_a_partial_close_realises() -> None:
    # after a trim the remaining lot is the newer, dearer one: the open remainder is valued against 110, not 105
    fills = [_fill(1, "buy", "10", "100"), _fill(2, "buy", "10", "110"), _fill(3, "sell", "10", "120")]
    [trip] = round_trips(fills, {"X": D(130)}, end=date(2024, 1, 31))
    assert trip.realized_pnl == D(200)  # 10 x (120 - 100)
    assert trip.unrealized_pnl == D(200)  # 10 x (130 - 110)
    assert trip.is_open and trip.holding_days == 30


def test_a_position_still_open_at_the_end_is_valued_at_the_last_close() -> None:
    fills = [_fill(1, "buy", "10", "100", "1"), _fill(2, "sell", "4", "120", "1")]
    [trip] = round_trips(fills, {"X": D(130)}, end=date(2024, 1, 11))
    assert trip.realized_pnl == D(80)  # 4 x 20
    assert trip.unrealized_pnl == D(180)  # 6 left x (130 - 100)
    assert trip.net_pnl == D(258)
    assert trip.closed is None and trip.holding_days == 10
    assert trip.row()["status"] == "open" and trip.row()["closed"] is None


def test_flat_to_flat_starts_a_new_trade_and_books_and_symbols_are_apart() -> None:
    fills = [
        _fill(1, "buy", "1", "10"),
        _fill(1, "buy", "2", "10", book="b"),
        _fill(1, "buy", "3", "50", sym="Y"),
        _fill(2, "sell", "1", "12"),
        _fill(3, "buy", "1", "11"),
        _fill(4, "sell", "1", "10"),
        _fill(4, "sell", "2", "9", book="b"),
    ]
    trips = round_trips(fills, {"Y": D(55)}, end=date(2024, 1, 4))
    summary = [(t.book, t.symbol, t.opened.day, t.closed and t.closed.day, t.net_pnl) for t in trips]
    assert summary == [
        ("a", "X", 1, 2, D(2)),
        ("a", "Y", 1, None, D(15)),
        ("b", "X", 1, 4, D(-2)),
        ("a", "X", 3, 4, D(-1)),
    ]


def test_rounding_residues_count_as_flat() -> None:
    fills = [_fill(1, "buy", "10", "100"), _fill(2, "sell", "10.0000001", "100"), _fill(3, "sell", "0.0000002", "1")]
    [trip] = round_trips(fills)
    assert trip.closed == date(2024, 1, 2)


@pytest.mark.parametrize(
    ("fills", "message"),
    [
        ([_fill(1, "sell", "1", "10")], "2024-01-01 a X: sell of 1 with nothing held"),
        ([_fill(1, "buy", "1", "10"), _fill(2, "sell", "3", "10")], "a X: sell of 3 exceeds the 1 held"),
        ([_fill(1, "short", "1", "10")], "side must be buy or sell, got 'short'"),
        ([_fill(1, "buy", "0", "10")], "fill quantity must be > 0, got 0"),
    ],
)
def test_impossible_ledgers_are_refused_with_the_book_and_symbol(fills: list[BookFill], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        round_trips(fills)


def _frame() -> pd.DataFrame:
    fills = [
        _fill(1, "buy", "10", "100", "1"),
        _fill(5, "sell", "10", "110", "1"),  # a: +98 over 4 days
        _fill(1, "buy", "10", "100", book="b"),
        _fill(3, "sell", "10", "95", book="b"),  # b: -50 over 2 days
        _fill(6, "buy", "10", "100"),
        _fill(12, "sell", "10", "115"),  # a: +150 over 6 days
        _fill(7, "buy", "10", "100", book="b"),  # b: open, -100 at the last close
    ]
    return round_trip_frame(round_trips(fills, {"X": D(90)}, end=date(2024, 1, 20)))


def test_trade_statistics_count_closed_trades_only() -> None:
    stats = trade_stats(_frame())
    assert (stats.book, stats.closed, stats.open, stats.winners, stats.losers) == (ALL_BOOKS, 3, 1, 2, 1)
    assert stats.win_rate == pytest.approx(2 / 3)
    assert stats.profit_factor == pytest.approx(248 / 50)
    assert stats.net_pnl == pytest.approx(198)
    assert (stats.best, stats.worst) == (pytest.approx(150), pytest.approx(-50))
    assert stats.average_win == pytest.approx(124) and stats.average_loss == pytest.approx(-50)
    assert stats.average_holding_days == pytest.approx(4)  # (4 + 2 + 6) / 3


def test_per_book_statistics_and_time_invested() -> None:
    index = pd.bdate_range("2024-01-01", periods=4)
    invested = pd.DataFrame({"a": [0.0, 5.0, 5.0, 0.0], "b": [0.0, 0.0, 0.0, 1.0]}, index=index)
    by_book = {s.book: s for s in all_trade_stats(_frame(), ["a", "b", "idle"], invested)}
    assert list(by_book) == ["a", "b", "idle", ALL_BOOKS]
    assert by_book["a"].win_rate == 1.0 and by_book["a"].profit_factor is None  # no losing trade
    assert by_book["a"].time_invested == 0.5
    assert by_book["b"].closed == 1 and by_book["b"].open == 1 and by_book["b"].win_rate == 0.0
    assert by_book["idle"].closed == 0 and by_book["idle"].win_rate is None
    assert by_book[ALL_BOOKS].time_invested == 0.75  # any book invested on 3 of 4 sessions


def test_a_split_rescales_the_open_lots_and_income_is_realised() -> None:
    fills = [
        _fill(1, "buy", "10", "100"),
        BookFill(date(2024, 1, 2), "a", "X", "split", D(20), D(0), kind="split", ratio=D(2)),  # 2-for-1
        BookFill(date(2024, 1, 3), "a", "X", "income", D(0), D(0), kind="income", amount=D("1.50")),  # a dividend
        _fill(4, "sell", "20", "55"),  # 20 post-split shares at 55 against lots now at 50
    ]
    [trip] = round_trips(fills)
    assert trip.realized_pnl == D("101.50")  # 20 x (55 - 50) + 1.50
    assert trip.closed == date(2024, 1, 4)
    row = trip.row()
    assert row["avg_entry"] == D(50) and row["bought_qty"] == D(20)  # in post-split terms


def test_income_after_a_trade_closed_goes_to_that_trade() -> None:
    fills = [
        _fill(1, "buy", "10", "100"),
        _fill(2, "sell", "10", "100"),
        BookFill(date(2024, 1, 9), "a", "X", "income", D(0), D(0), kind="income", amount=D(3)),  # paid after the exit
    ]
    [trip] = round_trips(fills)
    assert trip.net_pnl == D(3)


def test_a_residue_at_a_huge_price_keeps_the_trades_adding_up() -> None:
    # reverse-split funds reach adjusted prices where a 1e-7 share residue is worth dollars
    fills = [
        _fill(1, "buy", "10", "1000000000"),
        _fill(2, "sell", "9.9999995", "1100000000"),  # the account closed; the book keeps 5e-7 shares
        _fill(3, "sell", "0.0000005", "1100000000"),  # sold by the next plan's reconciliation
    ]
    [trip] = round_trips(fills)
    assert trip.closed == date(2024, 1, 2)
    assert trip.net_pnl == D(1_000_000_000)  # 10 x 100,000,000, exactly
