"""Backtest charts rendered with matplotlib's SVG backend to inline ``<svg>`` strings.

No pyplot and no global backend switch: each chart is a ``Figure`` drawn on an explicit ``FigureCanvasSVG``, and
style settings are applied through ``rc_context`` so nothing leaks into the caller's matplotlib state. Text stays
text (``svg.fonttype = none``) so the SVGs are small and searchable; the XML prolog is stripped for inlining.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

MAX_ALLOCATION_SERIES = 10
MAX_POINTS = 2500  # longer daily series are thinned (every k-th session, the last kept) before plotting
MAX_ALLOCATION_POINTS = 500  # a stacked area of many symbols: about weekly over ten years keeps the SVG small

CHART_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "alchemiser",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_PROLOG = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_REFS = re.compile(r'(\bid="|href="#|url\(#)')
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def render_png(fig: Figure, chart_id: str) -> str:
    buffer = io.StringIO()
    FigureCanvasSVG(fig)  # attach the SVG canvas explicitly: no pyplot, no global backend
    fig.savefig(buffer, format="svg")
    svg = _PROLOG.sub("", buffer.getvalue(), count=1)
    # distinct ids per chart: several SVGs share one HTML document
    svg = _REFS.sub(lambda m: f"{m.group(1)}{chart_id}-", svg)
    return svg.replace("<svg ", f'<svg data-chart="{chart_id}" ', 1)


def thin_series(frame: pd.DataFrame | pd.Series, limit: int = MAX_POINTS) -> Any:
    if len(frame) <= limit:
        return frame
    step = math.ceil(len(frame) / limit)
    positions = sorted({*range(0, len(frame), step), len(frame) - 1})
    return frame.iloc[positions]


def fmt_money(value: float, _pos: object = None) -> str:
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"${value / 1e9:.1f}B"
    if magnitude >= 1e6:
        return f"${value / 1e6:.1f}M"
    if magnitude >= 1e3:
        return f"${value / 1e3:.0f}k"
    return f"${value:.0f}"


def equity_chart(equity: pd.Series, benchmark: pd.Series | None, benchmark_label: str | None) -> str:
    """Equity vs benchmark; log scale when the curve spans more than a factor of 10."""
    with mpl.rc_context(CHART_RC):
        fig = Figure(figsize=(10, 4))
        ax = fig.add_subplot()
        eq = thin_series(equity)
        ax.plot(pd.DatetimeIndex(eq.index), eq.to_numpy(dtype=np.float64), label="strategy", color="#1f5fa8", lw=1.3)
        low, high = float(equity.min()), float(equity.max())
        if benchmark is not None and len(benchmark):
            bench = thin_series(benchmark)
            ax.plot(
                pd.DatetimeIndex(bench.index),
                bench.to_numpy(dtype=np.float64),
                label=benchmark_label or "benchmark",
                color="#888888",
                lw=1.0,
            )
            low, high = min(low, float(benchmark.min())), max(high, float(benchmark.max()))
        if low > 0 and high / low > 10:
            ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(fmt_money))
        ax.set_title("Equity")
        ax.legend(loc="upper left")
        fig.tight_layout()
        return render_png(fig, "equity")


def drawdown_chart(equity: pd.Series, initial_equity: float, benchmark: pd.Series | None) -> str:
    """Running drawdown from the peak (starting capital included), strategy and benchmark."""
    with mpl.rc_context(CHART_RC):
        fig = Figure(figsize=(10, 2.8))
        ax = fig.add_subplot()

        def underwater(series: pd.Series, base: float) -> pd.Series:
            values = series.to_numpy(dtype=np.float64)
            peak = np.maximum.accumulate(np.concatenate(([base], values)))[1:]
            return pd.Series(values / peak - 1.0, index=series.index)

        dd = thin_series(underwater(equity, initial_equity))
        ax.fill_between(pd.DatetimeIndex(dd.index), dd.to_numpy(), 0.0, color="#c0392b", alpha=0.45, label="strategy")
        if benchmark is not None and len(benchmark):
            bdd = thin_series(underwater(benchmark, float(benchmark.iloc[0])))
            ax.plot(pd.DatetimeIndex(bdd.index), bdd.to_numpy(), color="#555555", lw=0.8, label="benchmark")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title("Drawdown")
        ax.legend(loc="lower left")
        fig.tight_layout()
        return render_png(fig, "drawdown")


def monthly_heatmap(table: pd.DataFrame) -> str:
    """Years x months of compounded monthly returns, diverging colours centred on zero, values written in."""
    values = table.to_numpy(dtype=np.float64)
    years = [str(y) for y in table.index]
    with mpl.rc_context(CHART_RC | {"axes.grid": False}):
        fig = Figure(figsize=(10, max(1.6, 0.28 * len(years) + 0.9)))
        ax = fig.add_subplot()
        finite = values[np.isfinite(values)]
        bound = float(np.max(np.abs(finite))) if finite.size else 0.01
        bound = max(bound, 1e-4)
        image = ax.imshow(
            np.ma.masked_invalid(values),
            aspect="auto",
            cmap="RdYlGn",
            norm=TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound),
        )
        ax.set_xticks(range(12), _MONTHS)
        ax.set_yticks(range(len(years)), years)
        for (row, col), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(col, row, f"{value * 100:.1f}", ha="center", va="center", fontsize=7)
        fig.colorbar(image, ax=ax, format=PercentFormatter(1.0, decimals=0), fraction=0.03)
        ax.set_title("Monthly returns (%)")
        fig.tight_layout()
        return render_png(fig, "monthly")


def allocation_chart(weights: pd.DataFrame) -> str:
    """Stacked end-of-session holdings as a share of equity: the largest symbols, the rest as 'other', and cash."""
    frame = weights.fillna(0.0).astype(np.float64)
    ranked = frame.mean().sort_values(ascending=False)
    top = [str(s) for s in ranked.index[:MAX_ALLOCATION_SERIES] if ranked[s] > 0]
    shown = frame[top].copy() if top else pd.DataFrame(index=frame.index)
    rest = frame.drop(columns=top).sum(axis=1)
    if float(rest.max() if len(rest) else 0.0) > 0:
        shown["other"] = rest
    shown["cash"] = (1.0 - frame.sum(axis=1)).clip(lower=0.0)
    shown = thin_series(shown, MAX_ALLOCATION_POINTS)
    with mpl.rc_context(CHART_RC):
        fig = Figure(figsize=(10, 3.6))
        ax = fig.add_subplot()
        colors = [mpl.colormaps["tab20"](i % 20) for i in range(len(shown.columns) - 1)] + ["#dddddd"]
        ax.stackplot(
            pd.DatetimeIndex(shown.index),
            shown.to_numpy().T,
            labels=[str(c) for c in shown.columns],
            colors=colors,
        )
        ax.set_ylim(0.0, max(1.0, float(shown.sum(axis=1).max()) if len(shown) else 1.0))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title("Allocation over time")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
        fig.tight_layout()
        return render_png(fig, "allocation")


def lines_chart(series: dict[str, pd.Series], title: str, chart_id: str) -> str:
    """Several equity curves on one axis (per-strategy equity, or two runs compared); log scale past a factor 10."""
    with mpl.rc_context(CHART_RC):
        fig = Figure(figsize=(10, 3.6))
        ax = fig.add_subplot()
        low, high = math.inf, -math.inf
        for k, (label, values) in enumerate(series.items()):
            if not len(values):
                continue
            thinned = thin_series(values)
            ax.plot(
                pd.DatetimeIndex(thinned.index),
                thinned.to_numpy(dtype=np.float64),
                label=label,
                color=mpl.colormaps["tab10"](k % 10),
                lw=1.2,
            )
            low, high = min(low, float(values.min())), max(high, float(values.max()))
        if 0 < low < high and high / low > 10:
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())  # the log axis's minor labels would be in 10^x notation
        ax.yaxis.set_major_formatter(FuncFormatter(fmt_money))
        ax.set_title(title)
        if series:
            ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        return render_png(fig, chart_id)
