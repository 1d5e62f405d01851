"""Many symphonies backtested one by one: one leaderboard row each (``alchemiser backtest --strategy DIR``).

Each file runs alone with all the capital through ``run_files`` (the same engine as a single backtest); a file that
fails (unreadable, invalid, no data) gets a row with its error and the others go on. Rows are ranked by Sharpe.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from alchemiser.backtest import EngineConfig, StrategySpec, run_files
from alchemiser.backtest.html_parts import REPORT_CSS, fmt_num, fmt_pct, html_table
from alchemiser.backtest.runner import FillAt
from alchemiser.errors import AlchemiserError, ConfigError

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


def _row(path: Path, data_dir: Path, config: EngineConfig, fill_at: FillAt) -> dict[str, Any]:
    row: dict[str, Any] = {"strategy": path.stem, "file": str(path), "error": ""}
    try:
        result = run_files([StrategySpec(path)], data_dir, config, fill_at=fill_at)
    except (AlchemiserError, ValueError, OSError) as exc:
        row["error"] = str(exc)
        return row
    metrics = result.performance()
    row.update(
        start=metrics.start.isoformat(),
        end=metrics.end.isoformat(),
        total_return=metrics.total_return,
        cagr=metrics.annualised_return,
        volatility=metrics.volatility,
        sharpe=metrics.sharpe,
        sortino=metrics.sortino,
        max_drawdown=metrics.max_drawdown.depth,
        calmar=metrics.calmar,
        trades=metrics.trades,
    )
    return row


def leaderboard(
    files: Sequence[Path],
    data_dir: Path,
    config: EngineConfig,
    *,
    fill_at: FillAt = "close",
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """One row per file, best Sharpe first (failed files last, in the order given)."""
    rows = []
    for n, path in enumerate(files, start=1):
        rows.append(_row(path, data_dir, config, fill_at))
        if progress is not None:
            progress(n, len(files))
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
