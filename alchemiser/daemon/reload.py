"""SIGHUP reload rules: which keys apply without a restart, which need one, and the strategy-file checks."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from alchemiser.config import Settings
from alchemiser.dsl import load_symphony
from alchemiser.errors import ConfigError, StrategyError

_RELOADABLE = ("alpaca.key_id", "alpaca.secret_key", "control_token", "notifications.urls", "strategies")


def apply_reloadable(old: Settings, candidate: Settings) -> Settings:
    """``old`` with the reloadable keys (secrets, strategies) taken from ``candidate``."""
    alpaca = old.alpaca.model_copy(
        update={"key_id": candidate.alpaca.key_id, "secret_key": candidate.alpaca.secret_key}
    )
    notifications = old.notifications.model_copy(update={"urls": candidate.notifications.urls})
    return old.model_copy(
        update={
            "alpaca": alpaca,
            "notifications": notifications,
            "control_token": candidate.control_token,
            "strategies": candidate.strategies,
        }
    )


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def _secret_view(settings: Settings) -> dict[str, Any]:
    dumped = settings.model_dump(mode="python")
    flat = _flatten(dumped)
    return {k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v) for k, v in flat.items()}


def restart_required_keys(applied: Settings, candidate: Settings) -> list[str]:
    """Keys that differ between what was applied and what the files now say (they need a restart)."""
    a, c = _secret_view(applied), _secret_view(candidate)
    return sorted(k for k in set(a) | set(c) if a.get(k) != c.get(k))


def changed_reloadable_keys(old: Settings, new: Settings) -> list[str]:
    a, b = _secret_view(old), _secret_view(new)
    changed = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    return sorted({r for r in _RELOADABLE for k in changed if k == r or k.startswith(r + ".")})


def strategy_digests(settings: Settings) -> dict[str, str]:
    """sha256 (first 12 hex) of each strategy file, so the audit shows exactly which versions are running."""
    digests = {}
    for entry in settings.strategies:
        try:
            digests[str(entry.file)] = hashlib.sha256(entry.file.read_bytes()).hexdigest()[:12]
        except OSError as exc:
            digests[str(entry.file)] = f"unreadable: {exc.strerror}"
    return digests


async def validate_strategy_files(settings: Settings) -> None:
    """Reload validator: every configured symphony must parse (off the loop); else ``ConfigError`` per file."""
    problems = []
    for index, entry in enumerate(settings.strategies):
        try:
            await asyncio.to_thread(load_symphony, entry.file)
        except StrategyError as exc:
            problems.append(f"strategies.{index}.file: {exc}")
    if problems:
        raise ConfigError(problems)
