"""``alchemiser sweep``: a parameter sweep of symphonies on Dask, with overfitting statistics.

sweep SWEEP.toml --data DIR --out DIR [--workers N] [--scheduler tcp://HOST:8786] [--chunk-size N]
    Every point of the sweep file (the file names its symphonies; see ``config/sweeps/tecl.toml``) is a full
    backtest; finished points go to ``OUT/points/*.parquet`` as they complete and a re-run skips them. Writes
    ``OUT/report.html``, ``summary.json`` and ``top.csv`` and prints the top points. ``--workers 0`` runs in this
    process without Dask; by default an embedded LocalCluster with one worker process per core.
sweep --sites FILE.clj
    Every number a sweep can address in a symphony: node position (as ``explain --format json`` prints it),
    field, the number's own position, its value and the node's condition.

Exit status: 0 on success, 2 on bad input, 130 when interrupted (finished points are kept).
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from alchemiser.backtest import Costs, EngineConfig
from alchemiser.cli.common import add_cluster_arguments, nonneg_decimal, positive_int
from alchemiser.config import RiskSettings
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.execution.params import planner_params_from
from alchemiser.research.analysis import analyse
from alchemiser.research.report import write_report
from alchemiser.research.runner import build_context, run_sweep
from alchemiser.research.sites import list_sites
from alchemiser.research.spec import SweepSpec, load_spec
from alchemiser.research.store import ResultStore

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
SUMMARY_ROWS = 10


def register(subparsers: Any) -> None:
    """Register ``sweep``."""
    parser = subparsers.add_parser(
        "sweep",
        help="parameter sweep of symphonies (grid/random) on Dask, with overfitting statistics",
        description="Backtest every point of a sweep file; Parquet results, HTML report, deflated Sharpe and PBO.",
    )
    parser.add_argument("sweep_file", type=Path, nargs="?", metavar="SWEEP.toml", help="the sweep file")
    parser.add_argument("--sites", type=Path, metavar="FILE.clj", help="list the sweepable numbers of a symphony")
    parser.add_argument("--data", type=Path, metavar="DIR", help="folder of <SYMBOL>.csv bar files")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (Parquet points, report)")
    add_cluster_arguments(parser, "the points")
    parser.add_argument("--chunk-size", type=positive_int, default=None, help="points per task (default: auto)")
    parser.add_argument("--spread-bps", type=nonneg_decimal, default=Decimal(2), help="full spread, bps (2)")
    parser.add_argument("--slippage-bps", type=nonneg_decimal, default=Decimal(1), help="slippage, bps (1)")
    parser.add_argument("--commission", type=nonneg_decimal, default=Decimal(0), help="commission per order, $")
    parser.add_argument("--benchmark", default="SPY", help="benchmark symbol for the report, or 'none'")
    parser.add_argument("--no-report", action="store_true", help="write the points only (no HTML report)")
    parser.set_defaults(func=run_sweep_command)


class RateColumn(ProgressColumn):
    """Points per second over the run so far."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:.2f} points/s")


def run_sweep_command(args: argparse.Namespace) -> int:
    try:
        if args.sites is not None:
            return _print_sites(args.sites, sys.stdout)
        return _run(args, sys.stdout, sys.stderr)
    except ConfigError as exc:
        print("alchemiser: invalid input:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (AlchemiserError, ValueError, OSError) as exc:
        print(f"alchemiser: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _print_sites(path: Path, out: TextIO) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror or exc}"]) from exc
    out.write(f"{'at':<9}{'field':<22}{'number at':<11}{'value':<9}node\n")
    for site in list_sites(text, str(path)):
        out.write(f"{site.at:<9}{site.field:<22}{site.position:<11}{site.token:<9}{site.context}\n")
    return EXIT_OK


def engine_config(spec: SweepSpec, args: argparse.Namespace) -> EngineConfig:
    benchmark = None if str(args.benchmark).lower() == "none" else str(args.benchmark).upper()
    return EngineConfig(
        initial_capital=spec.capital,
        costs=Costs(spread_bps=args.spread_bps, slippage_bps=args.slippage_bps, commission_per_order=args.commission),
        planner=planner_params_from(RiskSettings()),
        start=spec.start,
        end=spec.end,
        benchmark_symbol=benchmark,
    )


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    problems = [f"--{name} is required" for name in ("data", "out") if getattr(args, name) is None]
    if args.sweep_file is None:
        problems.insert(0, "give a sweep file (or --sites FILE.clj)")
    if args.data is not None and not args.data.is_dir():
        problems.append(f"--data: {args.data} is not a directory")
    if problems:
        raise ConfigError(problems)
    spec = load_spec(args.sweep_file)
    context, baseline = build_context(spec, args.data, engine_config(spec, args))
    store = ResultStore(args.out)
    console = Console(file=err, stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not err.isatty(), transient=True) as progress:
        task = progress.add_task("sweep", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        outcome = run_sweep(
            spec,
            context,
            store,
            workers=args.workers,
            scheduler=args.scheduler,
            chunk_size=args.chunk_size,
            progress=advance,
            stage=lambda name: progress.update(task, description=name),
        )
    rate = outcome.computed / outcome.seconds if outcome.seconds > 0 else 0.0
    out.write(
        f"{len(outcome.points)} points: {outcome.computed} computed ({outcome.failed} failed), "
        f"{outcome.skipped} already in {args.out}; {outcome.seconds:.1f} s, {rate:.2f} points/s, "
        f"{outcome.workers or 'no'} worker(s)\n"
    )
    if outcome.interrupted:
        out.write(f"interrupted: the finished points are kept in {store.parts}; run again to continue\n")
        return EXIT_INTERRUPTED
    frame = store.load([p.key for p in outcome.points])
    analysis = analyse(frame, context, baseline, spec.objective, spec.top if not args.no_report else 0)
    _print_summary(analysis.ok, analysis.param_columns, spec.objective, out)
    if analysis.dsr is not None:
        out.write(f"deflated Sharpe ratio of the best point: {analysis.dsr.dsr:.3f} ({analysis.dsr.trials} trials)\n")
    if analysis.pbo is not None:
        out.write(f"probability of backtest overfitting (CSCV): {analysis.pbo.pbo:.2f}\n")
    if not args.no_report:
        out.write(f"report: {write_report(args.out, spec, analysis, outcome)}\n")
    return EXIT_OK


def _print_summary(ok: Any, params: list[str], objective: str, out: TextIO) -> None:
    table = Table(title=f"top points by {objective}")
    for name in ["#", *(p.removeprefix("p_") for p in params), "sharpe", "cagr", "max dd", "trades"]:
        table.add_column(name, justify="right")
    for _, row in ok.head(SUMMARY_ROWS).iterrows():
        table.add_row(
            str(int(row["point"])),
            *(f"{row[p]:g}" for p in params),
            f"{row['sharpe']:.3f}",
            f"{row['cagr'] * 100:.2f}%",
            f"{row['max_drawdown'] * 100:.2f}%",
            f"{row['trades']:.0f}",
        )
    Console(file=out, width=120, no_color=True).print(table)
