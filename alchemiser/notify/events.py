"""Notification events and how they render to a message, in full or neutral mode.

Events are immutable facts produced by the daemon (a run summary after each decision, a failure, a kill-switch
change, readiness lost or regained, notifications dropped). ``render(event, neutral=...)`` turns one into a
``Message`` (title, body, level, structured payload). Neutral mode omits account values, money amounts and P&L:
what was traded and how well it was executed stays, how much money is involved does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class TradeLine:
    """One order of a run: what was asked, what filled, and the slippage against the decision-time quote."""

    symbol: str
    side: str
    qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    quote_mid: Decimal | None
    status: str

    @property
    def notional(self) -> Decimal | None:
        return None if self.avg_price is None else (self.filled_qty * self.avg_price).quantize(Decimal("0.01"))

    @property
    def slippage_bps(self) -> Decimal | None:
        """Signed cost in basis points versus the quote mid (positive = paid more / received less)."""
        if self.avg_price is None or self.quote_mid is None or self.quote_mid == 0 or self.filled_qty == 0:
            return None
        raw = (self.avg_price - self.quote_mid) / self.quote_mid * Decimal(10_000)
        signed = raw if self.side == "buy" else -raw
        return signed.quantize(Decimal("0.1"))


@dataclass(frozen=True)
class RunSummary:
    decision_id: str
    session: str
    at: datetime
    trigger: str  # "schedule", "late", "manual"
    trades: tuple[TradeLine, ...] = ()
    targets: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # strategy → symbol → weight
    failed_closed: dict[str, str] = field(default_factory=dict)  # strategy → reason
    strategy_pnl: dict[str, Decimal] = field(default_factory=dict)
    equity: Decimal | None = None
    cash: Decimal | None = None
    note: str = ""


@dataclass(frozen=True)
class Failure:
    component: str
    message: str
    at: datetime
    decision_id: str | None = None


@dataclass(frozen=True)
class KillSwitchChanged:
    engaged: bool
    reason: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class ReadinessChanged:
    ready: bool
    reasons: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class DecisionSkipped:
    session: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class CorporateActionAlert:
    """A corporate action or asset status the user should know about (a rename to follow in the symphony file, a
    fund closing, a halted symbol left out of a plan); ``action`` says what to do, if anything."""

    symbol: str
    message: str
    at: datetime
    action: str = ""
    warning: bool = True


@dataclass(frozen=True)
class ParityAlert:
    """The account drifted from its backtest shadow past a threshold (``what``: tracking_error or data_drift)."""

    what: str
    session: str
    message: str
    at: datetime


@dataclass(frozen=True)
class NotificationsDropped:
    channel: str
    count: int
    at: datetime


Event = (
    RunSummary
    | Failure
    | KillSwitchChanged
    | ReadinessChanged
    | DecisionSkipped
    | CorporateActionAlert
    | ParityAlert
    | NotificationsDropped
)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    level: Level
    kind: str
    payload: dict[str, Any]


def _fmt(value: Decimal | None) -> str:
    return "-" if value is None else format(value, "f")


def _render_run(event: RunSummary, neutral: bool) -> Message:
    filled = sum(1 for t in event.trades if t.filled_qty > 0)
    level = Level.WARNING if event.failed_closed else Level.SUCCESS
    lines = [
        f"Decision {event.decision_id} for {event.session} ({event.trigger}): "
        f"{len(event.trades)} orders, {filled} filled"
    ]
    trades_payload: list[dict[str, Any]] = []
    for t in event.trades:
        slip = t.slippage_bps
        slip_text = "" if slip is None else f", slippage {slip} bps"
        if neutral:
            lines.append(f"  {t.side} {t.symbol}: {t.status}{slip_text}")
            trades_payload.append({"symbol": t.symbol, "side": t.side, "status": t.status, "slippage_bps": _s(slip)})
        else:
            lines.append(
                f"  {t.side} {_fmt(t.filled_qty)}/{_fmt(t.qty)} {t.symbol} @ {_fmt(t.avg_price)} "
                f"(quote mid {_fmt(t.quote_mid)}): {t.status}{slip_text}"
            )
            trades_payload.append(
                {
                    "symbol": t.symbol,
                    "side": t.side,
                    "qty": _s(t.qty),
                    "filled_qty": _s(t.filled_qty),
                    "avg_price": _s(t.avg_price),
                    "quote_mid": _s(t.quote_mid),
                    "notional": _s(t.notional),
                    "status": t.status,
                    "slippage_bps": _s(slip),
                }
            )
    for strategy, reason in sorted(event.failed_closed.items()):
        lines.append(f"  strategy {strategy} failed closed: {reason}")
    targets = {s: {sym: _s(w) for sym, w in ws.items()} for s, ws in event.targets.items()}
    for strategy, weights in sorted(targets.items()):
        lines.append(f"  {strategy} → " + ", ".join(f"{sym} {w}" for sym, w in sorted(weights.items())))
    payload: dict[str, Any] = {
        "decision_id": event.decision_id,
        "session": event.session,
        "at": event.at.isoformat(),
        "trigger": event.trigger,
        "trades": trades_payload,
        "targets": targets,
        "failed_closed": dict(event.failed_closed),
    }
    if not neutral:
        pnl = {s: _s(v) for s, v in event.strategy_pnl.items()}
        payload.update(equity=_s(event.equity), cash=_s(event.cash), strategy_pnl=pnl)
        if event.equity is not None:
            lines.append(f"  equity {_fmt(event.equity)}, cash {_fmt(event.cash)}")
        for strategy, value in sorted(event.strategy_pnl.items()):
            lines.append(f"  P&L {strategy}: {_fmt(value)}")
    if event.note:
        lines.append(f"  {event.note}")
    return Message(f"alchemiser: run {event.session}", "\n".join(lines), level, "run_summary", payload)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def render(event: Event, *, neutral: bool) -> Message:
    """The message for ``event``; ``neutral`` drops account values, money amounts and P&L."""
    if isinstance(event, RunSummary):
        return _render_run(event, neutral)
    if isinstance(event, Failure):
        body = f"{event.component}: {event.message}"
        payload: dict[str, Any] = {"component": event.component, "message": event.message, "at": event.at.isoformat()}
        if event.decision_id:
            payload["decision_id"] = event.decision_id
        return Message("alchemiser: failure", body, Level.FAILURE, "failure", payload)
    if isinstance(event, KillSwitchChanged):
        state = "ENGAGED" if event.engaged else "released"
        body = f"kill switch {state} by {event.actor}: {event.reason}"
        return Message(
            f"alchemiser: kill switch {state}",
            body,
            Level.FAILURE if event.engaged else Level.INFO,
            "kill_switch",
            {"engaged": event.engaged, "reason": event.reason, "actor": event.actor, "at": event.at.isoformat()},
        )
    if isinstance(event, ReadinessChanged):
        if event.ready:
            return Message(
                "alchemiser: ready again",
                "daemon is ready",
                Level.SUCCESS,
                "readiness",
                {"ready": True, "reasons": [], "at": event.at.isoformat()},
            )
        body = "daemon NOT ready: " + "; ".join(event.reasons)
        return Message(
            "alchemiser: readiness lost",
            body,
            Level.FAILURE,
            "readiness",
            {"ready": False, "reasons": list(event.reasons), "at": event.at.isoformat()},
        )
    if isinstance(event, DecisionSkipped):
        return Message(
            f"alchemiser: decision skipped {event.session}",
            event.reason,
            Level.WARNING,
            "decision_skipped",
            {"session": event.session, "reason": event.reason, "at": event.at.isoformat()},
        )
    if isinstance(event, CorporateActionAlert):
        body = event.message + (f"\n  action: {event.action}" if event.action else "")
        return Message(
            f"alchemiser: corporate action {event.symbol}",
            body,
            Level.WARNING if event.warning else Level.INFO,
            "corporate_action",
            {"symbol": event.symbol, "message": event.message, "action": event.action, "at": event.at.isoformat()},
        )
    if isinstance(event, ParityAlert):
        payload = {"what": event.what, "session": event.session, "at": event.at.isoformat()}
        if not neutral:
            payload["message"] = event.message
        body = f"{event.what} on {event.session}" + ("" if neutral else f": {event.message}")
        return Message(f"alchemiser: parity {event.what}", body, Level.WARNING, "parity", payload)
    return Message(
        "alchemiser: notifications dropped",
        f"{event.count} notifications to {event.channel} were dropped (queue full or channel failing)",
        Level.WARNING,
        "notifications_dropped",
        {"channel": event.channel, "count": event.count, "at": event.at.isoformat()},
    )
