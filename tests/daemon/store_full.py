"""A store that cannot grow, without mount rights: SQLite's ``PRAGMA max_page_count``.

Past the limit the real SQLite engine answers SQLITE_FULL ("database or disk is full") exactly as it does on a full
disk. The limit belongs to a connection, so it is set on the store's own connection; a second connection (with the
same limit) then fills the free pages with a scratch table, so no write that needs a fresh page can succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from alchemiser.store.database import Store


def _fill(path: Path, limit: int) -> None:
    db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
    try:
        db.execute(f"PRAGMA max_page_count = {limit}")
        for size in (65_536, 4096, 512, 64, 1):
            with contextlib.suppress(sqlite3.OperationalError):  # SQLITE_FULL: the next, smaller size
                while True:
                    db.execute("INSERT INTO disk_full_filler (room) VALUES (zeroblob(?))", (size,))
    finally:
        db.close()


class PageLimit:
    """``await fill()`` caps ``store`` at its current size and fills it; ``await release()`` lifts the cap."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._original: int | None = None

    async def fill(self) -> None:
        await self._store.execute("CREATE TABLE IF NOT EXISTS disk_full_filler (room BLOB)")
        self._original = int(await self._store.fetchval("PRAGMA max_page_count"))
        pages = int(await self._store.fetchval("PRAGMA page_count"))
        limit = int(await self._store.fetchval(f"PRAGMA max_page_count = {pages}"))
        await asyncio.to_thread(_fill, self._store.path, limit)

    async def release(self) -> None:
        """Space returns (the daemon has to notice by itself)."""
        if self._original is not None:
            await self._store.fetchval(f"PRAGMA max_page_count = {self._original}")

    async def remove_filler(self) -> None:
        await self._store.execute("DROP TABLE IF EXISTS disk_full_filler")
