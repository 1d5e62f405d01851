"""The SVG geometry the overview and the Parity page share (``charts``): one scale, the parity bar stacked on it."""

from __future__ import annotations

import pytest

from alchemiser.web.dashboard.charts import HEIGHT, PAD_Y, line_path, padded, x_at, y_at
from alchemiser.web.dashboard.parity_chart import BAR_HEIGHT, parity_chart


def test_the_scale_puts_the_range_inside_the_padding_and_a_flat_range_in_the_middle() -> None:
    assert y_at(10.0, 10.0, 20.0, HEIGHT) == HEIGHT - PAD_Y
    assert y_at(20.0, 10.0, 20.0, HEIGHT) == PAD_Y
    assert y_at(5.0, 5.0, 5.0, HEIGHT) == HEIGHT / 2
    assert x_at(0, 1) == x_at(0, 3) + (x_at(2, 3) - x_at(0, 3)) / 2
    assert padded(0.0, 10.0, 0.1, 1.0) == (-1.0, 11.0) and padded(3.0, 3.0, 0.1, 1.0) == (2.0, 4.0)
    assert line_path([], 0, 0.0, 1.0, HEIGHT) == ""
    assert line_path([(0, 0.0), (1, 1.0)], 2, 0.0, 1.0, HEIGHT).startswith(f"M{x_at(0, 2):.1f},{HEIGHT - PAD_Y:.1f} L")


def test_the_parity_gap_line_and_its_stacked_attribution_bar() -> None:
    sessions = [{"gap": "-10"}, {"gap": "5"}, {"gap": "-30"}]
    parts = {"signal": "20", "execution": "-35", "fees": "0", "timing": "-15", "rounding": "0", "unexplained": "0"}
    chart = parity_chart(sessions, parts)
    assert chart is not None
    assert chart.gap_path.count("L") == 2
    assert chart.last_y > chart.zero_y  # the last gap is below zero
    up = [s for s in chart.segments if s.part == "signal"]
    down = [s for s in chart.segments if s.part != "signal"]
    assert [s.part for s in down] == ["execution", "timing"]  # zero parts are not drawn
    assert up[0].y + up[0].height == pytest.approx(chart.bar_zero_y, abs=0.1)  # gains sit on the zero line
    assert down[0].y == chart.bar_zero_y and down[1].y == pytest.approx(down[0].y + down[0].height, abs=0.1)
    assert down[1].y + down[1].height <= BAR_HEIGHT - PAD_Y + 0.1
    assert parity_chart([], parts) is None
