"""Prometheus metrics of the Alpaca adapter, registered on a registry passed in (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class AdapterMetrics:
    """Request counts/latencies by endpoint and status, 429s, retries, reconnects, stream lag and dedupes.

    Labels carry route templates (``/v2/orders/{order_id}``), never ids or secrets.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, prefix: str = "alchemiser_alpaca") -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            f"{prefix}_requests",
            "REST requests by API, endpoint, method and HTTP status (or error kind)",
            ["api", "endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{prefix}_request_seconds",
            "REST request latency by API and endpoint",
            ["api", "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            f"{prefix}_rate_limited",
            "HTTP 429 replies by API and endpoint",
            ["api", "endpoint"],
            registry=self.registry,
        )
        self.retries = Counter(
            f"{prefix}_retries",
            "Retries of idempotent requests by API and endpoint",
            ["api", "endpoint"],
            registry=self.registry,
        )
        self.limiter_wait = Counter(
            f"{prefix}_limiter_wait_seconds",
            "Seconds spent waiting for the request budget",
            ["api"],
            registry=self.registry,
        )
        self.submit_outcomes = Counter(
            f"{prefix}_submit_outcomes",
            "Order submissions by outcome (submitted, adopted, unknown, rejected)",
            ["outcome"],
            registry=self.registry,
        )
        self.stream_connects = Counter(
            f"{prefix}_stream_connects",
            "trade_updates connections established",
            registry=self.registry,
        )
        self.stream_reconnects = Counter(
            f"{prefix}_stream_reconnects",
            "trade_updates reconnect attempts by reason",
            ["reason"],
            registry=self.registry,
        )
        self.stream_events = Counter(
            f"{prefix}_stream_events",
            "trade_updates events delivered by event type and origin (stream or reconciliation)",
            ["event", "origin"],
            registry=self.registry,
        )
        self.stream_dedupes = Counter(
            f"{prefix}_stream_dedupes",
            "trade_updates events dropped as duplicates or stale",
            ["reason"],
            registry=self.registry,
        )
        self.stream_lag = Gauge(
            f"{prefix}_stream_lag_seconds",
            "Delay between an event's timestamp and its receipt",
            registry=self.registry,
        )
        self.stream_connected = Gauge(
            f"{prefix}_stream_connected",
            "1 while the trade_updates stream is authorised and listening",
            registry=self.registry,
        )
