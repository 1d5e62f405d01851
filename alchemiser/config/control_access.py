"""What the control client needs to reach a running daemon (HTTP address, store path, control token), read without
pydantic.

``alchemiser status/kill/resume`` have a 250 ms budget and importing pydantic-settings alone takes 200-300 ms. The
values come from the same sources, in the same order, as :class:`~alchemiser.config.settings.ControlClientSettings`
(environment > secret files > TOML file > defaults; see :mod:`alchemiser.config`), but only for the plain cases:
``http.host``, ``http.port``, ``store.path`` and ``control_token`` given as non-empty strings (a port as a TOML
integer or a string of digits, in range). Anything else that could touch those settings (another key of ``[http]``
or ``[store]``, a JSON ``ALCHEMISER_HTTP``, a file that is not valid TOML, a secret file for ``http`` or ``store``,
a value of an unexpected type or out of range, two environment variables naming one key in different cases) is
left to the full validation, imported only then (inside :func:`validated_control_access`), so a bad value gets the
same error naming the setting.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alchemiser.config.locations import (
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    default_secrets_dir,
    resolve_config_path,
    secret_files,
    secret_value,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_STORE_PATH = Path("var/alchemiser.sqlite")
MAX_PORT = 65535

# The keys read here, as (table, key); ``None`` is the root table.
_KEYS: tuple[tuple[str | None, str], ...] = ((None, "control_token"), ("http", "host"), ("http", "port"),
                                             ("store", "path"))  # fmt: skip
_TABLES = frozenset(table for table, _ in _KEYS if table is not None)


@dataclass(frozen=True)
class ControlAccess:
    host: str
    port: int
    store_path: Path
    control_token: str | None = field(default=None, repr=False)  # a secret: never in a repr or a message


class NotPlain(Exception):
    """A case the fast reader does not decide: the full validation does."""


def load_control_access(config_path: Path | str | None = None) -> ControlAccess:
    """The control client's settings; ``ConfigError`` (from the full validation) for a bad value or file."""
    toml_file = resolve_config_path(config_path)
    try:
        return read_plain(toml_file, os.environ, default_secrets_dir())
    except NotPlain:
        return validated_control_access(config_path)


def read_plain(toml_file: Path | None, environ: Mapping[str, str], secrets_dir: Path | None) -> ControlAccess:
    """The values when every source holds them plainly; ``NotPlain`` otherwise."""
    layers = [_from_environment(environ), _from_secret_files(secrets_dir), _from_toml(toml_file)]
    found: dict[tuple[str | None, str], Any] = {}
    for layer in reversed(layers):  # lowest priority first, each layer overwrites
        found.update(layer)
    port = found.get(("http", "port"), DEFAULT_PORT)
    port = int(port) if isinstance(port, str) else port
    if not 0 <= port <= MAX_PORT:
        raise NotPlain
    return ControlAccess(
        host=found.get(("http", "host"), DEFAULT_HOST),
        port=port,
        store_path=Path(found.get(("store", "path"), DEFAULT_STORE_PATH)),
        control_token=found.get((None, "control_token")),
    )


def _from_environment(environ: Mapping[str, str]) -> dict[tuple[str | None, str], Any]:
    values: dict[tuple[str | None, str], Any] = {}
    prefix = ENV_PREFIX.lower()
    for name, value in environ.items():
        lowered = name.lower()
        if not lowered.startswith(prefix):
            continue
        parts = lowered[len(prefix) :].split(ENV_NESTED_DELIMITER)
        key = _key_of(parts)
        if key is None:
            continue
        if key in values:  # the same key under two spellings: which one wins is pydantic-settings' business
            raise NotPlain
        values[key] = _plain(key, value, digits_allowed=True)
    return values


def _from_secret_files(directory: Path | None) -> dict[tuple[str | None, str], Any]:
    values: dict[tuple[str | None, str], Any] = {}
    if directory is None:
        return values
    for parts, path in secret_files(directory):
        key = _key_of(parts)
        if key is None:
            continue
        if key != (None, "control_token") or key in values:
            raise NotPlain
        try:
            values[key] = _plain(key, secret_value(path.read_text(encoding="utf-8")), digits_allowed=False)
        except (OSError, UnicodeDecodeError) as exc:
            raise NotPlain from exc
    return values


def _from_toml(toml_file: Path | None) -> dict[tuple[str | None, str], Any]:
    values: dict[tuple[str | None, str], Any] = {}
    if toml_file is None:
        return values
    try:
        with toml_file.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise NotPlain from exc
    if "control_token" in data:
        values[None, "control_token"] = _plain((None, "control_token"), data["control_token"], digits_allowed=False)
    for table in _TABLES:
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise NotPlain
        for name, value in section.items():
            key = (table, name)
            if key not in _KEYS:
                raise NotPlain
            values[key] = _plain(key, value, digits_allowed=False)
    return values


def _key_of(parts: list[str]) -> tuple[str | None, str] | None:
    """The key a name's parts give; ``None`` for names of other settings; ``NotPlain`` for other forms of ours."""
    if not parts:
        return None
    if parts[0] in _TABLES or parts[0] == "control_token":
        key: tuple[str | None, str] = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        if len(parts) > 2 or key not in _KEYS:
            raise NotPlain
        return key
    return None


def _plain(key: tuple[str | None, str], value: Any, *, digits_allowed: bool) -> Any:
    """``value`` when it is the plain form of ``key``; ``NotPlain`` otherwise."""
    if key == ("http", "port"):
        if type(value) is int:
            return value
        if digits_allowed and isinstance(value, str) and value.isascii() and value.isdigit():
            return value
        raise NotPlain
    if isinstance(value, str) and value:
        return value
    raise NotPlain


def validated_control_access(config_path: Path | str | None) -> ControlAccess:
    """The same values through :class:`~alchemiser.config.settings.ControlClientSettings` (pydantic)."""
    from alchemiser.config.loading import load_control_settings  # the slow path: see the module docstring

    settings = load_control_settings(config_path)
    token = settings.control_token
    return ControlAccess(
        host=settings.http.host,
        port=settings.http.port,
        store_path=settings.store.path,
        control_token=None if token is None else token.get_secret_value(),
    )
