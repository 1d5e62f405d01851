"""Server-rendered SVG geometry for the overview's equity curve (with the benchmark) and its drawdown.

Pure functions from the service's :class:`~alchemiser.services.account.EquityCurve` to path strings in a fixed
view box; the template draws them (presentation attributes only, so the strict CSP holds). The SVG scales to the
page width.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from alchemiser.services import format as fmt
from alchemiser.services.account import EquityCurve

WIDTH = 800
HEIGHT = 220
DD_HEIGHT = 90
PAD_LEFT = 4
PAD_RIGHT = 4
PAD_Y = 10


@dataclass(frozen=True, slots=True)
class CurveChart:
    equity_path: str
    benchmark_path: str
    drawdown_path: str  # a closed area from 0 down to the drawdown
    last_x: float  # the latest point (drawn as a dot, so a one-session curve is visible too)
    last_y: float
    width: int
    height: int
    dd_height: int
    high_label: str
    low_label: str
    dd_label: str
    first_day: str
    last_day: str
    points: int


def _x(i: int, n: int) -> float:
    span = WIDTH - PAD_LEFT - PAD_RIGHT
    return PAD_LEFT + (span * i / (n - 1) if n > 1 else span / 2)


def _path(values: list[tuple[int, float]], n: int, low: float, high: float, height: int) -> str:
    if not values:
        return ""
    scale = (height - 2 * PAD_Y) / (high - low) if high > low else 0.0
    parts = []
    for k, (i, v) in enumerate(values):
        y = height - PAD_Y - (v - low) * scale if scale else height / 2
        parts.append(f"{'M' if k == 0 else 'L'}{_x(i, n):.1f},{y:.1f}")
    return " ".join(parts)


def curve_chart(curve: EquityCurve) -> CurveChart | None:
    points = curve.points
    if not points:
        return None
    n = len(points)
    equity = [(i, float(p.equity)) for i, p in enumerate(points)]
    bench = [(i, float(p.benchmark)) for i, p in enumerate(points) if p.benchmark is not None]
    values = [v for _, v in equity] + [v for _, v in bench]
    low, high = min(values), max(values)
    margin = (high - low) * 0.05 or max(abs(high) * 0.01, 1.0)
    low, high = low - margin, high + margin
    worst = min(float(p.drawdown) for p in points)
    dd_low = min(worst, -0.01)
    dd_line = _path([(i, float(p.drawdown)) for i, p in enumerate(points)], n, dd_low, 0.0, DD_HEIGHT)
    top = DD_HEIGHT - PAD_Y - (0 - dd_low) * ((DD_HEIGHT - 2 * PAD_Y) / (0 - dd_low))
    area = f"M{_x(0, n):.1f},{top:.1f} " + dd_line.replace("M", "L", 1) + f" L{_x(n - 1, n):.1f},{top:.1f} Z"
    equity_path = _path(equity, n, low, high, HEIGHT)
    last_x, last_y = (float(v) for v in equity_path.rsplit(" ", 1)[-1].lstrip("ML").split(","))
    return CurveChart(
        equity_path=equity_path,
        last_x=last_x,
        last_y=last_y,
        benchmark_path=_path(bench, n, low, high, HEIGHT),
        drawdown_path=area,
        width=WIDTH,
        height=HEIGHT,
        dd_height=DD_HEIGHT,
        high_label=fmt.money(Decimal(repr(high))),
        low_label=fmt.money(Decimal(repr(low))),
        dd_label=fmt.percent(Decimal(repr(worst))),
        first_day=points[0].session.isoformat(),
        last_day=points[-1].session.isoformat(),
        points=n,
    )
