"""An accelerated sim run of a ``:monthly`` symphony across three month boundaries (dsl.md §4.1): the daemon decides
every session, but the book trades only when it is built and on the first trading session of each month — 2 January
2024 (New Year's Day, the month's first weekday, is a holiday), 1 February, 1 March — and nothing of it trades in
between. ``/status`` says when it next rebalances.

The real pieces run (exchange on loopback, Alpaca adapter, execution, SQLite store, HTTP server); only the clock is
accelerated and jumps over idle nights.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from alchemiser.broker.models import NEW_YORK
from alchemiser.store import Store
from alchemiser.store.decisions import DecisionStore
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.simrig import build_sim_daemon, sim_settings

START = date(2023, 12, 27)  # a Wednesday: the book is built on the first decision, whatever the day
END = date(2024, 3, 1)
REBALANCE_DAYS = {date(2023, 12, 27), date(2024, 1, 2), date(2024, 2, 1), date(2024, 3, 1)}
MONTHLY = (
    '(defsymphony "monthly" {:rebalance-frequency :monthly}\n'
    '  (weight-specified 0.6 (asset "SPY") 0.4 (asset "TLT")))\n'
)


@pytest.mark.slow
async def test_a_monthly_symphony_trades_on_the_first_session_of_each_month_only(tmp_path: Path) -> None:
    symphony = tmp_path / "monthly.clj"
    symphony.write_text(MONTHLY)
    settings = sim_settings(
        tmp_path, start=START, webhook=None, extra={"strategies": [{"file": str(symphony), "weight": 1.0}]}
    )
    sessions = [s.day for s in TradingCalendar(start=date(2023, 1, 1)).sessions_between(START, END)]
    assert len(sessions) == 45 and date(2024, 1, 1) not in sessions and date(2024, 1, 15) not in sessions
    rig = build_sim_daemon(settings)
    await rig.start()
    decisions = rig.trading.decisions
    assert decisions is not None
    try:
        async with asyncio.timeout(600):  # generous: ~2 s per simulated session on an idle machine
            while not await _decided(decisions, END) or (rig.trading.cycle is not None and rig.trading.cycle.running):
                await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
            status = (await client.get("/status")).json()
        broker = rig.trading.broker
        assert broker is not None
        orders = await broker.list_orders(status="all")
    finally:
        code = await rig.stop()
    assert code == 0
    records = await _records(tmp_path)
    decided = [r for r in records if date.fromisoformat(r["session"]) <= END]
    # it decides on every session (one decision each, weekends and holidays skipped) ...
    assert [date.fromisoformat(r["session"]) for r in decided] == sessions
    actions = {date.fromisoformat(r["session"]): r["strategies"][0]["trace"]["rebalance"] for r in decided}
    assert {d for d, a in actions.items() if a["action"] == "full"} == REBALANCE_DAYS
    assert all(a == {"rule": "monthly", "action": "hold"} for d, a in actions.items() if d not in REBALANCE_DAYS)
    for record in decided:
        assert all(s["status"] == "ok" for s in record["strategies"]), record
        expected = "executed" if date.fromisoformat(record["session"]) in REBALANCE_DAYS else "no_trade"
        assert record["status"] == expected, record
    # ... and the venue saw orders on exactly the rebalance days (by their New York submission date)
    day_of = {o.id: o.submitted_at.astimezone(NEW_YORK).date() for o in orders if o.submitted_at is not None}
    assert len(day_of) == len(orders), "every order was submitted"
    traded = set(day_of.values())
    assert {d for d in traded if d <= END} == REBALANCE_DAYS, sorted(traded)
    symbols_per_day = {d: {o.symbol for o in orders if day_of[o.id] == d} for d in traded}
    assert all(symbols_per_day[d] == {"SPY", "TLT"} for d in REBALANCE_DAYS - {START}), symbols_per_day
    # /status: the next rebalance is the first session of April
    assert status["rebalance"] == {
        "monthly": {
            "rule": "monthly",
            "next": "2024-04-01",
            "summary": "monthly: next rebalance 2024-04-01 (first session of the month)",
            "basis": "monthly: first session of each month",
            "headline": "2024-04-01",
        }
    }


async def _decided(decisions: DecisionStore, session: date) -> bool:
    record = next((r for r in await decisions.latest(5) if r.session == session), None)
    return record is not None and record.status != "running"


async def _records(workdir: Path) -> list[dict[str, Any]]:
    store = await Store.open(workdir / "var" / "store.sqlite")
    try:
        return [r.to_json() for r in reversed(await DecisionStore(store).latest(200, with_strategies=True))]
    finally:
        await store.close()
