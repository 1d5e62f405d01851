"""What a backtest produces: daily series, trades, notes, and the metrics computed from them.

Series are indexed by session date (a tz-naive ``DatetimeIndex`` of New York session dates). The engine's own
accounting is ``Decimal``; the daily series are float64 views of it for charts and statistics, while ``trades``
keeps the exact ``Decimal`` values (``qty``, ``price``, ``notional``, ``commission``) so the CSV output is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from alchemiser.backtest.metrics import Metrics, compute_metrics
from alchemiser.backtest.round_trips import BOOK_FILL_COLUMNS, ROUND_TRIP_COLUMNS
from alchemiser.backtest.trade_stats import TradeStats, all_trade_stats
from alchemiser.backtest.walkforward import Window, walk_forward

TRADE_COLUMNS = ("date", "symbol", "side", "qty", "price", "reference", "notional", "commission", "reason")


@dataclass(frozen=True)
class Costs:
    """Trading-cost settings: half-spread and slippage in basis points of price, commission per order and per share.

    A buy fills at ``reference x (1 + (spread/2 + slippage) / 10_000)``, a sell symmetrically below; commission is
    ``per_order + per_share x qty``, deducted from cash once per fill.
    """

    spread_bps: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)
    commission_per_order: Decimal = Decimal(0)
    commission_per_share: Decimal = Decimal(0)

    def to_dict(self) -> dict[str, str]:
        return {
            "spread_bps": str(self.spread_bps),
            "slippage_bps": str(self.slippage_bps),
            "commission_per_order": str(self.commission_per_order),
            "commission_per_share": str(self.commission_per_share),
        }


@dataclass(frozen=True)
class StrategyInfo:
    """One strategy of the run: its name, file, capital weight, drift band and first date it could evaluate."""

    name: str
    source: str
    capital_weight: Decimal
    rebalance_threshold: Decimal | None
    first_valid: date | None
    failed_sessions: int = 0
    rebalance: str = "daily"  # the symphony's rule (dsl.md §4.1): a frequency or a corridor
    rebalances: int = 0  # sessions on which its book was brought to target
    #: those sessions (not in ``to_dict``: a daily rule lists every session of the run)
    rebalance_sessions: tuple[date, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "capital_weight": str(self.capital_weight),
            "rebalance_threshold": None if self.rebalance_threshold is None else str(self.rebalance_threshold),
            "first_valid": None if self.first_valid is None else self.first_valid.isoformat(),
            "failed_sessions": self.failed_sessions,
            "rebalance": self.rebalance,
            "rebalances": self.rebalances,
        }


@dataclass
class BacktestResult:
    """The outcome of one backtest run.

    - ``equity``/``cash``: account value and cash at each session's close (cash + positions = equity).
    - ``weights``: end-of-session holdings as fractions of equity (sessions x symbols).
    - ``targets``: the merged target weights decided for each session (sessions x symbols).
    - ``strategy_targets``: per strategy, its own target weights for each session.
    - ``trades``: one row per fill (``TRADE_COLUMNS``; ``reference`` is the decision price the fill is measured
      against, so ``|price - reference| x qty`` is what spread and slippage cost); ``contributions``: daily return
      contribution per strategy.
    - ``book_fills``: every change of a strategy book's holdings (``BOOK_FILL_COLUMNS``); ``round_trips``: the
      trades matched from them FIFO (``ROUND_TRIP_COLUMNS``, see ``alchemiser.backtest.round_trips``).
    - ``book_pnl``/``book_invested``: per strategy book, its cumulative P&L (realised + unrealised - commissions)
      and its market value at each close.
    - ``benchmark``: buy-and-hold equity of ``benchmark_symbol`` from the same capital, or ``None``.
    - ``notes``: human-readable facts the report must show (start moved, blocked plans, failed evaluations).
    """

    initial_capital: Decimal
    as_of_policy: str
    costs: Costs
    strategies: list[StrategyInfo]
    requested_start: date | None
    requested_end: date | None
    equity: pd.Series
    cash: pd.Series
    weights: pd.DataFrame
    targets: pd.DataFrame
    strategy_targets: dict[str, pd.DataFrame]
    trades: pd.DataFrame
    contributions: pd.DataFrame
    book_fills: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(BOOK_FILL_COLUMNS)))
    round_trips: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(ROUND_TRIP_COLUMNS)))
    book_pnl: pd.DataFrame | None = None
    book_invested: pd.DataFrame | None = None
    benchmark: pd.Series | None = None
    benchmark_symbol: str | None = None
    notes: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    @property
    def start(self) -> date:
        return pd.Timestamp(self.equity.index[0]).date()

    @property
    def end(self) -> date:
        return pd.Timestamp(self.equity.index[-1]).date()

    @property
    def start_moved(self) -> bool:
        return self.requested_start is not None and self.start > self.requested_start

    def performance(self, risk_free_rate: float = 0.0) -> Metrics:
        return compute_metrics(
            self.equity,
            initial_equity=float(self.initial_capital),
            weights=self.weights,
            trades=self.trades,
            contributions=self.contributions,
            risk_free_rate=risk_free_rate,
        )

    def benchmark_performance(self, risk_free_rate: float = 0.0) -> Metrics | None:
        if self.benchmark is None:
            return None
        return compute_metrics(
            self.benchmark, initial_equity=float(self.initial_capital), risk_free_rate=risk_free_rate
        )

    def trade_stats(self) -> list[TradeStats]:
        """Per strategy book (then the whole account): win rate, profit factor, holding time, time invested."""
        return all_trade_stats(self.round_trips, [s.name for s in self.strategies], self.book_invested)

    def strategy_equity(self) -> pd.DataFrame | None:
        """Per strategy: its capital weight x the starting capital plus its cumulative P&L, at each close."""
        if self.book_pnl is None:
            return None
        weights = {s.name: float(s.capital_weight) for s in self.strategies}
        base = float(self.initial_capital)
        return pd.DataFrame(
            {str(name): weights.get(str(name), 0.0) * base + self.book_pnl[name] for name in self.book_pnl.columns}
        )

    def walk_forward(self, count: int, risk_free_rate: float = 0.0) -> list[Window]:
        return walk_forward(
            self.equity,
            count,
            initial_equity=float(self.initial_capital),
            weights=self.weights,
            trades=self.trades,
            contributions=self.contributions,
            benchmark=self.benchmark,
            risk_free_rate=risk_free_rate,
        )

    def settings_dict(self) -> dict[str, Any]:
        return {
            "initial_capital": str(self.initial_capital),
            "as_of_policy": self.as_of_policy,
            "costs": self.costs.to_dict(),
            "requested_start": None if self.requested_start is None else self.requested_start.isoformat(),
            "requested_end": None if self.requested_end is None else self.requested_end.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "benchmark_symbol": self.benchmark_symbol,
            "strategies": [s.to_dict() for s in self.strategies],
        }
