"""Is a file usable as the store? Checked before it is opened (by ``Store.open`` and by ``check-config``), so a
corrupted or foreign file, or one from a newer version, is refused with a clear error instead of being used or
silently replaced."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


def store_file_problems(path: Path, known_version: int) -> list[str]:
    """Why ``path`` cannot be this daemon's store (``[]`` if it can): an unusable location, a file that is not
    SQLite (corrupted), a SQLite database that is not an alchemiser store (foreign), or a schema newer than
    ``known_version`` (``database.known_schema_version()``). Read-only: nothing is created or changed."""
    if str(path) == ":memory:":
        return []
    if path.exists():
        if not path.is_file():
            return [f"store.path: {path} exists and is not a file"]
        if not os.access(path, os.R_OK | os.W_OK):
            return [f"store.path: {path} is not readable and writable by this user"]
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return [f"store.path: the folder {path.parent} is not writable (SQLite needs its journal beside the file)"]
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
        if not header:
            return []  # an empty file becomes a new store
        if header != SQLITE_HEADER:
            return [
                f"store.path: {path} is not a SQLite database (corrupted, or another kind of file); refusing to use it"
            ]
        return _schema_problems(path, known_version)
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return [f"store.path: cannot create {path.parent}: {ancestor} is not a folder"]
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return [f"store.path: cannot create {path}: the folder {ancestor} is not writable by this user"]
    return []


def _schema_problems(path: Path, known: int) -> list[str]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return [f"store.path: cannot open {path}: {exc}"]
    try:
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in tables:
            if tables:
                return [f"store.path: {path} is a SQLite database of something else (no schema_version table)"]
            return []
        version = int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0] or 0)
        integrity = str(db.execute("PRAGMA quick_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return [f"store.path: {path} is damaged ({exc}); restore it from a backup"]
    finally:
        db.close()
    problems = []
    if integrity != "ok":
        problems.append(f"store.path: {path} failed SQLite's integrity check ({integrity[:200]}); restore a backup")
    if version > known:
        problems.append(
            f"store.path: {path} has schema version {version}, newer than this alchemiser knows ({known}); "
            "refusing to run an older version against it"
        )
    return problems
