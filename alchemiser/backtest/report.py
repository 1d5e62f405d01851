"""Backtest outputs: one self-contained HTML report plus machine-readable JSON and CSV files.

``write_report(result, out_dir, windows=N)`` writes:

- ``report.html`` — opens offline (inline CSS, charts as inline SVG, one small inline script that pages the long
  tables, no external links): settings and notes (the start date moved, failed evaluations, blocked plans), metrics
  vs benchmark, per-strategy contribution, walk-forward windows, equity vs benchmark, drawdown, monthly returns
  heat map, allocation over time, transaction costs (the same TCA tables as the dashboard's Parity page),
  then the trade-level sections (``trade_report``): trade statistics per strategy,
  per-strategy equity, every round trip and every fill.
- ``summary.json`` — settings, notes, metrics, benchmark metrics, walk-forward windows.
- ``equity.csv`` (date, equity, cash, benchmark), ``weights.csv`` (holdings as fractions of equity),
  ``targets.csv`` (the merged target weights decided for each session), ``trades.csv`` (every fill, exact
  decimals), ``round_trips.csv`` (every trade; also to ``trades_csv`` when given).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alchemiser.backtest import charts
from alchemiser.backtest.html_parts import REPORT_CSS, fmt_num, fmt_pct, html_table
from alchemiser.backtest.metrics import Metrics, monthly_returns
from alchemiser.backtest.paging import PAGER_SCRIPT
from alchemiser.backtest.result import BacktestResult
from alchemiser.backtest.trade_report import ROUND_TRIPS_CSV, round_trips_csv, trade_sections
from alchemiser.backtest.walkforward import Window
from alchemiser.portfolio.tca import rows_from_trades, summarise, worst_orders


@dataclass(frozen=True)
class ReportFiles:
    """Paths of everything ``write_report`` wrote."""

    html: Path
    summary: Path
    equity: Path
    weights: Path
    targets: Path
    trades: Path
    round_trips: Path


def _date(value: Any) -> str:
    return "–" if value is None else html.escape(str(value))


def _metric_rows(strategy: Metrics, benchmark: Metrics | None) -> list[tuple[str, str, str]]:
    def both(fn: Any) -> tuple[str, str]:
        return fn(strategy), ("" if benchmark is None else fn(benchmark))

    rows: list[tuple[str, Any]] = [
        ("Start equity", lambda m: fmt_num(m.start_equity)),
        ("End equity", lambda m: fmt_num(m.end_equity)),
        ("Total return", lambda m: fmt_pct(m.total_return)),
        ("Annualised return", lambda m: fmt_pct(m.annualised_return)),
        ("Volatility (ann.)", lambda m: fmt_pct(m.volatility)),
        ("Sharpe", lambda m: fmt_num(m.sharpe)),
        ("Sortino", lambda m: fmt_num(m.sortino)),
        ("Max drawdown", lambda m: fmt_pct(m.max_drawdown.depth)),
        ("Drawdown peak", lambda m: _date(m.max_drawdown.peak or ("start" if m.max_drawdown.depth else None))),
        ("Drawdown trough", lambda m: _date(m.max_drawdown.trough)),
        ("Recovered on", lambda m: _date(m.max_drawdown.recovery) if m.max_drawdown.depth else "–"),
        ("Calmar", lambda m: fmt_num(m.calmar)),
        ("Turnover (one-way, per year)", lambda m: "–" if m.turnover is None else f"{m.turnover * 100:.0f}%"),
        ("Trades", lambda m: "–" if m.trades is None else str(m.trades)),
        ("Commissions", lambda m: fmt_num(m.commissions)),
        ("Spread + slippage cost", lambda m: fmt_num(m.execution_cost)),
        ("Exposure", lambda m: fmt_pct(m.exposure, 1)),
        ("Sessions", lambda m: str(m.sessions)),
    ]
    return [(label, *both(fn)) for label, fn in rows]


def _signed_pct(value: float | None) -> str:
    if value is None:
        return "–"
    css = "neg" if value < 0 else "pos"
    return f'<span class="{css}">{value * 100:.2f}%</span>'


def windows_table(windows: list[Window]) -> str:
    rows = [
        [
            str(w.number),
            w.start.isoformat(),
            w.end.isoformat(),
            _signed_pct(w.metrics.total_return),
            fmt_pct(w.metrics.annualised_return),
            fmt_pct(w.metrics.volatility),
            fmt_num(w.metrics.sharpe),
            fmt_pct(w.metrics.max_drawdown.depth),
            "–" if w.benchmark is None else _signed_pct(w.benchmark.total_return),
        ]
        for w in windows
    ]
    headers = ["#", "Start", "End", "Return", "Ann. return", "Volatility", "Sharpe", "Max DD", "Benchmark return"]
    return html_table(headers, rows)


def _tca_section(trades: pd.DataFrame) -> str:
    """The same TCA tables as the dashboard's Parity page, for the simulated fills (cost vs the decision price)."""
    if trades.empty:
        return '<p class="muted">No trades.</p>'
    rows = rows_from_trades({str(k): v for k, v in r.items()} for r in trades.to_dict("records"))
    headers = ["Symbol", "Orders", "Notional", "Cost vs decision", "bps", "Fees"]

    def summary(by: str) -> str:
        body = [
            [
                html.escape(t.key),
                str(t.orders),
                f"{t.notional:,.2f}",
                f"{t.cost_vs_decision:,.2f}",
                str(t.bps_vs_decision),
                f"{t.fees:,.2f}",
            ]
            for t in summarise(rows, by)
        ]
        return html_table([by.capitalize(), *headers[1:]], body)

    worst = [
        [
            html.escape(r.session.isoformat()),
            html.escape(f"{r.side} {r.symbol}"),
            html.escape(str(r.filled_qty)),
            html.escape(str(r.decision_price)),
            html.escape(str(r.avg_fill_price)),
            f"{r.cost_vs_decision:,.2f}",
            str(r.bps_vs_decision),
            f"{r.fees:,.2f}",
        ]
        for r in worst_orders(rows, 10)
    ]
    return "".join(
        [
            '<p class="muted">Simulated fills against the decision (reference) price: the fill model\'s spread,'
            " slippage and commission (fees: the fill model's commission). The live Parity page shows the same columns"
            " for the account's fills.</p>",
            "<h3>By symbol</h3>",
            summary("symbol"),
            "<h3>Worst orders</h3>",
            html_table(["Date", "Order", "Qty", "Decision price", "Fill", "Cost vs decision", "bps", "Fees"], worst),
        ]
    )


def render_html(
    result: BacktestResult,
    metrics: Metrics,
    benchmark: Metrics | None,
    windows: list[Window],
    title: str | None = None,
) -> str:
    """The report as one HTML document (no scripts, no external resources)."""
    names = ", ".join(s.name for s in result.strategies)
    heading = title or f"Backtest: {names}"
    settings_rows = [
        [
            "Period",
            f"{result.start.isoformat()} → {result.end.isoformat()} ({len(result.equity)} sessions)"
            + (
                f" — start moved forward from {result.requested_start.isoformat()} (see notes)"
                if result.start_moved and result.requested_start is not None
                else ""
            ),
        ],
        [
            "Requested",
            "the whole history"
            if result.requested_start is None and result.requested_end is None
            else f"{_date(result.requested_start)} → {_date(result.requested_end)}",
        ],
        ["Initial capital", html.escape(f"{result.initial_capital:,}")],
        ["As-of policy", html.escape(result.as_of_policy)],
        [
            "Costs",
            html.escape(
                f"spread {result.costs.spread_bps} bps (half on each side), slippage {result.costs.slippage_bps} bps, "
                f"commission {result.costs.commission_per_order}/order + {result.costs.commission_per_share}/share"
            ),
        ],
        ["Benchmark", html.escape(result.benchmark_symbol or "none (not in the data)")],
    ]
    strategy_rows = [
        [
            html.escape(s.name),
            html.escape(s.source),
            f"{float(s.capital_weight) * 100:.1f}%",
            "–" if s.rebalance_threshold is None else html.escape(str(s.rebalance_threshold)),
            _date(s.first_valid),
            str(s.failed_sessions),
            _signed_pct(metrics.contributions.get(s.name)),
            fmt_pct(metrics.contribution_shares.get(s.name), 1),
        ]
        for s in result.strategies
    ]
    metric_rows = [list(row) for row in _metric_rows(metrics, benchmark)]
    metric_headers = ["Metric", "Strategy", result.benchmark_symbol or "Benchmark"]
    if benchmark is None:
        metric_rows = [row[:2] for row in metric_rows]
        metric_headers = metric_headers[:2]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes) or "<li>none</li>"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(heading)}</title><style>{REPORT_CSS}</style></head><body>",
        f"<h1>{html.escape(heading)}</h1>",
        *(
            f'<p class="warning" style="color:#c00;font-weight:bold">{html.escape(n)}</p>'
            for n in result.notes
            if n.startswith("WARNING")
        ),
        f'<p class="muted">alchemiser backtest, {result.elapsed_seconds:.2f} s of simulation</p>',
        "<h2>Settings</h2>",
        html_table(["Setting", "Value"], settings_rows),
        '<h2>Notes</h2><ul class="notes">',
        notes,
        "</ul>",
        "<h2>Strategies</h2>",
        html_table(
            [
                "Strategy",
                "File",
                "Capital",
                "Drift band",
                "First valid",
                "Failed sessions",
                "Contribution (sum of daily)",
                "Share of growth",
            ],
            strategy_rows,
        ),
        "<h2>Metrics</h2>",
        html_table(metric_headers, metric_rows),
        "<h2>Equity</h2>",
        f"<figure>{charts.equity_chart(result.equity, result.benchmark, result.benchmark_symbol)}</figure>",
        "<h2>Drawdown</h2>",
        f"<figure>{charts.drawdown_chart(result.equity, float(result.initial_capital), result.benchmark)}</figure>",
        "<h2>Monthly returns</h2>",
        f"<figure>{charts.monthly_heatmap(monthly_returns(result.equity, float(result.initial_capital)))}</figure>",
        "<h2>Allocation</h2>",
        f"<figure>{charts.allocation_chart(result.weights)}</figure>",
    ]
    if windows:
        parts += ["<h2>Walk-forward windows</h2>", windows_table(windows)]
    parts += ["<h2>Transaction costs</h2>", _tca_section(result.trades)]
    parts += [*trade_sections(result), PAGER_SCRIPT, "</body></html>"]
    return "\n".join(parts)


def summary_dict(
    result: BacktestResult, metrics: Metrics, benchmark: Metrics | None, windows: list[Window]
) -> dict[str, Any]:
    """Everything in the report except the daily series, JSON-ready."""
    return {
        "settings": result.settings_dict(),
        "notes": list(result.notes),
        "metrics": metrics.to_dict(),
        "benchmark": None if benchmark is None else benchmark.to_dict(),
        "walk_forward": [w.to_dict() for w in windows],
        "trade_stats": [s.to_dict() for s in result.trade_stats()],
        "elapsed_seconds": result.elapsed_seconds,
    }


def _date_index(frame: pd.DataFrame | pd.Series) -> pd.Index:
    return pd.Index([pd.Timestamp(d).date().isoformat() for d in frame.index], name="date")


def write_report(
    result: BacktestResult,
    out_dir: Path,
    *,
    windows: int = 0,
    risk_free_rate: float = 0.0,
    title: str | None = None,
    trades_csv: Path | None = None,
) -> ReportFiles:
    """Write the HTML report, summary.json and the CSV files into ``out_dir`` (created if missing); the round trips
    also to ``trades_csv`` when given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = result.performance(risk_free_rate)
    bench = result.benchmark_performance(risk_free_rate)
    wf = result.walk_forward(windows, risk_free_rate) if windows else []
    files = ReportFiles(
        html=out_dir / "report.html",
        summary=out_dir / "summary.json",
        equity=out_dir / "equity.csv",
        weights=out_dir / "weights.csv",
        targets=out_dir / "targets.csv",
        trades=out_dir / "trades.csv",
        round_trips=out_dir / ROUND_TRIPS_CSV,
    )
    files.html.write_text(render_html(result, metrics, bench, wf, title), encoding="utf-8")
    files.summary.write_text(
        json.dumps(summary_dict(result, metrics, bench, wf), indent=2, allow_nan=False), encoding="utf-8"
    )
    daily = pd.DataFrame({"equity": result.equity, "cash": result.cash})
    if result.benchmark is not None:
        daily["benchmark"] = result.benchmark
    daily.index = _date_index(daily)
    daily.to_csv(files.equity, float_format="%.6f")
    weights = result.weights.copy()
    weights.index = _date_index(weights)
    weights.to_csv(files.weights, float_format="%.8g")
    targets = result.targets.copy()
    targets.index = _date_index(targets)
    targets.to_csv(files.targets, float_format="%.8g")
    trades = result.trades.copy()
    if len(trades):
        trades["date"] = [pd.Timestamp(d).date().isoformat() for d in trades["date"]]
    trades.to_csv(files.trades, index=False)
    round_trips_csv(result, files.round_trips)
    if trades_csv is not None:
        round_trips_csv(result, trades_csv)
    return files
