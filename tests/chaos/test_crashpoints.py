"""``alchemiser.process.crashpoints``: inert unless armed; armed, a real process dies by SIGKILL at the named hit."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from alchemiser.errors import ConfigError
from alchemiser.process import crashpoints
from alchemiser.process.crashpoints import CRASH_POINTS, ENV_VAR, arm, crash_point, parse

CHILD = """
import sys
from alchemiser.process.crashpoints import crash_point
for i in range(1, 6):
    print("before", i, flush=True)
    crash_point("after_fill_recorded")
    crash_point("during_reconcile")
print("survived", flush=True)
"""


@pytest.fixture(autouse=True)
def disarmed() -> Iterator[None]:
    arm(None)
    yield
    arm(None)


def run_child(value: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **({ENV_VAR: value} if value is not None else {})}
    env["PYTHONPATH"] = ":".join(p for p in sys.path if p)
    return subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_unarmed_every_point_is_a_no_op() -> None:
    for name in CRASH_POINTS:
        crash_point(name)
    crash_point("not_a_point_at_all")  # unknown names cost nothing either: nothing is armed
    assert crashpoints._ARMED is None


def test_an_armed_process_dies_by_sigkill_at_the_named_hit() -> None:
    done = run_child("after_fill_recorded:3")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split("\n")[:3] == ["before 1", "before 2", "before 3"]
    assert "survived" not in done.stdout and "before 4" not in done.stdout
    assert done.stderr == "crash_point after_fill_recorded hit: SIGKILL\n"


def test_an_armed_point_never_reached_lets_the_process_finish() -> None:
    done = run_child("during_book_update")
    assert done.returncode == 0 and "survived" in done.stdout
    assert run_child(None).returncode == 0


def test_an_unknown_point_in_the_environment_is_refused_by_name() -> None:
    done = run_child("after_lunch")
    assert done.returncode == 1
    assert "ALCHEMISER_CRASH_POINT='after_lunch': unknown crash point 'after_lunch'" in done.stderr
    assert "after_plan_stored" in done.stderr  # the known points are listed


@pytest.mark.parametrize("value", ["after_plan_stored:0", "after_plan_stored:x", "after_plan_stored:-2", ":3"])
def test_bad_hit_counts_are_refused_naming_the_value(value: str) -> None:
    with pytest.raises(ConfigError, match=ENV_VAR):
        parse(value)


def test_parse_defaults_to_the_first_hit() -> None:
    assert parse("during_store_write") == ("during_store_write", 1)
    assert parse(" during_store_write:12 ") == ("during_store_write", 12)


def test_arming_in_process_counts_hits_down(monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(crashpoints.os, "kill", lambda pid, sig: killed.append((pid, sig)))
    arm("after_order_submit", 2)
    crash_point("after_order_submit")
    crash_point("before_order_submit")
    assert killed == []
    crash_point("after_order_submit")
    assert killed == [(crashpoints.os.getpid(), signal.SIGKILL)]
