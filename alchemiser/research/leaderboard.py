"""Many symphonies backtested each alone, on Dask: one leaderboard row each (``alchemiser backtest --strategy DIR``).

Each file runs alone with all the capital through ``run_strategies`` (the same engine as a single backtest). The
files are parsed here and the bars of every symbol they use are read here once (``LoadedBarSource``) and scattered
to every worker once (``broadcast=True``); each symphony is then one task (a backtest takes about a second: dispatch
is noise). The cluster is ``runner.dask_client``'s, as for ``alchemiser sweep``: an embedded LocalCluster (one
single-threaded worker process per core, no more than there are symphonies) or ``scheduler="tcp://HOST:8786"``;
``workers=0`` runs every backtest in this process. With ``fill_at="decision"`` the workers also read the bar folder
(the simulated exchange replays its CSV files): an external cluster then needs the folder at the same path.

A file that fails (unreadable, invalid, no data) gets a row with its error and the others go on. Rows are ranked by
Sharpe; the table does not depend on the number of workers.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from alchemiser.backtest import EngineConfig, StrategySpec
from alchemiser.backtest.html_parts import REPORT_CSS, fmt_num, fmt_pct, html_table
from alchemiser.backtest.runner import FillAt, LoadedStrategy, load_strategies, run_strategies
from alchemiser.data import BarSource, CsvBarSource, LoadedBarSource
from alchemiser.dsl import used_symbols
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.research.runner import dask_client, run_on_workers

ProgressCallback = Callable[[int, int], None]
ROW_ERRORS = (AlchemiserError, ValueError, OSError)  # a file's own failure: its row says why, the others go on
COLUMNS: tuple[str, ...] = (
    "rank",
    "strategy",
    "file",
    "start",
    "end",
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "trades",
    "error",
)


def symphony_files(items: Sequence[Path]) -> list[Path]:
    """Folders expanded to their ``*.clj`` files (sorted); files kept in the order given."""
    out: list[Path] = []
    for item in items:
        if item.is_dir():
            found = sorted(item.glob("*.clj"))
            if not found:
                raise ConfigError([f"--strategy {item}: the folder holds no .clj file"])
            out.extend(found)
        else:
            out.append(item)
    return out


def _error_row(path: Path, error: str) -> dict[str, Any]:
    return {"strategy": path.stem, "file": str(path), "error": error}


def leaderboard_row(
    source: BarSource, strategy: LoadedStrategy, config: EngineConfig, fill_at: FillAt, quotes_dir: Path | None
) -> dict[str, Any]:
    """One symphony's backtest as a leaderboard row (the Dask task)."""
    path = strategy.spec.path
    try:
        result = run_strategies([strategy], source, config, fill_at=fill_at, quotes_dir=quotes_dir)
    except ROW_ERRORS as exc:
        return _error_row(path, str(exc))
    metrics = result.performance()
    return {
        **_error_row(path, ""),
        "start": metrics.start.isoformat(),
        "end": metrics.end.isoformat(),
        "total_return": metrics.total_return,
        "cagr": metrics.annualised_return,
        "volatility": metrics.volatility,
        "sharpe": metrics.sharpe,
        "sortino": metrics.sortino,
        "max_drawdown": metrics.max_drawdown.depth,
        "calmar": metrics.calmar,
        "trades": metrics.trades,
    }


def _load(files: Sequence[Path]) -> tuple[dict[int, LoadedStrategy], dict[int, dict[str, Any]]]:
    """Each file parsed (by its position), or its error row."""
    loaded: dict[int, LoadedStrategy] = {}
    failed: dict[int, dict[str, Any]] = {}
    for n, path in enumerate(files):
        try:
            loaded[n] = load_strategies([StrategySpec(path)])[0]
        except ROW_ERRORS as exc:
            failed[n] = _error_row(path, str(exc))
    return loaded, failed


def leaderboard(
    files: Sequence[Path],
    data_dir: Path,
    config: EngineConfig,
    *,
    fill_at: FillAt = "close",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """One row per file, best Sharpe first (failed files last, in the order given)."""
    loaded, rows = _load(files)
    needed = [sym for s in loaded.values() for sym in used_symbols(s.symphony)]
    extra = [config.benchmark_symbol] if config.benchmark_symbol else []
    source = LoadedBarSource.read(CsvBarSource(data_dir), [*needed, *extra])
    quotes_dir = data_dir if fill_at == "decision" else None

    def record(n: int, row: dict[str, Any]) -> None:
        rows[n] = row
        if progress is not None:
            progress(len(rows), len(files))

    if progress is not None:
        progress(len(rows), len(files))
    count = min(os.cpu_count() or 1, len(loaded)) if workers is None else workers
    if loaded and count == 0 and scheduler is None:
        for n, strategy in loaded.items():
            record(n, leaderboard_row(source, strategy, config, fill_at, quotes_dir))
    elif loaded:
        with dask_client(count, scheduler) as client:
            order = list(loaded)
            run_on_workers(
                client,
                leaderboard_row,
                source,
                [loaded[n] for n in order],
                lambda k, row: record(order[k], row),
                config,
                fill_at,
                quotes_dir,
            )
    return rank([rows[n] for n in range(len(files))])


def rank(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as the leaderboard table: best Sharpe first, failed rows last in their order."""
    frame = pd.DataFrame(rows).reindex(columns=[c for c in COLUMNS if c != "rank"])
    frame["ok"] = frame["error"] == ""
    frame = frame.sort_values(["ok", "sharpe"], ascending=[False, False], na_position="last", kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.drop(columns="ok").reset_index(drop=True)


def _cell(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if column in ("total_return", "cagr", "volatility", "max_drawdown"):
        return fmt_pct(float(value))
    if column in ("sharpe", "sortino", "calmar"):
        return fmt_num(float(value))
    if column in ("trades", "rank"):
        return str(int(value))
    return html.escape(str(value))


def write_leaderboard(frame: pd.DataFrame, out: Path) -> tuple[Path, Path]:
    """``leaderboard.csv`` and a self-contained ``leaderboard.html`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out / "leaderboard.csv", out / "leaderboard.html"
    frame.to_csv(csv_path, index=False)
    rows = [[_cell(row[c], c) for c in COLUMNS] for _, row in frame.iterrows()]
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Leaderboard</title>'
        f"<style>{REPORT_CSS}</style></head><body><h1>Leaderboard: {len(frame)} symphonies</h1>"
        f"{html_table(list(COLUMNS), rows)}</body></html>"
    )
    html_path.write_text(page, encoding="utf-8")
    return csv_path, html_path
