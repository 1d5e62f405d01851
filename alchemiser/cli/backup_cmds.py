"""``alchemiser backup [--to PATH]`` and ``alchemiser restore BACKUP``.

* ``backup`` — an online copy of the store with SQLite's backup API (safe while the daemon runs); default
  ``<store dir>/backups/<name>-<UTC time>.sqlite``. Prints the path.
* ``restore`` — replaces the store with a backup; refused while a daemon holds the store (stop it first). The
  replaced store is kept beside it as ``<store>.before-restore-<time>/``.
Exit codes: 0 done, 1 failed or refused, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alchemiser.cli.common import add_config_arguments, print_problems
from alchemiser.config.control_access import load_control_access
from alchemiser.daemon.store_lock import StoreLock
from alchemiser.errors import ConfigError, StoreError
from alchemiser.store.backup import (
    SIM_STATE_SETTLE_SECONDS,
    backup_name,
    backup_to,
    default_backup_dir,
    restore_from,
)


def register(subparsers: Any) -> None:
    backup = subparsers.add_parser("backup", help="copy the store (consistent while the daemon runs)")
    add_config_arguments(backup)
    backup.add_argument("--to", type=Path, help="backup file (default: <store dir>/backups/<name>-<time>.sqlite)")
    backup.set_defaults(func=backup_command)
    restore = subparsers.add_parser("restore", help="replace the store with a backup (the daemon must be stopped)")
    add_config_arguments(restore)
    restore.add_argument("backup", type=Path, help="the backup file to restore")
    restore.set_defaults(func=restore_command)


def _store_path(args: argparse.Namespace) -> Path | int:
    try:
        return load_control_access(args.config).store_path
    except ConfigError as exc:
        print_problems(exc)
        return 2


def backup_command(args: argparse.Namespace) -> int:
    store = _store_path(args)
    if isinstance(store, int):
        return store
    now = datetime.now(UTC)
    target: Path = args.to or default_backup_dir(store) / backup_name(store, now)
    if target.is_dir():
        target = target / backup_name(store, now)
    try:
        written = backup_to(store, target, state_settle=SIM_STATE_SETTLE_SECONDS if _daemon_holds(store) else 0.0)
    except StoreError as exc:
        print(f"alchemiser: {exc}", file=sys.stderr)
        return 1
    print(written)
    return 0


def _daemon_holds(store: Path) -> bool:
    """Whether a running daemon holds the store (its lock is taken)."""
    lock = StoreLock(store)
    try:
        lock.acquire()
    except StoreError:
        return True
    lock.release()
    return False


def restore_command(args: argparse.Namespace) -> int:
    store = _store_path(args)
    if isinstance(store, int):
        return store
    lock = StoreLock(store)
    try:
        lock.acquire()
    except StoreError as exc:
        print(f"alchemiser: restore refused: {exc}; stop the daemon first", file=sys.stderr)
        return 1
    try:
        kept = restore_from(args.backup, store, datetime.now(UTC))
    except (StoreError, OSError) as exc:
        print(f"alchemiser: {exc}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    print(f"restored {args.backup} to {store}" + (f" (the previous store is kept in {kept})" if kept else ""))
    return 0
