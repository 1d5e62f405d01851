"""Orders/s through the simulated exchange's in-process face (SimBroker.submit_order + fills), target ≥ 20k/s.

Each order is submitted, acknowledged and filled (10 % partial fills, completed 2 simulated seconds later) with its
trade updates recorded; a TradeUpdateFeed is subscribed so events are queued as a backtest would see them.
Also times DailyFillModel.execute on daily batches. Run: .venv/bin/python benchmarks/sim_inprocess_orders.py

The consumer path costs per event: the exchange's snapshot tuple, the feed's deque append, and on drain one
``TradeUpdate`` + ``Order`` built with ``Trusted`` (one fields-set shared per class, the order's fixed fields laid out
once per live order and copied). The rest of the gap to the no-consumer rows is the cyclic GC: the exchange keeps its
whole order history (as Alpaca serves it), so full collections rescan a growing heap.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alchemiser.broker.enums import OrderSide
from alchemiser.broker.models import OrderRequest
from alchemiser.clock import ManualClock
from alchemiser.sim import ExchangeConfig
from alchemiser.sim.build import SimOptions, build_sim
from alchemiser.sim.inprocess import DailyFillModel, SimBroker, SimTradeUpdateFeed

SYMBOLS = ("SPY", "QQQ", "TQQQ", "TLT", "BIL", "SOXL", "UVXY", "XLK")
START = datetime(2025, 6, 3, 14, 0, tzinfo=UTC)


def requests(n: int) -> list[OrderRequest]:
    out = []
    for i in range(n):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        side = OrderSide.BUY if (i // len(SYMBOLS)) % 2 == 0 else OrderSide.SELL
        out.append(
            OrderRequest.model_construct(
                symbol=symbol, side=side, type="market", time_in_force="day", client_order_id=f"b{i}",
                qty=Decimal(3 if side is OrderSide.BUY else 1), notional=None, limit_price=None,
                extended_hours=False,
            )
        )  # fmt: skip
    return out


async def broker_run(n: int, *, with_feed: bool = True) -> tuple[float, float, int]:
    parts = build_sim(
        SimOptions(seed=1, history_years=3, exchange=ExchangeConfig(initial_cash=Decimal(10**12), seed=1)), now=START
    )
    clock = ManualClock(START)
    broker = SimBroker(parts.exchange, clock)
    feed = SimTradeUpdateFeed(parts.exchange) if with_feed else None
    batch = requests(n)
    began, cpu = time.perf_counter(), time.process_time()
    for i, request in enumerate(batch):
        await broker.submit_order(request)
        if i % 100 == 99:
            clock.advance(5)  # let partial-fill remainders complete
            if feed is not None:
                feed.drain()  # a consumer reads the events (built as TradeUpdate models)
    clock.advance(60)
    await broker.get_account()
    events = parts.exchange.event_count
    return time.perf_counter() - began, time.process_time() - cpu, events


def daily_run(days: int, per_day: int) -> tuple[float, float]:
    parts = build_sim(
        SimOptions(seed=1, history_years=3, exchange=ExchangeConfig(initial_cash=Decimal(10**12), seed=1)), now=START
    )
    model = DailyFillModel(parts.exchange)
    sessions = parts.xnys.session_dates(START.date(), START.date() + timedelta(days=days * 2))[:days]
    batch = requests(per_day * days)
    began, cpu = time.perf_counter(), time.process_time()
    for d, session in enumerate(sessions):
        at = parts.xnys.session_close(session) - timedelta(minutes=15)
        model.execute(batch[d * per_day : (d + 1) * per_day], at)
    return time.perf_counter() - began, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the warm-up (a process-level setting: full collections skip the startup heap)",
    )
    args = parser.parse_args()
    n = 20_000
    asyncio.run(broker_run(2_000))  # warm-up
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    for with_feed in (True, False):
        for _ in range(2):
            wall, cpu, events = asyncio.run(broker_run(n, with_feed=with_feed))
            label = "with a TradeUpdateFeed drained as it goes" if with_feed else "no event consumer"
            print(
                f"in-process SimBroker, {label}: {n} orders ({events} trade updates): "
                f"wall {n / wall:,.0f} orders/s, CPU {n / cpu:,.0f} orders/s"
            )
    days, per_day = 250, 40
    total = days * per_day
    for _ in range(2):
        wall, cpu = daily_run(days, per_day)
        print(
            f"DailyFillModel: {days} sessions × {per_day} orders: "
            f"wall {total / wall:,.0f}, CPU {total / cpu:,.0f} orders/s"
        )


if __name__ == "__main__":
    main()
