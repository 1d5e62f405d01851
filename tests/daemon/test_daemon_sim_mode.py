"""sim mode's clock choice (demo vs explicit speed) and the plugin list per mode."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import cast

import pytest

from alchemiser.cli.main import build_parser
from alchemiser.cli.ops import apply_speed_flags
from alchemiser.clock import AcceleratedClock, RealClock
from alchemiser.config import Settings, load_settings
from alchemiser.daemon.plugins import daemon_plugins
from alchemiser.daemon.sim_mode import DEMO_SPEED, FastForward, demo_mode, embedded, sim_clock
from alchemiser.sim.server import SimExchangeServer
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar
from tests.daemon.simrig import write_strategies


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(start=date(2020, 1, 1))


def _settings(tmp_path: Path, **extra: object) -> Settings:
    # A store of its own: the default (var/ under the working directory) may hold a saved sim world of `make run`
    overrides: dict[str, object] = {
        "strategies": write_strategies(tmp_path / "s"),
        "store": {"path": str(tmp_path / "var" / "store.sqlite")},
        **extra,
    }
    return load_settings(None, overrides, secrets_dir=None)


def test_demo_starts_a_minute_before_the_refresh_of_the_last_session(tmp_path: Path, cal: TradingCalendar) -> None:
    settings = _settings(tmp_path, mode="sim")
    assert demo_mode(settings) and embedded(settings)
    clock = sim_clock(settings, today=date(2024, 3, 11), calendar=cal)
    assert isinstance(clock, AcceleratedClock) and clock.speed == DEMO_SPEED
    start = clock.now().astimezone(NEW_YORK)
    assert start.date() == date(2024, 3, 8)  # Monday → the previous Friday
    assert (start.hour, start.minute) == (15, 34)  # refresh at 15:35, decision at 15:45


def test_explicit_speed_one_runs_at_real_speed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, mode="sim", sim={"speed": 1.0})
    assert not demo_mode(settings)
    assert isinstance(sim_clock(settings), RealClock)


def test_explicit_start_and_speed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, mode="sim", sim={"speed": 5.0, "start": "2024-03-05"})
    clock = sim_clock(settings)
    assert isinstance(clock, AcceleratedClock) and clock.speed == 5.0
    assert clock.now() >= datetime.combine(date(2024, 3, 5), time(9), NEW_YORK).astimezone(UTC)


def test_plugins_per_mode(tmp_path: Path) -> None:
    sim = _settings(tmp_path, mode="sim")
    assert [p.name for p in daemon_plugins(sim)] == ["sim", "trading", "sim_link", "dashboard", "parity", "backup"]
    standalone = _settings(tmp_path, mode="sim", alpaca={"trading_url": "http://127.0.0.1:5000"})
    assert not embedded(standalone)
    assert [p.name for p in daemon_plugins(standalone)] == ["trading", "dashboard", "parity", "backup"]
    assert isinstance(
        sim_clock(_settings(tmp_path, mode="paper", alpaca={"key_id": "k" * 20, "secret_key": "s" * 40})), RealClock
    )


def test_run_speed_flags_set_the_sim_speed_setting() -> None:
    parser = build_parser()
    env: dict[str, str] = {}
    apply_speed_flags(parser.parse_args(["run", "--real-speed"]), env)
    assert env == {"ALCHEMISER_SIM__SPEED": "1"}
    env.clear()
    apply_speed_flags(parser.parse_args(["run", "--speed", "240"]), env)
    assert env == {"ALCHEMISER_SIM__SPEED": "240.0"}
    env.clear()
    apply_speed_flags(parser.parse_args(["run"]), env)
    assert env == {}
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--real-speed", "--speed", "2"])


def test_the_accelerated_clock_runs_at_real_speed_while_symphonies_evaluate() -> None:
    """Evaluation takes host time, not market time: at 120x a busy host would see the market close meanwhile."""
    clock = AcceleratedClock(datetime(2024, 3, 4, 20, 45, tzinfo=UTC), speed=120.0)
    forwarder = FastForward(clock, RealClock(), cast(SimExchangeServer, object()))
    evaluating = {"now": True}
    forwarder.hold_probe = lambda: evaluating["now"]
    assert not forwarder.step()  # no jump wired: only the hold acts
    assert clock.speed == 1.0
    forwarder.step()
    assert clock.speed == 1.0  # still held; the speed to restore is remembered once
    evaluating["now"] = False
    forwarder.step()
    assert clock.speed == 120.0
    slow = AcceleratedClock(datetime(2024, 3, 4, 20, 45, tzinfo=UTC), speed=0.5)
    held = FastForward(slow, RealClock(), cast(SimExchangeServer, object()))
    held.hold_probe = lambda: True
    held.step()
    assert slow.speed == 0.5  # a clock at or below real speed is left alone
