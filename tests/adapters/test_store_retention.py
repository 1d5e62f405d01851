"""Store retention on a real SQLite file: old bars, order events and superseded snapshots go; what trading needs
(the latest snapshot, fills, the audit journal, a contiguous bar coverage) stays, and older bars come back on demand."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alchemiser.clock import ManualClock
from alchemiser.config import StoreSettings
from alchemiser.store.audit import AuditLog
from alchemiser.store.bar_cache import CachedDailyBars
from alchemiser.store.database import Store
from alchemiser.store.retention import RetentionPolicy, apply_retention, policy_from
from tests.adapters.test_alpaca_bar_cache import NOW, FakeSource

CUTOFF = date(2025, 9, 14)  # NOW - 180 days


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    instance = await Store.open(tmp_path / "alchemiser.db", clock=ManualClock(NOW))
    yield instance
    await instance.close()


async def add_event(store: Store, n: int, received: datetime) -> None:
    await store.execute(
        "INSERT INTO execution_order_events (client_order_id, broker_order_id, event, marker, status, filled_qty,"
        " received_at, payload) VALUES (?, ?, 'fill', ?, 'filled', '1', ?, '{}')",
        (f"alc-{n}", f"b-{n}", str(n), received.isoformat()),
    )


async def add_snapshot(store: Store, taken: datetime) -> None:
    await store.execute(
        "INSERT INTO position_snapshots (taken_at, source, positions) VALUES (?, 'decision', ?)",
        (taken.isoformat(), json.dumps({"SPY": "1"})),
    )


async def test_old_bars_go_and_coverage_stays_contiguous(store: Store) -> None:
    source = FakeSource()
    cache = CachedDailyBars(source, store, ManualClock(NOW))
    first = await cache.get_daily_bars(["SPY", "QQQ"], date(2025, 1, 2), date(2026, 3, 12))
    await store.execute(
        "INSERT INTO bar_cache_coverage (symbol, feed, first_date, last_date, fetched_at)"
        " VALUES ('GONE', 'iex', '2025-01-02', '2025-03-01', ?)",
        (NOW.isoformat(),),
    )
    report = await apply_retention(store, RetentionPolicy(bar_cache_days=180, event_days=None), NOW)
    assert report.bars == 2 * sum(1 for b in first["SPY"] if b.t.date() < CUTOFF) and report.coverage_dropped == 1
    assert await store.fetchval("SELECT MIN(session_date) FROM bar_cache") >= CUTOFF.isoformat()
    rows = await store.fetchall("SELECT symbol, first_date FROM bar_cache_coverage ORDER BY symbol")
    assert [(r["symbol"], r["first_date"]) for r in rows] == [("QQQ", "2025-09-14"), ("SPY", "2025-09-14")]
    # recent bars are still served from the cache; older ones are fetched again, once
    calls = len(source.calls)
    assert await cache.get_daily_bars(["SPY"], date(2026, 1, 5), date(2026, 3, 6)) == {
        "SPY": [b for b in first["SPY"] if date(2026, 1, 5) <= b.t.date() <= date(2026, 3, 6)]
    }
    assert len(source.calls) == calls
    again = await cache.get_daily_bars(["SPY"], date(2025, 1, 2), date(2026, 3, 12))
    assert again["SPY"] == first["SPY"] and len(source.calls) == calls + 1


async def test_old_events_and_superseded_snapshots_go_the_latest_snapshot_and_audit_stay(store: Store) -> None:
    old, recent = NOW - timedelta(days=200), NOW - timedelta(days=3)
    for n, at in enumerate([old, old, recent]):
        await add_event(store, n, at)
    await add_snapshot(store, old)
    await add_snapshot(store, old + timedelta(hours=1))
    await add_snapshot(store, recent)
    audit = AuditLog(store, clock=ManualClock(old))
    await audit.append("reconcile.ok", data={})
    report = await apply_retention(store, RetentionPolicy(bar_cache_days=None, event_days=120), NOW)
    assert (report.order_events, report.snapshots) == (2, 2)
    assert await store.fetchval("SELECT COUNT(*) FROM execution_order_events") == 1
    assert await store.fetchval("SELECT taken_at FROM position_snapshots") == recent.isoformat()
    assert await store.fetchval("SELECT COUNT(*) FROM audit_events") == 1  # append-only, never pruned


async def test_the_latest_snapshot_is_kept_however_old(store: Store) -> None:
    await add_snapshot(store, NOW - timedelta(days=900))
    await add_snapshot(store, NOW - timedelta(days=800))
    report = await apply_retention(store, RetentionPolicy(event_days=30), NOW)
    assert report.snapshots == 1
    assert await store.fetchval("SELECT COUNT(*) FROM position_snapshots") == 1


async def test_times_in_another_zone_are_compared_in_utc(store: Store) -> None:
    await add_event(store, 1, NOW - timedelta(days=10))
    eastern = NOW.astimezone(ZoneInfo("America/New_York"))
    assert (await apply_retention(store, RetentionPolicy(event_days=10), eastern + timedelta(hours=1))).order_events
    assert (await apply_retention(store, RetentionPolicy(event_days=10), eastern)).order_events == 0


def test_policy_from_settings_and_bad_values() -> None:
    assert policy_from(StoreSettings()) == RetentionPolicy(bar_cache_days=1100, event_days=120)
    assert policy_from(StoreSettings(bar_cache_days=0, event_days=0)) == RetentionPolicy(None, None)
    with pytest.raises(ValueError, match="event_days must be ≥ 1 day or None"):
        RetentionPolicy(event_days=0)


async def test_nothing_to_do_deletes_nothing(tmp_path: Path) -> None:
    fresh = await Store.open(tmp_path / "fresh.db", clock=ManualClock(NOW))
    try:
        report = await apply_retention(fresh, RetentionPolicy(), datetime(2026, 1, 1, tzinfo=UTC))
        assert report.deleted == 0
    finally:
        await fresh.close()
