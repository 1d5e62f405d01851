"""Online backups of the SQLite store with SQLite's backup API: consistent while the daemon writes (WAL mode), no
``sqlite3`` binary needed. Used by ``alchemiser backup`` / ``restore`` and the daemon's daily backup.

A backup is written under a temporary name, checked (``PRAGMA integrity_check``), made 0600 and renamed into place,
so a half-written file never looks like a backup. In sim mode the embedded exchange's state file
(``<store>.sim.json``) is copied beside it as ``<backup>.sim.json``: a sim store is only usable with its exchange.

The two copies must fit together. While a daemon runs, the exchange's state is saved at most every
``SIM_STATE_SAVE_SECONDS``, so the file on disk can be older than the store just copied — a store recording fills
the exchange copy never made cannot reconcile. With ``state_settle`` (the daemon's own backup, and the CLI when a
daemon holds the store) the state is copied only once it was saved after the store copy began (or ``state_settle``
seconds passed without a save: the exchange did not change). The exchange is then at least as new as the store,
which is the order a crash leaves behind and reconciliation repairs (fills the store has not recorded are read back
from the broker).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from alchemiser.errors import StoreError

SIM_STATE_SUFFIX = ".sim.json"  # the same suffix as alchemiser.sim.persist (the store may not import sim/)
SIM_STATE_SAVE_SECONDS = 5.0  # the running daemon's save interval of the exchange state (daemon/sim_world.py)
SIM_STATE_SETTLE_SECONDS = SIM_STATE_SAVE_SECONDS + 1.0


def default_backup_dir(store_path: Path) -> Path:
    return store_path.parent / "backups"


def backup_name(store_path: Path, at: datetime) -> str:
    return f"{store_path.stem}-{at.strftime('%Y%m%dT%H%M%SZ')}.sqlite"


def backup_to(store_path: Path, destination: Path, *, state_settle: float = 0.0) -> Path:
    """Copy the live store at ``store_path`` to ``destination`` (a file path) and return it; ``state_settle``: see
    the module docstring (0 when no daemon runs)."""
    started = time.time()
    if not store_path.exists():
        raise StoreError(f"store.path: {store_path} does not exist; nothing to back up")
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(destination.name + ".partial")
    tmp.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(store_path, timeout=30)
        try:
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)
                check = target.execute("PRAGMA integrity_check").fetchone()
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"backup of {store_path} failed: {exc}") from exc
    if check is None or check[0] != "ok":
        tmp.unlink(missing_ok=True)
        raise StoreError(f"backup of {store_path} failed its integrity check: {check}")
    os.chmod(tmp, 0o600)
    os.replace(tmp, destination)
    state = store_path.with_name(store_path.name + SIM_STATE_SUFFIX)
    if state.exists():
        _await_state_saved_after(state, started, state_settle)
        shutil.copyfile(state, destination.with_name(destination.name + SIM_STATE_SUFFIX))
    return destination


def _await_state_saved_after(state: Path, moment: float, settle: float) -> None:
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        try:
            if state.stat().st_mtime >= moment:
                return
        except FileNotFoundError:
            return
        time.sleep(0.05)


def restore_from(backup: Path, store_path: Path, at: datetime) -> Path | None:
    """Replace the store with ``backup`` (the caller holds the store lock). Returns where the old store went.

    The current store (with its WAL files and sim state) is kept as ``<store>.before-restore-<stamp>``.
    """
    if not backup.is_file():
        raise StoreError(f"restore: {backup} is not a file")
    try:
        with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as probe:
            check = probe.execute("PRAGMA integrity_check").fetchone()
            probe.execute("SELECT MAX(version) FROM schema_version").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"restore: {backup} is not an alchemiser store: {exc}") from exc
    if check is None or check[0] != "ok":
        raise StoreError(f"restore: {backup} fails its integrity check: {check}")
    kept: Path | None = None
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    siblings = ("", "-wal", "-shm", SIM_STATE_SUFFIX)
    if store_path.exists():
        kept = store_path.with_name(f"{store_path.name}.before-restore-{stamp}")
        kept.mkdir(parents=True)
        for suffix in siblings:
            path = store_path.with_name(store_path.name + suffix)
            if path.exists():
                path.rename(kept / path.name)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(backup, store_path)
    os.chmod(store_path, 0o600)
    state = backup.with_name(backup.name + SIM_STATE_SUFFIX)
    if state.exists():
        shutil.copyfile(state, store_path.with_name(store_path.name + SIM_STATE_SUFFIX))
    return kept


def prune(directory: Path, stem: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``stem`` in ``directory``; returns the deleted files."""
    backups = sorted(directory.glob(f"{stem}-*.sqlite"))
    doomed = backups[: max(0, len(backups) - keep)]
    for path in doomed:
        path.unlink(missing_ok=True)
        path.with_name(path.name + SIM_STATE_SUFFIX).unlink(missing_ok=True)
    return doomed
