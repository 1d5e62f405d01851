"""Daemon runs: one row per process start, closed on a clean stop; rows left ``running`` were crashes."""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alchemiser.clock import Clock
from alchemiser.store.database import Store

RunStatus = Literal["running", "stopped", "crashed"]


@dataclass(frozen=True)
class Run:
    run_id: str
    started_at: datetime
    ended_at: datetime | None
    mode: str
    version: str
    pid: int
    hostname: str
    status: RunStatus
    exit_reason: str | None


def new_run_id(clock: Clock) -> str:
    """Sortable and unique: ``20260105T143000Z-1a2b3c4d``."""
    return f"{clock.now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


class RunRepository:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def mark_abandoned(self) -> list[str]:
        """Close every run still marked ``running`` (the process died without stopping); returns their ids."""
        async with self._store.transaction():
            rows = await self._store.fetchall("SELECT run_id FROM runs WHERE status = 'running'")
            ids = [str(r["run_id"]) for r in rows]
            await self._store.execute(
                "UPDATE runs SET status = 'crashed', exit_reason = 'found running at next start'"
                " WHERE status = 'running'"
            )
        return ids

    async def start(self, run_id: str, *, mode: str, version: str) -> Run:
        now = self._clock.now()
        await self._store.execute(
            "INSERT INTO runs (run_id, started_at, mode, version, pid, hostname, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, now.isoformat(), mode, version, os.getpid(), socket.gethostname(), "running"),
        )
        return Run(run_id, now, None, mode, version, os.getpid(), socket.gethostname(), "running", None)

    async def finish(self, run_id: str, *, status: RunStatus = "stopped", reason: str | None = None) -> None:
        await self._store.execute(
            "UPDATE runs SET ended_at = ?, status = ?, exit_reason = ? WHERE run_id = ?",
            (self._clock.now().isoformat(), status, reason, run_id),
        )

    async def get(self, run_id: str) -> Run | None:
        row = await self._store.fetchone("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return None if row is None else _run(row)

    async def recent(self, limit: int = 20) -> list[Run]:
        rows = await self._store.fetchall("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
        return [_run(r) for r in rows]


def _run(row: sqlite3.Row) -> Run:
    return Run(
        run_id=row["run_id"],
        started_at=datetime.fromisoformat(row["started_at"]),
        ended_at=datetime.fromisoformat(row["ended_at"]) if row["ended_at"] else None,
        mode=row["mode"],
        version=row["version"],
        pid=int(row["pid"]),
        hostname=row["hostname"],
        status=row["status"],
        exit_reason=row["exit_reason"],
    )
