"""Trade statistics of a backtest, per strategy book and for the whole account (pure; definitions in
:mod:`alchemiser.backtest.round_trips`).

``time_invested`` is the share of sessions on which the book held any position (the account: any symbol), a
different figure from the metrics' ``exposure`` (the mean invested fraction of equity).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

ALL_BOOKS = "all"


@dataclass(frozen=True)
class TradeStats:
    """Closed-trade ratios plus the count of trades still open at the end."""

    book: str
    closed: int
    open: int
    winners: int
    losers: int
    win_rate: float | None
    profit_factor: float | None
    gross_profit: float
    gross_loss: float
    net_pnl: float  # closed trades only
    average_pnl: float | None
    average_win: float | None
    average_loss: float | None
    best: float | None
    worst: float | None
    average_holding_days: float | None
    time_invested: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trade_stats(trips: pd.DataFrame, book: str = ALL_BOOKS, invested: pd.Series | None = None) -> TradeStats:
    """Statistics of the ``round_trip_frame`` rows of ``book`` (every row for ``ALL_BOOKS``); ``invested`` is the
    book's market value per session (for ``time_invested``)."""
    rows = trips if book == ALL_BOOKS else trips[trips["book"] == book]
    closed = rows[rows["status"] == "closed"]
    pnl = [float(Decimal(v)) for v in closed["net_pnl"]]
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p < 0]
    gross_profit, gross_loss = sum(wins), -sum(losses)
    holding = [int(d) for d in closed["holding_days"]]
    time_invested = None
    if invested is not None and len(invested):
        time_invested = float((invested.to_numpy() > 0).mean())
    return TradeStats(
        book=book,
        closed=len(pnl),
        open=int((rows["status"] == "open").sum()),
        winners=len(wins),
        losers=len(losses),
        win_rate=len(wins) / len(pnl) if pnl else None,
        profit_factor=gross_profit / gross_loss if gross_loss > 0 else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        net_pnl=sum(pnl),
        average_pnl=sum(pnl) / len(pnl) if pnl else None,
        average_win=gross_profit / len(wins) if wins else None,
        average_loss=-gross_loss / len(losses) if losses else None,
        best=max(pnl) if pnl else None,
        worst=min(pnl) if pnl else None,
        average_holding_days=sum(holding) / len(holding) if holding else None,
        time_invested=time_invested,
    )


def all_trade_stats(trips: pd.DataFrame, books: list[str], invested: pd.DataFrame | None) -> list[TradeStats]:
    """One ``TradeStats`` per book that traded or is listed in ``books``, then the account (``ALL_BOOKS``)."""
    names = list(dict.fromkeys([*books, *(str(b) for b in trips["book"])]))
    out = []
    for name in names:
        series = None if invested is None or name not in invested.columns else invested[name]
        out.append(trade_stats(trips, name, series))
    account = None if invested is None or invested.empty else invested.sum(axis=1)
    out.append(trade_stats(trips, ALL_BOOKS, account))
    return out
