"""A one-shot rebalance process against an Alpaca-protocol endpoint (the standalone simulated exchange).

Used by the crash test and the benchmarks; also handy by hand::

    alchemiser sim-exchange --port 8765 --always-open &
    python -m alchemiser.execution.harness --store /tmp/x.db --exchange-url http://127.0.0.1:8765 \\
        --key-id KEY --secret SECRET --run-id r1 --targets SPY=0.5,TLT=0.3,GLD=0.2

On start it resumes whatever run a previous (killed) process left unfinished; then, unless run ``--run-id``
already exists, it plans from the account, positions and quotes and executes the plan as that run. It prints one
JSON line per broker call (``{"trace": ...}``, for kill points) and a final ``{"result": ...}`` line; exit 0 when
the run finished, 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from prometheus_client import CollectorRegistry

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.broker.activities import Announcement, NonTradeActivity
from alchemiser.broker.models import (
    Account,
    Asset,
    Bar,
    CalendarDay,
    FillActivity,
    MarketClock,
    Order,
    OrderRequest,
    Position,
    Quote,
    SubmitResult,
)
from alchemiser.broker.protocol import Broker, OrderQueryStatus
from alchemiser.clock import RealClock
from alchemiser.errors import AlchemiserError
from alchemiser.execution.actor import ExecutionActor
from alchemiser.execution.metrics import ExecutionMetrics
from alchemiser.execution.params import ExecutionParams
from alchemiser.execution.results import RunResult, RunStatus
from alchemiser.portfolio.planner import AccountState, AssetInfo, Plan, PlannerParams, StrategyTarget, plan_rebalance
from alchemiser.portfolio.risk import RiskParams, TradingMode
from alchemiser.store.database import Store
from alchemiser.store.execution import ExecutionRepository


class TracingBroker:
    """Prints a JSON line around every order-changing call, so a test can kill the process at chosen points."""

    def __init__(self, inner: Broker) -> None:
        self._inner = inner

    @staticmethod
    def _trace(what: str, coid: str) -> None:
        sys.stdout.write(json.dumps({"trace": what, "client_order_id": coid}) + "\n")
        sys.stdout.flush()

    async def get_account(self) -> Account:
        return await self._inner.get_account()

    async def list_positions(self) -> list[Position]:
        return await self._inner.list_positions()

    async def get_asset(self, symbol: str) -> Asset:
        return await self._inner.get_asset(symbol)

    async def submit_order(self, request: OrderRequest) -> SubmitResult:
        self._trace("submit.before", request.client_order_id)
        result = await self._inner.submit_order(request)
        self._trace("submit.after", request.client_order_id)
        return result

    async def get_order(self, order_id: str) -> Order:
        return await self._inner.get_order(order_id)

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        return await self._inner.get_order_by_client_id(client_order_id)

    async def cancel_order(self, order_id: str) -> None:
        self._trace("cancel.before", order_id)
        await self._inner.cancel_order(order_id)
        self._trace("cancel.after", order_id)

    async def list_orders(
        self,
        *,
        status: OrderQueryStatus = "all",
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int = 500,
    ) -> list[Order]:
        return await self._inner.list_orders(status=status, after=after, symbols=symbols, limit=limit)

    async def list_fill_activities(self, *, after: datetime | None = None) -> list[FillActivity]:
        return await self._inner.list_fill_activities(after=after)

    async def list_non_trade_activities(self, *, after: date | None = None) -> list[NonTradeActivity]:
        return await self._inner.list_non_trade_activities(after=after)

    async def list_announcements(self, symbols: Sequence[str], since: date, until: date) -> list[Announcement]:
        return await self._inner.list_announcements(symbols, since, until)

    async def get_clock(self) -> MarketClock:
        return await self._inner.get_clock()

    async def get_calendar(self, start: date, end: date) -> list[CalendarDay]:
        return await self._inner.get_calendar(start, end)

    async def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        return await self._inner.get_latest_quotes(symbols)

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        return await self._inner.get_daily_bars(symbols, start, end)


def parse_targets(text: str) -> dict[str, Decimal]:
    """``SPY=0.5,TLT=0.5`` → weights; raises ValueError naming the bad item."""
    weights: dict[str, Decimal] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        symbol, sep, weight = item.partition("=")
        if not sep or not symbol:
            raise ValueError(f"--targets: {item!r} is not SYMBOL=WEIGHT")
        try:
            value = Decimal(weight)
        except InvalidOperation as exc:
            raise ValueError(f"--targets: weight {weight!r} of {symbol} is not a number") from exc
        if value < 0:
            raise ValueError(f"--targets: weight of {symbol} is negative")
        weights[symbol.upper()] = value
    if not weights:
        raise ValueError("--targets: no SYMBOL=WEIGHT given")
    return weights


async def build_plan(broker: Broker, weights: dict[str, Decimal], params: PlannerParams) -> Plan:
    account = await broker.get_account()
    positions = {p.symbol: p.qty for p in await broker.list_positions() if p.qty != 0}
    symbols = sorted(set(weights) | set(positions))
    quotes = await broker.get_latest_quotes(symbols)
    missing = [s for s in symbols if s not in quotes]
    if missing:
        raise AlchemiserError(f"no quote for {', '.join(missing)}")
    assets: dict[str, AssetInfo] = {}
    for symbol in symbols:
        asset = await broker.get_asset(symbol)
        assets[symbol] = AssetInfo(symbol, fractionable=asset.fractionable, tradable=asset.tradable)
    return plan_rebalance(
        [StrategyTarget("harness", Decimal(1), weights)],
        AccountState(equity=account.equity, cash=account.cash, buying_power=account.buying_power),
        positions,
        {s: quotes[s].mid for s in symbols},
        assets,
        params=params,
    )


async def run(args: argparse.Namespace) -> RunResult | None:
    clock = RealClock()
    store = await Store.open(Path(args.store), clock=clock)
    base = args.exchange_url.rstrip("/")
    ws = base.replace("http://", "ws://").replace("https://", "wss://") + "/stream"
    alpaca = AlpacaBroker.create(
        credentials=AlpacaCredentials.of(args.key_id, args.secret),
        clock=clock,
        endpoints=AlpacaEndpoints(trading_url=base, data_url=base, stream_url=ws),
        rate_limit_per_minute=args.rate_limit,
        registry=CollectorRegistry(),
        lookup_delay=0.1,
    )
    stream = alpaca.trade_updates()
    stream.start()
    broker = TracingBroker(alpaca)
    repo = ExecutionRepository(store, clock)
    actor = ExecutionActor(
        broker=broker,
        repo=repo,
        clock=clock,
        metrics=ExecutionMetrics(CollectorRegistry()),
        mode=TradingMode.SIM,
        # a test tool: many rebalances a "day" against an always-open exchange, so no turnover or daily caps
        risk=RiskParams(
            market_hours_enforced=False,
            max_turnover=None,
            max_position_weight=None,
            max_daily_orders=None,
            max_daily_notional=None,
        ),
        params=ExecutionParams(
            step_wait_seconds=args.step_wait,
            ack_sla_seconds=args.ack_sla,
            max_concurrent_orders=args.concurrency,
            ladder_steps=tuple(float(s) for s in args.ladder.split(",")),
        ),
        feed=stream,
    )
    result: RunResult | None = None
    try:
        await actor.start()
        for resumed in await actor.resume():
            if resumed.run_id == args.run_id:
                result = resumed
        if result is None:
            result = await actor.run_result(args.run_id)
        if result is None:
            planner = PlannerParams(cash_buffer_pct=Decimal(str(args.cash_buffer)))
            plan = await build_plan(broker, parse_targets(args.targets), planner)
            result = await actor.execute(plan, args.run_id)
    finally:
        await actor.stop()
        await stream.stop()
        await alpaca.aclose()
        await store.close()
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alchemiser.execution.harness", description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="SQLite store file")
    parser.add_argument("--exchange-url", required=True, help="http://host:port of an Alpaca-protocol server")
    parser.add_argument("--key-id", default="sim-key")
    parser.add_argument("--secret", default="sim-secret")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--targets", default="", help="SYMBOL=WEIGHT,… (needed when the run does not exist yet)")
    parser.add_argument("--step-wait", type=float, default=0.3, help="seconds per ladder step")
    parser.add_argument("--ack-sla", type=float, default=0.5, help="seconds without news before a REST check")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--ladder", default="0.5,0.75,0.95")
    parser.add_argument("--cash-buffer", type=float, default=0.02, help="share of equity kept in cash")
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per minute")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.targets:
            parse_targets(args.targets)  # bad arguments fail before anything connects
        result = asyncio.run(run(args))
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except AlchemiserError as exc:
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
    if result is None:
        sys.stderr.write("error: no result\n")
        return 1
    sys.stdout.write(json.dumps({"result": result.as_dict()}) + "\n")
    sys.stdout.flush()
    return 0 if RunStatus(result.status).finished else 1


if __name__ == "__main__":
    sys.exit(main())
