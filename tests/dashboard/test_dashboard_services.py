"""The query services against a real SQLite store filled through the real repositories, with fake live sources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from alchemiser.clock import ManualClock
from alchemiser.services import format as fmt
from alchemiser.services.account import equity_curve
from alchemiser.services.decisions import decision_detail, decision_history, slippage_bps
from alchemiser.services.events import events_after, recent_events, summarise
from alchemiser.services.jsonable import jsonable
from alchemiser.services.orders import FilterError, OrderFilter, orders_view
from alchemiser.services.overview import overview
from alchemiser.services.positions import positions_view
from alchemiser.services.strategies import strategy_views, tree
from alchemiser.store.account import AccountHistory
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionStore
from alchemiser.store.execution import ExecutionRepository
from tests.dashboard.history import TRACE, FakeLive, populate


@pytest_asyncio.fixture
async def filled(tmp_path: Path) -> AsyncIterator[tuple[Store, dict[str, object]]]:
    store = await Store.open(tmp_path / "s.sqlite")
    info = await populate(store, days=5, orders_per_day=4)
    yield store, info
    await store.close()


def test_format_rules() -> None:
    assert fmt.money(Decimal("12345.675")) == "$12,345.68"
    assert fmt.money(-5) == "-$5.00" and fmt.money(5, signed=True) == "+$5.00" and fmt.money(None) == "—"
    assert fmt.weight(Decimal("0.25")) == "0.2500" and fmt.weight(0.1) == "0.1000"
    assert fmt.signed_weight(Decimal("0.0125")) == "+0.0125" and fmt.signed_weight(Decimal("-0.003")) == "-0.0030"
    assert fmt.percent(Decimal("0.1234")) == "12.34%" and fmt.bps(Decimal("3.25")) == "3.2 bps"
    assert fmt.quantity(Decimal("10.000")) == "10" and fmt.quantity("0.50") == "0.5" and fmt.quantity(1250) == "1,250"
    assert fmt.price(Decimal("0.5")) == "$0.5000" and fmt.price("500") == "$500.00"
    assert [fmt.duration(s) for s in (0.84, 42, 185, 7620, 273600)] == ["0.8s", "42s", "3m 05s", "2h 07m", "3d 04h"]
    now = datetime(2024, 3, 5, 20, 0, tzinfo=UTC)
    assert fmt.countdown(datetime(2024, 3, 5, 21, 2, tzinfo=UTC), now) == "in 1h 02m"
    assert fmt.countdown(datetime(2024, 3, 5, 19, 59, tzinfo=UTC), now) == "1m 00s ago"
    assert fmt.timestamp(now) == "2024-03-05 15:00:00 EST"
    with pytest.raises(ValueError, match="not a number: 'abc'"):
        fmt.money("abc")


async def test_equity_curve_drawdown_and_benchmark(filled: tuple[Store, dict[str, object]]) -> None:
    store, info = filled
    closes = info["closes"]
    assert isinstance(closes, dict)

    async def bench(start: date, end: date) -> dict[date, Decimal]:
        return dict(closes)

    curve = await equity_curve(AccountHistory(store), bench)
    assert len(curve.points) == 5, "one point per session, not one per snapshot"
    first = curve.points[0]
    assert first.benchmark == first.equity, "the benchmark starts at the curve's first equity"
    peak = Decimal(0)
    for p in curve.points:
        peak = max(peak, p.equity)
        assert p.drawdown == p.equity / peak - 1
    assert curve.max_drawdown == min(p.drawdown for p in curve.points)
    none = await equity_curve(AccountHistory(store), None)
    assert none.note == "SPY comparison unavailable: no price source" and none.points[0].benchmark is None


async def test_empty_store_has_an_empty_curve(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "e.sqlite")
    try:
        curve = await equity_curve(AccountHistory(store), None)
        assert curve.points == () and curve.note == "no account snapshot recorded yet"
    finally:
        await store.close()


async def test_positions_against_targets_and_books(filled: tuple[Store, dict[str, object]]) -> None:
    store, _ = filled
    view = await positions_view(FakeLive().sources(), store)
    rows = {r.symbol: r for r in view.rows}
    assert set(rows) == {"SPY", "TLT", "QQQ"}, "held symbols plus targeted ones not yet held"
    spy = rows["SPY"]
    assert spy.weight == Decimal("0.3") and spy.target_weight == Decimal("0.30") and spy.drift == 0
    assert (
        rows["TLT"].qty == 0 and rows["TLT"].target_weight == Decimal("0.30") and rows["TLT"].drift == Decimal("-0.30")
    )
    assert rows["QQQ"].books == {"switch": Decimal("10")} and spy.books == {"core": Decimal("60")}
    assert view.error is None and view.invested == Decimal("34000")


async def test_positions_when_the_broker_is_down(filled: tuple[Store, dict[str, object]]) -> None:
    store, _ = filled
    live = FakeLive(fail_broker=True)
    view = await positions_view(live.sources(), store)
    assert view.error == "broker unreachable: connection refused"
    ov = await overview(live.sources(), DecisionStore(store), AccountHistory(store))
    assert not ov.account.live and ov.account.equity is not None and "broker unreachable" in (ov.account.error or "")


async def test_decision_history_and_detail(filled: tuple[Store, dict[str, object]]) -> None:
    store, _ = filled
    decisions = DecisionStore(store)
    rows = await decision_history(decisions, 3)
    assert [r.decision_id for r in rows] == ["D20240108", "D20240105", "D20240104"]
    assert rows[0].duration_seconds == 42.0 and rows[0].status == "executed"
    repo = ExecutionRepository(store, ManualClock(datetime(2024, 1, 1, tzinfo=UTC)))
    detail = await decision_detail(decisions, repo, "D20240108")
    assert detail is not None and detail.verdict_allowed is True and detail.verdict[0].rule == "max_turnover"
    assert {o.symbol for o in detail.orders} == {"SPY", "TLT", "QQQ", "GLD"}
    line = detail.orders[0]
    assert line.decision_price == Decimal("100") and len(line.steps[0].fills) == 1
    fill = line.steps[0].fills[0]
    assert fill.slippage_bps == slippage_bps(line.side, fill.price, Decimal("100"))
    assert await decision_detail(decisions, repo, "nope") is None
    assert slippage_bps("buy", Decimal("100.1"), Decimal("100")) == Decimal("10.0")
    assert slippage_bps("sell", Decimal("100.1"), Decimal("100")) == Decimal("-10.0")
    assert slippage_bps("buy", Decimal("1"), Decimal("0")) is None


async def test_orders_filter_and_totals(filled: tuple[Store, dict[str, object]]) -> None:
    store, _ = filled
    everything = await orders_view(store, OrderFilter())
    assert everything.total_matching == 20 and len(everything.by_day) == 5
    assert sum(t.fills for t in everything.by_symbol) == 20
    spy = await orders_view(store, OrderFilter.parse({"symbol": "spy", "side": "buy"}))
    assert spy.total_matching == 5 and {r.symbol for r in spy.rows} == {"SPY"}
    day = await orders_view(store, OrderFilter.parse({"from": "2024-01-03", "to": "2024-01-03"}))
    assert day.total_matching == 4 and [t.key for t in day.by_day] == ["2024-01-03"]
    for params, message in [
        ({"side": "long"}, "side must be buy or sell"),
        ({"limit": "x"}, "limit must be an integer"),
        ({"limit": "9999"}, "limit must be within"),
        ({"from": "yesterday"}, "from must be a date"),
        ({"symbol": "SPY;--"}, "symbol must be a ticker"),
    ]:
        with pytest.raises(FilterError, match=message):
            OrderFilter.parse(params)


async def test_strategies_tree_and_history(filled: tuple[Store, dict[str, object]]) -> None:
    store, _ = filled
    views = await strategy_views(store, {"core": Decimal("0.6"), "switch": Decimal("0.4")})
    switch = views[1]
    assert switch.allocation == {"QQQ": Decimal("1")} and len(switch.history) == 5 and switch.as_of == "2024-03-04"
    [root] = switch.tree
    cond = root.children[0]
    assert cond.kind == "if" and cond.branch == "then" and cond.condition is not None
    assert cond.condition["left"] == 61.25
    leaf = cond.children[0].children[0]
    assert leaf.leaf and leaf.name == "QQQ"
    assert views[0].tree == (), "a strategy without a trace has no tree"
    assert tree(TRACE["steps"]) == switch.tree  # type: ignore[arg-type]


async def test_events_tail_and_summaries(filled: tuple[Store, dict[str, object]]) -> None:
    store, _ = filled
    events = await recent_events(store, 3)
    assert len(events) == 3 and events[0].id > events[1].id and events[0].category == "fill"
    after = await events_after(store, events[1].id)
    assert [e.id for e in after] == [events[0].id]
    assert (await recent_events(store, 5, category_filter="control")) == []
    assert (
        summarise("kill_switch.engaged", {"action": "flatten", "reason": "test"})
        == "kill switch engaged (flatten): test"
    )
    assert (
        summarise("execution.fill", {"symbol": "SPY", "side": "buy", "qty": "10", "price": "500"})
        == "SPY buy 10 @ $500.00"
    )


async def test_overview_and_json_twin(filled: tuple[Store, dict[str, object]]) -> None:
    store, _ = filled
    ov = await overview(FakeLive().sources(), DecisionStore(store), AccountHistory(store))
    assert ov.account.day_pnl == Decimal("1000") and ov.account.live
    assert ov.last_decision is not None and ov.last_decision.decision_id == "D20240108"
    assert ov.seconds_to_next_decision == 3600.0 and ov.pending_plan is None
    body = jsonable(ov)
    assert body["account"]["equity"] == "100000" and body["readiness"]["failing"] == {"reconcile": "positions differ"}
    with pytest.raises(TypeError, match="cannot turn object into JSON"):
        jsonable(object())
