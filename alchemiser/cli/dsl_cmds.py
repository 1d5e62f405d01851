"""``alchemiser signals``: evaluate symphonies on historical bars (``explain`` is :mod:`alchemiser.cli.explain_cmd`).

signals --strategy PATH [--strategy PATH ...] (--asof D | --start D --end D) --data DIR --format json|table
    ``--asof D`` evaluates with bars up to and including D's close. ``json`` prints one object per line per
    (strategy, date): {"strategy": stem, "asof": D, "allocation": {...}} or {..., "error": msg}. Dates that are not
    trading days in the data are skipped. Without --strategy the configured strategies are used and their
    capital-weighted merge is printed too (strategy "merged"; an error if any strategy errors that day).

Exit status: 0 on success (per-date strategy errors are part of the output), 2 on bad input (unreadable or
invalid symphony, missing data folder, bad dates, invalid configuration).

Start-up (target < 400 ms for one symphony over a year): the configuration (pydantic) is loaded only without
``--strategy``, and rich's progress bar only for a terminal (imported inside :func:`_evaluate_all`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from alchemiser import config
from alchemiser.cli.common import date_arg, fail
from alchemiser.data import CsvBarSource, PriceMatrix
from alchemiser.dsl import DateResult, Evaluation, Symphony, evaluate, load_symphony, merge_allocations
from alchemiser.dsl.availability import backtestable_start
from alchemiser.dsl.evaluate import used_symbols
from alchemiser.errors import AlchemiserError

_PROGRESS_MIN_DATES = 250


def register(subparsers: Any) -> None:
    """Register ``signals``."""
    signals = subparsers.add_parser(
        "signals",
        help="evaluate symphonies on historical bars and print their allocations",
        description="Evaluate symphonies on a date or a date range using a folder of daily bar CSV files.",
    )
    signals.add_argument(
        "--strategy",
        action="append",
        type=Path,
        default=None,
        metavar="PATH",
        help="symphony .clj file (repeatable); default: the strategies of the configuration, merged by capital",
    )
    when = signals.add_mutually_exclusive_group(required=True)
    when.add_argument("--asof", type=date_arg, metavar="YYYY-MM-DD", help="evaluate with bars through this close")
    when.add_argument("--start", type=date_arg, metavar="YYYY-MM-DD", help="first date of a range (needs --end)")
    signals.add_argument("--end", type=date_arg, metavar="YYYY-MM-DD", help="last date of the range")
    signals.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder of <SYMBOL>.csv bar files")
    signals.add_argument("--format", choices=("json", "table"), default="table")
    signals.add_argument("--config", type=Path, default=None, help="configuration file (without --strategy)")
    signals.set_defaults(func=run_signals)


@dataclass(frozen=True)
class _Strategy:
    name: str
    symphony: Symphony
    capital: float | None


def run_signals(args: argparse.Namespace) -> int:
    try:
        return _signals(args, sys.stdout, sys.stderr)
    except AlchemiserError as exc:
        return fail(str(exc))


def _load_strategies(args: argparse.Namespace) -> list[_Strategy]:
    if args.strategy:
        return [_Strategy(p.stem, load_symphony(p), None) for p in args.strategy]
    settings = config.load_settings(args.config)  # pydantic is imported here, not when --strategy is given
    base = args.config.parent if args.config is not None else Path.cwd()
    out: list[_Strategy] = []
    for entry in settings.strategies:
        path = entry.file if entry.file.is_absolute() or entry.file.exists() else base / entry.file
        out.append(_Strategy(entry.file.stem, load_symphony(path), float(entry.weight)))
    return out


def _signals(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.start is not None and args.end is None:
        return fail("--start needs --end")
    if args.asof is not None and args.end is not None:
        return fail("--end goes with --start, not with --asof")
    start, end = (args.asof, args.asof) if args.asof is not None else (args.start, args.end)
    if start > end:
        return fail(f"--start {start} is after --end {end}")
    strategies = _load_strategies(args)
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        return fail("two strategies have the same file name; names must be unique")
    source = CsvBarSource(args.data)
    symbols = sorted({sym for s in strategies for sym in used_symbols(s.symphony)})
    absent = sorted(set(symbols) - source.available())
    if absent and len(absent) == len(symbols):
        return fail(f"the data folder {args.data} has none of the symbols the strategies need: {', '.join(absent)}")
    prices = source.prices(symbols, end=end)
    starts = {s.name: backtestable_start(s.symphony, prices, measured_only=True).start for s in strategies}
    merged = all(s.capital is not None for s in strategies)
    show_progress = err.isatty() and args.asof is None and (end - start).days > _PROGRESS_MIN_DATES
    evaluations = _evaluate_all(strategies, prices, start, end, err if show_progress else None)
    rows = list(_rows(strategies, evaluations, merged))
    if not rows:
        print(f"alchemiser: no trading days in the data between {start} and {end}", file=err)
        return 0
    counts = {"allocation": 0, "before_start": 0, "fail_closed": 0}
    if args.format == "json":
        for strategy_name, result in rows:
            row = _json_row(strategy_name, result, starts.get(strategy_name))
            counts[row["status"]] += 1
            out.write(json.dumps(row) + "\n")
        err.write(
            f"summary: {counts['allocation']} allocation(s), {counts['before_start']} before the backtestable "
            f"start, {counts['fail_closed']} fail-closed\n"
        )
    else:
        _table(rows, out)
    return 0


def _evaluate_all(
    strategies: list[_Strategy], prices: PriceMatrix, start: dt.date, end: dt.date, progress_to: TextIO | None
) -> dict[str, Evaluation]:
    """Each strategy's evaluation; with a progress bar on ``progress_to`` when given (a terminal)."""
    if progress_to is None:
        return {s.name: evaluate(s.symphony, prices, start=start, end=end) for s in strategies}
    from rich.console import Console  # only for a terminal: see the module docstring
    from rich.progress import Progress

    evaluations: dict[str, Evaluation] = {}
    with Progress(console=Console(file=progress_to), transient=True) as progress:
        task = progress.add_task("evaluating", total=len(strategies))
        for strategy in strategies:
            evaluations[strategy.name] = evaluate(strategy.symphony, prices, start=start, end=end)
            progress.advance(task)
    return evaluations


def _rows(
    strategies: list[_Strategy], evaluations: dict[str, Evaluation], merged: bool
) -> Iterator[tuple[str, DateResult]]:
    dates = sorted({r.date for e in evaluations.values() for r in e})
    for date in dates:
        results: dict[str, DateResult] = {}
        for strategy in strategies:
            ev = evaluations[strategy.name]
            if ev.has_date(date):
                results[strategy.name] = ev.result_at(date)
                yield strategy.name, results[strategy.name]
        if merged and len(strategies) > 1:
            yield "merged", _merge(strategies, results, date)


def _merge(strategies: list[_Strategy], results: dict[str, DateResult], date: dt.date) -> DateResult:
    parts: dict[str, tuple[float, dict[str, float]]] = {}
    for strategy in strategies:
        result = results.get(strategy.name)
        if result is None:
            return DateResult(date, None, f"{strategy.name}: {date} is not a trading day in its data")
        if result.allocation is None:
            return DateResult(date, None, f"{strategy.name}: {result.error}")
        parts[strategy.name] = (strategy.capital or 0.0, result.allocation)
    return DateResult(date, merge_allocations(parts), None)


def _json_row(strategy: str, result: DateResult, start: dt.date | None) -> dict[str, Any]:
    """One (strategy, date): an allocation, *before the backtestable start* (not an error), or a fail-closed reason."""
    row: dict[str, Any] = {"strategy": strategy, "asof": result.date.isoformat()}
    if result.allocation is not None:
        row["status"] = "allocation"
        row["allocation"] = result.allocation
    elif strategy != "merged" and (start is None or result.date < start):
        row["status"] = "before_start"
        row["backtestable_start"] = None if start is None else start.isoformat()
        row["error"] = result.error
    else:
        row["status"] = "fail_closed"
        row["error"] = result.error
    return row


def _table(rows: list[tuple[str, DateResult]], out: TextIO) -> None:
    width = max(len("strategy"), *(len(name) for name, _ in rows))
    out.write(f"{'date':<10}  {'strategy':<{width}}  allocation\n")
    for name, result in rows:
        if result.allocation is not None:
            text = ", ".join(
                f"{sym} {w * 100:.2f}%" for sym, w in sorted(result.allocation.items(), key=lambda kv: (-kv[1], kv[0]))
            )
        else:
            text = f"ERROR: {result.error}"
        out.write(f"{result.date.isoformat():<10}  {name:<{width}}  {text}\n")
