"""Notifier delivery to a real local webhook (apprise json://), retries, neutral mode, drops, bad config."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr

from alchemiser.clock import ManualClock, RealClock
from alchemiser.errors import ConfigError
from alchemiser.notify import (
    AppriseChannel,
    Failure,
    KillSwitchChanged,
    Message,
    NotificationError,
    Notifier,
    ReadinessChanged,
    RunSummary,
    TradeLine,
    channels_from_urls,
    render,
)
from tests.notify.webhook_receiver import WebhookReceiver

NOW = datetime(2024, 3, 5, 20, 50, tzinfo=UTC)


def summary() -> RunSummary:
    return RunSummary(
        decision_id="d-1",
        session="2024-03-05",
        at=NOW,
        trigger="schedule",
        trades=(
            TradeLine("SPY", "buy", Decimal(10), Decimal(10), Decimal("500.10"), Decimal("500.00"), "filled"),
            TradeLine("TLT", "sell", Decimal(5), Decimal(5), Decimal("90.00"), Decimal("90.05"), "filled"),
        ),
        targets={"main": {"SPY": Decimal("0.6"), "TLT": Decimal("0.4")}},
        strategy_pnl={"main": Decimal("123.45")},
        equity=Decimal("100123.45"),
        cash=Decimal("512.00"),
    )


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = await WebhookReceiver().start()
    yield r
    await r.stop()


async def _run(notifier: Notifier) -> asyncio.Task[None]:
    return asyncio.create_task(notifier.run())


async def _stop(task: asyncio.Task[None], notifier: Notifier) -> None:
    await notifier.drain(5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    notifier.close()


async def test_run_summary_reaches_local_webhook_with_trades_and_pnl(receiver: WebhookReceiver) -> None:
    notifier = Notifier(channels_from_urls([SecretStr(receiver.url())], timeout_seconds=5), RealClock())
    task = await _run(notifier)
    notifier.publish(summary())
    got = await receiver.wait_for(1)
    await _stop(task, notifier)
    data = got[0].data
    assert got[0].path == "/hook"
    assert data["kind"] == "run_summary"
    assert data["data"]["equity"] == "100123.45"
    assert data["data"]["strategy_pnl"] == {"main": "123.45"}
    spy = next(t for t in data["data"]["trades"] if t["symbol"] == "SPY")
    assert spy["slippage_bps"] == "2.0"  # paid 500.10 vs mid 500.00
    tlt = next(t for t in data["data"]["trades"] if t["symbol"] == "TLT")
    assert tlt["slippage_bps"] == "5.6"  # received 90.00 vs mid 90.05
    assert "P&L main: 123.45" in data["text"]
    assert notifier.stats()["json#0"]["sent"] == 1


async def test_neutral_mode_omits_account_values_and_pnl(receiver: WebhookReceiver) -> None:
    notifier = Notifier(channels_from_urls([SecretStr(receiver.url())], timeout_seconds=5), RealClock(), neutral=True)
    task = await _run(notifier)
    notifier.publish(summary())
    got = await receiver.wait_for(1)
    await _stop(task, notifier)
    raw = got[0].body["message"]
    for secret_number in ("100123.45", "123.45", "512.00", "500.10", "5001"):
        assert secret_number not in raw
    data = got[0].data["data"]
    assert "equity" not in data and "strategy_pnl" not in data
    assert {t["symbol"] for t in data["trades"]} == {"SPY", "TLT"}
    assert all("qty" not in t and "notional" not in t for t in data["trades"])


async def test_failing_endpoint_is_retried_with_backoff(receiver: WebhookReceiver) -> None:
    receiver.fail_next = 2
    notifier = Notifier(
        channels_from_urls([SecretStr(receiver.url())], timeout_seconds=5),
        RealClock(),
        backoff_initial=0.01,
        max_attempts=4,
    )
    task = await _run(notifier)
    notifier.publish(Failure("execution", "order rejected", NOW))
    got = await receiver.wait_for(1)
    await _stop(task, notifier)
    assert got[0].data["kind"] == "failure"
    assert receiver.attempts == 3
    assert notifier.stats()["json#0"] == {"sent": 1, "failed": 0, "retries": 2, "dropped": 0, "queued": 0}


async def test_gives_up_after_max_attempts_and_counts_failure(receiver: WebhookReceiver) -> None:
    receiver.fail_next = 100
    outcomes: list[str] = []
    notifier = Notifier(
        channels_from_urls([SecretStr(receiver.url())], timeout_seconds=5),
        RealClock(),
        backoff_initial=0.01,
        max_attempts=3,
        on_outcome=lambda _c, o: outcomes.append(o),
    )
    task = await _run(notifier)
    notifier.publish(KillSwitchChanged(True, "drawdown guard", "risk", NOW))
    assert await notifier.drain(10)
    await _stop(task, notifier)
    assert receiver.attempts == 3
    assert outcomes == ["retry", "retry", "failed"]
    assert notifier.stats()["json#0"]["failed"] == 1


class _StuckChannel:
    """A channel whose sends never finish until released (a hung SMTP server, say)."""

    name = "stuck#0"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        await self.release.wait()
        self.sent.append(message)

    def close(self) -> None:
        return None


async def test_stuck_channel_never_blocks_publisher_nor_other_channels(receiver: WebhookReceiver) -> None:
    stuck = _StuckChannel()
    good = AppriseChannel(SecretStr(receiver.url()), index=1, timeout_seconds=5)
    notifier = Notifier([stuck, good], RealClock(), queue_size=3)
    task = await _run(notifier)
    loop = asyncio.get_running_loop()
    publishing = 0.0
    for i in range(10):
        started = loop.time()
        notifier.publish(Failure("x", f"event {i}", NOW))
        publishing += loop.time() - started
        await receiver.wait_for(i + 1)  # the healthy channel gets every event while the other one is stuck
    assert publishing < 1.0  # publish never waits for a channel (generous bound)
    stats = notifier.stats()
    assert stats["stuck#0"]["dropped"] == 6  # one in flight, three queued
    assert stats["json#1"]["dropped"] == 0
    stuck.release.set()
    assert await notifier.drain(10)
    await _stop(task, notifier)
    kinds = [m.kind for m in stuck.sent]
    assert "notifications_dropped" in kinds  # drops are made visible on the channel once it recovers
    dropped_msg = next(m for m in stuck.sent if m.kind == "notifications_dropped")
    assert dropped_msg.payload["count"] == stats["stuck#0"]["dropped"]


async def test_hung_http_endpoint_times_out(receiver: WebhookReceiver) -> None:
    receiver.hang_seconds = 3
    channel = AppriseChannel(SecretStr(receiver.url()), timeout_seconds=0.3)
    with pytest.raises(NotificationError, match="timed out"):
        await channel.send(render(Failure("x", "y", NOW), neutral=False))
    channel.close()


async def test_backoff_uses_injected_clock() -> None:
    class Failing:
        name = "fail#0"
        calls = 0

        async def send(self, message: Message) -> None:
            Failing.calls += 1
            raise NotificationError("nope")

        def close(self) -> None:
            return None

    clock = ManualClock(NOW)
    notifier = Notifier([Failing()], clock, backoff_initial=30, max_attempts=3)
    task = await _run(notifier)
    notifier.publish(Failure("x", "y", NOW))
    for _ in range(50):
        await asyncio.sleep(0)
    assert Failing.calls == 1  # waiting 30 s of clock time, not wall time
    clock.advance(30)
    for _ in range(50):
        await asyncio.sleep(0)
    assert Failing.calls == 2
    clock.advance(60)
    assert await notifier.drain(5)
    await _stop(task, notifier)
    assert Failing.calls == 3


def test_bad_url_names_position_not_value() -> None:
    with pytest.raises(ConfigError) as info:
        channels_from_urls([SecretStr("json://127.0.0.1:1/x"), SecretStr("nonsense-token-123")], timeout_seconds=1)
    assert "nonsense-token-123" not in str(info.value)
    with pytest.raises(ConfigError, match=r"notifications.urls\[0\]") as info2:
        channels_from_urls([SecretStr("notascheme://secret-abc")], timeout_seconds=1)
    assert "secret-abc" not in str(info2.value)


def test_channel_name_never_contains_the_url() -> None:
    ch = AppriseChannel(SecretStr("slack://TokenA/TokenB/TokenC/#chan"), index=2)
    assert ch.name == "slack#2"
    ch.close()


def test_render_readiness_and_kill_switch() -> None:
    lost = render(ReadinessChanged(False, ("stream down", "data stale: SPY"), NOW), neutral=True)
    assert lost.level.value == "failure" and "data stale: SPY" in lost.body
    ks = render(KillSwitchChanged(True, "operator", "cli", NOW), neutral=False)
    assert "ENGAGED" in ks.title


def test_notifier_validates_arguments() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        Notifier([], RealClock(), queue_size=1)
    with pytest.raises(ValueError, match="max_attempts"):
        Notifier([], RealClock(), max_attempts=0)
