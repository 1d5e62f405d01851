"""Execution metrics on an injected prometheus ``CollectorRegistry`` (never the global one)."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from alchemiser.broker.enums import OrderSide


class ExecutionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.submit_to_fill = Histogram(
            "alchemiser_execution_submit_to_fill_seconds",
            "Time from an order's submission to its complete fill (clock time).",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
            registry=registry,
        )
        self.slippage_bps = Histogram(
            "alchemiser_execution_slippage_bps",
            "Fill price vs the decision-time quote, in basis points; positive = worse for us.",
            ["side"],
            buckets=(-50, -20, -10, -5, -2, 0, 2, 5, 10, 20, 50, 100, 250),
            registry=registry,
        )
        self.ladder_step = Counter(
            "alchemiser_execution_ladder_step_reached_total",
            "Order lines by the last ladder step they reached (market = the market fallback).",
            ["step"],
            registry=registry,
        )
        self.rejects = Counter(
            "alchemiser_execution_rejects_total",
            "Orders refused, by reason (broker rejection type or the risk rule's name).",
            ["reason"],
            registry=registry,
        )
        self.orders_submitted = Counter(
            "alchemiser_execution_orders_submitted_total",
            "Orders sent to the broker.",
            ["side", "type"],
            registry=registry,
        )
        self.watchdog_resolutions = Counter(
            "alchemiser_execution_watchdog_resolutions_total",
            "Orders whose state had to be fetched by REST because no event arrived within the ack SLA.",
            registry=registry,
        )
        self.ack_overdue = Counter(
            "alchemiser_execution_ack_overdue_total",
            "Orders not acknowledged (still pending_new/accepted) within the ack SLA; each is then checked by REST.",
            registry=registry,
        )
        self.unresolved = Counter(
            "alchemiser_execution_unresolved_orders_total",
            "Orders whose fate could not be established.",
            registry=registry,
        )
        self.exposure = Gauge(
            "alchemiser_execution_exposure_dollars", "Gross market value of positions.", registry=registry
        )
        self.cash = Gauge("alchemiser_execution_cash_dollars", "Account cash.", registry=registry)
        self.runs = Counter(
            "alchemiser_execution_runs_total", "Rebalance runs by final status.", ["status"], registry=registry
        )

    def observe_slippage(self, side: OrderSide, price: Decimal, reference: Decimal) -> None:
        if reference <= 0:
            return
        sign = 1 if side is OrderSide.BUY else -1
        self.slippage_bps.labels(side=side.value).observe(float((price - reference) / reference * 10000 * sign))
