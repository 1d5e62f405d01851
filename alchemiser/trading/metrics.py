"""Prometheus metrics of the decision side: data age per symbol, decision duration, decision-to-last-fill time,
strategies failed closed, decisions by outcome, next decision time, notifications by outcome."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from alchemiser.trading.decision_ports import DecisionStats
from alchemiser.trading.schedule import DecisionSlot


class DecisionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.data_age = Gauge(
            "alchemiser_data_age_sessions",
            "Calendar days between the last daily bar held and the one the next decision needs (0 = fresh)",
            ["symbol"],
            registry=registry,
        )
        self.duration = Gauge(
            "alchemiser_decision_duration_seconds", "Wall time of the last decision cycle", registry=registry
        )
        self.to_last_fill = Gauge(
            "alchemiser_decision_to_last_fill_seconds",
            "Clock time from the decision's start to its last fill",
            registry=registry,
        )
        self.failed_closed = Counter(
            "alchemiser_strategies_failed_closed_total",
            "Strategies that did not trade because data or evaluation failed",
            registry=registry,
        )
        self.decisions = Counter(
            "alchemiser_decisions_total", "Decision cycles by outcome", ["status"], registry=registry
        )
        self.next_decision = Gauge(
            "alchemiser_next_decision_timestamp_seconds", "Unix time of the next scheduled decision", registry=registry
        )
        self.notifications = Counter(
            "alchemiser_notifications_total",
            "Notification deliveries by outcome",
            ["channel", "outcome"],
            registry=registry,
        )
        self._seen_failed = 0
        self._seen_status: dict[str, int] = {}

    def on_data_age(self, symbol: str, age_days: float) -> None:
        self.data_age.labels(symbol).set(age_days if age_days != float("inf") else -1)

    def on_stats(self, stats: DecisionStats) -> None:
        if stats.last_duration_seconds is not None:
            self.duration.set(stats.last_duration_seconds)
        if stats.last_decision_to_fill_seconds is not None:
            self.to_last_fill.set(stats.last_decision_to_fill_seconds)
        if stats.failed_closed > self._seen_failed:
            self.failed_closed.inc(stats.failed_closed - self._seen_failed)
            self._seen_failed = stats.failed_closed
        for status, count in stats.by_status.items():
            seen = self._seen_status.get(status, 0)
            if count > seen:
                self.decisions.labels(status).inc(count - seen)
                self._seen_status[status] = count

    def on_slot(self, slot: DecisionSlot | None) -> None:
        if slot is not None:
            self.next_decision.set(slot.decision_at.timestamp())

    def on_notification(self, channel: str, outcome: str) -> None:
        self.notifications.labels(channel, outcome).inc()
