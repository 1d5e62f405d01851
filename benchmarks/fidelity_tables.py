"""The figure tables of issue 16 ("Symphony fidelity"), from the real bars in ../shared:

1. TECL churn 2022–23 (``config/strategies/tecl.clj``, as shipped: ``:daily``) by the account planner's drift band
   (``risk.drift_band``): trades, turnover, median trade.
2. The same symphony as a corridor (``:rebalance-threshold x``) by threshold.
3. The three default strategies (capital-weighted as in the default configuration) with every rebalance frequency
   forced on all three: trades per year, total and annualised return, max drawdown, turnover.
4. Per-date classes of every reference symphony over all dates of the bar folder (as ``symphony_parity.py``):
   allocation, before the backtestable start, fail closed — and engine errors where the allocation is decidable.

Each symphony is evaluated once; the tables vary only the engine's rule and planner (``dataclasses.replace`` on the
signals, as ``research/point.py`` does for its drift-band sweep). Costs: the backtest defaults (no commission).

    PYTHONPATH=. .venv/bin/python benchmarks/fidelity_tables.py [--data DIR] [--strategies DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from symphony_parity import print_parity

from alchemiser.backtest.engine import EngineConfig, run_backtest
from alchemiser.backtest.result import BacktestResult
from alchemiser.backtest.runner import (
    StrategySpec,
    closes_frame,
    evaluate_strategies,
    load_strategies,
    missing_symbols,
)
from alchemiser.config import RiskSettings
from alchemiser.config.sections import default_strategies
from alchemiser.data import CsvBarSource
from alchemiser.dsl.availability import backtestable_start
from alchemiser.dsl.rebalance import RebalanceFrequency, RebalanceRule
from alchemiser.execution.params import planner_params_from

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TECL_START, TECL_END = dt.date(2022, 1, 3), dt.date(2023, 12, 29)
DRIFT_BANDS = ("0", "0.0025", "0.005", "0.01", "0.02", "0.05")
THRESHOLDS = (0.02, 0.05, 0.10, 0.20)
FREQUENCIES = (
    RebalanceFrequency.DAILY,
    RebalanceFrequency.WEEKLY,
    RebalanceFrequency.MONTHLY,
    RebalanceFrequency.QUARTERLY,
    RebalanceFrequency.YEARLY,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "bars")
    parser.add_argument("--strategies", type=Path, default=SHARED / "reference" / "strategies")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no bar folder at {args.data}", file=sys.stderr)
        return 2
    default_band = Decimal(str(RiskSettings().drift_band))
    source = CsvBarSource(args.data)
    started = time.perf_counter()
    tecl_tables(source, settings_band=default_band)
    defaults_table(source, [StrategySpec(ROOT / e.file, Decimal(str(e.weight))) for e in default_strategies()])
    print(f"\nReference symphonies over every date of the bar folder ({args.strategies})")
    errors = print_parity(source, args.strategies)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 1 if errors else 0


def _config(band: Decimal, *, start: dt.date | None = None, end: dt.date | None = None) -> EngineConfig:
    planner = dataclasses.replace(planner_params_from(RiskSettings()), drift_band=band)
    return EngineConfig(planner=planner, start=start, end=end, benchmark_symbol=None)


def _median_trade(result: BacktestResult) -> float:
    notional = [abs(float(v)) for v in result.trades["notional"]] if len(result.trades) else [0.0]
    return statistics.median(notional)


def tecl_tables(source: CsvBarSource, *, settings_band: Decimal) -> None:
    [tecl] = load_strategies([StrategySpec(ROOT / "config" / "strategies" / "tecl.clj")])
    [signals], prices, _ = evaluate_strategies([tecl], source, TECL_END)
    closes = closes_frame(prices, missing_symbols([tecl], source))
    print(f"TECL churn {TECL_START} .. {TECL_END} (tecl.clj, {tecl.symphony.rebalance_rule.describe()})")
    print(f"{'drift band':>12} {'trades':>7} {'rebalance':>10} {'turnover':>9} {'median $':>9} {'return':>8}")
    for band in DRIFT_BANDS:
        result = run_backtest([signals], closes, _config(Decimal(band), start=TECL_START, end=TECL_END))
        perf = result.performance()
        rebalance = int((result.trades["reason"] == "rebalance").sum()) if len(result.trades) else 0
        mark = " *" if Decimal(band) == settings_band else ""
        print(
            f"{band + mark:>12} {len(result.trades):>7} {rebalance:>10} {perf.turnover or 0:>9.2f} "
            f"{_median_trade(result):>9,.0f} {perf.total_return:>8.1%}"
        )
    print("  * the default risk.drift_band; turnover = traded notional / mean equity over the run")
    print(f"\nTECL as a corridor (:rebalance-threshold x, drift band {settings_band})")
    print(f"{'threshold':>12} {'trades':>7} {'rebalances':>10} {'turnover':>9} {'median $':>9} {'return':>8}")
    for threshold in THRESHOLDS:
        corridor = dataclasses.replace(
            signals, rebalance_rule=RebalanceRule(RebalanceFrequency.NONE, threshold), rebalance_threshold=None
        )
        result = run_backtest([corridor], closes, _config(settings_band, start=TECL_START, end=TECL_END))
        perf = result.performance()
        print(
            f"{threshold:>12g} {len(result.trades):>7} {result.strategies[0].rebalances:>10} "
            f"{perf.turnover or 0:>9.2f} {_median_trade(result):>9,.0f} {perf.total_return:>8.1%}"
        )
    print("  rebalances = sessions the book was brought to target (branch switch or drift past the threshold)")


def defaults_table(source: CsvBarSource, specs: Sequence[StrategySpec]) -> None:
    strategies = load_strategies(specs)
    signals, prices, _ = evaluate_strategies(strategies, source, None)
    closes = closes_frame(prices, missing_symbols(strategies, source))
    starts = {s.name: backtestable_start(s.symphony, prices) for s in strategies}
    start, setter = max((b.start, f"{name}: {b.youngest}") for name, b in starts.items() if b.start is not None)
    band = Decimal(str(RiskSettings().drift_band))
    names = ", ".join(f"{s.name} {s.spec.capital_weight}" for s in strategies)
    print(f"\nDefault strategies ({names}), every frequency forced on all three")
    print(f"from the backtestable start {start} (youngest asset {setter}); 'failed' = fail-closed sessions")
    print(
        f"{'frequency':>10} {'end':>10} {'trades/yr':>10} {'return':>9} {'CAGR':>7} {'max DD':>7} "
        f"{'turnover/yr':>11} {'failed':>7}"
    )
    for frequency in FREQUENCIES:
        forced = [
            dataclasses.replace(s, rebalance_rule=RebalanceRule(frequency), rebalance_threshold=None) for s in signals
        ]
        result = run_backtest(forced, closes, _config(band, start=start))
        perf = result.performance()
        years = max(perf.sessions / 252, 1e-9)
        failed = sum(i.failed_sessions for i in result.strategies)
        print(
            f"{frequency.value:>10} {perf.end.isoformat():>10} {len(result.trades) / years:>10.0f} "
            f"{perf.total_return:>9.1%} {perf.annualised_return or 0:>7.1%} {perf.max_drawdown.depth:>7.1%} "
            f"{(perf.turnover or 0) / years:>11.1f} {failed:>7}"
        )


if __name__ == "__main__":
    sys.exit(main())
