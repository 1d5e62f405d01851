"""The run summary of one executed decision (trades, targets, failures, per-strategy P&L) for the notifier, and the
one log line per order outcome."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError, StoreError
from alchemiser.logging import get_logger
from alchemiser.notify.events import RunSummary, TradeLine
from alchemiser.trading.decision_ports import ExecutionOutcome, PnlSource

log = get_logger("decision")


async def build_run_summary(
    *,
    pnl_source: PnlSource | None,
    clock: Clock,
    decision_id: str,
    session: date,
    trigger: str,
    execution: ExecutionOutcome,
    targets: Mapping[str, Mapping[str, Decimal]],
    failed: Mapping[str, str],
    problem: str | None,
) -> RunSummary:
    """The summary; P&L that cannot be read is left out with a warning (the summary still goes out)."""
    pnl: dict[str, Decimal] = {}
    equity: Decimal | None = None
    cash: Decimal | None = None
    if pnl_source is not None:
        try:
            pnl, equity, cash = await pnl_source()
        except (AlchemiserError, StoreError) as exc:
            log.warning("pnl_unavailable", error=str(exc))
    trades = tuple(
        TradeLine(
            symbol=line.symbol,
            side=line.side,
            qty=line.requested_qty,
            filled_qty=line.filled_qty,
            avg_price=line.avg_price,
            quote_mid=line.reference_price,
            status=line.outcome,
        )
        for line in execution.lines
    )
    return RunSummary(
        decision_id=decision_id,
        session=session.isoformat(),
        at=clock.now(),
        trigger=trigger,
        trades=trades,
        targets={k: dict(v) for k, v in targets.items()},
        failed_closed=dict(failed),
        strategy_pnl=pnl,
        equity=equity,
        cash=cash,
        note=problem or execution.detail,
    )


def log_order_outcomes(execution: ExecutionOutcome) -> None:
    for line in execution.lines:
        log.info(
            "order_outcome",
            symbol=line.symbol,
            side=line.side,
            qty=str(line.filled_qty),
            price=None if line.avg_price is None else str(line.avg_price),
            outcome=line.outcome,
        )
