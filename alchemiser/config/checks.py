"""Validation shared by the settings models: placeholder secrets, URLs, the strategy list, secret parts of URLs."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

WEIGHT_TOLERANCE = 0.001

PLACEHOLDER = re.compile(
    r"^(?:|x+|\*+|\.+|changeme|change[-_ ]?me|replace[-_ ]?me|todo|tbd|secret|password|none|null|"
    r"your[-_ ]?(?:api[-_ ]?)?(?:key|secret|token)(?:[-_ ]?(?:id|here))*|<[^>]*>|\$\{[^}]*\})$",
    re.IGNORECASE,
)


class WeightedFile(Protocol):
    """What the cross-field strategy check reads of a ``StrategyEntry``."""

    @property
    def file(self) -> Path: ...

    @property
    def weight(self) -> float: ...


class SettingsProblems(ValueError):
    """Raised inside validation to report several cross-field problems at once."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def check_url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"must be a {'/'.join(schemes)} URL with a host, got {value!r}")
    return value.rstrip("/")


def reject_placeholder(value: SecretStr | None) -> SecretStr | None:
    if value is not None and PLACEHOLDER.match(value.get_secret_value().strip()):
        raise ValueError("looks like a placeholder, not a real secret")
    return value


def strategy_problems(entries: Sequence[WeightedFile]) -> list[str]:
    """Weights summing to 1, no file listed twice, every file readable."""
    problems: list[str] = []
    if not entries:
        return ["strategies: at least one strategy is required"]
    total = sum(e.weight for e in entries)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        problems.append(f"strategies: weights must sum to 1 ± {WEIGHT_TOLERANCE}, they sum to {total:.6g}")
    seen: set[Path] = set()
    for i, entry in enumerate(entries):
        resolved = entry.file.expanduser().resolve()
        if resolved in seen:
            problems.append(f"strategies.{i}.file: {entry.file} is listed twice")
        seen.add(resolved)
        if not resolved.is_file():
            problems.append(f"strategies.{i}.file: {entry.file} does not exist (resolved to {resolved})")
        elif not os.access(resolved, os.R_OK):
            problems.append(f"strategies.{i}.file: {entry.file} is not readable")
    return problems


URL_WORDS = frozenset({"services", "webhook", "webhooks", "incoming", "messages", "channels", "notifications"})
"""Path words of common webhook URLs that are not secrets (everything else of 8+ characters is redacted)."""


def url_secrets(url: str) -> list[str]:
    """The whole URL plus its credential-looking parts: userinfo, and every path segment or query value of 8+
    characters (tokens need not contain digits: ``.../hooks/abcdefghijklmnop`` is as secret as any)."""
    parts = [url]
    split = urlsplit(url)
    if split.password:
        parts.append(split.password)
    if split.username and len(split.username) >= 8:
        parts.append(split.username)
    for piece in re.split(r"[/?&=]", f"{split.path}?{split.query}"):
        if len(piece) >= 8 and piece.lower() not in URL_WORDS:
            parts.append(piece)
    return parts
