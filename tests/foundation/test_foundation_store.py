"""The SQLite store on a real file: migrations, WAL, transactions, append-only audit, latched kill switch, runs."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alchemiser.clock import ManualClock
from alchemiser.errors import StoreError
from alchemiser.store import AuditLog, KillSwitch, KillSwitchState, Migration, RunRepository, Store, load_migrations
from alchemiser.store.database import split_statements

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


async def test_open_applies_migrations_and_wal(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "sub" / "store.sqlite"
    store = await Store.open(path, clock=clock)
    try:
        applied = await store.applied_migrations()
        assert applied[0]["version"] == 1 and applied[0]["name"] == "foundation"
        assert [m.version for m in load_migrations()] == [r["version"] for r in applied]
        assert (await store.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
        assert await store.fetchval("PRAGMA foreign_keys") == 1
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        await store.close()
    again = await Store.open(path, clock=clock)  # idempotent re-open
    assert await again.schema_version() == max(m.version for m in load_migrations())
    await again.close()


async def test_failed_migration_rolls_back_and_is_not_recorded(tmp_path: Path) -> None:
    migrations = [
        Migration(1, "one", "CREATE TABLE a (x INTEGER);"),
        Migration(2, "two", "CREATE TABLE b (y INTEGER); INSERT INTO nope VALUES (1);"),
    ]
    with pytest.raises(StoreError, match="migration 0002_two failed"):
        await Store.open(tmp_path / "s.sqlite", migrations=migrations)
    store = await Store.open(tmp_path / "s.sqlite", migrations=migrations[:1])
    assert await store.schema_version() == 1
    assert await store.fetchone("SELECT name FROM sqlite_master WHERE name = 'b'") is None
    await store.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    store = await Store.open(
        tmp_path / "s.sqlite", migrations=[Migration(1, "a", "SELECT 1;"), Migration(2, "b", "SELECT 1;")]
    )
    await store.close()
    with pytest.raises(StoreError, match="newer than this alchemiser knows"):
        await Store.open(tmp_path / "s.sqlite", migrations=[Migration(1, "a", "SELECT 1;")])


def test_migration_file_names_are_checked(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("SELECT 1;")
    assert [m.name for m in load_migrations(tmp_path)] == ["ok"]
    (tmp_path / "1_Bad-Name.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match="NNNN_lowercase_name"):
        load_migrations(tmp_path)
    (tmp_path / "1_Bad-Name.sql").unlink()
    (tmp_path / "0001_dup.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match="duplicate migration versions"):
        load_migrations(tmp_path)


def test_split_statements_keeps_triggers_whole() -> None:
    script = (
        "-- comment; with semicolon\nCREATE TABLE t (x TEXT DEFAULT ';');\n"
        "CREATE TRIGGER tr BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END;\n"
    )
    parts = split_statements(script)
    assert len(parts) == 2 and parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")
    with pytest.raises(StoreError, match="incomplete"):
        split_statements("CREATE TABLE x (a")


async def test_migration_may_not_control_transactions(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="must not control transactions"):
        await Store.open(tmp_path / "s.sqlite", migrations=[Migration(1, "bad", "BEGIN; SELECT 1; COMMIT;")])


async def test_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        await Store.open(path)


async def test_transaction_commit_rollback_and_savepoint(tmp_path: Path, clock: ManualClock) -> None:
    store = await Store.open(tmp_path / "s.sqlite", clock=clock)
    await store.execute("CREATE TABLE t (x INTEGER)")
    async with store.transaction():
        await store.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError):
            async with store.transaction():
                await store.execute("INSERT INTO t VALUES (2)")
                raise RuntimeError("inner fails")
        await store.execute("INSERT INTO t VALUES (3)")
    with pytest.raises(ValueError):
        async with store.transaction():
            await store.execute("INSERT INTO t VALUES (4)")
            raise ValueError("outer fails")
    assert [r[0] for r in await store.fetchall("SELECT x FROM t ORDER BY x")] == [1, 3]
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.execute("SELECT 1")


async def test_concurrent_statements_do_not_join_a_foreign_transaction(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    await store.execute("CREATE TABLE t (x INTEGER)")
    entered = asyncio.Event()
    release = asyncio.Event()

    async def failing_tx() -> None:
        with pytest.raises(RuntimeError):
            async with store.transaction():
                await store.execute("INSERT INTO t VALUES (1)")
                entered.set()
                await release.wait()
                raise RuntimeError("rollback")

    task = asyncio.create_task(failing_tx())
    await entered.wait()
    other = asyncio.create_task(store.execute("INSERT INTO t VALUES (2)"))  # must wait, not join
    await asyncio.sleep(0.05)
    assert not other.done()
    release.set()
    await asyncio.wait_for(asyncio.gather(task, other), 10)
    assert [r[0] for r in await store.fetchall("SELECT x FROM t")] == [2]
    await store.close()


async def test_sql_errors_are_store_errors(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    with pytest.raises(StoreError, match="no such table"):
        await store.fetchall("SELECT * FROM missing")
    await store.close()


async def test_audit_is_append_only(tmp_path: Path, clock: ManualClock) -> None:
    store = await Store.open(tmp_path / "s.sqlite", clock=clock)
    audit = AuditLog(store, clock, run_id="run-1")
    first = await audit.append("order.intent", actor="execution", data={"qty": "1.5"}, order_id="o-1")
    clock.advance(1)
    await audit.append("decision.made", decision_id="d-1")
    with pytest.raises(StoreError, match="append-only"):
        await store.execute("UPDATE audit_events SET kind = 'x' WHERE id = ?", (first,))
    with pytest.raises(StoreError, match="append-only"):
        await store.execute("DELETE FROM audit_events")
    events = await audit.recent()
    assert [e.kind for e in events] == ["decision.made", "order.intent"]
    assert events[1].data == {"qty": "1.5"} and events[1].order_id == "o-1" and events[1].run_id == "run-1"
    assert [e.kind for e in await audit.for_decision("d-1")] == ["decision.made"]
    assert [e.kind for e in await audit.recent(kind="order.intent")] == ["order.intent"]
    await store.close()
    raw = sqlite3.connect(tmp_path / "s.sqlite")  # the triggers hold for any client, not only ours
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("DELETE FROM audit_events")
    raw.close()


async def test_kill_switch_latches_across_reopen(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, clock=clock)
    seen: list[KillSwitchState] = []

    async def listener(state: KillSwitchState) -> None:
        seen.append(state)

    switch = KillSwitch(store, AuditLog(store, clock), clock)
    assert switch.engaged  # fail closed before load
    assert (await switch.load()).engaged is False
    switch.add_listener(listener)
    await switch.engage(reason="drawdown", by="cli", action="cancel")
    assert switch.engaged and seen[-1].action == "cancel"
    with pytest.raises(ValueError):
        await switch.engage(reason="x", by="y", action="explode")  # type: ignore[arg-type]
    await store.close()

    store = await Store.open(path, clock=clock)
    switch = KillSwitch(store, AuditLog(store, clock), clock)
    state = await switch.load()
    assert state.engaged and state.reason == "drawdown" and state.changed_by == "cli" and state.action == "cancel"
    await switch.resume(reason="checked", by="operator")
    assert not (await switch.load()).engaged
    kinds = [e.kind for e in await AuditLog(store, clock).recent()]
    assert kinds == ["kill_switch.resumed", "kill_switch.engaged"]
    await store.close()


async def test_runs_left_running_are_marked_crashed(tmp_path: Path, clock: ManualClock) -> None:
    store = await Store.open(tmp_path / "s.sqlite", clock=clock)
    runs = RunRepository(store, clock)
    await runs.start("r1", mode="sim", version="0.1.0")
    await runs.start("r2", mode="sim", version="0.1.0")
    await runs.finish("r2", reason="signal")
    assert await runs.mark_abandoned() == ["r1"]
    r1 = await runs.get("r1")
    assert r1 is not None and r1.status == "crashed"
    r2 = await runs.get("r2")
    assert r2 is not None and r2.status == "stopped" and r2.exit_reason == "signal" and r2.ended_at is not None
    assert {r.run_id for r in await runs.recent()} == {"r1", "r2"}
    assert await runs.get("nope") is None
    await store.close()


async def test_migration_numbering_gaps_are_accepted(tmp_path: Path) -> None:
    """Helpers reserve numbers (0005, 0006 …): a store must open with a gap and apply a late lower number after."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    (folder / "0007_c.sql").write_text("CREATE TABLE c (x INTEGER);")
    store = await Store.open(tmp_path / "gap.sqlite", migrations=load_migrations(folder))
    await store.close()
    (folder / "0005_b.sql").write_text("CREATE TABLE b (x INTEGER);")
    store = await Store.open(tmp_path / "gap.sqlite", migrations=load_migrations(folder))
    try:
        assert [r["version"] for r in await store.applied_migrations()] == [1, 5, 7]
        assert await store.fetchall("SELECT * FROM b") == []
    finally:
        await store.close()
