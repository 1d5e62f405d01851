"""Overview: mode, readiness with its reasons, supervised components, breakers, the order stream, the kill switch,
the next decision, the last decision, the pending plan, and the account with its equity curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alchemiser.services.account import AccountView, EquityCurve, account_view, equity_curve
from alchemiser.services.decisions import DecisionRow, decision_row
from alchemiser.services.sources import ComponentView, LiveSources, NextDecision, Readiness, StreamState
from alchemiser.store.account import AccountHistory
from alchemiser.store.decisions import DecisionStore
from alchemiser.store.kill_switch import KillSwitchState


@dataclass(frozen=True, slots=True)
class Overview:
    mode: str
    readiness: Readiness
    components: tuple[ComponentView, ...]
    breakers: dict[str, str]
    stream: StreamState
    kill_switch: KillSwitchState
    next_decision: NextDecision | None
    seconds_to_next_decision: float | None
    decision_running: bool
    last_decision: DecisionRow | None
    pending_plan: dict[str, Any] | None  # the plan board while a plan awaits approval
    account: AccountView
    curve: EquityCurve


def pending_plan(board: dict[str, Any]) -> dict[str, Any] | None:
    return board if board.get("awaiting_approval") else None


async def overview(sources: LiveSources, decisions: DecisionStore, history: AccountHistory) -> Overview:
    now = sources.now()
    upcoming = sources.next_decision()
    last = await decisions.last()
    return Overview(
        mode=sources.mode,
        readiness=await sources.readiness(),
        components=tuple(sources.components()),
        breakers=sources.breakers(),
        stream=sources.stream(),
        kill_switch=sources.kill_switch(),
        next_decision=upcoming,
        seconds_to_next_decision=None if upcoming is None else (upcoming.decision_at - now).total_seconds(),
        decision_running=sources.decision_running(),
        last_decision=None if last is None else decision_row(last),
        pending_plan=pending_plan(sources.plan_board()),
        account=await account_view(sources, history),
        curve=await equity_curve(
            history, sources.benchmark, sources.benchmark_symbol, wait=sources.broker_timeout_seconds
        ),
    )
