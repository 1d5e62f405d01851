"""Retention: what the store forgets, so a daemon running for years keeps a store of bounded size.

* **Bar cache** — bars of sessions more than ``bar_cache_days`` calendar days old are deleted and each symbol's
  coverage starts at the cutoff instead (it stays one contiguous range, so a decision that ever needs older bars
  simply fetches them again).
* **Order events** — raw ``trade_updates`` events (``execution_order_events``) received more than ``event_days``
  ago. The fills they produced live on in ``execution_fills`` (kept: reconciliation and the books read them), so
  forgetting an event can never lose or double a fill.
* **Position snapshots** — superseded snapshots taken more than ``event_days`` ago; the latest one (the
  reconciliation baseline) is always kept.

The audit journal is append-only by design (a trigger refuses deletes) and is not touched. ``None`` keeps a table
forever. The scheduler applies the policy once a day, after the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alchemiser.config import StoreSettings
from alchemiser.logging import get_logger
from alchemiser.store.database import Store

log = get_logger("store")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    bar_cache_days: int | None = 1100
    event_days: int | None = 120

    def __post_init__(self) -> None:
        for name in ("bar_cache_days", "event_days"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"retention {name} must be ≥ 1 day or None (keep forever), got {value}")


def policy_from(settings: StoreSettings) -> RetentionPolicy:
    """``[store] bar_cache_days`` / ``event_days`` (0 = keep forever)."""
    return RetentionPolicy(bar_cache_days=settings.bar_cache_days or None, event_days=settings.event_days or None)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    bars: int = 0
    coverage_dropped: int = 0
    order_events: int = 0
    snapshots: int = 0

    @property
    def deleted(self) -> int:
        return self.bars + self.order_events + self.snapshots


async def apply_retention(store: Store, policy: RetentionPolicy, now: datetime) -> RetentionReport:
    """Delete what ``policy`` lets go of, as of ``now``, in one transaction."""
    now = now.astimezone(UTC)  # stored times are ISO-8601 UTC text: compared as strings
    bars = dropped = events = snapshots = 0
    async with store.transaction() as tx:
        if policy.bar_cache_days is not None:
            cutoff = (now - timedelta(days=policy.bar_cache_days)).date().isoformat()
            bars = (await tx.execute("DELETE FROM bar_cache WHERE session_date < ?", (cutoff,))).rowcount
            dropped = (await tx.execute("DELETE FROM bar_cache_coverage WHERE last_date < ?", (cutoff,))).rowcount
            await tx.execute("UPDATE bar_cache_coverage SET first_date = ? WHERE first_date < ?", (cutoff, cutoff))
        if policy.event_days is not None:
            horizon = (now - timedelta(days=policy.event_days)).isoformat()
            events = (await tx.execute("DELETE FROM execution_order_events WHERE received_at < ?", (horizon,))).rowcount
            snapshots = (
                await tx.execute(
                    "DELETE FROM position_snapshots WHERE taken_at < ? "
                    "AND snapshot_id <> (SELECT MAX(snapshot_id) FROM position_snapshots)",
                    (horizon,),
                )
            ).rowcount
    report = RetentionReport(bars, dropped, events, snapshots)
    if report.deleted:
        log.info("store_retention", bars=bars, coverage_dropped=dropped, order_events=events, snapshots=snapshots)
    return report
