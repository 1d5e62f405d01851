"""From strategy targets to an executed plan: the decision cycle's ``TargetExecutor`` over the real execution actor.

``PlanningExecutor.execute_targets(decision_id, targets)``:

1. waits (bounded) for the order-update stream — execution never trades blind: if the stream is still down after
   ``stream_wait`` the call raises ``BrokerTransientError`` and the decision fails closed;
2. reads the account, positions, quotes (mid as the reference price; the last daily close when a quote is
   missing) and asset facts (fractionable, tradable, status; cached per symbol for the session): a symbol that is
   halted, inactive or unknown is planned as not tradable — left out, its share kept in cash — and reported through
   ``on_untradable`` (an alert) while the rest of the plan trades;
3. plans with :func:`alchemiser.portfolio.plan_rebalance` (capital-weight merge, drift bands, rounding, sells
   before buys, buys fitted to the money);
4. hands the plan to ``ExecutionActor.execute(plan, run_id=decision_id)`` (risk rules, ladder, idempotent ids)
   and maps its ``RunResult`` to the cycle's neutral ``ExecutionOutcome``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from alchemiser.broker.enums import AssetStatus
from alchemiser.broker.models import NEW_YORK
from alchemiser.broker.protocol import Broker
from alchemiser.clock import Clock
from alchemiser.errors import BrokerError, BrokerTransientError, NotFoundError
from alchemiser.execution.results import LineOutcome, RunResult, RunStatus
from alchemiser.execution.serialize import plan_to_dict
from alchemiser.logging import get_logger
from alchemiser.portfolio.planner import (
    AccountState,
    AssetInfo,
    Plan,
    PlanError,
    PlannerParams,
    StrategyTarget,
    plan_rebalance,
)
from alchemiser.trading.decision_ports import ExecutedLine, ExecutionOutcome

log = get_logger("execution_bridge")


class PlanRunner(Protocol):
    async def execute(self, plan: Plan, run_id: str) -> RunResult: ...


StreamReady = Callable[[], bool]
LastFillAt = Callable[[str], Awaitable[datetime | None]]  # run id → time of its last fill
LastClose = Callable[[str], Decimal | None]
Untradable = Callable[[str, str], Awaitable[None]]  # (symbol, why) → alert


class PlanningExecutor:
    def __init__(
        self,
        *,
        broker: Broker,
        runner: PlanRunner,
        clock: Clock,
        params: PlannerParams,
        stream_ready: StreamReady | None = None,
        stream_wait: float = 60.0,
        last_close: LastClose | None = None,
        last_fill_at: LastFillAt | None = None,
        on_untradable: Untradable | None = None,
    ) -> None:
        self._on_untradable = on_untradable
        self._asset_session: date | None = None
        self._why: dict[str, str] = {}
        self._last_fill_at = last_fill_at
        self._broker = broker
        self._runner = runner
        self._clock = clock
        self._params = params
        self._stream_ready = stream_ready
        self._stream_wait = stream_wait
        self._last_close = last_close
        self._assets: dict[str, AssetInfo] = {}
        self.last_plan: Plan | None = None

    async def wait_for_stream(self) -> None:
        """Wait up to ``stream_wait`` seconds of clock time for the stream; raise if it stays down."""
        if self._stream_ready is None or self._stream_ready():
            return
        deadline = self._clock.now().timestamp() + self._stream_wait
        log.warning("execution_waiting_for_stream", bound_seconds=self._stream_wait)
        while not self._stream_ready():
            if self._clock.now().timestamp() >= deadline:
                raise BrokerTransientError(
                    f"order-update stream still down after {self._stream_wait:.0f}s: not trading blind"
                )
            await self._clock.sleep(min(1.0, self._stream_wait / 20))
        log.info("execution_stream_back")

    async def build_plan(self, targets: Sequence[StrategyTarget]) -> Plan:
        account = await self._broker.get_account()
        positions = {p.symbol: p.qty for p in await self._broker.list_positions() if p.qty != 0}
        symbols = sorted({s for t in targets for s, w in t.weights.items() if w > 0} | set(positions))
        prices = await self._prices(symbols, positions)
        session = self._clock.now().astimezone(NEW_YORK).date()
        if session != self._asset_session:  # asset facts are cached for one session: halts end, funds close
            self._assets.clear()
            self._why.clear()
            self._asset_session = session
        assets = {s: await self._asset(s) for s in symbols}
        for symbol in symbols:
            if not assets[symbol].tradable and symbol in self._why:
                log.warning("plan_symbol_not_tradable", symbol=symbol, why=self._why[symbol])
                if self._on_untradable is not None:
                    await self._on_untradable(symbol, self._why[symbol])
        try:
            return plan_rebalance(
                targets,
                AccountState(equity=account.equity, cash=account.cash, buying_power=account.buying_power),
                positions,
                prices,
                assets,
                params=self._params,
            )
        except PlanError as exc:
            raise BrokerError(f"cannot plan: {exc}") from exc

    async def execute_targets(
        self, decision_id: str, targets: Sequence[StrategyTarget], *, trigger: str
    ) -> ExecutionOutcome:
        await self.wait_for_stream()
        plan = await self.build_plan(targets)
        self.last_plan = plan
        log.debug(
            "plan_built",
            trigger=trigger,
            trades=len(plan.trades),
            sells=str(plan.totals.sell_notional),
            buys=str(plan.totals.buy_notional),
        )
        result = await self._runner.execute(plan, decision_id)
        reference = {line.symbol: line.price for line in plan.lines}
        lines = tuple(
            ExecutedLine(
                symbol=line.symbol,
                side=line.side.value,
                requested_qty=line.requested_qty,
                filled_qty=line.filled_qty,
                avg_price=line.avg_price,
                reference_price=reference.get(line.symbol),
                outcome=line.outcome.value,
                reason=line.reason,
            )
            for line in result.lines
        )
        ok = result.status in (RunStatus.COMPLETED,) or (
            not result.lines and result.status not in (RunStatus.BLOCKED, RunStatus.HALTED)
        )
        filled_any = any(line.outcome in (LineOutcome.FILLED, LineOutcome.PARTIALLY_FILLED) for line in result.lines)
        detail = result.detail
        if result.blocked_by:
            detail = (detail + " " if detail else "") + "blocked by " + ", ".join(result.blocked_by)
        last_fill: datetime | None = None
        if filled_any:
            last_fill = await self._last_fill_at(decision_id) if self._last_fill_at is not None else None
            last_fill = last_fill or self._clock.now()
        return ExecutionOutcome(
            status=result.status.value,
            ok=ok,
            lines=lines,
            detail=detail,
            plan=plan_to_dict(plan),
            last_fill_at=last_fill,
        )

    async def _prices(self, symbols: Sequence[str], positions: Mapping[str, Decimal]) -> dict[str, Decimal]:
        prices: dict[str, Decimal] = {}
        if symbols:
            try:
                quotes = await self._broker.get_latest_quotes(symbols)
            except BrokerTransientError as exc:
                log.warning("quotes_unavailable", error=str(exc))
                quotes = {}
            for symbol, quote in quotes.items():
                if quote.bid_price > 0 and quote.ask_price >= quote.bid_price:
                    prices[symbol] = quote.mid
                elif quote.ask_price > 0:
                    prices[symbol] = quote.ask_price
        for symbol in symbols:
            if symbol in prices:
                continue
            close = self._last_close(symbol) if self._last_close is not None else None
            if close is not None and close > 0:
                prices[symbol] = close
        return prices

    async def _asset(self, symbol: str) -> AssetInfo:
        cached = self._assets.get(symbol)
        if cached is not None:
            return cached
        try:
            asset = await self._broker.get_asset(symbol)
        except NotFoundError:
            self._why[symbol] = "unknown to the broker"
            return AssetInfo(symbol, fractionable=False, tradable=False)
        tradable = asset.tradable and asset.status is not AssetStatus.INACTIVE
        if asset.status is AssetStatus.INACTIVE:
            self._why[symbol] = "inactive at the broker (closed or delisted)"
        elif not asset.tradable:
            self._why[symbol] = "not tradable at the broker (halted)"
        info = AssetInfo(symbol, fractionable=asset.fractionable, tradable=tradable)
        self._assets[symbol] = info
        return info
