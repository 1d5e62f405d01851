"""Manual rebalances (``POST /api/rebalance``): one at a time, stored before they are acknowledged, never lost.

* **One at a time.** A request claims the rebalance *before its first await*, so of many concurrent requests exactly
  one is accepted and the others get :class:`RebalanceRefused` (409), as does a request while any decision runs.
* **Durable.** The accepted request (with its decision id and session) is written to the operator-request outbox
  before the API answers 202. Its row is closed with the decision's outcome.
* **Recovered.** After a crash, :meth:`ManualRebalance.recover` settles every open rebalance request: if its decision
  was recorded, the request is closed with that decision's outcome (execution resumes the orders of an interrupted
  one); if not and its session is still open, the rebalance is carried out now; otherwise it is expired with the
  reason (the session closed). :class:`RequestRecovery` runs that once the daemon has started.
* **Unique ids.** Manual decision ids have microsecond resolution and an id already in the store is never reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta

from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError
from alchemiser.logging import get_logger
from alchemiser.notify.events import Failure
from alchemiser.process.actor import Actor
from alchemiser.store.decisions import DecisionStore, manual_decision_id
from alchemiser.store.operator_requests import OperatorRequests, RequestStatus
from alchemiser.trading.decision import DecisionCycle
from alchemiser.trading.decision_ports import DecisionOutcome, Publisher
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar

log = get_logger("manual_rebalance")


class RebalanceRefused(Exception):
    """The request cannot be accepted now (another decision runs, the market is closed); the message says why."""


class ManualRebalance:
    def __init__(
        self,
        *,
        cycle: DecisionCycle,
        decisions: DecisionStore,
        calendar: TradingCalendar,
        clock: Clock,
        requests: OperatorRequests | None,
    ) -> None:
        self._cycle = cycle
        self._decisions = decisions
        self._calendar = calendar
        self._clock = clock
        self._requests = requests
        self._claimed = False
        self._tasks: set[asyncio.Task[DecisionOutcome]] = set()

    @property
    def busy(self) -> bool:
        return self._claimed or self._cycle.running

    async def request(self, *, by: str) -> tuple[str, asyncio.Task[DecisionOutcome]]:
        """Accept a rebalance now: its decision id and the task running it. :class:`RebalanceRefused` if not."""
        if self.busy:
            raise RebalanceRefused("a decision is already running; try again when it has finished")
        now = self._clock.now()
        session = self._calendar.session_at(now)
        if session is None:
            raise RebalanceRefused(f"the market is closed at {now.astimezone(NEW_YORK).isoformat()}: no rebalance")
        self._claimed = True  # before the first await: concurrent requests see it
        try:
            decision_id = await self._unused_id()
            request_id = None
            if self._requests is not None:
                payload = {"decision_id": decision_id, "session": session.day.isoformat()}
                request_id = (await self._requests.accept("rebalance", by=by, payload=payload)).request_id
        except BaseException:
            self._claimed = False
            raise
        log.info("rebalance_requested", decision_id=decision_id, request_id=request_id, client=by)
        return decision_id, self._spawn(request_id, session.day, decision_id)

    async def recover(self) -> int:
        """Settle the rebalance requests a crash left open (see the module docstring); returns how many."""
        if self._requests is None:
            return 0
        open_requests = await self._requests.open_requests(("rebalance",))
        for request in open_requests:
            decision_id = str(request.payload.get("decision_id", ""))
            session = date.fromisoformat(str(request.payload.get("session")))
            record = await self._decisions.get(decision_id) if decision_id else None
            if record is not None:
                final: RequestStatus = "done" if record.status in ("executed", "no_trade") else "failed"
                reason = f": {record.reason}" if record.reason else ""
                await self._requests.finish(
                    request.request_id, final, f"decision {decision_id} ended {record.status}{reason}"
                )
                continue
            current = self._calendar.session_at(self._clock.now())
            if current is None or current.day != session or self.busy:
                why = "a decision is running" if current is not None and current.day == session else "it closed"
                outcome = f"not carried out: the daemon restarted and the session {session} it was for is over ({why})"
                await self._requests.finish(request.request_id, "expired", outcome)
                log.warning("rebalance_request_expired", request_id=request.request_id, reason=outcome)
                continue
            log.warning("rebalance_request_resumed", request_id=request.request_id, decision_id=decision_id)
            self._claimed = True
            await asyncio.wait({self._spawn(request.request_id, session, decision_id or await self._unused_id())})
        return len(open_requests)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, request_id: str | None, session: date, decision_id: str) -> asyncio.Task[DecisionOutcome]:
        task = asyncio.create_task(self._run(request_id, session, decision_id), name=f"rebalance-{decision_id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[DecisionOutcome]) -> None:
        self._tasks.discard(task)
        self._claimed = False
        if not task.cancelled() and task.exception() is not None:
            log.error("rebalance_failed", error=f"{type(task.exception()).__name__}: {task.exception()}")

    async def _run(self, request_id: str | None, session: date, decision_id: str) -> DecisionOutcome:
        if self._requests is not None and request_id is not None:
            await self._requests.start(request_id)
        try:
            try:
                await self._cycle.refresh(session)
            except AlchemiserError as exc:
                log.warning("rebalance_refresh_failed", error=str(exc))
            outcome = await self._cycle.run(session, "manual", decision_id=decision_id)
        except AlchemiserError as exc:
            if self._requests is not None and request_id is not None:
                await self._settle(request_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if self._requests is not None and request_id is not None:
            status: RequestStatus = "done" if outcome.status in ("executed", "no_trade") else "failed"
            reason = f": {outcome.reason}" if outcome.reason else ""
            await self._settle(request_id, status, f"decision {decision_id} ended {outcome.status}{reason}")
        return outcome

    async def _settle(self, request_id: str, status: RequestStatus, outcome: str) -> None:
        assert self._requests is not None  # noqa: S101 - checked by the callers
        try:
            await self._requests.finish(request_id, status, outcome)
        except AlchemiserError as exc:  # the store is failing: the request stays open and is settled at restart
            log.error("rebalance_request_unsettled", request_id=request_id, error=str(exc))

    async def _unused_id(self) -> str:
        at = self._clock.now()
        decision_id = manual_decision_id(at)
        while await self._decisions.exists(decision_id):
            at += timedelta(microseconds=1)
            decision_id = manual_decision_id(at)
        return decision_id


class RequestRecovery(Actor):
    """Once the daemon runs, settles the operator requests a crash left open; then idles until stopped."""

    def __init__(self, manual: ManualRebalance, clock: Clock) -> None:
        super().__init__("request_recovery", clock)
        self._manual = manual
        self._recovered = False

    async def run(self) -> None:
        if not self._recovered:
            await self.idle_wait(self._manual.recover())
            self._recovered = True
        await self.idle_wait(asyncio.Event().wait())


def store_fault_listener(
    notifier: Publisher, decisions: DecisionStore, manual: ManualRebalance, clock: Clock
) -> Callable[[str | None], None]:
    """For ``Store.add_fault_listener``: alert when store writes start failing; once they work again, close the
    decisions and rebalance requests the fault left open (a decision is never resumed: intents are written before
    orders are sent, so none of its orders went out)."""
    pending: set[asyncio.Task[None]] = set()

    async def settle() -> None:
        await decisions.mark_interrupted(clock.now(), reason="interrupted: the store could not be written mid-decision")
        await manual.recover()

    def on_fault(fault: str | None) -> None:
        if fault is not None:
            notifier.publish(Failure("store", f"store writes failing ({fault}): trading stopped", clock.now()))
        elif not manual.busy:
            task = asyncio.ensure_future(settle())
            pending.add(task)
            task.add_done_callback(pending.discard)

    return on_fault
