"""What the report and the terminal summary show, computed from the stored rows after a sweep.

Only the top ``k`` points' equity curves are ever rebuilt (each re-run in this process, deterministic), so the
memory a report needs does not grow with the number of points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alchemiser.backtest import Window
from alchemiser.backtest.result import BacktestResult
from alchemiser.backtest.walkforward import walk_forward
from alchemiser.research.point import SweepContext, apply_point, backtest_variant, evaluate_variant
from alchemiser.research.stats import (
    BlockSums,
    DeflatedSharpe,
    Pbo,
    WalkForwardStep,
    deflated_sharpe,
    probability_of_overfitting,
    walk_forward_selection,
)

LOWER_IS_BETTER: frozenset[str] = frozenset({"max_drawdown"})


@dataclass
class SweepAnalysis:
    objective: str
    param_columns: list[str]
    ok: pd.DataFrame  # successful points, best first
    failed: pd.DataFrame
    baseline: BacktestResult
    curves: dict[str, pd.Series] = field(default_factory=dict)  # label -> equity of the top points
    best_windows: list[Window] = field(default_factory=list)
    walk_forward: list[WalkForwardStep] = field(default_factory=list)
    pbo: Pbo | None = None
    dsr: DeflatedSharpe | None = None


def rank(frame: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Successful rows, best first by ``objective`` (ties: lower point number first); NaN objectives last."""
    ok = frame[frame["status"] == "ok"].copy()
    ascending = objective in LOWER_IS_BETTER
    return ok.sort_values([objective, "point"], ascending=[ascending, True], na_position="last", kind="stable")


def point_values(context: SweepContext, row: pd.Series) -> tuple[float | int, ...]:
    """A stored row's parameter values, as the sweep file's types (integers stay integers)."""
    out: list[float | int] = []
    for param in context.params:
        value = float(row[f"p_{param.name}"])
        out.append(int(value) if value.is_integer() and _integral(param.values) else value)
    return tuple(out)


def _integral(values: tuple[float | int, ...]) -> bool:
    return not values or all(isinstance(v, int) for v in values)


def rebuild_curve(context: SweepContext, values: tuple[float | int, ...]) -> BacktestResult:
    variant = apply_point(context, values)
    return backtest_variant(context, evaluate_variant(context, variant, None), variant.config)


def label_of(context: SweepContext, values: tuple[float | int, ...]) -> str:
    return ", ".join(f"{p.name}={v:g}" for p, v in zip(context.params, values, strict=True))


def analyse(
    frame: pd.DataFrame, context: SweepContext, baseline: BacktestResult, objective: str, top: int
) -> SweepAnalysis:
    ok = rank(frame, objective)
    failed = frame[frame["status"] != "ok"]
    params = [f"p_{p.name}" for p in context.params]
    analysis = SweepAnalysis(objective, params, ok, failed, baseline)
    if ok.empty:
        return analysis
    for _, row in ok.head(top).iterrows():
        values = point_values(context, row)
        analysis.curves[f"#{int(row['point'])}: {label_of(context, values)}"] = rebuild_curve(context, values).equity
    best = ok.iloc[0]
    best_curve = next(iter(analysis.curves.values()), None)
    windows = len(context.block_starts)
    if best_curve is not None and len(best_curve) >= 2 * windows:
        analysis.best_windows = walk_forward(best_curve, windows, initial_equity=float(context.config.initial_capital))
    sums = BlockSums.from_frame(ok)
    analysis.walk_forward = walk_forward_selection(sums)
    analysis.pbo = probability_of_overfitting(sums)
    analysis.dsr = deflated_sharpe(
        float(best["sr"]),
        int(best["sessions"]),
        float(best["skew"]),
        float(best["kurtosis"]),
        ok["sr"].to_numpy(dtype=np.float64),
    )
    return analysis


def sensitivity(ok: pd.DataFrame, column: str, objective: str) -> pd.DataFrame:
    """Per value of one parameter: mean, best and count of the objective over every other parameter."""
    grouped = ok.groupby(column)[objective]
    best = grouped.min() if objective in LOWER_IS_BETTER else grouped.max()
    return pd.DataFrame({"mean": grouped.mean(), "best": best, "points": grouped.count()})


def heatmap_table(ok: pd.DataFrame, x: str, y: str, objective: str) -> pd.DataFrame:
    """Mean objective for each (y, x) value pair (averaged over the other parameters)."""
    return ok.pivot_table(index=y, columns=x, values=objective, aggfunc="mean")


def varied(ok: pd.DataFrame, columns: list[str]) -> list[str]:
    return [c for c in columns if ok[c].nunique() > 1]


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
