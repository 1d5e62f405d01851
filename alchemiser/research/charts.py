"""Sweep charts as inline SVG, drawn with the backtest report's renderer (``alchemiser.backtest.charts``)."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from alchemiser.backtest.charts import CHART_RC, fmt_money, render_png, thin_series

MAX_TICKS = 25


def _ticks(values: list[object]) -> tuple[list[int], list[str]]:
    step = max(1, int(np.ceil(len(values) / MAX_TICKS)))
    positions = list(range(0, len(values), step))
    return positions, [f"{values[i]:g}" if isinstance(values[i], float) else str(values[i]) for i in positions]


def heatmap(table: pd.DataFrame, x: str, y: str, objective: str, chart_id: str) -> str:
    """Mean objective over a grid of two parameters; each cell written in when the grid is small."""
    values = table.to_numpy(dtype=np.float64)
    with mpl.rc_context(CHART_RC | {"axes.grid": False}):
        fig = Figure(figsize=(6.5, max(2.4, 0.32 * len(table.index) + 1.2)))
        ax = fig.add_subplot()
        image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="viridis", origin="lower")
        xs, xl = _ticks(list(table.columns))
        ys, yl = _ticks(list(table.index))
        ax.set_xticks(xs, xl)
        ax.set_yticks(ys, yl)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if values.size <= 144:
            for (row, col), value in np.ndenumerate(values):
                if np.isfinite(value):
                    ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white")
        fig.colorbar(image, ax=ax, fraction=0.04, label=f"mean {objective}")
        ax.set_title(f"{objective}: {y} × {x}")
        fig.tight_layout()
        return render_png(fig, chart_id)


def sensitivity_chart(table: pd.DataFrame, name: str, objective: str, chart_id: str) -> str:
    """Mean and best objective for each value of one parameter."""
    with mpl.rc_context(CHART_RC):
        fig = Figure(figsize=(5, 2.6))
        ax = fig.add_subplot()
        x = table.index.to_numpy(dtype=np.float64)
        ax.plot(x, table["mean"].to_numpy(dtype=np.float64), marker="o", lw=1.2, label="mean", color="#1f5fa8")
        ax.plot(x, table["best"].to_numpy(dtype=np.float64), marker=".", lw=1.0, label="best", color="#888888")
        ax.set_xlabel(name)
        ax.set_ylabel(objective)
        ax.legend(loc="best", fontsize=7)
        fig.tight_layout()
        return render_png(fig, chart_id)


def curves_chart(curves: dict[str, pd.Series], baseline: pd.Series, benchmark: pd.Series | None, label: str) -> str:
    """Equity of the top points against the baseline symphony (and the benchmark)."""
    with mpl.rc_context(CHART_RC):
        fig = Figure(figsize=(10, 4.2))
        ax = fig.add_subplot()
        series: list[tuple[str, pd.Series, str | None, float]] = [
            ("baseline (the symphony as written)", baseline, "#000000", 1.6)
        ]
        if benchmark is not None and len(benchmark):
            series.append((label, benchmark, "#aaaaaa", 1.0))
        series += [(name, curve, None, 1.0) for name, curve in curves.items()]
        low, high = np.inf, -np.inf
        for name, curve, colour, width in series:
            thin = thin_series(curve)
            ax.plot(pd.DatetimeIndex(thin.index), thin.to_numpy(dtype=np.float64), label=name, color=colour, lw=width)
            low, high = min(low, float(curve.min())), max(high, float(curve.max()))
        if low > 0 and high / low > 10:
            ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(fmt_money))
        ax.set_title("Equity: top points vs baseline")
        ax.legend(loc="upper left", fontsize=7)
        fig.tight_layout()
        return render_png(fig, "curves")
