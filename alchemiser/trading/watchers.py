"""Small supervised actors around the decision side.

* ``NotifierActor`` — runs the notifier's channel workers under the supervisor (idle while waiting).
* ``MarketWatch`` — every ``interval`` seconds (wall clock) reads the broker's ``/v2/clock`` and cross-checks it
  with the XNYS calendar; a disagreement or an unreachable broker fails the ``broker_clock`` readiness condition
  with the reason (and the decision gate reads the same check).
* ``ReadinessWatch`` — evaluates readiness every ``interval`` seconds and notifies on transitions (readiness lost /
  regained), so an operator hears about it without polling.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from alchemiser.broker.models import MarketClock
from alchemiser.clock import Clock
from alchemiser.errors import BrokerError
from alchemiser.notify.events import ReadinessChanged
from alchemiser.notify.notifier import Notifier
from alchemiser.process.actor import Actor
from alchemiser.process.readiness import Readiness, ReadinessFlag
from alchemiser.trading.decision_ports import Publisher
from alchemiser.trading.schedule import ClockCheck, TradingCalendar, cross_check_clock


class NotifierActor(Actor):
    def __init__(self, notifier: Notifier, clock: Clock) -> None:
        super().__init__("notifier", clock)
        self.notifier = notifier

    async def run(self) -> None:
        await self.idle_wait(self.notifier.run())


class ClockSource:
    """The broker clock as the gate and the watcher see it (``fetch`` is the broker's ``get_clock``)."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[MarketClock]],
        calendar: TradingCalendar,
        domain_clock: Clock,
        *,
        cross_check: bool = True,
    ) -> None:
        self._fetch = fetch
        self._calendar = calendar
        self._clock = domain_clock
        self._cross_check = cross_check
        self.last: MarketClock | None = None
        self.last_check: ClockCheck | None = None

    async def check(self) -> tuple[MarketClock, ClockCheck]:
        """Fetch the broker clock and compare; raises ``BrokerError`` when the broker cannot be reached."""
        asked_at = self._clock.now()
        broker_clock = await self._fetch()
        if self._cross_check:
            check = cross_check_clock(broker_clock, self._calendar, self._clock.now(), asked_at=asked_at)
        else:
            check = ClockCheck(ok=True, reasons=())
        self.last, self.last_check = broker_clock, check
        return broker_clock, check


class MarketWatch(Actor):
    def __init__(self, source: ClockSource, flag: ReadinessFlag, clock: Clock, *, interval: float = 30.0) -> None:
        super().__init__("market_watch", clock, heartbeat_timeout=120.0)
        self._source = source
        self._flag = flag
        self._interval = interval

    async def run(self) -> None:
        while not self.stop_requested:
            await self.check_once()
            await self.sleep(self._interval)

    async def check_once(self) -> None:
        try:
            broker_clock, check = await self._source.check()
        except BrokerError as exc:
            self._flag.set_failed(f"broker clock unavailable: {exc}")
            self.log.warning("broker_clock_unavailable", error=str(exc))
            return
        if check.ok:
            state = "open" if broker_clock.is_open else "closed"
            self._flag.set_ok(f"market {state}; broker clock agrees with XNYS")
        else:
            self._flag.set_failed(check.reason)
            self.log.error("broker_clock_disagrees", reason=check.reason)


class ReadinessWatch(Actor):
    def __init__(
        self,
        readiness: Readiness,
        notifier: Publisher,
        clock: Clock,
        *,
        interval: float = 5.0,
        ignore: tuple[str, ...] = (),
    ) -> None:
        super().__init__("readiness_watch", clock, heartbeat_timeout=120.0)
        self._readiness = readiness
        self._notifier = notifier
        self._interval = interval
        self._ignore = ignore
        self._was_ready: bool | None = None
        self._last_reasons: tuple[str, ...] = ()

    async def run(self) -> None:
        while not self.stop_requested:
            await self.check_once()
            await self.sleep(self._interval)

    async def check_once(self) -> None:
        report = await self._readiness.evaluate()
        failing = {k: v for k, v in report.failing.items() if k not in self._ignore}
        ready = not failing
        reasons = tuple(f"{k}: {v}" for k, v in sorted(failing.items()))
        if self._was_ready is None:
            self._was_ready = ready
            if not ready:
                self._notifier.publish(ReadinessChanged(False, reasons, self.clock.now()))
                self._last_reasons = reasons
            return
        if ready != self._was_ready or (not ready and reasons != self._last_reasons):
            self._notifier.publish(ReadinessChanged(ready, reasons, self.clock.now()))
        self._was_ready = ready
        self._last_reasons = reasons
