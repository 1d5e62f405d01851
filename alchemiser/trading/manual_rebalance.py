"""Manual rebalances (``POST /api/rebalance``): one at a time, stored before they are acknowledged, never lost.

* **One at a time.** A request claims the rebalance *before its first await*, so of many concurrent requests exactly
  one is accepted and the others get :class:`RebalanceRefused` (409), as does a request while any decision runs.
* **Durable.** The accepted request (with its decision id and session) is written to the operator-request outbox
  before the API answers 202. Its row is closed with the decision's outcome.
* **Recovered.** After a crash, :meth:`ManualRebalance.recover` settles every open rebalance request: if its decision
  was recorded, the request is closed with that decision's outcome (execution resumes the orders of an interrupted
  one); if not and its session is still open, the rebalance is carried out now; otherwise it is expired with the
  reason (the session closed). :class:`RequestRecovery` runs that once the daemon has started. Recovery never
  touches a request this process is carrying out (one accepted since the start, or one it is resuming).
* **Settled at a stop.** The daemon's shutdown cancels a running rebalance, marks the decision it cut short as
  interrupted (failed; execution resumes its orders at the next start) and closes every open request the same way
  as recovery, except that none is carried out: one whose decision was never recorded expires. A clean stop leaves
  nothing running or open, even when it comes before recovery has run.
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
from alchemiser.store.operator_requests import OperatorRequests, RequestStatus, new_request_id
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
        self._in_hand: set[str] = set()  # request ids a task of this process is carrying out

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
        request_id = None
        try:
            decision_id = await self._unused_id()
            if self._requests is not None:
                request_id = new_request_id("rebalance", self._clock)
                self._in_hand.add(request_id)  # before it is stored: recovery must never see it as left open
                payload = {"decision_id": decision_id, "session": session.day.isoformat()}
                await self._requests.accept("rebalance", by=by, payload=payload, request_id=request_id)
        except BaseException:
            self._claimed = False
            self._in_hand.discard(request_id or "")
            raise
        log.info("rebalance_requested", decision_id=decision_id, request_id=request_id, client=by)
        return decision_id, self._spawn(request_id, session.day, decision_id)

    async def recover(self) -> int:
        """Settle the rebalance requests a crash or store fault left open (see the module docstring); returns how
        many it settled or carried out."""
        return await self._settle_open(carry_out=True)

    async def close(self) -> None:
        """The daemon stops (its scheduler already has): cancel the rebalances still running, close the decisions
        the stop cut short, then every request still open (see the module docstring)."""
        running = list(self._tasks)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        try:
            interrupted = await self._decisions.mark_interrupted(self._clock.now())
            if interrupted:
                log.warning("decisions_interrupted", decision_ids=interrupted, when="stop")
            await self._settle_open(carry_out=False)
        except AlchemiserError as exc:  # left open: the next start settles them
            log.error("rebalance_requests_unsettled", error=str(exc))

    async def _settle_open(self, *, carry_out: bool) -> int:
        """Close each open rebalance request no task of this process is carrying out: with its decision's outcome
        when the decision was recorded; else carry it out now (``carry_out``, its session still open, nothing else
        running) or expire it saying why. Returns how many it closed or carried out."""
        if self._requests is None:
            return 0
        settled = 0
        for request in await self._requests.open_requests(("rebalance",)):
            if request.request_id in self._in_hand:
                continue
            settled += 1
            decision_id = str(request.payload.get("decision_id", ""))
            session = date.fromisoformat(str(request.payload.get("session")))
            record = await self._decisions.get(decision_id) if decision_id else None
            if record is not None:
                await self._requests.finish(
                    request.request_id, *_decision_ended(decision_id, record.status, record.reason)
                )
                continue
            current = self._calendar.session_at(self._clock.now())
            if not carry_out or current is None or current.day != session or self.busy:
                if not carry_out:
                    outcome = f"not carried out: the daemon stopped before decision {decision_id} was recorded"
                elif current is not None and current.day == session:
                    outcome = "not carried out: the daemon restarted and another decision was running at recovery"
                else:
                    outcome = f"not carried out: the daemon restarted and the session {session} it was for is over"
                await self._requests.finish(request.request_id, "expired", outcome)
                log.warning("rebalance_request_expired", request_id=request.request_id, reason=outcome)
                continue
            log.warning("rebalance_request_resumed", request_id=request.request_id, decision_id=decision_id)
            self._claimed = True
            await asyncio.wait({self._spawn(request.request_id, session, decision_id or await self._unused_id())})
        return settled

    def _spawn(self, request_id: str | None, session: date, decision_id: str) -> asyncio.Task[DecisionOutcome]:
        task = asyncio.create_task(self._run(request_id, session, decision_id), name=f"rebalance-{decision_id}")
        self._tasks.add(task)
        if request_id is not None:
            self._in_hand.add(request_id)
            task.add_done_callback(lambda _: self._in_hand.discard(request_id))
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
            await self._settle(request_id, *_decision_ended(decision_id, outcome.status, outcome.reason))
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


def _decision_ended(decision_id: str, status: str, reason: str | None) -> tuple[RequestStatus, str]:
    """A rebalance request's final status and outcome from its decision's."""
    final: RequestStatus = "done" if status in ("executed", "no_trade") else "failed"
    return final, f"decision {decision_id} ended {status}" + (f": {reason}" if reason else "")


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
