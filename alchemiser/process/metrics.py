"""Prometheus metrics on a registry owned by one :class:`Metrics` object (never the global default registry).

Built in: process (CPU, RSS, fds), Python GC and platform, event-loop lag, actor state/restarts/heartbeat age,
circuit-breaker states (``watch_breaker``), queue depth/capacity/rejections (``watch_queue``), readiness and the
kill switch. Other components register their own metrics on ``metrics.registry``::

    orders = Counter("alchemiser_orders_total", "Orders placed", ["side"], registry=metrics.registry)
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from alchemiser import __version__
from alchemiser.process.actor import BoundedQueue
from alchemiser.process.breaker import BreakerState, CircuitBreaker

LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _QueueCollector(Collector):
    def __init__(self) -> None:
        self.queues: dict[str, BoundedQueue[Any]] = {}

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily("alchemiser_queue_depth", "Messages waiting in a bounded queue", labels=["queue"])
        capacity = GaugeMetricFamily("alchemiser_queue_capacity", "Bound of a queue", labels=["queue"])
        for name, queue in sorted(self.queues.items()):
            depth.add_metric([name], queue.qsize())
            capacity.add_metric([name], queue.maxsize)
        yield depth
        yield capacity


class _CallbackGauge(Collector):
    """A labelled gauge whose samples come from a function at scrape time."""

    def __init__(
        self, name: str, documentation: str, labels: list[str], read: Callable[[], dict[tuple[str, ...], float]]
    ):
        self._name = name
        self._doc = documentation
        self._labels = labels
        self._read = read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self._name, self._doc, labels=self._labels)
        for label_values, value in sorted(self._read().items()):
            family.add_metric(list(label_values), value)
        yield family


class Metrics:
    def __init__(self, *, mode: str = "sim", process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry()
        if process_metrics:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        Info("alchemiser_build", "alchemiser version and mode", registry=self.registry).info(
            {"version": __version__, "mode": mode}
        )
        self.started = Gauge("alchemiser_start_time_seconds", "Unix time the daemon started", registry=self.registry)
        self.started.set_to_current_time()
        self.loop_lag = Histogram(
            "alchemiser_event_loop_lag_seconds",
            "How late the event loop ran a timer (blocking work on the loop shows here)",
            buckets=LOOP_LAG_BUCKETS,
            registry=self.registry,
        )
        self.actor_restarts = Counter(
            "alchemiser_actor_restarts_total",
            "Actor restarts by the supervisor",
            ["actor", "reason"],
            registry=self.registry,
        )
        self.actor_up = Gauge("alchemiser_actor_up", "1 while the actor is running", ["actor"], registry=self.registry)
        self.actor_gave_up = Gauge(
            "alchemiser_actor_failed", "1 when the supervisor gave up on the actor", ["actor"], registry=self.registry
        )
        self.breaker_state = Gauge(
            "alchemiser_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open",
            ["breaker"],
            registry=self.registry,
        )
        self.breaker_transitions = Counter(
            "alchemiser_breaker_transitions_total",
            "Circuit breaker state changes",
            ["breaker", "state"],
            registry=self.registry,
        )
        self.queue_rejected = Counter(
            "alchemiser_queue_rejected_total",
            "Messages refused by a full bounded queue",
            ["queue"],
            registry=self.registry,
        )
        self.ready = Gauge("alchemiser_ready", "1 when every readiness condition holds", registry=self.registry)
        self.kill_switch = Gauge(
            "alchemiser_kill_switch_engaged", "1 while the kill switch is latched", registry=self.registry
        )
        self._queues = _QueueCollector()
        self.registry.register(self._queues)

    def watch_breaker(self, breaker: CircuitBreaker) -> None:
        """Export ``breaker``'s state now and on every change."""
        self.breaker_state.labels(breaker.name).set(int(breaker.state))

        def on_change(name: str, state: BreakerState) -> None:
            self.breaker_state.labels(name).set(int(state))
            self.breaker_transitions.labels(name, state.name.lower()).inc()

        breaker.add_listener(on_change)

    def watch_queue(self, queue: BoundedQueue[Any]) -> None:
        """Export depth and capacity at scrape time and count rejections (idempotent per queue)."""
        if self._queues.queues.get(queue.name) is queue:
            return
        self._queues.queues[queue.name] = queue
        self.queue_rejected.labels(queue.name)
        queue.add_reject_listener(lambda name: self.queue_rejected.labels(name).inc())

    def gauge_callback(
        self, name: str, documentation: str, labels: list[str], read: Callable[[], dict[tuple[str, ...], float]]
    ) -> None:
        """Register a gauge computed at scrape time (e.g. heartbeat ages)."""
        self.registry.register(_CallbackGauge(name, documentation, labels, read))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class LoopLagMonitor:
    """Measures event-loop lag: how late a timer fires. Wall time on purpose (it measures the loop, not the market).

    Keeps the last ``window`` samples (default: the last minute) for percentiles in ``/status`` and benchmarks, and
    feeds every sample to the ``alchemiser_event_loop_lag_seconds`` histogram (the whole history).
    """

    def __init__(self, metrics: Metrics | None, *, interval: float = 0.25, window: int = 240) -> None:
        self._metrics = metrics
        self.interval = interval
        self.samples: deque[float] = deque(maxlen=window)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - before - self.interval)
            self.samples.append(lag)
            if self._metrics is not None:
                self._metrics.loop_lag.observe(lag)

    def percentile(self, pct: float) -> float | None:
        if not self.samples:
            return None
        if len(self.samples) == 1:
            return self.samples[0]
        cuts = statistics.quantiles(self.samples, n=100, method="inclusive")
        index = min(98, max(0, round(pct) - 1))
        return cuts[index]

    def summary(self) -> dict[str, float | None]:
        return {
            "window_seconds": round(len(self.samples) * self.interval, 1),
            "p50_ms": _ms(self.percentile(50)),
            "p99_ms": _ms(self.percentile(99)),
            "max_ms": _ms(max(self.samples) if self.samples else None),
        }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)
