"""The sections of the configuration (one pydantic model per TOML table) and their field-level checks."""

from __future__ import annotations

import ipaddress
import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from alchemiser.config.checks import PLACEHOLDER, SettingsProblems, check_url, reject_placeholder


class _Section(BaseModel):
    """A table of the configuration: unknown keys are errors, values are immutable."""

    # defer_build: a schema is built on first use, so the control CLI (``http`` and the token only) skips the rest.
    # allow_inf_nan=False: "inf" is never a limit or a timeout (a ``gt=0`` bound alone would accept it).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, allow_inf_nan=False)


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
        return reject_placeholder(value)

    @field_validator("trading_url", "data_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return check_url(value, ("http", "https"))

    @field_validator("stream_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return check_url(value, ("ws", "wss"))


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - names compared with, not bound to


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    # Host names the dashboard answers to (beside the loopback names and ``host``): the name a reverse proxy
    # forwards, e.g. "alchemiser.example.com". Anything else gets 421 (blocks DNS rebinding).
    allowed_hosts: list[str] = Field(default_factory=list)
    # Proxies whose X-Forwarded-Proto is believed (session cookies become Secure behind https).
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str]) -> list[str]:
        bad = [h for h in hosts if not h or (any(c in h for c in "/ :@") and not h.startswith("["))]
        if bad:
            raise ValueError(f"must be bare host names (no scheme, port or path), got {bad}")
        return [h.lower() for h in hosts]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, proxies: list[str]) -> list[str]:
        bad = []
        for entry in proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                bad.append(entry)
        if bad:
            raise ValueError(f"must be IP addresses or networks (e.g. 172.16.0.0/12), got {bad}")
        return proxies

    def dashboard_hosts(self) -> frozenset[str]:
        """Every host name the dashboard accepts (lower case, without port)."""
        names = {*LOOPBACK_HOSTS, "[::1]", *self.allowed_hosts}
        if self.host not in WILDCARD_HOSTS:
            names.add(self.host.lower())
        return frozenset(names)


class StoreSettings(_Section):
    path: Path = Path("var/alchemiser.sqlite")
    # retention (alchemiser/store/retention.py), applied daily; 0 keeps forever
    bar_cache_days: int = Field(default=1100, ge=0)
    event_days: int = Field(default=120, ge=0)
    backup_dir: Path | None = None  # daily backups (default: backups/ beside the store)
    backup_keep: int = Field(default=7, ge=0)  # newest daily backups kept; 0 turns the daily backup off
    backup_interval_hours: float = Field(default=24.0, gt=0)


class StrategyEntry(_Section):
    """One symphony file and the fraction of capital it manages."""

    file: Path
    weight: float = Field(gt=0, le=1)


def default_strategies() -> list[StrategyEntry]:
    return [
        StrategyEntry(file=Path("config/strategies/nuclear.clj"), weight=0.30),
        StrategyEntry(file=Path("config/strategies/tecl.clj"), weight=0.50),
        StrategyEntry(file=Path("config/strategies/klm.clj"), weight=0.20),
    ]


class RiskSettings(_Section):
    market_hours_enforced: bool = True
    max_position_weight: float = Field(default=1.0, gt=0, le=1)
    max_order_notional: Decimal = Field(default=Decimal("100000"), gt=0, le=Decimal("1e12"))
    max_turnover: float = Field(default=2.0, gt=0, le=100)
    max_daily_orders: int = Field(default=200, ge=1, le=100_000)
    max_daily_notional: Decimal = Field(default=Decimal("1000000"), gt=0, le=Decimal("1e13"))
    limit_collar_pct: float = Field(default=0.02, ge=0, le=0.5)
    drawdown_halt_pct: float = Field(default=25.0, gt=0, le=100)
    max_failed_sells_before_blocking_buys: int = Field(default=0, ge=0, le=10_000)
    cash_buffer_pct: float = Field(default=0.01, ge=0, lt=1)
    min_trade_notional: Decimal = Field(default=Decimal("5"), ge=0)
    # account weight a holding may drift from target before a daily rebalance trades it (dsl.md §4.1: on top of
    # each symphony's own frequency or corridor); 0.01 stops a 100 % symphony's cash buffer churning every session
    drift_band: float = Field(default=0.01, ge=0, lt=1)
    pdt_guard: bool = True
    pdt_min_equity: Decimal = Field(default=Decimal("25000"), ge=0, le=Decimal("1e12"))
    kill_switch_action: Literal["freeze", "cancel", "flatten"] = "freeze"


class ExecutionSettings(_Section):
    ladder_steps: list[float] = Field(default_factory=lambda: [0.5, 0.75, 0.95], min_length=1)
    step_wait_seconds: float = Field(default=15.0, gt=0, le=3600)
    market_fallback: bool = True
    max_concurrent_orders: int = Field(default=4, ge=1, le=64)
    ack_sla_seconds: float = Field(default=10.0, gt=0, le=3600)
    approval_mode: bool = False
    approval_timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)

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
            if PLACEHOLDER.match(text):
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
    # A CSV of corporate events (splits, dividends, halts, closings, renames; see alchemiser/sim/corporate_events.py)
    corporate_actions: Path | None = None


class ParitySettings(_Section):
    """The live-vs-backtest parity monitor (alchemiser/parity/): alert thresholds and the shadow's cost model."""

    enabled: bool = True
    #: notify when |account - shadow| exceeds this many basis points of the account's equity (0 = never)
    tracking_error_alert_bps: float = Field(default=100.0, ge=0, le=10_000)
    #: notify when this many data-drift events (a revised bar flipped a decision) happened in the last 30 sessions
    data_drift_alert_count: int = Field(default=1, ge=0, le=1000)
    #: an order whose last fill came later than this after the decision counts as late (timing, not execution)
    late_fill_seconds: float = Field(default=300.0, gt=0, le=86_400)
    #: the shadow's fill model: half of this spread plus the slippage are paid on every simulated fill
    shadow_spread_bps: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    shadow_slippage_bps: Decimal = Field(default=Decimal(0), ge=0, le=1000)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class SupervisorSettings(_Section):
    heartbeat_timeout_seconds: float = Field(default=60.0, gt=0, le=86_400)
    check_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    restart_budget: int = Field(default=5, ge=0, le=10_000)
    restart_window_seconds: float = Field(default=600.0, gt=0, le=604_800)
    backoff_base_seconds: float = Field(default=1.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(default=60.0, gt=0, le=86_400)
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
