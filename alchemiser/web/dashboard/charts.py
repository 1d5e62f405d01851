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


def x_at(i: int, n: int) -> float:
    """The x of point ``i`` of ``n`` spread over the width (a single point in the middle)."""
    span = WIDTH - PAD_LEFT - PAD_RIGHT
    return PAD_LEFT + (span * i / (n - 1) if n > 1 else span / 2)


def pixels_per_unit(low: float, high: float, height: int) -> float:
    """The vertical scale that puts ``low``..``high`` into ``height`` less its padding (0: a flat range)."""
    return (height - 2 * PAD_Y) / (high - low) if high > low else 0.0


def y_at(value: float, low: float, high: float, height: int) -> float:
    """The y of ``value`` with ``low``..``high`` spanning the padded ``height`` (a flat range: the middle)."""
    scale = pixels_per_unit(low, high, height)
    return height - PAD_Y - (value - low) * scale if scale else height / 2


def padded(low: float, high: float, fraction: float, floor: float) -> tuple[float, float]:
    """``low``..``high`` widened by ``fraction`` of its span on each side (by ``floor`` when it is flat)."""
    margin = (high - low) * fraction or floor
    return low - margin, high + margin


def line_path(values: list[tuple[int, float]], n: int, low: float, high: float, height: int) -> str:
    """An SVG path through ``(index, value)`` points of an ``n``-point axis."""
    return " ".join(
        f"{'M' if k == 0 else 'L'}{x_at(i, n):.1f},{y_at(v, low, high, height):.1f}" for k, (i, v) in enumerate(values)
    )


def curve_chart(curve: EquityCurve) -> CurveChart | None:
    points = curve.points
    if not points:
        return None
    n = len(points)
    equity = [(i, float(p.equity)) for i, p in enumerate(points)]
    bench = [(i, float(p.benchmark)) for i, p in enumerate(points) if p.benchmark is not None]
    values = [v for _, v in equity] + [v for _, v in bench]
    low, high = padded(min(values), max(values), 0.05, max(abs(max(values)) * 0.01, 1.0))
    worst = min(float(p.drawdown) for p in points)
    dd_low = min(worst, -0.01)
    dd_line = line_path([(i, float(p.drawdown)) for i, p in enumerate(points)], n, dd_low, 0.0, DD_HEIGHT)
    top = y_at(0.0, dd_low, 0.0, DD_HEIGHT)
    area = f"M{x_at(0, n):.1f},{top:.1f} " + dd_line.replace("M", "L", 1) + f" L{x_at(n - 1, n):.1f},{top:.1f} Z"
    equity_path = line_path(equity, n, low, high, HEIGHT)
    last_x, last_y = (float(v) for v in equity_path.rsplit(" ", 1)[-1].lstrip("ML").split(","))
    return CurveChart(
        equity_path=equity_path,
        last_x=last_x,
        last_y=last_y,
        benchmark_path=line_path(bench, n, low, high, HEIGHT),
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
