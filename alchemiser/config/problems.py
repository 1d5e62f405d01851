"""Configuration problems as operators read them: one line per problem, starting with the dotted key, no secrets."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from alchemiser.config.checks import SettingsProblems


def source_problem(exc: Exception) -> str:
    """A source's decoding error (e.g. bad JSON in an environment variable) as one line naming the key."""
    text = str(exc)
    match = re.search(r'error parsing value for field "([^"]+)" from source "([^"]+)"', text)
    if match:
        return f"{match.group(1)}: could not parse the value from {match.group(2)} (lists and tables need JSON)"
    return text


def validation_problems(error: ValidationError) -> list[str]:
    """One line per pydantic error, each starting with the dotted key."""
    problems: list[str] = []
    for item in error.errors(include_url=False):
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, SettingsProblems):
            problems.extend(ctx_error.problems)
            continue
        key = ".".join(str(part) for part in item["loc"]) or "config"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling; see README configuration reference)"
        elif item["type"] == "missing":
            message = "required"
        # An unknown key may be a misspelled secret (``control_tokn``): never echo its value.
        if item["type"] not in ("missing", "extra_forbidden") and not _is_secret_key(key):
            message = f"{message} (got {_short(item.get('input'))})"
        problems.append(f"{key}: {message}")
    return problems


def _is_secret_key(key: str) -> bool:
    return any(part in key for part in ("secret", "key_id", "token", "urls", "live_confirm"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
