"""Benchmark: corporate actions in backtests (issue 19) over ``../shared/data/bars``.

Run: .venv/bin/python benchmarks/corporate_actions.py [--data DIR] [--funds SPY,TLT,...]

1. **Derivation**: ``derive_events`` over every bar file (parse excluded): time, splits, distributions and seams found.
2. **Backtest, events vs adjusted**: per fund, a single-asset symphony held 2015-01-02 → 2025-06-30 (buy once,
   ``:rebalance-threshold 0.5``, no costs) run with ``prices="events"`` and ``prices="adjusted"``: run time each and the
   total-return difference (events − adjusted). Events keep dividends as cash (as an account does until the next
   rebalance); adjusted prices reinvest them on the ex-date, so the gap is the reinvestment of the period's income.
3. **Daily rebalance**: the same with ``{:rebalance-frequency :daily}`` — the cash is reinvested at the next session,
   which brings the two views close.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from alchemiser.backtest import EngineConfig, StrategySpec, derive_events, run_files
from alchemiser.backtest.result import Costs
from alchemiser.data import read_bars_csv
from alchemiser.portfolio import PlannerParams

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bars"
FUNDS = "SPY,QQQ,TLT,AGG,XLU,SQQQ,TQQQ,SOXL,TMF,UVXY"


def derivation(data: Path) -> None:
    files = sorted(data.glob("*.csv"))
    bars = [read_bars_csv(p) for p in files]
    started = time.perf_counter()
    derived = [derive_events(b) for b in bars]
    elapsed = time.perf_counter() - started
    rows = sum(len(b) for b in bars)
    splits = sum(len(d.splits) for d in derived)
    dividends = sum(len(d.dividends) for d in derived)
    seams = sum(len(d.anomalies) for d in derived)
    print(
        f"derivation: {len(files)} files, {rows:,} rows in {elapsed * 1000:.1f} ms "
        f"({elapsed / rows * 1e6:.2f} us/row): {splits} splits, {dividends} distributions, {seams} seams"
    )


def compare(data: Path, funds: list[str], options: str, label: str) -> None:
    config = EngineConfig(
        costs=Costs(spread_bps=Decimal(0), slippage_bps=Decimal(0)),
        planner=PlannerParams(
            min_trade_notional=Decimal(0),
            cash_buffer_pct=Decimal(0),
            buy_price_margin_pct=Decimal(0),
            sell_price_margin_pct=Decimal(0),
        ),
        benchmark_symbol=None,
        start=dt.date(2015, 1, 2),
        end=dt.date(2025, 6, 30),
    )
    print(f"\n{label}\n| fund | events run s | adjusted run s | events return | adjusted return | difference |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for fund in funds:
            clj = Path(tmp) / f"{fund}.clj"
            clj.write_text(f'(defsymphony "{fund}" {options} (asset "{fund}" nil))')
            out: dict[str, tuple[float, float]] = {}
            for mode in ("events", "adjusted"):
                started = time.perf_counter()
                result = run_files([StrategySpec(clj)], data, replace(config, prices=mode))  # type: ignore[arg-type]
                seconds = time.perf_counter() - started
                out[mode] = (seconds, float(result.equity.iloc[-1] / result.equity.iloc[0] - 1))
            (ev_s, ev_r), (ad_s, ad_r) = out["events"], out["adjusted"]
            print(f"| {fund} | {ev_s:.2f} | {ad_s:.2f} | {ev_r:+.2%} | {ad_r:+.2%} | {ev_r - ad_r:+.2%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--funds", default=FUNDS)
    args = parser.parse_args()
    funds = [f.strip().upper() for f in args.funds.split(",") if f.strip()]
    derivation(args.data)
    compare(args.data, funds, "{:rebalance-threshold 0.5}", "buy and hold 2015-01-02 .. 2025-06-30")
    compare(args.data, funds, "{:rebalance-frequency :daily}", "daily rebalance 2015-01-02 .. 2025-06-30")


if __name__ == "__main__":
    main()
