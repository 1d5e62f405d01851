"""``alchemiser backtest``: simulate symphonies over historical bars with the daemon's engine and write a report.

backtest [--strategy PATH[=WEIGHT] ...] [--config PATH] --data DIR [--start D] [--end D] [--capital N]
         [--spread-bps X] [--slippage-bps X] [--commission X] [--commission-per-share X]
         [--as-of-policy previous_close|live] [--fill-at close|decision] [--windows N] [--out DIR]
         [--whole-shares] [--benchmark SYM|none] [--risk backtest|config] [--cash-buffer-pct X] [--min-trade X]
         [--prices events|adjusted] [--corporate-actions CSV] [--json] [--trades-csv PATH]
backtest --compare A B [--data DIR] [cost and policy options] [--out DIR]

Without ``--strategy`` the configured strategies and capital weights are used (``config/alchemiser.toml`` or
``--config``). ``--strategy`` files without weights share the capital equally. The start moves forward to the first
session every strategy can evaluate; without ``--end`` the run stops at the last session every strategy can trade.
Writes ``report.html``, ``summary.json``, ``equity.csv``, ``weights.csv``, ``targets.csv`` and ``trades.csv`` into
``--out`` (plus ``round_trips.csv``: every trade, also to ``--trades-csv``) and prints a summary. A progress bar is
drawn on stderr when it is a terminal. ``--compare A B`` puts two saved results or two symphonies side by side
(``alchemiser.cli.backtest_compare``).

Exit status: 0 on success, 2 on bad input (arguments, configuration, symphony, data).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from alchemiser.backtest import AS_OF_POLICIES, PRICE_MODES, Costs, EngineConfig, StrategySpec, run_files
from alchemiser.backtest.engine import backtest_risk_params
from alchemiser.backtest.result import BacktestResult
from alchemiser.backtest.runner import FILL_AT
from alchemiser.cli.common import add_cluster_arguments, date_arg, nonneg_decimal, nonneg_int, positive_decimal
from alchemiser.config import RiskSettings, Settings, load_settings
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.execution.params import planner_params_from, risk_params_from
from alchemiser.portfolio import PlannerParams, RiskParams
from alchemiser.sim.corporate_events import load_events_csv

EXIT_OK = 0
EXIT_BAD_INPUT = 2
DEFAULT_WINDOWS = 5
MIN_WINDOW_SESSIONS = 20
DEFAULT_OUT = Path("backtest-report")


def register(subparsers: Any) -> None:
    """Register ``backtest``."""
    parser = subparsers.add_parser(
        "backtest",
        help="simulate symphonies over historical bars and write an HTML/JSON/CSV report",
        description="Backtest symphonies with the daemon's strategy engine, planner, risk checks and fill model.",
    )
    parser.add_argument(
        "--strategy",
        action="append",
        default=None,
        metavar="PATH[=WEIGHT]",
        help="symphony .clj file and its capital weight (repeatable), or a folder of them (a leaderboard); "
        "default: the configured strategies",
    )
    parser.add_argument(
        "--each",
        action="store_true",
        help="backtest every --strategy file on its own: one leaderboard row each (implied by a folder)",
    )
    parser.add_argument("--config", type=Path, default=None, help="configuration file (strategies, risk limits)")
    parser.add_argument("--data", type=Path, metavar="DIR", help="folder of <SYMBOL>.csv bar files (required to run)")
    parser.add_argument("--start", type=date_arg, metavar="YYYY-MM-DD", help="first session (may move forward)")
    parser.add_argument("--end", type=date_arg, metavar="YYYY-MM-DD", help="last session")
    parser.add_argument("--capital", type=positive_decimal, default=Decimal(100_000), help="starting cash (100000)")
    costs = parser.add_argument_group("costs")
    # Defaults match the simulated exchange's fill model (2 bps spread, 1 bp slippage): a backtest is never free.
    costs.add_argument(
        "--spread-bps", type=nonneg_decimal, default=Decimal(2), help="full bid/ask spread, bps (default 2)"
    )
    costs.add_argument(
        "--slippage-bps", type=nonneg_decimal, default=Decimal(1), help="slippage beyond the touch, bps (default 1)"
    )
    costs.add_argument("--commission", type=nonneg_decimal, default=Decimal(0), help="commission per order, $")
    costs.add_argument("--commission-per-share", type=nonneg_decimal, default=Decimal(0), help="$ per share")
    parser.add_argument(
        "--as-of-policy",
        choices=AS_OF_POLICIES,
        default="previous_close",
        help="previous_close: decide on D with closes through D-1 (default); live: with D's close",
    )
    parser.add_argument(
        "--fill-at",
        choices=FILL_AT,
        default="close",
        help="price decisions at the close (default) or at the simulated exchange's mid 15 min before it",
    )
    parser.add_argument(
        "--windows", type=nonneg_int, default=DEFAULT_WINDOWS, help="walk-forward windows (0 = none; default 5)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--whole-shares", action="store_true", help="trade whole shares only (default: fractional)")
    parser.add_argument("--benchmark", default="SPY", help="buy-and-hold benchmark symbol, or 'none' (default SPY)")
    parser.add_argument(
        "--risk",
        choices=("backtest", "config"),
        default="backtest",
        help="backtest: shape limits only (default); config: every configured limit incl. the drawdown halt",
    )
    parser.add_argument("--cash-buffer-pct", type=nonneg_decimal, default=None, help="cash kept uninvested (0.01)")
    parser.add_argument("--min-trade", type=nonneg_decimal, default=None, help="minimum trade notional, $")
    parser.add_argument(
        "--prices",
        choices=PRICE_MODES,
        default="events",
        help="events: fills on unadjusted prices, splits and dividends applied as events (default); "
        "adjusted: fills on adjusted prices, dividends reinvested",
    )
    parser.add_argument(
        "--corporate-actions",
        type=Path,
        default=None,
        metavar="CSV",
        help="CSV of splits and dividends (the sim's format) for data whose closes are already split-adjusted",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    parser.add_argument(
        "--trades-csv", type=Path, default=None, metavar="PATH", help="also write every round trip to PATH (CSV)"
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        default=None,
        help="put two results side by side: each a saved --out folder or a symphony file (run now)",
    )
    add_cluster_arguments(parser, "a leaderboard")
    parser.set_defaults(func=run_backtest_command)


@dataclass(frozen=True)
class _Plan:
    specs: list[StrategySpec]
    settings: Settings | None
    notes: list[str]


def parse_strategy_args(values: list[str]) -> tuple[list[StrategySpec], list[str]]:
    """``PATH`` or ``PATH=WEIGHT`` items; weights all given or all omitted (then equal). Returns specs and notes."""
    paths: list[Path] = []
    weights: list[Decimal | None] = []
    for raw in values:
        path_text, sep, weight_text = raw.rpartition("=")
        if sep and not Path(raw).is_file():
            try:
                weight = Decimal(weight_text)
            except InvalidOperation as exc:
                raise ConfigError([f"--strategy {raw}: weight {weight_text!r} is not a number"]) from exc
            if not weight.is_finite() or not 0 < weight <= 1:
                raise ConfigError([f"--strategy {raw}: weight must be in (0, 1], got {weight_text}"])
            paths.append(Path(path_text))
            weights.append(weight)
        else:
            paths.append(Path(raw))
            weights.append(None)
    given = [w for w in weights if w is not None]
    if given and len(given) != len(weights):
        raise ConfigError(["--strategy: give a weight to every strategy or to none"])
    notes: list[str] = []
    if not given:
        share = Decimal(1) / Decimal(len(paths))
        weights = [share] * len(paths)
        if len(paths) > 1:
            notes.append(f"No weights given: each of the {len(paths)} strategies manages 1/{len(paths)} of capital.")
    total = sum((w or Decimal(0) for w in weights), Decimal(0))
    if total > Decimal("1.000001"):
        raise ConfigError([f"--strategy: weights sum to {total} > 1"])
    if given and total < Decimal("0.999999"):
        notes.append(f"Strategy weights sum to {total}: the remaining {1 - total} of capital stays in cash.")
    specs = [StrategySpec(path=p, capital_weight=w or Decimal(0)) for p, w in zip(paths, weights, strict=True)]
    return specs, notes


def _strategies(args: argparse.Namespace) -> _Plan:
    settings: Settings | None = None
    if args.config is not None or not args.strategy or args.risk == "config":
        settings = load_settings(args.config)
    if args.strategy:
        specs, notes = parse_strategy_args(list(args.strategy))
        return _Plan(specs, settings, notes)
    if settings is None:  # loaded above whenever --strategy is absent
        raise ConfigError(["no --strategy given and no configuration loaded"])
    base = args.config.parent if args.config is not None else Path.cwd()
    specs = []
    for entry in settings.strategies:
        path = entry.file if entry.file.is_absolute() or entry.file.exists() else base / entry.file
        specs.append(StrategySpec(path=path, capital_weight=Decimal(repr(entry.weight))))
    return _Plan(specs, settings, [])


def engine_config(args: argparse.Namespace, settings: Settings | None) -> EngineConfig:
    """The run's settings from the command line (and the configuration for planner/risk defaults)."""
    # the configured risk section, or the daemon's defaults when no configuration was loaded
    risk_settings = settings.risk if settings is not None else RiskSettings()
    planner = planner_params_from(risk_settings)
    if args.cash_buffer_pct is not None or args.min_trade is not None:
        planner = PlannerParams(
            min_trade_notional=planner.min_trade_notional if args.min_trade is None else args.min_trade,
            cash_buffer_pct=planner.cash_buffer_pct if args.cash_buffer_pct is None else args.cash_buffer_pct,
            buy_price_margin_pct=planner.buy_price_margin_pct,
            sell_price_margin_pct=planner.sell_price_margin_pct,
            drift_band=planner.drift_band,
        )
    risk: RiskParams = backtest_risk_params()
    if args.risk == "config":
        risk = risk_params_from(risk_settings)
    benchmark = None if str(args.benchmark).lower() == "none" else str(args.benchmark).upper()
    return EngineConfig(
        initial_capital=args.capital,
        as_of_policy=args.as_of_policy,
        costs=Costs(
            spread_bps=args.spread_bps,
            slippage_bps=args.slippage_bps,
            commission_per_order=args.commission,
            commission_per_share=args.commission_per_share,
        ),
        planner=planner,
        risk=risk,
        whole_shares=bool(args.whole_shares),
        start=args.start,
        end=args.end,
        benchmark_symbol=benchmark,
        prices=args.prices,
        corporate_events=() if args.corporate_actions is None else load_events_csv(args.corporate_actions),
        corporate_events_source="" if args.corporate_actions is None else str(args.corporate_actions),
    )


def run_backtest_command(args: argparse.Namespace) -> int:
    try:
        return _run(args, sys.stdout, sys.stderr)
    except ConfigError as exc:
        print("alchemiser: invalid input:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (AlchemiserError, ValueError) as exc:
        print(f"alchemiser: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.start is not None and args.end is not None and args.end < args.start:
        raise ConfigError([f"--end {args.end} is before --start {args.start}"])
    if args.data is None and (args.compare is None or _compare_needs_data(args.compare)):
        raise ConfigError(["--data DIR is required: a folder of <SYMBOL>.csv bar files"])
    if args.data is not None and not args.data.is_dir():
        raise ConfigError([f"--data: {args.data} is not a directory"])
    if args.compare is not None:
        return _run_compare(args, out, err)
    if args.strategy and (args.each or any(Path(item).is_dir() for item in args.strategy)):
        return _run_leaderboard(args, out, err)
    plan = _strategies(args)
    result = _simulate(plan.specs, args, engine_config(args, plan.settings), err)
    result.notes[1:1] = plan.notes
    windows = _window_count(args.windows, len(result.equity))
    if args.windows and windows != args.windows:
        result.notes.append(
            f"Walk-forward: {windows or 'no'} window(s) instead of {args.windows}: a window needs at least "
            f"{MIN_WINDOW_SESSIONS} sessions and the run has {len(result.equity)}."
        )
    # deferred on purpose: the report pulls in matplotlib, and every `alchemiser` command (the daemon included)
    # imports this module to register its parser
    from alchemiser.backtest.report import write_report

    files = write_report(result, args.out, windows=windows, trades_csv=args.trades_csv)
    if args.json:
        summary = json.loads(files.summary.read_text(encoding="utf-8"))
        summary["files"] = {name: str(path) for name, path in vars(files).items()}
        out.write(json.dumps(summary, indent=2) + "\n")
    else:
        _print_summary(result, out)
        out.write(f"report: {files.html}\n")
    return EXIT_OK


def _compare_needs_data(items: list[str]) -> bool:
    return any(not Path(item).is_dir() for item in items)


def _run_compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # deferred like the report (matplotlib)
    from alchemiser.cli.backtest_compare import run_compare

    settings = load_settings(args.config) if args.config is not None or args.risk == "config" else None
    config = engine_config(args, settings)
    return run_compare(args, out, lambda specs: _simulate(specs, args, config, err))


def _simulate(specs: list[StrategySpec], args: argparse.Namespace, config: EngineConfig, err: TextIO) -> BacktestResult:
    """One backtest with a progress bar on stderr when it is a terminal."""
    console = Console(file=err, stderr=True)
    with Progress(
        TextColumn("backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sessions"),
        TimeElapsedColumn(),
        console=console,
        disable=not err.isatty(),
        transient=True,
    ) as progress:
        task = progress.add_task("backtest", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run_files(specs, args.data, config, fill_at=args.fill_at, progress=advance)


def _run_leaderboard(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Every file (folders expanded) backtested alone; leaderboard.csv/html in --out and a table on stdout."""
    # deferred on purpose: the leaderboard runs on Dask, whose import a single backtest should not pay for
    from alchemiser.research.leaderboard import leaderboard, symphony_files, write_leaderboard

    weighted = [item for item in args.strategy if "=" in item and not Path(item).exists()]
    if weighted:
        raise ConfigError([f"--strategy {weighted[0]}: a leaderboard runs each symphony alone (no weights)"])
    files = symphony_files([Path(item) for item in args.strategy])
    settings = load_settings(args.config) if args.config is not None or args.risk == "config" else None
    config = engine_config(args, settings)
    console = Console(file=err, stderr=True)
    with Progress(
        TextColumn("leaderboard"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not err.isatty(),
        transient=True,
    ) as progress:
        task = progress.add_task("leaderboard", total=len(files))
        frame = leaderboard(
            files,
            args.data,
            config,
            fill_at=args.fill_at,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=lambda done, _total: progress.update(task, completed=done),
        )
    csv_path, html_path = write_leaderboard(frame, args.out)
    if args.json:
        out.write(frame.to_json(orient="records", indent=2) + "\n")
    else:
        out.write(f"{'#':>3} {'strategy':<28}{'sharpe':>8}{'cagr':>10}{'max dd':>10}  error\n")
        for _, row in frame.iterrows():
            out.write(
                f"{row['rank']:>3} {row['strategy']:<28}{_fmt_num(_or_none(row['sharpe'])):>8}"
                f"{_fmt_pct(_or_none(row['cagr'])):>10}{_fmt_pct(_or_none(row['max_drawdown'])):>10}  {row['error']}\n"
            )
        out.write(f"leaderboard: {html_path} ({csv_path.name})\n")
    return EXIT_OK


def _or_none(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _window_count(requested: int, sessions: int) -> int:
    """The requested number of windows, reduced so that each holds at least ``MIN_WINDOW_SESSIONS`` sessions."""
    return max(0, min(requested, sessions // MIN_WINDOW_SESSIONS))


def _fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def _fmt_num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _print_summary(result: BacktestResult, out: TextIO) -> None:
    metrics = result.performance()
    bench = result.benchmark_performance()
    for note in result.notes:
        if note.startswith("WARNING"):
            out.write(f"\x1b[31m{note}\x1b[0m\n" if out.isatty() else f"{note}\n")
    names = ", ".join(f"{s.name} ({float(s.capital_weight):.0%})" for s in result.strategies)
    out.write(f"strategies: {names}\n")
    out.write(f"period: {result.start} → {result.end} ({metrics.sessions} sessions), policy {result.as_of_policy}\n")
    rows = [
        ("total return", _fmt_pct(metrics.total_return), _fmt_pct(bench.total_return) if bench else ""),
        ("annualised", _fmt_pct(metrics.annualised_return), _fmt_pct(bench.annualised_return) if bench else ""),
        ("volatility", _fmt_pct(metrics.volatility), _fmt_pct(bench.volatility) if bench else ""),
        ("sharpe", _fmt_num(metrics.sharpe), _fmt_num(bench.sharpe) if bench else ""),
        ("sortino", _fmt_num(metrics.sortino), _fmt_num(bench.sortino) if bench else ""),
        ("max drawdown", _fmt_pct(metrics.max_drawdown.depth), _fmt_pct(bench.max_drawdown.depth) if bench else ""),
        ("calmar", _fmt_num(metrics.calmar), _fmt_num(bench.calmar) if bench else ""),
        ("trades", str(metrics.trades), ""),
        ("commissions", _fmt_num(metrics.commissions), ""),
        ("spread+slip", _fmt_num(metrics.execution_cost), ""),
        ("exposure", _fmt_pct(metrics.exposure), ""),
    ]
    header = result.benchmark_symbol or ""
    out.write(f"{'':<14}{'strategy':>12}{header:>12}\n")
    for label, value, bench_value in rows:
        out.write(f"{label:<14}{value:>12}{bench_value:>12}\n")
    for note in result.notes:
        out.write(f"note: {note}\n")
