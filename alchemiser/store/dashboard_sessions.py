"""Dashboard sessions (migration 0010): one row per logged-in browser, keyed by a hash of its cookie.

The repository stores what :class:`~alchemiser.web.dashboard.sessions.SessionStore` hands it; it never sees the
cookie itself. Times are wall-clock UTC, written with microseconds so that ISO text compares as time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from alchemiser.store.database import Store


@dataclass(frozen=True, slots=True)
class SessionRow:
    token_hash: str
    token_fingerprint: str
    client: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def _text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _row(row: sqlite3.Row) -> SessionRow:
    return SessionRow(
        token_hash=str(row["token_hash"]),
        token_fingerprint=str(row["token_fingerprint"]),
        client=str(row["client"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        last_seen_at=datetime.fromisoformat(row["last_seen_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
    )


class DashboardSessionRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def salt(self) -> bytes:
        """The store's salt for control-token fingerprints (written once by the migration)."""
        return bytes.fromhex(str(await self._store.fetchval("SELECT salt FROM dashboard_session_salt WHERE id = 1")))

    async def insert(self, session: SessionRow, *, keep_at_most: int) -> None:
        """Add ``session``; when ``keep_at_most`` sessions exist already, the oldest ones make room."""
        async with self._store.transaction() as tx:
            surplus = int(await tx.fetchval("SELECT COUNT(*) FROM dashboard_sessions")) - keep_at_most + 1
            if surplus > 0:
                await tx.execute(
                    "DELETE FROM dashboard_sessions WHERE token_hash IN "
                    "(SELECT token_hash FROM dashboard_sessions ORDER BY created_at LIMIT ?)",
                    (surplus,),
                )
            await tx.execute(
                "INSERT INTO dashboard_sessions (token_hash, token_fingerprint, client, created_at, last_seen_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session.token_hash,
                    session.token_fingerprint,
                    session.client,
                    _text(session.created_at),
                    _text(session.last_seen_at),
                    _text(session.expires_at),
                ),
            )

    async def get(self, token_hash: str) -> SessionRow | None:
        row = await self._store.fetchone("SELECT * FROM dashboard_sessions WHERE token_hash = ?", (token_hash,))
        return None if row is None else _row(row)

    async def touch(self, token_hash: str, at: datetime) -> None:
        await self._store.execute(
            "UPDATE dashboard_sessions SET last_seen_at = ? WHERE token_hash = ?", (_text(at), token_hash)
        )

    async def delete(self, token_hash: str) -> None:
        await self._store.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?", (token_hash,))

    async def prune(self, now: datetime, *, idle_since: datetime | None = None) -> int:
        """Delete sessions past their absolute end, or (with ``idle_since``) not seen since then; how many."""
        # Without an idle limit, last_seen_at is compared with the start of time: never idle.
        idle = _text(idle_since) if idle_since is not None else ""
        sql = "DELETE FROM dashboard_sessions WHERE expires_at <= ? OR last_seen_at <= ?"
        return (await self._store.execute(sql, (_text(now), idle))).rowcount

    async def count(self) -> int:
        return int(await self._store.fetchval("SELECT COUNT(*) FROM dashboard_sessions"))
