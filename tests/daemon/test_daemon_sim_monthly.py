"""An accelerated sim run of a ``:monthly`` and a ``:weekly`` symphony across three month boundaries (dsl.md §4.1,
issue 16), held against the backtester over the same bars.

The daemon decides every session, but it evaluates each symphony — and trades its book — only when the book is
built and on the first trading session of each period: for the monthly one 2 January 2024 (New Year's Day, the
month's first weekday, is a holiday), 1 February, 1 March; for the weekly one the first session of each ISO week
(Tuesday 16 January and 20 February after the Monday holidays). In between its record says "not due; next
rebalance <date>" and nothing of it trades. The backtester, run on the bars the daemon fetched, decides and trades
each strategy on exactly the same sessions. ``/status`` says when each next rebalances.

The real pieces run (exchange on loopback, Alpaca adapter, execution, SQLite store, HTTP server); only the clock is
accelerated and jumps over idle nights.
"""

from __future__ import annotations

import asyncio
import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from alchemiser.backtest.engine import EngineConfig
from alchemiser.backtest.runner import StrategySpec, run_files
from alchemiser.broker.models import NEW_YORK, Bar
from alchemiser.store import Store
from alchemiser.store.decisions import DecisionStore
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.simrig import build_sim_daemon, sim_settings

START = date(2023, 12, 27)  # a Wednesday: the books are built on the first decision, whatever the day
END = date(2024, 3, 1)
AFTER_END = date(2024, 3, 4)  # decided too, so that the exchange has END's daily bar for the backtester
WARMUP = timedelta(days=10)  # bars before the start for the backtester (the symphonies need none)
MONTHLY_DAYS = {START, date(2024, 1, 2), date(2024, 2, 1), date(2024, 3, 1)}
#: the first session of each ISO week: 15 January (Martin Luther King Jr. Day) and 19 February (Presidents' Day) are
#: holidays; Friday 1 March lies in the week of 26 February
WEEKLY_DAYS = {START, *(date(2024, 1, d) for d in (2, 8, 16, 22, 29)), *(date(2024, 2, d) for d in (5, 12, 20, 26))}
MONTHLY = (
    '(defsymphony "monthly" {:rebalance-frequency :monthly}\n'
    '  (weight-specified 0.6 (asset "SPY") 0.4 (asset "TLT")))\n'
)
WEEKLY = (
    '(defsymphony "weekly" {:rebalance-frequency :weekly}\n  (weight-specified 0.5 (asset "QQQ") 0.5 (asset "GLD")))\n'
)
SYMBOLS = {"monthly": {"SPY", "TLT"}, "weekly": {"QQQ", "GLD"}}


@pytest.mark.slow
async def test_calendar_symphonies_are_evaluated_and_traded_on_the_sessions_the_backtester_trades(
    tmp_path: Path,
) -> None:
    (tmp_path / "monthly.clj").write_text(MONTHLY)
    (tmp_path / "weekly.clj").write_text(WEEKLY)
    strategies = [{"file": str(tmp_path / f"{n}.clj"), "weight": 0.5} for n in ("monthly", "weekly")]
    settings = sim_settings(tmp_path, start=START, webhook=None, extra={"strategies": strategies})
    sessions = [s.day for s in TradingCalendar(start=date(2023, 1, 1)).sessions_between(START, END)]
    assert len(sessions) == 45 and date(2024, 1, 1) not in sessions and date(2024, 1, 15) not in sessions
    rig = build_sim_daemon(settings)
    await rig.start()
    decisions = rig.trading.decisions
    assert decisions is not None
    try:
        async with asyncio.timeout(900):  # generous: ~2 s per simulated session on an idle machine
            while not await _decided(decisions, AFTER_END) or (rig.trading.cycle and rig.trading.cycle.running):
                await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
            status = (await client.get("/status")).json()
        broker = rig.trading.broker
        assert broker is not None
        orders = await broker.list_orders(status="all")
        bars = await broker.get_daily_bars(sorted(SYMBOLS["monthly"] | SYMBOLS["weekly"]), START - WARMUP, END)
    finally:
        code = await rig.stop()
    assert code == 0
    records = await _records(tmp_path)
    decided = [r for r in records if date.fromisoformat(r["session"]) <= END]
    # it decides on every session (one decision each, weekends and holidays skipped) ...
    assert [date.fromisoformat(r["session"]) for r in decided] == sessions
    evaluated: dict[str, set[date]] = defaultdict(set)
    for record in decided:
        day = date.fromisoformat(record["session"])
        assert record["status"] == ("executed" if day in MONTHLY_DAYS | WEEKLY_DAYS else "no_trade"), record
        for strategy in record["strategies"]:
            assert strategy["status"] == "ok", strategy
            if strategy["evaluated"]:
                evaluated[strategy["strategy"]].add(day)
                assert strategy["trace"]["rebalance"]["action"] == "full"
            else:  # not evaluated: the book it holds, and when it next rebalances
                rule = strategy["strategy"]
                outlook = strategy["trace"]["rebalance"]
                assert outlook["rule"] == rule and outlook["action"] == "hold", strategy
                assert strategy["not_due"] == f"not due; next rebalance {outlook['next']}"
                assert set(strategy["allocation"]) == SYMBOLS[rule]
    assert evaluated == {"monthly": MONTHLY_DAYS, "weekly": WEEKLY_DAYS}
    # ... and the venue saw each strategy's orders on exactly those days (by their New York submission date)
    day_of = {o.id: o.submitted_at.astimezone(NEW_YORK).date() for o in orders if o.submitted_at is not None}
    assert len(day_of) == len(orders), "every order was submitted"
    traded = {name: {day_of[o.id] for o in orders if o.symbol in symbols} for name, symbols in SYMBOLS.items()}
    assert {name: {d for d in days if d <= END} for name, days in traded.items()} == evaluated
    # /status: the next rebalances
    assert status["rebalance"]["monthly"]["next"] == "2024-04-01"
    assert status["rebalance"]["weekly"]["next"] == "2024-03-11"

    # The backtester on the bars the daemon fetched: the same sessions decide and trade each strategy.
    result = run_files(
        [StrategySpec(tmp_path / f"{n}.clj", Decimal("0.5")) for n in ("monthly", "weekly")],
        _bars_folder(tmp_path, bars),
        EngineConfig(start=START, end=END, benchmark_symbol=None, initial_capital=settings.sim.initial_cash),
    )
    assert {s.name: set(s.rebalance_sessions) for s in result.strategies} == evaluated
    trades = result.trades
    backtest_traded = {
        name: {d.date() if hasattr(d, "date") else d for d in trades.loc[trades["symbol"].isin(symbols), "date"]}
        for name, symbols in SYMBOLS.items()
    }
    assert backtest_traded == evaluated


async def _decided(decisions: DecisionStore, session: date) -> bool:
    record = next((r for r in await decisions.latest(5) if r.session == session), None)
    return record is not None and record.status != "running"


async def _records(workdir: Path) -> list[dict[str, Any]]:
    store = await Store.open(workdir / "var" / "store.sqlite")
    try:
        return [r.to_json() for r in reversed(await DecisionStore(store).latest(200, with_strategies=True))]
    finally:
        await store.close()


def _bars_folder(workdir: Path, bars: Mapping[str, Sequence[Bar]]) -> Path:
    """The simulated exchange's daily bars as a bar folder (one CSV per symbol, as ``../shared/data/bars``)."""
    folder = workdir / "bars"
    folder.mkdir()
    for symbol, series in bars.items():
        with (folder / f"{symbol}.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["date", "open", "high", "low", "close", "adj_close", "volume"])
            writer.writerows([b.session_date.isoformat(), b.o, b.h, b.low, b.c, b.c, b.v] for b in series)
    return folder
