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
5. the defaults below.

Every problem is reported at once by :func:`load_settings` as a :class:`~alchemiser.errors.ConfigError` with one
line per problem naming the dotted key (``alpaca.secret_key: required in paper mode``).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from alchemiser.errors import ConfigError

LIVE_CONFIRM_PHRASE = "I understand alchemiser trades real money"
"""``live_confirm`` must equal this exact phrase for ``mode = "live"`` to start."""

DEFAULT_CONFIG_PATH = Path("config/alchemiser.toml")
ENV_PREFIX = "ALCHEMISER_"
SYSTEMD_CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
DOCKER_SECRETS_DIR = Path("/run/secrets")
WEIGHT_TOLERANCE = 0.001
MIN_CONTROL_TOKEN_LENGTH = 16
_MIN_REDACTABLE_LENGTH = 4

Mode = Literal["sim", "paper", "live"]

_ALPACA_DEFAULT_URLS: dict[str, dict[str, str]] = {
    "paper": {
        "trading_url": "https://paper-api.alpaca.markets",
        "data_url": "https://data.alpaca.markets",
        "stream_url": "wss://paper-api.alpaca.markets/stream",
    },
    "live": {
        "trading_url": "https://api.alpaca.markets",
        "data_url": "https://data.alpaca.markets",
        "stream_url": "wss://api.alpaca.markets/stream",
    },
}

_PLACEHOLDER = re.compile(
    r"^(?:|x+|\*+|\.+|changeme|change[-_ ]?me|replace[-_ ]?me|todo|tbd|secret|password|none|null|"
    r"your[-_ ]?(?:api[-_ ]?)?(?:key|secret|token)(?:[-_ ]?(?:id|here))*|<[^>]*>|\$\{[^}]*\})$",
    re.IGNORECASE,
)


class SettingsProblems(ValueError):
    """Raised inside validation to report several cross-field problems at once."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlpacaSettings(_Section):
    """Broker endpoints and credentials. In ``sim`` mode the URLs default to ``None``: use the embedded exchange."""

    key_id: SecretStr | None = None
    secret_key: SecretStr | None = None
    trading_url: str | None = None
    data_url: str | None = None
    stream_url: str | None = None
    data_feed: Literal["iex", "sip"] = "iex"
    rate_limit_per_minute: int = Field(default=200, ge=1, le=10_000)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @field_validator("key_id", "secret_key")
    @classmethod
    def _not_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        return _reject_placeholder(value)

    @field_validator("trading_url", "data_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _check_url(value, ("http", "https"))

    @field_validator("stream_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return _check_url(value, ("ws", "wss"))


def _check_url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"must be a {'/'.join(schemes)} URL with a host, got {value!r}")
    return value.rstrip("/")


def _reject_placeholder(value: SecretStr | None) -> SecretStr | None:
    if value is not None and _PLACEHOLDER.match(value.get_secret_value().strip()):
        raise ValueError("looks like a placeholder, not a real secret")
    return value


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)


class StoreSettings(_Section):
    path: Path = Path("var/alchemiser.sqlite")


class StrategyEntry(_Section):
    """One symphony file and the fraction of capital it manages."""

    file: Path
    weight: float = Field(gt=0, le=1)


def _default_strategies() -> list[StrategyEntry]:
    return [
        StrategyEntry(file=Path("config/strategies/nuclear.clj"), weight=0.30),
        StrategyEntry(file=Path("config/strategies/tecl.clj"), weight=0.50),
        StrategyEntry(file=Path("config/strategies/klm.clj"), weight=0.20),
    ]


class RiskSettings(_Section):
    market_hours_enforced: bool = True
    max_position_weight: float = Field(default=1.0, gt=0, le=1)
    max_order_notional: Decimal = Field(default=Decimal("100000"), gt=0)
    max_turnover: float = Field(default=2.0, gt=0)
    max_daily_orders: int = Field(default=200, ge=1)
    max_daily_notional: Decimal = Field(default=Decimal("1000000"), gt=0)
    limit_collar_pct: float = Field(default=0.02, ge=0, le=0.5)
    drawdown_halt_pct: float = Field(default=25.0, gt=0, le=100)
    max_failed_sells_before_blocking_buys: int = Field(default=0, ge=0)
    cash_buffer_pct: float = Field(default=0.01, ge=0, lt=1)
    min_trade_notional: Decimal = Field(default=Decimal("5"), ge=0)
    pdt_guard: bool = True
    pdt_min_equity: Decimal = Field(default=Decimal("25000"), ge=0)
    kill_switch_action: Literal["freeze", "cancel", "flatten"] = "freeze"


class ExecutionSettings(_Section):
    ladder_steps: list[float] = Field(default_factory=lambda: [0.5, 0.75, 0.95], min_length=1)
    step_wait_seconds: float = Field(default=15.0, gt=0)
    market_fallback: bool = True
    max_concurrent_orders: int = Field(default=4, ge=1, le=64)
    ack_sla_seconds: float = Field(default=10.0, gt=0)
    approval_mode: bool = False
    approval_timeout_seconds: float = Field(default=300.0, gt=0)

    @field_validator("ladder_steps")
    @classmethod
    def _steps(cls, steps: list[float]) -> list[float]:
        if any(not 0 <= s <= 1 for s in steps):
            raise ValueError(f"each step must be within [0, 1] (fraction of the spread), got {steps}")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"steps must be strictly increasing, got {steps}")
        return steps


class ScheduleSettings(_Section):
    minutes_before_close: int = Field(default=15, ge=1, le=390)
    data_refresh_lead_minutes: int = Field(default=10, ge=0, le=390)
    late_window_minutes: int = Field(default=30, ge=0, le=390)
    as_of_policy: Literal["previous_close", "live"] = "previous_close"


class NotificationSettings(_Section):
    urls: list[SecretStr] = Field(default_factory=list)
    neutral: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("urls")
    @classmethod
    def _real_urls(cls, urls: list[SecretStr]) -> list[SecretStr]:
        problems = []
        for i, url in enumerate(urls):
            text = url.get_secret_value().strip()
            if _PLACEHOLDER.match(text):
                problems.append(f"notifications.urls.{i}: looks like a placeholder, not a real secret")
            elif "://" not in text:
                problems.append(f"notifications.urls.{i}: not an apprise URL (expected scheme://...)")
        if problems:
            raise SettingsProblems(problems)
        return urls


class SimSettings(_Section):
    data: str = "synthetic"
    seed: int = 7
    speed: float = Field(default=1.0, gt=0, le=100_000)
    start: date | None = None
    always_open: bool = False
    initial_cash: Decimal = Field(default=Decimal("100000"), gt=0)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class SupervisorSettings(_Section):
    heartbeat_timeout_seconds: float = Field(default=60.0, gt=0)
    check_interval_seconds: float = Field(default=5.0, gt=0)
    restart_budget: int = Field(default=5, ge=0)
    restart_window_seconds: float = Field(default=600.0, gt=0)
    backoff_base_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=60.0, gt=0)
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0, le=600)


@dataclass(frozen=True)
class _LoadContext:
    toml_file: Path | None
    secrets_dir: Path | None


_LOAD_CONTEXT: contextvars.ContextVar[_LoadContext | None] = contextvars.ContextVar("alchemiser_config", default=None)


class Settings(BaseSettings):
    """The whole configuration. Immutable: a reload builds a new object."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    mode: Mode = "sim"
    live_confirm: str | None = None
    control_token: SecretStr | None = None
    alpaca: AlpacaSettings = Field(default_factory=AlpacaSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    strategies: list[StrategyEntry] = Field(default_factory=_default_strategies)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        del dotenv_settings, file_secret_settings
        context = _LOAD_CONTEXT.get() or _LoadContext(toml_file=None, secrets_dir=default_secrets_dir())
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if context.secrets_dir is not None:
            sources.append(SecretFilesSource(settings_cls, context.secrets_dir))
        if context.toml_file is not None:
            sources.append(_TomlSource(settings_cls, context.toml_file))
        return tuple(sources)

    @model_validator(mode="before")
    @classmethod
    def _mode_defaults(cls, data: Any) -> Any:
        """Fill the Alpaca endpoints of paper/live when not configured (sim keeps ``None`` = embedded exchange)."""
        if not isinstance(data, dict):
            return data
        defaults = _ALPACA_DEFAULT_URLS.get(str(data.get("mode", "sim")))
        alpaca = data.get("alpaca")
        if defaults is None or not (alpaca is None or isinstance(alpaca, Mapping)):
            return data
        merged = dict(alpaca or {})
        for key, url in defaults.items():
            if merged.get(key) is None:
                merged[key] = url
        return {**data, "alpaca": merged}

    @field_validator("control_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        _reject_placeholder(value)
        if value is not None and len(value.get_secret_value()) < MIN_CONTROL_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_CONTROL_TOKEN_LENGTH} characters (use a long random token)")
        return value

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, entries: list[StrategyEntry]) -> list[StrategyEntry]:
        problems = _strategy_problems(entries)
        if problems:
            raise SettingsProblems(problems)
        return entries

    # Mode-dependent checks are field validators (fields validate in declaration order, so ``mode`` is known):
    # that way they are reported together with every other bad key instead of only once the rest is valid.

    @field_validator("live_confirm")
    @classmethod
    def _live_confirmed(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("mode") == "live" and value != LIVE_CONFIRM_PHRASE:
            raise SettingsProblems(
                [f'live_confirm: live mode refuses to start unless live_confirm is exactly "{LIVE_CONFIRM_PHRASE}"']
            )
        return value

    @field_validator("alpaca")
    @classmethod
    def _credentials_for_mode(cls, alpaca: AlpacaSettings, info: ValidationInfo) -> AlpacaSettings:
        mode = info.data.get("mode")
        if mode in ("paper", "live"):
            missing = [
                f"alpaca.{key}: required in {mode} mode"
                for key in ("key_id", "secret_key")
                if getattr(alpaca, key) is None
            ]
            if missing:
                raise SettingsProblems(missing)
        return alpaca

    @field_validator("risk")
    @classmethod
    def _live_risk(cls, risk: RiskSettings, info: ValidationInfo) -> RiskSettings:
        if info.data.get("mode") == "live" and not risk.market_hours_enforced:
            raise SettingsProblems(["risk.market_hours_enforced: cannot be false in live mode"])
        return risk

    @field_validator("supervisor")
    @classmethod
    def _backoff(cls, supervisor: SupervisorSettings) -> SupervisorSettings:
        if supervisor.backoff_max_seconds < supervisor.backoff_base_seconds:
            raise SettingsProblems(["supervisor.backoff_max_seconds: must be >= supervisor.backoff_base_seconds"])
        return supervisor

    def secret_values(self) -> list[str]:
        """Every configured secret value (and the secret parts of notification URLs), for log redaction."""
        values: list[str] = []
        for secret in (self.alpaca.key_id, self.alpaca.secret_key, self.control_token):
            if secret is not None:
                values.append(secret.get_secret_value())
        for url in self.notifications.urls:
            values.extend(_url_secrets(url.get_secret_value()))
        unique = {v for v in values if len(v) >= _MIN_REDACTABLE_LENGTH}
        return sorted(unique, key=len, reverse=True)

    def summary(self) -> dict[str, Any]:
        """A JSON-able view of the configuration with every secret masked (for ``check-config`` and logs)."""
        data: dict[str, Any] = self.model_dump(mode="json")
        return data


def _strategy_problems(entries: Sequence[StrategyEntry]) -> list[str]:
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


def _url_secrets(url: str) -> list[str]:
    """The whole URL plus its credential-looking parts (userinfo, tokens in the path or query)."""
    parts = [url]
    split = urlsplit(url)
    if split.password:
        parts.append(split.password)
    if split.username and len(split.username) >= 8:
        parts.append(split.username)
    for piece in re.split(r"[/?&=]", f"{split.path}?{split.query}"):
        if len(piece) >= 8 and any(ch.isdigit() for ch in piece):
            parts.append(piece)
    return parts


# --------------------------------------------------------------------------------------------------- sources


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self._path = path
        try:
            with path.open("rb") as handle:
                self._data: dict[str, Any] = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read config file: {exc.strerror or exc}"]) from exc

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class SecretFilesSource(PydanticBaseSettingsSource):
    """Values from one file per key in a credentials directory (see the module docstring for naming)."""

    def __init__(self, settings_cls: type[BaseSettings], directory: Path) -> None:
        super().__init__(settings_cls)
        self.directory = directory

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if not self.directory.is_dir():
            return result
        for entry in sorted(self.directory.iterdir()):
            if not entry.is_file():
                continue
            path = _secret_key_path(entry.name)
            annotation = _annotation_at(self.settings_cls, path)
            if annotation is _MISSING:
                continue
            try:
                raw = entry.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError([f"{'.'.join(path)}: cannot read secret file {entry}: {exc}"]) from exc
            value = raw.rstrip("\r\n")
            target: Any = _list_value(value) if _is_list(annotation) else value
            _set_nested(result, path, target)
        return result


_MISSING = object()


def _secret_key_path(filename: str) -> list[str]:
    name = filename.lower()
    if name.startswith(ENV_PREFIX.lower()):
        name = name[len(ENV_PREFIX) :]
    return [p for p in name.split("__") if p]


def _annotation_at(model: type[BaseModel], path: Sequence[str]) -> Any:
    current: Any = model
    annotation: Any = _MISSING
    for part in path:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return _MISSING
        annotation = current.model_fields[part].annotation
        current = annotation
    return annotation


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(get_origin(arg) is list for arg in get_args(annotation))


def _list_value(value: str) -> list[Any]:
    stripped = value.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    return [line.strip() for line in value.splitlines() if line.strip()]


def _set_nested(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def default_secrets_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$CREDENTIALS_DIRECTORY`` (systemd) if set, else ``/run/secrets`` (Docker) if it exists, else ``None``."""
    env = os.environ if environ is None else environ
    credentials = env.get(SYSTEMD_CREDENTIALS_ENV)
    if credentials:
        return Path(credentials)
    return DOCKER_SECRETS_DIR if DOCKER_SECRETS_DIR.is_dir() else None


# --------------------------------------------------------------------------------------------------- loading


@contextlib.contextmanager
def _context(toml_file: Path | None, secrets_dir: Path | None) -> Iterator[None]:
    token = _LOAD_CONTEXT.set(_LoadContext(toml_file=toml_file, secrets_dir=secrets_dir))
    try:
        yield
    finally:
        _LOAD_CONTEXT.reset(token)


def resolve_config_path(config_path: Path | str | None) -> Path | None:
    """An explicit path must exist; without one, ``config/alchemiser.toml`` is used when present."""
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ConfigError([f"--config: {path} does not exist or is not a file"])
        return path
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


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
    with _context(toml_file, directory):
        try:
            return Settings(**dict(overrides or {}))
        except ValidationError as exc:
            raise ConfigError(validation_problems(exc)) from None
        except SettingsProblems as exc:
            raise ConfigError(exc.problems) from None
        except (ValueError, TypeError) as exc:  # raised by a source while decoding, e.g. bad JSON in an env var
            raise ConfigError([_source_problem(exc)]) from None


def _source_problem(exc: Exception) -> str:
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
        if item["type"] != "missing" and not _is_secret_key(key):
            message = f"{message} (got {_short(item.get('input'))})"
        problems.append(f"{key}: {message}")
    return problems


def _is_secret_key(key: str) -> bool:
    return any(part in key for part in ("secret", "key_id", "token", "urls", "live_confirm"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ControlClientSettings(BaseSettings):
    """The small part of the configuration the control CLI needs (tolerates everything else being invalid)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="ignore", frozen=True
    )

    http: HttpSettings = Field(default_factory=HttpSettings)
    control_token: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return Settings.settings_customise_sources(
            settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        )


def load_control_settings(config_path: Path | str | None = None) -> ControlClientSettings:
    """Read only ``http`` and ``control_token`` (for ``alchemiser kill/resume/status``)."""
    toml_file = resolve_config_path(config_path)
    with _context(toml_file, default_secrets_dir()):
        try:
            return ControlClientSettings()
        except ValidationError as exc:
            raise ConfigError(validation_problems(exc)) from None


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
    "validation_problems",
]
