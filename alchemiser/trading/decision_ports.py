"""What the decision cycle talks through: the strategy engine, the executor, the trading gate and the notifier as
small protocols, and the value objects that cross them (evaluations, executed lines, outcomes, statistics).

Kept apart from the cycle itself so that adapters of these ports (the symphony engine, the execution bridge, the
watchers, test fakes) depend on the contract, not on the cycle's machinery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from alchemiser.broker.models import Bar
from alchemiser.dsl.rebalance import RebalanceRule
from alchemiser.errors import AlchemiserError, StoreError
from alchemiser.logging import get_logger
from alchemiser.portfolio.planner import StrategyTarget
from alchemiser.store.decisions import DecisionStatus, StrategyDecision, Trigger
from alchemiser.trading.evaluation import Evaluation


class StrategyEngine(Protocol):
    """A configured symphony ready to evaluate. ``evaluate`` is synchronous and CPU-bound: it runs in a worker.

    An engine may also offer ``evaluation_call(bars, session) -> (function, args)`` where ``function(*args)``
    returns the same :class:`Evaluation` and both pickle: the cycle then evaluates in its worker process (and a
    picklable ``worker_warm_up()`` it sends to a fresh worker so that the imports happen before the decision)."""

    name: str
    capital_weight: Decimal
    rebalance_threshold: Decimal | None
    rebalance_rule: RebalanceRule  # when it trades (dsl.md §4.1)
    symbols: frozenset[str]
    lookback: int  # bars needed (through the as-of session) for every indicator to be available
    warmup: int  # bars to fetch so that exponential indicators have settled (>= lookback)

    def evaluate(self, bars: Mapping[str, Sequence[Bar]], session: date) -> Evaluation:
        """Raise ``StrategyError`` (or ``DataError``) when the symphony cannot be evaluated."""
        ...


@dataclass(frozen=True)
class ExecutedLine:
    """What execution did for one symbol (a neutral shape; execution's own result maps onto it)."""

    symbol: str
    side: str
    requested_qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    reference_price: Decimal | None
    outcome: str
    reason: str = ""


@dataclass(frozen=True)
class ExecutionOutcome:
    status: str  # execution's run status
    ok: bool  # every line filled (or nothing to do)
    lines: tuple[ExecutedLine, ...] = ()
    detail: str = ""
    plan: Any = None  # JSON-able plan, stored with the decision
    last_fill_at: Any = None  # datetime of the last fill, when known


class TargetExecutor(Protocol):
    """Execution's face for the decision cycle: plan, risk-check and execute targets, return the outcome."""

    async def execute_targets(
        self, decision_id: str, targets: Sequence[StrategyTarget], *, trigger: str
    ) -> ExecutionOutcome: ...


@dataclass(frozen=True)
class GateResult:
    open: bool
    reasons: tuple[str, ...] = ()


TradingGate = Callable[[], Awaitable[GateResult]]
PostTrade = Callable[[str], Awaitable[str | None]]  # decision id → problem (e.g. reconcile mismatch) or None
PnlSource = Callable[[], Awaitable[tuple[dict[str, Decimal], Decimal | None, Decimal | None]]]  # pnl, equity, cash


LivePrices = Callable[[Sequence[str]], Awaitable[dict[str, float]]]  # symbols → latest price (live as-of policy)


class Publisher(Protocol):
    def publish(self, event: Any) -> None: ...


@dataclass
class DecisionStats:
    """Counters for metrics and /status."""

    decisions: int = 0
    failed_closed: int = 0
    blocked: int = 0
    failures: int = 0
    last_duration_seconds: float | None = None
    last_decision_to_fill_seconds: float | None = None
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionOutcome:
    decision_id: str
    status: DecisionStatus
    reason: str | None
    strategies: tuple[StrategyDecision, ...]
    execution: ExecutionOutcome | None = None
    already_decided: bool = False


def line_json(line: ExecutedLine) -> dict[str, Any]:
    return {
        "symbol": line.symbol,
        "side": line.side,
        "requested_qty": str(line.requested_qty),
        "filled_qty": str(line.filled_qty),
        "avg_price": None if line.avg_price is None else str(line.avg_price),
        "reference_price": None if line.reference_price is None else str(line.reference_price),
        "outcome": line.outcome,
        "reason": line.reason,
    }


log = get_logger("decision")
FinishListener = Callable[[DecisionOutcome, date, Trigger], Awaitable[None]]


async def notify_finished(
    listeners: Sequence[FinishListener], outcome: DecisionOutcome, session: date, trigger: Trigger
) -> None:
    """Run a decision's finish listeners (account snapshot, audit line); one failing never affects the decision."""
    for listener in list(listeners):
        try:
            await listener(outcome, session, trigger)
        except (AlchemiserError, StoreError) as exc:
            log.warning("decision_listener_failed", error=str(exc), decision_id=outcome.decision_id)
