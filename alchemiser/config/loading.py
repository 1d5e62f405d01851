"""Loading entry points: resolve the TOML file, build and validate the settings, turn failures into ``ConfigError``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from alchemiser.config.checks import SettingsProblems
from alchemiser.config.locations import default_secrets_dir, resolve_config_path
from alchemiser.config.problems import source_problem, validation_problems
from alchemiser.config.settings import ControlClientSettings, Settings
from alchemiser.config.sources import load_context
from alchemiser.errors import ConfigError


def load_settings(
    config_path: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    secrets_dir: Path | Literal["auto"] | None = "auto",
) -> Settings:
    """Build and validate the settings; any problem raises ``ConfigError`` listing every bad key.

    ``overrides`` are nested dicts with the highest priority (``{"mode": "paper"}``); ``secrets_dir`` defaults to
    :func:`default_secrets_dir`, ``None`` disables secret files.
    """
    toml_file = resolve_config_path(config_path)
    directory = default_secrets_dir() if secrets_dir == "auto" else secrets_dir
    with load_context(toml_file, directory):
        try:
            return Settings(**dict(overrides or {}))
        except ValidationError as exc:
            raise ConfigError(validation_problems(exc)) from None
        except SettingsProblems as exc:
            raise ConfigError(exc.problems) from None
        except (ValueError, TypeError) as exc:  # raised by a source while decoding, e.g. bad JSON in an env var
            raise ConfigError([source_problem(exc)]) from None


def load_control_settings(config_path: Path | str | None = None) -> ControlClientSettings:
    """Read only ``http``, ``store`` and ``control_token`` (for ``alchemiser kill/resume/status``)."""
    toml_file = resolve_config_path(config_path)
    with load_context(toml_file, default_secrets_dir()):
        try:
            return ControlClientSettings()
        except ValidationError as exc:
            raise ConfigError(validation_problems(exc)) from None
