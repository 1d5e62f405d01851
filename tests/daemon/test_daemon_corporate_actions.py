"""An accelerated sim run through corporate actions: a 1:10 reverse split of a held ETF overnight, a dividend, a
halted symbol at decision time, an order queued at 20:00, a fund closing announced weeks ahead.

The real pieces run (the exchange's protocol face, the Alpaca adapter, execution, the store, the webhook); the
events come from a CSV given as ``sim.corporate_actions``, as a user would give them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from tests.daemon.simrig import build_sim_daemon, sim_settings
from tests.notify.webhook_receiver import WebhookReceiver

START = date(2024, 3, 4)  # Monday
DAYS = 4  # Mon–Thu
EVENTS = """kind,symbol,date,ratio,amount,pay_date,announced,new_symbol,cash_in_lieu
dividend,TLT,2024-03-05,,0.50,2024-03-06,,,
split,SPY,2024-03-06,0.1,,,,,
halt,QQQ,2024-03-07,,,,,,
halt,GLD,2024-03-07,,,,,,
resume,QQQ,2024-03-08,,,,,,
resume,GLD,2024-03-08,,,,,,
close,QQQ,2024-04-15,,,,2024-03-01,,
"""


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = await WebhookReceiver().start()
    yield r
    await r.stop()


@pytest.mark.slow
async def test_corporate_actions_are_non_events_and_unusual_ones_alert(tmp_path: Path, receiver: WebhookReceiver):
    events = tmp_path / "events.csv"
    events.write_text(EVENTS)
    settings = sim_settings(
        tmp_path, start=START, webhook=receiver.url(), extra={"sim": {"corporate_actions": str(events)}}
    )
    rig = build_sim_daemon(settings)
    await rig.start()
    decisions = rig.trading.decisions
    assert decisions is not None
    try:
        async with asyncio.timeout(150):
            while await decisions.count() < DAYS or rig.trading.cycle is None or rig.trading.cycle.running:
                await asyncio.sleep(0.1)
            # The clock runs on: stop trading (open orders cancelled) so a later session's decision cannot trade
            # between the account's and the books' snapshots below (on a loaded host one did); let a run under way end.
            assert rig.daemon.context is not None
            await rig.daemon.context.kill_switch.engage(reason="test snapshot", by="test", action="cancel")
            while rig.trading.cycle.running:
                await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
            ready = (await client.get("/readyz")).json()
            status = (await client.get("/status")).json()
        broker = rig.trading.broker
        assert broker is not None and rig.trading.execution is not None
        positions = {p.symbol: p.qty for p in await broker.list_positions()}
        activities = await broker.list_non_trade_activities()
        books = rig.trading.execution.books
        await rig.trading.notifier.drain(10)  # type: ignore[union-attr]
    finally:
        code = await rig.stop()
    assert code == 0
    # Never not-ready: the split overnight was explained, and every decision after it ran.
    assert ready["conditions"]["reconcile"]["ok"], ready
    assert status["reconcile"]["ok"], status["reconcile"]
    failing = [r.data["data"].get("failing", {}) for r in receiver.of_kind("readiness")]
    assert not [f for f in failing if "reconcile" in f], failing  # reconciliation never failed
    records = _decisions(tmp_path)
    assert [r["session"] for r in records[:DAYS]] == ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"]
    assert all(r["status"] in ("executed", "no_trade") for r in records[:DAYS]), records
    # The split: account and books agree on the post-split quantity; the audit says what happened.
    assert [(a.activity_type, a.symbol) for a in activities if a.activity_type == "SSP"] == [("SSP", "SPY")] * 2
    assert books.symbol_qty("SPY") == positions["SPY"]
    audit = _audit(tmp_path)
    kinds = [a["kind"] for a in audit if str(a["kind"]).startswith("corporate_action")]
    splits = [a for a in audit if a["kind"] == "corporate_action.split"]
    assert len(splits) == 1, kinds
    split = splits[0]
    assert "SPY split 0.1 new per old on 2024-03-06" in split["data"]["event"]
    # The dividend: paid to the account, credited to the book that held TLT on the record date (core only).
    divs = [a for a in activities if a.activity_type == "DIV"]
    assert len(divs) == 1, activities
    div = divs[0]
    assert div.net_amount > 0
    assert books.book("core").holding("TLT").realized_pnl >= div.net_amount
    assert books.book("switch").holdings.get("TLT") is None
    cashes = [a for a in audit if a["kind"] == "corporate_action.cash"]
    assert len(cashes) == 1, kinds
    cash = cashes[0]
    assert cash["data"]["strategies"] == {"core": str(div.net_amount)}
    # The halt: on 2024-03-07 the switch strategy's symbol is left out with a reason, the rest of the plan trades.
    halted_day = records[3]
    plan_lines = {line["symbol"]: line for line in halted_day["plan"]["lines"]}
    halted = [s for s in ("QQQ", "GLD") if s in plan_lines]
    assert halted and all(plan_lines[s]["reason"] == "not_tradable" for s in halted)
    assert all(line["symbol"] not in ("QQQ", "GLD") for line in halted_day["lines"])
    alerts = [r.data["data"] for r in receiver.of_kind("corporate_action")]
    assert any(a["symbol"] in halted and "left out of today's plan" in a["message"] for a in alerts), alerts
    # The fund closing: announced on 2024-03-01 for 2024-04-15, alerted on the first day, weeks ahead.
    closing = [a for a in alerts if a["symbol"] == "QQQ" and "redemption" in a["message"]]
    assert len(closing) == 1 and "2024-04-15" in closing[0]["message"]


def _decisions(workdir: Path) -> list[dict[str, object]]:
    with sqlite3.connect(workdir / "var" / "store.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM decisions ORDER BY session").fetchall()
    out = []
    for row in rows:
        summary = json.loads(row["summary"] or "{}")
        execution = summary.get("execution") or {}
        out.append(
            {
                "session": row["session"],
                "status": row["status"],
                "plan": json.loads(row["plan"] or '{"lines": []}'),
                "lines": execution.get("lines", []),
            }
        )
    return out


def _audit(workdir: Path) -> list[dict[str, object]]:
    with sqlite3.connect(workdir / "var" / "store.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM audit_events ORDER BY 1").fetchall()
    return [{"kind": r["kind"], "data": json.loads(r["data"] or "{}")} for r in rows]
