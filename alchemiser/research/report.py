"""The sweep report: ``report.html`` (self-contained: inline CSS and SVG, no scripts, no external resources),
``summary.json`` and ``top.csv``. Tables and styles are the backtest report's own."""

from __future__ import annotations

import html
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from alchemiser.backtest.html_parts import REPORT_CSS, fmt_num, fmt_pct, html_table
from alchemiser.backtest.report import windows_table
from alchemiser.research import charts
from alchemiser.research.analysis import SweepAnalysis, finite_or_none, heatmap_table, sensitivity, varied
from alchemiser.research.runner import SweepOutcome
from alchemiser.research.spec import SweepSpec

TOP_ROWS = 20
FAILED_ROWS = 20
MAX_HEATMAPS = 6
SHOWN_METRICS: tuple[str, ...] = ("sharpe", "cagr", "max_drawdown", "sortino", "calmar", "trades")

READ_WALK_FORWARD = (
    "Each row picks the best point on one block and scores it on the next: if in-sample winners are real, their "
    "out-of-sample Sharpe stays near their in-sample one and their percentile stays high; a percentile near 50% "
    "means choosing by the past was no better than picking at random."
)
READ_DSR = (
    "The probability that the best point's Sharpe ratio beats what the best of this many unskilled trials would "
    "show by luck (adjusted for fat tails and skew); below 0.95 the best point is not distinguishable from luck."
)
READ_PBO = (
    "The share of half/half splits of the history in which the point that was best on one half ranked in the "
    "bottom half on the other: near 0 the choice generalises, near 0.5 or above the sweep is picking noise."
)


def _cell(value: Any, column: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    if column in ("cagr", "max_drawdown", "total_return", "exposure"):
        return fmt_pct(float(value))
    if column in ("trades", "point"):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}" if column.startswith("p_") else fmt_num(value)
    return html.escape(str(value))


def _points_table(frame: pd.DataFrame, params: list[str]) -> str:
    columns = ["point", *params, *SHOWN_METRICS]
    headers = ["#", *(c.removeprefix("p_") for c in params), *SHOWN_METRICS]
    rows = [[_cell(row[c], c) for c in columns] for _, row in frame.iterrows()]
    return html_table(headers, rows)


def _statistics(analysis: SweepAnalysis) -> list[str]:
    parts = ["<h2>Is the best point luck?</h2>"]
    dsr, pbo = analysis.dsr, analysis.pbo
    if dsr is None:
        parts.append("<p>Deflated Sharpe ratio: not available (too few returns or no finite Sharpe).</p>")
    else:
        parts.append(
            f"<p><b>Deflated Sharpe ratio: {dsr.dsr:.3f}</b> (best point's annualised Sharpe "
            f"{dsr.sharpe * math.sqrt(252):.2f} vs {dsr.benchmark_sharpe * math.sqrt(252):.2f} expected from the "
            f"best of {dsr.trials} trials by luck, {dsr.observations} daily returns). {READ_DSR}</p>"
        )
    if pbo is None:
        parts.append("<p>Probability of backtest overfitting: not available (needs ≥ 2 successful points).</p>")
    else:
        parts.append(
            f"<p><b>Probability of backtest overfitting: {pbo.pbo:.2f}</b> over {pbo.splits} combinatorially "
            f"symmetric splits of {len(analysis.ok['block_n'].iloc[0])} blocks. {READ_PBO}</p>"
        )
    if analysis.walk_forward:
        rows = [
            [
                f"{s.train_block + 1} → {s.test_block + 1}",
                str(int(analysis.ok.iloc[s.chosen]["point"])),
                fmt_num(s.in_sample_sharpe),
                fmt_num(s.out_of_sample_sharpe),
                fmt_num(s.out_of_sample_median),
                fmt_pct(s.out_of_sample_percentile, 0),
            ]
            for s in analysis.walk_forward
        ]
        headers = ["Blocks (train → test)", "Chosen #", "IS Sharpe", "OOS Sharpe", "OOS median", "OOS percentile"]
        parts += ["<h3>Walk-forward selection</h3>", f"<p>{READ_WALK_FORWARD}</p>", html_table(headers, rows)]
    if analysis.best_windows:
        parts += ["<h3>The best point, window by window</h3>", windows_table(analysis.best_windows)]
    return parts


def render_html(spec: SweepSpec, analysis: SweepAnalysis, outcome: SweepOutcome) -> str:
    ok, objective = analysis.ok, analysis.objective
    base = analysis.baseline.performance()
    title = f"Sweep: {spec.name}"
    summary_rows = [
        ["Strategies", html.escape(", ".join(f"{s.name} ({s.path.name})" for s in spec.strategies))],
        ["Search", html.escape(f"{spec.method}, {len(outcome.points)} points, objective {objective}")],
        [
            "Finished",
            f"{len(ok)} ok, {len(analysis.failed)} failed" + (" (interrupted)" if outcome.interrupted else ""),
        ],
        ["This run", f"{outcome.computed} computed, {outcome.skipped} reused, {outcome.seconds:.1f} s"],
        [
            "Baseline",
            f"Sharpe {fmt_num(base.sharpe)}, CAGR {fmt_pct(base.annualised_return)}, {base.start} → {base.end}",
        ],
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{REPORT_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        html_table(["", ""], summary_rows),
    ]
    if not ok.empty:
        parts += [f"<h2>Top {min(TOP_ROWS, len(ok))} points by {objective}</h2>"]
        parts.append(_points_table(ok.head(TOP_ROWS), analysis.param_columns))
        parts += _statistics(analysis)
        bench = analysis.baseline.benchmark
        label = analysis.baseline.benchmark_symbol or "benchmark"
        curves = charts.curves_chart(analysis.curves, analysis.baseline.equity, bench, label)
        parts += ["<h2>Equity of the top points</h2>", f"<figure>{curves}</figure>"]
        names = varied(ok, analysis.param_columns)
        if len(names) >= 2:
            parts.append("<h2>Heatmaps (mean over the other parameters)</h2>")
            for n, (x, y) in enumerate(itertools.islice(itertools.combinations(names, 2), MAX_HEATMAPS)):
                table = heatmap_table(ok, x, y, objective)
                svg = charts.heatmap(table, x.removeprefix("p_"), y.removeprefix("p_"), objective, f"heat{n}")
                parts.append(f"<figure>{svg}</figure>")
        if names:
            parts.append("<h2>Sensitivity</h2>")
            for n, column in enumerate(names):
                chart = charts.sensitivity_chart(
                    sensitivity(ok, column, objective), column.removeprefix("p_"), objective, f"sens{n}"
                )
                parts.append(f"<figure>{chart}</figure>")
    if not analysis.failed.empty:
        rows = [
            [str(int(r["point"])), *(_cell(r[c], c) for c in analysis.param_columns), html.escape(str(r["error"]))]
            for _, r in analysis.failed.head(FAILED_ROWS).iterrows()
        ]
        headers = ["#", *(c.removeprefix("p_") for c in analysis.param_columns), "Error"]
        parts += [f"<h2>Failed points ({len(analysis.failed)})</h2>", html_table(headers, rows)]
    parts.append("</body></html>")
    return "\n".join(parts)


def summary_dict(spec: SweepSpec, analysis: SweepAnalysis, outcome: SweepOutcome) -> dict[str, Any]:
    best = None
    if not analysis.ok.empty:
        row = analysis.ok.iloc[0]
        best = {"point": int(row["point"]), **{c: finite_or_none(float(row[c])) for c in analysis.param_columns}}
        best.update({m: finite_or_none(float(row[m])) for m in SHOWN_METRICS})
    return {
        "sweep": spec.name,
        "points": len(outcome.points),
        "ok": len(analysis.ok),
        "failed": len(analysis.failed),
        "computed": outcome.computed,
        "reused": outcome.skipped,
        "interrupted": outcome.interrupted,
        "seconds": round(outcome.seconds, 3),
        "workers": outcome.workers,
        "objective": analysis.objective,
        "best": best,
        "deflated_sharpe": None if analysis.dsr is None else analysis.dsr.dsr,
        "pbo": None if analysis.pbo is None else analysis.pbo.pbo,
    }


def write_report(out: Path, spec: SweepSpec, analysis: SweepAnalysis, outcome: SweepOutcome) -> Path:
    """Write report.html, summary.json and top.csv into ``out``; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    page = out / "report.html"
    page.write_text(render_html(spec, analysis, outcome), encoding="utf-8")
    summary = summary_dict(spec, analysis, outcome)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    columns = ["point", *analysis.param_columns, *SHOWN_METRICS, "total_return", "volatility", "start", "end"]
    analysis.ok.head(TOP_ROWS)[columns].to_csv(out / "top.csv", index=False)
    return page
