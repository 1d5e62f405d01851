"""The root settings models: :class:`Settings` (the daemon's whole configuration, with its mode-dependent checks)
and :class:`ControlClientSettings` (what ``alchemiser kill/resume/status`` reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from alchemiser.config.checks import SettingsProblems, reject_placeholder, strategy_problems, url_secrets
from alchemiser.config.locations import ENV_PREFIX
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
    default_strategies,
)
from alchemiser.config.sources import settings_sources

LIVE_CONFIRM_PHRASE = "I understand alchemiser trades real money"
"""``live_confirm`` must equal this exact phrase for ``mode = "live"`` to start."""

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


class Settings(BaseSettings):
    """The whole configuration. Immutable: a reload builds a new object."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        validate_default=True,
        defer_build=True,  # built on the first load: ``alchemiser status`` never needs this schema
    )

    mode: Mode = "sim"
    live_confirm: str | None = None
    control_token: SecretStr | None = None
    alpaca: AlpacaSettings = Field(default_factory=AlpacaSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    strategies: list[StrategyEntry] = Field(default_factory=default_strategies)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    parity: ParitySettings = Field(default_factory=ParitySettings)
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
        return settings_sources(settings_cls, init_settings, env_settings)

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
        reject_placeholder(value)
        if value is not None and len(value.get_secret_value()) < MIN_CONTROL_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_CONTROL_TOKEN_LENGTH} characters (use a long random token)")
        return value

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, entries: list[StrategyEntry]) -> list[StrategyEntry]:
        problems = strategy_problems(entries)
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
            values.extend(url_secrets(url.get_secret_value()))
        unique = {v for v in values if len(v) >= _MIN_REDACTABLE_LENGTH}
        return sorted(unique, key=len, reverse=True)

    def summary(self) -> dict[str, Any]:
        """A JSON-able view of the configuration with every secret masked (for ``check-config`` and logs)."""
        data: dict[str, Any] = self.model_dump(mode="json")
        return data


class ControlClientSettings(BaseSettings):
    """The small part of the configuration the control CLI needs (tolerates everything else being invalid)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="ignore", frozen=True
    )

    http: HttpSettings = Field(default_factory=HttpSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)  # where the local control socket is
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
        del dotenv_settings, file_secret_settings
        return settings_sources(settings_cls, init_settings, env_settings)
