"""One order's life with the broker: idempotent submit, event-driven wait with an ack watchdog, confirmed cancel.

* **Submit** never resends blindly. A transient failure, an unclear outcome or a "client_order_id must be unique"
  reply is resolved by ``GET /v2/orders:by_client_order_id``: found → adopt it; 404 → the broker never saw it, so
  sending again with the *same* id is safe (alpaca-protocol.md §2.2). Outcomes are typed, never ``None``.
* **Wait** wakes on the order's events; whenever ``ack_sla_seconds`` pass without news, the order is fetched by
  REST (the watchdog), so a dropped stream cannot leave an order unknown.
* **Cancel** counts only when confirmed: a terminal status from the stream or REST. 204 alone means nothing; a
  422 "not cancelable" means it already finished (usually filled) and is verified by REST.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog

from alchemiser.broker.enums import OrderStatus
from alchemiser.broker.models import Order, OrderRequest, SubmitStatus
from alchemiser.broker.protocol import Broker
from alchemiser.clock import Clock
from alchemiser.errors import (
    BrokerError,
    BrokerTransientError,
    DuplicateClientOrderIdError,
    NotCancelableError,
    NotFoundError,
    OrderRejectedError,
    RateLimitedError,
    StoreError,
)
from alchemiser.execution.metrics import ExecutionMetrics
from alchemiser.execution.params import ExecutionParams
from alchemiser.execution.state import OrderTracker
from alchemiser.execution.tracking import OrderEvents

log = structlog.get_logger("alchemiser.execution.orders")


class SendStatus(StrEnum):
    SENT = "sent"  # the broker has the order (``order`` set)
    REJECTED = "rejected"  # refused; ``reason`` says why
    NOT_FOUND = "not_found"  # a lookup proved the broker does not have it
    UNKNOWN = "unknown"  # could not be established


@dataclass(frozen=True, slots=True)
class SendOutcome:
    status: SendStatus
    order: Order | None = None
    reason: str = ""
    error_type: str = ""


class OrderDriver:
    def __init__(
        self,
        broker: Broker,
        events: OrderEvents,
        clock: Clock,
        params: ExecutionParams,
        metrics: ExecutionMetrics,
    ) -> None:
        self._broker = broker
        self._events = events
        self._clock = clock
        self._params = params
        self._metrics = metrics

    async def lookup(self, client_order_id: str) -> SendOutcome:
        """Ask the broker for the order with this client id (a few tries on transient errors)."""
        last = ""
        for attempt in range(self._params.lookup_attempts):
            try:
                order = await self._broker.get_order_by_client_id(client_order_id)
            except NotFoundError:
                return SendOutcome(SendStatus.NOT_FOUND)
            except BrokerTransientError as exc:
                last = str(exc)
                await self._clock.sleep(min(0.25 * 2**attempt, 5.0))
                continue
            await self._record(order)
            return SendOutcome(SendStatus.SENT, order)
        return SendOutcome(SendStatus.UNKNOWN, reason=f"lookup failed: {last}")

    async def submit(self, request: OrderRequest) -> SendOutcome:
        """Send once; resolve any doubt by lookup; resend with the same id only after a 404 (with backoff, honouring
        a 429's retry-after)."""
        retry_after: float | None = None
        for attempt in range(self._params.send_attempts):
            if attempt:
                await self._clock.sleep(_backoff(attempt, retry_after))
                retry_after = None
            try:
                result = await self._broker.submit_order(request)
            except DuplicateClientOrderIdError:
                found = await self.lookup(request.client_order_id)
                if found.status is SendStatus.NOT_FOUND:
                    return SendOutcome(SendStatus.UNKNOWN, reason="duplicate client_order_id but lookup found none")
                return found
            except OrderRejectedError as exc:
                return SendOutcome(SendStatus.REJECTED, reason=str(exc), error_type=type(exc).__name__)
            except BrokerTransientError as exc:
                log.warning("execution.submit_unclear", client_order_id=request.client_order_id, error=str(exc))
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                found = await self.lookup(request.client_order_id)
                if found.status is SendStatus.NOT_FOUND:
                    continue  # the broker never saw it: resend with the same id
                return found
            if result.status is SubmitStatus.UNKNOWN or result.order is None:
                found = await self.lookup(request.client_order_id)
                if found.status is SendStatus.NOT_FOUND:
                    continue
                return found
            self._metrics.orders_submitted.labels(side=request.side.value, type=request.type.value).inc()
            await self._record(result.order)
            return SendOutcome(SendStatus.SENT, result.order)
        return SendOutcome(SendStatus.UNKNOWN, reason="send outcome unknown after repeated lookups")

    async def _record(self, order: Order) -> None:
        """Apply a snapshot the broker just gave us. A store failure leaves the tracker dirty (the change undone);
        the line re-derives it from REST before moving on, so the order itself is never forgotten."""
        try:
            await self._events.apply_snapshot(order)
        except StoreError as exc:
            log.error("execution.snapshot_not_persisted", client_order_id=order.client_order_id, error=str(exc))

    async def refresh(self, tracker: OrderTracker) -> None:
        """REST verification of one order (the watchdog's action)."""
        try:
            if tracker.order is not None:
                order = await self._broker.get_order(tracker.order.id)
            else:
                order = await self._broker.get_order_by_client_id(tracker.client_order_id)
        except (BrokerTransientError, NotFoundError) as exc:
            log.warning("execution.refresh_failed", client_order_id=tracker.client_order_id, error=str(exc))
            return
        try:
            applied = await self._events.apply_snapshot(order)
        except StoreError as exc:  # undone and marked dirty by OrderEvents; the caller retries or gives up
            log.error("execution.refresh_not_persisted", client_order_id=tracker.client_order_id, error=str(exc))
            return
        if applied.accepted:
            self._metrics.watchdog_resolutions.inc()

    async def wait(self, tracker: OrderTracker, until: datetime) -> None:
        """Until the order is terminal or ``until`` passes; REST-verify whenever the SLA passes without news."""
        sla = timedelta(seconds=self._params.ack_sla_seconds)
        while not tracker.terminal:
            now = self._clock.now()
            if now >= until:
                return
            wake = min(until, now + sla)
            tracker.changed.clear()
            if tracker.terminal:
                return
            got_event = await self._event_or_time(tracker, wake)
            if not got_event and not tracker.terminal:
                if tracker.status in (None, OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED):
                    # no acknowledgement within the SLA: flag it, then settle it by REST
                    self._metrics.ack_overdue.inc()
                    log.warning(
                        "execution.ack_overdue",
                        client_order_id=tracker.client_order_id,
                        status=None if tracker.status is None else tracker.status.value,
                        sla_seconds=self._params.ack_sla_seconds,
                    )
                await self.refresh(tracker)

    async def _event_or_time(self, tracker: OrderTracker, when: datetime) -> bool:
        event_task = asyncio.ensure_future(tracker.changed.wait())
        sleep_task = asyncio.ensure_future(self._clock.sleep_until(when))
        try:
            done, _ = await asyncio.wait({event_task, sleep_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (event_task, sleep_task):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        return event_task in done

    async def cancel_and_confirm(self, tracker: OrderTracker) -> bool:
        """Request a cancel and wait for a terminal status. False = not confirmed (the order may still fill)."""
        if tracker.terminal:
            return True
        if tracker.order is None:
            await self.refresh(tracker)
            if tracker.order is None:
                return False
        try:
            await self._broker.cancel_order(tracker.order.id)
        except NotCancelableError:
            await self.refresh(tracker)
        except NotFoundError:
            await self.refresh(tracker)
        except BrokerTransientError as exc:
            log.warning("execution.cancel_unclear", client_order_id=tracker.client_order_id, error=str(exc))
        except BrokerError as exc:
            log.error("execution.cancel_failed", client_order_id=tracker.client_order_id, error=str(exc))
        deadline = self._clock.now() + timedelta(seconds=self._params.ack_sla_seconds * 3)
        attempts = 0
        while not tracker.terminal and self._clock.now() < deadline:
            await self.wait(tracker, min(deadline, self._clock.now() + timedelta(seconds=self._params.ack_sla_seconds)))
            if not tracker.terminal and attempts < 2 and tracker.order is not None:
                attempts += 1
                try:
                    await self._broker.cancel_order(tracker.order.id)
                except (NotCancelableError, NotFoundError):
                    await self.refresh(tracker)
                except BrokerError as exc:
                    log.warning("execution.cancel_retry_failed", error=str(exc))
        return tracker.terminal


def _backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds before resending: the server's retry-after when it gave one (≤ 60 s), else 0.5 s doubling to 8 s."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), 60.0)
    return min(0.5 * 2.0 ** (attempt - 1), 8.0)
