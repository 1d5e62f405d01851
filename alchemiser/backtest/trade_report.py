"""The trade-level part of the backtest report: statistics per strategy book, per-strategy equity curves, every
round trip and every fill as paged tables, and ``round_trips.csv``.

Its own module (and its own block of the page, ``trade_sections``) so that other report sections can be added to
``report.py`` without touching this one. Definitions: :mod:`alchemiser.backtest.round_trips`.
"""

from __future__ import annotations

import html
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from alchemiser.backtest import charts
from alchemiser.backtest.html_parts import fmt_num, fmt_pct, html_table
from alchemiser.backtest.paging import paged_table
from alchemiser.backtest.result import BacktestResult
from alchemiser.backtest.trade_stats import ALL_BOOKS, TradeStats

ROUND_TRIPS_CSV = "round_trips.csv"
PRICE_QUANTUM = Decimal("0.000001")
MONEY_QUANTUM = Decimal("0.0001")
_PRICE_COLUMNS = ("avg_entry", "avg_exit", "return_pct")
_MONEY_COLUMNS = ("realized_pnl", "unrealized_pnl", "commissions", "net_pnl")

DEFINITIONS = (
    "A trade is one strategy book's position in one symbol, from the buy that opens it (flat to long) to the sell "
    "that closes it (back to flat); adds and trims in between (partial closes) belong to it. Each book's share of "
    "an account fill — and of its commission — counts, and so do internal crosses between books at the plan's "
    "price. Lots close first in, first out. Net P&L = realised + unrealised (open trades, at the last close) − "
    "commissions; return = net P&L / the cost of every lot bought. Holding time is in calendar days. Win rate and "
    "profit factor (gross profit / gross loss) count closed trades only; time invested is the share of sessions "
    "with any position held."
)


def _quantized(value: Any, quantum: Decimal) -> Any:
    return value.quantize(quantum) if isinstance(value, Decimal) else value


def round_trips_csv(result: BacktestResult, path: Path) -> Path:
    """Every trade, one row each (``ROUND_TRIP_COLUMNS``): quantities exact, prices and returns to 6 decimals,
    money to 4."""
    frame = result.round_trips.copy()
    for column in _PRICE_COLUMNS:
        frame[column] = [_quantized(v, PRICE_QUANTUM) for v in frame[column]]
    for column in _MONEY_COLUMNS:
        frame[column] = [_quantized(v, MONEY_QUANTUM) for v in frame[column]]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _money(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value):,.2f}"


def _price(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value):,.4f}"


def _qty(value: Any) -> str:
    return f"{Decimal(value).quantize(PRICE_QUANTUM).normalize():f}"


def _stats_table(stats: list[TradeStats]) -> str:
    rows: list[tuple[str, Any]] = [
        ("Closed trades", lambda s: str(s.closed)),
        ("Open at the end", lambda s: str(s.open)),
        ("Win rate", lambda s: fmt_pct(s.win_rate, 1)),
        (
            "Profit factor",
            lambda s: "no losing trade" if s.profit_factor is None and s.closed else fmt_num(s.profit_factor),
        ),
        ("Net P&L (closed)", lambda s: fmt_num(s.net_pnl)),
        ("Average trade", lambda s: fmt_num(s.average_pnl)),
        ("Average winner", lambda s: fmt_num(s.average_win)),
        ("Average loser", lambda s: fmt_num(s.average_loss)),
        ("Best / worst", lambda s: f"{fmt_num(s.best)} / {fmt_num(s.worst)}"),
        ("Average holding (days)", lambda s: fmt_num(s.average_holding_days, 1)),
        ("Time invested", lambda s: fmt_pct(s.time_invested, 1)),
    ]
    headers = ["", *("All books" if s.book == ALL_BOOKS else s.book for s in stats)]
    return html_table(headers, [[label, *(html.escape(fn(s)) for s in stats)] for label, fn in rows])


def _trip_rows(trips: pd.DataFrame) -> list[list[str]]:
    return [
        [
            str(r["book"]),
            str(r["symbol"]),
            str(r["opened"]),
            "open" if r["status"] == "open" else str(r["closed"]),
            str(r["holding_days"]),
            _qty(r["bought_qty"]),
            _price(r["avg_entry"]),
            _qty(r["sold_qty"]),
            _price(r["avg_exit"]),
            _money(r["realized_pnl"]),
            _money(r["unrealized_pnl"]),
            _money(r["commissions"]),
            _money(r["net_pnl"]),
            "–" if r["return_pct"] is None else f"{float(r['return_pct']) * 100:.2f}%",
        ]
        for r in trips.to_dict("records")
    ]


def _fill_rows(fills: pd.DataFrame) -> list[list[str]]:
    return [
        [
            pd.Timestamp(r["date"]).date().isoformat(),
            str(r["symbol"]),
            str(r["side"]),
            _qty(r["qty"]),
            _price(r["price"]),
            _money(r["notional"]),
            _money(r["commission"]),
            str(r["reason"]),
        ]
        for r in fills.to_dict("records")
    ]


def trade_sections(result: BacktestResult) -> list[str]:
    """The report's trade-level sections, in page order."""
    parts = [
        "<h2>Trade analysis</h2>",
        f'<p class="muted">{html.escape(DEFINITIONS)}</p>',
        _stats_table(result.trade_stats()),
    ]
    equity = result.strategy_equity()
    if equity is not None and len(result.strategies) > 0:
        curves = {str(name): equity[name] for name in equity.columns}
        parts += [
            "<h2>Strategy equity</h2>",
            '<p class="muted">Each strategy book: its capital weight × the starting capital plus its cumulative '
            "P&amp;L (realised + unrealised − commissions); the books add up to the account.</p>",
            f"<figure>{charts.lines_chart(curves, 'Equity per strategy', 'strategy-equity')}</figure>",
        ]
    trip_headers = [
        "Book",
        "Symbol",
        "Opened",
        "Closed",
        "Days",
        "Bought",
        "Avg entry",
        "Sold",
        "Avg exit",
        "Realised",
        "Unrealised",
        "Commissions",
        "Net P&L",
        "Return",
    ]
    fill_headers = ["Date", "Symbol", "Side", "Qty", "Price", "Notional", "Commission", "Reason"]
    parts += [
        "<h2>Trades (round trips)</h2>",
        paged_table("round-trips", trip_headers, _trip_rows(result.round_trips), csv_name=ROUND_TRIPS_CSV),
        "<h2>Fills</h2>",
        paged_table("fills", fill_headers, _fill_rows(result.trades), csv_name="trades.csv"),
    ]
    return parts
