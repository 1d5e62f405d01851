"""Async REST client for one Alpaca base URL (trading or market data).

Every call: waits for the shared request budget (``RateLimiter``), has a timeout, is counted and timed by endpoint
and status, honours ``X-Ratelimit-*`` and 429 replies, and either returns the decoded JSON or raises a typed
``BrokerError``. A 429 that does not say when to come back (no ``Retry-After`` nor ``X-Ratelimit-Reset``) pauses the
whole budget for ``default_429_pause``, doubled for each such 429 in a row and jittered (× 1 to 1.5), never longer
than ``max_429_pause``; any other reply ends the streak. Idempotent calls (GET, DELETE) are retried with jittered
exponential backoff on transient errors; ``post`` is sent exactly once (order submission resolves ambiguity by
lookup, see ``broker.AlpacaBroker``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from alchemiser.adapters.alpaca.auth import AlpacaCredentials, redact
from alchemiser.adapters.alpaca.constants import (
    DEFAULT_TIMEOUT_SECONDS,
    HEADER_RATELIMIT_REMAINING,
    HEADER_RATELIMIT_RESET,
)
from alchemiser.adapters.alpaca.errors import RequestKind, map_http_error, retry_after_seconds
from alchemiser.adapters.alpaca.limiter import RateLimiter
from alchemiser.adapters.alpaca.metrics import AdapterMetrics
from alchemiser.adapters.alpaca.parsing import decode_json
from alchemiser.clock import Clock
from alchemiser.errors import BrokerTransientError, RateLimitedError, TransientError
from alchemiser.logging import get_logger
from alchemiser.process.breaker import CircuitBreaker

ApiName = Literal["trading", "data"]
Params = Mapping[str, str | int | float | bool | None]

log = get_logger("alpaca_rest")


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    path: str
    endpoint: str  # route template used as the metrics label
    params: Params | None
    body: Mapping[str, Any] | None
    kind: RequestKind
    priority: bool
    raw: bool = False


def counts_as_outage(exc: BaseException) -> bool:
    """What trips a REST API's circuit breaker: transient failures, except a 429. A rate limit says the API is up and
    asks us to slow down, which the budget's pause does; counted, a short storm on order submissions (each sent once)
    would open the breaker and fail every call for its cool-down."""
    return isinstance(exc, TransientError | OSError) and not isinstance(exc, RateLimitedError)


class AlpacaRestClient:
    def __init__(
        self,
        *,
        api: ApiName,
        base_url: str,
        credentials: AlpacaCredentials,
        clock: Clock,
        limiter: RateLimiter,
        metrics: AdapterMetrics,
        breaker: CircuitBreaker | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        default_429_pause: float = 3.0,
        max_429_pause: float = 60.0,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.api = api
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._clock = clock
        self.limiter = limiter
        self._metrics = metrics
        self.breaker = breaker
        self.timeout_seconds = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._default_429_pause = default_429_pause
        self._max_429_pause = max_429_pause
        self._bare_429_streak = 0  # header-less 429s in a row
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=credentials.rest_headers(),
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, *, endpoint: str, params: Params | None = None, raw: bool = False) -> Any:
        """Idempotent read, retried on transient errors. ``raw`` returns the body bytes undecoded (for parsers that
        validate JSON directly, which is faster for large market-data pages)."""
        call = _Call("GET", path, endpoint, params, None, "read", priority=False, raw=raw)
        return await self._guarded(lambda: self._retrying(call))

    async def delete(self, path: str, *, endpoint: str, kind: RequestKind = "order_cancel") -> Any:
        """Idempotent delete (Alpaca's cancel), retried on transient errors; sent with priority."""
        call = _Call("DELETE", path, endpoint, None, None, kind, priority=True)
        return await self._guarded(lambda: self._retrying(call))

    async def post(self, path: str, *, endpoint: str, body: Mapping[str, Any], kind: RequestKind) -> Any:
        """Sent exactly once, with priority on the budget. The caller resolves an unclear outcome."""
        call = _Call("POST", path, endpoint, None, body, kind, priority=True)
        return await self._guarded(lambda: self._send_once(call))

    async def _guarded(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        if self.breaker is None:
            return await operation()
        return await self.breaker.call(operation)

    async def _retrying(self, call: _Call) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._backoff,
            retry=retry_if_exception_type(BrokerTransientError),
            sleep=self._clock.sleep,
            before_sleep=lambda state: self._on_retry(call.endpoint, state),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(call)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _backoff(self, state: RetryCallState) -> float:
        """Full-jitter exponential backoff; never shorter than a 429's advertised wait."""
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0 ** (state.attempt_number - 1))
        delay = self._rng.uniform(ceiling / 2, ceiling)
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        return delay

    def _on_retry(self, endpoint: str, state: RetryCallState) -> None:
        self._metrics.retries.labels(self.api, endpoint).inc()
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        log.warning("alpaca_retry", api=self.api, endpoint=endpoint, attempt=state.attempt_number, error=str(exc))

    async def _send_once(self, call: _Call) -> Any:
        method, endpoint, kind = call.method, call.endpoint, call.kind
        waited = await self.limiter.acquire(priority=call.priority)
        if waited > 0:
            self._metrics.limiter_wait.labels(self.api).inc(waited)
        query = {k: _query_value(v) for k, v in (call.params or {}).items() if v is not None}
        started = time.perf_counter()
        try:
            response = await self._client.request(method, call.path, params=query or None, json=call.body)
        except httpx.TimeoutException as exc:
            self._count(endpoint, method, "timeout", started)
            raise BrokerTransientError(
                f"{endpoint}: no reply within {self.timeout_seconds:g}s ({type(exc).__name__})",
                endpoint=endpoint,
                request_sent=not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout),
            ) from exc
        except httpx.RequestError as exc:
            self._count(endpoint, method, "transport_error", started)
            detail = redact(str(exc) or type(exc).__name__, self._credentials)
            raise BrokerTransientError(
                f"{endpoint}: connection failed ({detail})",
                endpoint=endpoint,
                request_sent=not isinstance(exc, httpx.ConnectError),
            ) from exc
        status = response.status_code
        self._count(endpoint, method, str(status), started)
        headers = response.headers
        self.limiter.observe_headers(headers.get(HEADER_RATELIMIT_REMAINING), headers.get(HEADER_RATELIMIT_RESET))
        if status == 429:
            self._metrics.rate_limited.labels(self.api, endpoint).inc()
            lowered = {k.lower(): v for k, v in headers.items()}
            retry_after = retry_after_seconds(lowered, self._clock.now().timestamp())
            self.limiter.pause_for(retry_after if retry_after is not None else self._bare_429_pause())
            raise map_http_error(status, response.text, kind=kind, endpoint=endpoint, retry_after=retry_after)
        self._bare_429_streak = 0
        if status >= 300:
            raise map_http_error(status, response.text, kind=kind, endpoint=endpoint)
        if call.raw:
            return response.content
        if status == 204 or not response.content:
            return None
        return decode_json(response.content, endpoint)

    def _bare_429_pause(self) -> float:
        """Seconds to pause the budget after a 429 that did not say when to come back (see the module docstring)."""
        self._bare_429_streak += 1
        doubled = self._default_429_pause * 2.0 ** min(self._bare_429_streak - 1, 30)
        return min(self._max_429_pause, doubled * self._rng.uniform(1.0, 1.5))

    def _count(self, endpoint: str, method: str, status: str, started: float) -> None:
        self._metrics.requests.labels(self.api, endpoint, method, status).inc()
        self._metrics.latency.labels(self.api, endpoint).observe(time.perf_counter() - started)


def _query_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
