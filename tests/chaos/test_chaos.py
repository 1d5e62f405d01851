"""make test's crash-point chaos: the fixed set of ``FIXED_SET`` (≥ 15 kills at every named crash point and at
random moments) against a real daemon and exchange, then every invariant after every scenario.

``python -m tests.chaos`` (``make chaos``) runs ≥ 100 randomised points the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alchemiser.process.crashpoints import CRASH_POINTS
from tests.chaos.harness import FIXED_SET, RANDOM_KILL, Chaos, FixedPoints
from tests.chaos.zygote import Zygote
from tests.daemon.crashrig import SESSION, SPEED, Rig
from tests.execution.crashcheck import sim_exchange

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a few minutes; loaded CI machines take longer
MIN_EXERCISED = 16


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    forker = Zygote()
    yield forker
    forker.close()


@pytest.fixture(scope="module")
def exchange_url() -> Iterator[str]:
    with sim_exchange(
        "--start", SESSION, "--start-time", "09:29", "--speed", str(SPEED), "--seed", "6", "--history-years", "1"
    ) as url:
        yield url


def test_the_fixed_set_names_every_crash_point_early_and_twice() -> None:
    named = [p.split(":")[0] for p in FIXED_SET]
    assert all(named.count(point) >= 2 for point in (*CRASH_POINTS, RANDOM_KILL)), named
    assert set(named[:10]) >= set(CRASH_POINTS), named[:10]
    assert len(named) >= MIN_EXERCISED


def test_fixed_crash_points_leave_every_invariant_true(exchange_url: str, zygote: Zygote, tmp_path: Path) -> None:
    rig = Rig(tmp_path, exchange_url, spawner=zygote)
    chaos = Chaos(rig, seed=12345)
    try:
        report = chaos.run(MIN_EXERCISED, FixedPoints(FIXED_SET))
    finally:
        rig.kill_all()
    print(report.details())
    print(report.summary())
    assert report.violations == [], report.details()
    assert len(report.exercised) == MIN_EXERCISED, report.details()
    assert {p.split(":")[0] for p in report.exercised} >= set(CRASH_POINTS), report.details()
    assert report.checks_passed == report.scenarios * 7
