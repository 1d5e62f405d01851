"""The scheduler actor: refresh bars ahead of each decision slot, run the decision at its time, apply the
missed-decision policy at start.

Loop: next slot → sleep (idle) until ``refresh_at`` → refresh bars (busy, heartbeating) → sleep until
``decision_at`` → ``resolve_slot`` → run the decision (on time or late) or record the skip and notify.
At start the latest slot is checked once: if its decision was never made and we are still inside the late window
(and before the close) it runs late; a slot of today that is beyond the window is recorded as skipped and reported.

``next_slot`` is public for ``/status`` and ``/readyz``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError
from alchemiser.notify.events import DecisionSkipped, Failure
from alchemiser.process.actor import Actor
from alchemiser.store.decisions import DecisionStore, scheduled_decision_id
from alchemiser.trading.decision import DecisionCycle
from alchemiser.trading.decision_ports import Publisher
from alchemiser.trading.schedule import NEW_YORK, DecisionSlot, SlotAction, TradingCalendar, resolve_slot

SlotListener = Callable[[DecisionSlot | None], None]


class SchedulerActor(Actor):
    def __init__(
        self,
        cycle: DecisionCycle,
        calendar: TradingCalendar,
        decisions: DecisionStore,
        clock: Clock,
        *,
        late_window: timedelta,
        runtime_clock: Clock | None = None,
        notifier: Publisher | None = None,
        run_id: str | None = None,
        heartbeat_timeout: float | None = 600.0,
        on_slot: SlotListener | None = None,
        refresh_retry: timedelta = timedelta(minutes=1),
        after_decision: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._refresh_retry = refresh_retry
        self._after_decision = after_decision  # daily housekeeping (store retention)
        # Heartbeats are on the supervisor's (wall) clock; slots and sleeps on the domain clock (accelerated in sim).
        super().__init__("scheduler", runtime_clock or clock, heartbeat_timeout=heartbeat_timeout)
        self.domain_clock = clock
        self._cycle = cycle
        self._calendar = calendar
        self._decisions = decisions
        self._late_window = late_window
        self._notifier = notifier
        self._run_id = run_id
        self._on_slot = on_slot
        self.next_slot: DecisionSlot | None = None
        self.phase = "starting"
        self._startup_checked = False
        self.skipped: list[str] = []

    def upcoming_slot(self) -> DecisionSlot:
        """The slot the scheduler waits for or, before its first pass, the calendar's next one."""
        return self.next_slot or self._calendar.next_decision(self.domain_clock.now())

    @property
    def busy(self) -> bool:
        """A decision is running (scheduled or manual)."""
        return self._cycle.running

    @property
    def evaluating(self) -> bool:
        """A decision is evaluating its symphonies (CPU work whose duration depends on the host, not the market)."""
        return self._cycle.evaluating

    async def on_start(self) -> None:
        if not self._startup_checked:
            self._startup_checked = True
            await self._check_missed()

    async def _check_missed(self) -> None:
        now = self.domain_clock.now()
        latest = self._calendar.latest_decision(now)
        if latest is None or await self._decisions.exists(scheduled_decision_id(latest.day)):
            return
        resolution = resolve_slot(latest, now, late_window=self._late_window)
        if resolution.action in (SlotAction.RUN, SlotAction.RUN_LATE):
            self.log.warning("decision_late", reason=resolution.reason)
            await self._refresh_and_run(latest, "late" if resolution.action is SlotAction.RUN_LATE else "schedule")
        elif latest.day == now.astimezone(NEW_YORK).date():
            await self._skip(latest, resolution.reason)

    async def run(self) -> None:
        while not self.stop_requested:
            slot = self._calendar.next_decision(self.domain_clock.now())
            self._set_slot(slot)
            if self.domain_clock.now() < slot.refresh_at:
                self.phase = "waiting_refresh"
                await self._sleep_until(slot.refresh_at)
            self.phase = "refreshing"
            await self._refresh(slot)
            self.phase = "waiting_decision"
            await self._sleep_until(slot.decision_at)
            resolution = resolve_slot(slot, self.domain_clock.now(), late_window=self._late_window)
            if resolution.action is SlotAction.SKIP:
                await self._skip(slot, resolution.reason)
            else:
                await self._run(slot, "late" if resolution.action is SlotAction.RUN_LATE else "schedule")
            self.phase = "idle"

    async def _sleep_until(self, moment: datetime) -> None:
        if moment > self.domain_clock.now():
            await self.idle_wait(self.domain_clock.sleep_until(moment))

    def _set_slot(self, slot: DecisionSlot | None) -> None:
        self.next_slot = slot
        if self._on_slot is not None:
            self._on_slot(slot)

    async def _refresh(self, slot: DecisionSlot) -> None:
        """Refresh bars; symbols that failed are retried every ``refresh_retry`` until shortly before the decision."""
        while True:
            self.heartbeat()
            try:
                report = await self._cycle.refresh(slot.day)
            except AlchemiserError as exc:
                self.log.error("bars_refresh_failed", session=slot.day.isoformat(), error=str(exc))
                failed = str(exc)
            else:
                failed = "; ".join(f"{s}: {e}" for s, e in sorted(report.failed.items()))
            self.heartbeat()
            if not failed:
                return
            if self.domain_clock.now() + self._refresh_retry * 2 > slot.decision_at:
                # The decision fails closed per strategy on what is still missing; report it now.
                self._publish(
                    Failure("data_refresh", f"bars for {slot.day} incomplete: {failed}", self.domain_clock.now())
                )
                return
            self.log.warning("bars_refresh_retry", session=slot.day.isoformat(), failed=failed)
            await self.idle_wait(self.domain_clock.sleep(self._refresh_retry.total_seconds()))

    async def _refresh_and_run(self, slot: DecisionSlot, trigger: str) -> None:
        await self._refresh(slot)
        await self._run(slot, trigger)

    async def _run(self, slot: DecisionSlot, trigger: str) -> None:
        self.phase = "deciding"
        self.heartbeat()
        keep_alive = asyncio.create_task(self._keep_alive())
        try:
            await self._cycle.run(slot.day, "late" if trigger == "late" else "schedule")
            if self._after_decision is not None:
                try:
                    await self._after_decision()
                except AlchemiserError as exc:  # housekeeping never stops the trading day
                    self.log.warning("after_decision_failed", error=str(exc))
        finally:
            keep_alive.cancel()
            self.heartbeat()

    async def _keep_alive(self) -> None:
        """A decision waits on execution (orders can take minutes): show the supervisor we are alive."""
        interval = (self.heartbeat_timeout or 600.0) / 4
        while True:
            self.heartbeat()
            await self.clock.sleep(interval)  # the supervisor's clock: heartbeats are judged on it

    async def _skip(self, slot: DecisionSlot, reason: str) -> None:
        decision_id = scheduled_decision_id(slot.day)
        recorded = await self._decisions.record_skipped(
            decision_id,
            session=slot.day,
            reason=reason,
            at=self.domain_clock.now(),
            as_of_policy=self._cycle.as_of_policy,
            run_id=self._run_id,
        )
        if recorded:
            self.skipped.append(decision_id)
            self.log.warning("decision_skipped", session=slot.day.isoformat(), reason=reason)
            self._publish(DecisionSkipped(slot.day.isoformat(), reason, self.domain_clock.now()))

    def _publish(self, event: object) -> None:
        if self._notifier is not None:
            self._notifier.publish(event)
