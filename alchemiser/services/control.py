"""Operator commands on the kill switch, shared by the control API, the dashboard and the CLI.

Each command is stored in the operator-request outbox before it acts (when the daemon has one), audited by the
kill switch itself (who, when, why), and keeps the Prometheus gauge in step. :func:`recover_requests` settles the
requests a crash left open: a kill is carried out (the safe side), anything else is expired with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from alchemiser.errors import ConfigError
from alchemiser.execution.approval import PlanBoard
from alchemiser.logging import get_logger
from alchemiser.process.readiness import Check
from alchemiser.services.daemon_view import DaemonView
from alchemiser.store.kill_switch import KillAction, KillSwitch, KillSwitchState
from alchemiser.store.operator_requests import OperatorRequest, OperatorRequests, RequestKind

KILL_ACTIONS: tuple[KillAction, ...] = ("freeze", "cancel", "flatten")
CONTROL_KINDS: tuple[RequestKind, ...] = ("kill", "resume", "plan_approve", "plan_reject", "reconcile_accept")
log = get_logger("control")


def kill_action(value: object, view: DaemonView) -> KillAction:
    """``value`` as a kill action (the configured default when ``None``); ``ConfigError`` naming the choices if not."""
    if value is None:
        return view.default_kill_action()
    if not isinstance(value, str) or value not in KILL_ACTIONS:
        raise ConfigError([f"action must be one of {', '.join(KILL_ACTIONS)}, got {_describe(value)}"])
    return value


def kill_action_field(body: Mapping[str, object], view: DaemonView) -> KillAction:
    """The ``action`` of a JSON body: absent means the configured default; ``null`` or a non-string is an error."""
    if "action" not in body:
        return view.default_kill_action()
    if body["action"] is None:
        raise ConfigError([f"action must be one of {', '.join(KILL_ACTIONS)}, got null"])
    return kill_action(body["action"], view)


async def engage_kill(view: DaemonView, *, reason: str, by: str, action: KillAction) -> KillSwitchState:
    request = await _accept(view.requests, "kill", by, {"reason": reason, "action": action})
    state = await view.kill_switch.engage(reason=reason, by=by, action=action)
    view.metrics.kill_switch.set(1)
    await _finish(view.requests, request, f"kill switch engaged ({action})")
    return state


async def resume(view: DaemonView, *, reason: str, by: str) -> tuple[KillSwitchState, bool]:
    """Clear the kill switch; ``(state, False)`` without any change (or audit line) when it was not engaged."""
    if not view.kill_switch.engaged:
        return view.kill_switch.state, False
    request = await _accept(view.requests, "resume", by, {"reason": reason})
    state = await view.kill_switch.resume(reason=reason, by=by)
    view.metrics.kill_switch.set(0)
    await _finish(view.requests, request, "kill switch cleared")
    return state, True


async def decide_plan(
    board: PlanBoard, requests: OperatorRequests | None, *, approve: bool, run_id: str | None, by: str
) -> str | None:
    """Approve or reject the plan awaiting approval (the API and the dashboard), recorded in the outbox first; the
    plan's run id, or ``None`` when no (matching) plan awaits approval."""
    if not board.awaiting(run_id):
        return None  # refused (409): nothing to carry out, so nothing enters the outbox or the journal
    kind: RequestKind = "plan_approve" if approve else "plan_reject"
    request = await _accept(requests, kind, by, {"run_id": run_id})
    decided = board.decide(approve, run_id=run_id, by=by)
    if requests is not None and request is not None:
        if decided is None:
            await requests.finish(request.request_id, "expired", "no plan was awaiting approval")
        else:
            await requests.finish(request.request_id, "done", f"plan {decided} {'approved' if approve else 'rejected'}")
    return decided


def kill_switch_check(kill_switch: KillSwitch) -> Check:
    """The ``kill_switch`` readiness condition: failing while the switch is engaged, naming who and why."""
    if kill_switch.engaged:
        state = kill_switch.state
        return Check.failed(f"kill switch engaged by {state.changed_by}: {state.reason}")
    return Check.passed()


async def recover_requests(requests: OperatorRequests, kill_switch: KillSwitch) -> list[OperatorRequest]:
    """Settle the control requests a crash left open (at start, after the kill switch is loaded); returns them."""
    open_requests = await requests.open_requests(CONTROL_KINDS)
    for request in open_requests:
        if request.kind == "kill":
            action = request.payload.get("action")
            reason = str(request.payload.get("reason") or "operator kill")
            await kill_switch.engage(
                reason=f"{reason} (carried out after a restart)",
                by=request.requested_by,
                action=action if isinstance(action, str) and action in KILL_ACTIONS else "freeze",
            )
            await requests.finish(request.request_id, "done", "kill switch engaged after a restart")
        elif request.kind == "resume":
            if kill_switch.engaged:
                outcome = "the daemon restarted before the resume took effect; the kill switch stays engaged"
                await requests.finish(request.request_id, "expired", outcome)
            else:
                await requests.finish(request.request_id, "done", "the kill switch was already clear")
        elif request.kind in ("plan_approve", "plan_reject"):
            outcome = "the daemon restarted: the plan awaiting approval did not survive it"
            await requests.finish(request.request_id, "expired", outcome)
        else:
            outcome = "the daemon restarted before the accept took effect; reconciliation ran again at start"
            await requests.finish(request.request_id, "expired", outcome)
        log.warning("operator_request_recovered", request_id=request.request_id, kind=request.kind)
    return open_requests


async def _accept(
    requests: OperatorRequests | None, kind: RequestKind, by: str, payload: Mapping[str, object]
) -> OperatorRequest | None:
    return None if requests is None else await requests.accept(kind, by=by, payload=payload)


async def _finish(requests: OperatorRequests | None, request: OperatorRequest | None, outcome: str) -> None:
    if requests is not None and request is not None:
        await requests.finish(request.request_id, "done", outcome)


def _describe(value: object) -> str:
    if isinstance(value, str):
        return repr(value[:40])
    return "null" if value is None else f"a {type(value).__name__}"
