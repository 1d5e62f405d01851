"""Configuration: one validated ``Settings`` object built from defaults, a TOML file, secret files and the environment.

Sources, highest priority first:

1. ``overrides`` passed to :func:`load_settings` (the CLI, e.g. ``--mode``);
2. environment variables: prefix ``ALCHEMISER_``, ``__`` between nested keys
   (``ALCHEMISER_ALPACA__SECRET_KEY``, ``ALCHEMISER_HTTP__PORT``; lists as JSON: ``ALCHEMISER_STRATEGIES='[...]'``);
3. secret files in the credentials directory: ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``) when set,
   else ``/run/secrets`` (Docker secrets) when it exists. A file's name is the key, case-insensitive, with ``__``
   between nested keys and an optional ``alchemiser_`` prefix (``alpaca__secret_key`` and
   ``ALCHEMISER_ALPACA__SECRET_KEY`` both work); its content, without the trailing newline, is the value. List keys
   (``notifications__urls``) take one value per line or a JSON list. Files whose names match no key are ignored;
4. the TOML file (``--config``; default ``config/alchemiser.toml`` when that file exists);
5. the defaults of the models in :mod:`alchemiser.config.sections` and :mod:`alchemiser.config.settings`.

Modules: ``sections`` (one model per TOML table), ``settings`` (the root models and their cross-field checks),
``checks`` (validation helpers), ``sources`` (TOML, secret files, environment), ``locations`` (which file, which
credentials directory, how names map to keys; standard library only), ``control_access`` (the control client's
pydantic-free reader), ``problems`` (error lines), ``loading`` (the entry points). Every problem is reported at once
by :func:`load_settings` as a :class:`~alchemiser.errors.ConfigError` with one line per problem naming the dotted key
(``alpaca.secret_key: required in paper mode``).

The names below are loaded on first use (PEP 562 ``__getattr__``): importing pydantic and pydantic-settings costs
200-300 ms, and ``alchemiser status/kill/resume`` import :mod:`alchemiser.config.control_access` (which runs this
package first) precisely to avoid them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alchemiser.config.loading import load_control_settings, load_settings
    from alchemiser.config.locations import DEFAULT_CONFIG_PATH, default_secrets_dir, resolve_config_path
    from alchemiser.config.problems import validation_problems
    from alchemiser.config.sections import (
        AlpacaSettings,
        ExecutionSettings,
        HttpSettings,
        LoggingSettings,
        NotificationSettings,
        ParitySettings,
        RiskSettings,
        ScheduleSettings,
        SimSettings,
        StoreSettings,
        StrategyEntry,
        SupervisorSettings,
    )
    from alchemiser.config.settings import LIVE_CONFIRM_PHRASE, ControlClientSettings, Mode, Settings
    from alchemiser.config.sources import SecretFilesSource

_MODULE_OF: dict[str, str] = {
    "DEFAULT_CONFIG_PATH": "locations",
    "default_secrets_dir": "locations",
    "resolve_config_path": "locations",
    "load_control_settings": "loading",
    "load_settings": "loading",
    "validation_problems": "problems",
    "LIVE_CONFIRM_PHRASE": "settings",
    "ControlClientSettings": "settings",
    "Mode": "settings",
    "Settings": "settings",
    "SecretFilesSource": "sources",
    **dict.fromkeys(
        (
            "AlpacaSettings",
            "ExecutionSettings",
            "HttpSettings",
            "LoggingSettings",
            "NotificationSettings",
            "ParitySettings",
            "RiskSettings",
            "ScheduleSettings",
            "SimSettings",
            "StoreSettings",
            "StrategyEntry",
            "SupervisorSettings",
        ),
        "sections",
    ),
}

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "LIVE_CONFIRM_PHRASE",
    "AlpacaSettings",
    "ControlClientSettings",
    "ExecutionSettings",
    "HttpSettings",
    "LoggingSettings",
    "Mode",
    "NotificationSettings",
    "ParitySettings",
    "RiskSettings",
    "ScheduleSettings",
    "SecretFilesSource",
    "Settings",
    "SimSettings",
    "StoreSettings",
    "StrategyEntry",
    "SupervisorSettings",
    "default_secrets_dir",
    "load_control_settings",
    "load_settings",
    "resolve_config_path",
    "validation_problems",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"alchemiser.config.{module}"), name)
