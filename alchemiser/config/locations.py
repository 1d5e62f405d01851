"""Where the configuration comes from, with the standard library only: the TOML file, the credentials directory and
how a secret file or an environment variable names a key.

Shared by the pydantic sources (:mod:`alchemiser.config.sources`) and the control client's fast reader
(:mod:`alchemiser.config.control_access`), which must not import pydantic: both resolve the same places the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from alchemiser.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config/alchemiser.toml")
ENV_PREFIX = "ALCHEMISER_"
ENV_NESTED_DELIMITER = "__"
SYSTEMD_CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
DOCKER_SECRETS_DIR = Path("/run/secrets")


def resolve_config_path(config_path: Path | str | None) -> Path | None:
    """An explicit path must exist; without one, ``config/alchemiser.toml`` is used when present."""
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ConfigError([f"--config: {path} does not exist or is not a file"])
        return path
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def default_secrets_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$CREDENTIALS_DIRECTORY`` (systemd) if set, else ``/run/secrets`` (Docker) if it exists, else ``None``."""
    env = os.environ if environ is None else environ
    credentials = env.get(SYSTEMD_CREDENTIALS_ENV)
    if credentials:
        return Path(credentials)
    return DOCKER_SECRETS_DIR if DOCKER_SECRETS_DIR.is_dir() else None


def secret_key_path(filename: str) -> list[str]:
    """The nested key a secret file names: case-insensitive, optional ``alchemiser_`` prefix, ``__`` between keys."""
    name = filename.lower()
    if name.startswith(ENV_PREFIX.lower()):
        name = name[len(ENV_PREFIX) :]
    return [p for p in name.split(ENV_NESTED_DELIMITER) if p]


def secret_files(directory: Path) -> Iterator[tuple[list[str], Path]]:
    """Each regular file of the credentials directory (sorted by name) with the key path its name gives."""
    if not directory.is_dir():
        return
    for entry in sorted(directory.iterdir()):
        if entry.is_file():
            yield secret_key_path(entry.name), entry


def secret_value(raw: str) -> str:
    """A secret file's content as the value: without the trailing newline."""
    return raw.rstrip("\r\n")
