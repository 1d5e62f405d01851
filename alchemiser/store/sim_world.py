"""Which simulated world a store belongs to (the id the embedded exchange's saved state also carries)."""

from __future__ import annotations

from datetime import datetime

from alchemiser.store.database import Store


async def recorded_world(store: Store) -> str | None:
    """The world id recorded in ``store`` (``None`` before the first sim run on it)."""
    value = await store.fetchval("SELECT world_id FROM sim_world WHERE id = 1")
    return None if value is None else str(value)


async def record_world(store: Store, world_id: str, at: datetime) -> None:
    """Record ``world_id`` as this store's world (first sim run only; an existing id is never overwritten)."""
    await store.execute(
        "INSERT INTO sim_world (id, world_id, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
        (world_id, at.isoformat()),
    )


async def has_trading_history(store: Store) -> bool:
    """Whether the store already holds decisions or orders (from a world whose exchange is not known)."""
    value = await store.fetchval("SELECT EXISTS (SELECT 1 FROM decisions) OR EXISTS (SELECT 1 FROM execution_orders)")
    return bool(value)
