"""``alchemiser backup`` / ``restore`` on a real SQLite store: a backup taken while writers commit is consistent and
restores to a store that opens, migrates and holds exactly a prefix of the writes; restore is refused while a daemon
holds the store; the daily backup keeps the newest ``backup_keep``."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alchemiser.cli.main import main
from alchemiser.clock import RealClock
from alchemiser.daemon.backups import DailyBackup
from alchemiser.daemon.store_lock import StoreLock
from alchemiser.store.audit import AuditLog
from alchemiser.store.backup import backup_to, prune
from alchemiser.store.database import Store


async def _store_with_rows(path: Path, rows: int) -> None:
    store = await Store.open(path)
    audit = AuditLog(store, RealClock(), "run-1")
    for n in range(rows):
        await audit.append("test.row", data={"n": n})
    await store.close()


def _rows(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [
            int(r[0]) for r in db.execute("SELECT json_extract(data, '$.n') FROM audit_events WHERE kind='test.row'")
        ]


def _writer(path: Path, stop: threading.Event, start: int) -> None:
    """Commits one numbered row at a time in its own transaction, as the daemon does, until told to stop."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    n = start
    while not stop.is_set():
        db.execute(
            "INSERT INTO audit_events (at, kind, actor, data) VALUES (?, 'test.row', 'writer', json_object('n', ?))",
            (datetime.now(UTC).isoformat(), n),
        )
        n += 1
    db.close()


async def test_backup_under_load_restores_a_consistent_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "var" / "alchemiser.sqlite"
    await _store_with_rows(store, 200)
    monkeypatch.setenv("ALCHEMISER_STORE__PATH", str(store))
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(store, stop, 200))
    writer.start()
    try:
        await asyncio.sleep(0.2)
        assert await asyncio.to_thread(main, ["backup", "--to", str(tmp_path / "b.sqlite")]) == 0
    finally:
        stop.set()
        writer.join()
    assert capsys.readouterr().out.strip() == str(tmp_path / "b.sqlite")
    backed_up = _rows(tmp_path / "b.sqlite")
    assert backed_up == list(range(len(backed_up))) and len(backed_up) > 200  # a prefix, with load writes in it
    assert len(_rows(store)) >= len(backed_up)

    assert main(["restore", str(tmp_path / "b.sqlite")]) == 0
    assert "the previous store is kept in" in capsys.readouterr().out
    assert _rows(store) == backed_up
    reopened = await Store.open(store)  # opens and migrates like a daemon start
    assert await reopened.fetchval("PRAGMA integrity_check") == "ok"
    await reopened.close()
    kept = list(store.parent.glob("alchemiser.sqlite.before-restore-*"))
    assert len(kept) == 1 and len(_rows(kept[0] / "alchemiser.sqlite")) >= len(backed_up)


async def test_restore_is_refused_while_a_daemon_holds_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "alchemiser.sqlite"
    await _store_with_rows(store, 3)
    backup = backup_to(store, tmp_path / "backups" / "one.sqlite")
    monkeypatch.setenv("ALCHEMISER_STORE__PATH", str(store))
    lock = StoreLock(store)
    lock.acquire()
    try:
        assert main(["restore", str(backup)]) == 1
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "restore refused" in err and "stop the daemon first" in err
    not_a_store = tmp_path / "junk.sqlite"
    not_a_store.write_text("not sqlite")
    assert main(["restore", str(not_a_store)]) == 1
    assert "junk.sqlite" in capsys.readouterr().err
    assert _rows(store) == [0, 1, 2]


def test_backup_of_a_missing_store_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALCHEMISER_STORE__PATH", str(tmp_path / "nope.sqlite"))
    assert main(["backup"]) == 1
    assert "nope.sqlite does not exist" in capsys.readouterr().err


async def test_daily_backup_keeps_the_newest(tmp_path: Path) -> None:
    store = tmp_path / "alchemiser.sqlite"
    await _store_with_rows(store, 2)
    actor = DailyBackup(store, tmp_path / "daily", keep=2, interval=3600, clock=RealClock())
    for stamp in ("20240101T000000Z", "20240102T000000Z", "20240103T000000Z"):
        backup_to(store, tmp_path / "daily" / f"alchemiser-{stamp}.sqlite")
    taken = await actor.take()
    assert taken is not None and taken.exists()
    kept = sorted(p.name for p in (tmp_path / "daily").glob("*.sqlite"))
    assert len(kept) == 2 and taken.name in kept and "alchemiser-20240103T000000Z.sqlite" in kept
    assert prune(tmp_path / "daily", "alchemiser", 5) == []
