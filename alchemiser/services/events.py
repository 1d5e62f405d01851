"""Events: the structured event tail — the audit journal (operator acts, plans, risk verdicts, orders, fills, kill
switch, restarts, reloads, decisions finishing) — each with a one-line human summary.

:func:`events_after` reads what is new since a cursor (the journal's row id), which is how the live tail (SSE)
follows the journal without missing or repeating an event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alchemiser.services import format as fmt
from alchemiser.store.database import Store

CATEGORIES = {
    "execution.fill": "fill",
    "execution.order_sent": "order",
    "execution.order_rejected": "order",
    "execution.order_blocked": "order",
    "execution.cancel": "order",
    "kill_switch.engaged": "control",
    "kill_switch.resumed": "control",
    "reconcile.accepted": "control",
    "execution.approval": "control",
    "supervisor.gave_up": "warning",
    "daemon.previous_run_crashed": "warning",
    "config.reload_rejected": "warning",
}


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    at: datetime
    kind: str
    category: str  # fill / order / decision / control / warning / system
    actor: str
    summary: str
    decision_id: str | None = None
    order_id: str | None = None


def category(kind: str) -> str:
    if kind in CATEGORIES:
        return CATEGORIES[kind]
    if kind.startswith(("execution.plan", "execution.risk", "execution.run", "decision")):
        return "decision"
    if "fail" in kind or "rejected" in kind or "mismatch" in kind:
        return "warning"
    return "system"


def summarise(kind: str, data: dict[str, Any]) -> str:
    """One line for people; never money amounts beyond prices and quantities of our own orders."""
    if kind == "execution.fill":
        return (
            f"{data.get('symbol')} {data.get('side')} {fmt.quantity(data.get('qty'))} @ {fmt.price(data.get('price'))}"
        )
    if kind.startswith("kill_switch."):
        what = "engaged" if kind.endswith("engaged") else "resumed"
        action = f" ({data.get('action')})" if data.get("action") else ""
        return f"kill switch {what}{action}: {data.get('reason') or 'no reason given'}"
    if kind == "execution.order_sent":
        return " ".join(
            str(data[k]) for k in ("symbol", "side", "qty", "type", "limit_price") if data.get(k) is not None
        )
    if kind == "decision.finished":
        why = f": {data['reason']}" if data.get("reason") else ""
        return f"decision {data.get('status')} ({data.get('trigger')}){why}"
    if kind == "execution.plan":
        lines = (data.get("plan") or {}).get("lines") or []
        trades = [ln for ln in lines if ln.get("side") not in (None, "none")]
        return f"plan: {len(trades)} trade(s)" + (" (flatten)" if data.get("flatten") else "")
    if kind == "execution.approval":
        return f"plan {data.get('decision')}"
    if kind == "execution.run_finished":
        return f"run {data.get('status', '')} {data.get('detail') or ''}".strip()
    if kind == "execution.risk_verdict":
        failed = [r.get("rule") for r in data.get("results") or () if not r.get("passed")]
        return "risk checks passed" if not failed else "risk rules failed: " + ", ".join(map(str, failed))
    if data.get("reason"):
        return str(data["reason"])
    if "message" in data:
        return str(data["message"])
    keys = [k for k in sorted(data) if k not in ("plan", "execution_run_id") and not isinstance(data[k], dict | list)]
    return ", ".join(f"{k}={data[k]}" for k in keys[:6])


def _row(row: Any) -> EventRow:
    parsed = json.loads(row["data"])
    data: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    return EventRow(
        id=int(row["id"]),
        at=datetime.fromisoformat(row["at"]),
        kind=str(row["kind"]),
        category=category(str(row["kind"])),
        actor=str(row["actor"]),
        summary=summarise(str(row["kind"]), data),
        decision_id=row["decision_id"] or data.get("execution_run_id"),
        order_id=row["order_id"],
    )


_COLUMNS = "SELECT id, at, kind, actor, decision_id, order_id, data FROM audit_events"


async def recent_events(store: Store, limit: int = 200, *, category_filter: str | None = None) -> list[EventRow]:
    """The newest ``limit`` events, newest first (optionally of one category)."""
    rows = await store.fetchall(f"{_COLUMNS} ORDER BY id DESC LIMIT ?", (limit if category_filter is None else 5000,))
    events = [_row(r) for r in rows]
    if category_filter is not None:
        events = [e for e in events if e.category == category_filter][:limit]
    return events


async def events_after(store: Store, cursor: int, limit: int = 500) -> list[EventRow]:
    """Events with id > ``cursor``, oldest first."""
    rows = await store.fetchall(f"{_COLUMNS} WHERE id > ? ORDER BY id LIMIT ?", (cursor, limit))
    return [_row(r) for r in rows]


async def last_event_id(store: Store) -> int:
    return int(await store.fetchval("SELECT COALESCE(MAX(id), 0) FROM audit_events") or 0)
