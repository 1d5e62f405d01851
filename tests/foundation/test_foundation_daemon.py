"""Daemon lifecycle in-process: failed starts, failing shutdown hooks, reload validation and what reload applies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from alchemiser.clock import AcceleratedClock, RealClock
from alchemiser.config import Settings, load_settings
from alchemiser.daemon.context import DaemonContext
from alchemiser.daemon.daemon import Daemon, build_clock
from alchemiser.daemon.reload import (
    apply_reloadable,
    changed_reloadable_keys,
    restart_required_keys,
    strategy_digests,
)
from alchemiser.errors import StoreError, StrategyError
from tests.foundation.conftest import TOKEN, base_config, write_config


def settings_for(workdir: Path, **kwargs: object) -> tuple[Settings, Path]:
    path = write_config(workdir, base_config(workdir, **kwargs))  # type: ignore[arg-type]
    return load_settings(path, secrets_dir=None), path


@dataclass
class Failing:
    error: Exception
    name: str = "failing"

    async def setup(self, ctx: DaemonContext) -> None:
        raise self.error


async def test_plugin_failure_is_a_clean_failed_start(workdir: Path) -> None:
    settings, _ = settings_for(workdir)
    assert await Daemon(settings, plugins=[Failing(OSError("port busy"))], handle_signals=False).run() == 1
    # the store lock and file were released: a new daemon starts and finds the failed run closed
    daemon = Daemon(settings, plugins=[], handle_signals=False)
    task = asyncio.create_task(daemon.run())
    async with asyncio.timeout(20):
        while daemon.context is None or daemon.http is None:
            await asyncio.sleep(0.01)
    runs = await daemon.context.runs.recent()
    assert [r.status for r in runs][1:] == ["stopped"] and runs[1].exit_reason == "start failed"
    daemon.request_stop("done")
    assert await asyncio.wait_for(task, 30) == 0


@dataclass
class BadShutdown:
    name: str = "bad-shutdown"
    ran: bool = False

    async def setup(self, ctx: DaemonContext) -> None:
        async def broken() -> None:
            raise StoreError("flush failed")

        def fine() -> None:
            self.ran = True

        ctx.add_shutdown_hook(fine)
        ctx.add_shutdown_hook(broken)


async def test_failing_shutdown_hook_does_not_stop_the_shutdown(workdir: Path) -> None:
    settings, _ = settings_for(workdir)
    plugin = BadShutdown()
    daemon = Daemon(settings, plugins=[plugin], handle_signals=False)
    task = asyncio.create_task(daemon.run())
    async with asyncio.timeout(20):
        while daemon.context is None or daemon.http is None:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    daemon.request_stop("test")
    assert await asyncio.wait_for(task, 30) == 0
    assert plugin.ran  # the later hook (run first, reverse order) failed; the earlier one still ran


async def test_reload_applies_secrets_and_strategies_and_reports_restart_keys(workdir: Path) -> None:
    settings, path = settings_for(workdir)
    daemon = Daemon(settings, config_path=path, secrets_dir=None, plugins=[], handle_signals=False)
    seen: list[tuple[Settings, Settings]] = []
    daemon.reload_listeners.append(lambda new, old: seen.append((new, old)))
    new_token = "rotated-token-0123456789abcdef"
    body = base_config(workdir, token=new_token, port=9999).replace("weight = 0.6", "weight = 0.5")
    write_config(workdir, body.replace("weight = 0.4", "weight = 0.5"))
    assert await daemon.reload()
    current = daemon.settings
    assert current.control_token is not None and current.control_token.get_secret_value() == new_token
    assert [s.weight for s in current.strategies] == [0.5, 0.5]
    assert current.http.port == 0  # restart-only change not applied
    assert seen and seen[0][1] is settings
    assert daemon.redactor.redact_text(f"{TOKEN} {new_token}") == "[REDACTED] [REDACTED]"  # old and new masked


async def test_reload_validator_can_reject(workdir: Path) -> None:
    settings, path = settings_for(workdir)
    daemon = Daemon(settings, config_path=path, secrets_dir=None, plugins=[], handle_signals=False)

    def reject(candidate: Settings) -> None:
        raise StrategyError("nuclear.clj: unbalanced parenthesis at line 3")

    daemon.reload_validators.append(reject)
    write_config(workdir, base_config(workdir, token="another-token-0123456789"))
    assert not await daemon.reload()
    assert daemon.settings is settings


async def test_reload_rejects_a_strategy_file_that_does_not_parse(workdir: Path) -> None:
    settings, path = settings_for(workdir)
    daemon = Daemon(settings, config_path=path, secrets_dir=None, plugins=[], handle_signals=False)
    (workdir / "strategies/b.clj").write_text('(defsymphony "b" {} (weight-equal [(asset "SPY")')
    write_config(workdir, base_config(workdir, token="another-token-0123456789"))
    assert not await daemon.reload()
    assert daemon.settings is settings
    (workdir / "strategies/b.clj").write_text('(defsymphony "b" {} (weight-equal [(asset "TLT")]))')
    assert await daemon.reload()


def test_reload_helpers(workdir: Path) -> None:
    old, _ = settings_for(workdir)
    candidate, _ = settings_for(workdir, token="new-token-abcdefghijklmnop", port=1234)
    applied = apply_reloadable(old, candidate)
    assert changed_reloadable_keys(old, applied) == ["control_token"]
    assert restart_required_keys(applied, candidate) == ["http.port"]
    digests = strategy_digests(applied)
    assert len(digests) == 2 and all(len(v) == 12 for v in digests.values())


def test_build_clock_explicit_sim_start_and_speed(workdir: Path) -> None:
    settings, _ = settings_for(workdir)
    fast = settings.model_copy(
        update={"sim": settings.sim.model_copy(update={"speed": 60.0, "start": date(2024, 1, 2)})}
    )
    clock = build_clock(fast)
    assert isinstance(clock, AcceleratedClock) and clock.speed == 60.0
    assert clock.now().date() == date(2024, 1, 2) and clock.now().hour == 14  # 09:00 New York = 14:00 UTC


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_build_clock_is_wall_time_outside_sim(workdir: Path, mode: str) -> None:
    settings, _ = settings_for(workdir)
    assert isinstance(build_clock(settings.model_copy(update={"mode": mode})), RealClock)
