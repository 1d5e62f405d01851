"""Typed outcomes of executing orders and runs: never ``None``."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from alchemiser.broker.enums import OrderSide


class LineOutcome(StrEnum):
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    REJECTED = "rejected"  # the broker refused the order (reason says why)
    BLOCKED = "blocked"  # a risk rule refused it before sending (reason names the rule)
    UNFILLED = "unfilled"  # orders were worked but nothing filled (ladder ended without a market fallback)
    UNRESOLVED = "unresolved"  # the order's fate could not be established; it needs an operator or a later sweep
    NOT_STARTED = "not_started"  # the run ended before this line was tried (too late, kill switch)


class RunStatus(StrEnum):
    PLANNED = "planned"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    COMPLETED = "completed"  # every line filled
    COMPLETED_WITH_ISSUES = "completed_with_issues"  # some line partial / rejected / blocked / unresolved
    BLOCKED = "blocked"  # plan-wide risk rule refused the run
    APPROVAL_TIMEOUT = "approval_timeout"
    REJECTED_BY_OPERATOR = "rejected_by_operator"
    ABANDONED_TOO_LATE = "abandoned_too_late"  # found unfinished after a restart too close to (or after) the close
    HALTED = "halted"  # the kill switch latched during the run

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL, RunStatus.EXECUTING)


@dataclass(frozen=True, slots=True)
class LineResult:
    symbol: str
    side: OrderSide
    requested_qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    outcome: LineOutcome
    reason: str = ""
    step_reached: int = -1  # last step sent: 0..8 limit ladder, 90+ market attempts; -1 = nothing sent
    client_order_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side.value,
            "requested_qty": str(self.requested_qty),
            "filled_qty": str(self.filled_qty),
            "avg_price": None if self.avg_price is None else str(self.avg_price),
            "outcome": self.outcome.value,
            "reason": self.reason,
            "step_reached": self.step_reached,
            "client_order_ids": list(self.client_order_ids),
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    status: RunStatus
    lines: tuple[LineResult, ...] = ()
    detail: str = ""
    blocked_by: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "detail": self.detail,
            "blocked_by": list(self.blocked_by),
            "lines": [line.as_dict() for line in self.lines],
        }
