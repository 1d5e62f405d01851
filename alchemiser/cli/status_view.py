"""``alchemiser status`` for a person: the daemon's ``/status`` JSON as a short summary.

Mode and readiness (with the reasons when not ready), the kill switch (and how to clear it), the simulated clock,
equity, cash, P&L, positions with weights against targets, open orders, the last fills, the next and last decision,
circuit breakers. Money through :mod:`alchemiser.services.format` (cents, four-decimal weights), like the dashboard.
A section the daemon did not send is left out; a broker error is shown in its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alchemiser.services.format import MISSING, money, quantity, signed_weight, timestamp, weight

INDENT = "  "


def render_status(status: dict[str, Any]) -> str:
    lines = [_headline(status), *_readiness(status), _kill_switch(status)]
    lines += _clock(status)
    lines += _account(status.get("account"))
    lines += _positions(status.get("positions"))
    account = status.get("account")
    if isinstance(account, dict) and "error" not in account:
        lines += _orders(account.get("open_orders") or [])
        lines += _fills(account.get("recent_fills") or [])
    lines += _decisions(status)
    lines += _breakers(status.get("breakers"))
    return "\n".join(lines)


def _headline(status: dict[str, Any]) -> str:
    state = "ready" if status.get("ready") else "NOT READY"
    return f"alchemiser {status.get('version', '?')} · {status.get('mode', '?')} mode · {state}"


def _readiness(status: dict[str, Any]) -> list[str]:
    conditions = status.get("readiness") or {}
    failing = [(name, c.get("reason", "")) for name, c in conditions.items() if not c.get("ok")]
    return [f"{INDENT}✗ {name}: {reason}" for name, reason in failing]


def _kill_switch(status: dict[str, Any]) -> str:
    kill = status.get("kill_switch") or {}
    if not kill.get("engaged"):
        return "kill switch   off"
    since = _instant(kill.get("changed_at"))
    return (
        f"kill switch   ENGAGED ({kill.get('action')}) by {kill.get('changed_by')} since {timestamp(since)}: "
        f"{kill.get('reason')} — `alchemiser resume` clears it"
    )


def _clock(status: dict[str, Any]) -> list[str]:
    sim = status.get("sim")
    now = timestamp(_instant(status.get("now")))
    if isinstance(sim, dict):
        return [f"clock         {now} (simulated, {sim.get('speed')}×)"]
    return [f"clock         {now}"]


def _account(account: Any) -> list[str]:
    if not isinstance(account, dict):
        return []
    if "error" in account:
        return [f"account       {account['error']}"]
    return [
        f"equity        {money(account.get('equity'))}    cash {money(account.get('cash'))}"
        f"    buying power {money(account.get('buying_power'))}",
        f"P&L           day {money(account.get('day_pnl'), signed=True)}"
        f"    total {money(account.get('total_pnl'), signed=True)}"
        f"    unrealised {money(account.get('unrealized_pnl'), signed=True)}",
    ]


def _positions(positions: Any) -> list[str]:
    if not isinstance(positions, dict):
        return []
    if "error" in positions:
        return [f"positions     {positions['error']}"]
    if not positions:
        return ["positions     none"]
    header = ("symbol", "qty", "value", "weight", "target", "drift", "unrealised")
    rows = [header]
    for symbol, p in positions.items():
        current, target = p.get("weight"), p.get("target_weight")
        drift = None if current is None or target is None else float(current) - float(target)
        rows.append(
            (
                symbol,
                quantity(p.get("qty")),
                money(p.get("market_value")),
                weight(current),
                weight(target),
                MISSING if drift is None else signed_weight(drift),
                money(p.get("unrealized_pnl"), signed=True),
            )
        )
    return ["positions", *_table(rows)]


def _orders(orders: Sequence[dict[str, Any]]) -> list[str]:
    if not orders:
        return ["open orders   none"]
    rows = [("symbol", "side", "qty", "filled", "limit", "status")]
    for o in orders:
        qty = quantity(o["qty"]) if o.get("qty") is not None else money(o.get("notional"))
        rows.append(
            (o["symbol"], o["side"], qty, quantity(o.get("filled_qty")), money(o.get("limit_price")), o["status"])
        )
    return ["open orders", *_table(rows)]


def _fills(fills: Sequence[dict[str, Any]]) -> list[str]:
    if not fills:
        return ["last fills    none"]
    rows = [("at", "symbol", "side", "qty", "price")]
    for f in reversed(fills):
        rows.append((timestamp(_instant(f["at"])), f["symbol"], f["side"], quantity(f["qty"]), money(f["price"])))
    return ["last fills", *_table(rows)]


def _decisions(status: dict[str, Any]) -> list[str]:
    lines = []
    nxt = status.get("next_decision")
    if isinstance(nxt, dict):
        lines.append(
            f"next decision {timestamp(_instant(nxt.get('decision_at')), seconds=False)} "
            f"(session {nxt.get('session')}, {nxt.get('phase', '?')})"
        )
    rebalance = status.get("rebalance")
    if isinstance(rebalance, dict):
        for name, outlook in sorted(rebalance.items()):
            lines.append(f"rebalance [{name}] {outlook.get('summary')}")
    decisions = status.get("decisions")
    if isinstance(decisions, dict):
        for name, last in sorted((decisions.get("last_per_strategy") or {}).items()):
            outcome = last.get("status")
            if last.get("fail_reason"):
                outcome = f"{outcome}: {last['fail_reason']}"
            elif last.get("not_due"):
                outcome = f"held, {last['not_due']} (last evaluated in {last.get('evaluated_in') or '?'})"
            lines.append(f"last decision [{name}] session {last.get('session')} {last.get('decision_id')}: {outcome}")
    return lines


def _breakers(breakers: Any) -> list[str]:
    if not isinstance(breakers, dict) or not breakers:
        return []
    return ["breakers      " + ", ".join(f"{name} {state}" for name, state in sorted(breakers.items()))]


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append(INDENT + "  ".join(cells).rstrip())
    return out


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
