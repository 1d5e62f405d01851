"""Two backtests side by side: ``alchemiser backtest --compare A B``.

Each side is a saved result (a folder ``alchemiser backtest --out`` wrote: ``summary.json`` and ``equity.csv``) or
a fresh ``BacktestResult``. ``write_compare`` writes ``compare.html`` (both equity curves on one chart, a metrics
table with B − A) and ``compare.json`` (the same figures, unformatted); ``compare_text`` is the table for a terminal.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alchemiser.backtest import charts
from alchemiser.backtest.html_parts import REPORT_CSS, fmt_num, fmt_pct, html_table
from alchemiser.backtest.report import summary_dict
from alchemiser.backtest.result import BacktestResult
from alchemiser.backtest.trade_stats import ALL_BOOKS
from alchemiser.errors import DataError

COMPARE_HTML = "compare.html"
COMPARE_JSON = "compare.json"


@dataclass(frozen=True)
class ComparedRun:
    """One side: a label, where it came from, its daily equity and its summary (``summary.json``'s shape)."""

    label: str
    source: str
    equity: pd.Series
    summary: dict[str, Any]

    def metric(self, key: str) -> Any:
        value: Any = self.summary.get("metrics") or {}
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def trade_stat(self, key: str) -> Any:
        for stats in self.summary.get("trade_stats") or []:
            if stats.get("book") == ALL_BOOKS:
                return stats.get(key)
        return None


def load_saved(folder: Path, label: str | None = None) -> ComparedRun:
    """A result saved by ``alchemiser backtest --out``; ``DataError`` naming the folder when it is not one."""
    summary_path, equity_path = folder / "summary.json", folder / "equity.csv"
    if not folder.is_dir() or not summary_path.is_file() or not equity_path.is_file():
        raise DataError(
            f"{folder} is not a saved backtest (it needs summary.json and equity.csv, as `alchemiser backtest "
            "--out DIR` writes them); give such a folder or a .clj symphony"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        daily = pd.read_csv(equity_path, index_col="date", parse_dates=["date"])
    except (ValueError, KeyError) as exc:
        raise DataError(f"{folder}: cannot read the saved backtest: {exc}") from exc
    if not isinstance(summary, dict) or "equity" not in daily.columns or daily.empty:
        raise DataError(f"{folder}: summary.json or equity.csv is not a backtest's (no metrics or no equity column)")
    return ComparedRun(label or _label(summary, folder.name), str(folder), daily["equity"].astype(float), summary)


def from_result(result: BacktestResult, source: str, label: str | None = None) -> ComparedRun:
    """A fresh run (metrics at a zero risk-free rate, as the saved ``summary.json``)."""
    summary = summary_dict(result, result.performance(), result.benchmark_performance(), [])
    return ComparedRun(label or _label(summary, source), source, result.equity, summary)


def _label(summary: dict[str, Any], fallback: str) -> str:
    names = [str(s.get("name")) for s in (summary.get("settings") or {}).get("strategies") or []]
    return ", ".join(names) if names else fallback


def _pct(value: Any) -> str:
    return fmt_pct(_number(value))


def _num(value: Any) -> str:
    return fmt_num(_number(value))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


# (label, how to read it, how to show it, how to show B − A)
_Row = tuple[str, Callable[[ComparedRun], Any], Callable[[Any], str], Callable[[Any], str]]
ROWS: list[_Row] = [
    ("Start", lambda r: r.metric("start"), str, lambda _d: ""),
    ("End", lambda r: r.metric("end"), str, lambda _d: ""),
    ("Sessions", lambda r: r.metric("sessions"), str, lambda d: f"{d:+.0f}"),
    ("Start equity", lambda r: r.metric("start_equity"), _num, lambda d: f"{d:+,.2f}"),
    ("End equity", lambda r: r.metric("end_equity"), _num, lambda d: f"{d:+,.2f}"),
    ("Total return", lambda r: r.metric("total_return"), _pct, lambda d: f"{d * 100:+.2f} pp"),
    ("Annualised return", lambda r: r.metric("annualised_return"), _pct, lambda d: f"{d * 100:+.2f} pp"),
    ("Volatility (ann.)", lambda r: r.metric("volatility"), _pct, lambda d: f"{d * 100:+.2f} pp"),
    ("Sharpe", lambda r: r.metric("sharpe"), _num, lambda d: f"{d:+.2f}"),
    ("Sortino", lambda r: r.metric("sortino"), _num, lambda d: f"{d:+.2f}"),
    ("Max drawdown", lambda r: r.metric("max_drawdown.depth"), _pct, lambda d: f"{d * 100:+.2f} pp"),
    ("Calmar", lambda r: r.metric("calmar"), _num, lambda d: f"{d:+.2f}"),
    ("Turnover (per year)", lambda r: r.metric("turnover"), _pct, lambda d: f"{d * 100:+.0f} pp"),
    ("Exposure", lambda r: r.metric("exposure"), _pct, lambda d: f"{d * 100:+.2f} pp"),
    ("Fills", lambda r: r.metric("trades"), str, lambda d: f"{d:+.0f}"),
    ("Commissions", lambda r: r.metric("commissions"), _num, lambda d: f"{d:+,.2f}"),
    ("Closed trades", lambda r: r.trade_stat("closed"), str, lambda d: f"{d:+.0f}"),
    ("Win rate", lambda r: r.trade_stat("win_rate"), _pct, lambda d: f"{d * 100:+.2f} pp"),
    ("Profit factor", lambda r: r.trade_stat("profit_factor"), _num, lambda d: f"{d:+.2f}"),
    ("Average holding (days)", lambda r: r.trade_stat("average_holding_days"), _num, lambda d: f"{d:+.1f}"),
    ("Time invested", lambda r: r.trade_stat("time_invested"), _pct, lambda d: f"{d * 100:+.2f} pp"),
]


def compare_rows(a: ComparedRun, b: ComparedRun) -> list[tuple[str, str, str, str]]:
    """(metric, A, B, B − A) as display strings; ``–`` where a side lacks the figure (e.g. an older summary)."""
    out = []
    for label, read, show, show_delta in ROWS:
        va, vb = read(a), read(b)
        na, nb = _number(va), _number(vb)
        delta = show_delta(nb - na) if na is not None and nb is not None else ""
        out.append((label, "–" if va is None else show(va), "–" if vb is None else show(vb), delta))
    return out


def differences(a: ComparedRun, b: ComparedRun) -> list[str]:
    """What makes the two not like for like: period, starting capital, costs, as-of policy."""
    sa, sb = a.summary.get("settings") or {}, b.summary.get("settings") or {}
    out = []
    if (sa.get("start"), sa.get("end")) != (sb.get("start"), sb.get("end")):
        out.append(
            f"The periods differ (A {sa.get('start')} → {sa.get('end')}, B {sb.get('start')} → {sb.get('end')}): "
            "returns and ratios are over different markets."
        )
    for key, what in (("initial_capital", "starting capital"), ("costs", "costs"), ("as_of_policy", "as-of policy")):
        if sa.get(key) != sb.get(key):
            out.append(f"The {what} differ: A {_setting(sa.get(key))}; B {_setting(sb.get(key))}.")
    return out


def _setting(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {item}" for key, item in value.items())
    return str(value)


def compare_text(a: ComparedRun, b: ComparedRun) -> str:
    lines = [f"A: {a.label} ({a.source})", f"B: {b.label} ({b.source})"]
    lines += [f"note: {note}" for note in differences(a, b)]
    lines.append(f"{'':<24}{'A':>16}{'B':>16}{'B − A':>16}")
    lines += [f"{label:<24}{va:>16}{vb:>16}{d:>16}" for label, va, vb, d in compare_rows(a, b)]
    return "\n".join(lines) + "\n"


def render_compare(a: ComparedRun, b: ComparedRun) -> str:
    title = f"Backtest comparison: {a.label} vs {b.label}"
    curves = {f"A: {a.label}": a.equity, f"B: {b.label}": b.equity}
    sources = html_table(
        ["", "Strategies", "Source"],
        [[side, html.escape(run.label), html.escape(run.source)] for side, run in (("A", a), ("B", b))],
    )
    rows = [[html.escape(cell) for cell in row] for row in compare_rows(a, b)]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title><style>{REPORT_CSS}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            sources,
            *(f'<p class="warning">{html.escape(note)}</p>' for note in differences(a, b)),
            "<h2>Equity</h2>",
            f"<figure>{charts.lines_chart(curves, 'Equity', 'compare-equity')}</figure>",
            "<h2>Metrics</h2>",
            html_table(["Metric", "A", "B", "B − A"], rows),
            "</body></html>",
        ]
    )


def write_compare(a: ComparedRun, b: ComparedRun, out_dir: Path) -> Path:
    """``compare.html`` and ``compare.json`` in ``out_dir``; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / COMPARE_HTML
    page.write_text(render_compare(a, b), encoding="utf-8")
    table = [{"metric": label, "a": read(a), "b": read(b)} for label, read, _show, _delta in ROWS]
    sides = {side: {"label": run.label, "source": run.source} for side, run in (("a", a), ("b", b))}
    document = {**sides, "notes": differences(a, b), "metrics": table}
    (out_dir / COMPARE_JSON).write_text(json.dumps(document, indent=2), encoding="utf-8")
    return page
