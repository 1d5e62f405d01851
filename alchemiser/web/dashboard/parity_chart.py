"""Server-rendered SVG geometry for the Parity page: the gap over time (a line around zero) and the cumulative
attribution as one stacked bar (gains stacked up from zero, costs down). Presentation attributes and classes only,
so the strict CSP holds; the SVG scales to the page width."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from alchemiser.services import format as fmt

WIDTH = 800
HEIGHT = 200
BAR_HEIGHT = 240
PAD = 12


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


def _scale(low: float, high: float, height: int) -> tuple[float, float]:
    """(pixels per unit, y of ``high``) with ``low``..``high`` spanning the padded height."""
    span = high - low or 1.0
    return (height - 2 * PAD) / span, PAD


def parity_chart(sessions: Sequence[Mapping[str, Any]], cumulative: Mapping[str, str]) -> ParityChart | None:
    if not sessions:
        return None
    gaps = [float(s["gap"]) for s in sessions]
    low, high = min([*gaps, 0.0]), max([*gaps, 0.0])
    margin = (high - low) * 0.08 or 1.0
    low, high = low - margin, high + margin
    per, top = _scale(low, high, HEIGHT)
    n = len(gaps)
    xs = [PAD + ((WIDTH - 2 * PAD) * i / (n - 1) if n > 1 else (WIDTH - 2 * PAD) / 2) for i in range(n)]
    ys = [top + (high - g) * per for g in gaps]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(zip(xs, ys, strict=True)))
    return ParityChart(
        gap_path=path,
        zero_y=round(top + high * per, 1),
        last_x=round(xs[-1], 1),
        last_y=round(ys[-1], 1),
        high_label=fmt.money(Decimal(repr(high))),
        low_label=fmt.money(Decimal(repr(low))),
        segments=_segments(cumulative),
        bar_zero_y=_bar_zero(cumulative),
    )


def _bar_range(parts: Mapping[str, str]) -> tuple[float, float]:
    up = sum(max(float(v), 0.0) for v in parts.values())
    down = sum(min(float(v), 0.0) for v in parts.values())
    return down or -1e-9, up or 1e-9


def _bar_zero(parts: Mapping[str, str]) -> float:
    low, high = _bar_range(parts)
    per, top = _scale(low, high, BAR_HEIGHT)
    return round(top + high * per, 1)


def _segments(parts: Mapping[str, str]) -> tuple[Segment, ...]:
    low, high = _bar_range(parts)
    per, top = _scale(low, high, BAR_HEIGHT)
    zero = top + high * per
    above, below = zero, zero
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
