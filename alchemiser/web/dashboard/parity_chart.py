"""Server-rendered SVG geometry for the Parity page: the gap over time (a line around zero) and the cumulative
attribution as one stacked bar (gains stacked up from zero, costs down), on the scales of ``charts``. Presentation
attributes and classes only, so the strict CSP holds; the SVG scales to the page width."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from alchemiser.services import format as fmt
from alchemiser.web.dashboard.charts import WIDTH, line_path, padded, pixels_per_unit, x_at, y_at

HEIGHT = 200
BAR_HEIGHT = 240


@dataclass(frozen=True, slots=True)
class Segment:
    part: str
    y: float
    height: float
    label: str


@dataclass(frozen=True, slots=True)
class ParityChart:
    gap_path: str
    zero_y: float
    last_x: float
    last_y: float
    high_label: str
    low_label: str
    segments: tuple[Segment, ...]
    bar_zero_y: float
    width: int = WIDTH
    height: int = HEIGHT
    bar_height: int = BAR_HEIGHT


def parity_chart(sessions: Sequence[Mapping[str, Any]], cumulative: Mapping[str, str]) -> ParityChart | None:
    if not sessions:
        return None
    gaps = [float(s["gap"]) for s in sessions]
    low, high = padded(min([*gaps, 0.0]), max([*gaps, 0.0]), 0.08, 1.0)
    n = len(gaps)
    return ParityChart(
        gap_path=line_path(list(enumerate(gaps)), n, low, high, HEIGHT),
        zero_y=round(y_at(0.0, low, high, HEIGHT), 1),
        last_x=round(x_at(n - 1, n), 1),
        last_y=round(y_at(gaps[-1], low, high, HEIGHT), 1),
        high_label=fmt.money(Decimal(repr(high))),
        low_label=fmt.money(Decimal(repr(low))),
        segments=_segments(cumulative),
        bar_zero_y=round(y_at(0.0, *_bar_range(cumulative), BAR_HEIGHT), 1),
    )


def _bar_range(parts: Mapping[str, str]) -> tuple[float, float]:
    up = sum(max(float(v), 0.0) for v in parts.values())
    down = sum(min(float(v), 0.0) for v in parts.values())
    return down or -1e-9, up or 1e-9


def _segments(parts: Mapping[str, str]) -> tuple[Segment, ...]:
    """Gains stacked up from zero, costs down (the charts' vertical scale)."""
    low, high = _bar_range(parts)
    per = pixels_per_unit(low, high, BAR_HEIGHT)
    above = below = y_at(0.0, low, high, BAR_HEIGHT)
    out: list[Segment] = []
    for part, text in parts.items():
        value = float(text)
        size = abs(value) * per
        if not size:
            continue
        if value > 0:
            above -= size
            out.append(Segment(part, round(above, 1), round(size, 1), fmt.money(Decimal(text))))
        else:
            out.append(Segment(part, round(below, 1), round(size, 1), fmt.money(Decimal(text))))
            below += size
    return tuple(out)
