"""Fault injection for the simulated exchange's protocol face. Everything is off by default.

A ``FaultConfig`` (JSON-settable through the test-only ``/sim/faults`` endpoint, or passed at start) says what to
break; a ``FaultInjector`` makes the per-request / per-event decisions from its own seeded RNG, so a given seed and
sequence of calls always breaks the same way.

REST: added latency; per-endpoint error rates (429 with ``X-Ratelimit-*`` headers, 500, 503, ``timeout`` = hang
past the client's timeout, then 504) or fixed error counts (``error_counts``: the next N matching requests fail, for
storms that certainly happen); a real rate limit (429 when exceeded); accepted-but-timed-out submits (the
order is created, the response is held back ``submit_hang_seconds``); every request refused (401/403).
Stream: refuse the handshake (406/429) or beyond ``ws_max_connections``; reply ``unauthorized``; go silent; drop
the connection (1011) after N events; duplicate, reorder or lose events. ``rate_limit_headers=False`` strips the
``X-Ratelimit-*`` headers from 429 replies; ``clock_is_open`` makes ``/v2/clock`` disagree with the calendar.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FaultKind = Literal["429", "500", "503", "timeout"]
FAULT_KINDS: tuple[FaultKind, ...] = ("429", "500", "503", "timeout")


class FaultConfig(BaseModel):
    """What to break. Endpoint keys are ``"METHOD /path"`` (e.g. ``"POST /v2/orders"``), ``"/path"`` or ``"*"``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    error_rates: dict[str, dict[FaultKind, float]] = Field(default_factory=dict)
    # the next N requests matching the key answer with that error (kinds in FAULT_KINDS order), before any rate
    error_counts: dict[str, dict[FaultKind, int]] = Field(default_factory=dict)
    hang_seconds: float = Field(default=30.0, ge=0)  # how long a "timeout" holds the response
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    submit_accept_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    submit_hang_seconds: float = Field(default=30.0, ge=0)
    auth_fail: bool = False
    ws_refuse_status: Literal[406, 429] | None = None
    ws_max_connections: int = Field(default=1, ge=1)
    ws_unauthorized: bool = False
    ws_silent: bool = False
    ws_drop_after_events: int | None = Field(default=None, ge=0)
    ws_duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    ws_loss_rate: float = Field(default=0.0, ge=0, le=1)  # trade updates never sent (lost)
    rate_limit_headers: bool = True  # False: 429 replies carry no X-Ratelimit-* headers (nor Retry-After)
    clock_is_open: bool | None = None  # /v2/clock claims this, whatever the calendar says
    ws_reorder_rate: float = Field(default=0.0, ge=0, le=1)

    @field_validator("error_rates")
    @classmethod
    def _rates_are_probabilities(cls, value: dict[str, dict[FaultKind, float]]) -> dict[str, dict[FaultKind, float]]:
        for endpoint, rates in value.items():
            for kind, rate in rates.items():
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"error_rates[{endpoint!r}][{kind!r}] = {rate} is not a probability")
            if sum(rates.values()) > 1.0:
                raise ValueError(f"error_rates[{endpoint!r}] sum to more than 1")
        return value

    @field_validator("error_counts")
    @classmethod
    def _counts_are_whole(cls, value: dict[str, dict[FaultKind, int]]) -> dict[str, dict[FaultKind, int]]:
        for endpoint, counts in value.items():
            for kind, count in counts.items():
                if count < 0:
                    raise ValueError(f"error_counts[{endpoint!r}][{kind!r}] = {count} is negative")
        return value


@dataclass(frozen=True, slots=True)
class HttpFault:
    kind: FaultKind


class FaultInjector:
    """Seeded decisions for the faults in ``config`` (replace ``config`` at any time)."""

    def __init__(self, config: FaultConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(seed)  # noqa: S311 - fault injection, not security
        self._window_start = 0.0
        self._window_count = 0
        self._counts_left = _counts(self.config)

    def configure(self, config: FaultConfig, *, seed: int | None = None) -> None:
        self.config = config
        if seed is not None:
            self._rng = random.Random(seed)  # noqa: S311
        self._window_start = 0.0
        self._window_count = 0
        self._counts_left = _counts(config)

    def latency_seconds(self) -> float:
        c = self.config
        if c.latency_ms <= 0 and c.latency_jitter_ms <= 0:
            return 0.0
        return (c.latency_ms + self._rng.uniform(0.0, c.latency_jitter_ms)) / 1000.0

    def _rates_for(self, method: str, path: str) -> dict[FaultKind, float] | None:
        rates = self.config.error_rates
        return rates.get(f"{method} {path}") or rates.get(path) or rates.get("*")

    def _counted(self, method: str, path: str) -> HttpFault | None:
        """The next error left in ``error_counts`` for this request (the most specific key with any left)."""
        for key in (f"{method} {path}", path, "*"):
            left = self._counts_left.get(key, {})
            kind = next((k for k in FAULT_KINDS if left.get(k, 0) > 0), None)
            if kind is not None:
                left[kind] -= 1
                return HttpFault(kind)
        return None

    def http_fault(self, method: str, path: str) -> HttpFault | None:
        """The error to inject for this request, if any: a counted one first, else one RNG draw per request with
        rates configured."""
        counted = self._counted(method.upper(), path)
        if counted is not None:
            return counted
        rates = self._rates_for(method.upper(), path)
        if not rates:
            return None
        draw = self._rng.random()
        acc = 0.0
        for kind in FAULT_KINDS:
            acc += rates.get(kind, 0.0)
            if draw < acc:
                return HttpFault(kind)
        return None

    def rate_limited(self, now_epoch: float) -> tuple[bool, int, int]:
        """Count a request against the per-minute limit: (exceeded, remaining, reset epoch seconds)."""
        limit = self.config.rate_limit_per_minute
        if limit is None:
            return False, 0, 0
        if now_epoch - self._window_start >= 60.0:
            self._window_start = now_epoch - (now_epoch % 60.0)
            self._window_count = 0
        self._window_count += 1
        reset = int(self._window_start + 60.0)
        remaining = max(0, limit - self._window_count)
        return self._window_count > limit, remaining, reset

    def hold_submit_response(self) -> bool:
        rate = self.config.submit_accept_timeout_rate
        return rate > 0 and self._rng.random() < rate

    def duplicate_event(self) -> bool:
        rate = self.config.ws_duplicate_rate
        return rate > 0 and self._rng.random() < rate

    def lose_event(self) -> bool:
        rate = self.config.ws_loss_rate
        return rate > 0 and self._rng.random() < rate

    def reorder_event(self) -> bool:
        rate = self.config.ws_reorder_rate
        return rate > 0 and self._rng.random() < rate


def _counts(config: FaultConfig) -> dict[str, dict[FaultKind, int]]:
    return {key: dict(counts) for key, counts in config.error_counts.items()}
