"""The daemon's scheduled backup: every ``store.backup_interval_hours`` (24 by default) an online copy of the store
(``store/backup.py``) into ``store.backup_dir`` (default ``backups/`` beside the store), keeping the newest
``store.backup_keep`` (0 turns it off). The first backup is taken one interval after start, not at start.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path

from alchemiser.clock import Clock
from alchemiser.daemon.context import DaemonContext
from alchemiser.errors import StoreError
from alchemiser.logging import get_logger
from alchemiser.process.actor import Actor
from alchemiser.store.backup import SIM_STATE_SETTLE_SECONDS, backup_name, backup_to, default_backup_dir, prune

log = get_logger("backup")


class DailyBackup(Actor):
    def __init__(self, store_path: Path, directory: Path, *, keep: int, interval: float, clock: Clock) -> None:
        super().__init__("daily_backup", clock, heartbeat_timeout=interval + 3600.0)
        self._store_path = store_path
        self._directory = directory
        self._keep = keep
        self._interval = interval
        self.taken: list[Path] = []

    async def run(self) -> None:
        while not self.stop_requested:
            await self.sleep(self._interval)
            if not self.stop_requested:
                await self.take()

    async def take(self) -> Path | None:
        target = self._directory / backup_name(self._store_path, self.clock.now().astimezone(UTC))
        try:
            # the daemon runs: a sim exchange state is copied once saved after the store copy
            written = await asyncio.to_thread(
                backup_to, self._store_path, target, state_settle=SIM_STATE_SETTLE_SECONDS
            )
        except (StoreError, OSError) as exc:
            log.error("backup.failed", error=str(exc), target=str(target))
            return None
        removed = prune(self._directory, self._store_path.stem, self._keep)
        self.taken.append(written)
        log.info("backup.taken", path=str(written), pruned=len(removed))
        return written


class BackupPlugin:
    name = "backup"

    def __init__(self) -> None:
        self.actor: DailyBackup | None = None

    async def setup(self, ctx: DaemonContext) -> None:
        store = ctx.settings.store
        if store.backup_keep == 0:
            return
        self.actor = DailyBackup(
            store.path,
            store.backup_dir or default_backup_dir(store.path),
            keep=store.backup_keep,
            interval=store.backup_interval_hours * 3600.0,
            clock=ctx.runtime_clock,
        )
        ctx.add_actor(self.actor, critical=False)
