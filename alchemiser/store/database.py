"""The SQLite store: one WAL-mode file, versioned migrations, async access that never blocks the event loop.

``aiosqlite`` runs every statement on its own worker thread. One connection per process; an ``asyncio.Lock``
serialises transactions against single statements, so nothing leaks into someone else's open transaction.

* Rows are returned as :class:`sqlite3.Row` (index by position or column name; ``dict(row)`` for a plain dict).
* Money and quantities are stored as TEXT (``str(Decimal)``) and read back with ``Decimal(row["qty"])``.
* Outside :meth:`Store.transaction` every statement commits on its own (autocommit).
* Inside ``async with store.transaction():`` every store call made *by the same task* joins the transaction
  (``BEGIN IMMEDIATE`` … ``COMMIT``; ``ROLLBACK`` on any exception). Nested ``transaction()`` blocks become
  savepoints. Do not hand the store to a new task from inside a transaction and expect it to wait.

Migrations are ``alchemiser/store/migrations/NNNN_name.sql`` files, applied in numeric order at open, each in its
own transaction and recorded in ``schema_version``. Migration files must not contain BEGIN/COMMIT themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from alchemiser.clock import Clock, RealClock
from alchemiser.errors import StoreError
from alchemiser.process.crashpoints import crash_point
from alchemiser.store.file_check import store_file_problems

Params = Sequence[Any] | dict[str, Any]

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_ACTIVE: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar("alchemiser_store_tx", default=())


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class ExecuteResult:
    rowcount: int
    lastrowid: int | None


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read the migration files (the package's own unless ``directory`` is given), sorted by version."""
    found: list[Migration] = []
    if directory is None:
        entries = [
            (e.name, e.read_text(encoding="utf-8"))
            for e in resources.files("alchemiser.store").joinpath("migrations").iterdir()
            if e.name.endswith(".sql")
        ]
    else:
        entries = [(p.name, p.read_text(encoding="utf-8")) for p in directory.iterdir() if p.name.endswith(".sql")]
    for name, sql in entries:
        match = _MIGRATION_NAME.match(name)
        if match is None:
            raise StoreError(f"migration file {name!r} is not named NNNN_lowercase_name.sql")
        found.append(Migration(version=int(match.group(1)), name=match.group(2), sql=sql))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise StoreError(f"duplicate migration versions: {duplicates}")
    return found


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (triggers with inner ``;`` stay whole)."""
    statements: list[str] = []
    buffer = ""
    pieces = script.split(";")
    for index, piece in enumerate(pieces):
        buffer += piece if index == len(pieces) - 1 else piece + ";"
        if sqlite3.complete_statement(buffer):
            if _strip_comments(buffer).strip(" \n\t;"):
                statements.append(buffer.strip())
            buffer = ""
    if _strip_comments(buffer).strip(" \n\t;"):
        raise StoreError(f"incomplete SQL statement at the end of the script: {buffer.strip()[:80]!r}")
    return statements


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


class Store:
    """Async access to the SQLite file. Create with ``await Store.open(path)``; ``await store.close()`` at the end."""

    def __init__(self, connection: aiosqlite.Connection, path: Path, clock: Clock) -> None:
        self._conn = connection
        self.path = path
        self._clock = clock
        self._lock = asyncio.Lock()
        self._savepoints = 0
        self._closed = False
        self.write_fault: str | None = None
        self._fault_listeners: list[FaultListener] = []

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        migrations: Sequence[Migration] | None = None,
        clock: Clock | None = None,
        busy_timeout_ms: int = 5000,
    ) -> Store:
        """Open (creating if needed) the file, set WAL/foreign keys/busy timeout, apply pending migrations."""
        file = Path(path)
        known = max((m.version for m in (load_migrations() if migrations is None else migrations)), default=0)
        problems = store_file_problems(file, known)
        if problems:
            raise StoreError("; ".join(problems))
        if str(file) != ":memory:":
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store.path: cannot create directory {file.parent}: {exc.strerror}") from exc
        try:
            conn = await aiosqlite.connect(str(file), isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"store.path: cannot open {file}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        store = cls(conn, file, clock or RealClock())
        try:
            await store._configure(busy_timeout_ms)
            await store._migrate(load_migrations() if migrations is None else migrations)
        except BaseException:
            await conn.close()
            raise
        if str(file) != ":memory:":
            os.chmod(file, 0o600)
        return store

    async def _configure(self, busy_timeout_ms: int) -> None:
        await self._raw(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        row = await self._raw_fetchone("PRAGMA journal_mode = WAL")
        mode = str(row[0]).lower() if row else ""
        if mode != "wal" and str(self.path) != ":memory:":
            raise StoreError(f"store.path: {self.path} cannot use WAL journaling (got {mode!r})")
        await self._raw("PRAGMA synchronous = FULL")
        await self._raw("PRAGMA foreign_keys = ON")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"closing the store failed: {exc}") from exc

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------------------------------- statements

    async def execute(self, sql: str, params: Params = ()) -> ExecuteResult:
        async with self._statement():
            try:
                cursor = await self._conn.execute(sql, params)
                result = ExecuteResult(rowcount=cursor.rowcount, lastrowid=cursor.lastrowid)
                await cursor.close()
            except sqlite3.Error as exc:
                raise self._error(exc, sql) from exc
            return result

    async def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> int:
        async with self._statement():
            try:
                cursor = await self._conn.executemany(sql, seq_of_params)
                count = cursor.rowcount
                await cursor.close()
            except sqlite3.Error as exc:
                raise self._error(exc, sql) from exc
            return count

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._statement():
            return await self._raw_fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._statement():
            try:
                rows = await self._conn.execute_fetchall(sql, params)
            except sqlite3.Error as exc:
                raise self._error(exc, sql) from exc
            return list(rows)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or ``None``."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rollback on any exception. Nested blocks use savepoints."""
        self._check_open()
        if self._in_transaction():
            self._savepoints += 1
            name = f"sp_{self._savepoints}"
            await self._raw(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                await self._raw(f"ROLLBACK TO {name}")
                await self._raw(f"RELEASE {name}")
                raise
            await self._raw(f"RELEASE {name}")
            return
        async with self._lock:
            token = _ACTIVE.set((*_ACTIVE.get(), id(self)))
            try:
                await self._raw("BEGIN IMMEDIATE")
                try:
                    yield self
                except BaseException:
                    await self._rollback()
                    raise
                crash_point("during_store_write")
                await self._raw("COMMIT")
            finally:
                _ACTIVE.reset(token)

    async def _rollback(self) -> None:
        if self._conn.in_transaction:
            await self._raw("ROLLBACK")

    # ------------------------------------------------------------------------------------------- migrations

    async def schema_version(self) -> int:
        value = await self.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(value or 0)

    async def applied_migrations(self) -> list[sqlite3.Row]:
        return await self.fetchall("SELECT version, name, checksum, applied_at FROM schema_version ORDER BY version")

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        await self._raw(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        known = max((m.version for m in migrations), default=0)
        current = await self.schema_version()
        if current > known:
            raise StoreError(
                f"store {self.path} has schema version {current}, newer than this alchemiser knows ({known}); "
                "refusing to run an older version against it"
            )
        for migration in migrations:
            async with self.transaction():
                applied = await self.fetchone(
                    "SELECT checksum FROM schema_version WHERE version = ?", (migration.version,)
                )
                if applied is not None:
                    continue
                for statement in split_statements(migration.sql):
                    if re.match(r"^\s*(BEGIN|COMMIT|END|ROLLBACK)\b", _strip_comments(statement), re.IGNORECASE):
                        raise StoreError(
                            f"migration {migration.version:04d}_{migration.name}: must not control transactions"
                        )
                    try:
                        await self._conn.execute(statement)
                    except sqlite3.Error as exc:
                        raise StoreError(
                            f"migration {migration.version:04d}_{migration.name} failed: {exc}",
                            statement=statement[:200],
                        ) from exc
                await self.execute(
                    "INSERT INTO schema_version (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                    (migration.version, migration.name, migration.checksum, self._clock.now().isoformat()),
                )

    # ------------------------------------------------------------------------------------------- write faults

    def add_fault_listener(self, listener: FaultListener) -> None:
        """``listener(reason)`` when writes start failing (disk full, read-only, I/O error); ``listener(None)``
        once :meth:`probe_write` succeeds again (not any small write that happened to fit)."""
        self._fault_listeners.append(listener)

    async def probe_write(self) -> str | None:
        """Only while a fault is known, to notice recovery: commit one write that needs fresh pages (a value the
        size of :data:`PROBE_BYTES`, put back in the same transaction); the current fault, if any.

        A tiny in-place update can fit in a page the file already has, so it would report a store that cannot
        grow (a full disk, a page limit) writable and the fault would flap with every write that did not fit."""
        if self.write_fault is not None:
            now = self._clock.now().isoformat()
            with contextlib.suppress(StoreError):
                async with self.transaction():
                    await self.execute("UPDATE store_probe SET at = ? WHERE id = 1", ("." * PROBE_BYTES,))
                    await self.execute("UPDATE store_probe SET at = ? WHERE id = 1", (now,))
                self._set_fault(None)
        return self.write_fault

    def _error(self, exc: sqlite3.Error, sql: str) -> StoreError:
        fault = write_fault_of(exc)
        if fault is not None:
            self._set_fault(f"{fault}: {exc} (store {self.path})")
        return _wrap(exc, sql)

    def _set_fault(self, fault: str | None) -> None:
        if fault == self.write_fault:
            return
        self.write_fault = fault
        for listener in list(self._fault_listeners):
            listener(fault)

    # ------------------------------------------------------------------------------------------- internals

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def _in_transaction(self) -> bool:
        return id(self) in _ACTIVE.get()

    @asynccontextmanager
    async def _statement(self) -> AsyncIterator[None]:
        self._check_open()
        if self._in_transaction():
            yield
            return
        async with self._lock:
            yield

    async def _raw(self, sql: str) -> None:
        try:
            await self._conn.execute(sql)
        except sqlite3.Error as exc:
            raise self._error(exc, sql) from exc

    async def _raw_fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        try:
            cursor = await self._conn.execute(sql, params)
            row = await cursor.fetchone()
            await cursor.close()
        except sqlite3.Error as exc:
            raise self._error(exc, sql) from exc
        return row


FaultListener = Callable[[str | None], None]
PROBE_BYTES = 16_384  # the recovery probe's write: four pages of the default size, never stored
_WRITE_FAULTS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the store is read-only",
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_CANTOPEN": "the store cannot be opened",
}


def write_fault_of(exc: sqlite3.Error) -> str | None:
    """What a SQLite error says about the disk (full, read-only, I/O), or ``None`` for any other error."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    for prefix, fault in _WRITE_FAULTS.items():
        if name.startswith(prefix):
            return fault
    return None


def known_schema_version() -> int:
    """The newest schema version this code's migrations create."""
    return max((m.version for m in load_migrations()), default=0)


def _wrap(exc: sqlite3.Error, sql: str) -> StoreError:
    first_line = " ".join(sql.split())[:120]
    return StoreError(f"{type(exc).__name__}: {exc} (in: {first_line})", sqlite_error=type(exc).__name__)
