"""Backtester: the daemon's strategy engine, planner, risk checks and fill model run day by day over history.

Public API::

    run_files([StrategySpec(path, capital_weight)], data_dir, EngineConfig(...), fill_at="close"|"decision",
              progress=cb) -> BacktestResult
        parse + evaluate each symphony ONCE over the whole date axis (alchemiser.dsl), then the daily loop
    run_backtest([StrategySignals], closes, EngineConfig(...), fill_model=None, reference=None, progress=None,
                 replay=None)
        the daily loop on already-evaluated allocations (rows = dates) and a sessions x symbols closes frame;
        replay (build_replay: unadjusted closes + splits/dividends) prices fills as traded and applies the events
    StrategySignals    one strategy's rows (weights frame + valid flags + errors), .from_rows(name, dates, rows)
    DecisionTimeQuotes the simulated exchange's intraday mid 15 min before the close (ReferencePrices)
    EngineConfig       initial_capital, as_of_policy ("previous_close" | "live"), costs, planner, risk,
                       whole_shares, start, end, benchmark_symbol, prices ("events" | "adjusted"),
                       corporate_events (extra splits/dividends, e.g. from a CSV of events)
    build_replay(source, symbols, extra_events=...) -> CorporateReplay | None; derive_events(bars)
    Costs              spread_bps (full spread), slippage_bps, commission_per_order, commission_per_share
    QuoteFillModel     the simulated exchange's touch (bid/ask rounding) + slippage + commission
    BacktestResult     equity, cash, weights, targets, strategy_targets, trades, contributions, benchmark, notes;
                       .performance() / .benchmark_performance() -> Metrics, .walk_forward(n) -> [Window]
    compute_metrics(equity, initial_equity=..., weights=..., trades=..., contributions=...) -> Metrics
    walk_forward(equity, n, initial_equity=...) -> [Window]

    alchemiser.backtest.report.write_report(result, out_dir, windows=n) -> ReportFiles
        report.html + summary.json + CSVs. Not re-exported here: it pulls in matplotlib (~30 MB), which the
        daemon and the other CLI commands, importing this package, must not pay for.
"""

from alchemiser.backtest.corporate import CorporateReplay, build_replay, derive_events
from alchemiser.backtest.engine import AS_OF_POLICIES, PRICE_MODES, EngineConfig, backtest_risk_params, run_backtest
from alchemiser.backtest.fills import Fill, FillModel, QuoteFillModel
from alchemiser.backtest.metrics import Drawdown, Metrics, buy_and_hold, compute_metrics, monthly_returns
from alchemiser.backtest.quotes import DecisionTimeQuotes, ReferencePrices
from alchemiser.backtest.result import BacktestResult, Costs, StrategyInfo
from alchemiser.backtest.runner import StrategySpec, run_files
from alchemiser.backtest.signals import StrategySignals
from alchemiser.backtest.walkforward import Window, walk_forward

__all__ = [
    "AS_OF_POLICIES",
    "PRICE_MODES",
    "BacktestResult",
    "CorporateReplay",
    "Costs",
    "DecisionTimeQuotes",
    "Drawdown",
    "EngineConfig",
    "Fill",
    "FillModel",
    "Metrics",
    "QuoteFillModel",
    "ReferencePrices",
    "StrategyInfo",
    "StrategySignals",
    "StrategySpec",
    "Window",
    "backtest_risk_params",
    "build_replay",
    "buy_and_hold",
    "compute_metrics",
    "derive_events",
    "monthly_returns",
    "run_backtest",
    "run_files",
    "walk_forward",
]
